import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../../paths.js'

/**
 * The schema as it stood before steps were recorded: the statements of schemas/clickhouse/*.sql,
 * in file-name order, which every earlier version ran at each start. Those files are this step: a
 * change to their statements changes its checksum, so a schema change is a new step instead.
 */
export const version = 1
export const name = 'initial'

export const SCHEMA_DIR = join(PROJECT_ROOT, 'schemas', 'clickhouse')

export const statements: readonly string[] = readdirSync(SCHEMA_DIR)
  .filter((file) => file.endsWith('.sql'))
  .sort()
  .flatMap((file) => splitStatements(readFileSync(join(SCHEMA_DIR, file), 'utf8')))

/** The statements of a SQL file: `--` comment lines dropped, split at each `;` that ends a line. */
export function splitStatements(sql: string): string[] {
  return sql
    .replace(/^\s*--.*$/gm, '')
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter(Boolean)
}
