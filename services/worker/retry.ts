import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Metrics } from '../metrics.js'

export type Retrying = <T>(what: string, call: () => Promise<T>) => Promise<T>

export interface RetryDeps {
  readonly logger: Logger
  readonly metrics: Metrics
  readonly isRunning: () => boolean
  /** The first wait; it doubles up to 30 s. */
  readonly initialDelayMs?: number
}

/**
 * Calls until the call succeeds: nothing is skipped, so an outage stops consumption instead of
 * losing events. Gives up only when the process is stopping; keeps the group membership meanwhile.
 */
export function retrying(deps: RetryDeps, heartbeat: () => Promise<void>): Retrying {
  const initial = deps.initialDelayMs ?? 500
  return async (what, call) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call()
      } catch (err) {
        if (!deps.isRunning()) throw err
        const delay = Math.min(30_000, initial * 2 ** Math.min(attempt - 1, 6))
        deps.metrics.workerRetry(what)
        deps.logger.warn({ err, attempt, retryInMs: delay }, `${what} failed; retrying`)
        await sleep(delay)
        await heartbeat().catch(() => undefined)
      }
    }
  }
}
