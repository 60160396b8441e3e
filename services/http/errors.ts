import type { FastifyError, FastifyInstance } from 'fastify'
import { errorBody, QalqanError, type ErrorCode } from '../errors.js'

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'QLQ_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'QLQ_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'QLQ_ERR_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'QLQ_ERR_NO_EVENTS',
  FST_ERR_CTP_INVALID_JSON_BODY: 'QLQ_ERR_INVALID_JSON',
  FST_ERR_VALIDATION: 'QLQ_ERR_BAD_REQUEST',
}

/**
 * Every error answer is `{ error, message, retryable }` with the code's status; 503s carry Retry-After.
 * A path that exists asked with another method gets 405 and `Allow`, from `allowed(path)`.
 */
export function installErrorHandling(
  app: FastifyInstance,
  limits: { maxBodyBytes: number },
  allowed: (path: string) => readonly string[] = () => [],
): void {
  app.setErrorHandler((err: FastifyError | QalqanError, request, reply) => {
    const known = toQalqanError(err, limits)
    if (known.code === 'QLQ_ERR_INTERNAL') request.log.error({ err }, 'request failed')
    else if (known.status >= 500) request.log.warn({ err: known }, known.message)
    if (known.retryAfterSeconds !== undefined) void reply.header('retry-after', String(known.retryAfterSeconds))
    return reply.code(known.status).send(errorBody(known))
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    const methods = allowed(path)
    if (methods.length > 0) {
      const err = new QalqanError(
        'QLQ_ERR_METHOD_NOT_ALLOWED',
        `${path.slice(0, 200)} does not answer ${request.method.slice(0, 20)}: use ${methods.join(' or ')}`,
      )
      return reply.code(err.status).header('allow', methods.join(', ')).send(errorBody(err))
    }
    const err = new QalqanError('QLQ_ERR_NOT_FOUND', `no endpoint ${request.method} ${path.slice(0, 200)}`)
    return reply.code(err.status).send(errorBody(err))
  })
}

/** Any error a route or Fastify raised, as an error of the catalogue. */
export function toQalqanError(err: FastifyError | QalqanError, limits: { maxBodyBytes: number }): QalqanError {
  if (err instanceof QalqanError) return err
  const code = err.code === undefined ? undefined : FASTIFY_CODES[err.code]
  if (code === 'QLQ_ERR_BODY_TOO_LARGE') {
    return new QalqanError(
      code,
      `the body is larger than ${limits.maxBodyBytes} bytes (QALQAN_COLLECTOR_MAX_BODY_BYTES): send fewer events per request`,
    )
  }
  if (code === 'QLQ_ERR_UNSUPPORTED_MEDIA_TYPE') {
    return new QalqanError(
      code,
      'unsupported Content-Type: send application/json (an event or an array of events) or application/x-ndjson (one event per line)',
    )
  }
  if (code !== undefined) return new QalqanError(code, err.message)
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)
    return new QalqanError('QLQ_ERR_BAD_REQUEST', err.message)
  return new QalqanError('QLQ_ERR_INTERNAL', undefined, { cause: err })
}
