import t from 'tap'
import { validate as validateOpenApi } from '../../helpers/openapi.js'
import type { CanonicalEvent } from '../../../schemas/event.js'
import { openClickHouse, type OffsetEvent } from '../../../services/clickhouse/index.js'
import { createLogger } from '../../../services/logger.js'
import { buildQueryApi } from '../../../services/query/api.js'
import { TokenRegistry } from '../../../services/http/tokens.js'
import { testConfig, TOKENS } from '../../helpers/stack.js'

const config = testConfig({ QALQAN_QUERY_MAX_RANGE_DAYS: '7', QALQAN_QUERY_CACHE_SECONDS: '0' })
const store = await openClickHouse(config)
await store.migrate()
await store.applyRetention()
const clickhouse = store.reader
const tokens = TokenRegistry.fromFile(config.tokensFile ?? '')
const app = buildQueryApi(config, { logger: createLogger('silent'), tokens: () => tokens, clickhouse })
t.teardown(async () => {
  await app.close()
  await store.close()
})

// Raw events, as the worker writes them; the materialized views make the aggregates.
const PLACES = {
  government: ['Test E-Gov Astana', 'KZ-71'],
  finance: ['Test Bank Almaty', 'KZ-75'],
  energy: ['Test Refinery Atyrau', 'KZ-23'],
} as const
let serial = 0
function event(
  occurred_at: string,
  sector: keyof typeof PLACES,
  count: number,
  more: Partial<CanonicalEvent> = {},
): OffsetEvent {
  serial++
  return {
    offset: String(serial),
    event: {
      v: 1,
      event_id: `00000000-0000-4000-8000-${String(serial).padStart(12, '0')}`,
      occurred_at,
      received_at: occurred_at,
      sensor_id: 'fixture',
      sensor_type: 'ids',
      category: 'scan',
      severity: 2,
      signature: 'ET SCAN fixture',
      src_ip: `203.0.113.${serial}`,
      dst_ip: '198.51.100.1',
      src_country: 'CN',
      src_scope: 'public',
      org: PLACES[sector][0],
      sector,
      region: PLACES[sector][1],
      count,
      ...more,
    },
  }
}
await store.events.insert(
  [
    event('2025-03-01T03:15:10.000Z', 'government', 4),
    event('2025-03-01T03:15:50.000Z', 'government', 6, {
      category: 'exploit',
      severity: 4,
      signature: '=HYPERLINK("x")',
      src_country: 'RU',
    }),
    event('2025-03-01T03:16:00.000Z', 'finance', 7, { src_country: 'US' }),
    event('2025-03-01T10:00:00.000Z', 'finance', 1, { src_ip: '203.0.113.3', src_country: 'US' }),
    event('2025-03-02T00:00:00.000Z', 'energy', 1),
    event('2025-02-28T12:00:00.000Z', 'government', 9),
  ],
  { topic: 'fixture', partition: 0, firstOffset: '1', lastOffset: '6' },
)

const DAY = 'from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z'
function get(path: string, token: string = TOKENS.analyst, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${token}`, ...headers } })
}

t.test('summary: totals, distinct sources, first and last seen, and the change against the previous day', async (t) => {
  const res = await get(`/v1/summary?${DAY}`)
  t.equal(res.statusCode, 200)
  t.match(res.json(), {
    events: 18,
    sources: 3,
    targets: 1,
    first_seen: '2025-03-01T03:15:10.000Z',
    last_seen: '2025-03-01T10:00:00.000Z',
    previous: { from: '2025-02-28T00:00:00.000Z', events: 9, sources: 1 },
    change: { events: 100, sources: 200 },
  })
  t.match((await get(`/v1/summary?${DAY}&sector=finance&src_country=US`)).json(), {
    events: 8,
    sources: 1,
    change: { events: null },
  })
  t.match((await get(`/v1/summary?${DAY}&severity=4`)).json(), { events: 6 })
  t.match((await get(`/v1/summary?${DAY}&org=${encodeURIComponent('Test Bank Almaty')}`)).json(), { events: 8 })
  t.match((await get('/v1/summary?from=2025-06-01T00:00:00Z&to=2025-06-02T00:00:00Z')).json(), {
    events: 0,
    first_seen: null,
  })
})

t.test('timeseries: steps, tables and grouping', async (t) => {
  const minutes = (await get(`/v1/timeseries?${DAY}&step=1m&group_by=sector,region`)).json()
  t.equal(minutes.table, 'attacks_1m')
  t.same(minutes.points, [
    { time: '2025-03-01T03:15:00.000Z', sector: 'government', region: 'KZ-71', events: 10, sources: 2 },
    { time: '2025-03-01T03:16:00.000Z', sector: 'finance', region: 'KZ-75', events: 7, sources: 1 },
    { time: '2025-03-01T10:00:00.000Z', sector: 'finance', region: 'KZ-75', events: 1, sources: 1 },
  ])
  const hours = (await get(`/v1/timeseries?${DAY}&step=1h`)).json()
  t.equal(hours.table, 'attacks_1h')
  t.same(
    hours.points.map((p: { events: number }) => p.events),
    [17, 1],
  )
  const auto = (await get('/v1/timeseries?from=2025-02-25T00:00:00Z&to=2025-03-03T00:00:00Z')).json()
  t.equal(auto.step, '1h', 'six days at under 300 points')
  t.same(
    auto.points.reduce((sum: number, p: { events: number }) => sum + p.events, 0),
    28,
  )
  const days = (
    await get('/v1/timeseries?from=2025-02-25T00:00:00Z&to=2025-03-03T00:00:00Z&step=1d&group_by=severity')
  ).json()
  t.equal(days.table, 'attacks_1d')
  t.same(
    days.points.filter((p: { severity: number }) => p.severity === 4).map((p: { events: number }) => p.events),
    [6],
  )
})

t.test('top N by every dimension, signatures from the raw events', async (t) => {
  t.same(
    (await get(`/v1/top?${DAY}&by=src_country`)).json().rows,
    [
      { src_country: 'CN', events: 4, sources: 1 },
      { src_country: 'RU', events: 6, sources: 1 },
      { src_country: 'US', events: 8, sources: 1 },
    ].sort((a, b) => b.events - a.events),
  )
  t.same((await get(`/v1/top?${DAY}&by=sector&n=1`)).json().rows, [{ sector: 'government', events: 10, sources: 2 }])
  const signatures = (await get(`/v1/top?${DAY}&by=signature`)).json()
  t.equal(signatures.table, 'events_raw')
  t.same(signatures.rows[0], { signature: 'ET SCAN fixture', events: 12, sources: 2 })
  for (const by of ['category', 'region', 'org', 'severity'])
    t.equal((await get(`/v1/top?${DAY}&by=${by}`)).statusCode, 200, by)
})

t.test('the sector x region matrix, with region names', async (t) => {
  t.same((await get(`/v1/matrix?${DAY}`)).json().cells, [
    { sector: 'finance', region: 'KZ-75', region_name: 'Almaty', events: 8, sources: 1 },
    { sector: 'government', region: 'KZ-71', region_name: 'Astana', events: 10, sources: 2 },
  ])
})

t.test('drill-down: raw events newest first, paged with a cursor to the end', async (t) => {
  const first = (await get(`/v1/events?${DAY}&limit=2`)).json()
  t.same(
    first.events.map((e: { count: number }) => e.count),
    [1, 7],
  )
  t.match(first.events[0], {
    occurred_at: '2025-03-01T10:00:00.000Z',
    sector: 'finance',
    src_country: 'US',
    event_id: /^0{8}-/,
  })
  t.type(first.next_cursor, 'string')
  const second = (await get(`/v1/events?${DAY}&limit=2&cursor=${first.next_cursor}`)).json()
  t.same(
    second.events.map((e: { count: number }) => e.count),
    [6, 4],
  )
  t.equal(second.next_cursor, null, 'the last page')
  t.same((await get(`/v1/events?${DAY}&region=KZ-75`)).json().events.length, 2)
  const forged = await get(`/v1/events?${DAY}&cursor=${Buffer.from('[1,"x\' OR 1=1 --"]').toString('base64url')}`)
  t.equal(forged.statusCode, 400)
  t.match(forged.json(), { message: /cursor/ })
})

t.test('CSV on request, with formulas in attack data defused', async (t) => {
  const csv = await get(`/v1/events?${DAY}&format=csv`)
  t.match(csv.headers['content-type'], /^text\/csv/)
  const lines = csv.body.trim().split('\r\n')
  t.match(lines[0], /^event_id,occurred_at,received_at,sensor_id/)
  t.equal(lines.length, 5)
  t.ok(
    lines.some((line) => line.includes(`"'=HYPERLINK(""x"")"`)),
    'a formula becomes text',
  )
  const accept = await get(`/v1/matrix?${DAY}`, TOKENS.analyst, { accept: 'text/csv' })
  t.equal(
    accept.body,
    'sector,region,region_name,events,sources\r\nfinance,KZ-75,Almaty,8,1\r\ngovernment,KZ-71,Astana,10,2\r\n',
  )
  t.match(
    (await get(`/v1/summary?${DAY}&format=csv`)).json(),
    { error: 'QLQ_ERR_INVALID_QUERY' },
    'summary is JSON only',
  )
})

t.test('wrong roles and missing tokens', async (t) => {
  for (const path of ['/v1/summary', '/v1/timeseries', '/v1/top', '/v1/matrix', '/v1/events']) {
    t.equal((await get(`${path}?${DAY}&by=sector`, TOKENS.astana)).statusCode, 403, `${path}: a sensor token`)
    const none = await app.inject({ method: 'GET', url: `${path}?${DAY}&by=sector` })
    t.equal(none.statusCode, 401, `${path}: no token`)
  }
})

t.test('bad parameters get a 400 naming them', async (t) => {
  const cases: [string, RegExp][] = [
    ['/v1/summary?to=2025-03-02T00:00:00Z', /from: /],
    ['/v1/summary?from=yesterday&to=2025-03-02T00:00:00Z', /from: must be an ISO 8601 time/],
    ['/v1/summary?from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z', /from must be before to/],
    [
      '/v1/summary?from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z',
      /longer than 7 days \(QALQAN_QUERY_MAX_RANGE_DAYS\)/,
    ],
    [`/v1/summary?${DAY}&sector=banking`, /sector: /],
    [`/v1/summary?${DAY}&region=KZ-AST`, /region: /],
    [`/v1/summary?${DAY}&severity=5`, /severity: must be 1, 2, 3 or 4/],
    [`/v1/summary?${DAY}&src_country=china`, /src_country: must be an ISO 3166-1 alpha-2/],
    [`/v1/summary?${DAY}&limit=5`, /unknown field\(s\) "limit"/],
    [`/v1/summary?${DAY}&from=2025-03-01T01:00:00Z`, /from: /],
    [`/v1/timeseries?${DAY}&step=2m`, /step: /],
    [`/v1/timeseries?${DAY}&group_by=sector,region,category`, /group_by: must be up to two of/],
    [`/v1/timeseries?${DAY}&group_by=signature`, /group_by: /],
    [`/v1/top?${DAY}`, /by: /],
    [`/v1/top?${DAY}&by=sector&n=0`, /n: /],
    [`/v1/top?${DAY}&by=sector&n=1000`, /n: /],
    [`/v1/events?${DAY}&limit=5000`, /limit: /],
    [`/v1/events?${DAY}&cursor=not%20a%20cursor`, /cursor: /],
  ]
  for (const [path, message] of cases) {
    const res = await get(path)
    t.equal(res.statusCode, 400, path)
    t.match(res.json(), { error: 'QLQ_ERR_INVALID_QUERY', message }, path)
  }
})

t.test('SQL injection attempts in every parameter are refused or harmless, and the data is intact', async (t) => {
  const attacks = [
    "government' OR '1'='1",
    "x'); DROP TABLE events_raw; --",
    'KZ-71} OR 1=1 --',
    '{sector:String}',
    "\\' UNION SELECT * FROM system.users --",
    'sector) --',
  ]
  const params = [
    'from',
    'to',
    'sector',
    'region',
    'category',
    'severity',
    'src_country',
    'org',
    'step',
    'group_by',
    'by',
    'n',
    'limit',
    'cursor',
    'format',
  ]
  for (const attack of attacks) {
    for (const param of params) {
      for (const path of ['/v1/timeseries', '/v1/top', '/v1/events']) {
        const query = new URLSearchParams({
          from: '2025-03-01T00:00:00Z',
          to: '2025-03-02T00:00:00Z',
          ...(path === '/v1/top' && { by: 'sector' }),
          [param]: attack,
        })
        const res = await get(`${path}?${query}`)
        if (param === 'org') t.equal(res.statusCode, 200, `${path} ${param}: a bound value that matches nothing`)
        else t.equal(res.statusCode, 400, `${path} ${param}: ${attack}`)
        if (param === 'org')
          t.same(res.json().rows ?? res.json().points ?? res.json().events, [], `${path}: nothing matches`)
      }
    }
  }
  t.match((await get(`/v1/summary?${DAY}`)).json(), { events: 18 }, 'all fixture rows still there')
})

t.test('identical queries within the cache time are answered once', async (t) => {
  const cached = buildQueryApi(testConfig({ QALQAN_QUERY_CACHE_SECONDS: '60' }), {
    logger: createLogger('silent'),
    tokens: () => tokens,
    clickhouse,
  })
  t.teardown(() => cached.close())
  const ask = () =>
    cached.inject({
      method: 'GET',
      url: '/v1/summary?from=2025-05-01T00:00:00Z&to=2025-05-02T00:00:00Z',
      headers: { authorization: `Bearer ${TOKENS.analyst}` },
    })
  t.match((await ask()).json(), { events: 0 })
  await store.events.insert([event('2025-05-01T01:00:00.000Z', 'energy', 5)], {
    topic: 'fixture',
    partition: 0,
    firstOffset: '7',
    lastOffset: '7',
  })
  t.match((await ask()).json(), { events: 0 }, 'the cached answer')
  t.match(
    (await get('/v1/summary?from=2025-05-01T00:00:00Z&to=2025-05-02T00:00:00Z')).json(),
    { events: 5 },
    'without the cache, the new data',
  )
})

t.test('the OpenAPI document validates and the docs page lists every endpoint', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  const result = await validateOpenApi(doc)
  t.ok(result.valid, JSON.stringify(result.errors ?? []).slice(0, 500))
  t.same(Object.keys(doc.paths).sort(), ['/v1/events', '/v1/matrix', '/v1/summary', '/v1/timeseries', '/v1/top'])
  const page = await app.inject({ method: 'GET', url: '/docs' })
  t.match(page.headers['content-type'], /text\/html/)
  for (const path of Object.keys(doc.paths)) t.match(page.body, `GET ${path}`)
  t.match(page.body, /Example: GET \/v1\/top\?from=/)
})
