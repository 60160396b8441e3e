import type { ClickHouseClient } from '@clickhouse/client'
import type { Config } from '../config.js'
import { quoteIdentifier } from './cluster.js'

/** The time each table's TTL counts from, as its DDL in schemas/clickhouse/ writes it. */
const TTL_FROM = {
  events_raw: 'toDateTime(received_at)',
  attacks_1m: 'window_start',
  attacks_1h: 'window_start',
  attacks_1d: 'window_start',
} as const

/**
 * Sets each table's TTL to the configured days where it differs, and only there: a changed TTL
 * makes ClickHouse rewrite the table's parts. Returns the tables changed.
 */
export async function applyRetention(
  client: ClickHouseClient,
  retentionDays: Config['retentionDays'],
  cluster?: string,
): Promise<string[]> {
  const changed: string[] = []
  for (const [table, from] of Object.entries(TTL_FROM) as [keyof typeof TTL_FROM, string][]) {
    const days = retentionDays[table]
    // On a cluster the rows live in the replicated <table>_local on every node.
    const target = cluster === undefined ? table : `${table}_local`
    if ((await currentTtlDays(client, target)) === days) continue
    // Identifiers from the closed list above and a validated whole number: nothing from outside is spliced in.
    const on = cluster === undefined ? '' : ` ON CLUSTER ${quoteIdentifier(cluster)}`
    await client.command({ query: `ALTER TABLE ${target}${on} MODIFY TTL ${from} + INTERVAL ${Math.trunc(days)} DAY` })
    changed.push(target)
  }
  return changed
}

async function currentTtlDays(client: ClickHouseClient, table: string): Promise<number | undefined> {
  const result = await client.query({
    query: 'SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}',
    query_params: { table },
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ engine_full: string }>()
  const match = /TTL .*?(?:toIntervalDay\((\d+)\)|INTERVAL (\d+) DAY)/.exec(row?.engine_full ?? '')
  const days = match?.[1] ?? match?.[2]
  return days === undefined ? undefined : Number(days)
}
