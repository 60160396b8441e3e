import t from 'tap'
import {
  isWallClock,
  offsetAt,
  type WallClock,
  wallClockAt,
  wallClockToUtc,
  wallClockWithOffset,
} from '../../../services/collector/local-time.js'

/** `2024-03-01 00:30:00.000` as the fields of a wall clock. */
function wall(text: string): WallClock {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?$/.exec(text)
  if (match === null) throw new Error(`not a wall clock: ${text}`)
  const [, year, month, day, hour, minute, second, ms] = match
  return {
    year: Number(year),
    month: Number(month),
    day: Number(day),
    hour: Number(hour),
    minute: Number(minute),
    second: Number(second),
    millisecond: Number(ms ?? 0),
  }
}

function utc(text: string, zone: string): string | undefined {
  const ms = wallClockToUtc(wall(text), zone)
  return ms === undefined ? undefined : new Date(ms).toISOString()
}

t.test("this runtime's time zone data knows Kazakhstan's move to UTC+5 on 2024-03-01", async (t) => {
  const offsetName = (zone: string, iso: string) =>
    new Intl.DateTimeFormat('en', { timeZone: zone, timeZoneName: 'longOffset' })
      .formatToParts(new Date(iso))
      .find((part) => part.type === 'timeZoneName')?.value
  t.equal(offsetName('Asia/Almaty', '2024-02-29T12:00:00Z'), 'GMT+06:00')
  t.equal(offsetName('Asia/Almaty', '2024-06-01T00:00:00Z'), 'GMT+05:00')
  for (const zone of [
    'Asia/Almaty',
    'Asia/Qostanay',
    'Asia/Qyzylorda',
    'Asia/Aqtobe',
    'Asia/Aqtau',
    'Asia/Atyrau',
    'Asia/Oral',
  ])
    t.equal(offsetAt(zone, Date.parse('2024-06-01T00:00:00Z')), 5 * 3_600_000, `${zone} is UTC+5 after the change`)
  t.equal(offsetAt('Asia/Qostanay', Date.parse('2024-02-01T00:00:00Z')), 6 * 3_600_000, 'Qostanay moved with Almaty')
})

t.test('Asia/Almaty on both sides of 2024-03-01: UTC+6, then UTC+5', async (t) => {
  t.equal(utc('2024-02-28 12:00:00', 'Asia/Almaty'), '2024-02-28T06:00:00.000Z')
  t.equal(utc('2024-02-29 23:00:00', 'Asia/Almaty'), '2024-02-29T17:00:00.000Z', 'the repeated hour: the earlier')
  t.equal(utc('2024-02-29 23:30:00', 'Asia/Almaty'), '2024-02-29T17:30:00.000Z')
  t.equal(utc('2024-02-29 23:59:59.999', 'Asia/Almaty'), '2024-02-29T17:59:59.999Z')
  t.equal(utc('2024-03-01 00:00:00', 'Asia/Almaty'), '2024-02-29T19:00:00.000Z', 'midnight comes once, at +05')
  t.equal(utc('2024-03-01 00:30:00', 'Asia/Almaty'), '2024-02-29T19:30:00.000Z')
  t.equal(utc('2024-03-14 09:12:44', 'Asia/Almaty'), '2024-03-14T04:12:44.000Z')
  t.equal(utc('2020-01-17 08:52:10', 'Asia/Almaty'), '2020-01-17T02:52:10.000Z')
})

t.test('Asia/Qyzylorda keeps UTC+5 across 2024-03-01 (it moved from +6 in December 2018)', async (t) => {
  t.equal(utc('2024-02-28 12:00:00', 'Asia/Qyzylorda'), '2024-02-28T07:00:00.000Z')
  t.equal(utc('2024-02-29 23:30:00', 'Asia/Qyzylorda'), '2024-02-29T18:30:00.000Z', 'no repeated hour here')
  t.equal(utc('2024-03-01 00:30:00', 'Asia/Qyzylorda'), '2024-02-29T19:30:00.000Z')
  t.equal(utc('2024-03-14 09:12:44', 'Asia/Qyzylorda'), '2024-03-14T04:12:44.000Z')
  t.equal(utc('2018-12-20 12:00:00', 'Asia/Qyzylorda'), '2018-12-20T06:00:00.000Z', '+06 before its own change')
  t.equal(utc('2018-12-20 23:30:00', 'Asia/Qyzylorda'), '2018-12-20T17:30:00.000Z', 'its repeated hour: the earlier')
})

t.test('Europe/Berlin: the skipped hour in March moves forward by the gap', async (t) => {
  t.equal(utc('2024-03-31 01:59:59.999', 'Europe/Berlin'), '2024-03-31T00:59:59.999Z', 'the last instant of CET')
  t.equal(utc('2024-03-31 02:00:00', 'Europe/Berlin'), '2024-03-31T01:00:00.000Z', '02:00 is 03:00 CEST')
  t.equal(utc('2024-03-31 02:30:00', 'Europe/Berlin'), '2024-03-31T01:30:00.000Z', '02:30 is 03:30 CEST')
  t.equal(utc('2024-03-31 03:00:00', 'Europe/Berlin'), '2024-03-31T01:00:00.000Z', '03:00 CEST itself')
  t.equal(utc('2024-03-31 03:30:00', 'Europe/Berlin'), '2024-03-31T01:30:00.000Z')
  const moved = wallClockToUtc(wall('2024-03-31 02:30:00'), 'Europe/Berlin') ?? 0
  t.match(wallClockAt('Europe/Berlin', moved), { hour: 3, minute: 30 }, 'the clock showed 03:30 then')
})

t.test('Europe/Berlin: the repeated hour in October is read as the earlier instant', async (t) => {
  t.equal(utc('2024-10-27 01:59:59', 'Europe/Berlin'), '2024-10-26T23:59:59.000Z')
  t.equal(utc('2024-10-27 02:00:00', 'Europe/Berlin'), '2024-10-27T00:00:00.000Z', '02:00 CEST, not CET')
  t.equal(utc('2024-10-27 02:30:00', 'Europe/Berlin'), '2024-10-27T00:30:00.000Z')
  t.equal(utc('2024-10-27 02:59:59.999', 'Europe/Berlin'), '2024-10-27T00:59:59.999Z')
  t.equal(utc('2024-10-27 03:00:00', 'Europe/Berlin'), '2024-10-27T02:00:00.000Z', 'after the repeat: CET')
})

t.test('other rules: half-hour zones and shifts, a skipped day, a zone with no changes', async (t) => {
  t.equal(utc('2024-03-14 09:12:44', 'Asia/Kolkata'), '2024-03-14T03:42:44.000Z')
  t.equal(
    utc('2024-10-06 02:15:00', 'Australia/Lord_Howe'),
    '2024-10-05T15:45:00.000Z',
    'a 30-minute gap: 02:15 is 02:45',
  )
  t.equal(utc('2011-12-30 12:00:00', 'Pacific/Apia'), '2011-12-30T22:00:00.000Z', 'Samoa skipped 30 December 2011')
  t.equal(utc('2024-03-14 09:12:44', 'UTC'), '2024-03-14T09:12:44.000Z')
  t.equal(utc('2024-03-14 09:12:44', 'Etc/GMT-5'), '2024-03-14T04:12:44.000Z', 'Etc/GMT-5 is a fixed UTC+5')
})

t.test('every instant read back from its own wall clock, or the earlier one that shows the same', async (t) => {
  let checked = 0
  const problems: string[] = []
  for (const zone of ['Asia/Almaty', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu']) {
    for (let ms = Date.parse('2023-12-01T00:00:00Z'); ms < Date.parse('2025-01-01T00:00:00Z'); ms += 37 * 60_000 + 13) {
      const shown = wallClockAt(zone, ms)
      const back = wallClockToUtc(shown, zone)
      checked++
      const same = back === ms || (back !== undefined && back < ms && isSame(wallClockAt(zone, back), shown))
      if (!same) problems.push(`${zone} ${new Date(ms).toISOString()} -> ${String(back)}`)
    }
  }
  t.same(problems.slice(0, 5), [])
  t.ok(checked > 70_000, `${checked} instants`)
})

function isSame(a: WallClock, b: WallClock): boolean {
  return (Object.keys(a) as (keyof WallClock)[]).every((key) => a[key] === b[key])
}

t.test('an offset that changes inside an hour is read exactly, on either side of the change', async (t) => {
  // Almaty left local mean time (+05:07:48) for +05:00 at midnight starting 2 May 1924.
  const change = Date.parse('1924-05-01T18:52:12Z')
  t.equal(offsetAt('Asia/Almaty', change - 1000), (5 * 3600 + 7 * 60 + 48) * 1000)
  t.equal(offsetAt('Asia/Almaty', change + 1000), 5 * 3_600_000)
  t.equal(offsetAt('Asia/Almaty', change - 1000), (5 * 3600 + 7 * 60 + 48) * 1000, 'the same answer the second time')
  // Lord Howe Island moves by 30 minutes at 15:30 UTC.
  t.equal(offsetAt('Australia/Lord_Howe', Date.parse('2024-10-05T15:29:59Z')), 10.5 * 3_600_000)
  t.equal(offsetAt('Australia/Lord_Howe', Date.parse('2024-10-05T15:30:00Z')), 11 * 3_600_000)
})

t.test('fields that name no calendar time give undefined', async (t) => {
  const base = wall('2024-03-14 09:12:44')
  const cases: Partial<WallClock>[] = [
    { month: 2, day: 30 },
    { year: 2023, month: 2, day: 29 },
    { month: 13 },
    { month: 0 },
    { day: 0 },
    { day: 32 },
    { hour: 24 },
    { minute: 60 },
    { second: 60 },
    { millisecond: 1000 },
    { year: 0 },
    { year: 10_000 },
    { hour: -1 },
    { minute: 1.5 },
    { second: Number.NaN },
  ]
  for (const fields of cases) {
    const bad = { ...base, ...fields }
    t.notOk(isWallClock(bad), JSON.stringify(fields))
    t.equal(wallClockToUtc(bad, 'Asia/Almaty'), undefined, JSON.stringify(fields))
    t.equal(wallClockWithOffset(bad, 0), undefined, JSON.stringify(fields))
  }
  t.equal(utc('2024-02-29 12:00:00', 'UTC'), '2024-02-29T12:00:00.000Z', 'a leap day')
  t.equal(utc('0099-06-01 00:00:00', 'UTC'), '0099-06-01T00:00:00.000Z', 'a two-digit year is not read as 19xx')
})

t.test('a fixed offset', async (t) => {
  t.equal(wallClockWithOffset(wall('2024-03-14 09:12:44'), 5 * 3_600_000), Date.parse('2024-03-14T04:12:44Z'))
  t.equal(
    wallClockWithOffset(wall('2024-03-14 00:30:00'), -(3 * 3_600_000 + 30 * 60_000)),
    Date.parse('2024-03-14T04:00:00Z'),
  )
})

t.test('an unknown zone throws a RangeError (callers pass validated names only)', async (t) => {
  t.throws(() => wallClockToUtc(wall('2024-03-14 09:12:44'), 'Asia/Nowhere'), RangeError)
})
