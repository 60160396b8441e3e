import t from 'tap'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { gzipSync } from 'node:zlib'
import { TOKENS } from '../helpers/stack.js'
import { caseSettings, startStack, suiteBroker } from './processes.js'
import { type Answer, post, SteadySensor } from './sensor.js'
import { reasonsOf } from './store.js'
import { record } from './summary.js'
import { assertExactlyOnce, assertNoRestart, assertStreamDelivered, seconds, settle, storedWithin } from './verify.js'

// Each poison comes from its own sensor (Almaty) in the middle of a steady stream from another
// (Astana). What the collector does with each is asserted exactly: refused as a whole with a 4xx
// and its reason, or refused per event (202, the event's index and reason in the answer, and the
// event with its reason in the rejected topic) while the valid events beside it are stored.

const POISON_SENSOR = 'test-hp-almaty'

interface Poison {
  name: string
  /** Events in the poison request, good ones included. */
  events: number
  /** The valid events sent along with the poison: they must be stored. */
  good: Map<string, number>
  send: () => Promise<Answer>
  status: number
  answer: Record<string, unknown>
  /** The rejected records the poison must leave, told apart by their reason; none when refused as a whole. */
  rejected?: { count: number; reason: RegExp; format?: string }
}

function event(overrides: Record<string, unknown> = {}) {
  return {
    event_id: randomUUID(),
    occurred_at: new Date().toISOString(),
    category: 'exploit',
    severity: 3,
    signature: 'ET EXPLOIT poison neighbour',
    src_ip: '192.0.2.77',
    count: 1,
    ...overrides,
  }
}

/** A request of a valid event, the poison, and another valid event. */
function sandwich(
  name: string,
  poison: Record<string, unknown>,
  reason: RegExp,
  asNdjson = false,
): Omit<Poison, 'send'> & { body: string; type: string } {
  const before = event()
  const after = event()
  const bad = event(poison)
  const body = asNdjson
    ? [
        JSON.stringify(before),
        typeof poison['line'] === 'string' ? poison['line'] : JSON.stringify(bad),
        JSON.stringify(after),
      ].join('\n')
    : JSON.stringify([before, bad, after])
  return {
    name,
    events: 3,
    good: new Map([
      [before.event_id, 1],
      [after.event_id, 1],
    ]),
    body,
    type: asNdjson ? 'application/x-ndjson' : 'application/json',
    status: 202,
    answer: { accepted: 2, skipped: 0, rejected: [{ index: 1, reason }] },
    rejected: { count: 1, reason },
  }
}

function poisons(url: string): Poison[] {
  const send =
    (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    () =>
      post(`${url}${path}`, TOKENS.almaty, body, headers)
  const sandwiched = (p: ReturnType<typeof sandwich>): Poison => ({
    ...p,
    send: send('/v1/events', p.body, { 'content-type': p.type }),
  })

  const oversized = JSON.stringify(
    Array.from({ length: 10_000 }, (_, i) => event({ signature: `ET LONG ${i} ${'A'.repeat(600)}`.slice(0, 512) })),
  )
  const suricata = Array.from({ length: 2_500 }, (_, i) =>
    i % 3 === 0
      ? `{"timestamp":"2026-01-01T00:00:00.000000+0500","event_type":"alert","src_ip":"192.0.2.${i % 250}","alert":"not an object ${i}"}`
      : i % 3 === 1
        ? `{"timestamp":"2026-01-01T00:00:00.000000+0500","event_type":"alert","src_ip":"192.0.2.1","alert":{"signature":"x ${i}","severity":"high"}}`
        : `not json at all ${i} {`,
  ).join('\n')
  const depth = 50_000
  const deep = `{"occurred_at":"${new Date().toISOString()}","category":"scan","severity":2,"signature":"deep","src_ip":"192.0.2.1","x":${'['.repeat(depth)}${']'.repeat(depth)}}`
  // A gzip bomb: 1 GiB of spaces in 64 gzip members of 16 MiB each, about 1 MiB on the wire.
  const member = gzipSync(Buffer.alloc(16 * 1024 * 1024, 0x20), { level: 9 })
  const bomb = Buffer.concat(Array.from({ length: 64 }, () => member))
  const today = new Date().toISOString().slice(0, 10)

  return [
    {
      name: 'oversized request: 10,000 events, 512-character signatures',
      events: 10_000,
      good: new Map(),
      send: send('/v1/events', oversized),
      status: 413,
      answer: { error: 'QLQ_ERR_BODY_TOO_LARGE' },
    },
    {
      name: '2,500 invalid Suricata lines',
      events: 2_500,
      good: new Map(),
      send: send('/v1/events/suricata', suricata, { 'content-type': 'text/plain' }),
      status: 400,
      answer: { error: 'QLQ_ERR_INVALID_EVENTS', accepted: 0, skipped: 0 },
      rejected: { count: 2_500, reason: /./, format: 'suricata' },
    },
    sandwiched(
      sandwich(
        'lone surrogate "signature":"x\\ud800"',
        { signature: 'x\ud800' },
        /^signature: not well-formed Unicode \(a lone surrogate\)$/,
      ),
    ),
    {
      name: `JSON nested ${depth} deep (the body)`,
      events: 1,
      good: new Map(),
      send: send('/v1/events', deep),
      status: 400,
      answer: { error: 'QLQ_ERR_TOO_DEEP' },
    },
    sandwiched(sandwich(`JSON nested ${depth} deep (one NDJSON line)`, { line: deep }, /deep|nest/i, true)),
    {
      name: 'gzip bomb: 1 GiB in 1 MiB',
      events: 0,
      good: new Map(),
      send: send('/v1/events', bomb, { 'content-encoding': 'gzip' }),
      status: 413,
      answer: { error: 'QLQ_ERR_BODY_TOO_LARGE', message: /gunzipped/ },
    },
    sandwiched(
      sandwich(
        'year 9999',
        { occurred_at: '9999-12-31T23:59:59Z' },
        /^occurred_at 9999-12-31T23:59:59\.000Z is more than 3600 s after/,
      ),
    ),
    sandwiched(sandwich('UTC offset +23:59', { occurred_at: `${today}T10:00:00+23:59` }, /\+23:59/)),
  ]
}

t.test('c. poison in the middle of a steady stream: each refused with its reason, the stream goes on', async (t) => {
  const settings = caseSettings('poison', suiteBroker.brokers)
  const stack = await startStack(settings)
  t.teardown(() => stack.stop())
  const cases = poisons(stack.url)
  const sensor = new SteadySensor(stack.url, TOKENS.astana, { batch: 50, pauseMs: 50, seed: 31 })
  sensor.start()
  t.teardown(() => sensor.abort())
  await sleep(1_500)

  const results: { poison: Poison; answer: Answer; resumedMs: number | undefined; storedMs: number }[] = []
  for (const poison of cases) {
    const answer = await poison.send()
    const answeredAt = Date.now()
    const storedMs = await storedWithin(settings, 30_000)
    await sleep(500)
    results.push({ poison, answer, resumedMs: sensor.firstAckAfter(answeredAt), storedMs })
  }
  await sleep(1_000)
  await sensor.stop()

  const settled = await settle(settings, stack)
  assertNoRestart(t, settled, stack)
  assertStreamDelivered(t, sensor)
  const sent = new Map(sensor.sent)
  const acknowledged = new Set(sensor.acknowledged)
  for (const { poison, answer } of results) {
    for (const [id, count] of poison.good) {
      sent.set(id, count)
      if (answer.status === 202) acknowledged.add(id)
    }
  }
  assertExactlyOnce(t, settled.stored, sent, acknowledged)
  const fromStream = settled.rejected.filter((r) => r.sensor_id !== POISON_SENSOR)
  t.same(fromStream, [], 'nothing of the steady stream was rejected')
  const expected = results.reduce((sum, { poison }) => sum + (poison.rejected?.count ?? 0), 0)
  t.equal(
    settled.rejected.length - fromStream.length,
    expected,
    `the rejected topic holds ${expected} records of the poison: those refused per event, none of the requests refused as a whole`,
  )

  for (const { poison, answer, resumedMs, storedMs } of results) {
    t.test(poison.name, async (t) => {
      t.equal(
        answer.status,
        poison.status,
        `answered ${answer.status} in ${answer.ms} ms: ${answer.body.slice(0, 200)}`,
      )
      let body: unknown = {}
      try {
        body = JSON.parse(answer.body)
      } catch {}
      t.match(body, poison.answer, 'the answer says what was wrong')
      const { rejected } = poison
      const left = settled.rejected.filter(
        (r) =>
          rejected !== undefined &&
          r.sensor_id === POISON_SENSOR &&
          rejected.reason.test(r.reason) &&
          (rejected.format ?? r.format) === r.format,
      )
      if (rejected !== undefined)
        t.equal(left.length, rejected.count, `${rejected.count} record(s) in the rejected topic with the reason`)
      t.ok(
        resumedMs !== undefined && resumedMs < 5_000,
        `the steady stream was acknowledged ${seconds(resumedMs)} after the answer`,
      )
      t.ok(storedMs < 15_000, `everything sent up to the poison was stored ${seconds(storedMs)} after it`)
      const stored = [...poison.good.keys()].filter((id) => settled.stored.copies.get(id) === 1).length
      t.equal(stored, answer.status === 202 ? poison.good.size : 0, 'the valid events beside it are stored, once')
      record(t, {
        case: `c. poison: ${poison.name}`,
        sent: poison.events,
        acknowledged: answer.status === 202 ? poison.good.size : 0,
        stored,
        rejected: left.length,
        answers: `${answer.status} ${(body as { error?: string }).error ?? ''}`.trim(),
        note: `answered in ${seconds(answer.ms)}; ${rejected !== undefined ? `reason "${Object.keys(reasonsOf(left)).slice(0, 3).join('"; "')}"` : 'refused as a whole'}; stream acknowledged ${seconds(resumedMs)} later; stored up to it ${seconds(storedMs)} later`,
      })
    })
  }
  record(t, {
    case: 'c. the steady stream around the poison',
    sent: sensor.sent.size,
    acknowledged: sensor.acknowledged.size,
    stored: [...sensor.acknowledged].filter((id) => settled.stored.copies.has(id)).length,
    rejected: fromStream.length,
    answers: sensor.answers,
    note: `${cases.length} poison requests in between; longest pause in 2xx ${seconds(sensor.longestGapMs())}`,
  })
})
