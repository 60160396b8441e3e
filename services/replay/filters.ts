import type { RejectedRecord } from '../../schemas/rejected.js'

/** Which rejection records a replay takes; an absent field takes them all. */
export interface Filters {
  readonly sensors?: ReadonlySet<string>
  readonly formats?: ReadonlySet<string>
  /** A substring of the reason, or a regular expression written `/.../flags`. */
  readonly reason?: string | RegExp
  /** received_at at or after this instant (ms since the epoch). */
  readonly since?: number
  /** received_at before this instant (ms since the epoch). */
  readonly until?: number
}

export const FILTER_OPTIONS = ['sensor', 'format', 'reason', 'since', 'until'] as const

const DATE = /^\d{4}-\d{2}-\d{2}$/
const TIME_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/i

/** The filters the options name, or every problem with them (each saying what to write instead). */
export function parseFilters(options: ReadonlyMap<string, string>): { filters: Filters } | { problems: string[] } {
  const problems: string[] = []
  const list = (name: string) => {
    const value = options.get(name)
    if (value === undefined) return undefined
    const items = value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '')
    if (items.length === 0) problems.push(`--${name} needs a value, or several separated by commas`)
    return new Set(items)
  }
  const instant = (name: string) => {
    const value = options.get(name)
    if (value === undefined) return undefined
    const ms = DATE.test(value)
      ? Date.parse(`${value}T00:00:00Z`)
      : TIME_WITH_ZONE.test(value)
        ? Date.parse(value)
        : NaN
    if (Number.isNaN(ms)) {
      problems.push(
        `--${name}=${JSON.stringify(value.slice(0, 40))}: write a date (2025-03-01, UTC) or a time with its zone (2025-03-01T10:00:00+05:00)`,
      )
    }
    return ms
  }
  const filters: Filters = {
    sensors: list('sensor'),
    formats: list('format'),
    reason: reasonFilter(options.get('reason'), problems),
    since: instant('since'),
    until: instant('until'),
  }
  if (filters.since !== undefined && filters.until !== undefined && filters.since >= filters.until) {
    problems.push('--since must come before --until')
  }
  return problems.length > 0 ? { problems } : { filters }
}

function reasonFilter(value: string | undefined, problems: string[]): string | RegExp | undefined {
  if (value === undefined) return undefined
  if (value === '') {
    problems.push('--reason needs a value: a part of the reason, or /a regular expression/')
    return undefined
  }
  const regex = /^\/(.+)\/([a-z]*)$/s.exec(value)
  if (regex === null) return value
  try {
    // g and y would make test() remember where it stopped.
    return new RegExp(regex[1] as string, (regex[2] as string).replace(/[gy]/g, ''))
  } catch (err) {
    problems.push(`--reason=${value.slice(0, 60)}: not a regular expression (${(err as Error).message})`)
    return undefined
  }
}

/** Whether a record is one the filters take. */
export function matches(filters: Filters, record: RejectedRecord): boolean {
  if (filters.sensors !== undefined && (record.sensor_id === null || !filters.sensors.has(record.sensor_id)))
    return false
  if (filters.formats !== undefined && !filters.formats.has(record.format)) return false
  if (filters.reason !== undefined) {
    const { reason } = filters
    if (typeof reason === 'string' ? !record.reason.includes(reason) : !reason.test(record.reason)) return false
  }
  if (filters.since !== undefined || filters.until !== undefined) {
    const received = Date.parse(record.received_at)
    if (filters.since !== undefined && !(received >= filters.since)) return false
    if (filters.until !== undefined && !(received < filters.until)) return false
  }
  return true
}
