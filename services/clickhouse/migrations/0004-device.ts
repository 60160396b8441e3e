/**
 * The device that saw an event and the log it came from, as the canonical event's device and
 * log_source name them (schemas/event.ts): a HEC envelope's host and source, CEF dvchost, a Cowrie
 * sensor. Rows stored before this step, and events that name neither, read ''. One change per
 * statement: the cluster form (cluster.ts) reads the first.
 */
export const version = 4
export const name = 'device'

export const statements: readonly string[] = [
  "ALTER TABLE events_raw ADD COLUMN IF NOT EXISTS device LowCardinality(String) DEFAULT '' AFTER time_source",
  "ALTER TABLE events_raw ADD COLUMN IF NOT EXISTS log_source LowCardinality(String) DEFAULT '' AFTER device",
]
