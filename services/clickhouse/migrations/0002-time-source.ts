/**
 * Where an event's occurred_at came from, as the canonical event's time_source names it (schemas/
 * event.ts): `event`, `header`, `envelope` or `received`. Rows stored before this step, and inserts
 * that leave the field out, read `event`, the canonical event's own default.
 */
export const version = 2
export const name = 'time-source'

export const statements: readonly string[] = [
  "ALTER TABLE events_raw ADD COLUMN IF NOT EXISTS time_source LowCardinality(String) DEFAULT 'event' AFTER received_at",
]
