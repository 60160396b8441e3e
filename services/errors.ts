import type { z } from 'zod'

/**
 * Every error that Qalqan answers or exits with, by code. docs/errors.md documents each one; a test
 * keeps the two in step.
 */
export const ERRORS = {
  QLQ_ERR_CONFIG_INVALID: { status: 500, retryable: false, message: 'invalid configuration' },
  QLQ_ERR_TOKENS_INVALID: { status: 500, retryable: false, message: 'the token registry cannot be used' },
  QLQ_ERR_ASSETS_INVALID: { status: 500, retryable: false, message: 'the asset registry cannot be used' },
  QLQ_ERR_UNAUTHORIZED: {
    status: 401,
    retryable: false,
    message: 'missing or unknown token: send "Authorization: Bearer <token>"',
  },
  QLQ_ERR_FORBIDDEN: { status: 403, retryable: false, message: 'this token may not use this endpoint' },
  QLQ_ERR_TOKEN_REVOKED: {
    status: 401,
    retryable: false,
    message: 'this token is revoked in the token registry: ask for a new one',
  },
  QLQ_ERR_TOKEN_EXPIRED: {
    status: 401,
    retryable: false,
    message: 'this token is past its not_after time in the token registry: ask for a new one',
  },
  QLQ_ERR_CERTIFICATE_REQUIRED: {
    status: 401,
    retryable: false,
    message: "this sensor must present its client certificate, issued by the collector's CA, with its token",
  },
  QLQ_ERR_CERTIFICATE_MISMATCH: {
    status: 403,
    retryable: false,
    message: 'the client certificate presented is not the one the token registry binds to this sensor',
  },
  QLQ_ERR_TLS_INVALID: {
    status: 500,
    retryable: false,
    message: 'the HTTPS certificate or key cannot be used',
  },
  QLQ_ERR_NOT_FOUND: { status: 404, retryable: false, message: 'no such endpoint' },
  QLQ_ERR_METHOD_NOT_ALLOWED: {
    status: 405,
    retryable: false,
    message: 'this endpoint does not answer this method: the Allow header names those it does',
  },
  QLQ_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    message: 'send application/json or application/x-ndjson',
  },
  QLQ_ERR_BODY_TOO_LARGE: { status: 413, retryable: false, message: 'the body is larger than the limit' },
  QLQ_ERR_TOO_MANY_EVENTS: { status: 413, retryable: false, message: 'the request holds more events than the limit' },
  QLQ_ERR_LINE_TOO_LONG: { status: 413, retryable: false, message: 'a line of the body is longer than the limit' },
  QLQ_ERR_INVALID_JSON: { status: 400, retryable: false, message: 'the body is not valid JSON' },
  QLQ_ERR_INVALID_EVENTS: {
    status: 400,
    retryable: false,
    message: 'no event in the request is valid; each one is listed under rejected',
  },
  QLQ_ERR_TOO_DEEP: {
    status: 400,
    retryable: false,
    message: 'the body nests objects and arrays deeper than the limit',
  },
  QLQ_ERR_NO_EVENTS: { status: 400, retryable: false, message: 'the body holds no events' },
  QLQ_ERR_BAD_REQUEST: { status: 400, retryable: false, message: 'the request is malformed' },
  QLQ_ERR_INVALID_QUERY: { status: 400, retryable: false, message: 'invalid query parameters' },
  QLQ_ERR_INVALID_CURSOR: {
    status: 400,
    retryable: false,
    message: 'invalid cursor: restart from the first page without cursor',
  },
  QLQ_ERR_KAFKA_UNAVAILABLE: {
    status: 503,
    retryable: true,
    message: 'Kafka did not acknowledge the events: send the whole request again later',
  },
  QLQ_ERR_OVERLOADED: { status: 503, retryable: true, message: 'too many events wait for Kafka: retry later' },
  QLQ_ERR_SHUTTING_DOWN: {
    status: 503,
    retryable: true,
    message: 'this collector is shutting down: retry, another will answer',
  },
  QLQ_ERR_RATE_LIMITED: { status: 429, retryable: true, message: 'this sensor sends faster than its rate limit' },
  QLQ_ERR_INVALID_UTF8: { status: 400, retryable: false, message: 'the body is not valid UTF-8' },
  QLQ_ERR_INVALID_GZIP: { status: 400, retryable: false, message: 'the body is not valid gzip' },
  QLQ_ERR_CLICKHOUSE_UNAVAILABLE: { status: 503, retryable: true, message: 'ClickHouse did not answer; retry later' },
  QLQ_ERR_SCHEMA_TOO_NEW: {
    status: 500,
    retryable: false,
    message: 'the ClickHouse schema is newer than this program: upgrade the program',
  },
  QLQ_ERR_SCHEMA_STEP_CHANGED: {
    status: 500,
    retryable: false,
    message: 'a schema step applied to the ClickHouse database differs from the program',
  },
  QLQ_ERR_SCHEMA_UNRECOGNISED: {
    status: 500,
    retryable: false,
    message: "the ClickHouse database holds Qalqan's tables in a form that no schema step made",
  },
  QLQ_ERR_SCHEMA_STEP_FAILED: { status: 500, retryable: false, message: 'a schema step failed in ClickHouse' },
  QLQ_ERR_KAFKA_AUTH_FAILED: {
    status: 500,
    retryable: false,
    message: 'Kafka refused the SASL credentials: check QALQAN_KAFKA_SASL_USERNAME and QALQAN_KAFKA_SASL_PASSWORD',
  },
  QLQ_ERR_KAFKA_TLS_FAILED: {
    status: 500,
    retryable: false,
    message: 'the TLS connection to Kafka cannot be made: check QALQAN_KAFKA_CA_FILE',
  },
  QLQ_ERR_CLICKHOUSE_TLS_FAILED: {
    status: 500,
    retryable: false,
    message: 'the TLS connection to ClickHouse cannot be made: check QALQAN_CLICKHOUSE_CA_FILE',
  },
  QLQ_ERR_INTERNAL: { status: 500, retryable: false, message: 'internal error' },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>

export type ErrorCode = keyof typeof ERRORS

export class QalqanError extends Error {
  readonly status: number
  readonly retryable: boolean

  /** For a retryable error: how long to wait, sent as Retry-After. */
  readonly retryAfterSeconds: number | undefined

  constructor(
    readonly code: ErrorCode,
    detail?: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(detail ?? ERRORS[code].message, options)
    this.name = 'QalqanError'
    this.status = ERRORS[code].status
    this.retryable = ERRORS[code].retryable
    this.retryAfterSeconds = ERRORS[code].retryable ? (options?.retryAfterSeconds ?? 5) : undefined
  }
}

/** The JSON body of an error answer: the code, what was wrong, and whether retrying can help. */
export function errorBody(err: QalqanError): { error: ErrorCode; message: string; retryable: boolean } {
  return { error: err.code, message: err.message, retryable: err.retryable }
}

/** `field.path: message; ...`, at most a handful, so a hostile event cannot make the answer huge. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], max = 5): string {
  const parts = issues.slice(0, max).map((issue) => {
    const path = issue.path.map(String).join('.')
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys
            .slice(0, 5)
            .map((key) => JSON.stringify(key.slice(0, 64)))
            .join(', ')}`
        : issue.message
    return path === '' ? message : `${path}: ${message}`
  })
  if (issues.length > max) parts.push(`and ${issues.length - max} more`)
  return parts.join('; ')
}
