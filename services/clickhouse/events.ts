import type { ClickHouseClient } from '@clickhouse/client'
import { classifyInsertError } from './errors.js'
import { EVENT_COLUMNS, eventRows } from './event-rows.js'
import type { EventStore, OffsetEvent, OffsetPart, OffsetRange } from './interfaces.js'

/** The insert_deduplication_token of a range, or of a part of it (a namespace of its own: `range/part`). */
export function insertToken(range: OffsetRange, part?: OffsetPart): string {
  const token = `${range.topic}:${range.partition}:${range.firstOffset}-${range.lastOffset}`
  return part === undefined ? token : `${token}/${part.first}-${part.last}`
}

/**
 * Where in its partition an event was read: its message's offset, and `.index` after it for an
 * event past the first line of its message. A message of one event reads as its offset alone, as
 * before messages held several, so tokens of parts named before then are named the same.
 */
export function positionOf(offset: string, index: number | undefined): string {
  return index === undefined || index === 0 ? offset : `${offset}.${index}`
}

/**
 * Inserts events into events_raw with a deduplication token naming their offset range, so a replay
 * of the range is dropped by ClickHouse, in the materialized views too. A worker's batch is far
 * below max_insert_block_size, so it is one block: a refused row leaves nothing of the insert behind.
 */
export class ClickHouseEventStore implements EventStore {
  constructor(private readonly client: ClickHouseClient) {}

  async insert(events: readonly OffsetEvent[], range: OffsetRange, part?: OffsetPart): Promise<void> {
    if (events.length === 0) return
    const rows = eventRows(events, range.topic, range.partition)
    try {
      await this.client.command({
        query: `INSERT INTO events_raw (${EVENT_COLUMNS.join(', ')}) FORMAT TabSeparated\n${rows}`,
        clickhouse_settings: {
          insert_deduplication_token: insertToken(range, part),
          deduplicate_blocks_in_dependent_materialized_views: 1,
          // On a cluster the insert returns once the shards wrote it, and each shard deduplicates its part.
          insert_distributed_sync: 1,
          date_time_input_format: 'basic',
        },
      })
    } catch (err) {
      throw classifyInsertError(err)
    }
  }
}
