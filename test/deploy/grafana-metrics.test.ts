import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { METRIC_NAMES, Metrics } from '../../services/metrics.js'
import { PROJECT_ROOT } from '../../services/paths.js'

// The dashboards of deploy/grafana/dashboards/metrics read Qalqan's Prometheus metrics, from a
// Prometheus data source the operator picks ($datasource); test/deploy/grafana.test.ts checks the
// ClickHouse dashboards beside them. No Prometheus runs here: the queries are checked against the
// metrics as /metrics exposes them.

const DASHBOARDS_DIR = join(PROJECT_ROOT, 'deploy', 'grafana', 'dashboards')
const METRICS_DIR = join(DASHBOARDS_DIR, 'metrics')
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' }

interface Target {
  refId: string
  datasource?: { type?: string; uid?: string }
  expr?: string
  legendFormat?: string
}
interface Panel {
  id: number
  type: string
  title: string
  description?: string
  datasource?: { type?: string; uid?: string }
  gridPos: { x: number; y: number; w: number; h: number }
  targets?: Target[]
  fieldConfig?: { defaults?: { unit?: string } }
}
interface Dashboard {
  uid: string
  title: string
  id: null | number
  schemaVersion: number
  tags: string[]
  panels: Panel[]
  templating: { list: { type: string; name: string; query: string }[] }
}

const read = (dir: string) =>
  readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => [file, JSON.parse(readFileSync(join(dir, file), 'utf8')) as Dashboard] as const)
const DASHBOARDS = read(METRICS_DIR)

/** Each series name /metrics exposes, with its labels, once every per-sensor metric has a sample. */
async function exposedSeries(): Promise<Map<string, Set<string>>> {
  const metrics = new Metrics()
  metrics.sensorClockSkew('s', [1])
  metrics.attributionRefused('s')
  metrics.sensorSeen('s', new Date(0))
  const series = new Map<string, Set<string>>()
  for (const line of (await metrics.render()).split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line)
    if (match === null) continue
    const labels = series.get(match[1] ?? '') ?? new Set<string>()
    for (const [, label] of (match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="/g)) labels.add(label ?? '')
    series.set(match[1] ?? '', labels)
  }
  return series
}

t.test('the Prometheus dashboards are there, with uids and titles of their own', async (t) => {
  t.same(
    DASHBOARDS.map(([file]) => file),
    ['collectors.json'],
  )
  const all = [...read(DASHBOARDS_DIR), ...DASHBOARDS].map(([, dashboard]) => dashboard)
  t.equal(new Set(all.map((d) => d.uid)).size, all.length, 'no uid of another dashboard')
  t.equal(new Set(all.map((d) => d.title)).size, all.length, 'no title of another dashboard')
})

for (const [file, dashboard] of DASHBOARDS) {
  t.test(`${file}: structure, and queries of metrics that exist`, async (t) => {
    t.ok(dashboard.schemaVersion >= 39, 'schemaVersion 39 or newer')
    t.equal(dashboard.id, null, 'no database id in a provisioned dashboard')
    t.ok(dashboard.tags.includes('qalqan'))
    t.same(
      dashboard.templating.list.map(({ type, name, query }) => ({ type, name, query })),
      [{ type: 'datasource', name: 'datasource', query: 'prometheus' }],
      'the operator picks the Prometheus data source',
    )
    t.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, 'panel ids are unique')
    t.equal(new Set(dashboard.panels.map((p) => p.title)).size, dashboard.panels.length, 'panel titles are unique')
    const cells = new Map<string, string>()
    for (const { title, gridPos: g } of dashboard.panels) {
      t.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${title} fits the grid`)
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const other = cells.get(`${x},${y}`)
          if (other !== undefined) t.fail(`${title} overlaps ${other}`)
          cells.set(`${x},${y}`, title)
        }
      }
    }

    const series = await exposedSeries()
    const catalogue = new Set<string>(METRIC_NAMES)
    for (const panel of dashboard.panels) {
      const where = `"${panel.title}"`
      t.same(panel.datasource, DATASOURCE, `${where}: the picked data source`)
      t.ok((panel.description ?? '').includes('What to do:'), `${where}: tells the operator what to do`)
      t.equal(panel.targets?.length, 1, `${where}: one query`)
      for (const target of panel.targets ?? []) {
        t.same(target.datasource, DATASOURCE, `${where}: the query's data source`)
        const expr = target.expr ?? ''
        t.ok(expr.includes('[$__rate_interval]'), `${where}: rates over Grafana's rate interval`)
        let depth = 0
        for (const c of expr) {
          depth += c === '(' ? 1 : c === ')' ? -1 : 0
          if (depth < 0) break
        }
        t.equal(depth, 0, `${where}: balanced parentheses`)
        const names = [...new Set(expr.match(/\bqalqan_[a-z0-9_]+/g) ?? [])]
        t.ok(names.length > 0, `${where}: reads a Qalqan metric`)
        const labels = new Set<string>()
        for (const name of names) {
          const family = name.replace(/_(bucket|sum|count)$/, '')
          t.ok(catalogue.has(name) || catalogue.has(family), `${where}: ${name} is in the catalogue`)
          t.ok(series.has(name), `${where}: ${name} is a series /metrics exposes`)
          for (const label of series.get(name) ?? []) labels.add(label)
        }
        const used = [...expr.matchAll(/\b(?:by|on|without|ignoring)\s*\(([^)]*)\)/g)].flatMap(([, list]) =>
          (list ?? '').split(',').map((label) => label.trim()),
        )
        const legend = [...(target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map(([, label]) => label ?? '')
        for (const label of [...used, ...legend])
          t.ok(labels.has(label), `${where}: ${label} is a label of what it reads`)
      }
    }
  })
}

t.test('"Sensor clock skew": the signed median per sensor, the ten furthest from zero', async (t) => {
  const panel = DASHBOARDS.find(([file]) => file === 'collectors.json')?.[1].panels.find(
    (p) => p.title === 'Sensor clock skew',
  )
  if (panel === undefined) throw new Error('collectors.json has no "Sensor clock skew" panel')
  const expr = (panel.targets?.[0]?.expr ?? '').replace(/\s+/g, ' ')
  const median =
    'histogram_quantile(0.5, sum by (sensor, le) (rate(qalqan_sensor_clock_skew_seconds_bucket[$__rate_interval])))'
  t.equal(expr, `${median} and on (sensor) topk(10, abs(${median}))`, 'the sign stays: only the ranking is by |skew|')
  t.equal(panel.targets?.[0]?.legendFormat, '{{sensor}}')
  t.equal(panel.fieldConfig?.defaults?.unit, 's')
  for (const advice of ['time_zone', 'NTP', 'QALQAN_WORKER_MAX_FUTURE_SECONDS', 'ahead', 'behind'])
    t.match(panel.description, advice, `the description speaks of ${advice}`)
})

t.test('the provider reads the folder of these dashboards: it walks the mounted one', async (t) => {
  const compose = readFileSync(join(PROJECT_ROOT, 'deploy', 'compose.yaml'), 'utf8')
  t.match(compose, /- \.\/grafana\/dashboards:\/var\/lib\/grafana\/dashboards:ro/, 'the parent folder is mounted')
  const provider = readFileSync(
    join(PROJECT_ROOT, 'deploy', 'grafana', 'provisioning', 'dashboards', 'qalqan.yaml'),
    'utf8',
  )
  t.match(provider, /path: \/var\/lib\/grafana\/dashboards\n/)
})
