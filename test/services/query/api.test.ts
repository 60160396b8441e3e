import t from 'tap'
import { createClickHouse, migrate } from '../../../services/adapters/clickhouse.js'
import { createLogger } from '../../../services/logger.js'
import { buildQueryApi } from '../../../services/query/api.js'
import { applyRetention } from '../../../services/retention.js'
import { ClickHouseSink, type OffsetEvent } from '../../../services/sinks/clickhouse.js'
import { TokenRegistry } from '../../../services/tokens.js'
import type { CanonicalEvent } from '../../../schemas/event.js'
import { testConfig, TOKENS } from '../../helpers/stack.js'

const config = testConfig({ QALQAN_QUERY_MAX_RANGE_DAYS: '7' })
const clickhouse = await createClickHouse(config)
await migrate(clickhouse)
await applyRetention(clickhouse, config.retentionDays)
const tokens = TokenRegistry.fromFile(config.tokensFile ?? '')
const app = buildQueryApi(config, { logger: createLogger('silent'), tokens: () => tokens, clickhouse })
t.teardown(async () => {
  await app.close()
  await clickhouse.close()
})

// Raw events, as the worker writes them; the materialized views make the aggregates.
const ORGS = { government: ['Test E-Gov Astana', 'KZ-71'], finance: ['Test Bank Almaty', 'KZ-75'], energy: ['Test Refinery Atyrau', 'KZ-23'] } as const
let serial = 0
const event = (occurred_at: string, sector: keyof typeof ORGS, count: number, category: CanonicalEvent['category'] = 'scan'): OffsetEvent => ({
  offset: String(serial),
  event: {
    v: 1,
    event_id: `00000000-0000-4000-8000-${String(++serial).padStart(12, '0')}`,
    occurred_at,
    received_at: occurred_at,
    sensor_id: 'fixture',
    sensor_type: 'ids',
    category,
    severity: 2,
    signature: 'fixture',
    src_ip: `203.0.113.${serial}`,
    src_country: '',
    src_scope: 'reserved',
    org: ORGS[sector][0],
    sector,
    region: ORGS[sector][1],
    count,
  },
})
const sink = new ClickHouseSink(clickhouse)
await sink.writeEvents(
  [
    event('2025-03-01T03:15:10.000Z', 'government', 4),
    event('2025-03-01T03:15:50.000Z', 'government', 6, 'exploit'),
    event('2025-03-01T03:16:00.000Z', 'finance', 7),
    event('2025-03-02T00:00:00.000Z', 'energy', 1),
  ],
  { topic: 'fixture', partition: 0, firstOffset: '0', lastOffset: '3' },
)

function get(query: string, token: string = TOKENS.analyst) {
  return app.inject({ method: 'GET', url: `/v1/aggregates?${query}`, headers: { authorization: `Bearer ${token}` } })
}

t.test('counts per minute, sector and region within the range, summed over the other keys', async (t) => {
  const res = await get('from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z')
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    from: '2025-03-01T00:00:00.000Z',
    to: '2025-03-02T00:00:00.000Z',
    truncated: false,
    rows: [
      { window_start: '2025-03-01T03:15:00Z', sector: 'government', region: 'KZ-71', events: 10 },
      { window_start: '2025-03-01T03:16:00Z', sector: 'finance', region: 'KZ-75', events: 7 },
    ],
  })
})

t.test('filters by sector and region, and times with offsets', async (t) => {
  const bySector = await get('from=2025-03-01T08:00:00%2B05:00&to=2025-03-02T05:00:01%2B05:00&sector=energy')
  t.same(bySector.json().rows, [{ window_start: '2025-03-02T00:00:00Z', sector: 'energy', region: 'KZ-23', events: 1 }])
  const byRegion = await get('from=2025-03-01T00:00:00Z&to=2025-03-03T00:00:00Z&region=KZ-75')
  t.same(byRegion.json().rows.map((r: { events: number }) => r.events), [7])
})

t.test('wrong roles and missing tokens', async (t) => {
  t.equal((await get('from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z', TOKENS.astana)).statusCode, 403)
  const none = await app.inject({ method: 'GET', url: '/v1/aggregates?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z' })
  t.equal(none.statusCode, 401)
  t.match(none.json(), { error: 'QLQ_ERR_UNAUTHORIZED' })
})

t.test('bad parameters get a 400 naming them', async (t) => {
  const cases: [string, RegExp][] = [
    ['to=2025-03-02T00:00:00Z', /from: /],
    ['from=yesterday&to=2025-03-02T00:00:00Z', /from: must be an ISO 8601 time/],
    ['from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z', /from must be before to/],
    ['from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z', /longer than 7 days \(QALQAN_QUERY_MAX_RANGE_DAYS\)/],
    ['from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z&sector=banking', /sector: /],
    ['from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z&region=KZ-AST', /region: /],
    ['from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z&limit=5', /unknown field\(s\) "limit"/],
    ['from=2025-03-01T00:00:00Z&from=2025-03-01T01:00:00Z&to=2025-03-02T00:00:00Z', /from: /],
  ]
  for (const [query, message] of cases) {
    const res = await get(query)
    t.equal(res.statusCode, 400, query)
    t.match(res.json(), { error: 'QLQ_ERR_INVALID_QUERY', message }, query)
  }
})

t.test('SQL injection attempts in every parameter are refused, and the table is intact', async (t) => {
  const attacks = [
    "government' OR '1'='1",
    "x'); DROP TABLE attacks_1m; --",
    'KZ-71} OR 1=1 --',
    '{sector:String}',
    '\\\' UNION SELECT * FROM system.users --',
  ]
  for (const attack of attacks) {
    const value = encodeURIComponent(attack)
    for (const query of [
      `from=${value}&to=2025-03-02T00:00:00Z`,
      `from=2025-03-01T00:00:00Z&to=${value}`,
      `from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z&sector=${value}`,
      `from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z&region=${value}`,
    ]) {
      t.equal((await get(query)).statusCode, 400, query)
    }
  }
  const after = await get('from=2025-03-01T00:00:00Z&to=2025-03-03T00:00:00Z')
  t.equal(after.json().rows.length, 3, 'all fixture rows still there')
})
