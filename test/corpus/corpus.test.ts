import { readdirSync, readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import type { Decoded } from '../../services/collector/decode/decoded.js'
import { FORMATS, isLineFormat, type LineFormat } from '../../services/collector/decode/formats.js'

/**
 * Real sensor records as their projects and vendors publish them (test/fixtures/corpus/SOURCES.md),
 * each decoded through the registered decoder of its directory's format and checked field by field
 * against what an analyst expects of it (expected.json).
 */

const CORPUS = new URL('../fixtures/corpus/', import.meta.url)

type Outcome = 'event' | 'skipped' | 'rejected'

interface Expectation {
  file: string
  line: number
  outcome: Outcome
  reason?: string
  reason_includes?: string
  /** The device's action (CEF act) as written: for the reader, not checked. */
  act?: string
  expect?: Record<string, unknown>
}

interface Manifest {
  sensor_time_zone: string
  records: Expectation[]
}

interface CorpusRecord {
  file: string
  format: LineFormat
  line: number
  text: string
}

const manifest = JSON.parse(readFileSync(new URL('expected.json', CORPUS), 'utf8')) as Manifest
const sources = readFileSync(new URL('SOURCES.md', CORPUS), 'utf8')

/** Every data file under the corpus, as `<format>/<name>`. */
function corpusFiles(): string[] {
  return readdirSync(CORPUS, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((dir) => readdirSync(new URL(`${dir.name}/`, CORPUS)).map((name) => `${dir.name}/${name}`))
    .sort()
}

/**
 * One record per line; a `.pretty.json` file holds records as documentation prints them, over
 * several lines, each running to the next blank line. A record's line is its first line.
 */
function recordsOf(file: string): CorpusRecord[] {
  const format = file.split('/')[0] ?? ''
  if (!isLineFormat(format)) throw new Error(`${file}: directory ${format} is not a registered format`)
  const lines = readFileSync(new URL(file, CORPUS), 'utf8').split('\n')
  const records: CorpusRecord[] = []
  if (!file.endsWith('.pretty.json')) {
    lines.forEach((text, i) => {
      if (text.trim() !== '') records.push({ file, format, line: i + 1, text })
    })
    return records
  }
  let start = -1
  lines.forEach((text, i) => {
    if (text.trim() !== '' && start === -1) start = i
    const ends = i === lines.length - 1 || lines[i + 1]?.trim() === ''
    if (start !== -1 && text.trim() !== '' && ends) {
      records.push({ file, format, line: start + 1, text: lines.slice(start, i + 1).join('\n') })
      start = -1
    }
  })
  return records
}

const records = corpusFiles().flatMap(recordsOf)
const keyOf = (file: string, line: number) => `${file}:${line}`

function outcomeOf(decoded: Decoded): Outcome {
  return decoded.kind === 'event' ? 'event' : decoded.kind === 'skipped' ? 'skipped' : 'rejected'
}

/** An ISO 8601 time as nanoseconds since the epoch, so instants compare exactly whatever their offset. */
function instant(text: unknown): bigint | undefined {
  const match = typeof text === 'string' ? /^(.{19})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/.exec(text) : null
  if (match === null) return undefined
  const [, seconds, fraction = '', zone = 'Z'] = match
  const ms = Date.parse(`${seconds}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`)
  return Number.isNaN(ms) ? undefined : BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, '0'))
}

interface Window {
  from: Date
  to: Date
}

function checkTime(t: Test, got: unknown, want: unknown, received: Window): boolean {
  const at = instant(got)
  if (at === undefined) return t.fail(`occurred_at: ${JSON.stringify(got)} is not an ISO 8601 time with an offset`)
  if (want === 'received') {
    const from = BigInt(received.from.getTime()) * 1_000_000n
    const to = BigInt(received.to.getTime()) * 1_000_000n
    return t.ok(at >= from && at <= to, `occurred_at is the receive time (got ${String(got)})`)
  }
  return t.equal(at, instant(want), `occurred_at is ${String(want)} (got ${String(got)})`)
}

/** Each expected field against the event; time_source is where the decoder says the time came from. */
function checkEvent(
  t: Test,
  decoded: Extract<Decoded, { kind: 'event' }>,
  expect: Record<string, unknown>,
  received: Window,
): boolean {
  // A decoder that does not say where the time came from took it from the record.
  const timeSource = 'timeSource' in decoded ? decoded.timeSource : undefined
  const fields: Record<string, unknown> = { ...decoded.event, time_source: timeSource ?? 'event' }
  let all = true
  for (const [field, want] of Object.entries(expect)) {
    const ok =
      field === 'occurred_at'
        ? checkTime(t, fields[field], want, received)
        : want === null
          ? t.equal(fields[field], undefined, `${field} is absent (got ${JSON.stringify(fields[field])})`)
          : t.equal(fields[field], want, `${field} is ${JSON.stringify(want)} (got ${JSON.stringify(fields[field])})`)
    all &&= ok
  }
  return all
}

interface Tally {
  accepted: number
  skipped: number
  rejected: number
  asExpected: number
}

const tallies = new Map<string, Tally>()

function tally(file: string, outcome: Outcome, asExpected: boolean): void {
  const entry = tallies.get(file) ?? { accepted: 0, skipped: 0, rejected: 0, asExpected: 0 }
  if (outcome === 'event') entry.accepted++
  else entry[outcome]++
  if (asExpected) entry.asExpected++
  tallies.set(file, entry)
}

t.test('the manifest names every record of the corpus once, and nothing else', async (t) => {
  const named = manifest.records.map((entry) => keyOf(entry.file, entry.line))
  t.same([...new Set(named)].sort(), [...named].sort(), 'no record is named twice')
  t.same([...named].sort(), records.map((record) => keyOf(record.file, record.line)).sort())
})

t.test('every corpus file has its origin and licence in SOURCES.md', async (t) => {
  for (const file of corpusFiles()) t.ok(sources.includes(`\`${file}\``), `${file} is listed`)
})

t.test('the corpus spans the three formats, several Suricata versions and at least five CEF vendors', async (t) => {
  t.ok(records.length >= 40, `${records.length} records`)
  const formats = new Set(records.map((record) => record.format))
  t.same([...formats].sort(), ['cef', 'cowrie', 'suricata'])
  const vendors = new Set(
    records.filter((record) => record.format === 'cef').map((record) => record.text.split('CEF:')[1]?.split('|')[1]),
  )
  t.ok(vendors.size >= 5, `CEF vendors: ${[...vendors].join(', ')}`)
})

const expectations = new Map(manifest.records.map((entry) => [keyOf(entry.file, entry.line), entry]))

for (const record of records) {
  const expected = expectations.get(keyOf(record.file, record.line))
  if (expected === undefined) continue
  t.test(`${record.file}:${record.line} is ${expected.outcome}`, async (t) => {
    const from = new Date()
    // The sensor's registration travels with the decoding context; decoders that do not read it ignore it.
    const context = { maxDepth: 32, timeZone: manifest.sensor_time_zone, receivedAt: from }
    const decoded = FORMATS[record.format](record.text, context)
    const received = { from, to: new Date() }
    const outcome = outcomeOf(decoded)
    let asExpected = t.equal(
      outcome,
      expected.outcome,
      `decoded as ${outcome}${decoded.kind === 'event' ? '' : `: ${decoded.reason}`}`,
    )
    if (decoded.kind === 'event' && expected.outcome === 'event') {
      asExpected = checkEvent(t, decoded, expected.expect ?? {}, received) && asExpected
    }
    if (decoded.kind !== 'event' && asExpected && expected.reason_includes !== undefined) {
      asExpected = t.match(decoded.reason, expected.reason_includes, `the reason names ${expected.reason_includes}`)
    }
    tally(record.file, outcome, asExpected)
  })
}

t.test('summary of what the decoders made of the corpus, by source', async (t) => {
  const rows = [...tallies.entries()]
  const byFormat = new Map<string, Tally>()
  for (const [file, n] of rows) {
    const format = file.split('/')[0] ?? ''
    const sum = byFormat.get(format) ?? { accepted: 0, skipped: 0, rejected: 0, asExpected: 0 }
    for (const key of ['accepted', 'skipped', 'rejected', 'asExpected'] as const) sum[key] += n[key]
    byFormat.set(format, sum)
  }
  const all = [...rows, ...[...byFormat.entries()].map(([format, n]): [string, Tally] => [`${format} (all)`, n])]
  const width = Math.max(...all.map(([name]) => name.length))
  const line = ([name, n]: [string, Tally]) =>
    `${name.padEnd(width)}  accepted ${String(n.accepted).padStart(2)}  skipped ${String(n.skipped).padStart(2)}  rejected ${String(n.rejected).padStart(2)}  as expected ${n.asExpected}/${n.accepted + n.skipped + n.rejected}`
  t.equal(
    rows.reduce((sum, [, n]) => sum + n.accepted + n.skipped + n.rejected, 0),
    records.length,
    'every record was decoded',
  )
  console.log(`corpus: decoded outcomes by source\n${all.map(line).join('\n')}`)
})
