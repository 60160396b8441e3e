import type { ClickHouseClient } from '../../services/clickhouse/client.js'
import { sortKeys } from './events.js'

export type AggregateTable = 'attacks_1m' | 'attacks_1h' | 'attacks_1d'

/** Events per sector|region|category|severity|country in a table, over windows starting in [from, to). */
export async function attackTotals(
  client: ClickHouseClient,
  table: AggregateTable,
  from: string,
  to: string,
): Promise<Record<string, number>> {
  const result = await client.query({
    // The table name comes from the closed type above.
    query: `SELECT concat(sector, '|', region, '|', category, '|', toString(severity), '|', src_country) AS key, sum(events) AS events
            FROM ${table}
            WHERE window_start >= {from:DateTime('UTC')} AND window_start < {to:DateTime('UTC')}
            GROUP BY key`,
    query_params: { from, to },
    format: 'JSONEachRow',
  })
  const rows = await result.json<{ key: string; events: string | number }>()
  return sortKeys(Object.fromEntries(rows.map((row) => [row.key, Number(row.events)])))
}

export async function rawEventCount(client: ClickHouseClient, topic: string): Promise<number> {
  const result = await client.query({
    query: 'SELECT count() AS n FROM events_raw WHERE kafka_topic = {topic:String}',
    query_params: { topic },
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ n: string | number }>()
  return Number(row?.n ?? 0)
}
