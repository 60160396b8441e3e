import type { ClickHouseClient } from '../adapters/clickhouse.js'
import type { MinuteRow } from '../transforms/aggregate.js'

/** A Kafka partition's offset range: the unit that the worker writes and commits. */
export interface OffsetRange {
  topic: string
  partition: number
  firstOffset: string
  lastOffset: string
}

/**
 * Writes minute rows to attacks_1m, and keeps the batch ledger that makes a replay exact: rows
 * carry a deduplication token naming their offset range, and the ledger makes a replay cut the
 * same range again.
 */
export class ClickHouseSink {
  constructor(private readonly client: ClickHouseClient) {}

  /** The last offset of the batch that was planned to start at this offset, if one was. */
  async plannedLastOffset(range: Omit<OffsetRange, 'lastOffset'>): Promise<string | undefined> {
    const result = await this.client.query({
      query: `SELECT toString(max(last_offset)) AS last_offset, count() AS n FROM worker_batches
              WHERE topic = {topic:String} AND partition = {partition:UInt32} AND first_offset = {first:UInt64}`,
      query_params: { topic: range.topic, partition: range.partition, first: range.firstOffset },
      format: 'JSONEachRow',
    })
    // 64-bit counts come back as strings from a server and as numbers from the embedded engine.
    const [row] = await result.json<{ last_offset: string; n: string | number }>()
    return row !== undefined && Number(row.n) > 0 ? row.last_offset : undefined
  }

  async planBatch(range: OffsetRange): Promise<void> {
    await this.client.insert({
      table: 'worker_batches',
      values: [{ topic: range.topic, partition: range.partition, first_offset: range.firstOffset, last_offset: range.lastOffset }],
      format: 'JSONEachRow',
    })
  }

  async writeRows(rows: readonly MinuteRow[], range: OffsetRange): Promise<void> {
    if (rows.length === 0) return
    await this.client.insert({
      table: 'attacks_1m',
      values: [...rows],
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: tokenOf(range) },
    })
  }
}

function tokenOf(range: OffsetRange): string {
  return `${range.topic}:${range.partition}:${range.firstOffset}-${range.lastOffset}`
}
