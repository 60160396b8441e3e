import t from 'tap'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { TOKENS } from '../helpers/stack.js'
import { caseSettings, startStack, suiteBroker } from './processes.js'
import { post, SteadySensor } from './sensor.js'
import { reasonsOf } from './store.js'
import { record } from './summary.js'
import { assertExactlyOnce, assertNoRestart, assertStreamDelivered, seconds, settle } from './verify.js'

const EVENTS = 10_000
const PER_REQUEST = 500
const SKEW_MS = 5 * 3600_000

/** A sensor whose clock is off by `skewMs` sends EVENTS events, PER_REQUEST a request; returns each answer. */
async function sendSkewed(url: string, token: string, skewMs: number, ids: Set<string>) {
  const answers: {
    status: number
    body: { accepted?: number; rejected?: { index: number; reason: string }[]; error?: string }
  }[] = []
  for (let sent = 0; sent < EVENTS; sent += PER_REQUEST) {
    const events = Array.from({ length: PER_REQUEST }, (_, i) => {
      const id = randomUUID()
      ids.add(id)
      return {
        event_id: id,
        occurred_at: new Date(Date.now() + skewMs - i).toISOString(),
        category: 'bruteforce',
        severity: 2,
        signature: 'SSH brute force, skewed clock',
        src_ip: '192.0.2.55',
        count: 1,
      }
    })
    const answer = await post(`${url}/v1/events`, token, JSON.stringify(events))
    answers.push({ status: answer.status, body: JSON.parse(answer.body) })
    await sleep(100)
  }
  return answers
}

t.test('d. sensors with clocks 5 hours off send 10,000 events each: answered per event, nothing stops', async (t) => {
  const settings = caseSettings('clock-skew', suiteBroker.brokers)
  const stack = await startStack(settings)
  t.teardown(() => stack.stop())
  const sensor = new SteadySensor(stack.url, TOKENS.astana, { batch: 50, pauseMs: 50, seed: 41 })
  sensor.start()
  t.teardown(() => sensor.abort())
  await sleep(1_000)
  const aheadIds = new Set<string>()
  const behindIds = new Set<string>()
  const [ahead, behind] = await Promise.all([
    sendSkewed(stack.url, TOKENS.almaty, SKEW_MS, aheadIds),
    sendSkewed(stack.url, TOKENS.atyrau, -SKEW_MS, behindIds),
  ])
  await sleep(1_000)
  await sensor.stop()

  const settled = await settle(settings, stack)
  assertNoRestart(t, settled, stack)
  assertStreamDelivered(t, sensor)
  t.ok(sensor.longestGapMs() < 5_000, `the steady stream never paused long (longest ${seconds(sensor.longestGapMs())})`)

  t.same(
    [...new Set(ahead.map((a) => `${a.status} ${a.body.error} accepted ${a.body.accepted}`))],
    ['400 QLQ_ERR_INVALID_EVENTS accepted 0'],
    'every request of the sensor 5 hours ahead is refused, with each event listed',
  )
  t.ok(
    ahead.every(
      (a) => a.body.rejected?.length === 100 && /the sensor's clock is wrong/.test(a.body.rejected[0]?.reason ?? ''),
    ),
    'the answer lists the first 100 events and why: the clock',
  )
  const aheadRejected = settled.rejected.filter((r) => r.sensor_id === 'test-hp-almaty')
  t.equal(aheadRejected.length, EVENTS, `all ${EVENTS} events ahead are in the rejected topic`)
  t.same(
    Object.keys(reasonsOf(aheadRejected)).map((reason) => reason.replace(/\(<time>\)/, '(...)')),
    [
      "occurred_at <time> is more than 3600 s after the event was received (...): the sensor's clock is wrong (QALQAN_WORKER_MAX_FUTURE_SECONDS)",
    ],
    'each with its reason',
  )

  t.same(
    [...new Set(behind.map((a) => `${a.status} accepted ${a.body.accepted}`))],
    [`202 accepted ${PER_REQUEST}`],
    'the sensor 5 hours behind is within the horizon: accepted',
  )
  const sent = new Map(sensor.sent)
  const acknowledged = new Set(sensor.acknowledged)
  for (const id of behindIds) {
    sent.set(id, 1)
    acknowledged.add(id)
  }
  for (const id of aheadIds) sent.set(id, 1)
  assertExactlyOnce(t, settled.stored, sent, acknowledged)
  t.equal(settled.rejected.length, EVENTS, 'nothing else was rejected: neither the stream nor the sensor behind')

  const statuses = (answers: { status: number }[]) => {
    const counts = new Map<number, number>()
    for (const { status } of answers) counts.set(status, (counts.get(status) ?? 0) + 1)
    return counts
  }
  record(t, {
    case: 'd. sensor clock 5 h ahead',
    sent: aheadIds.size,
    acknowledged: 0,
    stored: [...aheadIds].filter((id) => settled.stored.copies.has(id)).length,
    rejected: aheadRejected.length,
    answers: statuses(ahead),
    note: `${ahead.length} requests of ${PER_REQUEST}; each answer lists the first 100 events with the reason; all ${EVENTS} in the rejected topic`,
  })
  record(t, {
    case: 'd. sensor clock 5 h behind',
    sent: behindIds.size,
    acknowledged: behindIds.size,
    stored: [...behindIds].filter((id) => settled.stored.copies.get(id) === 1).length,
    rejected: 0,
    answers: statuses(behind),
    note: 'within QALQAN_WORKER_MAX_AGE_DAYS: stored at the time the sensor gave',
  })
  record(t, {
    case: 'd. the steady stream beside them',
    sent: sensor.sent.size,
    acknowledged: sensor.acknowledged.size,
    stored: [...sensor.acknowledged].filter((id) => settled.stored.copies.get(id) === 1).length,
    rejected: 0,
    answers: sensor.answers,
    note: `longest pause in 2xx ${seconds(sensor.longestGapMs())}; worker caught up ${seconds(settled.catchUpMs)} after the load`,
  })
})
