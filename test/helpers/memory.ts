/**
 * In-memory twins of the Kafka and ClickHouse wings' interfaces, for fast tests of the roles' logic.
 * They keep the guarantees the real ones give: an insert named by a range (or part) seen before is
 * dropped, a refused row fails its whole insert, and recent ids are read back from the stored rows.
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
  StoreDataError,
} from '../../services/clickhouse/index.js'
import { QalqanError } from '../../services/errors.js'
import type { EventSender } from '../../services/kafka/index.js'

/** The insert_deduplication_token that services/clickhouse/events.ts gives a range, or a part of it. */
export function rangeToken(range: OffsetRange, part?: OffsetPart): string {
  const token = `${range.topic}:${range.partition}:${range.firstOffset}-${range.lastOffset}`
  return part === undefined ? token : `${token}/${part.firstOffset}-${part.lastOffset}`
}

/** A row of events_raw: the event and where in Kafka it was read. */
export interface StoredRow {
  readonly topic: string
  readonly partition: number
  readonly offset: string
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
    const token = rangeToken(range, part)
    this.tried.push(token)
    const bad = events.find(({ event }) => this.refuses(event))
    if (bad !== undefined)
      throw new StoreDataError(`memory event store: refused the row at offset ${bad.offset}`, 'INCORRECT_DATA')
    if (this.tokens.has(token)) {
      this.dropped++
      return
    }
    this.tokens.add(token)
    for (const { offset, event } of events)
      this.rows.push({ topic: range.topic, partition: range.partition, offset, event })
  }
}

/** worker_batches, with recent event ids read from the store's rows as the real ledger reads events_raw. */
export class MemoryLedger implements Ledger {
  /** The planned last offset by `topic:partition:firstOffset`. */
  readonly planned = new Map<string, string>()

  constructor(private readonly store: MemoryEventStore) {}

  async plannedLastOffset(start: Omit<OffsetRange, 'lastOffset'>): Promise<string | undefined> {
    return this.planned.get(`${start.topic}:${start.partition}:${start.firstOffset}`)
  }

  async plan(range: OffsetRange): Promise<void> {
    const key = `${range.topic}:${range.partition}:${range.firstOffset}`
    const before = this.planned.get(key)
    // The real query reads max(last_offset) of the rows not yet merged.
    if (before === undefined || BigInt(range.lastOffset) > BigInt(before)) this.planned.set(key, range.lastOffset)
  }

  async recentEventIds(topic: string, partition: number, beforeOffset: string, count: number): Promise<EventKey[]> {
    const before = BigInt(beforeOffset)
    const from = before > BigInt(count) ? before - BigInt(count) : 0n
    return this.store.rows
      .filter(
        (row) =>
          row.topic === topic &&
          row.partition === partition &&
          BigInt(row.offset) >= from &&
          BigInt(row.offset) < before,
      )
      .sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : BigInt(a.offset) > BigInt(b.offset) ? 1 : 0))
      .map((row) => ({ sensorId: row.event.sensor_id, eventId: row.event.event_id }))
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
