import t, { type Test } from 'tap'
import { LINGER_MS } from '../../../services/collector/admission.js'
import { buildCollector } from '../../../services/collector/app.js'
import { loadConfig } from '../../../services/config.js'
import { TokenRegistry } from '../../../services/http/tokens.js'
import { createLogger } from '../../../services/logger.js'
import { Metrics } from '../../../services/metrics.js'
import { MemorySender } from '../../helpers/memory.js'
import { exchange, head, listenOnFreePort } from '../../helpers/raw-http.js'
import { TOKENS, TOKENS_FILE } from '../../helpers/stack.js'

// What the collector refuses on a request's headers alone, on a real socket. A refusal must come at
// once, before the body: a collector that read the body first would wait for a body that never
// comes until the request timeout (30 s). What then comes of the body is dropped, not kept, for a
// short while, so that a client still writing it reads the answer instead of a reset connection.

const MiB = 1024 * 1024
const event = {
  occurred_at: '2025-03-01T08:15:30+05:00',
  category: 'scan',
  severity: 2,
  signature: 'ET SCAN',
  src_ip: '203.0.113.10',
}

async function collector(t: Test, settings: Record<string, string> = {}) {
  const config = loadConfig({
    QALQAN_ROLE: 'collector',
    QALQAN_TOKENS_FILE: TOKENS_FILE,
    // The events are dated in 2025: the horizon must reach them.
    QALQAN_WORKER_MAX_AGE_DAYS: '3650',
    ...settings,
  })
  const tokens = TokenRegistry.fromFile(TOKENS_FILE)
  const sender = new MemorySender()
  const metrics = new Metrics()
  const app = buildCollector(config, {
    logger: createLogger('silent'),
    tokens: () => tokens,
    kafka: sender,
    metrics,
    enrich: (e) => e,
    readiness: () => [],
  })
  t.teardown(() => app.close())
  return { app, sender, metrics, port: await listenOnFreePort(app) }
}

/** Sends only the headers of a POST announcing `length` bytes, and waits up to 5 s for the server. */
function headersOnly(port: number, path: string, headers: Record<string, string>, length = 5 * MiB) {
  return exchange(port, (socket) => socket.write(head('POST', path, { ...headers, 'Content-Length': length })), 5_000)
}

function refusedBeforeBody(t: Test, reply: Awaited<ReturnType<typeof exchange>>, status: number, error: string) {
  t.match(reply.received, new RegExp(`^HTTP/1\\.1 ${status} `), `answered ${status} without the body`)
  t.match(reply.received, `"error":"${error}"`)
  t.ok(reply.closed, 'the server closed the connection rather than wait for the body')
  t.ok(
    reply.elapsedMs >= LINGER_MS - 100 && reply.elapsedMs < LINGER_MS + 1_500,
    `after the linger time (${LINGER_MS} ms): ${Math.round(reply.elapsedMs)} ms`,
  )
}

/** Writes a whole request with a `size`-byte body at once, as a forwarder does, and reads the answer. */
function wholeRequest(port: number, path: string, headers: Record<string, string>, body: Buffer) {
  return exchange(
    port,
    (socket) => {
      socket.write(head('POST', path, { ...headers, 'Content-Length': body.length }))
      socket.write(body)
    },
    10_000,
  )
}

t.test('a request without a valid token is refused on its headers; its 5 MiB body is never read', async (t) => {
  const { port, sender } = await collector(t)
  const json = { 'Content-Type': 'application/json' }
  const cases: [string, Record<string, string>, number, string][] = [
    ['/v1/events', { ...json, Authorization: 'Bearer wrong-token' }, 401, 'QLQ_ERR_UNAUTHORIZED'],
    ['/v1/events', json, 401, 'QLQ_ERR_UNAUTHORIZED'],
    ['/v1/events/suricata', { Authorization: 'Bearer wrong-token' }, 401, 'QLQ_ERR_UNAUTHORIZED'],
    ['/services/collector/event', { ...json, Authorization: 'Splunk wrong-token' }, 401, 'QLQ_ERR_UNAUTHORIZED'],
    ['/services/collector/raw', { Authorization: 'Bearer wrong-token' }, 401, 'QLQ_ERR_UNAUTHORIZED'],
    ['/v1/events', { ...json, Authorization: `Bearer ${TOKENS.analyst}` }, 403, 'QLQ_ERR_FORBIDDEN'],
  ]
  for (const [path, headers, status, error] of cases) {
    await t.test(`${path} ${headers['Authorization'] ?? '(no token)'}`, async (t) => {
      refusedBeforeBody(t, await headersOnly(port, path, headers), status, error)
    })
  }
  t.equal(sender.calls, 0, 'nothing was sent to Kafka')
})

t.test('HEC clients get the refusal in HEC form, still before the body', async (t) => {
  const { port } = await collector(t)
  const reply = await headersOnly(port, '/services/collector/event', { Authorization: 'Splunk wrong-token' })
  refusedBeforeBody(t, reply, 401, 'QLQ_ERR_UNAUTHORIZED')
  t.match(reply.received, /"code":2,"text":"Token is required"/)
})

t.test('an unknown format or a wrong Content-Type is refused on the headers too', async (t) => {
  const { port } = await collector(t)
  const sensor = { Authorization: `Bearer ${TOKENS.astana}` }
  refusedBeforeBody(
    t,
    await headersOnly(port, '/v1/events/nope', { ...sensor, 'Content-Type': 'text/plain' }),
    404,
    'QLQ_ERR_NOT_FOUND',
  )
  refusedBeforeBody(
    t,
    await headersOnly(port, '/v1/events', { ...sensor, 'Content-Type': 'text/plain' }),
    415,
    'QLQ_ERR_UNSUPPORTED_MEDIA_TYPE',
  )
  refusedBeforeBody(
    t,
    await headersOnly(port, '/v1/events/cef', { ...sensor, 'Content-Type': 'image/png' }),
    415,
    'QLQ_ERR_UNSUPPORTED_MEDIA_TYPE',
  )
})

t.test('a Content-Length over the body limit is refused as 413 on the headers alone', async (t) => {
  const { port } = await collector(t, { QALQAN_COLLECTOR_MAX_BODY_BYTES: '65536' })
  const headers = { Authorization: `Bearer ${TOKENS.astana}`, 'Content-Type': 'application/json' }
  const reply = await headersOnly(port, '/v1/events', headers, 5 * MiB)
  refusedBeforeBody(t, reply, 413, 'QLQ_ERR_BODY_TOO_LARGE')
  t.match(reply.received, /65536 bytes \(QALQAN_COLLECTOR_MAX_BODY_BYTES\)/)
})

t.test('a client still writing a 7 MB body when refused reads the answer, and the body is dropped', async (t) => {
  const { port, sender } = await collector(t, { QALQAN_COLLECTOR_MAX_BODY_BYTES: String(4 * MiB) })
  const body = Buffer.alloc(7_000_000, '[{"category":"scan"},')
  const json = { 'Content-Type': 'application/json' }
  const cases: [string, Record<string, string>, number, string][] = [
    ['a wrong token', { ...json, Authorization: 'Bearer wrong-token' }, 401, 'QLQ_ERR_UNAUTHORIZED'],
    ['over the body limit', { ...json, Authorization: `Bearer ${TOKENS.astana}` }, 413, 'QLQ_ERR_BODY_TOO_LARGE'],
  ]
  for (const [name, headers, status, error] of cases) {
    await t.test(name, async (t) => {
      const before = process.memoryUsage().heapUsed
      const reply = await wholeRequest(port, '/v1/events', headers, body)
      const grew = process.memoryUsage().heapUsed - before
      t.match(reply.received, new RegExp(`^HTTP/1\\.1 ${status} `), `the client read the ${status}`)
      t.match(reply.received, `"error":"${error}"`)
      t.same(reply.error, undefined, 'no EPIPE or ECONNRESET on the client')
      t.ok(reply.closed, 'the server closed the connection once the body was all read')
      t.ok(reply.elapsedMs < LINGER_MS, `before the linger time ran out (${Math.round(reply.elapsedMs)} ms)`)
      t.ok(grew < body.length / 2, `the body was not kept: the heap grew by ${(grew / MiB).toFixed(1)} MiB`)
    })
  }
  t.equal(sender.calls, 0, 'nothing was sent to Kafka')
})

t.test('a refused body more than twice the limit is cut off without waiting for the linger time', async (t) => {
  const { port } = await collector(t, { QALQAN_COLLECTOR_MAX_BODY_BYTES: '65536' })
  let written = 0
  const chunk = Buffer.alloc(64 * 1024, ' ')
  const reply = await exchange(
    port,
    (socket) => {
      socket.write(head('POST', '/v1/events', { Authorization: 'Bearer wrong-token', 'Transfer-Encoding': 'chunked' }))
      const timer = setInterval(() => {
        written += chunk.length
        socket.write(`${chunk.length.toString(16)}\r\n`)
        socket.write(chunk)
        socket.write('\r\n')
      }, 5)
      return () => clearInterval(timer)
    },
    5_000,
  )
  t.match(reply.received, /^HTTP\/1\.1 401 /, 'answered first')
  t.ok(reply.closed, 'then closed')
  t.ok(reply.elapsedMs < LINGER_MS, `before the linger time (${Math.round(reply.elapsedMs)} ms)`)
  t.ok(written < 16 * 65536, `after about twice the limit was dropped (${written} bytes written)`)
})

t.test('a sensor with no rate budget left is refused as 429 before its body is read', async (t) => {
  const { app, port, metrics } = await collector(t, {
    QALQAN_COLLECTOR_SENSOR_RATE: '1',
    QALQAN_COLLECTOR_SENSOR_BURST: '50',
    QALQAN_COLLECTOR_MAX_EVENTS: '50',
  })
  const post = (token: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify(Array.from({ length: 50 }, () => event)),
    })
  t.equal((await post(TOKENS.astana)).statusCode, 202, 'the whole burst is spent')
  const headers = { Authorization: `Bearer ${TOKENS.astana}`, 'Content-Type': 'application/json' }
  const reply = await headersOnly(port, '/v1/events', headers, 100_000)
  refusedBeforeBody(t, reply, 429, 'QLQ_ERR_RATE_LIMITED')
  t.match(reply.received, /\r\nretry-after: \d+\r\n/i)
  t.match(reply.received, /sensor test-ids-astana sends faster than its rate limit/)
  t.match(await metrics.render(), /qalqan_errors_total\{stage="http",error_type="rate_limited"\} 1/)
  t.equal((await post(TOKENS.almaty)).statusCode, 202, 'another sensor has its own budget')
})

t.test('an admitted request is read and answered, and its connection kept for the next', async (t) => {
  const { port, sender } = await collector(t)
  const body = JSON.stringify(event)
  const request = `${head('POST', '/v1/events', {
    Authorization: `Bearer ${TOKENS.astana}`,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  })}${body}`
  const reply = await exchange(port, (socket) => socket.write(request), 1_000)
  t.match(reply.received, /^HTTP\/1\.1 202 /)
  t.notMatch(reply.received, /connection: close/i)
  t.notOk(reply.closed, 'the connection stays open')
  t.equal(sender.events.length, 1)
})
