import type { ClickHouseClient } from '@clickhouse/client'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../paths.js'
import { clusterStatement } from './cluster.js'

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
