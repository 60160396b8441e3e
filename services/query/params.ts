import { z } from 'zod'
import { Filters, wholeNumber } from './filters.js'
import { STEP_NAMES } from './tables.js'

/** Dimensions an answer may be grouped or ranked by: a closed list, never an identifier from a request. */
export const DIMENSIONS = ['sector', 'region', 'category', 'severity', 'src_country', 'org'] as const
export const TOP_BY = [...DIMENSIONS, 'signature'] as const

const dimension = `(?:${DIMENSIONS.join('|')})`
/** Up to two dimensions, comma-separated, or nothing at all. */
const GROUP_BY_PATTERN = new RegExp(`^(?:${dimension}(?:,${dimension})?)?$`)

/** What every refused cursor is told: a cursor is opaque, so the only remedy is a fresh start. */
export const INVALID_CURSOR =
  'invalid cursor: pass the next_cursor of the previous answer to the same query unchanged, or restart from the first page without cursor'

const csvOption = {
  format: z.enum(['json', 'csv']).optional().meta({ description: 'csv for a table; or send Accept: text/csv' }),
}

export const QUERIES = {
  summary: Filters,
  timeseries: Filters.extend({
    step: z
      .enum(['auto', ...STEP_NAMES])
      .default('auto')
      .meta({ description: 'the width of each point; auto keeps a series under 300 points' }),
    group_by: z
      .string()
      .regex(GROUP_BY_PATTERN, { error: `must be up to two of ${DIMENSIONS.join(', ')}, comma-separated` })
      .transform((value) => [...new Set(value.split(',').filter(Boolean))] as (typeof DIMENSIONS)[number][])
      .optional()
      .meta({
        description: `up to two of ${DIMENSIONS.join(', ')}, comma-separated; empty for no grouping`,
        example: 'sector,region',
      }),
    ...csvOption,
  }),
  top: Filters.extend({
    by: z.enum(TOP_BY),
    n: wholeNumber(1, 100).default(10).meta({ description: 'how many to rank' }),
    ...csvOption,
  }),
  matrix: Filters.extend(csvOption),
  events: Filters.extend({
    limit: wholeNumber(1, 1000).default(100).meta({ description: 'events per page' }),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/, { error: INVALID_CURSOR })
      .optional()
      .meta({ description: 'the next_cursor of the previous page, unchanged; omit for the first page' }),
    ...csvOption,
  }),
} as const
