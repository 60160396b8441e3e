import t from 'tap'
import { type Filters, matches, parseFilters } from '../../../services/replay/filters.js'
import { CEF_WITHOUT_ZONE, rejection } from './records.js'

function filters(options: Record<string, string>): Filters {
  const parsed = parseFilters(new Map(Object.entries(options)))
  if ('problems' in parsed) throw new Error(parsed.problems.join('; '))
  return parsed.filters
}

function problems(options: Record<string, string>): string[] {
  const parsed = parseFilters(new Map(Object.entries(options)))
  return 'problems' in parsed ? parsed.problems : []
}

const record = rejection(CEF_WITHOUT_ZONE, {
  sensor_id: 'kz-fw-01',
  format: 'cef',
  reason: 'rt: "Mar 14 2024 09:44:10" has no UTC offset',
  received_at: '2024-03-14T09:44:15+05:00',
})

t.test('no filter takes every record', async (t) => {
  t.ok(matches(filters({}), record))
  t.ok(matches(filters({}), { ...record, sensor_id: null }))
})

t.test('--sensor and --format take a list', async (t) => {
  t.ok(matches(filters({ sensor: 'kz-ids-02, kz-fw-01' }), record))
  t.notOk(matches(filters({ sensor: 'kz-ids-02' }), record))
  t.notOk(matches(filters({ sensor: 'kz-fw-01' }), { ...record, sensor_id: null }), 'a record of no sensor')
  t.ok(matches(filters({ format: 'suricata,cef' }), record))
  t.notOk(matches(filters({ format: 'ce' }), record), 'a format is matched whole')
})

t.test('--reason is a substring, or a regular expression between slashes', async (t) => {
  t.ok(matches(filters({ reason: 'no UTC offset' }), record))
  t.notOk(matches(filters({ reason: 'no utc offset' }), record), 'a substring is matched as written')
  t.ok(matches(filters({ reason: '/no utc offset$/i' }), record))
  t.notOk(matches(filters({ reason: '/^no/' }), record))
  const global = filters({ reason: '/offset/g' })
  t.ok(matches(global, record) && matches(global, record), 'g does not make a match depend on the one before')
  t.ok(matches(filters({ reason: '/' }), { ...record, reason: 'a/b' }), 'a lone slash is a substring')
})

t.test('--since and --until bound received_at, the end left out', async (t) => {
  t.ok(matches(filters({ since: '2024-03-14T04:44:15Z' }), record), 'the same instant in another zone')
  t.notOk(matches(filters({ since: '2024-03-14T04:44:15.001Z' }), record))
  t.notOk(matches(filters({ until: '2024-03-14T04:44:15Z' }), record))
  t.ok(matches(filters({ since: '2024-03-14', until: '2024-03-15' }), record), 'dates are UTC days')
})

t.test('every problem with the filters is named, with what to write instead', async (t) => {
  t.same(
    problems({
      sensor: ' , ',
      reason: '/(unclosed/',
      since: '2024-03-14T09:44:15',
      until: 'yesterday',
    }),
    [
      '--sensor needs a value, or several separated by commas',
      '--reason=/(unclosed/: not a regular expression (Invalid regular expression: /(unclosed/: Unterminated group)',
      '--since="2024-03-14T09:44:15": write a date (2025-03-01, UTC) or a time with its zone (2025-03-01T10:00:00+05:00)',
      '--until="yesterday": write a date (2025-03-01, UTC) or a time with its zone (2025-03-01T10:00:00+05:00)',
    ],
  )
  t.same(problems({ since: '2024-03-15', until: '2024-03-14' }), ['--since must come before --until'])
  t.same(problems({ reason: '' }), ['--reason needs a value: a part of the reason, or /a regular expression/'])
})
