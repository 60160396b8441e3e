/** What one process can run. `all` is every role in one process, for a laptop or a small site. */
export const ROLES = {
  collector: 'HTTP ingest from sensors: authenticate, validate, normalize, produce to Kafka',
  worker: 'consume the events topic, aggregate by sector and region, write to ClickHouse',
  query: 'read-only analyst API over the aggregates in ClickHouse',
} as const

export type Role = keyof typeof ROLES

export const ROLE_NAMES = Object.keys(ROLES) as Role[]

/** Parses `all` or a comma-separated list of role names; throws with the allowed names. */
export function parseRoles(value: string): Role[] {
  const names = value.split(',').map((name) => name.trim()).filter(Boolean)
  if (names.length === 1 && names[0] === 'all') return [...ROLE_NAMES]
  const unknown = names.filter((name) => !Object.hasOwn(ROLES, name))
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`unknown role "${unknown.join(',') || value}": allowed are all, ${ROLE_NAMES.join(', ')} (comma-separated)`)
  }
  return [...new Set(names as Role[])]
}
