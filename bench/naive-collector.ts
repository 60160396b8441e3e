/**
 * The naive baseline: the collector's own authentication, decoding, normalisation and enrichment,
 * then one awaited kafkajs `send` (acks=-1) per event, the way a first version would write it.
 * The collector's figures divided by these are what its batching sink buys.
 *
 *   QALQAN_TOKENS_FILE=... QALQAN_ASSETS_FILE=... node dist/bench/naive-collector.js PORT BROKERS TOPIC
 */
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { AssetRegistry } from '../services/collector/enrich/assets.js'
import { countryOf } from '../services/collector/enrich/geoip.js'
import { requireRole } from '../services/http/auth.js'
import { TokenRegistry } from '../services/http/tokens.js'
import { decodeCanonical } from '../services/collector/decode/canonical.js'
import { enrich } from '../services/collector/enrich/enrich.js'
import { normalize } from '../services/collector/normalize.js'

const [portArg, brokers = '127.0.0.1:9092', topic = 'bench.naive'] = process.argv.slice(2)
const tokensFile = process.env['QALQAN_TOKENS_FILE']
if (tokensFile === undefined) throw new Error('QALQAN_TOKENS_FILE is not set')
const tokens = TokenRegistry.fromFile(tokensFile)
const assetsFile = process.env['QALQAN_ASSETS_FILE']
const assets = assetsFile === undefined ? undefined : AssetRegistry.fromFile(assetsFile)
const limits = { maxEvents: 10_000, maxDepth: 32, maxLineLength: 1024 * 1024 }
// The collector's defaults (QALQAN_WORKER_MAX_FUTURE_SECONDS, QALQAN_WORKER_MAX_AGE_DAYS).
const timeLimits = { maxFutureMs: 3600 * 1000, maxAgeMs: 30 * 86_400_000 }

const kafka = new Kafka({ clientId: 'bench-naive', brokers: brokers.split(','), logLevel: logLevel.NOTHING })
const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
await producer.connect()

const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 })
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body))
app.post('/v1/events', { preHandler: requireRole(() => tokens, 'sensor') }, async (request, reply) => {
  const sensor = request.sensor
  if (sensor === undefined) return reply.code(401).send({})
  const receivedAt = new Date()
  let accepted = 0
  for (const record of decodeCanonical(String(request.body), 'json', limits)) {
    if (record.decoded.kind !== 'event') continue
    const normalized = normalize(record.decoded.event, { sensor, receivedAt, newEventId: randomUUID, timeLimits })
    if (!normalized.ok) continue
    const event = enrich(normalized.event, { assets: (ip) => assets?.lookup(ip), country: countryOf })
    await producer.send({ topic, acks: -1, messages: [{ key: event.event_id, value: JSON.stringify(event) }] })
    accepted++
  }
  return reply.code(accepted > 0 ? 202 : 400).send({ accepted, skipped: 0, rejected: [] })
})
app.get('/healthz', async () => ({ status: 'ok' }))

await app.listen({ host: '127.0.0.1', port: Number(portArg ?? 0) })
process.stdout.write(`listening ${portArg}\n`)
const stop = () =>
  void app
    .close()
    .then(() => producer.disconnect())
    .then(() => process.exit(0))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
