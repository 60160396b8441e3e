import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Metrics } from '../metrics.js'
import { createServer, listen, serveMetrics } from './server.js'

export interface OpsDeps {
  readonly logger: Logger
  readonly metrics: Metrics
  /** Each role's problems (Kafka not taking writes); empty when ready. */
  readonly readiness: Readonly<Record<string, () => string[]>>
  /** Each role's warnings: a file that failed to reload (its path and error) while the previous one serves. */
  readonly warnings?: Readonly<Record<string, () => string[]>>
}

/**
 * The operators' listener, apart from the public ports: /metrics (per-sensor series among them)
 * and /readyz with each role's reasons and warnings (a file that failed to reload, with its path and error). It listens on loopback
 * unless told otherwise; deployments open it to the monitoring network only. Plain HTTP: it
 * carries no token and takes no data.
 */
export function buildOps(deps: OpsDeps): FastifyInstance {
  const app = createServer(deps.logger, 'ops', { maxBodyBytes: 1024 })
  serveMetrics(app, deps.metrics)
  app.get('/readyz', async (_request, reply) => {
    const roles = Object.fromEntries(Object.entries(deps.readiness).map(([role, problems]) => [role, problems()]))
    const ready = Object.values(roles).every((problems) => problems.length === 0)
    const warnings = Object.fromEntries(
      Object.entries(deps.warnings ?? {})
        .map(([role, found]) => [role, found()] as const)
        .filter(([, found]) => found.length > 0),
    )
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', roles, warnings })
  })
  return app
}

/** Starts the ops listener where configured; returns its URL and how to close it. */
export async function startOps(
  at: { host: string; port: number },
  deps: OpsDeps,
): Promise<{ url: string; close(): Promise<void> }> {
  const app = buildOps(deps)
  try {
    const url = await listen(app, at)
    deps.logger.info({ url }, 'ops listening (/metrics, /readyz with reasons)')
    return { url, close: () => app.close() }
  } catch (err) {
    await app.close()
    throw err
  }
}
