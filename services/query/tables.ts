/**
 * The aggregate tables and the time steps they can serve. A step is read from the coarsest table
 * whose window divides it, so long ranges read few rows. Hour and day tables count whole UTC hours
 * and days: a range that does not start on one includes all of its first window.
 */
export const STEPS = {
  '1m': { seconds: 60, table: 'attacks_1m' },
  '5m': { seconds: 300, table: 'attacks_1m' },
  '15m': { seconds: 900, table: 'attacks_1m' },
  '1h': { seconds: 3600, table: 'attacks_1h' },
  '6h': { seconds: 21_600, table: 'attacks_1h' },
  '1d': { seconds: 86_400, table: 'attacks_1d' },
  '7d': { seconds: 604_800, table: 'attacks_1d' },
} as const

export type Step = keyof typeof STEPS
export type AggregateTable = (typeof STEPS)[Step]['table']

export const STEP_NAMES = Object.keys(STEPS) as [Step, ...Step[]]

/** The smallest step that keeps a series under `maxPoints` points. */
export function autoStep(rangeMs: number, maxPoints = 300): Step {
  return STEP_NAMES.find((step) => rangeMs / (STEPS[step].seconds * 1000) <= maxPoints) ?? '7d'
}

/** The table for totals over a range: minutes up to two days, hours up to ninety, else days. */
export function tableForRange(rangeMs: number): AggregateTable {
  if (rangeMs <= 2 * 86_400_000) return 'attacks_1m'
  if (rangeMs <= 90 * 86_400_000) return 'attacks_1h'
  return 'attacks_1d'
}
