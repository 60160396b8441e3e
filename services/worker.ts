import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { CanonicalEvent } from '../schemas/event.js'
import type { ClickHouseSink, OffsetRange } from './sinks/clickhouse.js'
import type { KafkaSink, RejectedRecord } from './sinks/kafka.js'
import type { PartitionBatch } from './sources/kafka.js'
import { aggregate } from './transforms/aggregate.js'
import { describeIssues } from './transforms/validate.js'

type Retrying = <T>(what: string, call: () => Promise<T>) => Promise<T>

export interface WorkerDeps {
  readonly logger: Logger
  readonly clickhouse: ClickHouseSink
  readonly rejected: KafkaSink
  readonly isRunning: () => boolean
}

/**
 * Turns one partition batch into minute rows and writes them, retrying until ClickHouse takes them:
 * nothing is skipped, so a ClickHouse outage stops consumption instead of losing events.
 */
export function createBatchHandler(deps: WorkerDeps) {
  return async function handleBatch(batch: PartitionBatch, heartbeat: () => Promise<void>): Promise<string> {
    const retrying: Retrying = (what, call) => retry(deps, heartbeat, what, call)
    const range = await planRange(batch, deps.clickhouse, retrying)
    const events: CanonicalEvent[] = []
    const rejected: RejectedRecord[] = []
    const last = BigInt(range.lastOffset)
    for (const message of batch.messages) {
      if (BigInt(message.offset) > last) break
      const raw = message.value?.toString('utf8') ?? ''
      const reason = decodeEvent(raw, events)
      if (reason !== undefined) {
        rejected.push({ reason, stage: 'aggregate', format: 'canonical', sensor_id: null, index: null, received_at: new Date().toISOString(), raw })
      }
    }
    const rows = aggregate(events)
    await retrying('writing rejected events to Kafka', () => deps.rejected.write([], rejected))
    await retrying('writing rows to ClickHouse', () => deps.clickhouse.writeRows(rows, range))
    if (rejected.length > 0) deps.logger.warn({ partition: batch.partition, rejected: rejected.length }, 'unreadable events sent to the rejected topic')
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

function decodeEvent(raw: string, into: CanonicalEvent[]): string | undefined {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch (err) {
    return `not valid JSON: ${(err as Error).message}`
  }
  const parsed = CanonicalEvent.safeParse(value)
  if (!parsed.success) return `not a canonical event: ${describeIssues(parsed.error.issues)}`
  into.push(parsed.data)
  return undefined
}

async function retry<T>(deps: WorkerDeps, heartbeat: () => Promise<void>, what: string, write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write()
    } catch (err) {
      if (!deps.isRunning()) throw err
      const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7))
      deps.logger.warn({ err, attempt, retryInMs: delay }, `${what} failed; retrying`)
      await sleep(delay)
      await heartbeat().catch(() => undefined)
    }
  }
}
