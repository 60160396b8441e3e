import type { FastifyReply, FastifyRequest } from 'fastify'
import { pino, type DestinationStream, type Logger } from 'pino'

/** The `log` field of every audit line, which tells them from the process's own log on a shared stdout. */
export const AUDIT_LOG_NAME = 'qalqan-audit'

/** A query string as it came, when it did not parse: bounded, since it is the client's text. */
const MAX_RAW_KEYS = 30
const MAX_RAW_CHARS = 200

/**
 * The audit log of analysts' queries, for the SOC's records: one JSON line per answered query,
 * saying who asked (the analyst's id and name from the token registry), what (endpoint and
 * filters), and what came of it (status, rows). Its own logger and destination: `stdout` or a file
 * appended to. The token is never in it: only the registry's names for its holder.
 */
export class QueryAudit {
  private readonly logger: Logger
  private readonly asked = new WeakMap<FastifyRequest, { filters?: unknown; rows?: number }>()

  constructor(destination: 'stdout' | string | DestinationStream) {
    const stream =
      typeof destination !== 'string'
        ? destination
        : pino.destination(
            destination === 'stdout'
              ? { dest: 1, sync: true }
              : { dest: destination, sync: true, mkdir: true, append: true },
          )
    this.logger = pino({ base: { log: AUDIT_LOG_NAME }, level: 'info', messageKey: 'msg' }, stream)
  }

  /** The query's filters as parsed, and later the rows its answer holds. */
  note(request: FastifyRequest, part: { filters?: unknown; rows?: number }): void {
    this.asked.set(request, { ...this.asked.get(request), ...part })
  }

  /** An onResponse hook: writes the line once the answer is sent, refused queries included. */
  readonly record = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const noted = this.asked.get(request)
    this.logger.info(
      {
        analyst: request.analyst?.id ?? null,
        analyst_name: request.analyst?.name ?? null,
        endpoint: request.routeOptions.url ?? request.url.split('?')[0]?.slice(0, 200),
        filters: noted?.filters ?? rawQuery(request.query),
        rows: noted?.rows ?? null,
        status: reply.statusCode,
        request_id: request.id,
      },
      'query',
    )
  }

  /** Writes what is pending; the file stays open until the process ends. */
  flush(): void {
    this.logger.flush()
  }
}

/** Names of parameters whose value a client may have meant as a credential: never written. */
const CREDENTIAL_NAME = /token|key|secret|pass|auth|session|cookie/i

function rawQuery(query: unknown): Record<string, string> | null {
  if (query === null || typeof query !== 'object') return null
  const entries = Object.entries(query as Record<string, unknown>).slice(0, MAX_RAW_KEYS)
  return Object.fromEntries(
    entries.map(([key, value]) => [
      key.slice(0, MAX_RAW_CHARS),
      CREDENTIAL_NAME.test(key) ? '(hidden)' : String(value).slice(0, MAX_RAW_CHARS),
    ]),
  )
}
