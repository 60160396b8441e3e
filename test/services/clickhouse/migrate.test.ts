import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { CanonicalEvent } from '../../../schemas/event.js'
import { createClickHouse } from '../../../services/clickhouse/client.js'
import { ClickHouseEventStore } from '../../../services/clickhouse/events.js'
import { ClickHouseLedger } from '../../../services/clickhouse/ledger.js'
import { createdBy, MIGRATIONS_TABLE, migrate, stepChecksum, stepLabel } from '../../../services/clickhouse/migrate.js'
import { MIGRATIONS, type MigrationStep } from '../../../services/clickhouse/migrations/index.js'
import { QalqanError } from '../../../services/errors.js'
import { PROJECT_ROOT } from '../../../services/paths.js'
import { makeEvents } from '../../helpers/events.js'
import { testConfig } from '../../helpers/stack.js'

// Each test file is its own process with its own data folder: this one starts from an empty database.
const client = await createClickHouse(testConfig())
t.teardown(() => client.close())
const last = MIGRATIONS.at(-1) as MigrationStep
/** The steps with the one of this version replaced, as a program whose step changed would have them. */
const replacing = (step: MigrationStep) => MIGRATIONS.map((known) => (known.version === step.version ? step : known))

async function rows<T>(query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>()
}

const recorded = () =>
  rows<{ version: number; name: string; checksum: string; at: string }>(
    `SELECT version, name, checksum, toString(applied_at) AS at FROM ${MIGRATIONS_TABLE} ORDER BY version, applied_at`,
  )

/** Every table with its engine and settings, and every column, so that a refused start can be shown to have changed nothing. */
const schema = async () => ({
  tables: await rows<Record<string, string>>(
    'SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() ORDER BY name',
  ),
  columns: await rows<Record<string, string>>(
    'SELECT table, name, type, default_expression FROM system.columns WHERE database = currentDatabase() ORDER BY table, name',
  ),
})

const engineOf = async (table: string) =>
  (
    await rows<{ engine_full: string }>(
      `SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = '${table}'`,
    )
  )[0]?.engine_full

/**
 * Whether a statement may run again without changing anything: it creates, drops or adds only if
 * absent or present, or it only sets table settings to fixed values (setting one to the value it has
 * changes nothing). An ALTER that sets a setting and also changes something else is not.
 */
function mayRunAgain(statement: string): boolean {
  return (
    /\bIF (NOT )?EXISTS\b/.test(statement) ||
    /^ALTER TABLE \w+ MODIFY SETTING \w+ = (\d+|'[^']*')(, \w+ = (\d+|'[^']*'))*$/.test(statement)
  )
}

async function rejection(promise: Promise<unknown>): Promise<QalqanError> {
  const err = await promise.then(
    () => undefined,
    (err: unknown) => err,
  )
  if (!(err instanceof QalqanError)) throw new Error(`expected a QalqanError, got ${String(err)}`)
  return err
}

t.test('the steps are the files of migrations/, numbered from 1 in order', async (t) => {
  const files = readdirSync(join(PROJECT_ROOT, 'services', 'clickhouse', 'migrations'))
    .filter((file) => /^\d{4}-/.test(file))
    .sort()
  t.same(
    files,
    MIGRATIONS.map((step) => `${stepLabel(step)}.ts`),
  )
  t.same(
    MIGRATIONS.map((step) => step.version),
    MIGRATIONS.map((_, index) => index + 1),
  )
  const [initial] = MIGRATIONS
  t.equal(initial?.statements.length, 8, 'step 1 is the five tables and three views of schemas/clickhouse/')
  t.ok(
    initial?.statements.every((statement) => /^CREATE (TABLE|MATERIALIZED VIEW) IF NOT EXISTS /.test(statement)),
    'every statement of step 1 may run again',
  )
  for (const step of MIGRATIONS) {
    for (const statement of step.statements)
      t.ok(mayRunAgain(statement), `${stepLabel(step)}: ${statement.slice(0, 70)}`)
  }
  t.notOk(
    mayRunAgain('ALTER TABLE worker_batches ADD COLUMN note String'),
    'an ADD COLUMN without IF NOT EXISTS may not',
  )
  t.notOk(
    mayRunAgain('ALTER TABLE worker_batches MODIFY SETTING ttl_only_drop_parts = 1, ADD COLUMN note String'),
    'nor a settings change with another change in it',
  )
  t.notOk(mayRunAgain('ALTER TABLE events_raw MODIFY TTL received_at + INTERVAL 1 DAY'), 'nor a TTL change')
})

t.test('a step list out of order is refused before anything runs', async (t) => {
  const [initial, second] = MIGRATIONS as [MigrationStep, MigrationStep]
  await t.rejects(migrate(client, { steps: [second, initial] }), /schema step 1 is 0002-time-source/)
  await t.rejects(migrate(client, { steps: [{ ...initial, name: 'Initial Schema' }] }), /kebab-case/)
  t.same(await schema(), { tables: [], columns: [] }, 'nothing was created')
})

t.test('an empty database gets every step, each recorded with its checksum', async (t) => {
  const report = await migrate(client)
  t.same(report.applied, MIGRATIONS.map(stepLabel))
  t.same(report.applied.slice(0, 4), ['0001-initial', '0002-time-source', '0003-one-plan-per-offset', '0004-device'])
  t.equal(report.from, 0)
  t.equal(report.to, last.version)
  t.equal(report.adopted, false)
  t.equal(
    report.statements,
    1 + MIGRATIONS.reduce((sum, step) => sum + step.statements.length, 0),
    "the migrations table's, then each step's",
  )
  const steps = await recorded()
  t.same(
    steps.map(({ version, name, checksum }) => ({ version, name, checksum })),
    MIGRATIONS.map((step) => ({ version: step.version, name: step.name, checksum: stepChecksum(step) })),
  )
  for (const step of steps) t.ok(Date.parse(`${step.at}Z`) > Date.parse('2026-01-01'), `applied_at ${step.at}`)
  const [timeSource] = await rows<{ type: string; default_expression: string }>(
    "SELECT type, default_expression FROM system.columns WHERE database = currentDatabase() AND table = 'events_raw' AND name = 'time_source'",
  )
  t.same(timeSource, { type: 'LowCardinality(String)', default_expression: "'event'" })
  t.same(
    await rows(
      "SELECT name, type, default_expression FROM system.columns WHERE database = currentDatabase() AND table = 'events_raw' AND name IN ('time_source', 'device', 'log_source') ORDER BY position",
    ),
    [
      { name: 'time_source', type: 'LowCardinality(String)', default_expression: "'event'" },
      { name: 'device', type: 'LowCardinality(String)', default_expression: "''" },
      { name: 'log_source', type: 'LowCardinality(String)', default_expression: "''" },
    ],
    'step 4 adds device and log_source after time_source',
  )
  t.same(
    await rows(
      "SELECT name, type, default_expression FROM system.columns WHERE database = currentDatabase() AND table = 'events_raw' AND name IN ('kafka_offset', 'kafka_index') ORDER BY position",
    ),
    [
      { name: 'kafka_offset', type: 'UInt64', default_expression: '' },
      { name: 'kafka_index', type: 'UInt32', default_expression: '0' },
    ],
    "step 5 adds kafka_index, an event's line in its message, after kafka_offset",
  )
  t.match(
    await engineOf('worker_batches'),
    /^ReplacingMergeTree ORDER BY \(topic, partition, first_offset\) TTL .* SETTINGS .*\bnon_replicated_deduplication_window = 10000\b/,
    'the ledger deduplicates inserts',
  )
})

t.test('every statement of every step, run again on the migrated database, changes nothing', async (t) => {
  const before = await schema()
  for (const statement of MIGRATIONS.flatMap((step) => step.statements)) await client.command({ query: statement })
  t.same(await schema(), before)
})

t.test(
  'the ledger keeps the plan written first at an offset: a second is dropped on insert, also after a merge',
  async (t) => {
    const ledger = new ClickHouseLedger(client)
    const start = { topic: 'migrate-ledger', partition: 3, firstOffset: '100' }
    await ledger.plan({ ...start, lastOffset: '104' })
    await ledger.plan({ ...start, lastOffset: '102' })
    await ledger.plan({ ...start, partition: 4, lastOffset: '101' })
    const plans = () =>
      rows<{ partition: number; first: string; last: string }>(
        "SELECT partition, toString(first_offset) AS first, toString(last_offset) AS last FROM worker_batches WHERE topic = 'migrate-ledger' ORDER BY partition, last",
      )
    const expected = [
      { partition: 3, first: '100', last: '104' },
      { partition: 4, first: '100', last: '101' },
    ]
    t.same(await plans(), expected, 'the second plan at partition 3, offset 100 was not stored; another partition was')
    // A ReplacingMergeTree merge keeps the last row of a key: with both stored it would keep 102.
    await client.command({ query: 'OPTIMIZE TABLE worker_batches FINAL' })
    t.same(await plans(), expected, 'a merge has only the first to keep')
    t.same(await ledger.planned(start), { lastOffset: '104' })
  },
)

t.test("step 1's tables, as migrate reads them from its statements, are the tables ClickHouse made", async (t) => {
  const { tables, views } = createdBy(MIGRATIONS[0] as MigrationStep)
  t.same(
    tables.map((table) => table.name),
    ['events_raw', 'worker_batches', 'attacks_1m', 'attacks_1h', 'attacks_1d'],
  )
  t.same(views, ['attacks_1m_mv', 'attacks_1h_mv', 'attacks_1d_mv'])
  for (const table of tables) {
    const columns = await rows<{ name: string; type: string }>(
      `SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = '${table.name}' AND name NOT IN ('time_source', 'device', 'log_source', 'kafka_index') ORDER BY position`,
    )
    t.same(
      table.columns.map(([name, type]) => ({ name, type })),
      columns,
      table.name,
    )
    const [sorting] = await rows<{ sorting_key: string }>(
      `SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = '${table.name}'`,
    )
    t.equal(table.orderBy, sorting?.sorting_key, `${table.name} ORDER BY`)
  }
})

t.test("the worker's inserts store time_source, and an event without it reads event", async (t) => {
  // Dated now: the default retention would drop an older event.
  const [plain, enveloped] = makeEvents(2, 7, Date.now() - 60_000, 1)
  if (plain === undefined || enveloped === undefined) throw new Error('no event')
  const withSource = { ...enveloped, time_source: 'envelope' } as CanonicalEvent
  await new ClickHouseEventStore(client).insert(
    [
      { offset: '0', event: plain },
      { offset: '1', event: withSource },
    ],
    { topic: 'migrate-test', partition: 0, firstOffset: '0', lastOffset: '1' },
  )
  t.same(
    await rows(
      `SELECT toString(event_id) AS id, time_source FROM events_raw WHERE kafka_topic = 'migrate-test' ORDER BY kafka_offset`,
    ),
    [
      { id: plain.event_id, time_source: 'event' },
      { id: enveloped.event_id, time_source: 'envelope' },
    ],
  )
})

t.test("the worker's inserts store device and log_source, and an event without them reads ''", async (t) => {
  const [plain, seen, long] = makeEvents(3, 11, Date.now() - 60_000, 1)
  if (plain === undefined || seen === undefined || long === undefined) throw new Error('no event')
  const named = { ...seen, device: 'fw-ala-01', log_source: '/var/log/suricata/eve.json' }
  // The longest the schema allows, in characters that take 4 bytes each in UTF-8.
  const wide = { ...long, device: '\u{1F6E1}'.repeat(127), log_source: 'я'.repeat(255) }
  await new ClickHouseEventStore(client).insert(
    [
      { offset: '0', event: plain },
      { offset: '1', event: named },
      { offset: '2', event: wide },
    ],
    { topic: 'migrate-device', partition: 0, firstOffset: '0', lastOffset: '2' },
  )
  t.same(
    await rows(
      `SELECT toString(event_id) AS id, device, log_source FROM events_raw WHERE kafka_topic = 'migrate-device' ORDER BY kafka_offset`,
    ),
    [
      { id: plain.event_id, device: '', log_source: '' },
      { id: seen.event_id, device: named.device, log_source: named.log_source },
      { id: long.event_id, device: wide.device, log_source: wide.log_source },
    ],
  )
})

t.test('a second start changes nothing', async (t) => {
  const before = { steps: await recorded(), schema: await schema() }
  const report = await migrate(client)
  t.same(report, { from: last.version, to: last.version, applied: [], adopted: false, statements: 0 })
  t.same({ steps: await recorded(), schema: await schema() }, before)
})

t.test('a step recorded twice, as two processes starting at once may record it, counts once', async (t) => {
  await client.insert({
    table: MIGRATIONS_TABLE,
    values: [{ version: last.version, name: last.name, checksum: stepChecksum(last) }],
    format: 'JSONEachRow',
  })
  t.same(
    (await recorded()).map((step) => step.version),
    [...MIGRATIONS.map((step) => step.version), last.version],
  )
  t.same((await migrate(client)).applied, [])
})

t.test('a database newer than the program is refused, naming both versions', async (t) => {
  const before = { steps: await recorded(), schema: await schema() }
  const previous = MIGRATIONS.at(-2) as MigrationStep
  const err = await rejection(migrate(client, { steps: MIGRATIONS.slice(0, -1) }))
  t.equal(err.code, 'QLQ_ERR_SCHEMA_TOO_NEW')
  t.match(err.message, `the ClickHouse database is at schema version ${last.version} (${stepLabel(last)})`)
  t.match(err.message, `knows versions up to ${previous.version} (${stepLabel(previous)})`)
  t.match(err.message, 'upgrade the program')
  t.match(
    (await rejection(migrate(client, { steps: MIGRATIONS.slice(0, 1) }))).message,
    'knows versions up to 1 (0001-initial)',
  )
  t.same({ steps: await recorded(), schema: await schema() }, before, 'nothing was changed')
})

t.test('an applied step whose statements changed is refused, naming the step', async (t) => {
  const before = { steps: await recorded(), schema: await schema() }
  const [initial, second] = MIGRATIONS as [MigrationStep, MigrationStep]
  const changed: MigrationStep = {
    ...second,
    statements: [
      "ALTER TABLE events_raw ADD COLUMN IF NOT EXISTS time_source LowCardinality(String) DEFAULT 'received' AFTER received_at",
    ],
  }
  const err = await rejection(migrate(client, { steps: replacing(changed) }))
  t.equal(err.code, 'QLQ_ERR_SCHEMA_STEP_CHANGED')
  t.match(
    err.message,
    `schema step 0002-time-source was applied to this database with checksum ${stepChecksum(second)}`,
  )
  t.match(err.message, `this program's 0002-time-source has checksum ${stepChecksum(changed)}`)
  const first = await rejection(
    migrate(client, { steps: replacing({ ...initial, statements: initial.statements.slice(1) }) }),
  )
  t.equal(first.code, 'QLQ_ERR_SCHEMA_STEP_CHANGED')
  t.match(first.message, 'schema step 0001-initial was applied')
  t.same({ steps: await recorded(), schema: await schema() }, before, 'nothing was changed')

  const respaced: MigrationStep = { ...second, statements: second.statements.map((s) => s.replace(/ /g, '\n    ')) }
  t.equal(stepChecksum(respaced), stepChecksum(second), 'spacing is not a change')
  t.same((await migrate(client, { steps: replacing(respaced) })).applied, [])
})

t.test('a step that fails is named, not recorded, and runs again at the next start', async (t) => {
  const broken: MigrationStep = {
    version: last.version + 1,
    name: 'broken',
    statements: [
      'ALTER TABLE worker_batches ADD COLUMN IF NOT EXISTS note String',
      'ALTER TABLE worker_batches ADD COLUMN IF NOT EXISTS planned_by NoSuchType',
    ],
  }
  const err = await rejection(migrate(client, { steps: [...MIGRATIONS, broken] }))
  t.equal(err.code, 'QLQ_ERR_SCHEMA_STEP_FAILED')
  t.match(err.message, `schema step ${stepLabel(broken)} failed at its statement 2 of 2: `)
  t.match(err.message, /NoSuchType/)
  t.ok(err.cause instanceof Error, 'the cause is kept')
  t.same(
    [...new Set((await recorded()).map((step) => step.version))],
    MIGRATIONS.map((step) => step.version),
    `step ${broken.version} is not recorded`,
  )

  const fixed: MigrationStep = {
    ...broken,
    name: 'batch-notes',
    statements: [
      'ALTER TABLE worker_batches ADD COLUMN IF NOT EXISTS note String',
      "ALTER TABLE worker_batches ADD COLUMN IF NOT EXISTS planned_by LowCardinality(String) DEFAULT ''",
    ],
  }
  const report = await migrate(client, { steps: [...MIGRATIONS, fixed] })
  t.same(report.applied, [stepLabel(fixed)], 'the statement that had run before runs again, harmlessly')
  t.match(report.applied[0], /^\d{4}-batch-notes$/)
  t.same((await recorded()).at(-1)?.name, 'batch-notes')
  await t.rejects(migrate(client), { code: 'QLQ_ERR_SCHEMA_TOO_NEW' }, 'and now the program without it is too old')
})
