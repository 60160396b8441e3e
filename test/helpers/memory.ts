/**
 * In-memory twins of the Kafka and ClickHouse wings' interfaces, for fast tests of the roles' logic.
 * They keep the guarantees the real ones give: an insert named by a range (or part) seen before is
 * dropped, a refused row fails its whole insert, and what is stored is read back from the stored rows.
 */
import type { CanonicalEvent } from '../../schemas/event.js'
import type { RejectedRecord } from '../../schemas/rejected.js'
import {
  type EventKey,
  type EventStore,
  type Ledger,
  type OffsetEvent,
  type OffsetPart,
  type OffsetRange,
  type PlannedRange,
  StoreDataError,
} from '../../services/clickhouse/index.js'
import { insertToken, positionOf } from '../../services/clickhouse/events.js'
import { QalqanError } from '../../services/errors.js'
import type { EventSender } from '../../services/kafka/index.js'

/** A row of events_raw: the event and where in Kafka it was read. */
export interface StoredRow {
  readonly topic: string
  readonly partition: number
  readonly offset: string
  /** The event's line in its message. */
  readonly index: number
  readonly event: CanonicalEvent
}

/**
 * events_raw: keeps rows, drops an insert whose range it has seen, fails the next N inserts when told
 * (as the transport failing), and refuses every insert holding a row that `refuses` matches.
 */
export class MemoryEventStore implements EventStore {
  readonly rows: StoredRow[] = []
  readonly tokens = new Set<string>()
  /** Every call, failed or not. */
  calls = 0
  /** Inserts dropped because their range was seen before. */
  dropped = 0
  /** Every token tried, in order, failed or not. */
  readonly tried: string[] = []
  /** The rows ClickHouse would refuse, by their event. */
  refuses: (event: CanonicalEvent) => boolean = () => false
  private failures = 0

  failNext(count: number): void {
    this.failures = count
  }

  async insert(events: readonly OffsetEvent[], range: OffsetRange, part?: OffsetPart): Promise<void> {
    this.calls++
    if (this.failures > 0) {
      this.failures--
      throw new Error('memory event store: insert failed (as told)')
    }
    if (events.length === 0) return
    const token = insertToken(range, part)
    this.tried.push(token)
    const bad = events.find(({ event }) => this.refuses(event))
    if (bad !== undefined)
      throw new StoreDataError(`memory event store: refused the row at offset ${bad.offset}`, 'INCORRECT_DATA')
    if (this.tokens.has(token)) {
      this.dropped++
      return
    }
    this.tokens.add(token)
    for (const { offset, index = 0, event } of events)
      this.rows.push({ topic: range.topic, partition: range.partition, offset, index, event })
  }
}

/**
 * worker_batches as a table that keeps every plan (as the current one does): of several plans at one
 * offset `planned` reads the first written, and a later plan inside it cuts it. What is stored is
 * read from the store's rows, as the real ledger reads events_raw.
 */
export class MemoryLedger implements Ledger {
  /** Every plan, in the order written. */
  readonly plans: OffsetRange[] = []

  constructor(private readonly store: MemoryEventStore) {}

  async planned(start: Omit<OffsetRange, 'lastOffset'>): Promise<PlannedRange | undefined> {
    const ofPartition = this.plans.filter((p) => p.topic === start.topic && p.partition === start.partition)
    const first = ofPartition.find((p) => p.firstOffset === start.firstOffset)
    if (first === undefined) return undefined
    const later = ofPartition
      .map((p) => BigInt(p.firstOffset))
      .filter((offset) => offset > BigInt(start.firstOffset) && offset <= BigInt(first.lastOffset))
      .sort((a, b) => (a < b ? -1 : 1))[0]
    return later === undefined
      ? { lastOffset: first.lastOffset }
      : { lastOffset: first.lastOffset, cutAt: String(later) }
  }

  async plan(range: OffsetRange): Promise<void> {
    this.plans.push({ ...range })
  }

  async plannedBefore(start: Omit<OffsetRange, 'lastOffset'>): Promise<string | undefined> {
    const before = this.plans.filter(
      (p) =>
        p.topic === start.topic && p.partition === start.partition && BigInt(p.firstOffset) < BigInt(start.firstOffset),
    )
    const latest = before.reduce<bigint | undefined>(
      (max, p) => (max === undefined || BigInt(p.firstOffset) > max ? BigInt(p.firstOffset) : max),
      undefined,
    )
    const ends = before.filter((p) => BigInt(p.firstOffset) === latest).map((p) => BigInt(p.lastOffset))
    const longest = ends.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).at(-1)
    return longest === undefined ? undefined : String(longest)
  }

  async storedPositions(range: OffsetRange): Promise<string[]> {
    return this.rowsOf(range.topic, range.partition)
      .filter(
        (row) => BigInt(row.offset) >= BigInt(range.firstOffset) && BigInt(row.offset) <= BigInt(range.lastOffset),
      )
      .map((row) => positionOf(row.offset, row.index))
  }

  async recallEventIds(
    topic: string,
    partition: number,
    beforeOffset: string,
    count: number,
    receivedSince: string | undefined,
    each: (key: EventKey) => void,
  ): Promise<void> {
    const before = BigInt(beforeOffset)
    const from = before > BigInt(count) ? before - BigInt(count) : 0n
    const since = receivedSince === undefined ? Number.NEGATIVE_INFINITY : Date.parse(receivedSince)
    for (const row of this.rowsOf(topic, partition)) {
      const offset = BigInt(row.offset)
      if (offset >= from && offset < before && Date.parse(row.event.received_at) >= since)
        each({ sensorId: row.event.sensor_id, eventId: row.event.event_id })
    }
  }

  async storedEventIds(keys: readonly EventKey[]): Promise<EventKey[]> {
    const key = (sensorId: string, eventId: string) => `${sensorId}\u0000${eventId.toLowerCase()}`
    const asked = new Set(keys.map(({ sensorId, eventId }) => key(sensorId, eventId)))
    const stored = new Map<string, EventKey>()
    for (const { event } of this.store.rows) {
      const id = key(event.sensor_id, event.event_id)
      if (asked.has(id)) stored.set(id, { sensorId: event.sensor_id, eventId: event.event_id.toLowerCase() })
    }
    return [...stored.values()]
  }

  private rowsOf(topic: string, partition: number): StoredRow[] {
    return this.store.rows
      .filter((row) => row.topic === topic && row.partition === partition)
      .sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : BigInt(a.offset) > BigInt(b.offset) ? 1 : 0))
  }
}

/** The producer: records what was acknowledged, and fails the next N sends (as Kafka being down) when told. */
export class MemorySender implements EventSender {
  readonly events: CanonicalEvent[] = []
  readonly rejected: RejectedRecord[] = []
  /** Every call, failed or not. */
  calls = 0
  private failures = 0

  failNext(count: number): void {
    this.failures = count
  }

  async send(events: readonly CanonicalEvent[], rejected: readonly RejectedRecord[]): Promise<void> {
    this.calls++
    if (this.failures > 0) {
      this.failures--
      throw new QalqanError('QLQ_ERR_KAFKA_UNAVAILABLE', 'memory sender: send failed (as told)')
    }
    this.events.push(...events)
    this.rejected.push(...rejected)
  }
}

type Calls<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => Promise<R> : T[K]
}

/**
 * Holds every call that workers make to ClickHouse until the test lets it through, so that a test
 * can interleave two workers step by step (both read the ledger, then both write it, ...). `step`
 * waits for the named worker's next call, checks that it is the one expected, runs it to its end.
 */
export class Lockstep {
  private readonly held = new Map<string, { call: string; run: () => void; done: Promise<void> }>()
  private readonly arrived = new Map<string, () => void>()

  /** The ledger and event store as one worker sees them: each call waits for its step. */
  wrap(worker: string, ledger: Ledger, events: EventStore): { ledger: Ledger; events: EventStore } {
    const gate = <T extends object>(target: T, names: readonly (keyof T & string)[]): Calls<T> => {
      const gated = {} as Record<string, unknown>
      for (const name of names) {
        const method = (target[name] as (...args: unknown[]) => Promise<unknown>).bind(target)
        gated[name] = async (...args: unknown[]) => {
          let finish = () => {}
          const done = new Promise<void>((resolve) => {
            finish = resolve
          })
          await new Promise<void>((run) => {
            this.held.set(worker, { call: name, run, done })
            this.arrived.get(worker)?.()
          })
          try {
            return await method(...args)
          } finally {
            finish()
          }
        }
      }
      return gated as Calls<T>
    }
    return {
      ledger: gate(ledger, ['planned', 'plan', 'plannedBefore', 'storedPositions', 'recallEventIds']),
      events: gate(events, ['insert']),
    }
  }

  /** Lets the worker's next call run, once it is waiting; fails when it is another call. */
  async step(worker: string, call: string): Promise<void> {
    if (!this.held.has(worker)) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${worker} made no call; expected ${call}`)), 5_000)
        this.arrived.set(worker, () => {
          clearTimeout(timer)
          resolve()
        })
      })
      this.arrived.delete(worker)
    }
    const held = this.held.get(worker)
    if (held === undefined || held.call !== call) throw new Error(`${worker} called ${held?.call}; expected ${call}`)
    this.held.delete(worker)
    held.run()
    await held.done
  }
}
