import type { TimeSource } from '../../../schemas/event.js'
import { timeZoneName } from '../../../schemas/time-zone.js'
import { MAX_OFFSET_MS, type WallClock, wallClockToUtc, wallClockWithOffset } from '../local-time.js'
import type { Arrival } from './decoded.js'
import { describe } from './record.js'

/**
 * A time read from a CEF record as a UTC ISO string, where it came from, and whether reading it
 * took the arrival (the sensor's zone for a time without one, the receive time for a missing year).
 */
export type RecordTime = { ok: true; value: string; source: TimeSource } | { ok: false; reason: string }

/** A date and time as written, the year and the zone when it has them. */
interface Written {
  wall: Omit<WallClock, 'year'>
  year: number | undefined
  zone: string | undefined
}

/** How a written time's zone turns it into an instant: a fixed offset or a zone's rules. */
type Zone = { offsetMs: number } | { name: string }

const MONTHS = new Map(
  ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map((m, i) => [m, i + 1]),
)

/** `MMM dd yyyy HH:mm:ss[.SSS][ zzz]` and `MMM dd HH:mm:ss[.SSS][ zzz]`, as the CEF standard lists them. */
const MONTH_DATE = /^([A-Za-z]{3}) +(\d{1,2}) +(?:(\d{4}) +)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?: +(\S+))?$/
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/
/** RFC 3164's `Mar  1 08:15:30` (some devices add the year or milliseconds), at the start of the header. */
const SYSLOG_DATE = /^([A-Za-z]{3}) +(\d{1,2}) +(?:(\d{4}) +)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?: |$)/

const TIME_FORMATS = 'epoch milliseconds, MMM dd yyyy HH:mm:ss[.SSS][ zone], MMM dd HH:mm:ss[.SSS][ zone] or ISO 8601'
const ZONE_FORMS = 'an offset within ±14:00 (+05:00, +0500, GMT+05:00), UTC or GMT, or an IANA name (Asia/Almaty)'

/**
 * The value of `rt`, `end` or `start`. A time with a zone is that instant; without one it is read
 * in `dtz` (the device's own zone) when the record has one, else in the sensor's zone; without a
 * year, in the year that puts it nearest the receive time.
 */
export function readCefTime(text: string, arrival: Arrival, dtz: string | undefined): RecordTime {
  // At most 15 digits: always within Date's range, so toISOString cannot throw.
  if (/^\d{1,15}$/.test(text)) return { ok: true, value: new Date(Number(text)).toISOString(), source: 'event' }
  const written = monthDate(MONTH_DATE.exec(text)) ?? isoDate(ISO_DATE.exec(text))
  if (written === undefined) return failed(`${describe(text)} is not a CEF time: ${TIME_FORMATS}`)
  if (written.zone !== undefined) {
    const zone = zoneOf(written.zone)
    if (zone === undefined) return failed(`the zone of ${describe(text)} is not understood: write ${ZONE_FORMS}`)
    return instant(text, written, zone, arrival, 'event')
  }
  if (dtz !== undefined) {
    const zone = zoneOf(dtz)
    if (zone === undefined) return failed(`dtz ${describe(dtz)} is not understood: write ${ZONE_FORMS}`)
    return instant(text, written, zone, arrival, 'event')
  }
  return instant(text, written, { name: arrival.timeZone }, arrival, 'event')
}

/**
 * A vendor's epoch time whose unit is told by its size (FortiGate's `FTNTFGTeventtime`: seconds in
 * FortiOS 6, nanoseconds in FortiOS 7): up to 11 digits seconds, 14 milliseconds, 17 microseconds,
 * 19 nanoseconds (any of them before the year 5138). Undefined when the text is not such a number,
 * so the next source of time is tried.
 */
export function readEpochByMagnitude(text: string | undefined): RecordTime | undefined {
  if (text === undefined || !/^\d{1,19}$/.test(text)) return undefined
  const digits = text.replace(/^0+(?=\d)/, '').length
  const value = BigInt(text)
  const ms = digits <= 11 ? value * 1000n : digits <= 14 ? value : digits <= 17 ? value / 1000n : value / 1_000_000n
  return { ok: true, value: new Date(Number(ms)).toISOString(), source: 'event' }
}

/**
 * The time at the start of a syslog header, after its `<PRI>`: RFC 5424's (an ISO time, `-` for
 * none), an ISO time as rsyslog writes it, or RFC 3164's `MMM dd HH:mm:ss`, which has no year and
 * no zone. Undefined when the header has no time this reads.
 */
export function readSyslogTime(header: string, arrival: Arrival): RecordTime | undefined {
  const text = header.trimStart().replace(/^<\d{1,3}>/, '')
  const rfc5424 = /^\d{1,2} (\S+) /.exec(text)
  const iso = rfc5424 === null ? /^(\d{4}-\d{2}-\d{2}T\S+)(?: |$)/.exec(text) : null
  const isoText = rfc5424?.[1] ?? iso?.[1]
  const written = isoText !== undefined ? isoDate(ISO_DATE.exec(isoText)) : monthDate(SYSLOG_DATE.exec(text))
  if (written === undefined) return undefined
  const zone = written.zone === undefined ? undefined : zoneOf(written.zone)
  if (written.zone !== undefined && zone === undefined) return undefined
  const time = instant(isoText ?? text, written, zone ?? { name: arrival.timeZone }, arrival, 'header')
  return time.ok ? time : undefined
}

function monthDate(match: RegExpExecArray | null): Written | undefined {
  if (match === null) return undefined
  const [, monthName = '', day, year, hour, minute, second, fraction, zone] = match
  const month = MONTHS.get(monthName.toLowerCase())
  if (month === undefined) return undefined
  return {
    wall: {
      month,
      day: Number(day),
      hour: Number(hour),
      minute: Number(minute),
      second: Number(second),
      millisecond: milliseconds(fraction),
    },
    year: year === undefined ? undefined : Number(year),
    zone,
  }
}

function isoDate(match: RegExpExecArray | null): Written | undefined {
  if (match === null) return undefined
  const [, year, month, day, hour, minute, second, fraction, zone] = match
  return {
    wall: {
      month: Number(month),
      day: Number(day),
      hour: Number(hour),
      minute: Number(minute),
      second: Number(second ?? 0),
      millisecond: milliseconds(fraction),
    },
    year: Number(year),
    zone,
  }
}

/** A fraction of a second to whole milliseconds, the rest dropped. */
function milliseconds(fraction: string | undefined): number {
  return fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'))
}

function zoneOf(token: string): Zone | undefined {
  if (/^(?:Z|UTC|GMT|UT)$/i.test(token)) return { offsetMs: 0 }
  const offset = /^(?:GMT|UTC|UT)?([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(token)
  if (offset !== null) {
    const [, sign, hours, minutes = '0'] = offset
    const ms = (Number(hours) * 60 + Number(minutes)) * 60_000
    if (Number(minutes) > 59 || ms > MAX_OFFSET_MS) return undefined
    return { offsetMs: sign === '-' ? -ms : ms }
  }
  const name = timeZoneName(token)
  return name === undefined ? undefined : { name }
}

/** The written time in its zone as a UTC instant; without a year, the year nearest the receive time. */
function instant(text: string, written: Written, zone: Zone, arrival: Arrival, source: TimeSource): RecordTime {
  const toUtc = (year: number) => {
    const wall = { ...written.wall, year }
    return 'offsetMs' in zone ? wallClockWithOffset(wall, zone.offsetMs) : wallClockToUtc(wall, zone.name)
  }
  let ms: number | undefined
  if (written.year !== undefined) ms = toUtc(written.year)
  else {
    const received = arrival.receivedAt.getTime()
    const thisYear = arrival.receivedAt.getUTCFullYear()
    for (const year of [thisYear - 1, thisYear, thisYear + 1]) {
      const candidate = toUtc(year)
      if (candidate !== undefined && (ms === undefined || Math.abs(candidate - received) < Math.abs(ms - received)))
        ms = candidate
    }
  }
  if (ms === undefined) return failed(`${describe(text)} is not a calendar date and time`)
  return { ok: true, value: new Date(ms).toISOString(), source }
}

function failed(reason: string): RecordTime {
  return { ok: false, reason }
}
