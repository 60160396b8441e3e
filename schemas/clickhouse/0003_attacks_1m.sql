-- Attacks per one-minute event-time window by target sector, region and organisation, category,
-- severity and source country: the number of events (sum of count), distinct sources and targets as uniq
-- states (they merge across inserts, windows and rollups), first and last seen. Late events land
-- in their own window: every column is additive. Read with sum(events), uniqMerge(sources) ...
-- GROUP BY. TTL from QALQAN_RETENTION_1M_DAYS.
CREATE TABLE IF NOT EXISTS attacks_1m
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
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_start, sector, region, category, severity, src_country, org)
TTL window_start + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS attacks_1m_mv TO attacks_1m AS
SELECT
    toStartOfMinute(occurred_at) AS window_start,
    sector, region, category, severity, src_country, org,
    sum(count) AS events,
    uniqState(src_ip) AS sources,
    uniqStateIf(dst_ip, dst_ip != '') AS targets,
    min(occurred_at) AS first_seen,
    max(occurred_at) AS last_seen
FROM events_raw
GROUP BY window_start, sector, region, category, severity, src_country, org;
