import type { RegionCode } from '../../../schemas/regions.js'

/**
 * Qalqan's own tile-grid map of Kazakhstan: one tile per first-level division, placed roughly
 * where the region lies (column west to east, row north to south). Drawn for this project, so no
 * third-party boundary data has to be licensed or fetched. The three cities of republican
 * significance sit beside the region around them.
 */
export const TILE_GRID: Record<RegionCode, { column: number; row: number; city?: true }> = {
  'KZ-59': { column: 3, row: 0 },
  'KZ-55': { column: 4, row: 0 },
  'KZ-27': { column: 0, row: 1 },
  'KZ-15': { column: 1, row: 1 },
  'KZ-39': { column: 2, row: 1 },
  'KZ-11': { column: 3, row: 1 },
  'KZ-71': { column: 4, row: 1, city: true },
  'KZ-63': { column: 5, row: 1 },
  'KZ-23': { column: 0, row: 2 },
  'KZ-43': { column: 1, row: 2 },
  'KZ-62': { column: 2, row: 2 },
  'KZ-35': { column: 3, row: 2 },
  'KZ-10': { column: 4, row: 2 },
  'KZ-47': { column: 0, row: 3 },
  'KZ-61': { column: 2, row: 3 },
  'KZ-31': { column: 3, row: 3 },
  'KZ-19': { column: 4, row: 3 },
  'KZ-33': { column: 5, row: 3 },
  'KZ-79': { column: 2, row: 4, city: true },
  'KZ-75': { column: 4, row: 4, city: true },
}

export const GRID_COLUMNS = 6
export const GRID_ROWS = 5
