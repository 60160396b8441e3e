import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { gzipSync } from 'node:zlib'
import { createKafka, ensureTopics } from '../../../services/adapters/kafka.js'
import type { Config } from '../../../services/config.js'
import { createLogger } from '../../../services/logger.js'
import { KafkaSink } from '../../../services/sinks/kafka.js'
import { buildCollector } from '../../../services/sources/http.js'
import { TokenRegistry } from '../../../services/tokens.js'
import { readTopic } from '../../helpers/kafka.js'
import { testConfig, TOKENS } from '../../helpers/stack.js'

const event = {
  occurred_at: '2025-03-01T08:15:30+05:00',
  category: 'bruteforce',
  severity: 3,
  signature: 'SSH brute force',
  src_ip: '203.0.113.55',
  dst_ip: '198.51.100.20',
  dst_port: 22,
  protocol: 'TCP',
}

async function collector(t: Test, settings: Record<string, string> = {}): Promise<{ app: FastifyInstance; config: Config }> {
  const config = testConfig({ QALQAN_COLLECTOR_MAX_BODY_BYTES: '65536', QALQAN_COLLECTOR_MAX_EVENTS: '50', ...settings })
  const logger = createLogger('silent')
  const kafka = createKafka(config, logger)
  const admin = kafka.admin()
  await admin.connect()
  await ensureTopics(admin, config, [config.kafka.topics.events, config.kafka.topics.rejected])
  await admin.disconnect()
  const sink = new KafkaSink(kafka, config)
  await sink.start()
  const tokens = TokenRegistry.fromFile(config.tokensFile ?? '')
  const app = buildCollector(config, { logger, tokens: () => tokens, writer: sink })
  t.teardown(async () => {
    await app.close()
    await sink.close()
  })
  return { app, config }
}

function post(app: FastifyInstance, body: string | Buffer, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'application/json', ...headers },
    payload: body,
  })
}

t.test('a batch is produced canonical, with who and where from the token', async (t) => {
  const { app, config } = await collector(t)
  const res = await post(app, JSON.stringify([event, { ...event, src_ip: '2001:db8::1', count: 5 }]))
  t.equal(res.statusCode, 202)
  t.same(res.json(), { accepted: 2, rejected: [] })
  const messages = (await readTopic(config.kafka.topics.events, 2)).map((value) => JSON.parse(value))
  t.equal(messages.length, 2)
  const first = messages.find((m) => m.src_ip === '203.0.113.55')
  t.match(first, {
    v: 1,
    sensor_id: 'test-ids-astana',
    sensor_type: 'ids',
    sector: 'government',
    region: 'KZ-71',
    org: 'Test E-Gov Astana',
    occurred_at: '2025-03-01T03:15:30.000Z',
    protocol: 'tcp',
    count: 1,
  })
  t.match(first.event_id, /^[0-9a-f-]{36}$/)
  t.equal(messages.find((m) => m.src_ip === '2001:db8::1').count, 5)
})

t.test('NDJSON: good lines accepted, bad lines rejected by index and kept in the rejected topic', async (t) => {
  const { app, config } = await collector(t)
  const body = [JSON.stringify(event), '{not json', '', JSON.stringify({ ...event, severity: 9 }), JSON.stringify(event)].join('\r\n')
  const res = await post(app, body, { 'content-type': 'application/x-ndjson' })
  t.equal(res.statusCode, 202)
  const answer = res.json()
  t.equal(answer.accepted, 2)
  t.same(answer.rejected.map((r: { index: number }) => r.index), [1, 2])
  t.match(answer.rejected[0].reason, /not valid JSON/)
  t.match(answer.rejected[1].reason, /^severity: /)
  const rejected = (await readTopic(config.kafka.topics.rejected, 2)).map((value) => JSON.parse(value))
  t.equal(rejected.length, 2)
  t.same(rejected.map((r) => r.raw).sort(), ['{not json', JSON.stringify({ ...event, severity: 9 })].sort())
  t.match(rejected.find((r) => r.stage === 'validate'), { sensor_id: 'test-ids-astana', format: 'canonical-ndjson', index: 2, reason: /severity/ })
  t.equal((await readTopic(config.kafka.topics.events, 2)).length, 2)
})

t.test('a request whose every event is invalid is a 400 that lists them, and the events are kept', async (t) => {
  const { app, config } = await collector(t)
  const res = await post(app, JSON.stringify([{ ...event, category: 'nope' }]))
  t.equal(res.statusCode, 400)
  t.match(res.json(), { error: 'QLQ_ERR_INVALID_EVENTS', accepted: 0, rejected: [{ index: 0, reason: /^category: / }] })
  t.equal((await readTopic(config.kafka.topics.rejected, 1)).length, 1)
})

t.test('authentication and roles', async (t) => {
  const { app } = await collector(t)
  const body = JSON.stringify(event)
  t.equal((await post(app, body, { authorization: '' })).statusCode, 401)
  t.equal((await post(app, body, { authorization: 'Bearer wrong-token' })).statusCode, 401)
  t.equal((await post(app, body, { authorization: `Basic ${TOKENS.astana}` })).statusCode, 401)
  const analyst = await post(app, body, { authorization: `Bearer ${TOKENS.analyst}` })
  t.equal(analyst.statusCode, 403)
  t.match(analyst.json(), { error: 'QLQ_ERR_FORBIDDEN', message: /analyst token cannot send/ })
})

t.test('malformed, oversized and hostile bodies get clear errors', async (t) => {
  const { app } = await collector(t)
  const invalid = await post(app, '{"occurred_at":')
  t.equal(invalid.statusCode, 400)
  t.match(invalid.json(), { error: 'QLQ_ERR_INVALID_JSON', retryable: false })

  const tooBig = await post(app, JSON.stringify([{ ...event, signature: 'x'.repeat(70_000) }]))
  t.equal(tooBig.statusCode, 413)
  t.match(tooBig.json(), { error: 'QLQ_ERR_BODY_TOO_LARGE', message: /65536 bytes \(QALQAN_COLLECTOR_MAX_BODY_BYTES\)/ })

  const tooMany = await post(app, JSON.stringify(Array.from({ length: 51 }, () => event)))
  t.equal(tooMany.statusCode, 413)
  t.match(tooMany.json(), { error: 'QLQ_ERR_TOO_MANY_EVENTS', message: /limit is 50/ })

  const tooManyLines = await post(app, Array.from({ length: 51 }, () => JSON.stringify(event)).join('\n'), { 'content-type': 'application/x-ndjson' })
  t.equal(tooManyLines.statusCode, 413)

  const wrongType = await post(app, JSON.stringify(event), { 'content-type': 'text/plain' })
  t.equal(wrongType.statusCode, 415)
  t.match(wrongType.json(), { error: 'QLQ_ERR_UNSUPPORTED_MEDIA_TYPE', message: /application\/x-ndjson/ })

  const empty = await post(app, '')
  t.equal(empty.statusCode, 400)
  t.match(empty.json(), { error: 'QLQ_ERR_NO_EVENTS' })
  t.equal((await post(app, '[]')).statusCode, 400)

  const deep = await post(app, `${'['.repeat(5000)}${']'.repeat(5000)}`)
  t.equal(deep.statusCode, 400, 'deep nesting is refused, not a crash')
  t.match(deep.json(), { error: 'QLQ_ERR_TOO_DEEP', message: /deeper than 32 levels/ })
  const deepString = await post(app, JSON.stringify({ ...event, signature: '['.repeat(100) }))
  t.equal(deepString.statusCode, 202, 'brackets inside strings are not nesting')

  const proto = await post(app, `{"__proto__":{"admin":true},${JSON.stringify(event).slice(1)}`)
  t.equal(proto.statusCode, 400)
  t.match(proto.json().rejected[0].reason, /unknown field\(s\) "__proto__"/)
  t.equal(({} as Record<string, unknown>)['admin'], undefined)

  const huge = await post(app, JSON.stringify({ ...event, severity: 1e308, src_port: -1 }))
  t.equal(huge.statusCode, 400)
  t.match(huge.json().rejected[0].reason, /severity.*src_port/)

  const gzipped = await post(app, gzipSync(JSON.stringify(event)), { 'content-encoding': 'gzip' })
  t.not(gzipped.statusCode, 202, 'gzip is not decoded yet, so the body is not taken as events')
})

t.test('unknown paths answer 404 from the catalogue', async (t) => {
  const { app } = await collector(t)
  const res = await app.inject({ method: 'GET', url: '/v1/nothing?x=1' })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { error: 'QLQ_ERR_NOT_FOUND', message: 'no endpoint GET /v1/nothing' })
})

t.test('Kafka unreachable: 503 with Retry-After, never 202', async (t) => {
  const config = testConfig({ QALQAN_KAFKA_TIMEOUT_MS: '1000' })
  const logger = createLogger('silent')
  const kafka = createKafka(config, logger)
  const sink = new KafkaSink(kafka, config)
  await sink.start()
  const tokens = TokenRegistry.fromFile(config.tokensFile ?? '')
  // The topic does not exist and may not be auto-created: Kafka cannot take the write.
  const app = buildCollector(config, { logger, tokens: () => tokens, writer: sink })
  t.teardown(async () => {
    await app.close()
    await sink.close()
  })
  const res = await post(app, JSON.stringify(event))
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5')
  t.match(res.json(), { error: 'QLQ_ERR_KAFKA_UNAVAILABLE', retryable: true })
})
