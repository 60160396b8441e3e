import { MAX_ORIGIN_NAME, type TimeSource } from '../../../schemas/event.js'
import type { Arrival, Decoded, DecodeLimits } from './decoded.js'
import { parseJson } from './json.js'
import { wallClockToUtc } from '../local-time.js'
import { validate } from '../validate.js'

/** What the sensor-format decoders share: reading a record, its time, and the schema's last word. */

export type JsonObject = Record<string, unknown>

const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:?\d{2})?$/

export function parseObject(
  record: string,
  limits: DecodeLimits,
): { ok: true; value: JsonObject } | { ok: false; reason: string } {
  const parsed = parseJson(record, limits.maxDepth)
  if (!parsed.ok) return parsed
  const { value } = parsed
  return isObject(value) ? { ok: true, value } : { ok: false, reason: `not a JSON object but ${describe(value)}` }
}

/** ISO 8601 with an offset, `+0500` (as Suricata and Cowrie write it) rewritten as the schema's `+05:00`. */
export function isoWithOffset(text: string): string | undefined {
  const match = ISO_TIME.exec(text)
  const [, local, offset] = match ?? []
  if (local === undefined || offset === undefined) return undefined
  return `${local}${offset.length === 5 ? `${offset.slice(0, 3)}:${offset.slice(3)}` : offset}`
}

/**
 * A record's `timestamp`. One with an offset keeps it. One without any (Suricata and Cowrie write
 * the host's local time when it is not set to UTC) is read in the sensor's zone, as CEF times are,
 * to the millisecond: reading it as UTC would shift a Kazakh sensor's events by five hours unseen.
 */
export function eventTime(
  value: unknown,
  arrival: Arrival,
): { ok: true; value: string } | { ok: false; reason: string } {
  if (typeof value !== 'string' || !ISO_TIME.test(value))
    return { ok: false, reason: `timestamp: expected an ISO 8601 time, got ${describe(value)}` }
  const time = isoWithOffset(value)
  if (time !== undefined) return { ok: true, value: time }
  const [, year, month, day, hour, minute, second, fraction = ''] =
    /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(value) ?? []
  const wall = {
    year: Number(year),
    month: Number(month),
    day: Number(day),
    hour: Number(hour),
    minute: Number(minute),
    second: Number(second),
    millisecond: Number(fraction.slice(0, 3).padEnd(3, '0')),
  }
  const ms = wallClockToUtc(wall, arrival.timeZone)
  return ms === undefined
    ? { ok: false, reason: `timestamp: ${describe(value)} is not a calendar date and time` }
    : { ok: true, value: new Date(ms).toISOString() }
}

/**
 * The schema is the last word: whatever the mapping let through that it refuses makes the record
 * invalid. Absent fields are dropped first, so the event has no keys holding undefined.
 */
export function finish(fields: JsonObject, timeSource: TimeSource): Decoded {
  const result = validate(Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)))
  return result.ok ? { kind: 'event', event: result.event, timeSource } : invalid(result.reason)
}

export function invalid(reason: string): Decoded {
  return { kind: 'invalid', reason }
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Cuts at `max` UTF-16 units without splitting a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text
  const last = text.charCodeAt(max - 1)
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max)
}

/**
 * The name of the device that saw a record, or of its log: text only, trimmed and cut to the schema's
 * length (a host name or a path is the sender's to choose); anything else, or blank, is left out.
 */
export function originName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  const name = value.trim()
  return name === '' ? undefined : truncate(name, MAX_ORIGIN_NAME)
}

/** A value for a reason: a string quoted and cut short, anything else by its kind, so hostile input stays small. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value)
  if (value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' && value !== null ? 'an object' : String(value)
}
