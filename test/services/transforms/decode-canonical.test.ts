import t, { type Test } from 'tap'
import type { ErrorCode } from '../../../services/errors.js'
import { QalqanError } from '../../../services/errors.js'
import { decodeCanonical, type BodyFormat, type Candidate } from '../../../services/transforms/decode-canonical.js'

const limits = { maxEvents: 100, maxDepth: 32 }
const event = { occurred_at: '2025-03-01T08:15:30+05:00', category: 'scan', severity: 2, signature: 'ET SCAN', src_ip: '203.0.113.10' }

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

function attempt(body: string, format: BodyFormat, at = limits): Candidate[] | QalqanError {
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
  else t.notOk(result.some((c) => c.ok), 'ndjson: no line deeper than the limit is decoded')
}

function values(candidates: Candidate[]): unknown[] {
  return candidates.map((candidate) => (candidate.ok ? candidate.value : candidate.reason))
}

t.test('a JSON object is one event', async (t) => {
  const candidates = decodeCanonical(JSON.stringify(event), 'json', limits)
  t.same(candidates, [{ index: 0, ok: true, value: event, raw: JSON.stringify(event) }])
})

t.test('a JSON array is one event per element, in order', async (t) => {
  const second = { ...event, severity: 4 }
  const candidates = decodeCanonical(` [${JSON.stringify(event)}, ${JSON.stringify(second)}, 7, "text"] `, 'json', limits)
  t.same(values(candidates), [event, second, 7, 'text'])
  t.same(candidates.map((c) => c.index), [0, 1, 2, 3])
  t.same(candidates.map((c) => c.raw), [JSON.stringify(event), JSON.stringify(second), '7', '"text"'])
  t.same(decodeCanonical('[]', 'json', limits), [], 'an empty array is no events; the caller decides what that means')
})

t.test('NDJSON is one event per non-blank line, CRLF or LF', async (t) => {
  const body = `${JSON.stringify(event)}\r\n\r\n   \n\t\n${JSON.stringify({ ...event, severity: 1 })}\n{"a":1}\r\n`
  const candidates = decodeCanonical(body, 'ndjson', limits)
  t.same(values(candidates), [event, { ...event, severity: 1 }, { a: 1 }])
  t.same(candidates.map((c) => c.index), [0, 1, 2], 'blank lines are not counted')
  t.same(candidates.map((c) => c.raw), [JSON.stringify(event), JSON.stringify({ ...event, severity: 1 }), '{"a":1}'], 'raw has no line ending')
  t.same(values(decodeCanonical('{"a":1}', 'ndjson', limits)), [{ a: 1 }], 'the last line needs no newline')
})

t.test('a bad NDJSON line is a failed candidate with its original text, not a bad body', async (t) => {
  const bad = '{"occurred_at": "2025-03-01T08:15:30Z", "category": '
  const candidates = decodeCanonical(`${JSON.stringify(event)}\n${bad}\r\n${JSON.stringify(event)}\n`, 'ndjson', limits)
  t.equal(candidates.length, 3)
  t.match(candidates[0], { index: 0, ok: true })
  t.match(candidates[1], { index: 1, ok: false, raw: bad, reason: /^not valid JSON: / })
  t.match(candidates[2], { index: 2, ok: true, value: event })
})

t.test('a body that is not JSON is refused as a whole', async (t) => {
  for (const body of ['{"a":', 'not json', '{"a":1}\n{"b":2}', "{'a':1}", '[1,]']) {
    t.match(refusal(t, 'QLQ_ERR_INVALID_JSON', body, 'json'), /^the body is not valid JSON: /, body)
  }
})

t.test('an empty body holds no events', async (t) => {
  for (const [body, format] of [['', 'json'], ['  \r\n', 'json'], ['', 'ndjson'], ['\n\r\n \n', 'ndjson']] as const) {
    refusal(t, 'QLQ_ERR_NO_EVENTS', body, format)
  }
})

t.test('more events than maxEvents are refused, in both formats', async (t) => {
  const at = { maxEvents: 3, maxDepth: 32 }
  const array = (n: number) => JSON.stringify(Array.from({ length: n }, () => event))
  const lines = (n: number) => Array.from({ length: n }, () => JSON.stringify(event)).join('\n')
  t.equal(decodeCanonical(array(3), 'json', at).length, 3)
  t.equal(decodeCanonical(`${lines(3)}\n\n\n`, 'ndjson', at).length, 3, 'blank lines do not count')
  t.match(refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', array(4), 'json', at), 'holds 4 events; the limit is 3')
  t.match(refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', lines(4), 'ndjson', at), 'holds at least 4 events; the limit is 3')
  t.match(refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', `${lines(3)}\nnot json`, 'ndjson', at), 'the limit is 3', 'a bad line counts')
  const error = attempt(array(4), 'json', at)
  t.equal(error instanceof QalqanError && error.status, 413)
})

t.test('deep nesting is refused before it is parsed, without crashing', async (t) => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n)
  t.match(refusal(t, 'QLQ_ERR_TOO_DEEP', deep(10_000), 'json'), 'deeper than 32 levels')
  for (const format of ['json', 'ndjson'] as const) {
    tooDeep(t, deep(10_000), format)
    tooDeep(t, '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000), format)
    tooDeep(t, '['.repeat(1_000_000), format)
  }
  t.match(refusal(t, 'QLQ_ERR_INVALID_JSON', '['.repeat(32), 'json'), 'not valid JSON', 'unclosed but within the limit')
})

t.test('an event may nest up to maxDepth levels, alone or in an array', async (t) => {
  const at = { maxEvents: 10, maxDepth: 3 }
  const nested = { a: { b: { c: 1 } } }
  const deeper = { a: { b: { c: [1] } } }
  t.same(values(decodeCanonical(JSON.stringify(nested), 'json', at)), [nested])
  t.same(values(decodeCanonical(JSON.stringify([nested, nested]), 'json', at)), [nested, nested])
  t.same(values(decodeCanonical(`${JSON.stringify(nested)}\n${JSON.stringify(nested)}`, 'ndjson', at)), [nested, nested])
  tooDeep(t, JSON.stringify([deeper]), 'json', at)
  tooDeep(t, JSON.stringify(deeper), 'ndjson', at)
  tooDeep(t, JSON.stringify(deeper), 'json', at)
})

t.test('brackets inside strings are not nesting', async (t) => {
  const at = { maxEvents: 10, maxDepth: 2 }
  const signature = `${'['.repeat(100)} \\" ${'{'.repeat(100)}`
  const body = `{"signature": "${signature}"}`
  t.same(values(decodeCanonical(body, 'json', at)), [{ signature: JSON.parse(`"${signature}"`) }])
  t.same(values(decodeCanonical(`${body}\n${body}`, 'ndjson', at)).length, 2)
})

t.test('NDJSON depth is counted per line', async (t) => {
  // Unclosed brackets on bad lines do not add up into a deep body.
  const unclosed = attempt(`${'['.repeat(20)}\n`.repeat(5), 'ndjson', limits)
  t.notOk(unclosed instanceof Error, 'five lines of 20 unclosed brackets are not a body deeper than 32')
  t.same(Array.isArray(unclosed) && unclosed.map((c) => c.ok), [false, false, false, false, false], 'each line is a bad event')

  // Nor do closing brackets or an unterminated string on a bad line let a deep line through.
  const deepLine = `${'['.repeat(10_000)}${']'.repeat(10_000)}`
  tooDeep(t, `${']'.repeat(20_000)}\n${deepLine}\n`, 'ndjson')
  tooDeep(t, `"abc\n${deepLine}\n`, 'ndjson')
})
