import type { FastifyInstance } from 'fastify'
import type { TlsOptions } from 'node:tls'
import type { Logger } from 'pino'
import type { z } from 'zod'
import { REGIONS } from '../../schemas/regions.js'
import type { Reader } from '../clickhouse/index.js'
import type { Config } from '../config.js'
import { describeIssues, QalqanError } from '../errors.js'
import { requireRole } from '../http/auth.js'
import { createServer } from '../http/server.js'
import type { TokenRegistry } from '../http/tokens.js'
import type { QueryAudit } from './audit.js'
import { AnswerCache, serializedLength } from './cache.js'
import { toCsv } from './csv.js'
import { checkedRange, clickhouseTime, whereClause, type Where } from './filters.js'
import { openApiDocument, docsPage } from './openapi.js'
import { INVALID_CURSOR, QUERIES } from './params.js'
import { serveSituationPage } from './page/serve.js'
import { checkUuidParams, readError } from './read-errors.js'
import { autoStep, STEPS, tableForRange, type AggregateTable } from './tables.js'

export interface QueryDeps {
  readonly logger: Logger
  readonly tokens: () => TokenRegistry
  readonly clickhouse: Reader
  /** Records who asked what; none in tests that do not look at it. */
  readonly audit?: QueryAudit | undefined
  /** HTTPS; plain HTTP without. */
  readonly tls?: TlsOptions | undefined
}

const MAX_SERIES_ROWS = 50_000
const EVENT_COLUMNS = [
  'event_id',
  'occurred_at',
  'received_at',
  'sensor_id',
  'sensor_type',
  'category',
  'severity',
  'signature',
  'signature_id',
  'mitre_technique',
  'src_ip',
  'src_port',
  'dst_ip',
  'dst_port',
  'protocol',
  'src_country',
  'src_scope',
  'org',
  'sector',
  'region',
  'count',
  'device',
  'log_source',
  'time_source',
] as const

/** Events of the last minutes are still arriving (sensors forward late): such a range's answer is not kept. */
const LIVE_EDGE_MS = 5 * 60_000

function endsNow(to: unknown): boolean {
  return typeof to === 'string' && Date.parse(to) > Date.now() - LIVE_EDGE_MS
}

/** The analysts' read-only API. Every value reaches ClickHouse as a bound parameter; identifiers come from closed lists. */
export function buildQueryApi(config: Config, deps: QueryDeps): FastifyInstance {
  const app = createServer(deps.logger, 'query', { maxBodyBytes: 1024 * 1024 }, deps.tls)
  const { audit } = deps
  const analyst = requireRole(deps.tokens, 'analyst')
  const cache = new AnswerCache(config.query.cacheSeconds * 1000, config.query.cacheMaxBytes, (answer) =>
    serializedLength((answer as { body: unknown }).body),
  )
  const { maxRangeDays } = config.query

  const read = async <T>(query: string, params: Record<string, unknown>): Promise<T[]> => {
    checkUuidParams(query, params)
    try {
      return await deps.clickhouse.rows<T>(query, params)
    } catch (err) {
      const known = readError(err)
      if (known.status === 400) deps.logger.warn({ err }, 'ClickHouse refused a value that the checks let through')
      throw known
    }
  }

  /** Parses the query string, then answers from the cache or `answer`, as JSON or CSV. */
  const route = <S extends z.ZodType<Record<string, unknown>>>(
    path: string,
    schema: S,
    answer: (
      query: z.output<S>,
    ) => Promise<{ body: unknown; rows?: Record<string, unknown>[]; columns?: readonly string[] }>,
  ) =>
    app.get(path, { preHandler: analyst, ...(audit && { onResponse: audit.record }) }, async (request, reply) => {
      const parsed = schema.safeParse(request.query)
      if (parsed.success) audit?.note(request, { filters: parsed.data })
      else {
        const { issues } = parsed.error
        const cursorOnly = issues.every((issue) => issue.path[0] === 'cursor')
        throw new QalqanError(cursorOnly ? 'QLQ_ERR_INVALID_CURSOR' : 'QLQ_ERR_INVALID_QUERY', describeIssues(issues))
      }
      const wantsCsv =
        parsed.data['format'] === 'csv' ||
        (parsed.data['format'] === undefined && /\btext\/csv\b/.test(request.headers.accept ?? ''))
      const key = `${path}?${JSON.stringify(Object.entries(parsed.data).sort(([a], [b]) => (a < b ? -1 : 1)))}`
      const result = await cache.get(key, () => answer(parsed.data), endsNow(parsed.data['to']))
      audit?.note(request, { rows: result.rows?.length ?? 1 })
      if (wantsCsv && result.rows !== undefined && result.columns !== undefined)
        return reply.type('text/csv; charset=utf-8').send(toCsv(result.rows, result.columns))
      return result.body
    })

  route('/v1/summary', QUERIES.summary, async (filters) => {
    const range = checkedRange(filters, maxRangeDays)
    const length = range.to.getTime() - range.from.getTime()
    const table = tableForRange(length)
    const previousRange = { from: new Date(range.from.getTime() - length), to: range.from }
    const [current, previous] = await Promise.all([
      totals(table, whereClause(filters, 'window_start', range)),
      totals(table, whereClause(filters, 'window_start', previousRange)),
    ])
    return {
      body: {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        table,
        ...current,
        previous: {
          from: previousRange.from.toISOString(),
          to: previousRange.to.toISOString(),
          events: previous.events,
          sources: previous.sources,
        },
        change: {
          events: percentChange(previous.events, current.events),
          sources: percentChange(previous.sources, current.sources),
        },
      },
    }
  })

  const totals = async (table: AggregateTable, where: Where) => {
    const [row] = await read<{
      events: string | number
      sources: string | number
      targets: string | number
      first_seen: string
      last_seen: string
    }>(
      `SELECT sum(events) AS events, uniqMerge(sources) AS sources, uniqMerge(targets) AS targets, min(first_seen) AS first_seen, max(last_seen) AS last_seen
       FROM ${table} WHERE ${where.sql}`,
      where.params,
    )
    const events = Number(row?.events ?? 0)
    return {
      events,
      sources: Number(row?.sources ?? 0),
      targets: Number(row?.targets ?? 0),
      first_seen: events > 0 && row !== undefined ? isoTime(row.first_seen) : null,
      last_seen: events > 0 && row !== undefined ? isoTime(row.last_seen) : null,
    }
  }

  route('/v1/timeseries', QUERIES.timeseries, async (query) => {
    const range = checkedRange(query, maxRangeDays)
    const step = query.step === 'auto' ? autoStep(range.to.getTime() - range.from.getTime()) : query.step
    const { seconds, table } = STEPS[step]
    const dims = query.group_by ?? []
    const where = whereClause(query, 'window_start', range)
    const rows = await read<Record<string, string | number>>(
      `SELECT toStartOfInterval(window_start, toIntervalSecond({step_seconds:UInt32})) AS t${dims.map((d) => `, ${d}`).join('')},
              sum(events) AS events, uniqMerge(sources) AS sources
       FROM ${table} WHERE ${where.sql}
       GROUP BY t${dims.map((d) => `, ${d}`).join('')} ORDER BY t${dims.map((d) => `, ${d}`).join('')}
       LIMIT ${MAX_SERIES_ROWS + 1}`,
      { ...where.params, step_seconds: seconds },
    )
    const points = rows.slice(0, MAX_SERIES_ROWS).map((row) => ({
      time: isoTime(String(row['t'])),
      ...Object.fromEntries(dims.map((d) => [d, d === 'severity' ? Number(row[d]) : row[d]])),
      events: Number(row['events']),
      sources: Number(row['sources']),
    }))
    return {
      body: {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        step,
        table,
        truncated: rows.length > MAX_SERIES_ROWS,
        points,
      },
      rows: points,
      columns: ['time', ...dims, 'events', 'sources'],
    }
  })

  route('/v1/top', QUERIES.top, async (query) => {
    const range = checkedRange(query, maxRangeDays)
    const fromRaw = query.by === 'signature'
    const where = whereClause(query, fromRaw ? 'occurred_at' : 'window_start', range)
    const table = tableForRange(range.to.getTime() - range.from.getTime())
    // `by` is one of the closed list TOP_BY, checked by the schema above.
    const sql = fromRaw
      ? `SELECT signature AS key, sum(count) AS events, uniq(src_ip) AS sources FROM events_raw WHERE ${where.sql}
         GROUP BY key ORDER BY events DESC, key LIMIT {n:UInt32}`
      : `SELECT ${query.by} AS key, sum(events) AS events, uniqMerge(sources) AS sources FROM ${table} WHERE ${where.sql}
         GROUP BY key ORDER BY events DESC, key LIMIT {n:UInt32}`
    const rows = (
      await read<{ key: string | number; events: string | number; sources: string | number }>(sql, {
        ...where.params,
        n: query.n,
      })
    ).map((row) => ({
      [query.by]: query.by === 'severity' ? Number(row.key) : row.key,
      events: Number(row.events),
      sources: Number(row.sources),
    }))
    return {
      body: {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        by: query.by,
        table: fromRaw ? 'events_raw' : table,
        rows,
      },
      rows,
      columns: [query.by, 'events', 'sources'],
    }
  })

  route('/v1/matrix', QUERIES.matrix, async (query) => {
    const range = checkedRange(query, maxRangeDays)
    const table = tableForRange(range.to.getTime() - range.from.getTime())
    const where = whereClause(query, 'window_start', range)
    const rows = (
      await read<{ sector: string; region: string; events: string | number; sources: string | number }>(
        `SELECT sector, region, sum(events) AS events, uniqMerge(sources) AS sources FROM ${table} WHERE ${where.sql}
         GROUP BY sector, region ORDER BY sector, region`,
        where.params,
      )
    ).map((row) => ({
      sector: row.sector,
      region: row.region,
      region_name: (REGIONS as Record<string, string>)[row.region] ?? row.region,
      events: Number(row.events),
      sources: Number(row.sources),
    }))
    return {
      body: { from: range.from.toISOString(), to: range.to.toISOString(), table, cells: rows },
      rows,
      columns: ['sector', 'region', 'region_name', 'events', 'sources'],
    }
  })

  route('/v1/events', QUERIES.events, async (query) => {
    const range = checkedRange(query, maxRangeDays)
    const where = whereClause(query, 'occurred_at', range)
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, range)
    const page =
      after === undefined ? '' : ` AND (occurred_at, event_id) < ({cursor_time:DateTime64(3, 'UTC')}, {cursor_id:UUID})`
    const rows = await read<Record<string, unknown>>(
      `SELECT event_id, occurred_at, received_at, sensor_id, sensor_type, category, severity, signature, signature_id,
              mitre_technique, src_ip, src_port, dst_ip, dst_port, protocol, src_country, src_scope, org, sector, region, count,
              device, log_source, time_source
       FROM events_raw WHERE ${where.sql}${page}
       ORDER BY occurred_at DESC, event_id DESC LIMIT {limit:UInt32}`,
      {
        ...where.params,
        limit: query.limit + 1,
        ...(after && { cursor_time: clickhouseTime(after.time), cursor_id: after.id }),
      },
    )
    const events: Record<string, unknown>[] = rows.slice(0, query.limit).map((row) => ({
      ...row,
      occurred_at: isoTime(String(row['occurred_at'])),
      received_at: isoTime(String(row['received_at'])),
    }))
    const last = events.at(-1)
    const next =
      rows.length > query.limit && last !== undefined
        ? encodeCursor(new Date(String(last['occurred_at'])), String(last['event_id']))
        : null
    return {
      body: { from: range.from.toISOString(), to: range.to.toISOString(), events, next_cursor: next },
      rows: events,
      columns: EVENT_COLUMNS,
    }
  })

  let document: Record<string, unknown> | undefined
  const documented = () => {
    document ??= openApiDocument(config.query)
    return document
  }
  app.get('/openapi.json', async () => documented())
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(docsPage(documented())))
  serveSituationPage(app, config)

  return app
}

function percentChange(before: number, after: number): number | null {
  return before === 0 ? null : Math.round(((after - before) / before) * 1000) / 10
}

/** `2025-03-01 03:15:00[.000]` as ClickHouse writes UTC times, in ISO 8601. */
function isoTime(text: string): string {
  return new Date(`${text.replace(' ', 'T')}Z`).toISOString()
}

function encodeCursor(time: Date, id: string): string {
  return Buffer.from(JSON.stringify([time.getTime(), id])).toString('base64url')
}

/** An event id as ClickHouse writes a UUID. */
const EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * The position a cursor names, or QLQ_ERR_INVALID_CURSOR. A cursor is opaque and comes back from
 * the client: every part is checked, and its time must lie in the query's range, as the time of an
 * answer's last event does.
 */
function decodeCursor(cursor: string, range: { from: Date; to: Date }): { time: Date; id: string } {
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    decoded = undefined
  }
  if (Array.isArray(decoded) && decoded.length === 2) {
    const [ms, id] = decoded as unknown[]
    if (
      Number.isSafeInteger(ms) &&
      (ms as number) >= range.from.getTime() &&
      (ms as number) < range.to.getTime() &&
      typeof id === 'string' &&
      EVENT_ID.test(id)
    )
      return { time: new Date(ms as number), id }
  }
  throw new QalqanError('QLQ_ERR_INVALID_CURSOR', `cursor: ${INVALID_CURSOR}`)
}
