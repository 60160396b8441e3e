import t from 'tap'
import { randomUUID } from 'node:crypto'
import { keyedEventId, recordEventId } from '../../services/collector/event-id.js'
import { readWholeTopic } from '../helpers/kafka.js'
import { TOKENS } from '../helpers/stack.js'
import { caseSettings, startStack, suiteBroker, waitFor200 } from './processes.js'
import { type Answer, post } from './sensor.js'
import { record } from './summary.js'
import { assertExactlyOnce, assertNoRestart, seconds, settle } from './verify.js'

const SENSOR = 'test-ids-astana'

/** Events without ids, as most sensors send them: the collector derives each id. */
function events(count: number, tag: string) {
  const base = Date.now()
  return Array.from({ length: count }, (_, i) => ({
    occurred_at: new Date(base - i * 7).toISOString(),
    category: 'scan',
    severity: 2,
    signature: `ET SCAN resend ${tag}`,
    src_ip: `203.0.113.${i % 250}`,
    src_port: 1024 + (i % 60_000),
    count: 1 + (i % 3),
  }))
}

function parsed(answer: Answer): Record<string, unknown> {
  try {
    return JSON.parse(answer.body) as Record<string, unknown>
  } catch {
    return { body: answer.body }
  }
}

t.test('e. a request answered 503 and sent again, the same body, is stored once', async (t) => {
  const settings = caseSettings('resend', suiteBroker.brokers)
  const stack = await startStack(settings)
  t.teardown(async () => {
    await stack.stop()
    await suiteBroker.start()
  })
  const url = `${stack.url}/v1/events`
  const key = `resend-${randomUUID()}`
  const keyed = events(5_000, 'keyed')
  const plain = events(1_000, 'plain')
  const keyedBody = JSON.stringify(keyed)
  const plainBody = JSON.stringify(plain)

  // The broker dies while the first request is on its way to Kafka; the second comes while it is down.
  const killing = suiteBroker.kill()
  const first = await post(url, TOKENS.astana, keyedBody, { 'idempotency-key': key })
  await killing
  const second = await post(url, TOKENS.astana, plainBody)
  t.equal(second.status, 503, `sent while the broker was down: 503 (${second.body.slice(0, 200)})`)
  t.match(parsed(second), { retryable: true }, 'which says to retry')
  t.ok([202, 503].includes(first.status), `sent as the broker died: ${first.status} (${first.body.slice(0, 200)})`)
  const againWhileDown =
    first.status === 503 ? await post(url, TOKENS.astana, keyedBody, { 'idempotency-key': key }) : undefined
  if (againWhileDown !== undefined)
    t.equal(againWhileDown.status, 503, 'sent again while the broker is down: 503 again')

  await suiteBroker.start()
  const readyMs = await waitFor200(`${stack.url}/readyz`, 60_000, stack.collector)
  const resentKeyed = await post(url, TOKENS.astana, keyedBody, { 'idempotency-key': key })
  const resentPlain = await post(url, TOKENS.astana, plainBody)
  const resentKeyedAgain = await post(url, TOKENS.astana, keyedBody, { 'idempotency-key': key })
  for (const [name, answer, count] of [
    ['the keyed request sent again', resentKeyed, keyed.length],
    ['the plain request sent again', resentPlain, plain.length],
    ['the keyed request a third time, after its 202', resentKeyedAgain, keyed.length],
  ] as const) {
    t.equal(answer.status, 202, `${name}: 202`)
    t.match(parsed(answer), { accepted: count, rejected: [] }, `${name}: all ${count} accepted`)
  }

  // The ids the collector derives: from the key and the position, or from the sensor and the record.
  const sent = new Map<string, number>()
  for (const [index, event] of keyed.entries()) sent.set(keyedEventId(SENSOR, key, index), event.count)
  for (const event of plain) sent.set(recordEventId(SENSOR, JSON.stringify(event)), event.count)
  t.equal(sent.size, keyed.length + plain.length, 'every event has an id of its own')

  const inKafka = (await readWholeTopic(settings.topics.events, settings.brokers)).length
  const settled = await settle(settings, stack)
  assertNoRestart(t, settled, stack)
  assertExactlyOnce(t, settled.stored, sent, new Set(sent.keys()))
  t.ok(inKafka >= 2 * keyed.length + plain.length, `Kafka holds the copies (${inKafka} records), the store each once`)
  t.equal(settled.rejected.length, 0, 'nothing was rejected')

  const answers = new Map<number, number>()
  for (const answer of [first, second, againWhileDown, resentKeyed, resentPlain, resentKeyedAgain]) {
    if (answer !== undefined) answers.set(answer.status, (answers.get(answer.status) ?? 0) + 1)
  }
  record(t, {
    case: 'e. resend after 503 (same body; Idempotency-Key or none)',
    sent: sent.size,
    acknowledged: sent.size,
    stored: settled.stored.rows,
    rejected: settled.rejected.length,
    answers,
    note: `keyed request as the broker died: ${first.status}; plain one while it was down: ${second.status}; collector ready ${seconds(readyMs)} after the broker was; Kafka holds ${inKafka} records for ${sent.size} events`,
  })
})
