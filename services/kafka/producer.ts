import type { Kafka, Message, Producer } from 'kafkajs'
import type { CanonicalEvent } from '../../schemas/event.js'
import type { RejectedRecord } from '../../schemas/rejected.js'
import type { Config } from '../config.js'
import { QalqanError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { EventSender } from './interfaces.js'
import { Murmur2Partitioner } from './murmur2.js'

interface Pending {
  events: Message[]
  rejected: Message[]
  bytes: number
  resolve: () => void
  reject: (err: Error) => void
}

/**
 * Writes canonical events to the events topic and rejections to the rejected topic with acks=all.
 * kafkajs has no linger: writes from concurrent requests queue up while a send is in flight and go
 * out together in the next one, so batches grow with load. Each write resolves only once Kafka
 * acknowledged all of its messages; past the pending budget a write is refused at once (503).
 */
export class KafkaProducer implements EventSender {
  private readonly producer: Producer
  private readonly queue: Pending[] = []
  private pendingMessages = 0
  private sending = 0
  private closing: Promise<void> | undefined
  private drained: (() => void) | undefined
  private connected = false
  private lastFailure: string | undefined

  constructor(
    kafka: Kafka,
    private readonly config: Config,
    private readonly metrics?: Metrics,
  ) {
    // Not idempotent: kafkajs's idempotent producer loses messages under concurrent sends.
    // A retried send can duplicate; the event id lets the worker recognise the copy.
    this.producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: false,
      // kafkajs's DefaultPartitioner computes murmur2 with a Long object per step: 11% of the
      // collector's CPU in bench/; this is the same hash, so the same partition for every key.
      createPartitioner: Murmur2Partitioner,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
    })
  }

  async start(): Promise<void> {
    this.producer.on(this.producer.events.CONNECT, () => (this.connected = true))
    this.producer.on(this.producer.events.DISCONNECT, () => (this.connected = false))
    await this.producer.connect()
  }

  /** Why Kafka cannot take writes now, or undefined when it can (as far as the last send tells). */
  problem(): string | undefined {
    if (!this.connected) return 'the Kafka producer is not connected'
    return this.lastFailure
  }

  /** Events and rejections waiting for Kafka's acknowledgement. */
  get pending(): number {
    return this.pendingMessages
  }

  send(events: readonly CanonicalEvent[], rejected: readonly RejectedRecord[]): Promise<void> {
    const count = events.length + rejected.length
    if (count === 0) return Promise.resolve()
    if (this.closing !== undefined) return Promise.reject(new QalqanError('QLQ_ERR_SHUTTING_DOWN'))
    const { maxPendingEvents } = this.config.kafka
    if (this.pendingMessages + count > maxPendingEvents) {
      this.metrics?.error('kafka', 'overloaded')
      return Promise.reject(
        new QalqanError(
          'QLQ_ERR_OVERLOADED',
          `more than ${maxPendingEvents} events wait for Kafka (QALQAN_KAFKA_MAX_PENDING_EVENTS): retry later`,
        ),
      )
    }
    const eventMessages = events.map(eventMessage)
    const rejectedMessages = rejected.map(rejectedMessage)
    let bytes = 0
    for (const message of eventMessages) bytes += (message.value as string).length
    for (const message of rejectedMessages) bytes += (message.value as string).length
    this.pendingMessages += count
    this.metrics?.kafkaPending(this.pendingMessages)
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ events: eventMessages, rejected: rejectedMessages, bytes, resolve, reject })
      this.pump()
    })
  }

  /** Idempotent: lets every queued write finish, then disconnects. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.queue.length > 0 || this.sending > 0) await new Promise<void>((resolve) => (this.drained = resolve))
      await this.producer.disconnect()
    })()
    return this.closing
  }

  private pump(): void {
    const { maxConcurrentSends, maxBatchBytes } = this.config.kafka
    while (this.sending < maxConcurrentSends && this.queue.length > 0) {
      const batch: Pending[] = []
      let bytes = 0
      // At least one write per send, whatever its size; then whole writes up to the byte budget.
      while (this.queue.length > 0 && (batch.length === 0 || bytes + (this.queue[0]?.bytes ?? 0) <= maxBatchBytes)) {
        const next = this.queue.shift() as Pending
        batch.push(next)
        bytes += next.bytes
      }
      this.sending++
      void this.sendBatch(batch).finally(() => {
        this.sending--
        if (this.queue.length > 0) this.pump()
        else if (this.sending === 0) this.drained?.()
      })
    }
  }

  private async sendBatch(batch: Pending[]): Promise<void> {
    const { topics, timeoutMs } = this.config.kafka
    const events = batch.flatMap((pending) => pending.events)
    const rejected = batch.flatMap((pending) => pending.rejected)
    const topicMessages = []
    if (events.length > 0) topicMessages.push({ topic: topics.events, messages: events })
    if (rejected.length > 0) topicMessages.push({ topic: topics.rejected, messages: rejected })
    const started = process.hrtime.bigint()
    try {
      await this.producer.sendBatch({ topicMessages, acks: -1, timeout: timeoutMs })
      this.lastFailure = undefined
      this.metrics?.stage('kafka', { received: events.length + rejected.length, sent: events.length + rejected.length })
      for (const pending of batch) pending.resolve()
    } catch (err) {
      this.lastFailure = `the last send to Kafka failed: ${(err as Error).message}`
      this.metrics?.error('kafka', 'produce_failed', events.length + rejected.length)
      const failure = new QalqanError('QLQ_ERR_KAFKA_UNAVAILABLE', undefined, { cause: err })
      for (const pending of batch) pending.reject(failure)
    } finally {
      this.pendingMessages -= events.length + rejected.length
      this.metrics?.kafkaPending(this.pendingMessages)
      this.metrics?.kafkaProduced(Number(process.hrtime.bigint() - started) / 1e9)
    }
  }
}

// The event id as key spreads events evenly over partitions and sends a duplicate to the same
// partition as its original.
function eventMessage(event: CanonicalEvent): Message {
  return { key: event.event_id, value: JSON.stringify(event) }
}

function rejectedMessage(record: RejectedRecord): Message {
  return { key: record.sensor_id, value: JSON.stringify(record) }
}
