import type { Ledger, OffsetRange } from '../clickhouse/index.js'
import type { PartitionBatch } from '../kafka/index.js'
import type { Retrying } from './retry.js'

/**
 * The range to store: the one planned before, if this batch is a replay, else this whole batch,
 * recorded in the ledger before any of its rows are stored. A replay thus cuts the same range and
 * carries the same insert token, which ClickHouse drops as a copy.
 */
export async function planRange(batch: PartitionBatch, ledger: Ledger, retry: Retrying): Promise<OffsetRange> {
  const { topic, partition, firstOffset, lastOffset } = batch
  const planned = await retry('reading the batch ledger', () =>
    ledger.plannedLastOffset({ topic, partition, firstOffset }),
  )
  if (planned === undefined) {
    const range = { topic, partition, firstOffset, lastOffset }
    await retry('writing the batch ledger', () => ledger.plan(range))
    return range
  }
  if (BigInt(planned) > BigInt(lastOffset)) {
    // The refetch came back shorter than the original batch: let Kafka fetch again rather than cut elsewhere.
    throw new Error(
      `replayed batch ${topic}:${partition}:${firstOffset} was planned to end at ${planned} but the fetch ended at ${lastOffset}`,
    )
  }
  return { topic, partition, firstOffset, lastOffset: planned }
}
