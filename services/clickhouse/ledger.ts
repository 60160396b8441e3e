import type { CanonicalEvent } from '../../schemas/event.js'
import type { ClickHouseClient } from './client.js'

/** A Kafka partition's offset range: the unit that the worker writes and commits. */
export interface OffsetRange {
  topic: string
  partition: number
  firstOffset: string
  lastOffset: string
}

export interface OffsetEvent {
  offset: string
  event: CanonicalEvent
}

/**
 * Writes accepted events to events_raw, whose materialized views keep the minute, hour and day
 * aggregates; and keeps the batch ledger. Each insert carries a deduplication token naming its
 * offset range, so a replay of the range is dropped by ClickHouse, in the views too.
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

  /** The event ids written from the `count` offsets before `beforeOffset`, oldest first. */
  async recentEventIds(topic: string, partition: number, beforeOffset: string, count: number): Promise<string[]> {
    const before = BigInt(beforeOffset)
    const from = before > BigInt(count) ? before - BigInt(count) : 0n
    const result = await this.client.query({
      query: `SELECT toString(event_id) AS id FROM events_raw
              WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
                AND kafka_offset >= {from:UInt64} AND kafka_offset < {before:UInt64}
              ORDER BY kafka_offset`,
      query_params: { topic, partition, from: from.toString(), before: before.toString() },
      format: 'JSONEachRow',
    })
    return (await result.json<{ id: string }>()).map((row) => row.id)
  }

  async writeEvents(events: readonly OffsetEvent[], range: OffsetRange): Promise<void> {
    if (events.length === 0) return
    await this.client.insert({
      table: 'events_raw',
      values: events.map(({ offset, event }) => ({ ...event, kafka_topic: range.topic, kafka_partition: range.partition, kafka_offset: offset })),
      format: 'JSONEachRow',
      clickhouse_settings: {
        insert_deduplication_token: `${range.topic}:${range.partition}:${range.firstOffset}-${range.lastOffset}`,
        deduplicate_blocks_in_dependent_materialized_views: 1,
        // On a cluster the insert returns once the shards wrote it, and each shard deduplicates its part.
        insert_distributed_sync: 1,
        date_time_input_format: 'best_effort',
        input_format_skip_unknown_fields: 1,
      },
    })
  }
}
