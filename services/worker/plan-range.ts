import type { Ledger, OffsetRange, PlannedRange } from '../clickhouse/index.js'
import type { PartitionBatch } from '../kafka/index.js'
import type { Retrying } from './retry.js'

export interface Plan {
  /** The offsets to store now: from the batch's first to where the ledger, or the fetch, ends them. */
  readonly range: OffsetRange
  /**
   * The range planned first at the same offset. Every insert of `range` carries its token, even when
   * `range` is only the start of it, so that it and any other insert at this offset exclude each other.
   */
  readonly claim: OffsetRange
  /**
   * Whether `range` was planned before this batch came (a replay): some of it may be stored already,
   * and those events are not copies of themselves. A replay of the whole plan goes in again, under
   * the same token: ClickHouse drops it in events_raw, and completes the materialized views that a
   * crash during the first insert left behind. A replay of part of the plan leaves out what is
   * stored, as the plan may have gone in by halves under tokens the part does not repeat.
   */
  readonly replay: boolean
  /**
   * Whether `range` lies inside a range planned before it: the rest of a plan that a short fetch
   * split. That plan may have been stored whole under its own token, so what events_raw holds of
   * `range` is left out instead.
   */
  readonly splitRest: boolean
}

/**
 * The range to store, recorded in the ledger before any of its rows are stored.
 *
 * A new batch is planned whole; then the ledger is read again and the first plan written at this
 * offset is the one followed, so two workers that both found no plan (both held the partition for a
 * moment during a rebalance) follow the same one. A replay follows the plan found, cut at its end,
 * or earlier where a later plan starts inside it.
 *
 * A fetch that ends before the plan does (a restart with a smaller fetch, a fetch that shared its
 * bytes with other partitions) cannot wait for the rest: kafkajs would hand the same short batch back.
 * So the plan is split where the fetch ended: the rest is planned as a range of its own, which every
 * later reader of the ledger then cuts at. The part in hand goes in under the whole plan's token, so
 * it and an insert of the whole plan (by a worker still holding it, or before a crash) exclude each
 * other in ClickHouse; both the part and the rest (`splitRest`) leave out what events_raw holds.
 */
export async function planRange(batch: PartitionBatch, ledger: Ledger, retry: Retrying): Promise<Plan> {
  const { topic, partition, firstOffset, lastOffset } = batch
  const start = { topic, partition, firstOffset }
  let planned = await retry('reading the batch ledger', () => ledger.planned(start))
  const replay = planned !== undefined
  let splitRest = false
  if (planned === undefined) {
    await retry('writing the batch ledger', () => ledger.plan({ ...start, lastOffset }))
    planned = await retry('reading the batch ledger', () => readBack(ledger, start))
  } else {
    const before = await retry('reading the batch ledger', () => ledger.plannedBefore(start))
    splitRest = before !== undefined && BigInt(before) >= BigInt(firstOffset)
  }
  let end = endOf(planned)
  if (BigInt(lastOffset) < BigInt(end)) {
    const rest = { topic, partition, firstOffset: (BigInt(lastOffset) + 1n).toString(), lastOffset: end }
    await retry('writing the batch ledger', () => ledger.plan(rest))
    planned = await retry('reading the batch ledger', () => readBack(ledger, start))
    end = min(endOf(planned), lastOffset)
  }
  return {
    range: { ...start, lastOffset: end },
    claim: { ...start, lastOffset: planned.lastOffset },
    replay,
    splitRest,
  }
}

/**
 * Where the range ends once its rows are in: earlier than planned when another worker split the
 * plan meanwhile. Its part may have won the plan's token over this insert, so the rest is left to
 * the next batch, which finds what is stored of it.
 */
export async function rangeEnd(plan: Plan, ledger: Ledger, retry: Retrying): Promise<string> {
  const planned = await retry('reading the batch ledger', () => readBack(ledger, plan.range))
  return min(endOf(planned), plan.range.lastOffset)
}

async function readBack(ledger: Ledger, start: Omit<OffsetRange, 'lastOffset'>): Promise<PlannedRange> {
  const planned = await ledger.planned(start)
  if (planned === undefined) {
    // A replica that has not received the plan yet: reading again finds it.
    throw new Error(
      `the batch ledger does not show the range planned at ${start.topic}:${start.partition}:${start.firstOffset}`,
    )
  }
  return planned
}

function endOf(planned: PlannedRange): string {
  return planned.cutAt === undefined
    ? planned.lastOffset
    : min(planned.lastOffset, (BigInt(planned.cutAt) - 1n).toString())
}

function min(a: string, b: string): string {
  return BigInt(a) <= BigInt(b) ? a : b
}
