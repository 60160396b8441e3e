/** The worker case's input: canonical events written to a fresh topic before the worker starts. */
import { partitionOf } from '../services/kafka/murmur2.js'
import type { Broker } from './broker.js'
import type { WorkerCase } from './cases.js'
import { canonicalEvents } from './generator.js'
import type { WorkerFigure } from './results.js'
import { RUN_ID } from './settings.js'
import { round } from './stats.js'

export interface FilledTopic {
  topic: string
  events: number
  fill: WorkerFigure['fill']
  /** The events in the messages before each partition's committed offset. */
  eventsBefore(committed: ReadonlyMap<number, number>): number
}

/**
 * Writes the events as the collector does: each in the partition its id picks, `eventsPerMessage`
 * of one partition per message, a line each (the collector's batches of 100 came to ~45 per
 * partition and send); acks=all, 4 concurrent sends of ~2,000 events.
 */
export async function fillWorkerTopic(broker: Broker, spec: WorkerCase): Promise<FilledTopic> {
  const topic = `bench.worker.${RUN_ID}`
  await broker.createTopic(topic, spec.partitions)
  const events = canonicalEvents(spec.events, spec.seed)
  const byPartition = Array.from({ length: spec.partitions }, (): string[] => [])
  let bytes = 0
  for (const event of events) {
    const text = JSON.stringify(event)
    bytes += text.length
    byPartition[partitionOf(event.event_id, spec.partitions)]?.push(text)
  }
  // The events in each partition's first n messages, n = 0, 1, ...
  const before = byPartition.map(() => [0])
  // The partitions take turns, so that a send holds a few messages of each, as the collector's do.
  const messages: { partition: number; value: string }[] = []
  const longest = Math.max(...byPartition.map((lines) => lines.length))
  for (let from = 0; from < longest; from += spec.eventsPerMessage) {
    byPartition.forEach((lines, partition) => {
      const group = lines.slice(from, from + spec.eventsPerMessage)
      if (group.length === 0) return
      messages.push({ partition, value: group.join('\n') })
      const counts = before[partition] as number[]
      counts.push((counts.at(-1) ?? 0) + group.length)
    })
  }
  const producer = broker.producer()
  await producer.connect()
  const started = performance.now()
  const perSend = Math.max(1, Math.round(2000 / spec.eventsPerMessage))
  let next = 0
  const sender = async () => {
    while (next < messages.length) {
      const from = next
      next += perSend
      await producer.send({ topic, acks: -1, messages: messages.slice(from, from + perSend) })
    }
  }
  await Promise.all(Array.from({ length: 4 }, sender))
  const seconds = (performance.now() - started) / 1000
  await producer.disconnect()
  const written = await broker.topicEnd(topic)
  if (written !== messages.length) throw new Error(`the worker topic holds ${written} messages, not ${messages.length}`)
  return {
    topic,
    events: spec.events,
    fill: {
      seconds: round(seconds, 2),
      eventsPerSecond: Math.round(spec.events / seconds),
      meanBytes: Math.round(bytes / events.length),
      eventsPerMessage: spec.eventsPerMessage,
    },
    eventsBefore: (committed) => {
      let sum = 0
      for (const [partition, offset] of committed) {
        const counts = before[partition] ?? [0]
        sum += counts[Math.min(offset, counts.length - 1)] ?? 0
      }
      return sum
    },
  }
}
