import t from 'tap'
import type { CanonicalEvent } from '../../../schemas/event.js'
import { aggregate, minuteOf, type MinuteRow } from '../../../services/transforms/aggregate.js'

let serial = 0
function event(fields: Partial<CanonicalEvent> = {}): CanonicalEvent {
  serial++
  return {
    v: 1,
    event_id: `00000000-0000-4000-8000-${String(serial).padStart(12, '0')}`,
    occurred_at: '2025-03-01T03:15:30.000Z',
    received_at: '2025-03-01T03:15:31.000Z',
    sensor_id: 'kz-ids-01',
    sensor_type: 'ids',
    category: 'scan',
    severity: 2,
    signature: 'ET SCAN',
    src_ip: '203.0.113.10',
    src_country: 'KZ',
    src_scope: 'public',
    org: 'E-Gov Astana',
    sector: 'government',
    region: 'KZ-71',
    count: 1,
    ...fields,
  }
}

function byKey(rows: MinuteRow[]): Record<string, number> {
  return Object.fromEntries(rows.map((r) => [`${r.window_start}|${r.sector}|${r.region}|${r.category}|${r.severity}|${r.src_country}`, r.events]))
}

t.test('events of one key in one minute are summed by count', async (t) => {
  const rows = aggregate([
    event({ occurred_at: '2025-03-01T03:15:00.000Z', count: 1 }),
    event({ occurred_at: '2025-03-01T03:15:30.000Z', count: 5 }),
    event({ occurred_at: '2025-03-01T03:15:59.999Z', count: 10 }),
  ])
  t.same(rows, [
    { window_start: '2025-03-01 03:15:00', sector: 'government', region: 'KZ-71', category: 'scan', severity: 2, src_country: 'KZ', events: 16 },
  ])
})

t.test('each key field and each minute makes its own row', async (t) => {
  const base = event({ count: 2 })
  const rows = aggregate([
    base,
    { ...base, occurred_at: '2025-03-01T03:16:00.000Z' },
    { ...base, sector: 'finance' },
    { ...base, region: 'KZ-75' },
    { ...base, category: 'exploit' },
    { ...base, severity: 4 },
    { ...base, src_country: 'RU' },
    { ...base, src_country: '' },
    base,
  ])
  t.equal(rows.length, 8)
  t.same(byKey(rows), {
    '2025-03-01 03:15:00|government|KZ-71|scan|2|KZ': 4,
    '2025-03-01 03:16:00|government|KZ-71|scan|2|KZ': 2,
    '2025-03-01 03:15:00|finance|KZ-71|scan|2|KZ': 2,
    '2025-03-01 03:15:00|government|KZ-75|scan|2|KZ': 2,
    '2025-03-01 03:15:00|government|KZ-71|exploit|2|KZ': 2,
    '2025-03-01 03:15:00|government|KZ-71|scan|4|KZ': 2,
    '2025-03-01 03:15:00|government|KZ-71|scan|2|RU': 2,
    '2025-03-01 03:15:00|government|KZ-71|scan|2|': 2,
  })
})

t.test('fields outside the key do not split rows', async (t) => {
  const rows = aggregate([
    event({ sensor_id: 'a', src_ip: '203.0.113.1', signature: 'x', org: 'A', sensor_type: 'ids' }),
    event({ sensor_id: 'b', src_ip: '203.0.113.2', signature: 'y', org: 'B', sensor_type: 'honeypot', protocol: 'tcp' }),
  ])
  t.equal(rows.length, 1)
  t.equal(rows[0]?.events, 2)
})

t.test('the same instant written with different offsets falls in one minute', async (t) => {
  const rows = aggregate([
    event({ occurred_at: '2025-03-01T08:15:10+05:00' }),
    event({ occurred_at: '2025-03-01T09:15:20+06:00' }),
    event({ occurred_at: '2025-03-01T03:15:59Z' }),
  ])
  t.same(byKey(rows), { '2025-03-01 03:15:00|government|KZ-71|scan|2|KZ': 3 })
})

t.test('no events, no rows; the input is not changed', async (t) => {
  t.same(aggregate([]), [])
  const input = [event({ count: 3 }), event({ count: 4 })]
  const copy = structuredClone(input)
  aggregate(input)
  t.same(input, copy)
})

t.test('aggregate takes any iterable, such as a generator', async (t) => {
  function* events() {
    yield event({ count: 2 })
    yield event({ count: 3 })
  }
  t.equal(aggregate(events())[0]?.events, 5)
})

t.test('minuteOf gives the UTC minute as ClickHouse DateTime text', async (t) => {
  const cases: [string, string][] = [
    ['2025-03-01T03:15:00.000Z', '2025-03-01 03:15:00'],
    ['2025-03-01T03:15:59.999Z', '2025-03-01 03:15:00'],
    ['2025-03-01T08:15:30.000123+05:00', '2025-03-01 03:15:00'],
    ['2025-03-01T00:00:30+05:00', '2025-02-28 19:00:00'],
    ['2024-12-31T23:59:59-05:00', '2025-01-01 04:59:00'],
    ['2025-03-01T05:45:10+05:45', '2025-03-01 00:00:00'],
    ['2025-03-01T00:14:10+05:45', '2025-02-28 18:29:00'],
    ['2024-02-29T23:59:59Z', '2024-02-29 23:59:00'],
    ['1970-01-01T00:00:00Z', '1970-01-01 00:00:00'],
    ['1969-12-31T23:59:30Z', '1969-12-31 23:59:00'],
    ['1969-12-31T23:59:59.999Z', '1969-12-31 23:59:00'],
    ['1900-06-15T12:34:56.789Z', '1900-06-15 12:34:00'],
    ['0001-01-01T00:00:30Z', '0001-01-01 00:00:00'],
  ]
  for (const [input, expected] of cases) t.equal(minuteOf(input), expected, input)
})
