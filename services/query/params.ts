import { z } from 'zod'
import { Filters } from './filters.js'
import { STEP_NAMES } from './tables.js'

/** Dimensions an answer may be grouped or ranked by: a closed list, never an identifier from a request. */
export const DIMENSIONS = ['sector', 'region', 'category', 'severity', 'src_country', 'org'] as const
export const TOP_BY = [...DIMENSIONS, 'signature'] as const

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
      .transform((value, ctx) => {
        const names = value.split(',').filter(Boolean)
        const unknown = names.filter((name) => !(DIMENSIONS as readonly string[]).includes(name))
        if (unknown.length > 0 || names.length > 2) {
          ctx.addIssue({ code: 'custom', message: `must be up to two of ${DIMENSIONS.join(', ')}, comma-separated` })
          return z.NEVER
        }
        return names as (typeof DIMENSIONS)[number][]
      })
      .optional()
      .meta({ description: `up to two of ${DIMENSIONS.join(', ')}, comma-separated`, example: 'sector,region' }),
    ...csvOption,
  }),
  top: Filters.extend({
    by: z.enum(TOP_BY),
    n: z
      .string()
      .regex(/^\d{1,3}$/, { error: 'must be a whole number from 1 to 100' })
      .transform(Number)
      .pipe(z.int().min(1).max(100))
      .default(10),
    ...csvOption,
  }),
  matrix: Filters.extend(csvOption),
  events: Filters.extend({
    limit: z
      .string()
      .regex(/^\d{1,4}$/, { error: 'must be a whole number from 1 to 1000' })
      .transform(Number)
      .pipe(z.int().min(1).max(1000))
      .default(100),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/, { error: 'must be the next_cursor of a previous answer' })
      .optional(),
    ...csvOption,
  }),
} as const
