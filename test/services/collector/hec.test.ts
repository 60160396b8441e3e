import t, { type Test } from 'tap'
import { loadConfig, type Config } from '../../../services/config.js'
import type { ErrorCode } from '../../../services/errors.js'
import { QalqanError } from '../../../services/errors.js'
import { splitObjects } from '../../../services/collector/framing.js'
import { decodeEnvelopes } from '../../../services/collector/hec.js'
import type { DecodedRecord } from '../../../services/collector/decode/decoded.js'
import { buildCollector } from '../../../services/collector/app.js'
import { TokenRegistry } from '../../../services/http/tokens.js'
import { createLogger } from '../../../services/logger.js'
import { Metrics } from '../../../services/metrics.js'
import { MemorySender } from '../../helpers/memory.js'
import { TOKENS, TOKENS_FILE } from '../../helpers/stack.js'

const config = loadConfig({ QALQAN_ROLE: 'worker' })
const event = {
  occurred_at: '2025-03-01T08:15:30+05:00',
  category: 'scan',
  severity: 2,
  signature: 'ET SCAN',
  src_ip: '203.0.113.10',
}
const decodedEvent = { ...event, count: 1 }

/** One Suricata EVE alert line, as Suricata writes it (offset without a colon, microseconds). */
const eveAlert = {
  timestamp: '2025-03-01T08:15:30.123456+0500',
  flow_id: 1_234_567_890_123_456,
  in_iface: 'eth0',
  event_type: 'alert',
  src_ip: '203.0.113.10',
  src_port: 51_515,
  dest_ip: '198.51.100.20',
  dest_port: 22,
  proto: 'TCP',
  alert: {
    action: 'allowed',
    gid: 1,
    signature_id: 2_001_219,
    rev: 20,
    signature: 'ET SCAN Potential SSH Scan',
    category: 'Attempted Information Leak',
    severity: 2,
  },
}
const eveFlow = {
  timestamp: '2025-03-01T08:15:31.000000+0500',
  flow_id: 1,
  event_type: 'flow',
  src_ip: '203.0.113.10',
  dest_ip: '198.51.100.20',
  proto: 'TCP',
  flow: { pkts_toserver: 3 },
}
/** One Cowrie JSON log line. */
const cowrieLogin = {
  eventid: 'cowrie.login.failed',
  username: 'root',
  password: '123456',
  message: 'login attempt [root/123456] failed',
  sensor: 'honeypot-01',
  timestamp: '2025-03-01T03:15:30.123456Z',
  src_ip: '203.0.113.77',
  session: 'a1b2c3d4e5f6',
}
/** One CEF line as a FortiGate-style appliance writes it. */
const cefLine =
  'CEF:0|Fortinet|FortiGate|7.2.5|0419016384|Port scan detected|7|src=203.0.113.10 spt=40000 dst=198.51.100.20 dpt=443 proto=TCP rt=1740798930000 cat=scan'

const envelope = (fields: Record<string, unknown>) => JSON.stringify(fields)

/** When the request arrived, as the routes stamp it before the body is read. */
const RECEIVED = new Date('2025-03-01T03:20:00.000Z')

/** The context the routes decode a request of a sensor in the default zone with. */
function contextOf(at: Config) {
  return { ...at.collector, receivedAt: RECEIVED }
}

function decode(body: string, defaultSourcetype = '', at: Config = config) {
  return decodeEnvelopes(body, contextOf(at), defaultSourcetype)
}

function view(records: DecodedRecord[]) {
  return records.map((r) => ({ index: r.index, kind: r.decoded.kind, raw: r.raw() }))
}

function refusal(t: Test, code: ErrorCode, body: string, at: Config = config): QalqanError | undefined {
  try {
    decodeEnvelopes(body, contextOf(at), '')
  } catch (err) {
    t.type(err, QalqanError)
    t.equal((err as QalqanError).code, code)
    return err as QalqanError
  }
  t.fail(`the body was decoded instead of refused with ${code}`)
  return undefined
}

/** The split as text per object, undefined for a piece that is not an object. */
function pieces(body: string): (string | undefined)[] {
  return splitObjects(body, { maxEvents: Number.POSITIVE_INFINITY }).map((piece) =>
    piece.object ? piece.text : undefined,
  )
}

t.test('splitObjects: concatenated and newline-separated objects', async (t) => {
  t.same(pieces('{"a":1}{"b":2}{"c":3}'), ['{"a":1}', '{"b":2}', '{"c":3}'])
  t.same(pieces('{"a":1}\n{"b":2}\r\n{"c":3}\n'), ['{"a":1}', '{"b":2}', '{"c":3}'])
  t.same(pieces(' \t\r\n{"a":1} \t {"b":2}\n\n\n'), ['{"a":1}', '{"b":2}'], 'JSON whitespace around and between')
  t.same(
    pieces('{"a":{"b":[{"c":[1,{"d":{}}]}]}}{"e":[]}'),
    ['{"a":{"b":[{"c":[1,{"d":{}}]}]}}', '{"e":[]}'],
    'nested objects and arrays',
  )
  t.same(pieces('{}{}'), ['{}', '{}'])
  t.same(pieces(''), [])
  t.same(pieces(' \r\n\t '), [])
})

t.test('splitObjects: braces inside strings and escapes', async (t) => {
  t.same(pieces('{"a":"}{"}{"b":"{{{"}'), ['{"a":"}{"}', '{"b":"{{{"}'])
  t.same(pieces('{"}":"]"}'), ['{"}":"]"}'], 'in a key too')
  t.same(
    pieces(String.raw`{"a":"\"}"}{"b":1}`),
    [String.raw`{"a":"\"}"}`, '{"b":1}'],
    'an escaped quote does not end the string',
  )
  t.same(
    pieces(String.raw`{"a":"\\"}{"b":1}`),
    [String.raw`{"a":"\\"}`, '{"b":1}'],
    'an escaped backslash does not escape the quote',
  )
  t.same(pieces(String.raw`{"a":"\\\"}"}{"b":1}`), [String.raw`{"a":"\\\"}"}`, '{"b":1}'])
  for (const slice of pieces(String.raw`{"a":"\"}"}{"b":"\\"}`))
    t.doesNotThrow(() => JSON.parse(slice ?? ''), 'each slice parses')
})

t.test('splitObjects: a truncated last object is an undefined entry', async (t) => {
  t.same(pieces('{"a":1}{"b":'), ['{"a":1}', undefined])
  t.same(pieces('{"a":1}\n{"b":"}'), ['{"a":1}', undefined], 'cut inside a string that holds a brace')
  t.same(pieces('{'), [undefined])
  t.same(pieces('{"a":{"b":1}'), [undefined], 'one closer short')
})

t.test('splitObjects: text between objects is an undefined entry, and splitting stops there', async (t) => {
  t.same(pieces('{"a":1} garbage {"b":2}'), ['{"a":1}', undefined])
  t.same(pieces('{"a":1},{"b":2}'), ['{"a":1}', undefined], 'a comma')
  t.same(pieces('[{"a":1}]'), [undefined], 'an array is not an envelope')
  t.same(pieces('"event"'), [undefined])
  t.same(pieces('{"a":1}}{"b":2}'), ['{"a":1}', undefined], 'a stray closer')
  t.same(pieces('{"a":1}\u00a0{"b":2}'), ['{"a":1}', undefined], 'a no-break space is not JSON whitespace')
})

// How fast it splits is measured in bench/; one pass over the text is what keeps it linear.
t.test('splitObjects: 200,000 envelopes, and an unterminated object with a 5 MB string', async (t) => {
  t.equal(pieces('{"event":{"a":"}"}}\n'.repeat(200_000)).length, 200_000)
  t.same(pieces(`{"a":"${'{'.repeat(5_000_000)}`), [undefined], 'an unterminated object with a long string')
})

t.test('canonical events in envelopes are validated, one record per envelope', async (t) => {
  const second = { ...event, severity: 4, count: 3 }
  const body = `${envelope({ event })}${envelope({ event: second, host: 'ids-01', source: 'eve.json' })}\n${envelope({ event: { ...event, severity: 9 } })}`
  const { records, firstProblem } = decode(body)
  t.equal(firstProblem, undefined, 'an event the schema refuses is a rejected record, not an HEC format problem')
  t.same(
    records.map((r) => r.index),
    [0, 1, 2],
  )
  t.same(records[0]?.decoded, { kind: 'event', event: decodedEvent, timeSource: 'event' })
  t.same(records[1]?.decoded, {
    kind: 'event',
    event: { ...second, device: 'ids-01', log_source: 'eve.json' },
    timeSource: 'event',
  })
  t.match(records[2]?.decoded, { kind: 'invalid', reason: /severity/ })
  t.same(
    records.map((r) => r.raw()),
    [
      envelope({ event }),
      envelope({ event: second, host: 'ids-01', source: 'eve.json' }),
      envelope({ event: { ...event, severity: 9 } }),
    ],
    'raw() is the envelope',
  )
})

t.test('an envelope without an event is HEC code 12', async (t) => {
  for (const body of [envelope({ time: 1_740_816_930 }), envelope({ event: null }), '{}']) {
    const { records, firstProblem } = decode(`${envelope({ event })}\n${body}`)
    t.same(firstProblem, { text: 'Event field is required', code: 12, 'invalid-event-number': 1 }, body)
    t.same(
      records.map((r) => r.decoded.kind),
      ['event', 'invalid'],
    )
    t.match(records[1]?.decoded, { reason: /no "event"/ })
  }
})

t.test('a blank event is HEC code 13', async (t) => {
  for (const blank of ['', '   ', '\n\t']) {
    const { records, firstProblem } = decode(envelope({ event: blank }))
    t.same(
      firstProblem,
      { text: 'Event field cannot be blank', code: 13, 'invalid-event-number': 0 },
      JSON.stringify(blank),
    )
    t.match(records, [{ index: 0, decoded: { kind: 'invalid', reason: /blank/ } }])
  }
})

t.test('an envelope that is not JSON, or not an object, is HEC code 6 with its number', async (t) => {
  const cases: [string, RegExp][] = [
    [`${envelope({ event })}{"event": }`, /not valid JSON/],
    [`${envelope({ event })}{"event": {"a":1}`, /not a JSON object/],
    [`${envelope({ event })} garbage`, /not a JSON object/],
    [`${envelope({ event })}{"event": 1,}`, /not valid JSON/],
  ]
  for (const [body, reason] of cases) {
    const { records, firstProblem } = decode(body)
    t.same(firstProblem, { text: 'Invalid data format', code: 6, 'invalid-event-number': 1 }, body)
    t.same(
      records.map((r) => r.decoded.kind),
      ['event', 'invalid'],
    )
    t.match(records[1]?.decoded, { reason })
  }
})

t.test('firstProblem is the first of several; later envelopes are still decoded', async (t) => {
  const body = [envelope({ event }), '{"time":1}', envelope({ event: ' ' }), envelope({ event })].join('\n')
  const { records, firstProblem } = decode(body)
  t.same(firstProblem, { text: 'Event field is required', code: 12, 'invalid-event-number': 1 })
  t.same(
    records.map((r) => [r.index, r.decoded.kind]),
    [
      [0, 'event'],
      [1, 'invalid'],
      [2, 'invalid'],
      [3, 'event'],
    ],
  )
})

t.test("a problem envelope's raw() is that envelope, not the start of the body", async (t) => {
  // The rejected record goes to the rejected topic: an analyst must see the envelope that failed.
  const body = [envelope({ event, host: 'first' }), '{"time":1}', envelope({ event: '' }), '{"event": }'].join('\n')
  const { records } = decode(body)
  t.same(view(records), [
    { index: 0, kind: 'event', raw: envelope({ event, host: 'first' }) },
    { index: 1, kind: 'invalid', raw: '{"time":1}' },
    { index: 2, kind: 'invalid', raw: envelope({ event: '' }) },
    { index: 3, kind: 'invalid', raw: '{"event": }' },
  ])
  const big =
    decode(`${envelope({ event: 'x'.repeat(100) }).repeat(1000)}{}`)
      .records.at(-1)
      ?.raw() ?? ''
  t.ok(big.length <= 65_536, 'a raw text is never larger than 64 KiB')
})

t.test('envelope depth: an event may nest maxDepth levels inside its envelope', async (t) => {
  const shallow = loadConfig({ QALQAN_ROLE: 'worker', QALQAN_COLLECTOR_MAX_DEPTH: '3' })
  const atLimit = envelope({ event: { ...event, a: { b: { c: 1 } } } })
  const over = envelope({ event: { ...event, a: { b: { c: [1] } } } })
  const { records: ok, firstProblem: none } = decode(atLimit, '', shallow)
  t.equal(none, undefined)
  t.match(
    ok[0]?.decoded,
    { kind: 'invalid', reason: /unknown field\(s\) "a"/ },
    'depth 3 in the event (4 with its envelope) reaches the schema',
  )
  const { records, firstProblem } = decode(`${envelope({ event })}${over}`, '', shallow)
  t.same(firstProblem, { text: 'Invalid data format', code: 6, 'invalid-event-number': 1 })
  t.match(records[1]?.decoded, { kind: 'invalid', reason: /deeper than 3 levels/ })
  const deep = `{"event":${'['.repeat(100_000)}${']'.repeat(100_000)}}`
  t.match(
    decode(deep).records[0]?.decoded,
    { kind: 'invalid', reason: /deeper than 32 levels/ },
    'a hostile depth does not reach the parser',
  )
  t.match(
    decode(envelope({ event: `{"a":${'['.repeat(40)}` })).records[0]?.decoded,
    { kind: 'invalid', reason: /deeper than 32/ },
    'nor inside a string event',
  )
})

t.test('sourcetype picks the decoder: canonical when absent or unknown', async (t) => {
  for (const sourcetype of [undefined, '', '_json', 'qalqan', 'access_combined', 5, null]) {
    const { records } = decode(envelope({ event, sourcetype }))
    t.same(
      records[0]?.decoded,
      { kind: 'event', event: decodedEvent, timeSource: 'event' },
      `sourcetype ${JSON.stringify(sourcetype)}`,
    )
  }
})

t.test('sourcetype suricata (any spelling Splunk uses) decodes EVE records', async (t) => {
  for (const sourcetype of ['suricata', 'suricata:eve', 'Suricata', 'SURICATA:EVE', 'suricata:alert']) {
    const { records } = decode(envelope({ event: eveAlert, sourcetype }))
    t.match(
      records[0]?.decoded,
      {
        kind: 'event',
        event: {
          src_ip: '203.0.113.10',
          dst_ip: '198.51.100.20',
          signature: 'ET SCAN Potential SSH Scan',
          category: 'scan',
        },
      },
      sourcetype,
    )
    t.match(records[0]?.decoded, { event: { occurred_at: '2025-03-01T08:15:30.123456+05:00' } })
  }
  const asText = decode(envelope({ event: JSON.stringify(eveAlert), sourcetype: 'suricata' }))
  t.match(
    asText.records[0]?.decoded,
    { kind: 'event', event: { signature: 'ET SCAN Potential SSH Scan' } },
    'an EVE line as a string event',
  )
  t.match(
    decode(envelope({ event: eveFlow, sourcetype: 'suricata:eve' })).records[0]?.decoded,
    { kind: 'skipped' },
    'a flow record is not an attack',
  )
  t.match(
    decode(envelope({ event: eveAlert })).records[0]?.decoded,
    { kind: 'invalid', reason: /unknown field/ },
    'without the sourcetype it is not a canonical event',
  )
  t.equal(
    decode(envelope({ event: eveAlert, time: 1 }), 'suricata').records[0]?.decoded.kind,
    'event',
    "the request's default sourcetype",
  )
  t.match(
    decode(envelope({ event, sourcetype: 'suricata' }), 'suricata').records[0]?.decoded,
    { kind: 'invalid' },
    "the envelope's sourcetype wins over the default",
  )
  t.same(
    decode(envelope({ event, sourcetype: '_json' }), 'suricata').records[0]?.decoded,
    { kind: 'event', event: decodedEvent, timeSource: 'event' },
    'an unknown envelope sourcetype is canonical, whatever the default',
  )
})

t.test('sourcetype cowrie and cef pick their decoders', async (t) => {
  for (const sourcetype of ['cowrie', 'cowrie:json']) {
    t.match(
      decode(envelope({ event: cowrieLogin, sourcetype })).records[0]?.decoded,
      { kind: 'event', event: { category: 'bruteforce', src_ip: '203.0.113.77' } },
      sourcetype,
    )
  }
  t.match(decode(envelope({ event: JSON.stringify(cowrieLogin), sourcetype: 'cowrie' })).records[0]?.decoded, {
    kind: 'event',
    event: { src_ip: '203.0.113.77' },
  })
  for (const sourcetype of ['cef', 'CEF', 'fortigate:cef']) {
    t.match(
      decode(envelope({ event: cefLine, sourcetype })).records[0]?.decoded,
      { kind: 'event', event: { src_ip: '203.0.113.10', dst_port: 443, signature: 'Port scan detected' } },
      sourcetype,
    )
  }
  t.match(
    decode(envelope({ event: cefLine })).records[0]?.decoded,
    { kind: 'invalid', reason: /not valid JSON/ },
    'a CEF line as canonical is not JSON',
  )
})

t.test("HEC's time (epoch seconds) fills a canonical event's missing occurred_at", async (t) => {
  const { occurred_at: _omitted, ...timeless } = event
  const decoded = (time: unknown) => decode(envelope({ event: timeless, time })).records[0]?.decoded
  t.match(decoded(1_740_798_930), { kind: 'event', event: { occurred_at: '2025-03-01T03:15:30.000Z' } })
  t.match(
    decoded(1_740_798_930.5),
    { kind: 'event', event: { occurred_at: '2025-03-01T03:15:30.500Z' } },
    'fractional seconds',
  )
  t.match(
    decoded(1_740_798_930.123),
    { kind: 'event', event: { occurred_at: '2025-03-01T03:15:30.123Z' } },
    'milliseconds',
  )
  t.match(decoded(0), { kind: 'event', event: { occurred_at: '1970-01-01T00:00:00.000Z' } })
  t.match(decoded(undefined), { kind: 'invalid', reason: /occurred_at/ }, 'no time, no occurred_at')
  t.match(decoded(1e300), { kind: 'invalid', reason: /occurred_at/ }, 'a time past the end of dates')
  t.match(decoded(true), { kind: 'invalid', reason: /occurred_at/ })
  const kept = decode(envelope({ event, time: 1 })).records[0]?.decoded
  t.same(
    kept,
    { kind: 'event', event: decodedEvent, timeSource: 'event' },
    "the event's own occurred_at wins over time",
  )
  t.same(
    timeless,
    { category: 'scan', severity: 2, signature: 'ET SCAN', src_ip: '203.0.113.10' },
    'the parsed event is not changed in place',
  )
})

t.test('a string event holding canonical JSON is decoded like an object', async (t) => {
  t.same(decode(envelope({ event: JSON.stringify(event) })).records[0]?.decoded, {
    kind: 'event',
    event: decodedEvent,
    timeSource: 'event',
  })
  t.match(decode(envelope({ event: 'Mar  1 08:15:30 sshd[1]: Failed password for root' })).records[0]?.decoded, {
    kind: 'invalid',
    reason: /^not valid JSON/,
  })
  t.match(decode(envelope({ event: 42 })).records[0]?.decoded, { kind: 'invalid' }, 'a number is not an event')
  t.match(decode(envelope({ event: [event] })).records[0]?.decoded, { kind: 'invalid' }, 'nor is an array of them')
})

t.test("HEC's time fills occurred_at of a canonical event sent as JSON text too", async (t) => {
  // Forwarders with a text encoding (Vector's `encoding.codec = "text"`) send the event as a string.
  const { occurred_at: _omitted, ...timeless } = event
  const decoded = decode(envelope({ event: JSON.stringify(timeless), time: 1_740_798_930.5 })).records[0]?.decoded
  t.match(decoded, { kind: 'event', event: { occurred_at: '2025-03-01T03:15:30.500Z' } })
})

t.test('no envelopes is QLQ_ERR_NO_EVENTS; more than maxEvents is QLQ_ERR_TOO_MANY_EVENTS', async (t) => {
  for (const body of ['', '  \r\n\t']) refusal(t, 'QLQ_ERR_NO_EVENTS', body)
  const three = loadConfig({ QALQAN_ROLE: 'worker', QALQAN_COLLECTOR_MAX_EVENTS: '3' })
  t.equal(decode(envelope({ event }).repeat(3), '', three).records.length, 3, 'exactly maxEvents')
  const err = refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', `${envelope({ event })}\n`.repeat(4), three)
  t.match(err?.message, 'the limit of 3')
  t.equal(err?.status, 413)
  refusal(t, 'QLQ_ERR_TOO_MANY_EVENTS', '{}'.repeat(100_000), three)
})

t.test('splitObjects counts as it splits: the piece past maxEvents refuses the body at once', async (t) => {
  const split = (body: string, maxEvents: number) => splitObjects(body, { maxEvents }).length
  t.equal(split('{}{}{}', 3), 3, 'exactly the limit')
  t.equal(split('{}{}{} \n\t', 3), 3, 'whitespace after the last is not a piece')
  t.throws(() => split('{}{}{}{}', 3), { code: 'QLQ_ERR_TOO_MANY_EVENTS', message: /the limit of 3 per/ })
  t.throws(() => split('{}{}{}garbage', 3), { code: 'QLQ_ERR_TOO_MANY_EVENTS' }, 'a piece that is not an object counts')
  t.equal(split('{}{}garbage{}{}', 3), 3, 'the rest after a non-object is one piece')
  // What follows the piece past the limit is never looked at: an unterminated object of 50 MB
  // would take as long to scan as the body is long; with 4 pieces found, it is not scanned.
  const hostile = `${'{"event":{}}'.repeat(4)}{"a":"${'x'.repeat(50_000_000)}`
  t.throws(() => split(hostile, 3), { code: 'QLQ_ERR_TOO_MANY_EVENTS' })
})

t.test('a body of a million tiny envelopes is refused at the limit, before any is parsed', async (t) => {
  const body = '{"event":{}}'.repeat(1_000_000)
  const parse = JSON.parse
  let parsed = 0
  JSON.parse = (...args: Parameters<typeof JSON.parse>) => {
    parsed++
    return parse(...args)
  }
  try {
    refusal(
      t,
      'QLQ_ERR_TOO_MANY_EVENTS',
      body,
      loadConfig({ QALQAN_ROLE: 'worker', QALQAN_COLLECTOR_MAX_EVENTS: '10' }),
    )
  } finally {
    JSON.parse = parse
  }
  t.equal(parsed, 0, 'no envelope was parsed')
})

t.test('__proto__ keys are plain keys: no prototype is read or polluted', async (t) => {
  const inherited = decode(`{"__proto__": {"event": ${JSON.stringify(event)}, "sourcetype": "suricata"}}`)
  t.same(
    inherited.firstProblem,
    { text: 'Event field is required', code: 12, 'invalid-event-number': 0 },
    "an event under __proto__ is not the envelope's event",
  )

  const sourcetype = decode(`{"__proto__": {"sourcetype": "suricata"}, "event": ${JSON.stringify(event)}}`)
  t.same(
    sourcetype.records[0]?.decoded,
    { kind: 'event', event: decodedEvent, timeSource: 'event' },
    'nor is a sourcetype under __proto__',
  )

  const { occurred_at: _omitted, ...timeless } = event
  const time = decode(`{"__proto__": {"time": 1740798930}, "event": ${JSON.stringify(timeless)}}`)
  t.match(time.records[0]?.decoded, { kind: 'invalid', reason: /occurred_at/ }, 'nor is a time under __proto__')

  for (const body of [
    `{"event": {"__proto__": {"severity": 1}, ${JSON.stringify(event).slice(1)}}`,
    `{"time": 1740798930, "event": {"__proto__": {"x": 1}, ${JSON.stringify(timeless).slice(1)}}}`,
  ]) {
    t.match(
      decode(body).records[0]?.decoded,
      { kind: 'invalid', reason: /unknown field\(s\) "__proto__"/ },
      'a __proto__ key in the event is an unknown field',
    )
  }
  t.equal(({} as Record<string, unknown>)['severity'], undefined, 'Object.prototype is untouched')
  t.equal(({} as Record<string, unknown>)['event'], undefined)
})

t.test('a lone surrogate in an envelope is refused naming the field, whatever the sourcetype', async (t) => {
  const reason = 'signature: not well-formed Unicode (a lone surrogate)'
  const body = [
    envelope({ event: { ...event, signature: 'ET SCAN \ud800' } }),
    envelope({ event: JSON.stringify({ ...event, signature: 'ET SCAN \udfff' }) }),
    envelope({
      sourcetype: 'suricata:eve',
      event: { ...eveAlert, alert: { ...eveAlert.alert, signature: 'x\ud800' } },
    }),
    envelope({ sourcetype: 'cowrie', event: { ...cowrieLogin, eventid: 'cowrie.command.input', input: 'ls\udc00' } }),
    envelope({ sourcetype: 'cef', event: cefLine.replace('Port scan detected', 'Port scan \ud800') }),
    envelope({ event }),
  ].join('\n')
  t.match(body, /\\ud800/, 'the body holds the escape, as a sensor sends it')
  const { records, firstProblem } = decode(body)
  t.equal(firstProblem, undefined, 'each envelope is an event, refused or not')
  t.same(
    records.map((r) => r.decoded),
    [
      ...Array.from({ length: 5 }, () => ({ kind: 'invalid', reason })),
      { kind: 'event', event: decodedEvent, timeSource: 'event' },
    ],
  )
})

/** A CEF line with no time anywhere: no rt, end or start, no syslog header. */
const timelessCef =
  'CEF:0|Trend Micro|Deep Security Agent|20.0.1-3180|1008610|SMB Remote Code Execution Vulnerability (CVE-2017-0144)|8|src=198.51.100.140 dst=192.0.2.80 spt=49786 dpt=445 proto=TCP'

t.test("a canonical event without occurred_at gets the envelope's time, time source envelope", async (t) => {
  const { occurred_at: _omitted, ...timeless } = event
  const stamped = (occurredAt: string) => ({
    kind: 'event',
    event: { ...decodedEvent, occurred_at: occurredAt },
    timeSource: 'envelope',
  })
  t.same(
    decode(envelope({ event: timeless, time: 1_740_798_930 })).records[0]?.decoded,
    stamped('2025-03-01T03:15:30.000Z'),
  )
  t.same(
    decode(envelope({ event: JSON.stringify(timeless), time: 1_740_798_930.25 })).records[0]?.decoded,
    stamped('2025-03-01T03:15:30.250Z'),
    'an event sent as JSON text',
  )
  t.same(
    decode(envelope({ event: timeless, time: '1740798930' })).records[0]?.decoded,
    stamped('2025-03-01T03:15:30.000Z'),
    'time as a numeric string',
  )
  t.same(
    decode(envelope({ event: timeless, time: '1740798930.5' })).records[0]?.decoded,
    stamped('2025-03-01T03:15:30.500Z'),
    'a numeric string with a fraction',
  )
  for (const time of ['yesterday', '', '-1', '1740798930s', ' 1740798930']) {
    t.match(
      decode(envelope({ event: timeless, time })).records[0]?.decoded,
      { kind: 'invalid', reason: /occurred_at/ },
      `${JSON.stringify(time)} is not a time: nothing fills occurred_at`,
    )
  }
})

t.test("a CEF line without any time gets the envelope's time, else the receive time", async (t) => {
  const cef = (fields: Record<string, unknown>) =>
    decode(envelope({ event: timelessCef, sourcetype: 'cef', ...fields })).records[0]?.decoded
  t.match(cef({ time: 1_740_798_930 }), {
    kind: 'event',
    event: { occurred_at: '2025-03-01T03:15:30.000Z', src_ip: '198.51.100.140', category: 'exploit' },
    timeSource: 'envelope',
  })
  t.match(
    cef({ time: '1740798930.125' }),
    { kind: 'event', event: { occurred_at: '2025-03-01T03:15:30.125Z' }, timeSource: 'envelope' },
    'time as a numeric string',
  )
  t.match(
    cef({}),
    { kind: 'event', event: { occurred_at: RECEIVED.toISOString() }, timeSource: 'received' },
    'no envelope time: the receive time',
  )
  t.match(
    cef({ time: 'soon' }),
    { kind: 'event', event: { occurred_at: RECEIVED.toISOString() }, timeSource: 'received' },
    'an envelope time that is not one: the receive time',
  )
  t.match(
    decode(envelope({ event: cefLine, sourcetype: 'cef', time: 1 })).records[0]?.decoded,
    { kind: 'event', event: { occurred_at: '2025-03-01T03:15:30.000Z' }, timeSource: 'event' },
    "the record's own rt wins over the envelope's time",
  )
})

t.test('through the HEC route: time_source in Kafka, and the worker time rules for an envelope time', async (t) => {
  const collector = loadConfig({
    QALQAN_ROLE: 'collector',
    QALQAN_TOKENS_FILE: TOKENS_FILE,
    QALQAN_WORKER_MAX_AGE_DAYS: '3650',
  })
  const kafka = new MemorySender()
  const registry = TokenRegistry.fromFile(TOKENS_FILE)
  const app = buildCollector(collector, {
    logger: createLogger('silent'),
    tokens: () => registry,
    kafka,
    metrics: new Metrics(),
    enrich: (e) => e,
    readiness: () => [],
  })
  t.teardown(() => app.close())
  const post = (body: string) =>
    app.inject({
      method: 'POST',
      url: '/services/collector/event',
      headers: { authorization: `Splunk ${TOKENS.astana}`, 'content-type': 'application/json' },
      payload: body,
    })
  const { occurred_at: _omitted, ...timeless } = event

  const before = Date.now()
  const ok = await post(
    [
      envelope({ event: timeless, time: 1_740_798_930 }),
      envelope({ event: timelessCef, sourcetype: 'cef', time: '1740798931' }),
      envelope({ event: timelessCef, sourcetype: 'cef' }),
      envelope({ event }),
    ].join('\n'),
  )
  const after = Date.now()
  t.equal(ok.statusCode, 200, ok.body)
  t.match(ok.json(), { code: 0, accepted: 4 })
  t.same(
    kafka.events.slice(0, 2).map((e) => [e.occurred_at, e.time_source]),
    [
      ['2025-03-01T03:15:30.000Z', 'envelope'],
      ['2025-03-01T03:15:31.000Z', 'envelope'],
    ],
  )
  const received = kafka.events[2]
  t.equal(received?.time_source, 'received')
  t.equal(received?.occurred_at, received?.received_at, "the request's receive time")
  const occurred = Date.parse(received?.occurred_at ?? '')
  t.ok(occurred >= before && occurred <= after, 'stamped while the request was handled')
  t.equal(kafka.events[3]?.time_source, 'event')

  // 1e11 s is in the year 5138: past QALQAN_WORKER_MAX_FUTURE_SECONDS, refused here as the worker would drop it.
  for (const [label, far] of [
    ['canonical', envelope({ event: timeless, time: 1e11 })],
    ['CEF', envelope({ event: timelessCef, sourcetype: 'cef', time: 1e11 })],
    ['CEF, time as text', envelope({ event: timelessCef, sourcetype: 'cef', time: '100000000000' })],
  ] as const) {
    const accepted = kafka.events.length
    const res = await post(`${envelope({ event })}\n${far}`)
    t.equal(res.statusCode, 400, `${label}: ${res.body}`)
    t.match(res.json(), {
      code: 6,
      'invalid-event-number': 1,
      accepted: 1,
      rejected: [
        {
          index: 1,
          reason: /^occurred_at 5138-11-16T09:46:40\.000Z is more than \d+ s after .*QALQAN_WORKER_MAX_FUTURE_SECONDS/,
        },
      ],
    })
    t.equal(kafka.events.length, accepted + 1, `${label}: the other event is taken`)
    t.match(kafka.rejected.at(-1), { index: 1, stage: 'normalize' })
  }
})

t.test(
  "the envelope's host and source name the device and log of an event that names none, for every decoder",
  async (t) => {
    const origin = { host: 'kz-fw-almaty-01', source: '/var/log/suricata/eve.json' }
    const decoded = (fields: Record<string, unknown>) => decode(envelope({ ...origin, ...fields })).records[0]?.decoded
    t.same(
      decoded({ event }),
      {
        kind: 'event',
        event: { ...decodedEvent, device: origin.host, log_source: origin.source },
        timeSource: 'event',
      },
      'canonical',
    )
    t.same(
      decoded({ event: JSON.stringify(event) }),
      {
        kind: 'event',
        event: { ...decodedEvent, device: origin.host, log_source: origin.source },
        timeSource: 'event',
      },
      'canonical as JSON text',
    )
    const { occurred_at: _omitted, ...timeless } = event
    t.match(
      decoded({ event: timeless, time: 1_740_798_930 }),
      { kind: 'event', event: { device: origin.host, log_source: origin.source }, timeSource: 'envelope' },
      'canonical with the envelope time',
    )
    const own = { ...event, device: 'sensor-says', log_source: 'its-own.log' }
    t.same(
      decoded({ event: own }),
      { kind: 'event', event: { ...own, count: 1 }, timeSource: 'event' },
      "a canonical event's own device and log_source win",
    )
    t.match(
      decoded({ event: { ...event, device: 'sensor-says' } }),
      { event: { device: 'sensor-says', log_source: origin.source } },
      'each field on its own: the event names the device, the envelope the log',
    )
    for (const [format, record, sourcetype] of [
      ['suricata', eveAlert, 'suricata:eve'],
      ['suricata anomaly', { ...eveAlert, event_type: 'anomaly', anomaly: { type: 'decode' } }, 'suricata'],
      ['cowrie', { ...cowrieLogin, sensor: undefined }, 'cowrie'],
      ['cef', cefLine, 'cef'],
    ] as const) {
      t.match(
        decoded({ event: record, sourcetype }),
        { kind: 'event', event: { device: origin.host, log_source: origin.source } },
        `${format}: the record names no device`,
      )
    }
    for (const [format, record, sourcetype, device] of [
      ['suricata', { ...eveAlert, host: 'suricata-sensor-7' }, 'suricata', 'suricata-sensor-7'],
      ['cowrie', cowrieLogin, 'cowrie', 'honeypot-01'],
      ['cef', `${cefLine} dvchost=fw-edge-02`, 'cef', 'fw-edge-02'],
      ['cef', `${cefLine} deviceExternalId=FGT60F0000000001`, 'cef', 'FGT60F0000000001'],
    ] as const) {
      t.match(
        decoded({ event: record, sourcetype }),
        { kind: 'event', event: { device, log_source: origin.source } },
        `${format}: the record's own device wins over the envelope's host`,
      )
    }
    t.same(
      decoded({ event: eveFlow, sourcetype: 'suricata' }),
      { kind: 'skipped', reason: 'event_type "flow" is not an alert or an anomaly' },
      'a skipped record stays skipped',
    )
    t.match(
      decoded({ event: { ...event, severity: 9 } }),
      { kind: 'invalid', reason: /^severity: / },
      'an invalid one stays invalid, with its own reason',
    )
    t.same(
      decode(envelope({ event })).records[0]?.decoded,
      { kind: 'event', event: decodedEvent, timeSource: 'event' },
      'no host or source: neither field',
    )
  },
)

t.test('hostile host and source: other types ignored, long ones cut, a lone surrogate refused', async (t) => {
  const decoded = (fields: Record<string, unknown>, sourcetype?: string) =>
    decode(envelope({ event: sourcetype === 'cef' ? cefLine : event, sourcetype, ...fields })).records[0]?.decoded
  for (const value of [5, 0, true, null, {}, { name: 'x' }, ['fw-01'], '', '   ']) {
    t.same(
      decoded({ host: value, source: value }),
      { kind: 'event', event: decodedEvent, timeSource: 'event' },
      `${JSON.stringify(value)} is no name`,
    )
  }
  t.match(decoded({ host: '  fw-01\t', source: ' in ' }), { event: { device: 'fw-01', log_source: 'in' } }, 'trimmed')
  const long = decoded({ host: 'h'.repeat(100_000), source: `/${'d/'.repeat(50_000)}eve.json` })
  t.equal(long?.kind, 'event', 'a long name does not cost the event')
  const cut = long?.kind === 'event' ? long.event : undefined
  t.equal(cut?.device, 'h'.repeat(255), 'cut to 255 characters')
  t.equal(cut?.log_source?.length, 255)
  t.ok(cut?.log_source?.startsWith('/d/d/'), 'the start of a path is kept')
  const emoji = decoded({ host: `${'h'.repeat(254)}\u{1F600}tail` })
  t.match(emoji, { kind: 'event', event: { device: 'h'.repeat(254) } }, 'a pair at the cut is not split')
  t.ok(emoji?.kind === 'event' && emoji.event.device?.isWellFormed())
  for (const sourcetype of [undefined, 'cef']) {
    t.same(
      decoded({ host: 'fw-\ud800' }, sourcetype),
      { kind: 'invalid', reason: "the envelope's host: not well-formed Unicode (a lone surrogate)" },
      `${sourcetype ?? 'canonical'}: host`,
    )
    t.same(
      decoded({ host: 'fw-01', source: '\udc00.log' }, sourcetype),
      { kind: 'invalid', reason: "the envelope's source: not well-formed Unicode (a lone surrogate)" },
      `${sourcetype ?? 'canonical'}: source`,
    )
  }
  t.match(
    decode(envelope({ event: `${cefLine} dvchost=fw-02`, sourcetype: 'cef', host: '\ud800' })).records[0]?.decoded,
    { kind: 'event', event: { device: 'fw-02' } },
    "an envelope host that is not used is not checked: the record's own device stands",
  )
})

t.test("a sensor's own device and log_source are checked like any text field", async (t) => {
  const decoded = (fields: Record<string, unknown>) =>
    decode(envelope({ event: { ...event, ...fields }, host: 'fw-01' })).records[0]?.decoded
  t.match(decoded({ device: 'd'.repeat(255), log_source: 's'.repeat(255) }), {
    kind: 'event',
    event: { device: 'd'.repeat(255), log_source: 's'.repeat(255) },
  })
  for (const [fields, reason] of [
    [{ device: 'd'.repeat(256) }, /^device: /],
    [{ log_source: 's'.repeat(256) }, /^log_source: /],
    [{ device: '' }, /^device: /],
    [{ device: 42 }, /^device: /],
    [{ log_source: ['a'] }, /^log_source: /],
    [{ device: 'fw\udfff' }, /^device: not well-formed Unicode/],
  ] as const) {
    t.match(decoded(fields), { kind: 'invalid', reason }, JSON.stringify(fields).slice(0, 60))
  }
})

t.test('through the HEC route: device and log_source reach Kafka, for every decoder', async (t) => {
  const kafka = new MemorySender()
  const registry = TokenRegistry.fromFile(TOKENS_FILE)
  const collector = loadConfig({
    QALQAN_ROLE: 'collector',
    QALQAN_TOKENS_FILE: TOKENS_FILE,
    QALQAN_WORKER_MAX_AGE_DAYS: '3650',
  })
  const app = buildCollector(collector, {
    logger: createLogger('silent'),
    tokens: () => registry,
    kafka,
    metrics: new Metrics(),
    enrich: (e) => e,
    readiness: () => [],
  })
  t.teardown(() => app.close())
  const res = await app.inject({
    method: 'POST',
    url: '/services/collector/event',
    headers: { authorization: `Splunk ${TOKENS.astana}`, 'content-type': 'application/json' },
    payload: [
      envelope({ event, host: 'gw-1', source: 'tcp:514' }),
      envelope({ event: eveAlert, sourcetype: 'suricata', host: 'ids-2', source: '/var/log/suricata/eve.json' }),
      envelope({ event: cowrieLogin, sourcetype: 'cowrie', host: 'forwarder', source: 'cowrie.json' }),
      envelope({ event: `${cefLine} dvchost=fw-3`, sourcetype: 'cef', source: 'udp:514' }),
      envelope({ event }),
    ].join('\n'),
  })
  t.equal(res.statusCode, 200, res.body)
  t.same(
    kafka.events.map((e) => [e.device, e.log_source]),
    [
      ['gw-1', 'tcp:514'],
      ['ids-2', '/var/log/suricata/eve.json'],
      ['honeypot-01', 'cowrie.json'],
      ['fw-3', 'udp:514'],
      [undefined, undefined],
    ],
  )
  t.notMatch(JSON.stringify(kafka.events[4]), /device|log_source/, 'an event without them is written without them')
})
