import type { ClickHouseClient } from '@clickhouse/client'
import type { EventStore, OffsetEvent, OffsetRange } from './interfaces.js'

/**
 * Inserts events into events_raw with a deduplication token naming their offset range, so a replay
 * of the range is dropped by ClickHouse, in the materialized views too.
 */
export class ClickHouseEventStore implements EventStore {
  constructor(private readonly client: ClickHouseClient) {}

  async insert(events: readonly OffsetEvent[], range: OffsetRange): Promise<void> {
    if (events.length === 0) return
    await this.client.insert({
      table: 'events_raw',
      values: events.map(({ offset, event }) => ({
        ...event,
        kafka_topic: range.topic,
        kafka_partition: range.partition,
        kafka_offset: offset,
      })),
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
