/** What the roles see of Kafka: small interfaces over plain types, with in-memory twins in the tests. */
import type { CanonicalEvent } from '../../schemas/event.js'
import type { RejectedRecord } from '../../schemas/rejected.js'

export type { RejectedRecord }

/** Sends events to the events topic and rejections to the rejected topic, acks=all. */
export interface EventSender {
  /** Resolves once Kafka acknowledged every message; rejects with a QalqanError otherwise. */
  send(events: readonly CanonicalEvent[], rejected: readonly RejectedRecord[]): Promise<void>
  /** Why an event can never be sent (larger than Kafka takes in one message), or undefined when it can. */
  refusal?(event: CanonicalEvent): string | undefined
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
