import { z } from 'zod'
import { CATEGORIES } from '../../schemas/event.js'
import { REGION_CODES } from '../../schemas/regions.js'
import { SECTORS } from '../../schemas/sectors.js'
import { QalqanError } from '../errors.js'

/**
 * A whole number in a query string, from `min` to `max`. The OpenAPI document states it as an
 * integer with these bounds (openapi.ts reads them from the pipe's output).
 */
export const wholeNumber = (min: number, max: number, error = `must be a whole number from ${min} to ${max}`) =>
  z
    .string()
    .regex(/^\d{1,16}$/, { error })
    .transform(Number)
    .pipe(z.int().min(min, { error }).max(max, { error }))

const time = (example: string, description: string) =>
  z.iso
    .datetime({ offset: true, error: `must be an ISO 8601 time with an offset, such as ${example}` })
    .meta({ example, description })

/** The filters every analyst endpoint takes: a time range and, optionally, what to narrow it to. */
export const Filters = z.strictObject({
  from: time('2025-03-01T00:00:00Z', 'start of the range, included'),
  to: time('2025-03-02T00:00:00Z', 'end of the range, excluded: must be after from'),
  sector: z.enum(SECTORS).optional(),
  region: z.enum(REGION_CODES).optional().meta({ description: 'ISO 3166-2:KZ code', example: 'KZ-71' }),
  category: z.enum(CATEGORIES).optional(),
  severity: wholeNumber(1, 4, 'must be 1, 2, 3 or 4').optional().meta({ description: '1 low .. 4 critical' }),
  src_country: z
    .string()
    .regex(/^[A-Z]{2}$/, { error: 'must be an ISO 3166-1 alpha-2 code such as CN' })
    .optional()
    .meta({ description: "the attacker's country, ISO 3166-1 alpha-2", example: 'CN' }),
  org: z.string().min(1).max(256).optional().meta({ description: 'the target organisation, as registered' }),
})

export type Filters = z.output<typeof Filters>

/** Columns a filter may name: a closed list, so no identifier ever comes from a request. */
const FILTER_COLUMNS = {
  sector: 'String',
  region: 'String',
  category: 'String',
  severity: 'UInt8',
  src_country: 'String',
  org: 'String',
} as const

export interface Where {
  sql: string
  params: Record<string, string | number>
}

/** A WHERE clause over a time column and the filters; every value is a bound parameter. */
export function whereClause(
  filters: Filters,
  timeColumn: 'window_start' | 'occurred_at',
  range: { from: Date; to: Date },
): Where {
  const timeType = timeColumn === 'window_start' ? "DateTime('UTC')" : "DateTime64(3, 'UTC')"
  const clauses = [`${timeColumn} >= {from:${timeType}}`, `${timeColumn} < {to:${timeType}}`]
  const time = (date: Date) =>
    timeColumn === 'window_start' ? clickhouseTime(date).slice(0, 19) : clickhouseTime(date)
  const params: Record<string, string | number> = { from: time(range.from), to: time(range.to) }
  for (const [name, type] of Object.entries(FILTER_COLUMNS) as [keyof typeof FILTER_COLUMNS, string][]) {
    const value = filters[name]
    if (value === undefined) continue
    clauses.push(`${name} = {${name}:${type}}`)
    params[name] = value
  }
  return { sql: clauses.join(' AND '), params }
}

/** The range as dates, checked: from before to, and no longer than the limit. */
export function checkedRange(filters: Filters, maxRangeDays: number): { from: Date; to: Date } {
  const from = new Date(filters.from)
  const to = new Date(filters.to)
  if (!(from.getTime() < to.getTime()))
    throw new QalqanError(
      'QLQ_ERR_INVALID_QUERY',
      'from must be before to: to is excluded, so a range must be at least one millisecond long',
    )
  if (to.getTime() - from.getTime() > maxRangeDays * 86_400_000) {
    throw new QalqanError(
      'QLQ_ERR_INVALID_QUERY',
      `the range is longer than ${maxRangeDays} days (QALQAN_QUERY_MAX_RANGE_DAYS): narrow it`,
    )
  }
  return { from, to }
}

/** `2025-03-01 03:15:00.000`: a UTC time as ClickHouse reads a DateTime64(3) parameter. */
export function clickhouseTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '')
}
