import t, { type Test } from 'tap'
import { deflateSync, gzipSync } from 'node:zlib'
import type { ErrorCode } from '../../../services/errors.js'
import { QalqanError } from '../../../services/errors.js'
import { bodyText } from '../../../services/collector/body.js'

const MB = 1024 * 1024
const text =
  '{"occurred_at":"2025-03-01T08:15:30+05:00","category":"scan","severity":2,"signature":"ET SCAN","src_ip":"203.0.113.10"}\n'

/** The QalqanError with this code that reading the body must reject with. */
async function refusal(
  t: Test,
  code: ErrorCode,
  raw: Buffer,
  encoding: string | undefined,
  maxBytes = MB,
): Promise<QalqanError | undefined> {
  try {
    await bodyText(raw, encoding, maxBytes)
  } catch (err) {
    t.type(err, QalqanError)
    t.equal((err as QalqanError).code, code)
    return err as QalqanError
  }
  t.fail(`the body was read instead of refused with ${code}`)
  return undefined
}

t.test('identity: the bytes as UTF-8 text', async (t) => {
  for (const encoding of [undefined, '', 'identity', 'IDENTITY', ' identity ']) {
    t.equal(await bodyText(Buffer.from(text), encoding, MB), text, JSON.stringify(encoding))
  }
  t.equal(
    await bodyText(Buffer.alloc(0), undefined, MB),
    '',
    'an empty body is empty text; the decoder says what that means',
  )
})

t.test('gzip and x-gzip are gunzipped, whatever the case and surrounding spaces', async (t) => {
  const gz = gzipSync(Buffer.from(text))
  for (const encoding of ['gzip', 'x-gzip', 'GZIP', 'Gzip', ' gzip ', '\tX-GZip ']) {
    t.equal(await bodyText(gz, encoding, MB), text, JSON.stringify(encoding))
  }
  const members = Buffer.concat([gzipSync(Buffer.from('first\n')), gzipSync(Buffer.from('second\n'))])
  t.equal(
    await bodyText(members, 'gzip', MB),
    'first\nsecond\n',
    'concatenated gzip members are one body (as `cat a.gz b.gz` makes)',
  )
})

t.test('an unsupported Content-Encoding is refused as 415', async (t) => {
  for (const [encoding, raw] of [
    ['br', Buffer.from(text)],
    ['deflate', deflateSync(Buffer.from(text))],
    ['compress', Buffer.from(text)],
    ['zstd', Buffer.from(text)],
    ['gzip, identity', gzipSync(Buffer.from(text))],
    ['gzip, gzip', gzipSync(gzipSync(Buffer.from(text)))],
  ] as const) {
    const err = await refusal(t, 'QLQ_ERR_UNSUPPORTED_MEDIA_TYPE', raw, encoding)
    t.match(err?.message, JSON.stringify(encoding), `names ${encoding}`)
    t.equal(err?.status, 415)
  }
  const err = await refusal(t, 'QLQ_ERR_UNSUPPORTED_MEDIA_TYPE', Buffer.from(text), `x${'A'.repeat(10_000)}`)
  t.ok((err?.message.length ?? Infinity) < 200, 'a hostile header is not echoed whole')
})

t.test('a gzip body cut short, or not gzip at all, is refused as invalid gzip', async (t) => {
  const gz = gzipSync(Buffer.from(text.repeat(50)))
  for (const [what, raw] of [
    ['the trailer cut off', gz.subarray(0, gz.length - 4)],
    ['cut in the middle', gz.subarray(0, Math.floor(gz.length / 2))],
    ['only the header', gz.subarray(0, 10)],
    ['empty', Buffer.alloc(0)],
    ['plain text', Buffer.from(text)],
    ['deflate without the gzip wrapper', deflateSync(Buffer.from(text))],
  ] as const) {
    const err = await refusal(t, 'QLQ_ERR_INVALID_GZIP', raw, 'gzip')
    t.equal(err?.status, 400, what)
  }
  const corrupt = Buffer.from(gz)
  corrupt[gz.length - 6] = (corrupt[gz.length - 6] ?? 0) ^ 0xff
  await refusal(t, 'QLQ_ERR_INVALID_GZIP', corrupt, 'gzip')
})

// A bomb inflated in full would take seconds and a gigabyte: the test's timeout catches that, its memory is asserted.
t.test(
  'a gzip bomb is refused once the output passes maxBytes, without inflating the rest',
  { timeout: 20_000 },
  async (t) => {
    const bomb = gzipSync(Buffer.alloc(50 * MB), { level: 9 })
    t.ok(bomb.length < 100 * 1024, `50 MB of zeros compress to ${bomb.length} bytes`)
    const err = await refusal(t, 'QLQ_ERR_BODY_TOO_LARGE', bomb, 'gzip', MB)
    t.match(err?.message, String(MB))
    t.equal(err?.status, 413)

    // 100 members of 10 MB each: a gigabyte, which would take seconds and the memory to inflate.
    const member = gzipSync(Buffer.alloc(10 * MB), { level: 9 })
    const gigabyte = Buffer.concat(Array.from({ length: 100 }, () => member))
    const before = process.memoryUsage()
    await refusal(t, 'QLQ_ERR_BODY_TOO_LARGE', gigabyte, 'gzip', MB)
    const after = process.memoryUsage()
    const grown = (after.arrayBuffers - before.arrayBuffers) / MB
    t.ok(grown < 64, `buffers grew by ${grown.toFixed(1)} MB, not a gigabyte`)

    t.equal(
      (await bodyText(gzipSync(Buffer.alloc(MB, 0x61)), 'gzip', MB)).length,
      MB,
      'exactly maxBytes once gunzipped passes',
    )
    await refusal(t, 'QLQ_ERR_BODY_TOO_LARGE', gzipSync(Buffer.alloc(MB + 1, 0x61)), 'gzip', MB)
  },
)

t.test('malformed UTF-8 is refused, never replaced', async (t) => {
  for (const [what, bytes] of [
    ['C3 28: a lead byte followed by ASCII', [0xc3, 0x28]],
    ['a lone FF', [0xff]],
    ['a lone FE', [0xfe]],
    ['a lone continuation byte', [0x80]],
    ['overlong NUL C0 80', [0xc0, 0x80]],
    ['overlong slash C1 AF', [0xc1, 0xaf]],
    ['overlong three-byte E0 80 80', [0xe0, 0x80, 0x80]],
    ['overlong four-byte F0 80 80 80', [0xf0, 0x80, 0x80, 0x80]],
    ['a lone high surrogate ED A0 80', [0xed, 0xa0, 0x80]],
    ['a lone low surrogate ED BF BF', [0xed, 0xbf, 0xbf]],
    ['past U+10FFFF F4 90 80 80', [0xf4, 0x90, 0x80, 0x80]],
    ['a sequence cut at the end E2 82', [0xe2, 0x82]],
  ] as const) {
    const raw = Buffer.concat([Buffer.from('{"signature":"'), Buffer.from(bytes), Buffer.from('"}')])
    const err = await refusal(t, 'QLQ_ERR_INVALID_UTF8', raw, undefined)
    t.equal(err?.status, 400, what)
  }
  await refusal(t, 'QLQ_ERR_INVALID_UTF8', gzipSync(Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), 'gzip')
  await refusal(t, 'QLQ_ERR_INVALID_UTF8', Buffer.from('€'.repeat(10)).subarray(0, 29), undefined)
})

t.test('valid multibyte text is kept exactly', async (t) => {
  const samples = [
    'Қазақстан',
    'Астана, Алматы, Шымкент',
    'қ ғ ү ұ ң ө һ і ә',
    '🛡️ атака 🇰🇿',
    '\u{10FFFF}',
    'a\u0000b',
    '\ud7ff\ue000',
  ]
  for (const sample of samples) {
    const json = JSON.stringify({ signature: sample })
    t.equal(await bodyText(Buffer.from(json), undefined, MB), json, sample)
    t.equal(await bodyText(gzipSync(Buffer.from(json)), 'gzip', MB), json, `${sample}, gzipped`)
  }
})

t.test('a leading UTF-8 byte order mark is dropped; any other is kept', async (t) => {
  // Windows tools write a BOM; JSON.parse refuses one, so it is removed before decoding.
  const bom = Buffer.from([0xef, 0xbb, 0xbf])
  t.equal(await bodyText(Buffer.concat([bom, Buffer.from(text)]), undefined, MB), text)
  t.equal(await bodyText(gzipSync(Buffer.concat([bom, Buffer.from(text)])), 'gzip', MB), text, 'also inside gzip')
  t.equal(
    await bodyText(Buffer.concat([bom, bom, Buffer.from('x')]), undefined, MB),
    '\ufeffx',
    'only the first one is a byte order mark',
  )
  t.equal(
    await bodyText(Buffer.concat([Buffer.from('a'), bom, Buffer.from('b')]), undefined, MB),
    'a\ufeffb',
    'one in the middle is a character',
  )
  t.equal(await bodyText(bom, undefined, MB), '', 'a body of only a BOM is empty')
})

t.test('decoding is stateless between calls', async (t) => {
  // A shared TextDecoder must not carry a cut-off sequence or BOM state from one body into the next.
  await refusal(t, 'QLQ_ERR_INVALID_UTF8', Buffer.from([0xe2, 0x82]), undefined)
  t.equal(
    await bodyText(Buffer.from([0xac]), undefined, MB).catch((err: unknown) => (err as QalqanError).code),
    'QLQ_ERR_INVALID_UTF8',
  )
  const bom = Buffer.from([0xef, 0xbb, 0xbf])
  t.equal(await bodyText(Buffer.concat([bom, Buffer.from('a')]), undefined, MB), 'a')
  t.equal(
    await bodyText(Buffer.concat([bom, Buffer.from('b')]), undefined, MB),
    'b',
    'the BOM is dropped on every body, not only the first',
  )
})
