import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import type { Reader } from '../../../services/clickhouse/index.js'
import { loadConfig } from '../../../services/config.js'
import { hashToken, TokenRegistry } from '../../../services/http/tokens.js'
import { createLogger } from '../../../services/logger.js'
import { buildQueryApi } from '../../../services/query/api.js'
import { AUDIT_LOG_NAME, QueryAudit } from '../../../services/query/audit.js'

// The audit log of analysts' queries: who asked what, and what came of it, one JSON line each.

const ANALYST_TOKEN = 'audit-analyst-secret-token'
const SENSOR_TOKEN = 'audit-sensor-secret-token'
const dir = mkdtempSync(join(tmpdir(), 'qalqan-audit-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const tokensFile = join(dir, 'tokens.json')
writeFileSync(
  tokensFile,
  JSON.stringify({
    sensors: [
      {
        id: 'kz-ids-1',
        token_sha256: hashToken(SENSOR_TOKEN),
        type: 'ids',
        org: 'Org',
        sector: 'finance',
        region: 'KZ-75',
      },
    ],
    analysts: [
      { id: 'soc-7', name: 'Aigerim N.', token_sha256: hashToken(ANALYST_TOKEN) },
      { id: 'soc-gone', token_sha256: hashToken('audit-revoked-token'), revoked: true },
      { id: 'soc-old', token_sha256: hashToken('audit-expired-token'), not_after: '2024-12-31T23:59:59Z' },
    ],
  }),
)
const auditFile = join(dir, 'logs', 'audit.log')
const config = loadConfig({
  QALQAN_ROLE: 'query',
  QALQAN_TOKENS_FILE: tokensFile,
  QALQAN_QUERY_AUDIT_LOG: auditFile,
  QALQAN_QUERY_CACHE_SECONDS: '0',
})
const tokens = TokenRegistry.fromFile(tokensFile)
/** The ClickHouse reader's interface, answering every query with the same rows. */
const reader: Reader = {
  rows: async <T>() =>
    [
      { key: 'finance', events: '12', sources: '3' },
      { key: 'energy', events: '4', sources: '1' },
    ] as T[],
}
const audit = new QueryAudit(config.query.auditLog)
const app = buildQueryApi(config, { logger: createLogger('silent'), tokens: () => tokens, clickhouse: reader, audit })
t.teardown(() => app.close())

const get = (url: string, token?: string) =>
  app.inject({ method: 'GET', url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
const lines = () =>
  readFileSync(auditFile, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)

t.test('stdout by default, under its own log name', async (t) => {
  t.equal(loadConfig({ QALQAN_ROLE: 'query', QALQAN_TOKENS_FILE: tokensFile }).query.auditLog, 'stdout')
  const stream = new PassThrough()
  let written = ''
  stream.on('data', (chunk: Buffer) => (written += chunk.toString()))
  const onStream = new QueryAudit(stream)
  const api = buildQueryApi(config, {
    logger: createLogger('silent'),
    tokens: () => tokens,
    clickhouse: reader,
    audit: onStream,
  })
  t.teardown(() => api.close())
  await api.inject({
    method: 'GET',
    url: '/v1/top?by=sector&from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z',
    headers: { authorization: `Bearer ${ANALYST_TOKEN}` },
  })
  t.match(JSON.parse(written.trim()), { log: AUDIT_LOG_NAME, analyst: 'soc-7', endpoint: '/v1/top' })
})

t.test('who asked what, and what came of it', async (t) => {
  const ok = await get('/v1/top?by=sector&n=5&from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z', ANALYST_TOKEN)
  t.equal(ok.statusCode, 200)
  const csv = await get(
    '/v1/top?by=sector&format=csv&region=KZ-75&from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z',
    ANALYST_TOKEN,
  )
  t.equal(csv.statusCode, 200)
  const invalid = await get('/v1/top?by=nonsense&from=yesterday', ANALYST_TOKEN)
  t.equal(invalid.statusCode, 400)
  t.equal((await get('/v1/summary?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z', SENSOR_TOKEN)).statusCode, 403)
  t.equal((await get('/v1/summary')).statusCode, 401)
  t.equal((await get('/openapi.json')).statusCode, 200)
  audit.flush()

  const [top, asCsv, refused, sensor, anonymous, ...rest] = lines()
  t.same(rest, [], 'one line per query; the API description is not a query')
  t.match(top, {
    log: AUDIT_LOG_NAME,
    analyst: 'soc-7',
    analyst_name: 'Aigerim N.',
    endpoint: '/v1/top',
    filters: { by: 'sector', n: 5, from: '2025-03-01T00:00:00Z', to: '2025-03-02T00:00:00Z' },
    rows: 2,
    status: 200,
    request_id: String,
  })
  t.match(asCsv, { analyst: 'soc-7', filters: { format: 'csv', region: 'KZ-75' }, rows: 2, status: 200 })
  t.match(refused, { analyst: 'soc-7', filters: { by: 'nonsense', from: 'yesterday' }, rows: null, status: 400 })
  t.match(sensor, { analyst: null, endpoint: '/v1/summary', status: 403 })
  t.match(anonymous, { analyst: null, endpoint: '/v1/summary', status: 401 })
  const text = readFileSync(auditFile, 'utf8')
  t.notMatch(text, ANALYST_TOKEN, 'never the token')
  t.notMatch(text, SENSOR_TOKEN)
  t.notMatch(text, hashToken(ANALYST_TOKEN), 'nor its hash')
})

t.test('a hostile query string is cut down in the record', async (t) => {
  const long = 'x'.repeat(5_000)
  const params = Array.from({ length: 60 }, (_, i) => `p${i}=${long}`).join('&')
  t.equal((await get(`/v1/top?${params}`, ANALYST_TOKEN)).statusCode, 400)
  audit.flush()
  const last = lines().at(-1) ?? {}
  const filters = last['filters'] as Record<string, string>
  t.ok(Object.keys(filters).length <= 30, `${Object.keys(filters).length} parameters kept`)
  t.ok(
    Object.values(filters).every((value) => value.length <= 200),
    'each value cut',
  )
})

t.test('a credential sent in the query string is never written, refused or not', async (t) => {
  const secret = 'query-string-secret-value'
  for (const [url, token] of [
    [`/v1/top?token=${secret}&by=sector`, undefined],
    [`/v1/top?access_token=${secret}&apiKey=${secret}&password=${secret}`, ANALYST_TOKEN],
  ] as const) {
    await get(url, token)
    audit.flush()
    const last = lines().at(-1) ?? {}
    t.notMatch(JSON.stringify(last), secret, `${url.split('?')[1]?.split('=')[0]}: the value is not in the record`)
    t.match(last['filters'], { by: token === undefined ? 'sector' : undefined })
  }
})

t.test('a revoked or expired analyst token is refused, and the refusal recorded', async (t) => {
  const query = '/v1/summary?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z'
  const revoked = await get(query, 'audit-revoked-token')
  t.equal(revoked.statusCode, 401)
  t.match(revoked.json(), { error: 'QLQ_ERR_TOKEN_REVOKED' })
  const expired = await get(query, 'audit-expired-token')
  t.equal(expired.statusCode, 401)
  t.match(expired.json(), { error: 'QLQ_ERR_TOKEN_EXPIRED', message: /2024-12-31T23:59:59Z/ })
  audit.flush()
  const [first, second] = lines().slice(-2)
  t.match(first, { analyst: null, endpoint: '/v1/summary', status: 401 })
  t.match(second, { analyst: null, endpoint: '/v1/summary', status: 401 })
})
