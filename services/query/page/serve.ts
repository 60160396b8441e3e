import type { FastifyInstance, FastifyReply } from 'fastify'
import { CATEGORIES } from '../../../schemas/event.js'
import { REGION_CODES } from '../../../schemas/regions.js'
import { SECTORS } from '../../../schemas/sectors.js'
import type { Config } from '../../config.js'
import { pageHtml } from './html.js'
import { LABELS, LANGUAGE_NAMES } from './labels.js'
import { CATEGORY_NAMES, LANGUAGES, REGION_NAMES, SECTOR_NAMES, SEVERITY_NAMES } from './names.js'
import { SCRIPT } from './script.js'
import { STYLE } from './style.js'
import { GRID_COLUMNS, GRID_ROWS, TILE_GRID } from './tile-grid.js'

/** How often the page asks again, in seconds. */
export const REFRESH_SECONDS = 5

/**
 * The page reads nothing but this origin: no inline script, no third-party anything, and no
 * framing. The token travels in a header the script sets, so the page has no cookie to protect.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
}

/** What the page needs to know before it asks anything: limits, names in each language, the tile grid. */
export function pageSettings(config: Config) {
  return {
    maxRangeDays: config.query.maxRangeDays,
    retentionDays: config.retentionDays,
    refreshSeconds: REFRESH_SECONDS,
    languages: LANGUAGES,
    languageNames: LANGUAGE_NAMES,
    labels: LABELS,
    grid: { columns: GRID_COLUMNS, rows: GRID_ROWS },
    regions: REGION_CODES.map((code) => ({ code, ...TILE_GRID[code], ...REGION_NAMES[code] })),
    sectors: SECTORS.map((code) => ({ code, names: SECTOR_NAMES[code] })),
    categories: CATEGORIES.map((code) => ({ code, names: CATEGORY_NAMES[code] })),
    severities: (['1', '2', '3', '4'] as const).map((code) => ({ code, names: SEVERITY_NAMES[code] })),
  }
}

/**
 * The situation page at `/`: static text made once at start, no token needed to fetch it (the
 * numbers it shows come from the /v1 endpoints, which each check the analyst's token).
 */
export function serveSituationPage(app: FastifyInstance, config: Config): void {
  const files: Record<string, { type: string; body: string }> = {
    '/': { type: 'text/html; charset=utf-8', body: pageHtml(pageSettings(config)) },
    '/page/situation.js': { type: 'text/javascript; charset=utf-8', body: SCRIPT },
    '/page/situation.css': { type: 'text/css; charset=utf-8', body: STYLE },
  }
  for (const [path, file] of Object.entries(files)) {
    app.get(path, async (_request, reply: FastifyReply) => reply.headers(PAGE_HEADERS).type(file.type).send(file.body))
  }
}
