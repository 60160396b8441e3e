import { type ClickHouseClient, TupleParam } from '@clickhouse/client'
import { positionOf } from './events.js'
import type { EventKey, Ledger, OffsetRange, PlannedRange } from './interfaces.js'

type RangeStart = Omit<OffsetRange, 'lastOffset'>

/** Keys asked about in one query: its parameters stay far below a server's URL limit (1 MiB). */
export const STORED_IDS_PER_QUERY = 1_000

/**
 * The worker's batch ledger in worker_batches, and what events_raw holds of a partition.
 *
 * Two workers may plan a range at the same offset (both held the partition for a moment during a
 * rebalance, and both read the ledger before either wrote it). Each plan is inserted with the same
 * insert_deduplication_token, so on a table that deduplicates inserts only the first is kept; on one
 * that keeps both, the reader takes the first written: the lowest block number, from the part's
 * name. Blocks are numbered when an insert is committed, which is also when it becomes visible, so
 * a plan that anyone has read stays the first: one written after it gets a higher number. Every
 * reader, through the embedded engine or a server, orders the same rows the same way.
 */
export class ClickHouseLedger implements Ledger {
  constructor(private readonly client: ClickHouseClient) {}

  async planned(start: RangeStart): Promise<PlannedRange | undefined> {
    const result = await this.client.query({
      query: `SELECT toString(first_offset) AS first, toString(last_offset) AS last FROM worker_batches
              WHERE topic = {topic:String} AND partition = {partition:UInt32}
                AND first_offset IN (
                  SELECT DISTINCT first_offset FROM worker_batches
                  WHERE topic = {topic:String} AND partition = {partition:UInt32} AND first_offset >= {first:UInt64}
                  ORDER BY first_offset LIMIT 2)
              ORDER BY first_offset, toUInt64OrZero(splitByChar('_', _part)[2])`,
      query_params: { topic: start.topic, partition: start.partition, first: start.firstOffset },
      format: 'JSONEachRow',
    })
    const rows = await result.json<{ first: string; last: string }>()
    const [planned] = rows
    if (planned === undefined || planned.first !== start.firstOffset) return undefined
    const next = rows.find((row) => row.first !== start.firstOffset)
    return next !== undefined && BigInt(next.first) <= BigInt(planned.last)
      ? { lastOffset: planned.last, cutAt: next.first }
      : { lastOffset: planned.last }
  }

  /** The last offset of the range planned first at this offset, if one was, before any cut. */
  async plannedLastOffset(start: RangeStart): Promise<string | undefined> {
    return (await this.planned(start))?.lastOffset
  }

  async plan(range: OffsetRange): Promise<void> {
    await this.client.insert({
      table: 'worker_batches',
      values: [
        {
          topic: range.topic,
          partition: range.partition,
          first_offset: range.firstOffset,
          last_offset: range.lastOffset,
        },
      ],
      format: 'JSONEachRow',
      clickhouse_settings: {
        insert_deduplication_token: `plan:${range.topic}:${range.partition}:${range.firstOffset}`,
        // The plan must be readable by everyone once this returns.
        async_insert: 0,
        insert_distributed_sync: 1,
      },
    })
  }

  async plannedBefore(start: RangeStart): Promise<string | undefined> {
    const result = await this.client.query({
      query: `SELECT toString(max(last_offset)) AS last, count() AS n FROM worker_batches
              WHERE topic = {topic:String} AND partition = {partition:UInt32}
                AND first_offset IN (
                  SELECT first_offset FROM worker_batches
                  WHERE topic = {topic:String} AND partition = {partition:UInt32} AND first_offset < {first:UInt64}
                  ORDER BY first_offset DESC LIMIT 1)`,
      query_params: { topic: start.topic, partition: start.partition, first: start.firstOffset },
      format: 'JSONEachRow',
    })
    // 64-bit counts come back as strings from a server and as numbers from the embedded engine.
    const [row] = await result.json<{ last: string; n: string | number }>()
    return row !== undefined && Number(row.n) > 0 ? row.last : undefined
  }

  async storedPositions(range: OffsetRange): Promise<string[]> {
    const result = await this.client.query({
      query: `SELECT DISTINCT toString(kafka_offset) AS offset, kafka_index AS index FROM events_raw
              WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
                AND kafka_offset >= {first:UInt64} AND kafka_offset <= {last:UInt64}`,
      query_params: {
        topic: range.topic,
        partition: range.partition,
        first: range.firstOffset,
        last: range.lastOffset,
      },
      format: 'JSONEachRow',
    })
    return (await result.json<{ offset: string; index: number }>()).map((row) => positionOf(row.offset, row.index))
  }

  async recallEventIds(
    topic: string,
    partition: number,
    beforeOffset: string,
    count: number,
    receivedSince: string | undefined,
    each: (key: EventKey) => void,
  ): Promise<void> {
    const before = BigInt(beforeOffset)
    const from = before > BigInt(count) ? before - BigInt(count) : 0n
    const result = await this.client.query({
      query: `SELECT sensor_id, toString(event_id) AS id FROM events_raw
              WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
                AND kafka_offset >= {from:UInt64} AND kafka_offset < {before:UInt64}
                AND received_at >= parseDateTime64BestEffort({since:String}, 3, 'UTC')
              ORDER BY kafka_offset`,
      query_params: {
        topic,
        partition,
        from: from.toString(),
        before: before.toString(),
        since: receivedSince ?? '1970-01-01T00:00:00Z',
      },
      format: 'JSONEachRow',
    })
    // Streamed: a window of minutes at a national rate is millions of rows.
    for await (const rows of result.stream<{ sensor_id: string; id: string }>()) {
      for (const row of rows) {
        const { sensor_id: sensorId, id: eventId } = row.json()
        each({ sensorId, eventId })
      }
    }
  }

  async storedEventIds(keys: readonly EventKey[]): Promise<EventKey[]> {
    const stored: EventKey[] = []
    for (let start = 0; start === 0 || start < keys.length; start += STORED_IDS_PER_QUERY) {
      const chunk = keys.slice(start, start + STORED_IDS_PER_QUERY)
      // events_raw is not ordered by id: reading the sensors' rows first keeps the scan to their ids.
      const result = await this.client.query({
        query: `SELECT DISTINCT sensor_id, toString(event_id) AS id FROM events_raw
                PREWHERE sensor_id IN {sensors:Array(String)}
                WHERE (sensor_id, event_id) IN {keys:Array(Tuple(String, UUID))}`,
        query_params: {
          sensors: [...new Set(chunk.map((key) => key.sensorId))],
          keys: chunk.map((key) => new TupleParam([key.sensorId, key.eventId])),
        },
        format: 'JSONEachRow',
      })
      for (const row of await result.json<{ sensor_id: string; id: string }>())
        stored.push({ sensorId: row.sensor_id, eventId: row.id })
    }
    return stored
  }

  /** The sensor and event ids stored from the `count` offsets before `beforeOffset`, oldest first. */
  async recentEventIds(topic: string, partition: number, beforeOffset: string, count: number): Promise<EventKey[]> {
    const keys: EventKey[] = []
    await this.recallEventIds(topic, partition, beforeOffset, count, undefined, (key) => keys.push(key))
    return keys
  }
}
