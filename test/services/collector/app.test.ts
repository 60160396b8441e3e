import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { connect } from 'node:net'
import { gzipSync } from 'node:zlib'
import { startCollector } from '../../helpers/collector.js'
import { buildOps } from '../../../services/http/ops-server.js'
import { createLogger } from '../../../services/logger.js'
import { readTopic } from '../../helpers/kafka.js'
import { TOKENS } from '../../helpers/stack.js'

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

function collector(t: Test, settings: Record<string, string> = {}) {
  return startCollector(t, { QALQAN_COLLECTOR_MAX_BODY_BYTES: '65536', QALQAN_COLLECTOR_MAX_EVENTS: '50', ...settings })
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
  t.same(res.json(), { accepted: 2, skipped: 0, rejected: [] })
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
  const body = [
    JSON.stringify(event),
    '{not json',
    '',
    JSON.stringify({ ...event, severity: 9 }),
    JSON.stringify(event),
  ].join('\r\n')
  const res = await post(app, body, { 'content-type': 'application/x-ndjson' })
  t.equal(res.statusCode, 202)
  const answer = res.json()
  t.equal(answer.accepted, 2)
  t.same(
    answer.rejected.map((r: { index: number }) => r.index),
    [1, 2],
  )
  t.match(answer.rejected[0].reason, /not valid JSON/)
  t.match(answer.rejected[1].reason, /^severity: /)
  const rejected = (await readTopic(config.kafka.topics.rejected, 2)).map((value) => JSON.parse(value))
  t.equal(rejected.length, 2)
  t.same(rejected.map((r) => r.raw).sort(), ['{not json', JSON.stringify({ ...event, severity: 9 })].sort())
  t.match(
    rejected.find((r) => r.index === 2),
    { stage: 'decode', sensor_id: 'test-ids-astana', format: 'canonical-ndjson', index: 2, reason: /severity/ },
  )
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
  t.match(tooBig.json(), {
    error: 'QLQ_ERR_BODY_TOO_LARGE',
    message: /65536 bytes \(QALQAN_COLLECTOR_MAX_BODY_BYTES\)/,
  })

  const tooMany = await post(app, JSON.stringify(Array.from({ length: 51 }, () => event)))
  t.equal(tooMany.statusCode, 413)
  t.match(tooMany.json(), { error: 'QLQ_ERR_TOO_MANY_EVENTS', message: /limit of 50 per request/ })

  const tooManyLines = await post(app, Array.from({ length: 51 }, () => JSON.stringify(event)).join('\n'), {
    'content-type': 'application/x-ndjson',
  })
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

  const gzipped = await post(app, gzipSync(JSON.stringify([event, event])), { 'content-encoding': 'gzip' })
  t.equal(gzipped.statusCode, 202)
  t.equal(gzipped.json().accepted, 2)
  const truncated = await post(app, gzipSync(JSON.stringify(event)).subarray(0, 20), { 'content-encoding': 'gzip' })
  t.equal(truncated.statusCode, 400)
  t.match(truncated.json(), { error: 'QLQ_ERR_INVALID_GZIP' })
  const bomb = await post(app, gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20)), { 'content-encoding': 'gzip' })
  t.equal(bomb.statusCode, 413, 'a gzip bomb stops at the body limit')
  t.match(bomb.json(), { error: 'QLQ_ERR_BODY_TOO_LARGE', message: /once gunzipped/ })
  const brotli = await post(app, JSON.stringify(event), { 'content-encoding': 'br' })
  t.equal(brotli.statusCode, 415)

  const badUtf8 = await post(
    app,
    Buffer.concat([Buffer.from('{"signature":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
  )
  t.equal(badUtf8.statusCode, 400)
  t.match(badUtf8.json(), { error: 'QLQ_ERR_INVALID_UTF8' })
  const kazakh = await post(app, JSON.stringify({ ...event, signature: 'Қазақстан: SSH brute force' }))
  t.equal(kazakh.statusCode, 202, 'multibyte UTF-8 is fine')
})

t.test('a gzip bomb of tiny events is refused at the event limit, without parsing or holding them', async (t) => {
  const { app } = await startCollector(t)
  const MiB = 1024 * 1024
  const fill = (unit: string, open = '', close = '') =>
    `${open}${unit.repeat(Math.floor((5 * MiB - open.length - close.length) / unit.length))}${close}`
  const bombs = [
    ['/services/collector/event', gzipSync(fill('{"event":{}}'))],
    ['/v1/events', gzipSync(fill('{},', '[', '{}]'))],
  ] as const
  for (const [url, payload] of bombs) {
    t.ok(payload.length < 20 * 1024, `${url}: 5 MiB of tiny events gzip to ${payload.length} bytes`)
    const parse = JSON.parse
    let parsed = 0
    JSON.parse = (...args: Parameters<typeof JSON.parse>) => {
      parsed++
      return parse(...args)
    }
    const before = process.memoryUsage().heapUsed
    const res = await app
      .inject({
        method: 'POST',
        url,
        headers: {
          authorization: `Bearer ${TOKENS.astana}`,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
        },
        payload,
      })
      .finally(() => {
        JSON.parse = parse
      })
    const grew = process.memoryUsage().heapUsed - before
    t.equal(res.statusCode, 413, url)
    t.match(res.json(), { error: 'QLQ_ERR_TOO_MANY_EVENTS', message: /the limit of 10000 per request/ })
    t.equal(parsed, 0, `${url}: nothing was parsed`)
    t.ok(grew < 64 * MiB, `${url}: the heap grew by ${(grew / MiB).toFixed(1)} MiB`)
  }
})

t.test('unknown paths answer 404 from the catalogue', async (t) => {
  const { app } = await collector(t)
  const res = await app.inject({ method: 'GET', url: '/v1/nothing?x=1' })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { error: 'QLQ_ERR_NOT_FOUND', message: 'no endpoint GET /v1/nothing' })
})

t.test('Kafka cannot take the write: 503 with Retry-After, never 202', async (t) => {
  // The topics do not exist and may not be auto-created: Kafka refuses the write.
  const { app, metrics, readiness } = await startCollector(
    t,
    { QALQAN_KAFKA_TIMEOUT_MS: '1000' },
    { createTopics: false },
  )
  const res = await post(app, JSON.stringify(event))
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5')
  t.match(res.json(), { error: 'QLQ_ERR_KAFKA_UNAVAILABLE', retryable: true })
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 503, 'not ready after a failed send')
  t.same(ready.json(), { status: 'not ready' }, 'the public port gives no reason')
  const ops = buildOps({ logger: createLogger('silent'), metrics, readiness: { collector: readiness } })
  t.teardown(() => ops.close())
  const detailed = await ops.inject({ method: 'GET', url: '/readyz' })
  t.equal(detailed.statusCode, 503)
  t.match(detailed.json(), { status: 'not ready', roles: { collector: [/the last send to Kafka failed/] } })
})

t.test('a sensor over its rate limit gets 429 with Retry-After, and its events are not taken', async (t) => {
  const { app, config } = await collector(t, { QALQAN_COLLECTOR_SENSOR_RATE: '1', QALQAN_COLLECTOR_SENSOR_BURST: '50' })
  const batch = JSON.stringify(Array.from({ length: 30 }, () => event))
  t.equal((await post(app, batch)).statusCode, 202)
  const limited = await post(app, batch)
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { error: 'QLQ_ERR_RATE_LIMITED', retryable: true, message: /test-ids-astana/ })
  t.ok(Number(limited.headers['retry-after']) >= 1)
  const other = await post(app, batch, { authorization: `Bearer ${TOKENS.almaty}` })
  t.equal(other.statusCode, 202, 'another sensor has its own budget')
  t.equal((await readTopic(config.kafka.topics.events, 60, 5_000)).length, 60, 'the limited request wrote nothing')
})

// A body left open would keep the socket until the test's timeout, which is the check.
t.test('a body that trickles in is cut off at the request timeout', { timeout: 15_000 }, async (t) => {
  const { app } = await collector(t, { QALQAN_COLLECTOR_REQUEST_TIMEOUT_MS: '1000' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const answer = await new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.astana}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`,
      )
      const drip = setInterval(() => socket.write(' '), 200)
      let received = ''
      socket.on('data', (chunk) => (received += chunk.toString()))
      socket.on('close', () => {
        clearInterval(drip)
        resolve(received)
      })
      socket.on('error', () => undefined)
    })
  })
  t.match(answer, /^HTTP\/1\.1 408/)
})

t.test('readiness and metrics: the public port says ready, the ops port has the metrics', async (t) => {
  const { app, metrics: registry, readiness } = await collector(t)
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready' })
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, 'no metrics on the public port')
  await post(app, [JSON.stringify(event), 'nope'].join('\n'), { 'content-type': 'application/x-ndjson' })
  const ops = buildOps({ logger: createLogger('silent'), metrics: registry, readiness: { collector: readiness } })
  t.teardown(() => ops.close())
  t.same((await ops.inject({ method: 'GET', url: '/readyz' })).json(), {
    status: 'ready',
    roles: { collector: [] },
    warnings: {},
  })
  const metrics = (await ops.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /qalqan_events_received_total\{stage="decode"\} 2/)
  t.match(metrics, /qalqan_events_sent_total\{stage="decode"\} 1/)
  t.match(metrics, /qalqan_errors_total\{stage="decode",error_type="invalid_event"\} 1/)
  t.match(metrics, /qalqan_events_sent_total\{stage="kafka"\} 2/, 'the event and the rejection')
  t.match(metrics, /qalqan_kafka_produce_seconds_count 1/)
  t.match(metrics, /qalqan_sensor_last_seen_seconds\{sensor="test-ids-astana"\} \d+/)
  t.notMatch(metrics, /test-sensor-astana/, 'no token in the metrics')
})

t.test('line formats: unknown format and wrong type', async (t) => {
  const { app } = await collector(t)
  const unknown = await app.inject({
    method: 'POST',
    url: '/v1/events/snort',
    headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'text/plain' },
    payload: 'x',
  })
  t.equal(unknown.statusCode, 404)
  t.match(unknown.json(), { message: /\/v1\/events\/suricata/ })
  const html = await app.inject({
    method: 'POST',
    url: '/v1/events/cef',
    headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'text/html' },
    payload: 'x',
  })
  t.equal(html.statusCode, 415)
})

t.test('a 10 MB line is refused naming the line limit', async (t) => {
  const { app } = await collector(t, { QALQAN_COLLECTOR_MAX_BODY_BYTES: String(16 * 1024 * 1024) })
  const line = JSON.stringify({ ...event, signature: 'x'.repeat(10 * 1024 * 1024) })
  const res = await post(app, `${JSON.stringify(event)}\n${line}\n`, { 'content-type': 'application/x-ndjson' })
  t.equal(res.statusCode, 413)
  t.match(res.json(), {
    error: 'QLQ_ERR_LINE_TOO_LONG',
    message: /line 2 is longer than 1048576 characters \(QALQAN_COLLECTOR_MAX_LINE_LENGTH\)/,
  })
})

t.test('shutting down finishes the requests in flight: every 202 is in Kafka, later writes are refused', async (t) => {
  const { app, config, sink } = await collector(t)
  const requests = Array.from({ length: 20 }, (_, i) =>
    post(app, JSON.stringify(Array.from({ length: 10 }, () => ({ ...event, signature: `shutdown ${i}` })))),
  )
  // Once writes wait for Kafka, shut down with them in flight.
  while (sink.pending === 0) await new Promise((resolve) => setImmediate(resolve))
  const closing = sink.close()
  const answers = await Promise.all(requests)
  await closing
  const accepted = answers.filter((res) => res.statusCode === 202).length
  t.ok(accepted > 0, `writes in flight at the shutdown were finished (${accepted} of 20)`)
  t.ok(
    answers.every((res) => res.statusCode === 202 || res.statusCode === 503),
    'each answered 202 or 503',
  )
  t.equal(
    (await readTopic(config.kafka.topics.events, accepted * 10, 10_000)).length,
    accepted * 10,
    `the ${accepted} accepted requests' events are all in the topic`,
  )
  const late = await post(app, JSON.stringify(event))
  t.equal(late.statusCode, 503)
  t.match(late.json(), { error: 'QLQ_ERR_SHUTTING_DOWN' })
})

t.test("times the worker would drop are refused per event, with the worker's settings", async (t) => {
  const { app, config } = await collector(t, {
    QALQAN_WORKER_MAX_FUTURE_SECONDS: '600',
    QALQAN_WORKER_MAX_AGE_DAYS: '7',
  })
  const now = new Date().toISOString()
  const body = [
    { ...event, occurred_at: now },
    { ...event, occurred_at: '9999-12-31T23:59:59Z' },
    { ...event, occurred_at: '0000-01-01T00:00:00Z' },
    { ...event, occurred_at: now.replace('Z', '+23:59') },
    { ...event, occurred_at: '2025-03-01T08:15:30+05:00' },
  ]
  const res = await post(app, JSON.stringify(body))
  t.equal(res.statusCode, 202, 'the plausible event is taken')
  t.match(res.json(), {
    accepted: 1,
    rejected: [
      { index: 1, reason: /is more than 600 s after the event was received .*QALQAN_WORKER_MAX_FUTURE_SECONDS/ },
      { index: 2, reason: /is more than 7 days before the event was received .*QALQAN_WORKER_MAX_AGE_DAYS/ },
      { index: 3, reason: 'occurred_at: UTC offset +23:59 is beyond ±14:00, so the clock is not in any zone' },
      { index: 4, reason: /QALQAN_WORKER_MAX_AGE_DAYS/ },
    ],
  })
  const rejected = (await readTopic(config.kafka.topics.rejected, 4)).map((value) => JSON.parse(value))
  t.same(rejected.map((r) => [r.index, r.stage]).sort(), [
    [1, 'normalize'],
    [2, 'normalize'],
    [3, 'normalize'],
    [4, 'normalize'],
  ])

  // HEC's epoch `time` stands in for occurred_at: 1e11 s is the year 5138.
  const { occurred_at: _, ...untimed } = event
  const hec = await app.inject({
    method: 'POST',
    url: '/services/collector/event',
    headers: { authorization: `Splunk ${TOKENS.astana}` },
    payload: [
      JSON.stringify({ time: Date.now() / 1000, event: untimed }),
      JSON.stringify({ time: 1e11, event: untimed }),
    ].join(''),
  })
  t.equal(hec.statusCode, 400, 'HEC answers 400 when any event is invalid')
  t.match(hec.json(), {
    code: 6,
    'invalid-event-number': 1,
    accepted: 1,
    rejected: [{ index: 1, reason: /^occurred_at 5138-.*\(QALQAN_WORKER_MAX_FUTURE_SECONDS\)$/ }],
  })
  t.equal((await readTopic(config.kafka.topics.events, 2)).length, 2, 'only the two plausible events reach Kafka')
})
