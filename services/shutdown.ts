import cluster from 'node:cluster'
import type { Logger } from 'pino'

export interface Stoppable {
  reload(): void
  close(): Promise<void>
}

/** Runs until SIGTERM or SIGINT, then closes `running` (in-flight work finishes); SIGHUP reloads. */
export function untilStopped(running: Stoppable, logger: Logger): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down: finishing in-flight work')
      running.close().then(resolve, reject)
    }
    // One of several collector processes may hear SIGTERM twice (from its primary and from a
    // supervisor that signals the whole group): it keeps finishing its work. Alone, a second
    // signal ends the process at once, as whoever sent it expects.
    const listen = cluster.isWorker ? process.on.bind(process) : process.once.bind(process)
    let stopping = false
    const stopOnce = (signal: string) => {
      if (stopping) return
      stopping = true
      stop(signal)
    }
    listen('SIGTERM', stopOnce)
    listen('SIGINT', stopOnce)
    process.on('SIGHUP', () => {
      logger.info('SIGHUP: reloading the registries')
      running.reload()
    })
  })
}

/**
 * Ends the process with `code` once its work has stopped. It ends by itself when nothing holds the
 * event loop any more; a client library that left a connection or a timer behind (kafkajs restarting
 * a consumer while it was being disconnected) would otherwise keep a stopped process alive, so after
 * `graceMs` it is ended anyway, naming what was left open.
 */
export function exitWhenStopped(code: number, logger: Logger, graceMs: number): void {
  process.exitCode = code
  setTimeout(() => {
    logger.warn({ open: process.getActiveResourcesInfo(), graceMs }, 'stopped, but still held open: exiting anyway')
    logger.flush()
    process.exit(code)
  }, graceMs).unref()
}
