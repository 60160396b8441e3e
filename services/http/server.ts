import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { installErrorHandling } from './errors.js'

/**
 * A Fastify instance as every Qalqan role uses it: pino logging with request ids (a line per
 * request would cost more than the request at ingest rates, so only errors are logged), the error
 * catalogue's answers, and /healthz.
 */
export function createServer(logger: Logger, role: string, limits: { maxBodyBytes: number }): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = logger.child({ role })
  const app = Fastify({
    loggerInstance,
    bodyLimit: limits.maxBodyBytes,
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
  })
  installErrorHandling(app, limits)
  app.get('/healthz', async () => ({ status: 'ok' }))
  return app
}
