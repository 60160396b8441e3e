import t, { type Test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { CanonicalEvent } from '../../schemas/event.js'
import { REGIONS, type RegionCode } from '../../schemas/regions.js'
import { SECTORS, type Sector } from '../../schemas/sectors.js'
import { createClickHouse } from '../../services/clickhouse/client.js'
import { migrate } from '../../services/clickhouse/migrate.js'
import { PROJECT_ROOT } from '../../services/paths.js'
import { applyRetention } from '../../services/clickhouse/retention.js'
import { ClickHouseEventStore } from '../../services/clickhouse/events.js'
import {
  expandQuery,
  macroCalls,
  MACROS,
  portabilityProblems,
  variableReferences,
  type QueryContext,
  type VariableValue,
} from '../helpers/grafana-macros.js'
import { testConfig } from '../helpers/stack.js'

const GRAFANA = join(PROJECT_ROOT, 'deploy', 'grafana')
const DATASOURCE = { type: 'grafana-clickhouse-datasource', uid: 'qalqan-clickhouse' }

// The shape of the dashboard JSON that this test reads.
interface Target {
  refId: string
  datasource?: { type?: string; uid?: string }
  editorType?: string
  queryType?: string
  format?: number
  rawSql?: string
}
interface Panel {
  id: number
  type: string
  title: string
  description?: string
  datasource?: { type?: string; uid?: string }
  gridPos: { x: number; y: number; w: number; h: number }
  targets?: Target[]
  interval?: string
  timeFrom?: string
  panels?: Panel[]
  transformations?: { id: string; options: Record<string, string> }[]
  options?: { xField?: string; layers?: GeomapLayer[] }
  fieldConfig?: { defaults?: { displayName?: string } }
}
/** A Geomap layer: where each row's point comes from. */
interface GeomapLayer {
  type: string
  location: { mode: string; lookup?: string; gazetteer?: string; latitude?: string; longitude?: string }
  config?: { style?: { size?: { field?: string }; color?: { field?: string }; text?: { field?: string } } }
}
interface Variable {
  type: string
  name: string
  query: string
  current: { text: string; value: string }
  options: { text: string; value: string }[]
}
interface Dashboard {
  uid: string
  title: string
  id: null | number
  schemaVersion: number
  tags: string[]
  panels: Panel[]
  templating: { list: Variable[] }
}

const DASHBOARD_FILES = readdirSync(join(GRAFANA, 'dashboards'))
  .filter((file) => file.endsWith('.json'))
  .sort()
const DASHBOARDS = new Map(
  DASHBOARD_FILES.map((file) => [
    file,
    JSON.parse(readFileSync(join(GRAFANA, 'dashboards', file), 'utf8')) as Dashboard,
  ]),
)

/** The region centres that the region map's SQL carries: Grafana's gazetteer format (key, name, latitude, longitude). */
interface RegionCentre {
  key: string
  name: string
  latitude: number
  longitude: number
}
const GAZETTEER: RegionCentre[] = JSON.parse(readFileSync(join(GRAFANA, 'gazetteer', 'kz-regions.json'), 'utf8'))
const REGION_CENTRES = new Map(GAZETTEER.map((centre) => [centre.key, centre]))

/** Every panel, those inside collapsed rows too. */
function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])])
}
const queryPanels = (dashboard: Dashboard) => allPanels(dashboard).filter((panel) => panel.type !== 'row')

const PANEL_TYPES = new Set(['stat', 'timeseries', 'table', 'barchart', 'piechart', 'heatmap', 'geomap'])
const TIME_FILTERS = new Set(['timeFilter', 'fromTime', 'toTime'])

function durationMs(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text)
  if (m === null) throw new Error(`not a duration: ${text}`)
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd']
}

// --- provisioning -----------------------------------------------------------------------------

t.test(
  'the data source provisioning parses and names the v4 ClickHouse plugin, over HTTPS, from the environment',
  async (t) => {
    const file = readFileSync(join(GRAFANA, 'provisioning', 'datasources', 'clickhouse.yaml'), 'utf8')
    const doc = parseYaml(file) as { apiVersion: number; datasources: Record<string, unknown>[] }
    t.equal(doc.apiVersion, 1)
    t.equal(doc.datasources.length, 1)
    t.match(doc.datasources[0], {
      uid: DATASOURCE.uid,
      type: DATASOURCE.type,
      access: 'proxy',
      jsonData: {
        host: '${CLICKHOUSE_HOST}',
        port: '${CLICKHOUSE_PORT}',
        protocol: 'http',
        secure: true,
        tlsAuthWithCACert: true,
        defaultDatabase: '${CLICKHOUSE_DATABASE}',
        username: '${CLICKHOUSE_USER}',
      },
      secureJsonData: { password: '${CLICKHOUSE_PASSWORD}', tlsCACert: /^\$__file\{\/run\/secrets\/[\w-]+\}$/ },
    })
    // Grafana expands $NAME and ${NAME} in provisioning files (and $__file{path} to the file's text);
    // every name used is documented at the top.
    const names = new Set(
      [
        ...file
          .replace(/^#.*$/gm, '')
          .replace(/\$__file\{[^}]*\}/g, '')
          .matchAll(/\$\{?(\w+)\}?/g),
      ].map((m) => m[1]),
    )
    for (const name of names) t.match(file, new RegExp(`^#\\s+${name}\\s`, 'm'), `${name} is documented`)
    t.same([...names].sort(), [
      'CLICKHOUSE_DATABASE',
      'CLICKHOUSE_HOST',
      'CLICKHOUSE_PASSWORD',
      'CLICKHOUSE_PORT',
      'CLICKHOUSE_USER',
    ])
  },
)

t.test('the dashboard provisioning parses and reads the mounted folder', async (t) => {
  const doc = parseYaml(readFileSync(join(GRAFANA, 'provisioning', 'dashboards', 'qalqan.yaml'), 'utf8')) as {
    apiVersion: number
    providers: Record<string, unknown>[]
  }
  t.equal(doc.apiVersion, 1)
  t.equal(doc.providers.length, 1)
  t.match(doc.providers[0], { type: 'file', options: { path: '/var/lib/grafana/dashboards' } })
})

// --- structure --------------------------------------------------------------------------------

t.test('the three dashboards are there, with unique uids and titles', async (t) => {
  t.same(DASHBOARD_FILES, ['national-overview.json', 'region.json', 'sector.json'])
  const dashboards = [...DASHBOARDS.values()]
  t.equal(new Set(dashboards.map((d) => d.uid)).size, dashboards.length)
  t.equal(new Set(dashboards.map((d) => d.title)).size, dashboards.length)
})

for (const [file, dashboard] of DASHBOARDS) {
  t.test(`${file}: structure`, async (t) => {
    t.ok(dashboard.schemaVersion >= 39, 'schemaVersion 39 or newer')
    t.equal(dashboard.id, null, 'no database id in a provisioned dashboard')
    t.ok(dashboard.tags.includes('qalqan'))
    const panels = allPanels(dashboard)
    t.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are unique')
    t.equal(new Set(panels.map((p) => p.title)).size, panels.length, 'panel titles are unique')

    // The grid is 24 columns wide and panels do not overlap.
    const cells = new Map<string, string>()
    for (const { title, gridPos: g } of panels) {
      t.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${title} fits the grid`)
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const other = cells.get(`${x},${y}`)
          if (other !== undefined) t.fail(`${title} overlaps ${other}`)
          cells.set(`${x},${y}`, title)
        }
      }
    }

    const defined = new Set(dashboard.templating.list.map((v) => v.name))
    const used = new Set<string>()
    for (const panel of queryPanels(dashboard)) {
      const where = `${file} "${panel.title}"`
      t.ok(PANEL_TYPES.has(panel.type), `${where}: a known panel type`)
      t.same(panel.datasource, DATASOURCE, `${where}: the panel's data source`)
      t.ok((panel.description ?? '').length > 0, `${where}: says what it shows and which table it reads`)
      t.equal(panel.targets?.length, 1, `${where}: one query, which the run below checks`)
      const timeseries = panel.type === 'timeseries'
      for (const target of panel.targets ?? []) {
        t.same(target.datasource, DATASOURCE, `${where}: the query's data source`)
        t.equal(target.editorType, 'sql', `${where}: SQL editor`)
        t.equal(target.queryType, timeseries ? 'timeseries' : 'table', `${where}: query type`)
        t.equal(target.format, timeseries ? 0 : 1, `${where}: format (0 time series, 1 table)`)
        const sql = target.rawSql ?? ''
        t.same(portabilityProblems(sql), [], `${where}: expands the same under every release of the macro parser`)
        const macros = macroCalls(sql).map((call) => call.name)
        t.ok(
          macros.some((name) => TIME_FILTERS.has(name)),
          `${where}: filters on the dashboard's time range`,
        )
        for (const name of macros)
          t.ok(MACROS[name] !== undefined, `${where}: $__${name} is a macro the expander implements`)
        if (timeseries) {
          t.ok(macros.includes('timeInterval'), `${where}: buckets by $__timeInterval`)
          // A bucket cannot be finer than the windows of the table read.
          const table = /FROM (attacks_1[mhd])/.exec(sql)?.[1]
          const windowMs =
            { attacks_1m: 60_000, attacks_1h: 3_600_000, attacks_1d: 86_400_000 }[table ?? 'attacks_1m'] ?? Infinity
          t.ok(
            durationMs(panel.interval ?? '0s') >= windowMs,
            `${where}: min interval ${panel.interval} covers ${table}'s windows`,
          )
        }
        for (const ref of variableReferences(sql)) {
          if (ref.name.startsWith('__')) continue
          t.equal(ref.format, 'sqlstring', `${where}: ${ref.text} is quoted as an SQL string`)
        }
      }
      for (const text of [
        panel.title,
        panel.description ?? '',
        ...(panel.targets ?? []).map((target) => target.rawSql ?? ''),
      ]) {
        for (const ref of variableReferences(text)) {
          if (ref.name.startsWith('__')) continue
          used.add(ref.name)
          t.ok(defined.has(ref.name), `${where}: ${ref.text} is a variable of the dashboard`)
        }
      }
    }
    for (const name of defined) t.ok(used.has(name), `$${name} is used`)
  })
}

/** Grafana's reading of a custom variable's query: `text : value` or `value`, comma-separated. */
function customOptions(query: string): { text: string; value: string }[] {
  return (query.match(/(?:\\,|[^,])+/g) ?? []).map((item) => {
    const text = item.replace(/\\,/g, ',')
    const m = /^\s*(.+)\s:\s(.+)$/.exec(text)
    return m === null
      ? { text: text.trim(), value: text.trim() }
      : { text: (m[1] ?? '').trim(), value: (m[2] ?? '').trim() }
  })
}

t.test('the sector and region variables list schemas/sectors.ts and schemas/regions.ts', async (t) => {
  const variable = (file: string, name: string) => {
    const found = DASHBOARDS.get(file)?.templating.list.find((v) => v.name === name)
    if (found === undefined) throw new Error(`${file} has no variable ${name}`)
    return found
  }
  const expected = {
    sector: SECTORS.map((sector) => ({ text: sector, value: sector })),
    region: Object.entries(REGIONS).map(([code, name]) => ({ text: name, value: code })),
  }
  for (const [file, name] of [
    ['sector.json', 'sector'],
    ['region.json', 'region'],
  ] as const) {
    const v = variable(file, name)
    t.equal(v.type, 'custom')
    t.same(customOptions(v.query), expected[name], `${name}: what Grafana reads from the query`)
    t.same(
      v.options.map(({ text, value }) => ({ text, value })),
      expected[name],
      `${name}: the saved options`,
    )
    t.ok(
      v.options.some((o) => o.value === v.current.value && o.text === v.current.text),
      `${name}: the current value is an option`,
    )
  }
})

t.test('every region-name mapping in the SQL is schemas/regions.ts', async (t) => {
  const codes = `[${Object.keys(REGIONS)
    .map((code) => `'${code}'`)
    .join(', ')}]`
  const names = `[${Object.values(REGIONS)
    .map((name) => `'${name}'`)
    .join(', ')}]`
  let mappings = 0
  for (const [file, dashboard] of DASHBOARDS) {
    for (const panel of queryPanels(dashboard)) {
      for (const m of (panel.targets?.[0]?.rawSql ?? '').matchAll(
        /transform\(region, (\[[^\]]*\]), (\[[^\]]*\]), region\)/g,
      )) {
        mappings++
        t.equal(m[1], codes, `${file} "${panel.title}": codes`)
        t.equal(m[2], names, `${file} "${panel.title}": names`)
      }
    }
  }
  t.ok(mappings >= 6)
})

const KAZAKHSTAN = { south: 40.5, north: 55.5, west: 46.4, east: 87.4 }
const inKazakhstan = (latitude: number, longitude: number) =>
  latitude >= KAZAKHSTAN.south &&
  latitude <= KAZAKHSTAN.north &&
  longitude >= KAZAKHSTAN.west &&
  longitude <= KAZAKHSTAN.east

t.test(
  'the region centres list schemas/regions.ts, each inside Kazakhstan, and the SQL carries them unchanged',
  async (t) => {
    t.same(
      GAZETTEER.map(({ key, name }) => [key, name]),
      Object.entries(REGIONS),
      'every region once, by its ISO 3166-2:KZ code and name (Abai, Jetisu and Ulytau included)',
    )
    for (const { key, latitude, longitude } of GAZETTEER)
      t.ok(inKazakhstan(latitude, longitude), `${key}: ${latitude}, ${longitude} lies in Kazakhstan`)
    t.equal(
      new Set(GAZETTEER.map((c) => `${c.latitude},${c.longitude}`)).size,
      GAZETTEER.length,
      'no two share a point',
    )
    const codes = `[${GAZETTEER.map((c) => `'${c.key}'`).join(', ')}]`
    const numbers = (key: 'latitude' | 'longitude') => `[${GAZETTEER.map((c) => String(c[key])).join(', ')}]`
    let lookups = 0
    for (const [file, dashboard] of DASHBOARDS) {
      for (const panel of queryPanels(dashboard)) {
        for (const m of (panel.targets?.[0]?.rawSql ?? '').matchAll(
          /transform\(region, (\[[^\]]*\]), (\[[^\]]*\]), nan\) AS (latitude|longitude)/g,
        )) {
          lookups++
          t.equal(m[1], codes, `${file} "${panel.title}": ${m[3]} codes`)
          t.equal(m[2], numbers(m[3] as 'latitude' | 'longitude'), `${file} "${panel.title}": ${m[3]} values`)
        }
      }
    }
    t.equal(lookups, 2, 'the region map looks up both coordinates')
  },
)

t.test('the maps: a country map by gazetteer lookup and a region map by coordinates', async (t) => {
  const maps = queryPanels(DASHBOARDS.get('national-overview.json') as Dashboard).filter((p) => p.type === 'geomap')
  t.same(
    maps.map((panel) => panel.options?.layers?.map((layer) => [layer.type, layer.location])),
    [
      [['markers', { mode: 'lookup', lookup: 'country', gazetteer: 'public/gazetteer/countries.json' }]],
      [['markers', { mode: 'coords', latitude: 'latitude', longitude: 'longitude' }]],
    ],
  )
})

/** What a Geomap layer reads must be columns, with values its location mode can place. */
function checkGeomapLayer(t: Test, layer: GeomapLayer, rows: Row[]): void {
  const columns = new Set(rows.flatMap((row) => Object.keys(row)))
  const { lookup, latitude, longitude } = layer.location
  const style = layer.config?.style
  for (const field of [lookup, latitude, longitude, style?.size?.field, style?.color?.field, style?.text?.field]) {
    if (field !== undefined) t.ok(columns.has(field), `layer "${layer.type}": ${field} is a column`)
  }
  if (layer.location.mode === 'lookup' && lookup !== undefined) {
    // The countries gazetteer is keyed by ISO 3166-1 alpha-2 codes.
    for (const row of rows) t.match(row[lookup], /^[A-Z]{2}$/, `${row[lookup]} is an alpha-2 code`)
  }
  if (layer.location.mode === 'coords' && latitude !== undefined && longitude !== undefined) {
    for (const row of rows)
      t.ok(
        inKazakhstan(Number(row[latitude]), Number(row[longitude])),
        `${JSON.stringify(row)} is placed in Kazakhstan`,
      )
  }
}

// --- every panel's SQL against the embedded engine ------------------------------------------

interface FixtureEvent {
  at: string
  sector: Sector
  region: RegionCode
  org: string
  category: CanonicalEvent['category']
  severity: number
  country: string
  src: string
  dst: string
  signature: string
  count: number
}

const NOW = new Date('2025-03-03T00:00:00.000Z')
const FROM = new Date('2025-03-01T00:00:00.000Z')

// prettier-ignore
const FIXTURE: FixtureEvent[] = (
  [
    // At the start of the range: counted.
    [
      '2025-03-01T00:00:00.000Z',
      'education',
      'KZ-35',
      'Test University Karaganda',
      'phishing',
      1,
      'KZ',
      '203.0.113.9',
      '10.35.0.1',
      'Credential phishing page',
      2,
    ],
    [
      '2025-03-01T03:15:10.000Z',
      'government',
      'KZ-71',
      'Test E-Gov Astana',
      'scan',
      2,
      'CN',
      '203.0.113.1',
      '10.71.0.1',
      'ET SCAN Nmap',
      30,
    ],
    [
      '2025-03-01T03:15:40.000Z',
      'government',
      'KZ-71',
      'Test E-Gov Astana',
      'scan',
      2,
      'CN',
      '203.0.113.1',
      '10.71.0.2',
      'ET SCAN Nmap',
      10,
    ],
    [
      '2025-03-01T03:16:00.000Z',
      'government',
      'KZ-71',
      'Test E-Gov Astana',
      'bruteforce',
      3,
      'RU',
      '203.0.113.2',
      '10.71.0.1',
      'SSH login brute force',
      25,
    ],
    [
      '2025-03-01T12:00:00.000Z',
      'government',
      'KZ-75',
      'Test Akimat Almaty',
      'exploit',
      4,
      'US',
      '203.0.113.3',
      '10.75.0.1',
      'PAN-OS GlobalProtect command injection',
      5,
    ],
    [
      '2025-03-02T08:30:00.000Z',
      'finance',
      'KZ-75',
      'Test Bank Almaty',
      'web_attack',
      3,
      'CN',
      '203.0.113.1',
      '10.75.1.1',
      'SQL injection attempt',
      12,
    ],
    // A private source (no country) and no target address.
    [
      '2025-03-02T08:31:00.000Z',
      'finance',
      'KZ-75',
      'Test Bank Almaty',
      'scan',
      1,
      '',
      '192.168.10.7',
      '',
      'ET SCAN Nmap',
      8,
    ],
    [
      '2025-03-02T20:00:00.000Z',
      'energy',
      'KZ-23',
      'Test Refinery Atyrau',
      'malware',
      4,
      'RU',
      '203.0.113.4',
      '10.23.0.1',
      'Trojan dropper download',
      3,
    ],
    [
      '2025-03-02T23:59:59.500Z',
      'energy',
      'KZ-23',
      'Test Refinery Atyrau',
      'ddos',
      2,
      'CN',
      '203.0.113.5',
      '10.23.0.1',
      'SYN flood',
      7,
    ],
    // After `to` by half a second: its minute window starts at `to`, which $__timeFilter includes; the raw panels do not count it.
    [
      '2025-03-03T00:00:00.500Z',
      'energy',
      'KZ-23',
      'Test Refinery Atyrau',
      'ddos',
      2,
      'CN',
      '203.0.113.6',
      '10.23.0.1',
      'SYN flood',
      1,
    ],
    // After the range: only its hourly window (starting at `to`) is in the 30-day panel.
    [
      '2025-03-03T00:30:00.000Z',
      'finance',
      'KZ-75',
      'Test Bank Almaty',
      'scan',
      1,
      'CN',
      '203.0.113.7',
      '10.75.1.1',
      'ET SCAN Nmap',
      50,
    ],
    // Before the range, within the last 30 days.
    [
      '2025-02-10T10:00:00.000Z',
      'government',
      'KZ-71',
      'Test E-Gov Astana',
      'scan',
      2,
      'CN',
      '203.0.113.1',
      '10.71.0.1',
      'ET SCAN Nmap',
      100,
    ],
    // Before the last 30 days.
    [
      '2025-01-20T10:00:00.000Z',
      'government',
      'KZ-75',
      'Test Akimat Almaty',
      'scan',
      2,
      'RU',
      '203.0.113.8',
      '10.75.0.1',
      'ET SCAN Nmap',
      1000,
    ],
  ] as const
).map(([at, sector, region, org, category, severity, country, src, dst, signature, count]) => ({
  at,
  sector,
  region,
  org,
  category,
  severity,
  country,
  src,
  dst,
  signature,
  count,
}))

const config = testConfig()
const clickhouse = await createClickHouse(config)
t.teardown(() => clickhouse.close())
await migrate(clickhouse)
await applyRetention(clickhouse, config.retentionDays)
await new ClickHouseEventStore(clickhouse).insert(
  FIXTURE.map((e, i) => ({
    offset: String(i),
    event: {
      v: 1,
      event_id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
      occurred_at: e.at,
      received_at: e.at,
      sensor_id: 'fixture',
      sensor_type: 'ids',
      category: e.category,
      severity: e.severity,
      signature: e.signature,
      src_ip: e.src,
      ...(e.dst === '' ? {} : { dst_ip: e.dst }),
      src_country: e.country,
      src_scope: e.country === '' ? 'private' : 'public',
      org: e.org,
      sector: e.sector,
      region: e.region,
      count: e.count,
    },
  })),
  { topic: 'grafana-fixture', partition: 0, firstOffset: '0', lastOffset: String(FIXTURE.length - 1) },
)

/** The variable values each dashboard is run with, and the events they select. */
const SCOPES: Record<string, { variables: Record<string, VariableValue>; selects: (e: FixtureEvent) => boolean }> = {
  'national-overview.json': { variables: {}, selects: () => true },
  'sector.json': {
    variables: { sector: { value: 'government', text: 'government' } },
    selects: (e) => e.sector === 'government',
  },
  'region.json': { variables: { region: { value: 'KZ-75', text: 'Almaty' } }, selects: (e) => e.region === 'KZ-75' },
}

type Row = Record<string, string | number>

/** Numbers as numbers: 64-bit integers come back as strings from a server, DateTime as Unix seconds here. */
function normalize(row: Record<string, unknown>): Row {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [
      k,
      typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : (v as string | number),
    ]),
  )
}

async function run(sql: string): Promise<Row[]> {
  const result = await clickhouse.query({
    query: sql,
    format: 'JSONEachRow',
    clickhouse_settings: { date_time_output_format: 'unix_timestamp' },
  })
  return (await result.json<Record<string, unknown>>()).map(normalize)
}

/** A panel's run: its range (a panel's relative time override counts back from now), its interval. */
function contextFor(file: string, panel: Panel, intervalMs?: number): QueryContext {
  const from = panel.timeFrom === undefined ? FROM : new Date(NOW.getTime() - durationMs(panel.timeFrom))
  return {
    from,
    to: NOW,
    intervalMs: intervalMs ?? durationMs(panel.interval ?? '1m'),
    variables: SCOPES[file]?.variables ?? {},
  }
}

const ms = (at: string) => Date.parse(at)
const floorTo = (value: number, step: number) => Math.floor(value / step) * step
const regionName = (code: RegionCode) => REGIONS[code]
const severityLevel = (severity: number) => `${severity} ${['', 'low', 'medium', 'high', 'critical'][severity]}`

/**
 * The events a query sees: an aggregate table's windows (of `windowMs`) are in when their start is
 * in [from, to] as $__timeFilter writes it (whole seconds, both ends included); raw events by their
 * own time.
 */
function seen(file: string, ctx: QueryContext, windowMs: number): FixtureEvent[] {
  const from = floorTo(ctx.from.getTime(), 1000)
  const to = floorTo(ctx.to.getTime(), 1000)
  const selects = SCOPES[file]?.selects ?? (() => false)
  return FIXTURE.filter((e) => selects(e) && floorTo(ms(e.at), windowMs) >= from && floorTo(ms(e.at), windowMs) <= to)
}

function sumBy(events: FixtureEvent[], key: (e: FixtureEvent) => string): Map<string, number> {
  const sums = new Map<string, number>()
  for (const e of events) sums.set(key(e), (sums.get(key(e)) ?? 0) + e.count)
  return sums
}
const distinct = (values: string[]) => new Set(values.filter((v) => v !== '')).size
const total = (events: FixtureEvent[]) => events.reduce((sum, e) => sum + e.count, 0)
const byCountDesc = (a: Row, b: Row, key: string) =>
  Number(b['attacks']) - Number(a['attacks']) || String(a[key]).localeCompare(String(b[key]))

interface Expected {
  rows: Row[]
  /** The query's ORDER BY fixes the order of the rows. */
  ordered: boolean
}

/** What each panel must return, computed from the fixture; keyed by panel title. */
function expectedRows(title: string, file: string, ctx: QueryContext): Expected {
  const minute = seen(file, ctx, 60_000)
  const raw = seen(file, ctx, 1)
  const windows = (events: FixtureEvent[], label: string, key: (e: FixtureEvent) => string) => {
    const step = Math.max(Math.trunc(ctx.intervalMs / 1000), 1) * 1000
    return [...sumBy(events, (e) => `${floorTo(ms(e.at), step) / 1000}|${key(e)}`)].map(([k, attacks]) => {
      const [time, value] = k.split('|')
      return { time: Number(time), [label]: value ?? '', attacks }
    })
  }
  const grouped = (events: FixtureEvent[], keys: [string, (e: FixtureEvent) => string][]): Row[] =>
    [...sumBy(events, (e) => keys.map(([, key]) => key(e)).join('|'))].map(([k, attacks]) => {
      const values = k.split('|')
      return { ...Object.fromEntries(keys.map(([name], i) => [name, values[i] ?? ''])), attacks }
    })
  switch (title) {
    case 'Attacks':
      return { rows: [{ attacks: total(minute) }], ordered: true }
    case 'Attacks per minute': {
      const minutes = Math.floor(ctx.to.getTime() / 60_000) - Math.floor(ctx.from.getTime() / 60_000)
      return { rows: [{ attacks_per_minute: total(minute) / Math.max(minutes, 1) }], ordered: true }
    }
    case 'Critical attacks':
      return { rows: [{ critical: total(minute.filter((e) => e.severity === 4)) }], ordered: true }
    case 'Distinct sources':
      return { rows: [{ distinct_sources: distinct(minute.map((e) => e.src)) }], ordered: true }
    case 'Distinct targets':
      return { rows: [{ distinct_targets: distinct(minute.map((e) => e.dst)) }], ordered: true }
    case 'Attacks by sector':
      return { rows: windows(minute, 'sector', (e) => e.sector), ordered: false }
    case 'Attacks by region':
      return { rows: windows(minute, 'region_name', (e) => regionName(e.region)), ordered: false }
    case 'Attacks by sector, last 30 days':
      return { rows: windows(seen(file, ctx, 3_600_000), 'sector', (e) => e.sector), ordered: false }
    case 'Attacks by region, last 30 days':
      return { rows: windows(seen(file, ctx, 3_600_000), 'region_name', (e) => regionName(e.region)), ordered: false }
    case 'Sector × region':
      return {
        rows: grouped(minute, [
          ['sector', (e) => e.sector],
          ['region_name', (e) => regionName(e.region)],
        ]),
        ordered: false,
      }
    case 'Region × category':
      return {
        rows: grouped(minute, [
          ['region_name', (e) => regionName(e.region)],
          ['category', (e) => e.category],
        ]),
        ordered: false,
      }
    case 'Sector × category':
      return {
        rows: grouped(minute, [
          ['sector', (e) => e.sector],
          ['category', (e) => e.category],
        ]),
        ordered: false,
      }
    case 'Top source countries':
      return {
        rows: grouped(minute, [['country', (e) => e.country || 'unknown']])
          .sort((a, b) => byCountDesc(a, b, 'country'))
          .slice(0, 15),
        ordered: true,
      }
    case 'Source countries on the map':
      return {
        rows: grouped(
          minute.filter((e) => e.country !== ''),
          [['country', (e) => e.country]],
        ).sort((a, b) => byCountDesc(a, b, 'country')),
        ordered: true,
      }
    case 'Attacked regions on the map':
      return {
        rows: grouped(minute, [['region', (e) => e.region]])
          .map((row) => {
            const centre = REGION_CENTRES.get(String(row['region']))
            return {
              ...row,
              region_name: regionName(row['region'] as RegionCode),
              latitude: centre?.latitude ?? Number.NaN,
              longitude: centre?.longitude ?? Number.NaN,
            }
          })
          .sort((a, b) => byCountDesc(a, b, 'region')),
        ordered: true,
      }
    case 'Top categories':
      return {
        rows: grouped(minute, [['category', (e) => e.category]]).sort((a, b) => byCountDesc(a, b, 'category')),
        ordered: true,
      }
    case 'Severity':
      return { rows: grouped(minute, [['level', (e) => severityLevel(e.severity)]]), ordered: false }
    case 'Top signatures': {
      const rows = grouped(raw, [
        ['signature', (e) => e.signature],
        ['category', (e) => e.category],
      ]).map((row) => {
        const events = raw.filter((e) => e.signature === row['signature'] && e.category === row['category'])
        return {
          ...row,
          distinct_sources: distinct(events.map((e) => e.src)),
          max_severity: Math.max(...events.map((e) => e.severity)),
        }
      })
      return { rows: rows.sort((a, b) => byCountDesc(a, b, 'signature')).slice(0, 20), ordered: true }
    }
    case 'Most attacked organisations': {
      const rows = grouped(minute, [
        ['org', (e) => e.org],
        ['sector', (e) => e.sector],
        ['region_name', (e) => regionName(e.region)],
      ]).map((row) => ({
        ...row,
        distinct_sources: distinct(minute.filter((e) => e.org === row['org']).map((e) => e.src)),
      }))
      return { rows: rows.sort((a, b) => byCountDesc(a, b, 'org')).slice(0, 20), ordered: true }
    }
    default:
      throw new Error(`no expected rows for a panel titled "${title}": add them to this test`)
  }
}

const sortRows = (rows: Row[]) =>
  [...rows]
    .map((row) => Object.fromEntries(Object.entries(row).sort(([a], [b]) => a.localeCompare(b))))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))

/** Runs a panel's query as the plugin would send it; a failure names the panel. */
async function runPanel(t: Test, file: string, panel: Panel, ctx: QueryContext): Promise<Row[] | undefined> {
  const sql = panel.targets?.[0]?.rawSql ?? ''
  let expanded = ''
  try {
    expanded = expandQuery(sql, ctx)
    return await run(expanded)
  } catch (err) {
    t.fail(`${file} "${panel.title}": ${(err as Error).message}\n${expanded || sql}`)
    return undefined
  }
}

function compareRows(t: Test, actual: Row[], expected: Expected, message: string): void {
  // Floating-point results are compared to 1e-9.
  const round = (rows: Row[]) =>
    rows.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(9)) : v,
        ]),
      ),
    )
  if (expected.ordered) t.same(round(actual), round(expected.rows), message)
  else t.same(sortRows(round(actual)), sortRows(round(expected.rows)), message)
}

for (const [file, dashboard] of DASHBOARDS) {
  t.test(`${file}: every panel's SQL runs against the embedded engine and returns the fixture's numbers`, async (t) => {
    for (const panel of queryPanels(dashboard)) {
      await t.test(panel.title, async (t) => {
        const ctx = contextFor(file, panel)
        const rows = await runPanel(t, file, panel, ctx)
        if (rows === undefined) return
        t.ok(rows.length > 0, 'the fixture gives the panel something to show')
        compareRows(t, rows, expectedRows(panel.title, file, ctx), 'rows')

        // What the panel's options name must be columns of the result.
        const columns = new Set(rows.flatMap((row) => Object.keys(row)))
        for (const transformation of panel.transformations ?? []) {
          for (const [option, field] of Object.entries(transformation.options))
            t.ok(columns.has(field), `${transformation.id}.${option}: ${field} is a column`)
        }
        if (panel.options?.xField !== undefined)
          t.ok(columns.has(panel.options.xField), `xField ${panel.options.xField} is a column`)
        for (const layer of panel.options?.layers ?? []) checkGeomapLayer(t, layer, rows)
        const label = /^\$\{__field\.labels\.(\w+)\}$/.exec(panel.fieldConfig?.defaults?.displayName ?? '')?.[1]
        if (label !== undefined) t.ok(columns.has(label), `the series are named by ${label}, a column`)

        if (panel.type === 'timeseries') {
          const times = rows.map((row) => Number(row['time']))
          t.same(
            times,
            [...times].sort((a, b) => a - b),
            'ordered by time, as the long-to-wide conversion needs',
          )
          // A coarser interval regroups the same events.
          const daily = contextFor(file, panel, 86_400_000)
          const dailyRows = await runPanel(t, file, panel, daily)
          if (dailyRows !== undefined)
            compareRows(t, dailyRows, expectedRows(panel.title, file, daily), 'rows at a one-day interval')
        }
      })
    }
  })
}

t.test('by hand: the fixture numbers that the dashboards show', async (t) => {
  const value = async (file: string, title: string) => {
    const panel = queryPanels(DASHBOARDS.get(file) as Dashboard).find((p) => p.title === title) as Panel
    return (await run(expandQuery(panel.targets?.[0]?.rawSql ?? '', contextFor(file, panel)))).map((row) =>
      Object.values(row),
    )
  }
  // 2 + 30 + 10 + 25 + 5 + 12 + 8 + 3 + 7, and the 1 whose minute window starts at `to`.
  t.same(await value('national-overview.json', 'Attacks'), [[103]])
  t.same(await value('sector.json', 'Attacks'), [[70]])
  t.same(await value('region.json', 'Attacks'), [[25]])
  t.same(await value('national-overview.json', 'Top source countries'), [
    ['CN', 60],
    ['RU', 28],
    ['unknown', 8],
    ['US', 5],
    ['KZ', 2],
  ])
  // The map leaves out the 8 events of a private source: no country to place them in.
  t.same(await value('national-overview.json', 'Source countries on the map'), [
    ['CN', 60],
    ['RU', 28],
    ['US', 5],
    ['KZ', 2],
  ])
  t.same(await value('national-overview.json', 'Attacked regions on the map'), [
    ['KZ-71', 'Astana', 51.1694, 71.4491, 65],
    ['KZ-75', 'Almaty', 43.2389, 76.8897, 25],
    ['KZ-23', 'Atyrau', 47.2, 52.9, 11],
    ['KZ-35', 'Karaganda', 48.3, 74.5, 2],
  ])
  const severity = await value('national-overview.json', 'Severity')
  t.same(severity, [
    ['1 low', 10],
    ['2 medium', 48],
    ['3 high', 37],
    ['4 critical', 8],
  ])
  t.equal(
    severity.reduce((sum, [, n]) => sum + Number(n), 0),
    103,
    'the severity split sums to the total',
  )
  const matrix = await value('national-overview.json', 'Sector × region')
  t.equal(
    matrix.reduce((sum, [, , n]) => sum + Number(n), 0),
    103,
    'the matrix sums to the total',
  )
  t.same(
    matrix.find(([sector, region]) => sector === 'government' && region === 'Almaty'),
    ['government', 'Almaty', 5],
  )
  // The raw events stop at `to`; the long-range panel reaches back 30 days in the hourly table.
  t.same((await value('national-overview.json', 'Top signatures'))[0], ['ET SCAN Nmap', 'scan', 48, 2, 2])
  const month = await value('sector.json', 'Attacks by region, last 30 days')
  t.equal(
    month.reduce((sum, [, , n]) => sum + Number(n), 0),
    170,
    'government, 1 March and 10 February',
  )
})

t.test('a hostile variable value stays one SQL string', async (t) => {
  const panel = queryPanels(DASHBOARDS.get('sector.json') as Dashboard).find((p) => p.title === 'Attacks') as Panel
  const ctx = {
    ...contextFor('sector.json', panel),
    variables: { sector: { value: "government' OR '1'='1", text: 'x' } },
  }
  const sql = expandQuery(panel.targets?.[0]?.rawSql ?? '', ctx)
  t.match(sql, /sector = 'government'' OR ''1''=''1'/)
  t.same(await run(sql), [{ attacks: 0 }])
})
