import type { Logger } from 'pino'
import { type RejectedRecord, rawFields } from '../../schemas/rejected.js'
import type { EventStore, Ledger, OffsetEvent } from '../clickhouse/index.js'
import type { BatchHandler, EventSender } from '../kafka/index.js'
import type { Metrics } from '../metrics.js'
import { insertBisecting } from './bisect.js'
import { absurdTime, type TimeLimits } from './check-time.js'
import { planRange } from './plan-range.js'
import { readMessage } from './read-message.js'
import { eventKey, RecentIds } from './recent-ids.js'
import { retrying } from './retry.js'

export interface StoreDeps {
  readonly logger: Logger
  readonly metrics: Metrics
  readonly events: EventStore
  readonly ledger: Ledger
  readonly rejections: EventSender
  readonly isRunning: () => boolean
  readonly timeLimits: TimeLimits
  /** How many of a partition's latest (sensor, event id) keys are remembered to recognise copies. */
  readonly dedupWindow: number
  /** The first wait before a failed write is tried again. */
  readonly retryDelayMs?: number
}

/**
 * The worker's step for one partition batch: read each message, send unreadable ones and those
 * with an absurd time to the rejected topic, drop copies of events already stored (same sensor and
 * event id), and store the rest in ClickHouse, retrying until it takes them; rows that ClickHouse
 * refuses go to the rejected topic too (bisect.ts). Returns the last offset stored.
 */
export function createStore(deps: StoreDeps): BatchHandler {
  const partitions = new Map<string, { ids: RecentIds; nextOffset: bigint }>()

  return async function store(batch, heartbeat) {
    const retry = retrying(
      { ...deps, ...(deps.retryDelayMs !== undefined && { initialDelayMs: deps.retryDelayMs }) },
      heartbeat,
    )
    const range = await planRange(batch, deps.ledger, retry)
    const key = `${batch.topic}:${batch.partition}`
    let state = partitions.get(key)
    if (state === undefined || state.nextOffset !== BigInt(range.firstOffset)) {
      // A partition new to this process, or one that another worker had meanwhile: recall what it stored.
      const ids = new RecentIds(deps.dedupWindow)
      const recent = await retry('reading recent event ids', () =>
        deps.ledger.recentEventIds(batch.topic, batch.partition, range.firstOffset, deps.dedupWindow),
      )
      for (const { sensorId, eventId } of recent) {
        const id = eventKey(sensorId, eventId)
        if (!ids.has(id)) ids.add(id)
      }
      state = { ids, nextOffset: BigInt(range.firstOffset) }
    }
    // The ids are remembered before they are stored: until they are, a failure must not leave them
    // behind, or Kafka's next try of this batch would drop every event in it as a copy.
    partitions.delete(key)

    const events: OffsetEvent[] = []
    const rejected: RejectedRecord[] = []
    let duplicates = 0
    let received = 0
    const last = BigInt(range.lastOffset)
    const reject = (reason: string, sensorId: string | null, raw: string) =>
      rejected.push({
        reason,
        stage: 'store',
        format: 'canonical',
        sensor_id: sensorId,
        index: null,
        received_at: new Date().toISOString(),
        ...rawFields(raw),
      })
    for (const message of batch.messages) {
      if (BigInt(message.offset) > last) break
      received++
      const raw = message.value?.toString('utf8') ?? ''
      const event = readMessage(raw)
      if (typeof event === 'string') {
        reject(event, null, raw)
        continue
      }
      const absurd = absurdTime(event, deps.timeLimits)
      if (absurd !== undefined) {
        reject(absurd, event.sensor_id, raw)
        continue
      }
      const id = eventKey(event.sensor_id, event.event_id)
      if (state.ids.has(id)) {
        duplicates++
        continue
      }
      state.ids.add(id)
      events.push({ offset: message.offset, event })
    }

    await retry('writing rejected events to Kafka', () => deps.rejections.send([], rejected))
    const started = process.hrtime.bigint()
    const { stored, refused, inserts } = await insertBisecting(deps.events, events, range, retry)
    if (stored.length > 0)
      deps.metrics.clickhouseInserted(stored.length, Number(process.hrtime.bigint() - started) / 1e9)
    if (refused.length > 0) {
      const from = rejected.length
      // Refusals are rare: the original text is looked up then, not kept for every event.
      const byOffset = new Map(batch.messages.map((message) => [message.offset, message.value]))
      for (const { item, reason } of refused) {
        reject(reason, item.event.sensor_id, byOffset.get(item.offset)?.toString('utf8') ?? '')
        // Not stored, so not recalled after a restart either: a copy must meet the same fate with or without one.
        state.ids.delete(eventKey(item.event.sensor_id, item.event.event_id))
      }
      deps.logger.warn(
        { partition: batch.partition, refused: refused.length, inserts, reason: refused[0]?.reason },
        'ClickHouse refused events; the rest is stored',
      )
      await retry('writing rejected events to Kafka', () => deps.rejections.send([], rejected.slice(from)))
    }
    deps.metrics.stage('store', { received, sent: stored.length })
    if (duplicates > 0) deps.metrics.stage('store', { discarded: duplicates, discardReason: 'duplicate_event_id' })
    if (rejected.length > 0) {
      deps.metrics.stage('store', { discarded: rejected.length, discardReason: 'rejected' })
      deps.logger.warn({ partition: batch.partition, rejected: rejected.length }, 'events sent to the rejected topic')
    }
    state.nextOffset = last + 1n
    partitions.set(key, state)
    return range.lastOffset
  }
}
