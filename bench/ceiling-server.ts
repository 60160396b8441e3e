/**
 * The ceiling: a Fastify process that only parses and validates POST /v1/events bodies with the
 * product's own decoder (depth check, JSON.parse, the zod schema per event) and answers 202 with
 * the count. No authentication, normalisation, enrichment or Kafka: whatever the collector does
 * beyond this is what its figures are held against.
 *
 *   node dist/bench/ceiling-server.js PORT
 */
import Fastify from 'fastify'
import { decodeCanonical } from '../services/collector/decode/canonical.js'

const port = Number(process.argv[2] ?? 0)
const limits = { maxEvents: 10_000, maxDepth: 32, maxLineLength: 1024 * 1024 }

const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 })
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body))
app.post('/v1/events', async (request, reply) => {
  const records = decodeCanonical(String(request.body), 'json', limits)
  let accepted = 0
  for (const record of records) if (record.decoded.kind === 'event') accepted++
  return reply.code(accepted > 0 ? 202 : 400).send({ accepted, skipped: 0, rejected: [] })
})
app.get('/healthz', async () => ({ status: 'ok' }))

await app.listen({ host: '127.0.0.1', port })
process.stdout.write(`listening ${port}\n`)
const stop = () => void app.close().then(() => process.exit(0))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
