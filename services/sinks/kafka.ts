import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs'
import type { CanonicalEvent } from '../../schemas/event.js'
import type { Config } from '../config.js'
import { QalqanError } from '../errors.js'

/** What goes to the rejected topic: enough to see why, and the original bytes to replay after a fix. */
export interface RejectedRecord {
  reason: string
  stage: 'decode' | 'validate' | 'normalize' | 'aggregate'
  format: string
  sensor_id: string | null
  index: number | null
  received_at: string
  raw: string
}

/**
 * Writes canonical events to the events topic and rejections to the rejected topic, in one
 * request to Kafka with acks=all; resolves only once Kafka acknowledged every message.
 */
export class KafkaSink {
  private readonly producer: Producer
  private closed: Promise<void> | undefined

  constructor(
    kafka: Kafka,
    private readonly config: Config,
  ) {
    // Not idempotent: kafkajs's idempotent producer loses messages under concurrent sends.
    // A retried send can duplicate, and event_id lets the worker recognise that.
    this.producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false, createPartitioner: Partitioners.DefaultPartitioner })
  }

  async start(): Promise<void> {
    await this.producer.connect()
  }

  async write(events: readonly CanonicalEvent[], rejected: readonly RejectedRecord[] = []): Promise<void> {
    const topicMessages = []
    if (events.length > 0) topicMessages.push({ topic: this.config.kafka.topics.events, messages: events.map(eventMessage) })
    if (rejected.length > 0) topicMessages.push({ topic: this.config.kafka.topics.rejected, messages: rejected.map(rejectedMessage) })
    if (topicMessages.length === 0) return
    try {
      await this.producer.sendBatch({ topicMessages, acks: -1, timeout: this.config.kafka.timeoutMs })
    } catch (err) {
      throw new QalqanError('QLQ_ERR_KAFKA_UNAVAILABLE', undefined, { cause: err })
    }
  }

  /** Idempotent: waits for in-flight sends, then disconnects. */
  close(): Promise<void> {
    this.closed ??= this.producer.disconnect()
    return this.closed
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
