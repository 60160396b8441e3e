import { Ajv2020 } from 'ajv/dist/2020.js'
import t from 'tap'
import { validate as validateOpenApi } from '../../helpers/openapi.js'
import type { CanonicalEvent } from '../../../schemas/event.js'
import { openClickHouse, type OffsetEvent } from '../../../services/clickhouse/index.js'
import { createLogger } from '../../../services/logger.js'
import { buildQueryApi } from '../../../services/query/api.js'
import { TokenRegistry } from '../../../services/http/tokens.js'
import { fixtureEvent } from '../../helpers/events.js'
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
  const [org, region] = PLACES[sector]
  return fixtureEvent(serial, occurred_at, { sector, org, region }, count, more)
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
    event('2025-03-01T10:00:00.000Z', 'finance', 1, {
      src_ip: '203.0.113.3',
      src_country: 'US',
      signature_id: '2001219',
      mitre_technique: 'T1046',
      src_port: 51234,
      dst_port: 0,
      protocol: 'tcp',
      device: 'fw-ala-01',
      log_source: '/var/log/suricata/eve.json',
      time_source: 'header',
    }),
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
    signature_id: '2001219',
    mitre_technique: 'T1046',
    src_port: 51234,
    dst_port: 0,
    protocol: 'tcp',
    device: 'fw-ala-01',
    log_source: '/var/log/suricata/eve.json',
    time_source: 'header',
  })
  t.equal(first.events[1].time_source, 'event', 'an event whose time is its own says so')
  t.same(
    [first.events[1]].map(({ signature_id, mitre_technique, src_port, dst_port, protocol, device, log_source }) => ({
      signature_id,
      mitre_technique,
      src_port,
      dst_port,
      protocol,
      device,
      log_source,
    })),
    [
      {
        signature_id: '',
        mitre_technique: '',
        src_port: null,
        dst_port: null,
        protocol: '',
        device: '',
        log_source: '',
      },
    ],
    "an optional field the event did not carry reads '' when text, null when a port",
  )
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
  t.match(forged.json(), { error: 'QLQ_ERR_INVALID_CURSOR', message: /cursor/ })
})

t.test('CSV on request, with formulas in attack data defused', async (t) => {
  const csv = await get(`/v1/events?${DAY}&format=csv`)
  t.match(csv.headers['content-type'], /^text\/csv/)
  const lines = csv.body.trim().split('\r\n')
  t.match(lines[0], /^event_id,occurred_at,received_at,sensor_id.*,device,log_source,time_source$/)
  t.ok(
    lines.some((line) => line.endsWith(',fw-ala-01,/var/log/suricata/eve.json,header')),
    'the device, log source and where the time came from',
  )
  t.equal(lines.length, 5)
  const header = (lines[0] ?? '').split(',')
  const cells = (line: string | undefined, names: string[]) =>
    names.map((name) => (line ?? '').split(',')[header.indexOf(name)])
  const optional = ['signature_id', 'mitre_technique', 'src_port', 'dst_port', 'protocol']
  t.same(cells(lines[1], optional), ['2001219', 'T1046', '51234', '0', 'tcp'], 'optional fields the event carried')
  t.same(cells(lines[2], optional), ['', '', '', '', ''], "absent text ('') and absent ports (null) are empty cells")
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

t.test('a range that ends now is never answered from the cache: a dashboard sees new events at once', async (t) => {
  const cached = buildQueryApi(testConfig({ QALQAN_QUERY_CACHE_SECONDS: '60' }), {
    logger: createLogger('silent'),
    tokens: () => tokens,
    clickhouse,
  })
  t.teardown(() => cached.close())
  const to = new Date(Date.now() + 60_000)
  const from = new Date(to.getTime() - 3_600_000)
  const url = `/v1/summary?from=${from.toISOString()}&to=${to.toISOString()}`
  const ask = () => cached.inject({ method: 'GET', url, headers: { authorization: `Bearer ${TOKENS.analyst}` } })
  const before = (await ask()).json().events as number
  await store.events.insert([event(new Date(to.getTime() - 120_000).toISOString(), 'energy', 3)], {
    topic: 'fixture-live',
    partition: 0,
    firstOffset: '1',
    lastOffset: '1',
  })
  t.equal((await ask()).json().events, before + 3, 'the same query right after: the new events are counted')
})

t.test('the OpenAPI document validates and the docs page lists every endpoint', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  const result = await validateOpenApi(doc)
  t.ok(result.valid, JSON.stringify(result.errors ?? []).slice(0, 500))
  t.same(Object.keys(doc.paths).sort(), ['/v1/events', '/v1/matrix', '/v1/summary', '/v1/timeseries', '/v1/top'])
  const events = doc.paths['/v1/events'].get.responses['200'].content['application/json'].schema.properties.events.items
  for (const field of ['device', 'log_source']) {
    t.match(events.properties[field], { type: 'string', description: /''/ }, `/v1/events lists ${field}`)
    t.ok(events.required.includes(field), `${field} is always in an answer`)
  }
  const page = await app.inject({ method: 'GET', url: '/docs' })
  t.match(page.headers['content-type'], /text\/html/)
  for (const path of Object.keys(doc.paths)) t.match(page.body, `GET ${path}`)
  t.match(page.body, /Example: GET \/v1\/top\?from=/)
  t.match(page.body, /<code>n<\/code><\/td><td>how many to rank; a whole number from 1 to 100; default 10<\/td>/)
})

t.test("every answer matches the document's schema of its endpoint", async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  const ajv = new Ajv2020({ strict: false, validateFormats: false })
  ajv.addSchema({ ...doc, $id: 'query' })
  const answers: [string, string][] = [
    ['/v1/summary', DAY],
    ['/v1/summary', 'from=2025-06-01T00:00:00Z&to=2025-06-02T00:00:00Z'],
    ['/v1/timeseries', `${DAY}&step=1m&group_by=sector,severity`],
    ['/v1/top', `${DAY}&by=src_country`],
    ['/v1/top', `${DAY}&by=signature`],
    ['/v1/matrix', DAY],
    ['/v1/events', DAY],
    ['/v1/events', `${DAY}&limit=1`],
  ]
  for (const [path, query] of answers) {
    const res = await get(`${path}?${query}`)
    t.equal(res.statusCode, 200, `${path}?${query}`)
    const validate = ajv.getSchema(
      `query#/paths/${path.replace(/\//g, '~1')}/get/responses/200/content/application~1json/schema`,
    )
    if (validate === undefined) throw new Error(`no answer schema for ${path}`)
    t.ok(validate(res.json()), `${path}?${query}: ${JSON.stringify(validate.errors)}`)
  }
  const events = doc.paths['/v1/events'].get.responses['200'].content['application/json'].schema.properties.events.items
  const answered = (await get(`/v1/events?${DAY}`)).json().events as Record<string, unknown>[]
  t.same(
    events.required.slice().sort(),
    Object.keys(answered[0] ?? {}).sort(),
    'every field an event is answered with is required, and no other',
  )
})

t.test('a hostile cursor gets 400 QLQ_ERR_INVALID_CURSOR telling to restart from the first page', async (t) => {
  const first = (await get(`/v1/events?${DAY}&limit=1`)).json()
  const [ms, id] = JSON.parse(Buffer.from(first.next_cursor, 'base64url').toString('utf8')) as [number, string]
  const b64 = (text: string) => Buffer.from(text).toString('base64url')
  const cursors: [string, string][] = [
    ['spaces', 'not a cursor'],
    ['characters outside base64url', 'abc+/='],
    ['201 characters', 'A'.repeat(201)],
    ['100,000 characters', 'A'.repeat(100_000)],
    ['base64 of no JSON', b64('foo')],
    ['garbage that decodes to bytes', 'ZZZZZZZZZZZZ'],
    ['JSON null', b64('null')],
    ['a JSON object', b64('{"0":1,"1":"x"}')],
    ['__proto__', b64('{"__proto__":{"polluted":true}}')],
    ['a JSON string', b64('"cursor"')],
    ['an empty array', b64('[]')],
    ['one element', b64(`[${ms}]`)],
    ['three elements', b64(JSON.stringify([ms, id, 3]))],
    ['the time as a string', b64(JSON.stringify([String(ms), id]))],
    ['the id as a number', b64(JSON.stringify([ms, 5]))],
    ['booleans', b64('[true,false]')],
    ['nulls', b64('[null,null]')],
    ['a fractional time', b64(JSON.stringify([ms + 0.5, id]))],
    ['a time beyond any date', b64(JSON.stringify([1e20, id]))],
    ['an infinite time', b64(`[1e400,${JSON.stringify(id)}]`)],
    ['an unsafe integer', b64(`[9007199254740993,${JSON.stringify(id)}]`)],
    ['a negative time', b64(JSON.stringify([-1, id]))],
    ['the most negative date', b64(JSON.stringify([-8.64e15, id]))],
    ['a time before from', b64(JSON.stringify([Date.parse('2025-02-28T23:59:59.999Z'), id]))],
    ['a time at to', b64(JSON.stringify([Date.parse('2025-03-02T00:00:00Z'), id]))],
    ['an id of dashes', b64(JSON.stringify([ms, '-'.repeat(36)]))],
    ['an id without dashes', b64(JSON.stringify([ms, id.replace(/-/g, '').padEnd(36, '0')]))],
    ['an id in capitals', b64(JSON.stringify([ms, 'ABCDEFAB-CDEF-4ABC-8DEF-ABCDEFABCDEF']))],
    ['an id with SQL', b64(JSON.stringify([ms, "x' OR 1=1 --"]))],
    ['a very long id', b64(JSON.stringify([ms, 'a'.repeat(120)]))],
  ]
  for (const [what, cursor] of cursors) {
    const res = await get(`/v1/events?${DAY}&limit=1&cursor=${encodeURIComponent(cursor)}`)
    t.equal(res.statusCode, 400, what)
    t.match(
      res.json(),
      {
        error: 'QLQ_ERR_INVALID_CURSOR',
        message: /^cursor: invalid cursor: .*restart from the first page without cursor$/,
        retryable: false,
      },
      what,
    )
  }
  const next = await get(`/v1/events?${DAY}&limit=1&cursor=${first.next_cursor}`)
  t.equal(next.statusCode, 200, 'the real cursor still pages')
  t.match(
    (await get(`/v1/events?${DAY}&limit=1&cursor=${encodeURIComponent('not a cursor')}&from=yesterday`)).json(),
    { error: 'QLQ_ERR_INVALID_QUERY', message: /from: .*cursor: invalid cursor/ },
    'with other wrong parameters, the answer names them all',
  )
})

t.test('a cache bounded in bytes: an answer larger than the bound is answered fresh each time', async (t) => {
  const small = buildQueryApi(testConfig({ QALQAN_QUERY_CACHE_SECONDS: '60', QALQAN_QUERY_CACHE_MAX_BYTES: '100' }), {
    logger: createLogger('silent'),
    tokens: () => tokens,
    clickhouse,
  })
  t.teardown(() => small.close())
  const ask = () =>
    small.inject({
      method: 'GET',
      url: '/v1/summary?from=2025-07-01T00:00:00Z&to=2025-07-02T00:00:00Z',
      headers: { authorization: `Bearer ${TOKENS.analyst}` },
    })
  const before = await ask()
  t.match(before.json(), { events: 0 })
  t.ok(before.body.length > 100, `the answer is larger than the bound: ${before.body.length} bytes`)
  await store.events.insert([event('2025-07-01T01:00:00.000Z', 'energy', 3)], {
    topic: 'fixture',
    partition: 0,
    firstOffset: '20',
    lastOffset: '20',
  })
  t.match((await ask()).json(), { events: 3 }, 'not kept: the new data shows at once')
})

interface DocParam {
  name: string
  required: boolean
  description?: string
  example?: unknown
  schema: {
    type?: string
    enum?: string[]
    minimum?: number
    maximum?: number
    minLength?: number
    maxLength?: number
    pattern?: string
    format?: string
  }
}

/**
 * Values just inside and just outside each bound the schema states, and a few that break any.
 * Times are on `day`, so that a valid one keeps the range valid.
 */
function candidates(schema: DocParam['schema'], example: unknown, day: string): string[] {
  const values = ['', '!', 'x'.repeat(300)]
  if (example !== undefined) values.push(String(example))
  if (schema.type === 'integer' && schema.minimum !== undefined && schema.maximum !== undefined) {
    const { minimum: min, maximum: max } = schema
    values.push(...[min - 1, min, max, max + 1, -1].map(String), `${min}.5`, `0${min}`, `${min}e0`, `+${min}`)
  }
  if (schema.enum !== undefined) {
    const [first = '', last = ''] = [schema.enum[0], schema.enum.at(-1)]
    values.push(first, last, `${first}x`, first.toUpperCase(), ` ${last}`)
  }
  if (schema.maxLength !== undefined) values.push('a'.repeat(schema.maxLength), 'a'.repeat(schema.maxLength + 1))
  if (schema.minLength !== undefined) values.push('a'.repeat(schema.minLength), 'a'.repeat(schema.minLength - 1))
  if (schema.format === 'date-time') {
    values.push(
      `${day}T00:00:00Z`,
      `${day}T05:00:00+05:00`,
      `${day}T00:00:00.123Z`,
      `${day}T00:00:00`,
      `${day}T00:00:00 UTC`,
      day,
      '2025-02-30T00:00:00Z',
      'yesterday',
    )
  }
  return [...new Set(values)]
}

t.test('the OpenAPI document states every bound the API enforces, and the API accepts what it allows', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, { get: { parameters: DocParam[] } }>
  }
  const ajv = new Ajv2020({ strict: false, validateFormats: false })
  const allows = (schema: DocParam['schema'], value: string) => {
    // A query string is text: an integer parameter is the number the text spells, if it spells one.
    const typed = schema.type === 'integer' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value
    return ajv.validate(schema, typed)
  }
  const cursor = (await get(`/v1/events?${DAY}&limit=1`)).json().next_cursor as string
  let checked = 0
  for (const [path, { get: operation }] of Object.entries(doc.paths)) {
    const base: Record<string, string> = {
      from: '2025-03-01T00:00:00Z',
      to: '2025-03-02T00:00:00Z',
      ...(path === '/v1/top' && { by: 'sector' }),
    }
    for (const param of operation.parameters) {
      const { name, schema } = param
      if (param.required) {
        const { [name]: _, ...without } = base
        const res = await get(`${path}?${new URLSearchParams(without)}`)
        t.equal(res.statusCode, 400, `${path}: ${name} is required`)
      }
      const values = candidates(schema, param.example, name === 'to' ? '2025-03-02' : '2025-03-01')
      if (name === 'cursor') values.push(cursor)
      for (const value of values) {
        const res = await get(`${path}?${new URLSearchParams({ ...base, [name]: value })}`)
        const label = `${path} ${name}=${JSON.stringify(value.slice(0, 40))}`
        checked++
        if (name === 'cursor' && allows(schema, value)) {
          // A cursor is opaque: the pattern is all a document can say, so only the real one must pass.
          if (value === cursor) t.equal(res.statusCode, 200, `${label}: a real cursor`)
          else t.equal(res.statusCode, 400, `${label}: well-formed but not a cursor`)
          continue
        }
        if (allows(schema, value)) t.equal(res.statusCode, 200, `${label}: the document allows it`)
        else {
          t.equal(res.statusCode, 400, `${label}: the document refuses it`)
          t.match(res.json().message, new RegExp(`(^|; )${name}: `), `${label}: the message names it`)
        }
      }
    }
    const to = operation.parameters.find((p) => p.name === 'to')
    t.match(to?.description, /must be after from.*at most 7 days after it/, `${path}: the range rule is stated`)
    const range = (from: string, to: string) => get(`${path}?${new URLSearchParams({ ...base, from, to })}`)
    const from = '2025-03-01T00:00:00.000Z'
    t.equal((await range(from, from)).statusCode, 400, `${path}: to equal to from`)
    t.match((await range(from, from)).json().message, /from must be before to/)
    t.equal((await range(from, '2025-03-01T00:00:00.001Z')).statusCode, 200, `${path}: one millisecond`)
    t.equal((await range(from, '2025-03-08T00:00:00.000Z')).statusCode, 200, `${path}: exactly 7 days`)
    t.equal((await range(from, '2025-03-08T00:00:00.001Z')).statusCode, 400, `${path}: past 7 days`)
  }
  t.ok(checked > 200, `${checked} values checked`)
})
