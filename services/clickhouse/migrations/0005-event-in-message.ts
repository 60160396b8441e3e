/**
 * A message of the events topic holds one or more events, a line each: kafka_index is an event's
 * line in its message, so that (kafka_offset, kafka_index) names one event and a replay can tell
 * which of a message's events were stored. Rows stored before this step read 0, their message's
 * only event.
 */
export const version = 5
export const name = 'event-in-message'

export const statements: readonly string[] = [
  'ALTER TABLE events_raw ADD COLUMN IF NOT EXISTS kafka_index UInt32 DEFAULT 0 AFTER kafka_offset',
]
