import type { CanonicalEvent } from '../../schemas/event.js'

/** One row of attacks_1m: the events of one key in one minute of event time. */
export interface MinuteRow {
  window_start: string
  sector: string
  region: string
  category: string
  severity: number
  src_country: string
  events: number
}

/** Sums events into one-minute event-time windows by sector, region, category, severity and source country. */
export function aggregate(events: Iterable<CanonicalEvent>): MinuteRow[] {
  const rows = new Map<string, MinuteRow>()
  for (const event of events) {
    const windowStart = minuteOf(event.occurred_at)
    const key = `${windowStart}|${event.sector}|${event.region}|${event.category}|${event.severity}|${event.src_country}`
    const row = rows.get(key)
    if (row !== undefined) {
      row.events += event.count
    } else {
      rows.set(key, {
        window_start: windowStart,
        sector: event.sector,
        region: event.region,
        category: event.category,
        severity: event.severity,
        src_country: event.src_country,
        events: event.count,
      })
    }
  }
  return [...rows.values()]
}

/** `2025-03-01 03:15:00` (UTC, ClickHouse's DateTime text) for any ISO time in that minute. */
export function minuteOf(isoTime: string): string {
  const ms = Date.parse(isoTime)
  return new Date(Math.floor(ms / 60_000) * 60_000).toISOString().slice(0, 19).replace('T', ' ')
}
