/**
 * The ledger keeps the first plan written at an offset. Plans are inserted with a token of their
 * topic, partition and first offset, so with a deduplication window a second worker's plan for the
 * same offset (two workers owning a partition during a rebalance) is dropped on insert, instead of
 * both being kept until a merge picks one. Replicated tables (a cluster) deduplicate by themselves.
 */
export const version = 3
export const name = 'one-plan-per-offset'

export const statements: readonly string[] = [
  'ALTER TABLE worker_batches MODIFY SETTING non_replicated_deduplication_window = 10000',
]
