import type { Admin, ConfigResourceTypes, Kafka, Message, Producer } from 'kafkajs'
import type { CanonicalEvent } from '../../schemas/event.js'
import { type RejectedRecord, utf8Prefix } from '../../schemas/rejected.js'
import type { Config } from '../config.js'
import { QalqanError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import { partitionOf } from './murmur2.js'
import { BATCH_OVERHEAD, canMerge, merge, type Piece, RECORD_OVERHEAD, recordBytes, type Sized, split } from './fit.js'
import type { EventSender } from './interfaces.js'
import { Murmur2Partitioner } from './murmur2.js'
import { explainKafkaError } from './security.js'

// kafkajs's ConfigResourceTypes values: its CommonJS export is not visible to an ES import by name.
const TOPIC = 2 as ConfigResourceTypes
const BROKER = 4 as ConfigResourceTypes

/** How often the broker is asked for the topics' metadata, which readiness reports. */
export const PROBE_INTERVAL_MS = 5_000

/** Errors about a send's content, not the broker's health: they never make the process unready. */
const CONTENT_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
])

/** One caller's write: resolves once every piece of it is acknowledged, fails at its first failed piece. */
interface Write {
  remaining: number
  failed: boolean
  resolve: () => void
  reject: (err: Error) => void
}

/** A piece of one write, queued; pieces of several writes merge into one send. */
interface Part {
  piece: Piece
  write: Write
}

/**
 * Writes canonical events to the events topic (those of one partition in one message, a line each)
 * and rejections to the rejected topic (one per message) with acks=all.
 * kafkajs has no linger: writes from concurrent requests queue up while a send is in flight and go
 * out together in the next one, so batches grow with load. Each send keeps every partition's record
 * batch under the topic's max.message.bytes (read from the broker at start): a write larger than
 * that goes out in pieces and resolves only once Kafka acknowledged all of them. Past the pending
 * budget a write is refused at once (503).
 */
export class KafkaProducer implements EventSender {
  private readonly producer: Producer
  private readonly queue: Part[] = []
  private pendingMessages = 0
  private sending = 0
  private closing: Promise<void> | undefined
  private drained: (() => void) | undefined
  private connected = false
  private admin: Admin | undefined
  private probeTimer: NodeJS.Timeout | undefined
  private probing: Promise<void> | undefined
  /** The last send's failure, until a later send or probe shows the broker takes writes. */
  private lastFailure: string | undefined
  private failures = 0
  private probeProblem: string | undefined
  /** Each topic's max.message.bytes (the broker's message.max.bytes while the topic's is unknown). */
  private readonly limits = new Map<string, number>()
  private brokerLimit: number | undefined
  private readonly partitionCounts = new Map<string, number>()
  private roundRobin = 0
  /** Events serialised by refusal(), so that send() does not serialise them twice. */
  private readonly serialized = new WeakMap<CanonicalEvent, string>()

  constructor(
    private readonly kafka: Kafka,
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
    await this.producer.connect().catch((err: unknown) => {
      throw explainKafkaError(err, this.config.kafka)
    })
    // A probe fails fast: the next one comes in seconds anyway.
    this.admin = this.kafka.admin({ retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 1_000 } })
    try {
      await this.admin.connect()
      await this.readLimits(this.admin)
    } catch (err) {
      await this.admin.disconnect().catch(() => undefined)
      await this.producer.disconnect().catch(() => undefined)
      throw explainKafkaError(err, this.config.kafka)
    }
    await this.probe()
    this.probeTimer = setInterval(() => void this.probe(), PROBE_INTERVAL_MS)
    this.probeTimer.unref()
  }

  /** Why Kafka cannot take writes now, or undefined when it can (the last probe, or a later failed send). */
  problem(): string | undefined {
    if (!this.connected) return 'the Kafka producer is not connected'
    return this.lastFailure ?? this.probeProblem
  }

  /** The topic's max.message.bytes as read from the broker (its message.max.bytes while the topic's is unknown). */
  maxMessageBytes(topic: string): number | undefined {
    return this.limits.get(topic) ?? this.brokerLimit
  }

  /** The most a topic's partition takes in one send: the limit less room for the batch's own bytes. */
  partitionBudget(topic: string): number {
    const limit = this.maxMessageBytes(topic)
    if (limit === undefined) throw new Error('the Kafka producer has not started: the broker limit is unknown')
    return limit - BATCH_OVERHEAD
  }

  /** Why an event can never be sent (larger than Kafka takes in one message), or undefined when it can. */
  refusal(event: CanonicalEvent): string | undefined {
    const value = JSON.stringify(event)
    this.serialized.set(event, value)
    return this.tooLarge(this.config.kafka.topics.events, recordBytes(event.event_id, value))
  }

  /** Events and rejections waiting for Kafka's acknowledgement. */
  get pending(): number {
    return this.pendingMessages
  }

  send(events: readonly CanonicalEvent[], rejected: readonly RejectedRecord[]): Promise<void> {
    const count = events.length + rejected.length
    if (count === 0) return Promise.resolve()
    if (this.closing !== undefined) return Promise.reject(new QalqanError('QLQ_ERR_SHUTTING_DOWN'))
    const { maxPendingEvents, maxBatchBytes, topics } = this.config.kafka
    if (this.pendingMessages + count > maxPendingEvents) {
      this.metrics?.error('kafka', 'overloaded')
      return Promise.reject(
        new QalqanError(
          'QLQ_ERR_OVERLOADED',
          `more than ${maxPendingEvents} events wait for Kafka (QALQAN_KAFKA_MAX_PENDING_EVENTS): retry later`,
        ),
      )
    }
    const messages: Sized[] = []
    for (const event of events) {
      const value = this.serialized.get(event) ?? JSON.stringify(event)
      const message = this.sized(topics.events, event.event_id, value)
      // Callers ask refusal() first; an event that slipped past is refused whole, never sent.
      const refused = this.tooLarge(topics.events, message.bytes)
      if (refused !== undefined) return Promise.reject(new QalqanError('QLQ_ERR_INVALID_EVENTS', refused))
      messages.push(message)
    }
    const rejectedBudget = this.partitionBudget(topics.rejected)
    for (const record of rejected) {
      const key = record.sensor_id ?? ''
      messages.push(this.sized(topics.rejected, key, fitRejection(record, key, rejectedBudget)))
    }
    const pieces = split(messages, (topic) => this.partitionBudget(topic), maxBatchBytes)
    this.pendingMessages += count
    this.metrics?.kafkaPending(this.pendingMessages)
    return new Promise<void>((resolve, reject) => {
      const write: Write = { remaining: pieces.length, failed: false, resolve, reject }
      for (const piece of pieces) this.queue.push({ piece, write })
      this.pump()
    })
  }

  /** Idempotent: lets every queued write finish, then disconnects. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.probeTimer)
      if (this.queue.length > 0 || this.sending > 0) await new Promise<void>((resolve) => (this.drained = resolve))
      await this.probing
      await this.admin?.disconnect()
      await this.producer.disconnect()
    })()
    return this.closing
  }

  private sized(topic: string, key: string, value: string): Sized {
    const partitions = this.partitionCounts.get(topic)
    // With the partitions known each message names its own, so the sizes counted per partition
    // are the batches Kafka gets; unkeyed messages (a rejection without a sensor) take turns.
    let partition: number | undefined
    if (partitions !== undefined) partition = key === '' ? this.roundRobin++ % partitions : partitionOf(key, partitions)
    return { topic, key, value, partition, bytes: recordBytes(key, value) }
  }

  private tooLarge(topic: string, bytes: number): string | undefined {
    const budget = this.partitionBudget(topic)
    if (bytes <= budget) return undefined
    return `the event takes ${bytes} bytes in Kafka, more than the ${budget} one message may take (the topic's max.message.bytes is ${this.maxMessageBytes(topic)})`
  }

  private pump(): void {
    const { maxConcurrentSends, maxBatchBytes } = this.config.kafka
    while (this.sending < maxConcurrentSends && this.queue.length > 0) {
      const parts: Part[] = []
      const merged: Piece = { messages: [], partitions: new Map(), bytes: 0 }
      const budget = (topic: string) => this.partitionBudget(topic)
      while (this.queue.length > 0 && canMerge(merged, (this.queue[0] as Part).piece, budget, maxBatchBytes)) {
        const next = this.queue.shift() as Part
        // The rest of a write that already failed is not sent: its caller has its answer.
        if (next.write.failed) {
          this.settlePending(next.piece.messages.length)
          continue
        }
        parts.push(next)
        merge(merged, next.piece)
      }
      if (parts.length === 0) {
        if (this.queue.length === 0 && this.sending === 0) this.drained?.()
        continue
      }
      this.sending++
      void this.sendParts(parts, merged).finally(() => {
        this.sending--
        if (this.queue.length > 0) this.pump()
        else if (this.sending === 0) this.drained?.()
      })
    }
  }

  private settlePending(count: number): void {
    this.pendingMessages -= count
    this.metrics?.kafkaPending(this.pendingMessages)
  }

  private async sendParts(parts: Part[], merged: Piece): Promise<void> {
    const { timeoutMs, topics } = this.config.kafka
    const topicMessages = kafkaMessages(merged.messages, topics.events)
    const count = merged.messages.length
    const started = process.hrtime.bigint()
    try {
      await this.producer.sendBatch({ topicMessages, acks: -1, timeout: timeoutMs })
      this.lastFailure = undefined
      this.metrics?.stage('kafka', { received: count, sent: count })
      for (const { write } of parts) {
        write.remaining--
        if (write.remaining === 0 && !write.failed) write.resolve()
      }
    } catch (err) {
      const content = contentError(err)
      if (content === undefined) {
        this.lastFailure = `the last send to Kafka failed: ${(err as Error).message}`
        this.failures++
      }
      this.metrics?.error('kafka', 'produce_failed', count)
      const failure = new QalqanError('QLQ_ERR_KAFKA_UNAVAILABLE', undefined, { cause: err })
      for (const { write } of parts) {
        if (write.failed) continue
        write.failed = true
        write.reject(failure)
      }
    } finally {
      this.settlePending(count)
      this.metrics?.kafkaProduced(Number(process.hrtime.bigint() - started) / 1e9)
    }
  }

  /** Reads each topic's max.message.bytes, and the broker's message.max.bytes for topics not there yet. */
  private async readLimits(admin: Admin): Promise<void> {
    const { topics } = this.config.kafka
    for (const topic of [topics.events, topics.rejected]) {
      const limit = await describe(admin, TOPIC, topic, 'max.message.bytes').catch(() => undefined)
      if (limit !== undefined) this.limits.set(topic, limit)
    }
    if (this.limits.size < 2 || this.brokerLimit === undefined) {
      const { brokers } = await admin.describeCluster()
      for (const broker of brokers) {
        const limit = await describe(admin, BROKER, String(broker.nodeId), 'message.max.bytes')
        if (limit !== undefined) this.brokerLimit = Math.min(this.brokerLimit ?? limit, limit)
      }
      if (this.brokerLimit === undefined && this.limits.size < 2)
        throw new Error("the broker's message.max.bytes could not be read")
    }
  }

  /**
   * Asks the broker for the topics' metadata: whether Kafka can take writes now, and each topic's
   * partitions (and its limit, for a topic created since the start).
   */
  private probe(): Promise<void> {
    const admin = this.admin
    if (admin === undefined || this.probing !== undefined) return this.probing ?? Promise.resolve()
    const failuresBefore = this.failures
    const { topics } = this.config.kafka
    this.probing = (async () => {
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: [topics.events, topics.rejected] })
        for (const { name, partitions } of metadata.topics) {
          if (!this.limits.has(name)) {
            const limit = await describe(admin, TOPIC, name, 'max.message.bytes')
            if (limit !== undefined) this.limits.set(name, limit)
          }
          this.partitionCounts.set(name, partitions.length)
        }
        this.probeProblem = undefined
        // Only a send that failed before this probe began is answered by it.
        if (this.failures === failuresBefore) this.lastFailure = undefined
      } catch (err) {
        this.probeProblem = `Kafka did not answer a metadata request: ${(err as Error).message}`
      } finally {
        this.probing = undefined
      }
    })()
    return this.probing
  }
}

/**
 * The records of one send, by topic. The events bound for one partition of the events topic go in
 * one record, their JSON texts a line each (one record per event made the producer's CPU 2.5 times
 * higher: bench/FINDINGS.md): the piece's per-partition budget holds their record, which is smaller
 * than theirs apart. Copies of an event still meet in one partition, as its id picks the partition.
 * Rejections, and events whose partition is not known yet, go one per record.
 */
export function kafkaMessages(sized: readonly Sized[], eventsTopic: string): { topic: string; messages: Message[] }[] {
  const byTopic = new Map<string, Message[]>()
  const lines = new Map<number, string[]>()
  for (const { topic, key, value, partition } of sized) {
    if (topic === eventsTopic && partition !== undefined) {
      const group = lines.get(partition)
      if (group === undefined) lines.set(partition, [value])
      else group.push(value)
      continue
    }
    let messages = byTopic.get(topic)
    if (messages === undefined) {
      messages = []
      byTopic.set(topic, messages)
    }
    messages.push({ key: key === '' ? null : key, value, ...(partition !== undefined && { partition }) })
  }
  if (lines.size > 0) {
    const messages = byTopic.get(eventsTopic) ?? []
    for (const [partition, group] of lines) messages.push({ key: null, value: group.join('\n'), partition })
    byTopic.set(eventsTopic, messages)
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }))
}

async function describe(
  admin: Admin,
  type: ConfigResourceTypes,
  name: string,
  config: string,
): Promise<number | undefined> {
  const { resources } = await admin.describeConfigs({
    resources: [{ type, name, configNames: [config] }],
    includeSynonyms: false,
  })
  const value = resources[0]?.configEntries.find((entry) => entry.configName === config)?.configValue
  const limit = Number(value)
  return value !== undefined && value !== null && Number.isInteger(limit) && limit > 0 ? limit : undefined
}

/** The kafkajs error type of a refused record, if that is why the send failed. */
function contentError(err: unknown): string | undefined {
  const seen = new Set<unknown>()
  const walk = (e: unknown): string | undefined => {
    if (typeof e !== 'object' || e === null || seen.has(e)) return undefined
    seen.add(e)
    const { type, cause, originalError, errors } = e as {
      type?: unknown
      cause?: unknown
      originalError?: unknown
      errors?: unknown
    }
    if (typeof type === 'string' && CONTENT_ERRORS.has(type)) return type
    for (const inner of [cause, originalError, ...(Array.isArray(errors) ? errors : [])]) {
      const found = walk(inner)
      if (found !== undefined) return found
    }
    return undefined
  }
  return walk(err)
}

/**
 * A rejection's JSON, its raw excerpt cut further when the record would not fit in one message
 * (raw_bytes and raw_sha256 still describe the whole original text).
 */
export function fitRejection(record: RejectedRecord, key: string, budget: number): string {
  const value = JSON.stringify(record)
  if (recordBytes(key, value) <= budget) return value
  // Escaping makes raw's JSON longer than its bytes by a ratio of its own, so the longest excerpt
  // that fits is searched for: a rare path, some twenty serialisations of at most the budget.
  const fitting = (room: number) => {
    const cut = JSON.stringify({ ...record, raw: utf8Prefix(record.raw, room) })
    return recordBytes(key, cut) <= budget ? cut : undefined
  }
  let best = fitting(0)
  let low = 0
  let high = Math.min(Buffer.byteLength(record.raw), budget)
  while (best !== undefined && low < high) {
    const middle = Math.ceil((low + high) / 2)
    const cut = fitting(middle)
    if (cut === undefined) high = middle - 1
    else {
      best = cut
      low = middle
    }
  }
  if (best !== undefined) return best
  // Even without its raw text the record is too large: its reason is cut as well.
  const reasonRoom = Math.max(64, budget - RECORD_OVERHEAD - Buffer.byteLength(key) - 1024)
  return JSON.stringify({ ...record, raw: '', reason: utf8Prefix(record.reason, reasonRoom) })
}
