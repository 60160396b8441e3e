import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { mkdirSync } from 'node:fs'
import type { Config } from '../config.js'
import { clickhouseTls } from './tls.js'

export type { ClickHouseClient }

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>

/**
 * A ClickHouse server over HTTP when a URL is configured; otherwise the embedded engine, which
 * binds one data folder per process. The code and the SQL are the same on both.
 */
export async function createClickHouse(config: Config): Promise<ClickHouseClient> {
  const { url, path } = config.clickhouse
  if (url !== undefined) return createClient(serverOptions(config.clickhouse))
  mkdirSync(path, { recursive: true })
  const { createChdbConnection } = await import('chdb/connection')
  // chdb types its connection against @clickhouse/client-common, which the client bundles as its
  // own copy: the shapes are the same, the declarations are not.
  const connection = createChdbConnection({ path }) as unknown as ClientConnection
  return createClient({ connection })
}

type ServerOptions = NonNullable<Parameters<typeof createClient>[0]>

/** The client's options for a server: its URL, the credentials, and the CA and client certificate for https. */
export function serverOptions(clickhouse: Config['clickhouse']): ServerOptions {
  const { url, user, password, database } = clickhouse
  const tls = clickhouseTls(clickhouse.tls)
  return { url, username: user, password, database, ...(tls === undefined ? {} : { tls }) }
}
