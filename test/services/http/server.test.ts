import type { FastifyInstance } from 'fastify'
import { connect } from 'node:net'
import t, { type Test } from 'tap'
import { buildCollector } from '../../../services/collector/app.js'
import { createServer, SAFE_REQUEST_ID, serveMetrics } from '../../../services/http/server.js'
import { TokenRegistry } from '../../../services/http/tokens.js'
import { createLogger } from '../../../services/logger.js'
import { Metrics } from '../../../services/metrics.js'
import { buildQueryApi } from '../../../services/query/api.js'
import { MemorySender } from '../../helpers/memory.js'
import { testConfig, TOKENS } from '../../helpers/stack.js'

const config = testConfig()
const tokens = TokenRegistry.fromFile(config.tokensFile ?? '')
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** A server as createServer builds it, with a route that fails, and the log lines it writes. */
function serverWithLog(t: Test): { app: FastifyInstance; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const logger = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line)) })
  const app = createServer(logger, 'test', { maxBodyBytes: 1024 })
  app.get('/fails', async () => {
    throw new Error('a bug')
  })
  app.post('/things', async () => ({ ok: true }))
  app.put('/things/:id', async () => ({ ok: true }))
  app.delete('/things/:id', async () => ({ ok: true }))
  t.teardown(() => app.close())
  return { app, lines }
}

/** Asks with a method the path does not declare; checks 405, the Allow header and the message. */
async function checkNotAllowed(t: Test, app: FastifyInstance, method: string, url: string, allow: string) {
  const res = await app.inject({ method: method as 'GET', url })
  t.equal(res.statusCode, 405, `${method} ${url}`)
  t.equal(res.headers['allow'], allow, `${method} ${url}: Allow`)
  t.match(
    res.json(),
    { error: 'QLQ_ERR_METHOD_NOT_ALLOWED', message: new RegExp(`does not answer ${method}: use `), retryable: false },
    `${method} ${url}`,
  )
}

t.test('a known path asked with an undeclared method: 405 naming the declared ones', async (t) => {
  const { app } = serverWithLog(t)
  await checkNotAllowed(t, app, 'GET', '/things', 'POST')
  await checkNotAllowed(t, app, 'DELETE', '/things?x=1', 'POST')
  await checkNotAllowed(t, app, 'POST', '/things/42', 'DELETE, PUT')
  await checkNotAllowed(t, app, 'POST', '/healthz', 'GET, HEAD')
  await checkNotAllowed(t, app, 'OPTIONS', '/fails', 'GET, HEAD')
  t.equal((await app.inject({ method: 'HEAD', url: '/healthz' })).statusCode, 200, 'HEAD of a GET route answers')
  for (const url of ['/nothing', '/things/42/more', '/thing', '/healthz/']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 404, `${url}: an unknown path stays 404`)
    t.match(res.json(), { error: 'QLQ_ERR_NOT_FOUND' })
    t.notOk(res.headers['allow'])
  }
})

t.test('the collector answers 405 with Allow on its routes', async (t) => {
  const app = buildCollector(config, {
    logger: createLogger('silent'),
    tokens: () => tokens,
    kafka: new MemorySender(),
    metrics: new Metrics(),
    enrich: (event) => event,
    readiness: () => [],
  })
  t.teardown(() => app.close())
  await checkNotAllowed(t, app, 'GET', '/v1/events', 'POST')
  await checkNotAllowed(t, app, 'PUT', '/v1/events/suricata', 'POST')
  await checkNotAllowed(t, app, 'DELETE', '/readyz', 'GET, HEAD')
  await checkNotAllowed(t, app, 'POST', '/services/collector/health', 'GET, HEAD')
  const onOps = await app.inject({ method: 'POST', url: '/metrics' })
  t.equal(onOps.statusCode, 404, 'the metrics are not on the public port, whatever the method')
  const posted = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'application/json' },
    payload: '[]',
  })
  t.not(posted.statusCode, 405, 'the declared method still reaches the route')
})

t.test('the query API answers 405 with Allow on its routes', async (t) => {
  const app = buildQueryApi(config, {
    logger: createLogger('silent'),
    tokens: () => tokens,
    clickhouse: { rows: async () => [] },
  })
  t.teardown(() => app.close())
  for (const path of ['/v1/summary', '/v1/timeseries', '/v1/top', '/v1/matrix', '/v1/events', '/openapi.json', '/docs'])
    await checkNotAllowed(t, app, 'POST', path, 'GET, HEAD')
  await checkNotAllowed(t, app, 'DELETE', '/v1/events?from=2025-03-01T00:00:00Z', 'GET, HEAD')
})

t.test('a metrics server answers 405 with Allow', async (t) => {
  const app = createServer(createLogger('silent'), 'worker', { maxBodyBytes: 1024 })
  serveMetrics(app, new Metrics())
  t.teardown(() => app.close())
  await checkNotAllowed(t, app, 'POST', '/metrics', 'GET, HEAD')
})

t.test("a client's x-request-id is used only when it is safe, and the answer carries the id used", async (t) => {
  const { app, lines } = serverWithLog(t)
  const ask = async (id: string | undefined) => {
    const res = await app.inject({
      method: 'GET',
      url: '/fails',
      headers: id === undefined ? {} : { 'x-request-id': id },
    })
    t.equal(res.statusCode, 500)
    const line = lines.at(-1)
    return { header: res.headers['x-request-id'], logged: line?.['reqId'] }
  }
  for (const id of ['a1b2c3', 'trace-01.span_02:03', 'A'.repeat(64), '0a1b2c3d-0000-4000-8000-00000000abcd']) {
    t.same(await ask(id), { header: id, logged: id }, `${id}: kept`)
  }
  const hostile = [
    'A'.repeat(65),
    'x'.repeat(10_000),
    'id\r\nx-injected: 1',
    'id\nfake log line',
    'id\u0000nul',
    'id\u001b[31mred',
    'id\tab',
    'id with spaces',
    '{"json":1}',
    'café',
    '',
  ]
  for (const id of hostile) {
    const { header, logged } = await ask(id).catch(() => ({ header: 'refused by the HTTP layer', logged: undefined }))
    if (header === 'refused by the HTTP layer') {
      t.pass(`${JSON.stringify(id.slice(0, 20))}: refused before reaching the server`)
      continue
    }
    t.match(header, UUID, `${JSON.stringify(id.slice(0, 20))}: replaced by a new id`)
    t.equal(logged, header, `${JSON.stringify(id.slice(0, 20))}: the log has the new id`)
  }
  const none = await ask(undefined)
  t.match(none.header, UUID, 'no id: a new one')
  t.equal(none.logged, none.header)
  const ok = await app.inject({ method: 'POST', url: '/things', headers: { 'x-request-id': 'abc' } })
  t.equal(ok.headers['x-request-id'], 'abc', 'on success too')
  const missing = await app.inject({ method: 'GET', url: '/nothing', headers: { 'x-request-id': 'def' } })
  t.equal(missing.headers['x-request-id'], 'def', 'and on a 404')
  t.ok(SAFE_REQUEST_ID.test('a') && !SAFE_REQUEST_ID.test('a b'))
})

t.test('over a real socket, what the HTTP parser lets through is replaced, never logged', async (t) => {
  const { app, lines } = serverWithLog(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const raw = (id: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end(
          Buffer.from(`GET /fails HTTP/1.1\r\nhost: x\r\nx-request-id: ${id}\r\nconnection: close\r\n\r\n`, 'latin1'),
        )
      })
      let answer = ''
      socket.on('data', (chunk) => {
        answer += chunk
      })
      socket.on('end', () => resolve(answer))
      socket.on('error', reject)
    })
  const used = (answer: string) => /\r\nx-request-id: ([^\r]*)\r\n/i.exec(answer)?.[1]
  t.equal(used(await raw('trace-1')), 'trace-1')
  t.equal(lines.at(-1)?.['reqId'], 'trace-1')
  for (const [what, id] of [
    ['a tab', 'a\tb'],
    ['a byte above ASCII', 'caf\u00e9'],
    ['65 characters', 'B'.repeat(65)],
    ['8 KiB', 'C'.repeat(8192)],
  ]) {
    const answer = await raw(id)
    t.match(answer, /^HTTP\/1\.1 500/, `${what}: reached the server`)
    t.match(used(answer), UUID, `${what}: replaced by a new id`)
    t.equal(lines.at(-1)?.['reqId'], used(answer), `${what}: the log has the new id`)
  }
})
