/**
 * Wall-clock times in a zone, as devices write them without an offset, turned into instants. The
 * rules come from the runtime's ICU time zone data through Intl, so a zone that changed its clock
 * (Asia/Almaty from UTC+6 to UTC+5 on 2024-03-01) reads each side of the change with its own offset.
 */

/** A time as a clock in some zone shows it; month 1-12. */
export interface WallClock {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly hour: number
  readonly minute: number
  readonly second: number
  readonly millisecond: number
}

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

// One formatter per zone: building one costs far more than using it. Only zones Intl accepted
// are kept, so the map holds at most the runtime's few hundred zones.
const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone)
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, formatter)
  }
  return formatter
}

/** The wall clock of `timeZone` at the instant `epochMs`. Throws a RangeError for a zone Intl does not know. */
export function wallClockAt(timeZone: string, epochMs: number): WallClock {
  const fields: Record<string, number> = {}
  for (const part of formatterOf(timeZone).formatToParts(epochMs)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value)
  }
  return {
    year: fields['year'] ?? Number.NaN,
    month: fields['month'] ?? Number.NaN,
    day: fields['day'] ?? Number.NaN,
    hour: fields['hour'] ?? Number.NaN,
    minute: fields['minute'] ?? Number.NaN,
    second: fields['second'] ?? Number.NaN,
    millisecond: ((epochMs % 1000) + 1000) % 1000,
  }
}

// Offsets by zone and hour since the epoch, NaN for an hour in which the offset changes. Times
// from one device cluster in a few hours, so nearly every reading is a lookup here rather than a
// formatting by Intl. Each zone keeps at most OFFSET_HOURS hours.
const offsetsByHour = new Map<string, Map<number, number>>()
const OFFSET_HOURS = 4096

/** How far `timeZone`'s clock is ahead of UTC at the instant `epochMs`, in milliseconds. */
export function offsetAt(timeZone: string, epochMs: number): number {
  const hour = Math.floor(epochMs / HOUR_MS)
  let hours = offsetsByHour.get(timeZone)
  let offset = hours?.get(hour)
  if (offset === undefined) {
    // An offset that is the same at both ends of the hour is the offset all through it: no zone
    // changes its clock twice within an hour.
    const first = exactOffset(timeZone, hour * HOUR_MS)
    offset = first === exactOffset(timeZone, (hour + 1) * HOUR_MS - 1) ? first : Number.NaN
    if (hours === undefined) {
      hours = new Map()
      offsetsByHour.set(timeZone, hours)
    }
    if (hours.size >= OFFSET_HOURS) hours.clear()
    hours.set(hour, offset)
  }
  return Number.isNaN(offset) ? exactOffset(timeZone, epochMs) : offset
}

function exactOffset(timeZone: string, epochMs: number): number {
  return asIfUtc(wallClockAt(timeZone, epochMs)) - epochMs
}

/** Whether the fields name a real calendar time (no 30 February, no 24:00, no leap second). */
export function isWallClock(wall: WallClock): boolean {
  const { year, month, day, hour, minute, second, millisecond } = wall
  const whole = [year, month, day, hour, minute, second, millisecond].every(Number.isSafeInteger)
  if (!whole || year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return false
  if (hour > 23 || minute > 59 || second > 59 || millisecond > 999 || hour < 0 || minute < 0 || second < 0) return false
  return millisecond >= 0 && day <= daysInMonth(year, month)
}

/**
 * The instant at which `timeZone`'s clock shows `wall`, or undefined when `wall` is no calendar time.
 *
 * - A time the clock showed twice (the hour repeated when clocks go back, as in Europe/Berlin on the
 *   last Sunday of October, or Asia/Almaty's 23:00-23:59 on 2024-02-29) is the earlier instant: the
 *   first time the clock showed it.
 * - A time the clock skipped (02:00-02:59 in Europe/Berlin on the last Sunday of March) is read with
 *   the offset in force before the gap, which lands it as far past the gap's end as it was into the
 *   gap: 02:30 becomes 03:30. A device whose clock showed it was late to change, so this is the
 *   instant it most likely meant.
 */
export function wallClockToUtc(wall: WallClock, timeZone: string): number | undefined {
  if (!isWallClock(wall)) return undefined
  const local = asIfUtc(wall)
  // No zone changes its offset twice within two days, so the offsets a day either side are the
  // only candidates.
  const before = offsetAt(timeZone, local - DAY_MS)
  const after = offsetAt(timeZone, local + DAY_MS)
  let earliest: number | undefined
  for (const offset of before === after ? [before] : [before, after]) {
    const instant = local - offset
    if (offsetAt(timeZone, instant) === offset && (earliest === undefined || instant < earliest)) earliest = instant
  }
  return earliest ?? local - before
}

/** The instant at which a clock `offsetMs` ahead of UTC shows `wall`, or undefined when `wall` is no calendar time. */
export function wallClockWithOffset(wall: WallClock, offsetMs: number): number | undefined {
  return isWallClock(wall) ? asIfUtc(wall) - offsetMs : undefined
}

/** The widest offset any zone has had: Kiribati's +14:00. */
export const MAX_OFFSET_MS = 14 * HOUR_MS

function asIfUtc(wall: WallClock): number {
  const date = new Date(0)
  // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999.
  date.setUTCFullYear(wall.year, wall.month - 1, wall.day)
  date.setUTCHours(wall.hour, wall.minute, wall.second, wall.millisecond)
  return date.getTime()
}

function daysInMonth(year: number, month: number): number {
  const date = new Date(0)
  date.setUTCFullYear(year, month, 0)
  return date.getUTCDate()
}
