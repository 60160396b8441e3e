import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { CanonicalEvent } from '../schemas/event.js'
import type { ClickHouseSink } from './sinks/clickhouse.js'
import type { KafkaSink, RejectedRecord } from './sinks/kafka.js'
import type { PartitionBatch } from './sources/kafka.js'
import { aggregate } from './transforms/aggregate.js'
import { describeIssues } from './transforms/validate.js'

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
  return async function handleBatch(batch: PartitionBatch, heartbeat: () => Promise<void>): Promise<void> {
    const events: CanonicalEvent[] = []
    const rejected: RejectedRecord[] = []
    for (const message of batch.messages) {
      const raw = message.value?.toString('utf8') ?? ''
      const reason = decodeEvent(raw, events)
      if (reason !== undefined) {
        rejected.push({ reason, stage: 'aggregate', format: 'canonical', sensor_id: null, index: null, received_at: new Date().toISOString(), raw })
      }
    }
    const rows = aggregate(events)
    const token = `${batch.topic}:${batch.partition}:${batch.firstOffset}-${batch.lastOffset}`
    await retry(deps, heartbeat, 'rejected events to Kafka', () => deps.rejected.write([], rejected))
    await retry(deps, heartbeat, 'rows to ClickHouse', () => deps.clickhouse.write(rows, token))
    if (rejected.length > 0) deps.logger.warn({ partition: batch.partition, rejected: rejected.length }, 'unreadable events sent to the rejected topic')
  }
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

async function retry(deps: WorkerDeps, heartbeat: () => Promise<void>, what: string, write: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write()
      return
    } catch (err) {
      if (!deps.isRunning()) throw err
      const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7))
      deps.logger.warn({ err, attempt, retryInMs: delay }, `writing ${what} failed; retrying`)
      await sleep(delay)
      await heartbeat().catch(() => undefined)
    }
  }
}
