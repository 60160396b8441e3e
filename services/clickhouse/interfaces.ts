/** What the roles see of ClickHouse: small interfaces over plain types, with in-memory twins in the tests. */
import type { CanonicalEvent } from '../../schemas/event.js'

/** A Kafka partition's offset range: the unit that the worker stores and commits. */
export interface OffsetRange {
  readonly topic: string
  readonly partition: number
  readonly firstOffset: string
  readonly lastOffset: string
}

/**
 * Part of a range's events, named by the positions (positionOf) of its first and last event: the
 * worker inserts parts of a range when ClickHouse refused some of its rows, each under a token of its own.
 */
export interface OffsetPart {
  readonly first: string
  readonly last: string
}

/** An event with where it was read: its message's offset and its line in that message. */
export interface OffsetEvent {
  readonly offset: string
  /** The event's line in its message, from 0 (absent: 0): a message holds one or more events. */
  readonly index?: number | undefined
  readonly event: CanonicalEvent
}

/**
 * Stores events in events_raw, whose materialized views keep the aggregates. An insert is named by
 * its offset range, and by the part of it when given: inserting the same range (or part) again is
 * dropped, in the views too. Rejects with a StoreDataError (errors.ts) when ClickHouse refused the
 * rows themselves, so that nothing of the insert was stored; any other rejection may pass.
 */
export interface EventStore {
  insert(events: readonly OffsetEvent[], range: OffsetRange, part?: OffsetPart): Promise<void>
}

/** Who sent an event and its id: copies are recognised by both, as one sensor cannot speak for another. */
export interface EventKey {
  readonly sensorId: string
  readonly eventId: string
}

/** The range planned first at an offset, and where a plan inside it cuts it short, if one does. */
export interface PlannedRange {
  readonly lastOffset: string
  /**
   * The first offset after the start, within the range, at which another range was planned: a
   * worker whose fetch ended before the range did stored the part it had and planned the rest there.
   */
  readonly cutAt?: string
}

/** The worker's batch ledger: each range is recorded before its rows are stored, so a replay cuts the same range. */
export interface Ledger {
  /** The range planned first to start at this offset, if one was. */
  planned(start: Omit<OffsetRange, 'lastOffset'>): Promise<PlannedRange | undefined>
  /** Records a plan; of several plans at one offset, the first written is the one `planned` reads. */
  plan(range: OffsetRange): Promise<void>
  /** The last offset of the latest range planned to start before this offset (the longest of them), if any. */
  plannedBefore(start: Omit<OffsetRange, 'lastOffset'>): Promise<string | undefined>
  /** The positions (positionOf) of the range's events that are in events_raw, in any order. */
  storedPositions(range: OffsetRange): Promise<string[]>
  /**
   * Calls `each` with the sensor and event ids stored from the `count` offsets before `beforeOffset`
   * and received at or after `receivedSince` (an ISO time; all of them when undefined), oldest first.
   */
  recallEventIds(
    topic: string,
    partition: number,
    beforeOffset: string,
    count: number,
    receivedSince: string | undefined,
    each: (key: EventKey) => void,
  ): Promise<void>
  /**
   * The keys among `keys` whose event events_raw holds, whenever it was stored, in any order (ids
   * as ClickHouse writes them: lowercase). Asks ClickHouse even for no keys, so that a caller can
   * check first that events_raw can be read.
   */
  storedEventIds(keys: readonly EventKey[]): Promise<EventKey[]>
}

/** Read-only queries with bound parameters, for the analysts' API. */
export interface Reader {
  rows<T>(query: string, params: Record<string, unknown>): Promise<T[]>
}
