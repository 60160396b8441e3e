/** The worker case's input: canonical events written to a fresh topic before the worker starts. */
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
}

/** Writes the events as the collector would (key = event id, acks=all), in 4 concurrent sends of 2,000. */
export async function fillWorkerTopic(broker: Broker, spec: WorkerCase): Promise<FilledTopic> {
  const topic = `bench.worker.${RUN_ID}`
  await broker.createTopic(topic, spec.partitions)
  const events = canonicalEvents(spec.events, spec.seed)
  const messages = events.map((event) => ({ key: event.event_id, value: JSON.stringify(event) }))
  const meanBytes = messages.reduce((sum, m) => sum + m.value.length, 0) / messages.length
  const producer = broker.producer()
  await producer.connect()
  const started = performance.now()
  let next = 0
  const sender = async () => {
    while (next < messages.length) {
      const from = next
      next += 2000
      await producer.send({ topic, acks: -1, messages: messages.slice(from, from + 2000) })
    }
  }
  await Promise.all(Array.from({ length: 4 }, sender))
  const seconds = (performance.now() - started) / 1000
  await producer.disconnect()
  const written = await broker.topicEnd(topic)
  if (written !== spec.events) throw new Error(`the worker topic holds ${written} events, not ${spec.events}`)
  return {
    topic,
    events: spec.events,
    fill: {
      seconds: round(seconds, 2),
      eventsPerSecond: Math.round(spec.events / seconds),
      meanBytes: Math.round(meanBytes),
    },
  }
}
