import type { Config } from '../config.js'
import { createClickHouse } from './client.js'
import { explainClickHouseTls } from './tls.js'
import { ClickHouseEventStore } from './events.js'
import { withoutCredentials } from './location.js'
import type { EventStore, Ledger, Reader } from './interfaces.js'
import { ClickHouseLedger } from './ledger.js'
import { type MigrationReport, migrate } from './migrate.js'
import { applyRetention } from './retention.js'

export interface ClickHouse {
  readonly events: EventStore
  readonly ledger: Ledger
  readonly reader: Reader
  /** Where the data lives, for the log: a server's URL or the embedded engine's folder. */
  readonly location: string
  /**
   * Brings the schema to the program's last step (at every start): refuses a database newer than the
   * program or whose applied steps differ from it; returns the versions and what was run.
   */
  migrate(): Promise<MigrationReport>
  /** Sets each table's TTL to the configured days where it differs; returns the tables changed. */
  applyRetention(): Promise<string[]>
  close(): Promise<void>
}

/** A ClickHouse server when a URL is configured, else the embedded engine; the same SQL on both. */
export async function openClickHouse(config: Config): Promise<ClickHouse> {
  const client = await createClickHouse(config)
  const { cluster } = config.clickhouse
  if (config.clickhouse.url?.startsWith('https://') === true) {
    // A certificate that cannot be verified will not fix itself: stop here, naming the setting.
    const ping = await client.ping()
    const refused = ping.success ? undefined : explainClickHouseTls(ping.error, config.clickhouse)
    if (refused !== undefined) {
      await client.close()
      throw refused
    }
  }
  return {
    events: new ClickHouseEventStore(client),
    ledger: new ClickHouseLedger(client),
    reader: {
      rows: async <T>(query: string, params: Record<string, unknown>) => {
        const result = await client.query({ query, query_params: params, format: 'JSONEachRow' })
        return result.json<T>()
      },
    },
    location:
      config.clickhouse.url === undefined
        ? `embedded:${config.clickhouse.path}`
        : withoutCredentials(config.clickhouse.url),
    migrate: () => migrate(client, { cluster }),
    applyRetention: () => applyRetention(client, config.retentionDays, cluster),
    close: () => client.close(),
  }
}
