/** Rounding and percentiles for the figures. */

export const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits

/** Nearest-rank percentile of an ascending array; 0 for an empty one. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0
}
