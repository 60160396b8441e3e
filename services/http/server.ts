import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Metrics } from '../metrics.js'
import { installErrorHandling } from './errors.js'

/**
 * A Fastify instance as every Qalqan role uses it: pino logging with request ids (a line per
 * request would cost more than the request at ingest rates, so only errors are logged), the error
 * catalogue's answers, and /healthz.
 */
export function createServer(
  logger: Logger,
  role: string,
  limits: { maxBodyBytes: number; requestTimeoutMs?: number },
): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = logger.child({ role })
  const requestTimeoutMs = limits.requestTimeoutMs ?? 30_000
  const app = Fastify({
    loggerInstance,
    bodyLimit: limits.maxBodyBytes,
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // A body that trickles in ties up a socket: the whole request must arrive within this time.
    // Node reads the timeout when it creates the server, so it goes in the server options too.
    requestTimeout: requestTimeoutMs,
    http: { requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs) },
  })
  installErrorHandling(app, limits)
  app.get('/healthz', async () => ({ status: 'ok' }))
  return app
}

/** Listens where configured; returns the base URL (the real port when 0 was asked for). */
export async function listen(app: FastifyInstance, at: { host: string; port: number }): Promise<string> {
  await app.listen({ host: at.host, port: at.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : at.port
  return `http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${port}`
}

/** GET /metrics: the process's Prometheus metrics. */
export function serveMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()))
}
