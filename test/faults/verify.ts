import type { Test } from 'tap'
import { testKafka, waitForGroupCaughtUp } from '../helpers/kafka.js'
import type { CaseSettings, Stack } from './processes.js'
import type { SteadySensor } from './sensor.js'
import { compare, type RejectedRecordRead, readRejected, readStore, type Stored } from './store.js'

export interface Settled {
  stored: Stored
  rejected: RejectedRecordRead[]
  /** Exits of the collector or the worker that nobody asked for, and stops on SIGTERM that went wrong. */
  crashes: string[]
  /** How long the worker took to store everything once the load stopped. */
  catchUpMs: number
}

/** Waits until the worker stored everything, stops both processes, and reads ClickHouse and the rejected topic. */
export async function settle(settings: CaseSettings, stack: Stack): Promise<Settled> {
  const started = Date.now()
  await waitForGroupCaughtUp(settings.group, settings.topics.events, 120_000, settings.brokers)
  const catchUpMs = Date.now() - started
  const crashes = await stack.stop()
  return { stored: readStore(settings), rejected: await readRejected(settings), crashes, catchUpMs }
}

/**
 * The guarantees, as exact counts: each event the collector acknowledged is stored exactly once,
 * nothing is stored that was not sent, and the aggregates add up to the events' counts.
 */
export function assertExactlyOnce(
  t: Test,
  stored: Stored,
  sent: ReadonlyMap<string, number>,
  acknowledged: ReadonlySet<string>,
): void {
  const { missing, invented, duplicated } = compare(stored, sent, acknowledged)
  t.same(missing.slice(0, 10), [], `every acknowledged event is stored (${missing.length} missing)`)
  t.same(invented.slice(0, 10), [], `no event is stored that was not sent (${invented.length} invented)`)
  t.same(duplicated.slice(0, 10), [], `no event is stored twice (${duplicated.length} duplicated)`)
  t.equal(
    stored.rows,
    acknowledged.size,
    `ClickHouse holds ${stored.rows} rows for ${acknowledged.size} acknowledged events`,
  )
  let counts = 0
  for (const id of acknowledged) counts += sent.get(id) ?? 0
  t.equal(stored.aggregated, counts, `the per-minute aggregates add up to the acknowledged events' counts (${counts})`)
}

/** A sensor that retries 503s is acknowledged for everything it sent, with no other answer. */
export function assertStreamDelivered(t: Test, sensor: SteadySensor, name = 'the steady sensor'): void {
  t.same(sensor.unexpected, [], `${name}: no request answered other than 202, 503 or 429 (retried)`)
  t.equal(sensor.acknowledged.size, sensor.sent.size, `${name}: every event sent was acknowledged in the end`)
}

export function assertNoRestart(t: Test, settled: Settled, stack: Stack, workerStarts = 1): void {
  t.same(
    settled.crashes,
    [],
    'neither the collector nor the worker exited by itself, and both stopped on SIGTERM with 0',
  )
  t.equal(stack.collector.starts, 1, 'the collector was never restarted')
  t.equal(stack.worker.starts, workerStarts, `the worker was started ${workerStarts} time(s), by the case`)
}

export function seconds(ms: number | undefined): string {
  return ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`
}

/**
 * How long until the worker has stored (committed) everything in the events topic as it stands
 * now (or at `until`, offsets read earlier): the proof that what came before a fault is not held
 * up behind it. A broker that is away makes a poll fail; the next one tries again.
 */
export async function storedWithin(
  settings: CaseSettings,
  timeoutMs = 30_000,
  until?: readonly Offset[],
): Promise<number> {
  const started = Date.now()
  const admin = testKafka(settings.brokers).admin()
  let ends = until
  let last = 'no answer'
  try {
    while (Date.now() - started < timeoutMs) {
      try {
        await admin.connect()
        ends ??= await admin.fetchTopicOffsets(settings.topics.events)
        const [committed] = await admin.fetchOffsets({ groupId: settings.group, topics: [settings.topics.events] })
        const behind = ends.filter(({ partition, high }) => {
          const offset = committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1'
          return BigInt(high) > 0n && BigInt(offset) < BigInt(high)
        })
        if (behind.length === 0) return Date.now() - started
        last = `${behind.length} partition(s) behind`
      } catch (err) {
        last = (err as Error).message
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`the worker did not store up to the topic's end offsets within ${timeoutMs} ms (${last})`)
  } finally {
    await admin.disconnect()
  }
}

type Offset = { partition: number; high: string }

/** The end offsets of the case's events topic now. */
export async function endOffsets(settings: CaseSettings): Promise<Offset[]> {
  const admin = testKafka(settings.brokers).admin()
  await admin.connect()
  try {
    return await admin.fetchTopicOffsets(settings.topics.events)
  } finally {
    await admin.disconnect()
  }
}
