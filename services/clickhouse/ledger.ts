import type { ClickHouseClient } from '@clickhouse/client'
import type { EventKey, Ledger, OffsetRange } from './interfaces.js'

/** The worker's batch ledger in worker_batches, and the sensor and event ids recalled from events_raw. */
export class ClickHouseLedger implements Ledger {
  constructor(private readonly client: ClickHouseClient) {}

  async plannedLastOffset(start: Omit<OffsetRange, 'lastOffset'>): Promise<string | undefined> {
    const result = await this.client.query({
      query: `SELECT toString(max(last_offset)) AS last_offset, count() AS n FROM worker_batches
              WHERE topic = {topic:String} AND partition = {partition:UInt32} AND first_offset = {first:UInt64}`,
      query_params: { topic: start.topic, partition: start.partition, first: start.firstOffset },
      format: 'JSONEachRow',
    })
    // 64-bit counts come back as strings from a server and as numbers from the embedded engine.
    const [row] = await result.json<{ last_offset: string; n: string | number }>()
    return row !== undefined && Number(row.n) > 0 ? row.last_offset : undefined
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
    })
  }

  async recentEventIds(topic: string, partition: number, beforeOffset: string, count: number): Promise<EventKey[]> {
    const before = BigInt(beforeOffset)
    const from = before > BigInt(count) ? before - BigInt(count) : 0n
    const result = await this.client.query({
      query: `SELECT sensor_id, toString(event_id) AS id FROM events_raw
              WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
                AND kafka_offset >= {from:UInt64} AND kafka_offset < {before:UInt64}
              ORDER BY kafka_offset`,
      query_params: { topic, partition, from: from.toString(), before: before.toString() },
      format: 'JSONEachRow',
    })
    return (await result.json<{ sensor_id: string; id: string }>()).map((row) => ({
      sensorId: row.sensor_id,
      eventId: row.id,
    }))
  }
}
