/**
 * The Kafka wing: the only place that imports kafkajs. What the roles see are the small interfaces
 * below, over plain types, so their logic is tested against in-memory implementations too.
 */
import type { CanonicalEvent } from '../../schemas/event.js'
import type { RejectedRecord } from '../../schemas/rejected.js'

export type { RejectedRecord }

/** Sends events to the events topic and rejections to the rejected topic, acks=all. */
export interface EventSender {
  /** Resolves once Kafka acknowledged every message; rejects with a QalqanError otherwise. */
  send(events: readonly CanonicalEvent[], rejected: readonly RejectedRecord[]): Promise<void>
}

/** One message as the worker reads it. */
export interface Message {
  readonly offset: string
  readonly value: Buffer | null
}

/** One partition's fetched messages, with the offsets that bound them. */
export interface PartitionBatch {
  readonly topic: string
  readonly partition: number
  readonly firstOffset: string
  readonly lastOffset: string
  readonly messages: readonly Message[]
}

/**
 * Handles one batch: makes it durable, and returns the last offset it made durable (the batch may
 * be cut short of its end). `heartbeat` keeps the group membership during long work.
 */
export type BatchHandler = (batch: PartitionBatch, heartbeat: () => Promise<void>) => Promise<string>

export { connectKafka, type KafkaConnection } from './client.js'
export { KafkaProducer } from './producer.js'
export { KafkaConsumer } from './consumer.js'
