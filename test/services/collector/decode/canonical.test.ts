import t, { type Test } from 'tap'
import type { ErrorCode } from '../../../../services/errors.js'
import { QalqanError } from '../../../../services/errors.js'
import {
  decodeCanonical,
  decodeCanonicalLine,
  type BodyFormat,
  type CanonicalLimits,
} from '../../../../services/collector/decode/canonical.js'
import type { Decoded, DecodedRecord } from '../../../../services/collector/decode/decoded.js'

const limits: CanonicalLimits = { maxEvents: 100, maxDepth: 32, maxLineLength: 1024 * 1024 }
const event = {
  occurred_at: '2025-03-01T08:15:30+05:00',
  category: 'scan',
  severity: 2,
  signature: 'ET SCAN',
  src_ip: '203.0.113.10',
}
/** What validation makes of `event`: the schema's defaults applied. */
const decodedEvent = { ...event, count: 1 }

/** The message of the QalqanError with this code that decoding the body must throw. */
function refusal(t: Test, code: ErrorCode, body: string, format: BodyFormat, at = limits): string {
  try {
    decodeCanonical(body, format, at)
  } catch (err) {
    t.type(err, QalqanError)
    t.equal((err as QalqanError).code, code)
    return (err as Error).message
  }
  t.fail(`the body was decoded instead of refused with ${code}`)
  return ''
}

function attempt(body: string, format: BodyFormat, at = limits): DecodedRecord[] | QalqanError {
  try {
    return decodeCanonical(body, format, at)
  } catch (err) {
    if (err instanceof QalqanError) return err
    throw err
  }
}

/** A too-deep body must be refused; NDJSON may instead reject each too-deep line as a bad event. */
function tooDeep(t: Test, body: string, format: BodyFormat, at = limits): void {
  const result = attempt(body, format, at)
  if (result instanceof QalqanError) t.equal(result.code, 'QLQ_ERR_TOO_DEEP', `${format}: refused as too deep`)
  else if (format === 'json') t.fail('json: a body deeper than the limit was decoded')
  else
    t.notOk(
      result.some((r) => r.decoded.kind === 'event'),
      'ndjson: no line deeper than the limit is decoded',
    )
}

/** Each record's event, or its kind and reason when it is not one. */
function outcomes(records: DecodedRecord[]): unknown[] {
  return records.map(({ decoded }) => (decoded.kind === 'event' ? decoded.event : `${decoded.kind}: ${decoded.reason}`))
}

function kinds(records: DecodedRecord[]): Decoded['kind'][] {
  return records.map((r) => r.decoded.kind)
}

t.test('a JSON object is one event, validated with the defaults applied', async (t) => {
  const records = decodeCanonical(JSON.stringify(event), 'json', limits)
  t.equal(records.length, 1)
  t.same(
    records.map((r) => ({ index: r.index, decoded: r.decoded, raw: r.raw() })),
    [{ index: 0, decoded: { kind: 'event', event: decodedEvent }, raw: JSON.stringify(event) }],
  )
  const counted = decodeCanonical(JSON.stringify({ ...event, count: 7 }), 'json', limits)
  t.same(outcomes(counted), [{ ...event, count: 7 }], 'a count given is kept')
})

t.test('a JSON array is one event per element, in order', async (t) => {
  const second = { ...event, severity: 4 }
  const records = decodeCanonical(` [${JSON.stringify(event)}, ${JSON.stringify(second)}, 7, "text"] `, 'json', limits)
  t.same(
    records.map((r) => r.index),
    [0, 1, 2, 3],
  )
  t.same(kinds(records), ['event', 'event', 'invalid', 'invalid'])
  t.same(outcomes(records).slice(0, 2), [decodedEvent, { ...second, count: 1 }])
  t.match(
    outcomes(records).slice(2),
    [/^invalid: .*object/, /^invalid: .*object/],
    'an element that is not an object is an invalid record',
  )
  t.same(
    records.map((r) => r.raw()),
    [JSON.stringify(event), JSON.stringify(second), '7', '"text"'],
    "raw() is the element's JSON text",
  )
  t.throws(
    () => decodeCanonical('[]', 'json', limits),
    { code: 'QLQ_ERR_NO_EVENTS', message: /the array is empty/ },
    'an empty array is no events',
  )
})

t.test('an invalid event is an invalid record naming the fields, not a bad body', async (t) => {
  const records = decodeCanonical(
    JSON.stringify([event, { ...event, severity: 9, src_ip: 'nowhere' }, { ...event, extra: 1 }]),
    'json',
    limits,
  )
  t.same(kinds(records), ['event', 'invalid', 'invalid'])
  t.match(outcomes(records)[1], /severity/)
  t.match(outcomes(records)[1], /src_ip/)
  t.match(outcomes(records)[2], /unknown field\(s\) "extra"/)
  t.same(records[1]?.raw(), JSON.stringify({ ...event, severity: 9, src_ip: 'nowhere' }))
})

t.test('NDJSON is one event per non-blank line, CRLF or LF', async (t) => {
  const third = { ...event, src_ip: '2001:db8::1' }
  const body = `${JSON.stringify(event)}\r\n\r\n   \n\t\n${JSON.stringify({ ...event, severity: 1 })}\n${JSON.stringify(third)}\r\n`
  const records = decodeCanonical(body, 'ndjson', limits)
  t.same(outcomes(records), [decodedEvent, { ...decodedEvent, severity: 1 }, { ...third, count: 1 }])
  t.same(
    records.map((r) => r.index),
    [0, 1, 2],
    'blank lines are not counted',
  )
  t.same(
    records.map((r) => r.raw()),
    [JSON.stringify(event), JSON.stringify({ ...event, severity: 1 }), JSON.stringify(third)],
    'raw has no line ending',
  )
  t.same(
    outcomes(decodeCanonical(JSON.stringify(event), 'ndjson', limits)),
    [decodedEvent],
    'the last line needs no newline',
  )
})

t.test('a bad NDJSON line is an invalid record with its original text, not a bad body', async (t) => {
  const bad = '{"occurred_at": "2025-03-01T08:15:30Z", "category": '
  const records = decodeCanonical(`${JSON.stringify(event)}\n${bad}\r\n${JSON.stringify(event)}\n`, 'ndjson', limits)
  t.equal(records.length, 3)
  t.match(records[0], { index: 0, decoded: { kind: 'event' } })
  t.match(records[1], { index: 1, decoded: { kind: 'invalid', reason: /^not valid JSON: / } })
  t.equal(records[1]?.raw(), bad, 'the line exactly as sent, without its CRLF')
  t.same(records[2]?.decoded, { kind: 'event', event: decodedEvent })
  t.same(records[2]?.index, 2)
})

t.test('a body that is not JSON is refused as a whole', async (t) => {
  for (const body of ['{"a":', 'not json', '{"a":1}\n{"b":2}', "{'a':1}", '[1,]', '\ufeff{"a":1}']) {
    t.match(refusal(t, 'QLQ_ERR_INVALID_JSON', body, 'json'), /^the body is not valid JSON: /, JSON.stringify(body))
  }
  const err = attempt('nope', 'json')
  t.equal(err instanceof QalqanError && err.status, 400)
})

t.test('an empty body holds no events', async (t) => {
  for (const [body, format] of [
    ['', 'json'],
    ['  \r\n', 'json'],
    ['', 'ndjson'],
    ['\n\r\n \n', 'ndjson'],
  ] as const) {
    refusal(t, 'QLQ_ERR_NO_EVENTS', body, format)
  }
})

t.test('more events than maxEvents are refused, in both formats', async (t) => {
  const at = { ...limits, maxEvents: 3 }
  const array = (n: number) => JSON.stringify(Array.from({ length: n }, () => event))
  const lines = (n: number) => Array.from({ length: n }, () => JSON.stringify(event)).join('\n')
  t.equal(decodeCanonical(array(3), 'json', at).length, 3)
  t.equal(decodeCanonical(`${lines(3)}\n\n\n`, 'ndjson', at).length, 3, 'blank lines do not count')
  t.match(refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', array(4), 'json', at), 'the limit of 3')
  t.match(refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', lines(4), 'ndjson', at), 'the limit of 3')
  t.match(
    refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', `${lines(3)}\nnot json`, 'ndjson', at),
    'the limit of 3',
    'a bad line counts',
  )
  const error = attempt(array(4), 'json', at)
  t.equal(error instanceof QalqanError && error.status, 413)
})

t.test('an array is counted as it is split: past maxEvents it is refused before any of it is parsed', async (t) => {
  const at = { ...limits, maxEvents: 3 }
  const four = Array.from({ length: 4 }, () => JSON.stringify(event)).join(',')
  t.match(
    refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', `[${four}, not json at all`, 'json', at),
    'the limit of 3',
    'what follows the fourth element is not even read',
  )
  t.match(refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', `[${four},${'['.repeat(100_000)}`, 'json', at), 'the limit of 3')
  t.match(refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', `[${'{},'.repeat(2_000_000)}{}]`, 'json', limits), 'the limit of 100')
  t.match(
    refusal(t, 'QLQ_ERR_INVALID_JSON', `[${JSON.stringify(event)}, {"category": }]`, 'json'),
    /^the body is not valid JSON: element 1: /,
    'a bad element refuses the body, naming the element',
  )
  t.match(refusal(t, 'QLQ_ERR_INVALID_JSON', `[${JSON.stringify(event)}] []`, 'json'), 'text after the array')
})

t.test("an element's raw() is its JSON, however it was spaced, as an event id derived from it has been", async (t) => {
  const spaced = JSON.stringify(event, null, 2)
  const records = decodeCanonical(`[\n${spaced} ,\n  ${spaced}\n]`, 'json', limits)
  t.same(
    records.map((r) => r.raw()),
    [JSON.stringify(event), JSON.stringify(event)],
  )
})

t.test('an NDJSON line longer than maxLineLength refuses the body', async (t) => {
  const at = { ...limits, maxLineLength: 300 }
  const long = JSON.stringify({ ...event, signature: 'x'.repeat(300) })
  t.match(refusal(t, 'QLQ_ERR_LINE_TOO_LONG', `${JSON.stringify(event)}\n${long}\n`, 'ndjson', at), 'longer than 300')
  t.same(kinds(decodeCanonical(long, 'json', at)), ['event'], 'a JSON body has no lines to limit')
})

t.test('deep nesting is refused before it is parsed, without crashing', async (t) => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n)
  t.match(refusal(t, 'QLQ_ERR_TOO_DEEP', deep(10_000), 'json'), 'deeper than 32 levels')
  const err = attempt(deep(10_000), 'json')
  t.equal(err instanceof QalqanError && err.status, 400)
  for (const format of ['json', 'ndjson'] as const) {
    tooDeep(t, deep(10_000), format)
    tooDeep(t, `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`, format)
    tooDeep(t, '['.repeat(1_000_000), format)
  }
  t.match(refusal(t, 'QLQ_ERR_INVALID_JSON', '['.repeat(32), 'json'), 'not valid JSON', 'unclosed but within the limit')
})

t.test('an NDJSON line too deep is an invalid record naming the limit', async (t) => {
  const at = { ...limits, maxDepth: 3 }
  const records = decodeCanonical(
    `${JSON.stringify(event)}\n${JSON.stringify({ a: { b: { c: [1] } } })}\n`,
    'ndjson',
    at,
  )
  t.same(kinds(records), ['event', 'invalid'])
  t.match(records[1]?.decoded, { reason: /deeper than 3 levels/ })
})

t.test(
  'an event may nest up to maxDepth levels; an array of them adds one level, a single object does not',
  async (t) => {
    const at = { ...limits, maxDepth: 3 }
    // Valid events are flat: these pass the depth check and are then refused by the schema for "a".
    const nested = { ...event, a: { b: { c: 1 } } }
    const deeper = { ...event, a: { b: { c: [1] } } }
    t.same(
      kinds(decodeCanonical(JSON.stringify(nested), 'json', at)),
      ['invalid'],
      'an object of depth 3 passes the depth check',
    )
    t.same(
      kinds(decodeCanonical(JSON.stringify([nested, nested]), 'json', at)),
      ['invalid', 'invalid'],
      'an array of depth-3 objects (4 levels) passes',
    )
    t.same(kinds(decodeCanonical(`${JSON.stringify(nested)}\n${JSON.stringify(nested)}`, 'ndjson', at)), [
      'invalid',
      'invalid',
    ])
    t.match(
      outcomes(decodeCanonical(JSON.stringify(nested), 'json', at)),
      [/^invalid: unknown field\(s\) "a"$/],
      'refused by the schema, not by depth',
    )
    tooDeep(t, JSON.stringify([deeper]), 'json', at)
    tooDeep(t, JSON.stringify(deeper), 'ndjson', at)
    tooDeep(t, JSON.stringify(deeper), 'json', at)
    // The extra level is for the array alone: an object of depth 4 is refused, whitespace or not.
    tooDeep(t, `  \n${JSON.stringify(deeper)}`, 'json', at)
    tooDeep(t, JSON.stringify([[deeper]]), 'json', at)
  },
)

t.test('brackets inside strings are not nesting', async (t) => {
  const at = { ...limits, maxDepth: 2 }
  const signature = `${'['.repeat(100)} \\" ${'{'.repeat(100)}`
  const body = `${JSON.stringify(event).slice(0, -1)}, "signature": "${signature}"}`
  const expected = { ...decodedEvent, signature: JSON.parse(`"${signature}"`) as string }
  t.same(outcomes(decodeCanonical(body, 'json', at)), [expected])
  t.same(outcomes(decodeCanonical(`[${body}]`, 'json', at)), [expected])
  t.same(outcomes(decodeCanonical(`${body}\n${body}`, 'ndjson', at)), [expected, expected])
})

t.test('NDJSON depth is counted per line', async (t) => {
  // Unclosed brackets on bad lines do not add up into a deep body.
  const unclosed = attempt(`${'['.repeat(20)}\n`.repeat(5), 'ndjson', limits)
  t.notOk(unclosed instanceof Error, 'five lines of 20 unclosed brackets are not a body deeper than 32')
  t.same(
    Array.isArray(unclosed) && kinds(unclosed),
    ['invalid', 'invalid', 'invalid', 'invalid', 'invalid'],
    'each line is a bad event',
  )

  // Nor do closing brackets or an unterminated string on a bad line let a deep line through.
  const deepLine = `${'['.repeat(10_000)}${']'.repeat(10_000)}`
  tooDeep(t, `${']'.repeat(20_000)}\n${deepLine}\n`, 'ndjson')
  tooDeep(t, `"abc\n${deepLine}\n`, 'ndjson')
})

t.test('decodeCanonicalLine decodes one line, never throwing', async (t) => {
  t.same(decodeCanonicalLine(JSON.stringify(event), { maxDepth: 32 }), { kind: 'event', event: decodedEvent })
  t.match(decodeCanonicalLine('{"a":', { maxDepth: 32 }), { kind: 'invalid', reason: /^not valid JSON: / })
  t.match(decodeCanonicalLine('', { maxDepth: 32 }), { kind: 'invalid', reason: /^not valid JSON: / })
  t.match(decodeCanonicalLine('[[[1]]]', { maxDepth: 2 }), { kind: 'invalid', reason: /deeper than 2 levels/ })
  t.match(
    decodeCanonicalLine(JSON.stringify({ ...event, a: { b: 1 } }), { maxDepth: 2 }),
    { kind: 'invalid', reason: /^unknown field\(s\) "a"$/ },
    'depth 2 with a limit of 2 passes the depth check',
  )
  t.match(decodeCanonicalLine('null', { maxDepth: 32 }), { kind: 'invalid' })
  t.match(
    decodeCanonicalLine(JSON.stringify({ ...event, occurred_at: '2025-03-01T08:15:30' }), { maxDepth: 32 }),
    { kind: 'invalid', reason: /occurred_at/ },
    'a time without an offset',
  )
  const proto = `{"__proto__": {"severity": 4}, ${JSON.stringify(event).slice(1)}`
  t.match(
    decodeCanonicalLine(proto, { maxDepth: 32 }),
    { kind: 'invalid', reason: /unknown field\(s\) "__proto__"/ },
    'a __proto__ key is an unknown field, not a prototype',
  )
})

t.test('a lone surrogate (a JSON escape of half a pair) is refused naming the field', async (t) => {
  const bad = { ...event, signature: 'ET SCAN \\ud800', signature_id: '\\udfff1' }
  // As the sensor sends it: the escapes are text, JSON.parse makes them half pairs.
  const line = JSON.stringify(bad).replaceAll('\\\\u', '\\u')
  t.match(line, /"ET SCAN \\ud800"/)
  const reason =
    'signature: not well-formed Unicode (a lone surrogate); signature_id: not well-formed Unicode (a lone surrogate)'
  t.same(decodeCanonicalLine(line, limits), { kind: 'invalid', reason })
  const records = decodeCanonical(`[${JSON.stringify(event)},${line}]`, 'json', limits)
  t.same(
    records.map((r) => r.decoded),
    [
      { kind: 'event', event: decodedEvent },
      { kind: 'invalid', reason },
    ],
  )
  t.equal(decodeCanonicalLine(JSON.stringify({ ...event, signature: 'ET SCAN \ud83d\ude00' }), limits).kind, 'event')
})
