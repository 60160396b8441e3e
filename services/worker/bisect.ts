import { type EventStore, type OffsetEvent, type OffsetRange, positionOf, StoreDataError } from '../clickhouse/index.js'
import type { Retrying } from './retry.js'

/** An event that ClickHouse refused, and ClickHouse's message. */
export interface RefusedEvent {
  readonly item: OffsetEvent
  readonly reason: string
}

export interface InsertOutcome {
  /** The events stored, in offset order. */
  readonly stored: OffsetEvent[]
  readonly refused: RefusedEvent[]
  /** Inserts tried, the first included; more than one when rows were refused. */
  readonly inserts: number
}

/** Long enough for ClickHouse's message and the row it points at, short enough for a Kafka record. */
const MAX_REASON_LENGTH = 1000

/**
 * Inserts a range's events. When ClickHouse refuses rows (a StoreDataError: nothing of that insert
 * was stored), halves the events until each refused row stands alone, and stores every part that
 * ClickHouse takes. Any other error is the transport's or the engine's, and `retry` tries again.
 *
 * The tokens: the whole goes in under the planned range's token and each part under `range/a-b`,
 * the positions of its first and last events (unique within the range, as the events are in the
 * order of their offsets and lines). Two workers inserting the same events at once (a rebalance) halve them the same way, so
 * each part of one excludes the same part of the other. The halving depends only on the events and
 * ClickHouse's verdict on each part, both of which a replay after a crash reproduces (the ledger
 * cuts the same range, the same copies are dropped, a refused row is refused again), so a replay
 * tries the same parts under the same tokens, and the parts stored before the crash are dropped.
 */
export async function insertBisecting(
  store: EventStore,
  events: readonly OffsetEvent[],
  range: OffsetRange,
  retry: Retrying,
): Promise<InsertOutcome> {
  const stored: OffsetEvent[] = []
  const refused: RefusedEvent[] = []
  let inserts = 0

  // Resolves with the data error instead of throwing it, so that `retry` retries only the others.
  const attempt = (part: readonly OffsetEvent[], whole: boolean) =>
    retry('writing events to ClickHouse', async () => {
      inserts++
      try {
        if (whole) await store.insert(part, range)
        else await store.insert(part, range, { first: position(first(part)), last: position(last(part)) })
        return undefined
      } catch (err) {
        if (err instanceof StoreDataError) return err
        throw err
      }
    })

  const insert = async (part: readonly OffsetEvent[], whole: boolean): Promise<void> => {
    const refusal = await attempt(part, whole)
    if (refusal === undefined) {
      stored.push(...part)
    } else if (part.length === 1) {
      refused.push({ item: first(part), reason: reasonOf(refusal) })
    } else {
      const half = Math.ceil(part.length / 2)
      await insert(part.slice(0, half), false)
      await insert(part.slice(half), false)
    }
  }

  if (events.length > 0) await insert(events, true)
  return { stored, refused, inserts }
}

function position(item: OffsetEvent): string {
  return positionOf(item.offset, item.index)
}

function first(part: readonly OffsetEvent[]): OffsetEvent {
  const item = part[0]
  if (item === undefined) throw new Error('an empty part')
  return item
}

function last(part: readonly OffsetEvent[]): OffsetEvent {
  const item = part[part.length - 1]
  if (item === undefined) throw new Error('an empty part')
  return item
}

function reasonOf(err: StoreDataError): string {
  const reason = `ClickHouse refused the event (${err.code}): ${err.message.trim()}`
  return reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 1)}…` : reason
}
