import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { AggregatorRegistry, type RegistryContentType } from 'prom-client'
import { METRICS_REQUEST } from '../cluster-metrics.js'
import type { Config } from '../config.js'

/** A collector process tells the primary it is serving. */
export const STARTED = 'qalqan:started'

/** How long the primary waits for its processes to finish in-flight work after SIGTERM. */
const STOP_GRACE_MS = 30_000
/** A process that ends on its own is started again after this pause. */
const RESTART_DELAY_MS = 1_000

/**
 * The primary of a collector run as one process per core (`QALQAN_COLLECTOR_PROCESSES`): it starts
 * the processes, which share the collector's port (node:cluster hands out the connections), starts
 * one again when it dies, answers a process's request for the metrics of all of them (so /metrics
 * counts every event whichever process serves the scrape), passes SIGHUP on, and on SIGTERM or
 * SIGINT stops them and waits for each to finish its in-flight requests. It serves nothing itself.
 * Resolves with the exit code: 1 if a process could not start at all (as a single process would).
 */
export function runCollectorProcesses(config: Config, logger: Logger): Promise<number> {
  const count = config.collector.processes
  const aggregator = new AggregatorRegistry()
  let stopping = false
  let startedOnce = false
  /** Processes that said they serve: only they have their signal handlers in place. */
  const serving = new Set<Worker>()

  return new Promise((resolve) => {
    const finish = (code: number) => {
      // Once: a second SIGTERM would end a process before its in-flight requests are answered.
      if (stopping) return
      stopping = true
      const left = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined)
      for (const worker of left) worker.process.kill('SIGTERM')
      const killer = setTimeout(() => {
        for (const worker of left) if (!worker.isDead()) worker.process.kill('SIGKILL')
      }, STOP_GRACE_MS)
      killer.unref()
      const waitAll = () => {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          clearTimeout(killer)
          resolve(code)
        }
      }
      // A process leaves cluster.workers on the later of its exit and its disconnect.
      cluster.on('exit', waitAll)
      cluster.on('disconnect', waitAll)
      waitAll()
    }

    const fork = () => {
      const worker = cluster.fork()
      worker.on('message', (message: unknown) => {
        if (isMessage(message, STARTED)) {
          startedOnce = true
          serving.add(worker)
        } else if (isMessage(message, METRICS_REQUEST)) void answerMetrics(worker, message.id, aggregator)
      })
    }

    cluster.on('exit', (worker, code, signal) => {
      serving.delete(worker)
      if (stopping) return
      if (!startedOnce && code !== 0) {
        logger.fatal({ pid: worker.process.pid, code }, 'a collector process could not start; stopping the others')
        finish(1)
        return
      }
      logger.error({ pid: worker.process.pid, code, signal }, 'a collector process ended; starting another')
      setTimeout(() => stopping || fork(), RESTART_DELAY_MS).unref()
    })

    // Not once: a second signal (a supervisor signalling the whole group) must not end the primary
    // while its processes finish; finish() acts once, and the grace period bounds the wait.
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        logger.info(
          { signal, processes: Object.keys(cluster.workers ?? {}).length },
          'shutting down the collector processes',
        )
        finish(0)
      })
    }
    // A process still starting would die of SIGHUP (its handler comes once it serves); it reads the registries anyway.
    process.on('SIGHUP', () => {
      for (const worker of serving) worker.process.kill('SIGHUP')
    })

    logger.info({ processes: count }, 'starting the collector processes')
    for (let i = 0; i < count; i++) fork()
  })
}

async function answerMetrics(
  worker: Worker,
  id: unknown,
  aggregator: AggregatorRegistry<RegistryContentType>,
): Promise<void> {
  try {
    const text = await aggregator.clusterMetrics()
    if (worker.isConnected()) worker.send({ type: METRICS_REQUEST, id, text })
  } catch (err) {
    if (worker.isConnected()) worker.send({ type: METRICS_REQUEST, id, error: (err as Error).message })
  }
}

function isMessage(message: unknown, type: string): message is { type: string; id?: unknown } {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type
}
