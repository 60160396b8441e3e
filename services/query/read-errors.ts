import { classifyInsertError, StoreDataError } from '../clickhouse/index.js'
import { QalqanError } from '../errors.js'

/** ClickHouse's names (and numbers) for a query parameter it cannot read as its type. */
const BAD_PARAMETER = new Set(['BAD_QUERY_PARAMETER', '457'])

/** ClickHouse refusing the query text itself: a fault of this program, which no retry mends. */
const QUERY_FAULTS = new Set(['SYNTAX_ERROR', 'UNKNOWN_IDENTIFIER', 'UNKNOWN_QUERY_PARAMETER', 'UNKNOWN_FUNCTION'])

/**
 * A failed read as an error of the catalogue. A value ClickHouse refused is the request's fault
 * (400: asking again cannot help); a query it cannot run is ours (500); anything else is the
 * transport or the engine (unreachable, timeouts, memory), which may pass (503, retryable).
 */
export function readError(err: unknown): QalqanError {
  if (err instanceof QalqanError) return err
  const { code, type } = (err ?? {}) as { code?: unknown; type?: unknown }
  const name = typeof type === 'string' ? type : typeof code === 'string' ? code : ''
  if (classifyInsertError(err) instanceof StoreDataError || BAD_PARAMETER.has(name)) {
    return new QalqanError(
      'QLQ_ERR_INVALID_QUERY',
      `ClickHouse refused a value of this query (${typeof type === 'string' ? type : 'a data error'}): check the parameters`,
      { cause: err },
    )
  }
  if (QUERY_FAULTS.has(name)) return new QalqanError('QLQ_ERR_INTERNAL', undefined, { cause: err })
  return new QalqanError('QLQ_ERR_CLICKHOUSE_UNAVAILABLE', undefined, { cause: err })
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * Checks each value bound to a `{name:UUID}` placeholder before ClickHouse sees it, which would
 * otherwise refuse the whole query.
 */
export function checkUuidParams(query: string, params: Record<string, unknown>): void {
  for (const [, name] of query.matchAll(/\{(\w+):UUID\}/g)) {
    const value = params[name ?? '']
    if (typeof value !== 'string' || !UUID.test(value))
      throw new QalqanError(
        'QLQ_ERR_INVALID_QUERY',
        `${name}: must be a UUID such as 00000000-0000-4000-8000-000000000000`,
      )
  }
}
