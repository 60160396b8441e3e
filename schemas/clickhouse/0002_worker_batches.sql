-- The worker's batch ledger. Before a worker writes the rows of a Kafka batch it records the
-- batch's offset range here; a replay of the batch (after a crash before the offset commit) finds
-- the range and cuts the refetched messages at the same boundary, so the rows insert again with
-- the same deduplication token and ClickHouse drops them. Kept for a week: replays are minutes old.
CREATE TABLE IF NOT EXISTS worker_batches
(
    topic String,
    partition UInt32,
    first_offset UInt64,
    last_offset UInt64,
    planned_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, first_offset)
TTL planned_at + INTERVAL 7 DAY;
