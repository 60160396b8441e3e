-- Every canonical event the workers accepted, for drill-down from an aggregate to its events, and
-- the source of the aggregates: the materialized views of 0003-0005 read each insert into it.
-- A worker inserts one Kafka offset range per insert with insert_deduplication_token set, so a
-- replayed range is dropped here and, with deduplicate_blocks_in_dependent_materialized_views,
-- in every aggregate too. The TTL is set from QALQAN_RETENTION_RAW_DAYS at start.
CREATE TABLE IF NOT EXISTS events_raw
(
    event_id UUID,
    occurred_at DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    sensor_id LowCardinality(String),
    sensor_type LowCardinality(String),
    category LowCardinality(String),
    severity UInt8,
    signature String,
    signature_id String,
    mitre_technique LowCardinality(String),
    src_ip String,
    src_port Nullable(UInt16),
    dst_ip String,
    dst_port Nullable(UInt16),
    protocol LowCardinality(String),
    src_country LowCardinality(String),
    src_scope LowCardinality(String),
    org LowCardinality(String),
    sector LowCardinality(String),
    region LowCardinality(String),
    count UInt32,
    kafka_topic LowCardinality(String),
    kafka_partition UInt32,
    kafka_offset UInt64,
    INDEX kafka_offsets (kafka_partition, kafka_offset) TYPE minmax GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (sector, region, occurred_at)
TTL toDateTime(received_at) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000;
