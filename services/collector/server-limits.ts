import type { Server } from 'node:http'

export interface ServerLimits {
  /** QALQAN_COLLECTOR_MAX_CONNECTIONS: connections open at once; Node closes the next at once. */
  readonly maxConnections: number
  /** QALQAN_COLLECTOR_HEADERS_TIMEOUT_MS: the headers must all arrive within this, else 408. */
  readonly headersTimeoutMs: number
  /** QALQAN_COLLECTOR_KEEP_ALIVE_TIMEOUT_MS: an idle connection between requests is closed after this. */
  readonly keepAliveTimeoutMs: number
}

/**
 * Bounds what clients can hold open without sending anything of use: connections, headers that
 * trickle in, idle keep-alive connections. (The whole request's own timeout is set where the
 * server is created.) Node reads these properties for each connection and at each check, so
 * setting them on the server Fastify made is enough. `onRefused` hears of each connection past the cap.
 */
export function applyServerLimits(server: Server, limits: ServerLimits, onRefused: () => void): void {
  server.maxConnections = limits.maxConnections
  server.headersTimeout = limits.headersTimeoutMs
  server.keepAliveTimeout = limits.keepAliveTimeoutMs
  server.on('drop', onRefused)
}
