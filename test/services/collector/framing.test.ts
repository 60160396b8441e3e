import t, { type Test } from 'tap'
import type { ErrorCode } from '../../../services/errors.js'
import { QalqanError } from '../../../services/errors.js'
import { splitLines, tooManyEvents, type LineLimits } from '../../../services/collector/framing.js'

const limits: LineLimits = { maxEvents: 100, maxLineLength: 1000 }

/** The QalqanError with this code that splitting the body must throw. */
function refusal(t: Test, code: ErrorCode, body: string, at = limits): QalqanError | undefined {
  try {
    splitLines(body, at)
  } catch (err) {
    t.type(err, QalqanError)
    t.equal((err as QalqanError).code, code)
    return err as QalqanError
  }
  t.fail(`the body was split instead of refused with ${code}`)
  return undefined
}

t.test('LF and CRLF both end a line; the ending is not part of it', async (t) => {
  t.same(splitLines('a\nb\nc\n', limits), ['a', 'b', 'c'])
  t.same(splitLines('a\r\nb\r\nc\r\n', limits), ['a', 'b', 'c'])
  t.same(splitLines('a\r\nb\nc\r\n', limits), ['a', 'b', 'c'], 'mixed in one body')
})

t.test('a body with no trailing newline keeps its last line', async (t) => {
  t.same(splitLines('a\nb', limits), ['a', 'b'])
  t.same(splitLines('only', limits), ['only'])
  t.same(splitLines('a\r\nb\r', limits), ['a', 'b'], 'a last CR without its LF is still a line ending')
})

t.test('blank and whitespace-only lines are skipped; other lines are kept as sent', async (t) => {
  t.same(splitLines('\n\na\n\r\n \t \n\r\nb\n\n', limits), ['a', 'b'])
  t.same(splitLines(' a \n\tb\t', limits), [' a ', '\tb\t'], 'a line is not trimmed')
  t.same(splitLines('a\rb\n', limits), ['a\rb'], 'a CR alone does not end a line')
  t.same(splitLines('', limits), [])
  t.same(splitLines('\n\r\n  \n', limits), [], 'a body of blank lines has none')
})

t.test('a line longer than maxLineLength refuses the body, naming the line and the limit', async (t) => {
  const at = { maxEvents: 100, maxLineLength: 10 }
  t.same(
    splitLines(`${'x'.repeat(10)}\n${'y'.repeat(10)}\r\n`, at),
    ['x'.repeat(10), 'y'.repeat(10)],
    'exactly at the limit passes; CR is not counted',
  )
  const err = refusal(t, 'QLQ_ERR_LINE_TOO_LONG', `a\n${'x'.repeat(11)}\nb\n`, at)
  t.match(err?.message, /^line 2 is longer than 10 characters/)
  t.match(err?.message, 'QALQAN_COLLECTOR_MAX_LINE_LENGTH', 'names the setting')
  t.equal(err?.status, 413)
  t.match(
    refusal(t, 'QLQ_ERR_LINE_TOO_LONG', 'x'.repeat(11), at)?.message,
    /^line 1 /,
    'the last line, with no newline',
  )
})

t.test('the line number counts every line of the body, blank ones too', async (t) => {
  // A sensor operator looks for "line 5" in the file that was sent, where blank lines are lines.
  const at = { maxEvents: 100, maxLineLength: 10 }
  const err = refusal(t, 'QLQ_ERR_LINE_TOO_LONG', `\n\na\n\r\n${'x'.repeat(11)}\n`, at)
  t.match(err?.message, /^line 5 is longer than 10 characters/)
})

t.test('more non-blank lines than maxEvents refuse the body', async (t) => {
  const at = { maxEvents: 3, maxLineLength: 100 }
  t.same(splitLines('1\n2\n3\n', at), ['1', '2', '3'], 'exactly maxEvents lines pass')
  t.same(splitLines('1\n\n2\n\n\n3\n\n', at), ['1', '2', '3'], 'blank lines do not count')
  const err = refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', '1\n2\n3\n4', at)
  t.match(err?.message, 'the limit of 3')
  t.equal(err?.status, 413)
  refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', `${'1\n'.repeat(100_000)}`, at)
})

t.test('tooManyEvents names the limit and the setting', async (t) => {
  const err = tooManyEvents(42)
  t.equal(err.code, 'QLQ_ERR_TOO_MANY_EVENTS')
  t.match(err.message, 'the limit of 42')
  t.match(err.message, 'QALQAN_COLLECTOR_MAX_EVENTS')
})

t.test('a 10 MB single line with a small limit is refused at once', { timeout: 20_000 }, async (t) => {
  const body = `{"signature":"${'A'.repeat(10 * 1024 * 1024)}"}`
  const err = refusal(t, 'QLQ_ERR_LINE_TOO_LONG', body, { maxEvents: 10, maxLineLength: 1024 })
  t.match(err?.message, /^line 1 is longer than 1024 characters/)
  t.ok((err?.message.length ?? Infinity) < 300, 'the message does not quote the line')
})

t.test('a 10 MB body of short lines is split in linear time', { timeout: 20_000 }, async (t) => {
  const line = '{"src_ip":"203.0.113.10"}'
  const count = Math.ceil((10 * 1024 * 1024) / (line.length + 1))
  const lines = splitLines(`${line}\n`.repeat(count), { maxEvents: count, maxLineLength: 100 })
  t.equal(lines.length, count)
})
