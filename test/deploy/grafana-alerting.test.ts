import t, { type Test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { CanonicalEvent } from '../../schemas/event.js'
import type { RegionCode } from '../../schemas/regions.js'
import type { Sector } from '../../schemas/sectors.js'
import { createClickHouse } from '../../services/clickhouse/client.js'
import { ClickHouseEventStore } from '../../services/clickhouse/events.js'
import { migrate } from '../../services/clickhouse/migrate.js'
import { applyRetention } from '../../services/clickhouse/retention.js'
import { Metrics } from '../../services/metrics.js'
import { PROJECT_ROOT } from '../../services/paths.js'
import { expandQuery, MACROS, macroCalls, portabilityProblems } from '../helpers/grafana-macros.js'
import { testConfig } from '../helpers/stack.js'

// The alert rules of deploy/grafana/provisioning/alerting, read as Grafana's file provisioning reads
// them; each ClickHouse rule's SQL runs against the embedded engine at a time it should fire and at
// one it should not, and the values its reduce and threshold expressions see are checked. No
// Prometheus runs here: the Prometheus rule's metric names and labels are checked against /metrics,
// and its arithmetic on a collector's counters.

const PROVISIONING = join(PROJECT_ROOT, 'deploy', 'grafana', 'provisioning')
const ALERTING = join(PROVISIONING, 'alerting')
const CLICKHOUSE_UID = (
  parseYaml(readFileSync(join(PROVISIONING, 'datasources', 'clickhouse.yaml'), 'utf8')) as {
    datasources: { uid: string }[]
  }
).datasources[0]?.uid
const CLICKHOUSE = { type: 'grafana-clickhouse-datasource', uid: CLICKHOUSE_UID }
const PROMETHEUS = { type: 'prometheus', uid: 'qalqan-prometheus' }
const EXPRESSION = { type: '__expr__', uid: '__expr__' }

// The shape of the provisioning files, as Grafana's AlertRuleGroupV1, contact points and policies.
interface Query {
  refId: string
  relativeTimeRange: { from: number; to: number }
  datasourceUid: string
  model: {
    refId: string
    datasource: { type: string; uid: string }
    // ClickHouse
    editorType?: string
    queryType?: string
    format?: number
    rawSql?: string
    // Prometheus
    expr?: string
    instant?: boolean
    // expressions
    type?: string
    expression?: string
    reducer?: string
    conditions?: { evaluator: { type: string; params: number[] } }[]
  }
}
interface Rule {
  uid: string
  title: string
  condition: string
  data: Query[]
  for: string
  noDataState: string
  execErrState: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}
interface Group {
  orgId: number
  name: string
  folder: string
  interval: string
  rules: Rule[]
}
interface File {
  apiVersion: number
  groups?: Group[]
  contactPoints?: {
    orgId: number
    name: string
    receivers: { uid: string; type: string; settings: Record<string, unknown> }[]
  }[]
  policies?: { orgId: number; receiver: string; group_by?: string[] }[]
}

const FILES = readdirSync(ALERTING)
  .filter((file) => file.endsWith('.yaml'))
  .sort()
  .map((file) => [file, parseYaml(readFileSync(join(ALERTING, file), 'utf8')) as File] as const)
const GROUPS = FILES.flatMap(([, doc]) => doc.groups ?? [])
const RULES = GROUPS.flatMap((group) => group.rules)
const CONTACT_POINTS = FILES.flatMap(([, doc]) => doc.contactPoints ?? [])
const POLICIES = FILES.flatMap(([, doc]) => doc.policies ?? [])

/** Prometheus's duration syntax, which Grafana parses `interval` and `for` with. */
function seconds(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text)
  if (m === null) throw new Error(`not a duration: ${text}`)
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd']
}

const rule = (uid: string): Rule => {
  const found = RULES.find((r) => r.uid === uid)
  if (found === undefined) throw new Error(`no alert rule ${uid} in ${ALERTING}`)
  return found
}
const query = (r: Rule, refId: string): Query => {
  const found = r.data.find((q) => q.refId === refId)
  if (found === undefined) throw new Error(`${r.uid}: no query ${refId}`)
  return found
}

/** The data source query, its reduce and its threshold: the chain condition <- reduce <- query. */
function chain(r: Rule): { source: Query; reduce: Query; threshold: Query } {
  const threshold = query(r, r.condition)
  const reduce = query(r, threshold.model.expression ?? '')
  const source = query(r, reduce.model.expression ?? '')
  return { source, reduce, threshold }
}

// --- structure ---------------------------------------------------------------------------------

t.test('the alerting files: the rules, one contact point and the policy that sends to it', async (t) => {
  t.same(
    FILES.map(([file]) => file),
    ['contact-points.yaml', 'qalqan-rules.yaml'],
  )
  for (const [file, doc] of FILES) t.equal(doc.apiVersion, 1, `${file}: apiVersion 1`)
  t.same(RULES.map((r) => r.uid).sort(), ['qalqan-attack-surge', 'qalqan-sensor-rejected', 'qalqan-sensor-silent'])
  t.equal(new Set(RULES.map((r) => r.title)).size, RULES.length, 'titles are unique')
  t.equal(CLICKHOUSE_UID, 'qalqan-clickhouse', 'the provisioned ClickHouse data source')
})

for (const group of GROUPS) {
  t.test(`group ${group.name}: the fields Grafana requires`, async (t) => {
    t.equal(group.orgId, 1)
    t.match(group.name, /^\S+$/)
    t.equal(group.folder, 'Qalqan', "the dashboards' folder")
    const interval = seconds(group.interval)
    t.ok(interval >= 10 && interval % 10 === 0, 'a multiple of the 10 s scheduler tick')
  })
}

for (const r of RULES) {
  t.test(`rule ${r.uid}: the fields Grafana requires, and a chain it can evaluate`, async (t) => {
    t.match(r.uid, /^[a-zA-Z0-9_-]{1,40}$/, 'uid: at most 40 letters, digits, - and _')
    t.ok(r.title.length > 0)
    t.ok(seconds(r.for) >= 0, `for: ${r.for} is a duration`)
    t.ok(['NoData', 'Alerting', 'OK', 'KeepLast'].includes(r.noDataState), `noDataState ${r.noDataState}`)
    t.ok(['Error', 'Alerting', 'OK', 'KeepLast'].includes(r.execErrState), `execErrState ${r.execErrState}`)
    t.ok(r.data.length > 0)
    t.equal(new Set(r.data.map((q) => q.refId)).size, r.data.length, 'refIds are unique')
    for (const q of r.data) {
      t.match(q, { refId: String, datasourceUid: String, model: Object }, `${q.refId}: refId, datasourceUid, model`)
      t.equal(q.model.refId, q.refId, `${q.refId}: the model's refId`)
      t.ok(
        Number.isInteger(q.relativeTimeRange.from) &&
          Number.isInteger(q.relativeTimeRange.to) &&
          q.relativeTimeRange.from >= q.relativeTimeRange.to &&
          q.relativeTimeRange.to >= 0,
        `${q.refId}: relativeTimeRange in seconds before now`,
      )
      t.equal(q.model.datasource.uid, q.datasourceUid, `${q.refId}: the model names the same data source`)
    }

    const { source, reduce, threshold } = chain(r)
    t.equal(r.data.length, 3, 'a query, its reduce and its threshold, nothing else')
    t.same(reduce.model.datasource, EXPRESSION)
    t.match(reduce.model, { type: 'reduce', reducer: 'last' })
    t.same(threshold.model.datasource, EXPRESSION)
    t.equal(threshold.model.type, 'threshold')
    t.equal(threshold.model.conditions?.length, 1)
    const evaluator = threshold.model.conditions?.[0]?.evaluator
    t.equal(evaluator?.type, 'gt')
    t.ok(evaluator?.params.length === 1 && Number.isFinite(evaluator.params[0]), 'one number to exceed')
    t.ok(source.relativeTimeRange.from > 0, 'the query reads a time range')

    if (source.datasourceUid === CLICKHOUSE.uid) {
      t.same(source.model.datasource, CLICKHOUSE)
      // A table: one row per sensor, sector or region, its string columns the alert's labels.
      t.match(source.model, { editorType: 'sql', queryType: 'table', format: 1 })
      const sql = source.model.rawSql ?? ''
      t.same(portabilityProblems(sql), [], 'expands the same under every release of the macro parser')
      for (const call of macroCalls(sql)) t.ok(MACROS[call.name] !== undefined, `$__${call.name} is known`)
    } else {
      t.same(source.model.datasource, PROMETHEUS, 'the only other source: Prometheus')
      t.match(source.model, { instant: true, expr: String }, 'an instant query: one number per series')
    }

    // Grafana expands $NAME in labels and ${NAME} in annotations from its environment.
    for (const [key, value] of Object.entries(r.labels ?? {})) t.notMatch(value, /\$/, `label ${key} has no $`)
    for (const key of ['summary', 'description', 'runbook']) t.ok(r.annotations?.[key], `annotation ${key}`)
    for (const [key, value] of Object.entries(r.annotations ?? {}))
      t.notMatch(value, /\$\{/, `annotation ${key} has no \${`)
    // Templates read only what the condition sees.
    for (const m of Object.values(r.annotations ?? {})
      .join('\n')
      .matchAll(/\$values\.(\w+)/g))
      t.equal(m[1], reduce.refId, `$values.${m[1]} is the reduced value`)
  })
}

t.test('the contact point and the notification policy', async (t) => {
  t.equal(CONTACT_POINTS.length, 1)
  for (const point of CONTACT_POINTS) {
    t.equal(point.orgId, 1)
    t.ok(point.receivers.length > 0)
    for (const receiver of point.receivers) {
      t.match(receiver, { uid: /^[a-zA-Z0-9_-]{1,40}$/, type: String, settings: Object })
      t.equal(receiver.type, 'email')
      // A placeholder on a reserved domain (RFC 2606) until the operator puts the SOC's address.
      t.match(receiver.settings['addresses'], /^[^@\s;]+@[^@\s;]+\.invalid$/)
      t.notMatch(JSON.stringify(receiver.settings), /\$/, 'no $ for Grafana to expand')
    }
  }
  t.equal(POLICIES.length, 1)
  t.match(POLICIES[0], { orgId: 1, receiver: CONTACT_POINTS[0]?.name })
  t.ok(POLICIES[0]?.group_by?.includes('alertname'))
  for (const r of RULES) t.notOk('notification_settings' in r, `${r.uid} goes through the policy`)
})

// --- the ClickHouse rules against the embedded engine ---------------------------------------------

const HOUR = 3_600_000
const DAY = 24 * HOUR
const MINUTE = 60_000
/** The evaluation at which the rules fire. */
const T = Date.parse('2025-03-10T12:00:00.000Z')

interface FixtureEvent {
  at: number
  sensor: string
  sector: Sector
  region: RegionCode
  count: number
}
const event = (at: number, sensor: string, sector: Sector, region: RegionCode, count = 1): FixtureEvent => ({
  at,
  sensor,
  sector,
  region,
  count,
})
const days = [1, 2, 3, 4, 5, 6, 7]

const FIXTURE: FixtureEvent[] = [
  // Silent from T - 45 min: fires at T, not at T - 40 min.
  event(T - 3 * DAY - 20 * MINUTE, 'kz-ids-astana-01', 'government', 'KZ-71'),
  event(T - 45 * MINUTE, 'kz-ids-astana-01', 'government', 'KZ-71'),
  event(T - 50 * MINUTE, 'kz-fw-almaty-02', 'government', 'KZ-71'),
  event(T - 10 * MINUTE, 'kz-fw-almaty-02', 'government', 'KZ-71'),
  // Last seen 8 days before T: outside the 7-day lookback, in no result.
  event(T - 8 * DAY, 'kz-waf-old-03', 'government', 'KZ-71'),
  // energy in Atyrau: 20 at this hour on each of the 7 days before, then 100 (5x) at T - 25 min;
  // a day later 30 against a usual 220 / 7.
  ...days.map((d) => event(T - d * DAY - 25 * MINUTE, 'kz-ids-atyrau-04', 'energy', 'KZ-23', 20)),
  event(T - 65 * MINUTE, 'kz-ids-atyrau-04', 'energy', 'KZ-23'),
  event(T - 25 * MINUTE, 'kz-ids-atyrau-04', 'energy', 'KZ-23', 100),
  event(T + DAY - 25 * MINUTE, 'kz-ids-atyrau-04', 'energy', 'KZ-23', 30),
  // finance in Almaty: 25 at this hour each day, then 50: twice its usual level, under the multiple.
  ...days.map((d) => event(T - d * DAY - 20 * MINUTE, 'kz-waf-almaty-05', 'finance', 'KZ-75', 25)),
  event(T - 65 * MINUTE, 'kz-waf-almaty-05', 'finance', 'KZ-75'),
  event(T - 20 * MINUTE, 'kz-waf-almaty-05', 'finance', 'KZ-75', 50),
]

const config = testConfig()
const clickhouse = await createClickHouse(config)
t.teardown(() => clickhouse.close())
await migrate(clickhouse)
await applyRetention(clickhouse, config.retentionDays)
await new ClickHouseEventStore(clickhouse).insert(
  FIXTURE.map((e, i) => {
    const at = new Date(e.at).toISOString()
    const stored: CanonicalEvent = {
      v: 1,
      event_id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
      occurred_at: at,
      received_at: at,
      sensor_id: e.sensor,
      sensor_type: 'ids',
      category: 'scan',
      severity: 2,
      signature: 'ET SCAN Nmap',
      src_ip: '203.0.113.1',
      src_country: 'CN',
      src_scope: 'public',
      org: `Test ${e.sector}`,
      sector: e.sector,
      region: e.region,
      count: e.count,
    } as CanonicalEvent
    return { offset: String(i), event: stored }
  }),
  { topic: 'alerting-fixture', partition: 0, firstOffset: '0', lastOffset: String(FIXTURE.length - 1) },
)

/** One alert instance: the labels (the string columns) and the number the reduce passes on. */
interface Instance {
  labels: Record<string, string>
  value: number
}

/**
 * Evaluates a ClickHouse rule at `now` as Grafana would: the query over its relative time range, each
 * row a number labelled by its string columns (Grafana's reading of a table with one numeric
 * column), `last` of a number is the number, and the threshold fires above its parameter.
 */
async function evaluate(t: Test, r: Rule, now: number): Promise<{ instances: Instance[]; firing: string[] }> {
  const { source, threshold } = chain(r)
  const sql = expandQuery(source.model.rawSql ?? '', {
    from: new Date(now - source.relativeTimeRange.from * 1000),
    to: new Date(now - source.relativeTimeRange.to * 1000),
    intervalMs: 60_000,
    variables: {},
  })
  const result = await clickhouse.query({ query: sql, format: 'JSONEachRow' })
  const rows = await result.json<Record<string, unknown>>()
  const instances = rows.map((row) => {
    const numbers = Object.values(row).filter((v) => typeof v === 'number')
    t.equal(numbers.length, 1, `one numeric column: ${JSON.stringify(row)}`)
    const labels = Object.fromEntries(Object.entries(row).filter(([, v]) => typeof v === 'string')) as Record<
      string,
      string
    >
    t.equal(Object.keys(labels).length + 1, Object.keys(row).length, 'every other column a label')
    return { labels, value: Number(numbers[0]) }
  })
  const limit = threshold.model.conditions?.[0]?.evaluator.params[0] ?? Number.NaN
  const firing = instances.filter((i) => i.value > limit).map((i) => Object.values(i.labels).join(' '))
  return { instances, firing }
}

const round = (instances: Instance[]) => instances.map((i) => ({ ...i, value: Number(i.value.toFixed(6)) }))

t.test('Sensor silent: minutes since each sensor last got an event through, over the last 7 days', async (t) => {
  const r = rule('qalqan-sensor-silent')
  t.equal(chain(r).threshold.model.conditions?.[0]?.evaluator.params[0], 30, 'fires past 30 minutes')

  const atT = await evaluate(t, r, T)
  t.same(round(atT.instances), [
    { labels: { sensor_id: 'kz-fw-almaty-02' }, value: 10 },
    { labels: { sensor_id: 'kz-ids-astana-01' }, value: 45 },
    { labels: { sensor_id: 'kz-ids-atyrau-04' }, value: 25 },
    { labels: { sensor_id: 'kz-waf-almaty-05' }, value: 20 },
  ])
  t.same(atT.firing, ['kz-ids-astana-01'], 'fires for the sensor silent for 45 minutes')

  const quiet = await evaluate(t, r, T - 40 * MINUTE)
  t.same(round(quiet.instances), [
    { labels: { sensor_id: 'kz-fw-almaty-02' }, value: 10 },
    { labels: { sensor_id: 'kz-ids-astana-01' }, value: 5 },
    { labels: { sensor_id: 'kz-ids-atyrau-04' }, value: 25 },
    { labels: { sensor_id: 'kz-waf-almaty-05' }, value: 25 },
  ])
  t.same(quiet.firing, [], 'every sensor sent within 30 minutes')
  for (const label of annotationLabels(r)) t.ok(label in (atT.instances[0]?.labels ?? {}), `$labels.${label}`)
})

t.test('Attack surge: the last hour against the same hour of the 7 days before, per sector and region', async (t) => {
  const r = rule('qalqan-attack-surge')
  t.equal(chain(r).threshold.model.conditions?.[0]?.evaluator.params[0], 3, 'fires above 3 times the usual')

  const atT = await evaluate(t, r, T)
  t.same(round(atT.instances), [
    // 100 against 7 x 20 / 7
    { labels: { dimension: 'region', target: 'KZ-23' }, value: 5 },
    // 3 events against one in 7 days: measured against the floor of 10
    { labels: { dimension: 'region', target: 'KZ-71' }, value: 0.3 },
    // 50 against 7 x 25 / 7
    { labels: { dimension: 'region', target: 'KZ-75' }, value: 2 },
    { labels: { dimension: 'sector', target: 'energy' }, value: 5 },
    { labels: { dimension: 'sector', target: 'finance' }, value: 2 },
    { labels: { dimension: 'sector', target: 'government' }, value: 0.3 },
  ])
  t.same(atT.firing, ['region KZ-23', 'sector energy'])

  // A day later the surge is part of the usual level: 30 against (100 + 6 x 20) / 7.
  const quiet = await evaluate(t, r, T + DAY)
  t.same(round(quiet.instances), [
    { labels: { dimension: 'region', target: 'KZ-23' }, value: 0.954545 },
    { labels: { dimension: 'region', target: 'KZ-71' }, value: 0 },
    { labels: { dimension: 'region', target: 'KZ-75' }, value: 0 },
    { labels: { dimension: 'sector', target: 'energy' }, value: 0.954545 },
    { labels: { dimension: 'sector', target: 'finance' }, value: 0 },
    { labels: { dimension: 'sector', target: 'government' }, value: 0 },
  ])
  t.same(quiet.firing, [])
  for (const label of annotationLabels(r)) t.ok(label in (atT.instances[0]?.labels ?? {}), `$labels.${label}`)
})

/** The labels a rule's annotations read. */
function annotationLabels(r: Rule): string[] {
  return [
    ...new Set(
      [
        ...Object.values(r.annotations ?? {})
          .join('\n')
          .matchAll(/\$labels\.(\w+)/g),
      ].map((m) => m[1] ?? ''),
    ),
  ]
}

// --- the Prometheus rule --------------------------------------------------------------------------

/** Each series /metrics exposes, with its labels and their values. */
function exposition(text: string): Map<string, Map<string, number>> {
  const series = new Map<string, Map<string, number>>()
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line)
    if (m === null) continue
    const samples = series.get(m[1] ?? '') ?? new Map<string, number>()
    samples.set(m[2] ?? '{}', Number(m[3]))
    series.set(m[1] ?? '', samples)
  }
  return series
}

t.test('Sensor events rejected: the PromQL names what /metrics exposes, and its share on real counters', async (t) => {
  const r = rule('qalqan-sensor-rejected')
  const { source, threshold } = chain(r)
  const expr = source.model.expr ?? ''
  const limit = threshold.model.conditions?.[0]?.evaluator.params[0]
  t.equal(limit, 0.1, 'fires above a 10% share')

  // The expression's shape, with its constants: the window and the least events a sensor is judged on.
  const shape =
    /^sum by \(sensor\) \(increase\(qalqan_sensor_events_total\{outcome="rejected"\}\[(\d+[smhd])\]\)\)\n\/ on \(sensor\)\n\(sum by \(sensor\) \(increase\(qalqan_sensor_events_total\[(\d+[smhd])\]\)\) >= (\d+)\)$/.exec(
      expr,
    )
  t.ok(shape, `the expression is the rejected share of sensors with enough events:\n${expr}`)
  t.equal(shape?.[1], shape?.[2], 'both sides over the same window')
  const floor = Number(shape?.[3])
  t.equal(floor, 100)

  // What a collector exposes after three sensors' requests (Metrics.sensorEvents, called by ingest).
  const metrics = new Metrics()
  metrics.sensorEvents('kz-ids-astana-01', 170, 30)
  metrics.sensorEvents('kz-fw-almaty-02', 195, 5)
  metrics.sensorEvents('kz-waf-almaty-05', 20, 20)
  const series = exposition(await metrics.render())
  const names = [...expr.matchAll(/\b(qalqan_\w+)/g)].map((m) => m[1] ?? '')
  for (const name of names) t.ok(series.has(name), `${name} is exposed`)
  const samples = series.get('qalqan_sensor_events_total') ?? new Map<string, number>()
  for (const key of samples.keys()) t.match(key, /^\{sensor="[^"]*",outcome="(accepted|rejected)"\}$/)

  // increase() over the hour of a counter that started within it is its value.
  const count = (sensor: string, outcome?: string) =>
    [...samples]
      .filter(([key]) => key.includes(`sensor="${sensor}"`) && (outcome === undefined || key.includes(`"${outcome}"`)))
      .reduce((sum, [, value]) => sum + value, 0)
  const shares = ['kz-fw-almaty-02', 'kz-ids-astana-01', 'kz-waf-almaty-05'].flatMap((sensor) =>
    count(sensor) >= floor ? [{ sensor, share: count(sensor, 'rejected') / count(sensor) }] : [],
  )
  t.same(shares, [
    { sensor: 'kz-fw-almaty-02', share: 0.025 },
    { sensor: 'kz-ids-astana-01', share: 0.15 },
  ])
  t.same(
    shares.filter((s) => s.share > Number(limit)).map((s) => s.sensor),
    ['kz-ids-astana-01'],
    'fires for 30 of 200 rejected; not for 5 of 200, nor for 20 of 40 (too few to judge)',
  )
  t.same(annotationLabels(r), ['sensor'], 'the annotations name the sensor label of the sum by')
})
