/** What the roles see of ClickHouse: small interfaces over plain types, with in-memory twins in the tests. */
import type { CanonicalEvent } from '../../schemas/event.js'

/** A Kafka partition's offset range: the unit that the worker stores and commits. */
export interface OffsetRange {
  readonly topic: string
  readonly partition: number
  readonly firstOffset: string
  readonly lastOffset: string
}

/** An event with the offset it was read from. */
export interface OffsetEvent {
  readonly offset: string
  readonly event: CanonicalEvent
}

/**
 * Stores events in events_raw, whose materialized views keep the aggregates. An insert is named by
 * its offset range: inserting the same range again is dropped, in the views too.
 */
export interface EventStore {
  insert(events: readonly OffsetEvent[], range: OffsetRange): Promise<void>
}

/** The worker's batch ledger: each range is recorded before its rows are stored, so a replay cuts the same range. */
export interface Ledger {
  /** The last offset of the range that was planned to start at this offset, if one was. */
  plannedLastOffset(start: Omit<OffsetRange, 'lastOffset'>): Promise<string | undefined>
  plan(range: OffsetRange): Promise<void>
  /** The event ids stored from the `count` offsets before `beforeOffset`, oldest first. */
  recentEventIds(topic: string, partition: number, beforeOffset: string, count: number): Promise<string[]>
}

/** Read-only queries with bound parameters, for the analysts' API. */
export interface Reader {
  rows<T>(query: string, params: Record<string, unknown>): Promise<T[]>
}
