import type { Logger } from 'pino'
import type { CanonicalEvent } from '../../schemas/event.js'
import { type RejectedRecord, rawFields } from '../../schemas/rejected.js'
import { type EventStore, type Ledger, type OffsetEvent, positionOf } from '../clickhouse/index.js'
import type { BatchHandler, EventSender } from '../kafka/index.js'
import type { Metrics } from '../metrics.js'
import { insertBisecting } from './bisect.js'
import { absurdTime, type TimeLimits } from '../time-limits.js'
import { type CopyKey, copyKey } from './copy-key.js'
import { KeySet } from './key-set.js'
import { planRange, rangeEnd } from './plan-range.js'
import { readLines } from './read-message.js'
import { RecentIds } from './recent-ids.js'
import { retrying } from './retry.js'

export interface StoreDeps {
  readonly logger: Logger
  readonly metrics: Metrics
  readonly events: EventStore
  readonly ledger: Ledger
  readonly rejections: EventSender
  readonly isRunning: () => boolean
  readonly timeLimits: TimeLimits
  /** How long, and how many at most, (sensor, event id) keys are remembered to recognise copies. */
  readonly dedup: { readonly windowMs: number; readonly maxEntries: number }
  /** The first wait before a failed write is tried again. */
  readonly retryDelayMs?: number
  /** The clock of the copies' window (ms); tests move it. */
  readonly now?: () => number
}

/** Where an event was read: its message's offset and its line. */
interface Place {
  readonly offset: string
  readonly index: number
}

/** An event (a line of a message) up to the range's end, and what became of it. */
type Outcome =
  | (Place & { readonly kind: 'rejected'; readonly record: RejectedRecord })
  | (Place & { readonly kind: 'copy' })
  | (Place & {
      /** `again`: stored from this offset before, inserted again; `stored`: the same, left out. */
      readonly kind: 'insert' | 'again' | 'stored'
      readonly event: CanonicalEvent
      readonly key: CopyKey
    })

/**
 * The worker's step for one partition batch: read each message, send unreadable ones and those
 * with an absurd time to the rejected topic, drop copies of events already stored (same sensor and
 * event id, first seen within the window), and store the rest in ClickHouse, retrying until it takes
 * them; rows that ClickHouse refuses go to the rejected topic too (bisect.ts). Returns the last offset
 * stored. The ranges and their tokens are planned in plan-range.ts.
 */
export function createStore(deps: StoreDeps): BatchHandler {
  const now = deps.now ?? Date.now
  const ids = new RecentIds(
    {
      windowMs: deps.dedup.windowMs,
      maxEntries: deps.dedup.maxEntries,
      onEvicted: (count) => deps.metrics.dedupEvicted(count),
    },
    now(),
  )
  /** The next offset of each partition that this process stored up to: its ids are in the window. */
  const nextOffsets = new Map<string, bigint>()

  return async function store(batch, heartbeat) {
    const retry = retrying(
      { ...deps, ...(deps.retryDelayMs !== undefined && { initialDelayMs: deps.retryDelayMs }) },
      heartbeat,
    )
    const plan = await planRange(batch, deps.ledger, retry)
    const { range } = plan
    const partition = `${batch.topic}:${batch.partition}`
    const continues = nextOffsets.get(partition) === BigInt(range.firstOffset)
    // Until the batch is stored, a failure must leave nothing of it behind: its ids join the window after.
    nextOffsets.delete(partition)

    const last = BigInt(range.lastOffset)
    const messages = batch.messages.filter((message) => BigInt(message.offset) <= last)
    // A message holds one or more events, a line each.
    const read = messages.flatMap(({ offset, value }) =>
      readLines(value?.toString('utf8') ?? '').map(({ raw, read }, index) => ({
        offset,
        index,
        raw,
        event: read,
      })),
    )
    const seenAt = now()
    ids.advance(seenAt)
    // A partition new to this process, or one that another worker had meanwhile: recall what it
    // stored, as far back as the window reaches from these events (none readable: nothing to check).
    const since = continues
      ? undefined
      : earliestArrival(
          read.map((message) => message.event),
          deps.dedup.windowMs,
        )
    if (since !== undefined) {
      await retry('reading recent event ids', () =>
        deps.ledger.recallEventIds(
          batch.topic,
          batch.partition,
          range.firstOffset,
          deps.dedup.maxEntries,
          since,
          ({ sensorId, eventId }) => ids.add(copyKey(sensorId, eventId), seenAt),
        ),
      )
    }
    const stored = plan.replay
      ? new Set(await retry('reading what was stored of the range', () => deps.ledger.storedPositions(range)))
      : undefined
    // A replay of the whole plan goes in again under its token (dropped, and the views completed).
    // Part of a plan cannot: the plan may have gone in by halves, under tokens this part does not
    // repeat, so what events_raw holds of it is left out.
    const partOfPlan = plan.splitRest || range.lastOffset !== plan.claim.lastOffset

    const inBatch = new KeySet()
    const outcomes: Outcome[] = read.map(({ offset, index, raw, event }) => {
      if (typeof event === 'string') return { offset, index, kind: 'rejected', record: rejection(event, null, raw) }
      const key = copyKey(event.sensor_id, event.event_id)
      // Stored from this very place before (a replay): not a copy, the event itself.
      if (stored?.has(positionOf(offset, index))) {
        inBatch.add(key.hi, key.lo)
        return { offset, index, kind: partOfPlan ? 'stored' : 'again', event, key }
      }
      const absurd = absurdTime(event, deps.timeLimits)
      if (absurd !== undefined)
        return { offset, index, kind: 'rejected', record: rejection(absurd, event.sensor_id, raw) }
      if (ids.has(key) || !inBatch.add(key.hi, key.lo)) return { offset, index, kind: 'copy' }
      return { offset, index, kind: 'insert', event, key }
    })

    const events: OffsetEvent[] = []
    for (const outcome of outcomes) if (outcome.kind === 'insert' || outcome.kind === 'again') events.push(outcome)
    const started = process.hrtime.bigint()
    const { stored: inserted, refused, inserts } = await insertBisecting(deps.events, events, plan.claim, retry)
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const end = await rangeEnd(plan, deps.ledger, retry)

    // Past `end`, another worker's part may hold the events: the next batch finds out, and counts them.
    const upTo = BigInt(end)
    // Most ranges end where planned: then every event is within, and no offset needs reading.
    const within = end === range.lastOffset ? () => true : (offset: string) => BigInt(offset) <= upTo
    const refusedAt = new Map(refused.map(({ item, reason }) => [positionOf(item.offset, item.index), reason]))
    // The original text of a refused row, looked up only when ClickHouse refused one.
    const byPosition =
      refused.length > 0 ? new Map(read.map((line) => [positionOf(line.offset, line.index), line.raw])) : undefined
    const rejected: RejectedRecord[] = []
    let received = 0
    let duplicates = 0
    let sent = 0
    for (const outcome of outcomes) {
      if (!within(outcome.offset)) continue
      received++
      if (outcome.kind === 'rejected') rejected.push(outcome.record)
      else if (outcome.kind === 'copy') duplicates++
      else {
        const reason = refused.length === 0 ? undefined : refusedAt.get(positionOf(outcome.offset, outcome.index))
        if (reason === undefined) {
          sent++
          // Found absent above; one stored before may be remembered already.
          if (outcome.kind === 'insert') ids.addNew(outcome.key, seenAt)
          else ids.add(outcome.key, seenAt)
        } else {
          // Not stored, so not remembered either: a copy meets the same fate with or without a restart.
          rejected.push(
            rejection(
              reason,
              outcome.event.sensor_id,
              byPosition?.get(positionOf(outcome.offset, outcome.index)) ?? '',
            ),
          )
        }
      }
    }
    if (refused.length > 0) {
      deps.logger.warn(
        { partition: batch.partition, refused: refused.length, inserts, reason: refused[0]?.reason },
        'ClickHouse refused events; the rest is stored',
      )
    }
    await retry('writing rejected events to Kafka', () => deps.rejections.send([], rejected))

    if (inserted.length > 0) deps.metrics.clickhouseInserted(inserted.length, seconds)
    deps.metrics.stage('store', { received, sent })
    if (duplicates > 0) deps.metrics.stage('store', { discarded: duplicates, discardReason: 'duplicate_event_id' })
    if (rejected.length > 0) {
      deps.metrics.stage('store', { discarded: rejected.length, discardReason: 'rejected' })
      deps.logger.warn({ partition: batch.partition, rejected: rejected.length }, 'events sent to the rejected topic')
    }
    if (continues || since !== undefined) nextOffsets.set(partition, upTo + 1n)
    return end
  }
}

function rejection(reason: string, sensorId: string | null, raw: string): RejectedRecord {
  return {
    reason,
    stage: 'store',
    format: 'canonical',
    sensor_id: sensorId,
    index: null,
    received_at: new Date().toISOString(),
    ...rawFields(raw),
  }
}

/**
 * How far back to recall ids: a window before the earliest arrival among the events. Copies arrive
 * soon after their originals, so this holds even for a backlog read long after it arrived.
 */
function earliestArrival(events: readonly (CanonicalEvent | string)[], windowMs: number): string | undefined {
  let earliest = Number.POSITIVE_INFINITY
  for (const event of events) {
    if (typeof event === 'string') continue
    const received = Date.parse(event.received_at)
    if (received < earliest) earliest = received
  }
  return Number.isFinite(earliest) ? new Date(earliest - windowMs).toISOString() : undefined
}
