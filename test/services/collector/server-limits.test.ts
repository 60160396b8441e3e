import t, { type Test } from 'tap'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildCollector } from '../../../services/collector/app.js'
import { loadConfig } from '../../../services/config.js'
import { TokenRegistry } from '../../../services/http/tokens.js'
import { createLogger } from '../../../services/logger.js'
import { Metrics } from '../../../services/metrics.js'
import { MemorySender } from '../../helpers/memory.js'
import { exchange, head, listenOnFreePort } from '../../helpers/raw-http.js'
import { TOKENS, TOKENS_FILE } from '../../helpers/stack.js'

// What a client can hold open on the collector without sending anything of use, on real sockets.

function settings(more: Record<string, string> = {}) {
  return loadConfig({ QALQAN_ROLE: 'collector', QALQAN_TOKENS_FILE: TOKENS_FILE, ...more })
}

async function collector(t: Test, more: Record<string, string> = {}) {
  const config = settings(more)
  const tokens = TokenRegistry.fromFile(TOKENS_FILE)
  const metrics = new Metrics()
  const app = buildCollector(config, {
    logger: createLogger('silent'),
    tokens: () => tokens,
    kafka: new MemorySender(),
    metrics,
    enrich: (e) => e,
    readiness: () => [],
  })
  t.teardown(() => app.close())
  return { app, metrics, port: await listenOnFreePort(app) }
}

/** A connection that has had one answer and stays open, idle, for the test to close. */
function idleConnection(t: Test, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head('GET', '/healthz', {})))
    t.teardown(() => socket.destroy())
    socket.once('data', (chunk) =>
      chunk.toString().startsWith('HTTP/1.1 200 ') ? resolve(socket) : reject(new Error(chunk.toString())),
    )
    socket.on('error', reject)
  })
}

t.test('the limits are settings with defaults; the headers may not outlast the request', async (t) => {
  const defaults = settings().collector
  t.match(defaults, { maxConnections: 1024, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000 })
  t.equal(
    settings({ QALQAN_COLLECTOR_REQUEST_TIMEOUT_MS: '3000' }).collector.headersTimeoutMs,
    3000,
    'unset, the headers timeout is never longer than the request timeout',
  )
  t.throws(
    () => settings({ QALQAN_COLLECTOR_HEADERS_TIMEOUT_MS: '5000', QALQAN_COLLECTOR_REQUEST_TIMEOUT_MS: '3000' }),
    {
      code: 'QLQ_ERR_CONFIG_INVALID',
      message: /QALQAN_COLLECTOR_HEADERS_TIMEOUT_MS=5000 is above QALQAN_COLLECTOR_REQUEST_TIMEOUT_MS=3000/,
    },
  )
  t.throws(() => settings({ QALQAN_COLLECTOR_MAX_CONNECTIONS: '0' }), { message: /MAX_CONNECTIONS="0".*at least 1/ })

  const { app } = await collector(t, {
    QALQAN_COLLECTOR_MAX_CONNECTIONS: '7',
    QALQAN_COLLECTOR_HEADERS_TIMEOUT_MS: '2000',
    QALQAN_COLLECTOR_KEEP_ALIVE_TIMEOUT_MS: '3000',
    QALQAN_COLLECTOR_REQUEST_TIMEOUT_MS: '4000',
  })
  t.match(app.server, { maxConnections: 7, headersTimeout: 2000, keepAliveTimeout: 3000, requestTimeout: 4000 })
})

t.test('headers sent one byte a second are cut off at the headers timeout', async (t) => {
  const { port } = await collector(t, { QALQAN_COLLECTOR_HEADERS_TIMEOUT_MS: '1000' })
  const text = head('POST', '/v1/events', {
    Authorization: `Bearer ${TOKENS.astana}`,
    'Content-Type': 'application/json',
    'Content-Length': 2,
  })
  const reply = await exchange(
    port,
    (socket) => {
      let sent = 0
      socket.write(text.charAt(sent++))
      const drip = setInterval(() => socket.write(text.charAt(sent++)), 1000)
      return () => clearInterval(drip)
    },
    8_000,
  )
  t.ok(reply.closed, 'the server closed the connection (the request timeout alone would allow 30 s)')
  t.match(reply.received, /^HTTP\/1\.1 408 /)
  t.ok(reply.elapsedMs >= 900, `not before the timeout (${reply.elapsedMs.toFixed(0)} ms)`)
})

t.test('an idle connection is closed after the keep-alive timeout', async (t) => {
  const { port } = await collector(t, { QALQAN_COLLECTOR_KEEP_ALIVE_TIMEOUT_MS: '500' })
  const reply = await exchange(port, (socket) => socket.write(head('GET', '/healthz', {})), 5_000)
  t.match(reply.received, /^HTTP\/1\.1 200 /)
  t.ok(reply.closed, 'closed by the server while idle')
})

t.test('connections past the cap are closed at once, and counted; one frees a place', async (t) => {
  const { app, port, metrics } = await collector(t, { QALQAN_COLLECTOR_MAX_CONNECTIONS: '2' })
  const first = await idleConnection(t, port)
  await idleConnection(t, port)

  const refused = await exchange(port, (socket) => socket.write(head('GET', '/healthz', {})), 5_000)
  t.ok(refused.closed, 'the third connection is closed')
  t.equal(refused.received, '', 'without an answer')
  t.match(await metrics.render(), /qalqan_errors_total\{stage="http",error_type="too_many_connections"\} 1/)

  first.destroy()
  const connections = () => new Promise<number>((resolve) => app.server.getConnections((_err, n) => resolve(n)))
  for (let tries = 0; (await connections()) > 1 && tries < 50; tries++) await sleep(20)
  const admitted = await exchange(
    port,
    (socket) => socket.write(head('GET', '/healthz', { Connection: 'close' })),
    5_000,
  )
  t.match(admitted.received, /^HTTP\/1\.1 200 /, 'a place freed is taken by the next connection')
})
