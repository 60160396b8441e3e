import type { ClickHouseClient } from '../adapters/clickhouse.js'
import type { MinuteRow } from '../transforms/aggregate.js'

/**
 * Writes minute rows to attacks_1m. The token names the Kafka offsets the rows came from, so a
 * replay of the same batch after a crash is dropped by ClickHouse's insert deduplication.
 */
export class ClickHouseSink {
  constructor(private readonly client: ClickHouseClient) {}

  async write(rows: readonly MinuteRow[], deduplicationToken: string): Promise<void> {
    if (rows.length === 0) return
    await this.client.insert({
      table: 'attacks_1m',
      values: [...rows],
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: deduplicationToken },
    })
  }
}
