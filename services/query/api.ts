import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { z } from 'zod'
import { REGION_CODES } from '../../schemas/regions.js'
import { SECTORS } from '../../schemas/sectors.js'
import type { ClickHouseClient } from '../adapters/clickhouse.js'
import type { Config } from '../config.js'
import { QalqanError } from '../errors.js'
import { requireRole } from '../http/auth.js'
import { createServer } from '../http/server.js'
import type { TokenRegistry } from '../tokens.js'
import { describeIssues } from '../transforms/validate.js'

export interface QueryDeps {
  readonly logger: Logger
  readonly tokens: () => TokenRegistry
  readonly clickhouse: ClickHouseClient
}

const MAX_ROWS = 100_000

const AggregatesQuery = z.strictObject({
  from: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time with an offset, such as 2025-03-01T00:00:00Z' }),
  to: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time with an offset, such as 2025-03-01T06:00:00Z' }),
  sector: z.enum(SECTORS).optional(),
  region: z.enum(REGION_CODES).optional(),
})

export interface AggregateRow {
  window_start: string
  sector: string
  region: string
  events: number
}

/** The analysts' read-only API over the aggregates. Every value reaches ClickHouse as a bound parameter. */
export function buildQueryApi(config: Config, deps: QueryDeps): FastifyInstance {
  const app = createServer(deps.logger, 'query', { maxBodyBytes: 1024 * 1024 })
  const analyst = requireRole(deps.tokens, 'analyst')

  app.get('/v1/aggregates', { preHandler: analyst }, async (request) => {
    const parsed = AggregatesQuery.safeParse(request.query)
    if (!parsed.success) throw new QalqanError('QLQ_ERR_INVALID_QUERY', describeIssues(parsed.error.issues))
    const { from, to, sector, region } = parsed.data
    const fromMs = Date.parse(from)
    const toMs = Date.parse(to)
    if (!(fromMs < toMs)) throw new QalqanError('QLQ_ERR_INVALID_QUERY', 'from must be before to')
    if (toMs - fromMs > config.query.maxRangeDays * 86_400_000) {
      throw new QalqanError('QLQ_ERR_INVALID_QUERY', `the range is longer than ${config.query.maxRangeDays} days (QALQAN_QUERY_MAX_RANGE_DAYS): narrow it`)
    }
    const rows = await selectRows(deps.clickhouse, {
      from: toClickHouseTime(fromMs),
      to: toClickHouseTime(toMs),
      sector: sector ?? '',
      region: region ?? '',
    })
    return {
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      truncated: rows.length > MAX_ROWS,
      rows: rows.slice(0, MAX_ROWS),
    }
  })

  return app
}

async function selectRows(clickhouse: ClickHouseClient, params: Record<string, string>): Promise<AggregateRow[]> {
  try {
    const result = await clickhouse.query({
      query: `
        SELECT window_start, sector, region, sum(events) AS events
        FROM attacks_1m
        WHERE window_start >= {from:DateTime('UTC')} AND window_start < {to:DateTime('UTC')}
          AND ({sector:String} = '' OR sector = {sector:String})
          AND ({region:String} = '' OR region = {region:String})
        GROUP BY window_start, sector, region
        ORDER BY window_start, sector, region
        LIMIT ${MAX_ROWS + 1}`,
      query_params: params,
      format: 'JSONEachRow',
    })
    const rows = await result.json<{ window_start: string; sector: string; region: string; events: string }>()
    return rows.map((row) => ({
      window_start: `${row.window_start.replace(' ', 'T')}Z`,
      sector: row.sector,
      region: row.region,
      events: Number(row.events),
    }))
  } catch (err) {
    throw new QalqanError('QLQ_ERR_CLICKHOUSE_UNAVAILABLE', undefined, { cause: err })
  }
}

function toClickHouseTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ')
}
