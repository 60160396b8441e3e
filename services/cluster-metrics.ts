import cluster from 'node:cluster'
import { AggregatorRegistry, type Registry } from 'prom-client'

/** A collector process asks the primary for every process's metrics; the answer has the same type. */
export const METRICS_REQUEST = 'qalqan:metrics'

/** How long a process waits for the primary's sum of every process's metrics. */
const ANSWER_TIMEOUT_MS = 5_000

let next = 0
const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>()

/**
 * In one of several collector processes: offers `registry` to the primary's aggregation and returns
 * the metrics of every process, summed by the primary (counters and histograms added, each gauge as
 * its catalogue entry says). Outside a cluster: undefined, and the process renders its own.
 */
export function clusterMetrics(registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker) return undefined
  AggregatorRegistry.setRegistries([registry])
  // Constructing one adds prom-client's listener that answers the primary with this process's metrics.
  new AggregatorRegistry()
  process.on('message', (message: { type?: unknown; id?: unknown; text?: unknown; error?: unknown }) => {
    if (message?.type !== METRICS_REQUEST || typeof message.id !== 'number') return
    const request = waiting.get(message.id)
    if (request === undefined) return
    waiting.delete(message.id)
    if (typeof message.text === 'string') request.resolve(message.text)
    else request.reject(new Error(`the primary could not sum the metrics: ${String(message.error)}`))
  })
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++
      const timer = setTimeout(() => {
        waiting.delete(id)
        reject(new Error(`the primary did not answer with the metrics within ${ANSWER_TIMEOUT_MS} ms`))
      }, ANSWER_TIMEOUT_MS)
      waiting.set(id, {
        resolve: (text) => {
          clearTimeout(timer)
          resolve(text)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      })
      process.send?.({ type: METRICS_REQUEST, id })
    })
}
