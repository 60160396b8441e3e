-- Attack counts per one-minute event-time window, by target sector and region, category, severity
-- and source country. Rows for one key are summed on merge: read with sum(events) ... GROUP BY.
-- The deduplication window makes a replayed worker batch (same insert_deduplication_token) a no-op
-- on plain MergeTree as well as on Replicated tables.
CREATE TABLE IF NOT EXISTS attacks_1m
(
    window_start DateTime('UTC'),
    sector LowCardinality(String),
    region LowCardinality(String),
    category LowCardinality(String),
    severity UInt8,
    src_country LowCardinality(String),
    events UInt64
)
ENGINE = SummingMergeTree(events)
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_start, sector, region, category, severity, src_country)
SETTINGS non_replicated_deduplication_window = 10000;
