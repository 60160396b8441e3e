import { randomUUID } from 'node:crypto'
import type { TlsOptions } from 'node:tls'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Metrics } from '../metrics.js'
import { installErrorHandling } from './errors.js'

/** A client's `x-request-id` is kept only when it is this plain: it goes into every log line of the request. */
export const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

/**
 * A Fastify instance as every Qalqan role uses it: pino logging with request ids (a line per
 * request would cost more than the request at ingest rates, so only errors are logged), the error
 * catalogue's answers (405 with Allow for a known path asked with another method), and /healthz.
 * The request id is the client's `x-request-id` when it is safe, else a new one; the answer carries it.
 * With `tls`, the server speaks HTTPS only.
 */
export function createServer(
  logger: Logger,
  role: string,
  limits: { maxBodyBytes: number; requestTimeoutMs?: number },
  tls?: TlsOptions,
): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = logger.child({ role })
  const requestTimeoutMs = limits.requestTimeoutMs ?? 30_000
  const serverOptions = {
    requestTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs),
  }
  const app = Fastify({
    loggerInstance,
    bodyLimit: limits.maxBodyBytes,
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID()
    },
    // A body that trickles in ties up a socket: the whole request must arrive within this time.
    // Node reads the timeout when it creates the server, so it goes in the server options too.
    requestTimeout: requestTimeoutMs,
    ...(tls === undefined ? { http: serverOptions } : { https: { ...tls, ...serverOptions } }),
  }) as FastifyInstance
  const routes = new RouteMethods()
  app.addHook('onRoute', (route) => routes.add(route.url, route.method))
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
  installErrorHandling(app, limits, (path) => routes.allowed(path))
  app.get('/healthz', async () => ({ status: 'ok' }))
  return app
}

/** The methods each route path answers, to tell a wrong method (405) from a wrong path (404). */
class RouteMethods {
  private readonly exact = new Map<string, Set<string>>()
  private readonly patterns: { pattern: RegExp; methods: Set<string> }[] = []

  add(url: string, method: string | string[]): void {
    let methods = this.exact.get(url)
    if (methods === undefined) {
      methods = new Set()
      this.exact.set(url, methods)
      if (/[:*]/.test(url)) this.patterns.push({ pattern: routePattern(url), methods })
    }
    for (const one of [method].flat()) methods.add(one.toUpperCase())
  }

  /** The methods declared for the path, sorted; empty when no route has it. */
  allowed(path: string): string[] {
    const methods = this.exact.get(path) ?? this.patterns.find(({ pattern }) => pattern.test(path))?.methods
    return methods === undefined ? [] : [...methods].sort()
  }
}

/** A route URL with `:param` and `*` segments as a regular expression over request paths. */
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) =>
      segment === '*' ? '.*' : segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/')
  return new RegExp(`^${source}$`)
}

/** Listens where configured; returns the base URL (the real port when 0 was asked for). */
export async function listen(app: FastifyInstance, at: { host: string; port: number }): Promise<string> {
  await app.listen({ host: at.host, port: at.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : at.port
  const scheme = 'setSecureContext' in app.server ? 'https' : 'http'
  return `${scheme}://${at.host.includes(':') ? `[${at.host}]` : at.host}:${port}`
}

/** GET /metrics: the process's Prometheus metrics. */
export function serveMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()))
}
