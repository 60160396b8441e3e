import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { CanonicalEvent } from '../../schemas/event.js'
import type { Metrics } from '../metrics.js'
import type { ClickHouseSink, OffsetEvent, OffsetRange } from '../clickhouse/ledger.js'
import type { KafkaSink, RejectedRecord } from '../kafka/producer.js'
import type { PartitionBatch } from '../kafka/consumer.js'
import { absurdTime, type TimeLimits } from './check-time.js'
import { RecentIds } from './recent-ids.js'
import { describeIssues } from '../collector/validate.js'

type Retrying = <T>(what: string, call: () => Promise<T>) => Promise<T>

export interface WorkerDeps {
  readonly logger: Logger
  readonly metrics: Metrics
  readonly clickhouse: ClickHouseSink
  readonly rejected: KafkaSink
  readonly isRunning: () => boolean
  readonly timeLimits: TimeLimits
  /** How many of a partition's latest event ids are remembered to recognise copies. */
  readonly dedupWindow: number
}

/**
 * The worker's step for one partition batch: decode each message, send unreadable ones and those
 * with an absurd time to the rejected topic, drop copies of events already counted (same event
 * id), and write the rest to ClickHouse, retrying until it takes them: nothing is skipped, so a
 * ClickHouse outage stops consumption instead of losing events. Returns the last offset written.
 */
export function createBatchHandler(deps: WorkerDeps) {
  const partitions = new Map<string, { ids: RecentIds; nextOffset: bigint }>()

  return async function handleBatch(batch: PartitionBatch, heartbeat: () => Promise<void>): Promise<string> {
    const retrying: Retrying = (what, call) => retry(deps, heartbeat, what, call)
    const range = await planRange(batch, deps.clickhouse, retrying)
    const key = `${batch.topic}:${batch.partition}`
    let state = partitions.get(key)
    if (state === undefined || state.nextOffset !== BigInt(range.firstOffset)) {
      // A partition new to this process, or one that another worker had meanwhile: recall what it wrote.
      const ids = new RecentIds(deps.dedupWindow)
      const recent = await retrying('reading recent event ids', () => deps.clickhouse.recentEventIds(batch.topic, batch.partition, range.firstOffset, deps.dedupWindow))
      for (const id of recent) if (!ids.has(id)) ids.add(id)
      state = { ids, nextOffset: BigInt(range.firstOffset) }
      partitions.set(key, state)
    }

    const events: OffsetEvent[] = []
    const rejected: RejectedRecord[] = []
    let duplicates = 0
    let received = 0
    const last = BigInt(range.lastOffset)
    const reject = (reason: string, sensorId: string | null, raw: string) =>
      rejected.push({ reason, stage: 'aggregate', format: 'canonical', sensor_id: sensorId, index: null, received_at: new Date().toISOString(), raw })
    for (const message of batch.messages) {
      if (BigInt(message.offset) > last) break
      received++
      const raw = message.value?.toString('utf8') ?? ''
      const decoded = decodeEvent(raw)
      if (typeof decoded === 'string') {
        reject(decoded, null, raw)
        continue
      }
      const absurd = absurdTime(decoded, deps.timeLimits)
      if (absurd !== undefined) {
        reject(absurd, decoded.sensor_id, raw)
        continue
      }
      if (state.ids.has(decoded.event_id)) {
        duplicates++
        continue
      }
      state.ids.add(decoded.event_id)
      events.push({ offset: message.offset, event: decoded })
    }

    await retrying('writing rejected events to Kafka', () => deps.rejected.write([], rejected))
    const started = process.hrtime.bigint()
    await retrying('writing events to ClickHouse', () => deps.clickhouse.writeEvents(events, range))
    if (events.length > 0) {
      deps.metrics.observe('qalqan_clickhouse_insert_seconds', 'Time of one insert into ClickHouse.', {}, Number(process.hrtime.bigint() - started) / 1e9)
      deps.metrics.inc('qalqan_clickhouse_rows_total', 'Rows inserted into events_raw.', {}, events.length)
    }
    deps.metrics.stage('worker', { received, sent: events.length })
    if (duplicates > 0) deps.metrics.stage('worker', { discarded: duplicates, discardReason: 'duplicate_event_id' })
    if (rejected.length > 0) {
      deps.metrics.stage('worker', { discarded: rejected.length, discardReason: 'rejected' })
      deps.logger.warn({ partition: batch.partition, rejected: rejected.length }, 'events sent to the rejected topic')
    }
    state.nextOffset = last + 1n
    return range.lastOffset
  }
}

/**
 * The range to write: the one planned before, if this batch is a replay, else this whole batch,
 * recorded in the ledger before any of its rows are written.
 */
async function planRange(batch: PartitionBatch, clickhouse: ClickHouseSink, retrying: Retrying): Promise<OffsetRange> {
  const { topic, partition, firstOffset, lastOffset } = batch
  const planned = await retrying('reading the batch ledger', () => clickhouse.plannedLastOffset({ topic, partition, firstOffset }))
  if (planned === undefined) {
    const range = { topic, partition, firstOffset, lastOffset }
    await retrying('writing the batch ledger', () => clickhouse.planBatch(range))
    return range
  }
  if (BigInt(planned) > BigInt(lastOffset)) {
    // The refetch came back shorter than the original batch: let Kafka fetch again rather than cut elsewhere.
    throw new Error(`replayed batch ${topic}:${partition}:${firstOffset} was planned to end at ${planned} but the fetch ended at ${lastOffset}`)
  }
  return { topic, partition, firstOffset, lastOffset: planned }
}

/** The canonical event in a message, or why there is none. */
function decodeEvent(raw: string): CanonicalEvent | string {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch (err) {
    return `not valid JSON: ${(err as Error).message}`
  }
  const parsed = CanonicalEvent.safeParse(value)
  return parsed.success ? parsed.data : `not a canonical event: ${describeIssues(parsed.error.issues)}`
}

async function retry<T>(deps: WorkerDeps, heartbeat: () => Promise<void>, what: string, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call()
    } catch (err) {
      if (!deps.isRunning()) throw err
      const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7))
      deps.metrics.inc('qalqan_worker_retries_total', 'Retries of a failed write, by what was written.', { what })
      deps.logger.warn({ err, attempt, retryInMs: delay }, `${what} failed; retrying`)
      await sleep(delay)
      await heartbeat().catch(() => undefined)
    }
  }
}
