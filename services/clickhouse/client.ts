import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config.js'
import { PROJECT_ROOT } from '../paths.js'
import { clusterStatement } from './cluster.js'

export type { ClickHouseClient }

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>

/**
 * A ClickHouse server over HTTP when a URL is configured; otherwise the embedded engine, which
 * binds one data folder per process. The code and the SQL are the same on both.
 */
export async function createClickHouse(config: Config): Promise<ClickHouseClient> {
  const { url, path, user, password, database } = config.clickhouse
  if (url !== undefined) {
    return createClient({ url, username: user, password, database })
  }
  mkdirSync(path, { recursive: true })
  const { createChdbConnection } = await import('chdb/connection')
  // chdb types its connection against @clickhouse/client-common, which the client bundles as its
  // own copy: the shapes are the same, the declarations are not.
  const connection = createChdbConnection({ path }) as unknown as ClientConnection
  return createClient({ connection })
}

export const MIGRATIONS_DIR = join(PROJECT_ROOT, 'schemas', 'clickhouse')

/** The statements of every migration file, in file-name order, each written to be safe to run again. */
export function readMigrations(dir = MIGRATIONS_DIR): { file: string; statements: string[] }[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => ({ file, statements: splitStatements(readFileSync(join(dir, file), 'utf8')) }))
}

export function splitStatements(sql: string): string[] {
  return sql
    .replace(/^\s*--.*$/gm, '')
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter(Boolean)
}

/**
 * Applies every migration; each statement is idempotent (IF NOT EXISTS), so this runs at every
 * start. With a cluster name, in their cluster form: replicated local tables under Distributed ones.
 */
export async function migrate(client: ClickHouseClient, cluster?: string, dir = MIGRATIONS_DIR): Promise<number> {
  let applied = 0
  for (const { statements } of readMigrations(dir)) {
    for (const statement of statements) {
      for (const query of cluster === undefined ? [statement] : clusterStatement(statement, cluster)) {
        await client.command({ query })
        applied++
      }
    }
  }
  return applied
}
