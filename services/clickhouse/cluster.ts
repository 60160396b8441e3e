/**
 * The schema's statements for a ClickHouse cluster: each table becomes `<name>_local`, replicated,
 * on every node (`ON CLUSTER`), with a Distributed table of the original name over it; materialized
 * views run on each node, from local table to local table; an ALTER of a table's columns changes the
 * local table and the Distributed one (one change per ALTER). The single-server statements of the
 * migration steps (migrations/) stay the one source; this rewrites them.
 */
export function clusterStatement(statement: string, cluster: string): string[] {
  const on = `ON CLUSTER ${quoteIdentifier(cluster)}`
  const table = /^CREATE TABLE IF NOT EXISTS (\w+)\s*\(/.exec(statement)
  if (table !== null) {
    const name = table[1] as string
    const local = `${name}_local`
    const replicated = statement
      .replace(/^CREATE TABLE IF NOT EXISTS \w+/, `CREATE TABLE IF NOT EXISTS ${local} ${on}`)
      .replace(
        /ENGINE = (\w*)MergeTree(\(([^)]*)\))?/,
        (_match, kind: string, _args: string | undefined, args: string | undefined) => {
          const path = `'/clickhouse/tables/{shard}/{database}/${local}', '{replica}'`
          return `ENGINE = Replicated${kind}MergeTree(${path}${args ? `, ${args}` : ''})`
        },
      )
      // Replicated tables deduplicate inserts by themselves; the window is for plain MergeTree.
      .replace(/\s*SETTINGS non_replicated_deduplication_window = \d+/, '')
    // events_raw is sharded by event id so that copies of an event meet on one shard; the
    // aggregates by their key.
    const shardKey = name === 'events_raw' ? 'cityHash64(event_id)' : 'rand()'
    const distributed = `CREATE TABLE IF NOT EXISTS ${name} ${on} AS ${local} ENGINE = Distributed(${quoteString(cluster)}, currentDatabase(), ${local}, ${shardKey})`
    return [replicated, distributed]
  }
  const view = /^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS/.exec(statement)
  if (view !== null) {
    const [, name, target] = view as unknown as [string, string, string]
    return [
      statement
        .replace(
          /^CREATE MATERIALIZED VIEW IF NOT EXISTS \w+ TO \w+ AS/,
          `CREATE MATERIALIZED VIEW IF NOT EXISTS ${name} ${on} TO ${target}_local AS`,
        )
        .replace(/\bFROM (\w+)\b/, 'FROM $1_local'),
    ]
  }
  const alter = /^ALTER TABLE (\w+) (.+)$/s.exec(statement)
  if (alter !== null) {
    const [, name, written] = alter as unknown as [string, string, string]
    const change = withoutDeduplicationWindow(written)
    if (change === undefined) return []
    const local = `ALTER TABLE ${name}_local ${on} ${change}`
    // The Distributed table has the columns of its local table; indexes, TTLs and the like are the data's.
    return /^(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b/.test(change)
      ? [local, `ALTER TABLE ${name} ${on} ${change}`]
      : [local]
  }
  throw new Error(`no cluster form for the statement: ${statement.slice(0, 80)}`)
}

/**
 * A MODIFY SETTING without non_replicated_deduplication_window, which replicated tables do without: they
 * deduplicate inserts by themselves. Undefined when nothing else is set; any other change as written.
 */
function withoutDeduplicationWindow(change: string): string | undefined {
  const modify = /^MODIFY SETTING (.+)$/s.exec(change)
  if (modify === null) return change
  const settings = (modify[1] as string).match(/(?:[^,']|'(?:[^'\\]|\\.)*')+/g) ?? []
  const kept = settings
    .map((setting) => setting.trim())
    .filter((setting) => !/^non_replicated_deduplication_window\s*=/.test(setting))
  return kept.length === 0 ? undefined : `MODIFY SETTING ${kept.join(', ')}`
}

/** A name as ClickHouse reads an identifier: in backquotes, a backquote doubled. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``
}

function quoteString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}
