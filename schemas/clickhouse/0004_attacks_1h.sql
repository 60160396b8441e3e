-- The same attacks per hour, rolled up inside ClickHouse from attacks_1m as it is written,
-- so long ranges read few rows. TTL from QALQAN_RETENTION_1H_DAYS.
CREATE TABLE IF NOT EXISTS attacks_1h
(
    window_start DateTime('UTC'),
    sector LowCardinality(String),
    region LowCardinality(String),
    category LowCardinality(String),
    severity UInt8,
    src_country LowCardinality(String),
    org LowCardinality(String),
    events SimpleAggregateFunction(sum, UInt64),
    sources AggregateFunction(uniq, String),
    targets AggregateFunction(uniq, String),
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(window_start)
ORDER BY (window_start, sector, region, category, severity, src_country, org)
TTL window_start + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS attacks_1h_mv TO attacks_1h AS
SELECT
    toStartOfHour(window_start) AS window_start,
    sector, region, category, severity, src_country, org,
    sum(events) AS events,
    uniqMergeState(sources) AS sources,
    uniqMergeState(targets) AS targets,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen
FROM attacks_1m
GROUP BY window_start, sector, region, category, severity, src_country, org;
