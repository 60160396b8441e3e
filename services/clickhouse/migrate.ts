import type { ClickHouseClient } from '@clickhouse/client'
import { createHash } from 'node:crypto'
import { QalqanError } from '../errors.js'
import { clusterStatement } from './cluster.js'
import { MIGRATIONS, type MigrationStep } from './migrations/index.js'

/** Which steps of the schema a database has run, one row per step run (a race may record one twice). */
export const MIGRATIONS_TABLE = 'schema_steps'

export const MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE}
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY version`

export interface MigrationReport {
  /** The schema version the database had: 0 when it had none of Qalqan's tables. */
  readonly from: number
  /** The version it has now: the last step this program knows. */
  readonly to: number
  /** The steps applied by this call, as `0002-time-source`. */
  readonly applied: readonly string[]
  /**
   * The database had the tables of version 1 without a record of it (made before steps were recorded),
   * and was taken as version 1 after checking their columns; with every table there, step 1 did not run.
   */
  readonly adopted: boolean
  /** The statements run, the migrations table's included. */
  readonly statements: number
}

/** `0002-time-source`: a step as its file is named. */
export function stepLabel(step: Pick<MigrationStep, 'version' | 'name'>): string {
  return `${String(step.version).padStart(4, '0')}-${step.name}`
}

/** SHA-256 of a step's statements, spacing aside, so that a reformatted step keeps its checksum. */
export function stepChecksum(step: MigrationStep): string {
  const text = step.statements.map((statement) => statement.replace(/\s+/g, ' ').trim()).join(';\n')
  return createHash('sha256').update(text).digest('hex')
}

/**
 * Brings the database to the last step this program knows. It reads which steps ran from
 * schema_steps; refuses, before changing anything, a database newer than the program, an
 * applied step whose statements changed, or tables from before steps were recorded that differ from
 * version 1; then runs each missing step in order, recording it once it succeeded. Every statement is
 * safe to run again, so two processes starting at once may both run a step: the second changes
 * nothing, and a step recorded twice counts once. With a cluster name, in the cluster form.
 */
export async function migrate(
  client: ClickHouseClient,
  options: { cluster?: string; steps?: readonly MigrationStep[] } = {},
): Promise<MigrationReport> {
  const { cluster, steps = MIGRATIONS } = options
  checkSteps(steps)
  const last = steps.at(-1)
  const hasTable = (await existingTables(client, [MIGRATIONS_TABLE])).has(MIGRATIONS_TABLE)
  const recorded = hasTable ? await recordedSteps(client) : new Map<number, RecordedStep>()
  const newest = Math.max(0, ...recorded.keys())
  if (newest > (last?.version ?? 0)) {
    const found = stepLabel({ version: newest, name: recorded.get(newest)?.name ?? '?' })
    throw new QalqanError(
      'QLQ_ERR_SCHEMA_TOO_NEW',
      `the ClickHouse database is at schema version ${newest} (${found}), newer than this program, which knows versions up to ${last?.version ?? 0} (${last ? stepLabel(last) : 'none'}): upgrade the program to one that knows version ${newest}; nothing was changed`,
    )
  }
  for (const step of steps) {
    const applied = recorded.get(step.version)
    if (applied === undefined) continue
    const expected = stepChecksum(step)
    const other = [...applied.checksums].find((checksum) => checksum !== expected)
    if (other !== undefined) {
      const recordedAs = applied.name === step.name ? '' : ` (recorded as ${applied.name})`
      throw new QalqanError(
        'QLQ_ERR_SCHEMA_STEP_CHANGED',
        `schema step ${stepLabel(step)}${recordedAs} was applied to this database with checksum ${other}, but this program's ${stepLabel(step)} has checksum ${expected}: an applied step was changed. Run a program whose step is the applied one; a change to the schema goes in a new step. Nothing was changed`,
      )
    }
  }

  const first = steps[0]
  const earlier =
    first === undefined || recorded.has(first.version) ? 'none' : await checkEarlierTables(client, first, cluster)
  let statements = 0
  const run = async (statement: string) => {
    for (const query of cluster === undefined ? [statement] : clusterStatement(statement, cluster)) {
      await client.command({ query })
      statements++
    }
  }
  if (!hasTable) await run(MIGRATIONS_DDL)
  const applied: string[] = []
  for (const step of steps) {
    if (recorded.has(step.version)) continue
    // A database with every table of the first step is taken as that version: nothing of it is run again.
    const adopt = step === first && earlier === 'whole'
    for (const [index, statement] of adopt ? [] : step.statements.entries()) {
      try {
        await run(statement)
      } catch (err) {
        throw new QalqanError(
          'QLQ_ERR_SCHEMA_STEP_FAILED',
          `schema step ${stepLabel(step)} failed at its statement ${index + 1} of ${step.statements.length}: ${(err as Error).message}. The steps before it are recorded, and its statements are safe to run again: fix the cause and start again`,
          { cause: err },
        )
      }
    }
    await client.insert({
      table: MIGRATIONS_TABLE,
      values: [{ version: step.version, name: step.name, checksum: stepChecksum(step) }],
      format: 'JSONEachRow',
      // On a cluster the row goes through the Distributed table: it is readable everywhere once this returns.
      clickhouse_settings: { insert_distributed_sync: 1 },
    })
    if (!adopt) applied.push(stepLabel(step))
  }
  const adopted = earlier !== 'none'
  return { from: adopted ? 1 : newest, to: last?.version ?? 0, applied, adopted, statements }
}

interface RecordedStep {
  readonly name: string
  readonly checksums: ReadonlySet<string>
}

async function recordedSteps(client: ClickHouseClient): Promise<Map<number, RecordedStep>> {
  const result = await client.query({
    query: `SELECT version, name, checksum FROM ${MIGRATIONS_TABLE} ORDER BY version, applied_at`,
    format: 'JSONEachRow',
  })
  const steps = new Map<number, { name: string; checksums: Set<string> }>()
  for (const row of await result.json<{ version: number | string; name: string; checksum: string }>()) {
    const version = Number(row.version)
    const step = steps.get(version) ?? { name: row.name, checksums: new Set<string>() }
    step.checksums.add(row.checksum)
    steps.set(version, step)
  }
  return steps
}

function checkSteps(steps: readonly MigrationStep[]): void {
  for (const [index, step] of steps.entries()) {
    if (step.version !== index + 1 || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(step.name)) {
      throw new Error(
        `schema step ${index + 1} is ${stepLabel(step)}: steps are numbered 1, 2, 3 ... in order, named in kebab-case`,
      )
    }
  }
}

/** A table that a step creates, as its statement declares it. */
export interface TableShape {
  readonly name: string
  /** Each column's name and type, in order. */
  readonly columns: readonly (readonly [name: string, type: string])[]
  /** The ORDER BY expression, without its outer parentheses. */
  readonly orderBy: string
}

/** The tables and the views a step creates: its `CREATE TABLE` and `CREATE MATERIALIZED VIEW` statements. */
export function createdBy(step: MigrationStep): { tables: TableShape[]; views: string[] } {
  const tables: TableShape[] = []
  const views: string[] = []
  for (const statement of step.statements) {
    const view = /^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)/.exec(statement)
    if (view?.[1] !== undefined) views.push(view[1])
    const table = /^CREATE TABLE IF NOT EXISTS (\w+)\s*\(/.exec(statement)
    if (table?.[1] === undefined) continue
    const body = bracketed(statement, table[0].length - 1)
    const columns = splitTopLevel(body)
      .filter((part) => !/^(INDEX|CONSTRAINT|PROJECTION)\s/i.test(part))
      .map((part) => {
        const [, column = '', type = ''] =
          /^(\w+)\s+(.+?)(?:\s+(?:DEFAULT|MATERIALIZED|ALIAS|EPHEMERAL|CODEC|TTL|COMMENT)\b.*)?$/s.exec(part) ?? []
        return [column, type] as const
      })
    const orderBy = /\bORDER BY (.+)$/m.exec(statement.slice(table[0].length + body.length))?.[1] ?? ''
    tables.push({ name: table[1], columns, orderBy: orderBy.trim().replace(/^\((.*)\)$/, '$1') })
  }
  return { tables, views }
}

/** The text between the parenthesis at `open` and the one that closes it. */
function bracketed(text: string, open: number): string {
  let depth = 0
  let quoted = false
  for (let i = open; i < text.length; i++) {
    const char = text[i]
    if (char === "'") quoted = !quoted
    else if (!quoted && char === '(') depth++
    else if (!quoted && char === ')' && --depth === 0) return text.slice(open + 1, i)
  }
  throw new Error(`unbalanced parentheses in: ${text.slice(0, 80)}`)
}

/** Comma-separated parts outside parentheses and quotes, trimmed. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quoted = false
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (char === "'") quoted = !quoted
    else if (!quoted && char === '(') depth++
    else if (!quoted && char === ')') depth--
    else if (!quoted && depth === 0 && char === ',') {
      parts.push(text.slice(start, i).trim())
      start = i + 1
    }
  }
  parts.push(text.slice(start).trim())
  return parts.filter(Boolean)
}

/**
 * Before the first step is recorded: whether the database already holds its tables and views, made by
 * a version from before steps were recorded (or by a start that stopped before recording it), all of
 * them or some, after checking that the tables it holds have the step's columns and sort order.
 * Refuses, naming each difference, a table that an earlier form of the schema made.
 */
async function checkEarlierTables(
  client: ClickHouseClient,
  first: MigrationStep,
  cluster?: string,
): Promise<'none' | 'some' | 'whole'> {
  const { tables, views } = createdBy(first)
  // On a cluster a table is its replicated <name>_local and the Distributed <name> over it.
  const expected = tables.flatMap((table) =>
    cluster === undefined
      ? [{ ...table, sorted: true }]
      : [
          { ...table, name: `${table.name}_local`, sorted: true },
          { ...table, sorted: false },
        ],
  )
  const names = [...expected.map((table) => table.name), ...views]
  const existing = await existingTables(client, names)
  if (existing.size === 0) return 'none'
  const present = expected.filter((table) => existing.has(table.name))
  const columns = await tableColumns(
    client,
    present.map((table) => table.name),
  )
  const problems: string[] = []
  for (const table of present) {
    const actual = columns.get(table.name) ?? new Map<string, string>()
    for (const [column, type] of table.columns) {
      const found = actual.get(column)
      if (found === undefined) problems.push(`${table.name} has no column ${column} ${type}`)
      else if (compact(found) !== compact(type)) problems.push(`${table.name}.${column} is ${found}, not ${type}`)
    }
    const sortingKey = existing.get(table.name) ?? ''
    if (table.sorted && compact(sortingKey) !== compact(table.orderBy)) {
      problems.push(`${table.name} is sorted by (${sortingKey}), not (${table.orderBy})`)
    }
  }
  if (problems.length > 0) {
    throw new QalqanError(
      'QLQ_ERR_SCHEMA_UNRECOGNISED',
      `the ClickHouse database holds Qalqan's tables without a record of schema steps (${MIGRATIONS_TABLE}), and they differ from version 1 (${stepLabel(first)}): ${problems.join('; ')}. An earlier build made them; nothing was changed. Move their rows to tables of the current form, or drop them, as docs/operations.md ("Upgrading the schema") shows, and start again`,
    )
  }
  return existing.size === names.length ? 'whole' : 'some'
}

function compact(text: string): string {
  return text.replace(/\s+/g, '')
}

/** Which of these tables and views exist in the current database, each with its sorting key. */
async function existingTables(client: ClickHouseClient, names: readonly string[]): Promise<Map<string, string>> {
  const result = await client.query({
    query:
      'SELECT name, sorting_key FROM system.tables WHERE database = currentDatabase() AND name IN {names:Array(String)}',
    query_params: { names },
    format: 'JSONEachRow',
  })
  return new Map((await result.json<{ name: string; sorting_key: string }>()).map((row) => [row.name, row.sorting_key]))
}

async function tableColumns(
  client: ClickHouseClient,
  tables: readonly string[],
): Promise<Map<string, Map<string, string>>> {
  const result = await client.query({
    query:
      'SELECT table, name, type FROM system.columns WHERE database = currentDatabase() AND table IN {tables:Array(String)}',
    query_params: { tables },
    format: 'JSONEachRow',
  })
  const columns = new Map<string, Map<string, string>>()
  for (const row of await result.json<{ table: string; name: string; type: string }>()) {
    const table = columns.get(row.table) ?? new Map<string, string>()
    table.set(row.name, row.type)
    columns.set(row.table, table)
  }
  return columns
}
