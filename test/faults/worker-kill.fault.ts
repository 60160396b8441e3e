import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { TOKENS } from '../helpers/stack.js'
import { caseSettings, startStack, suiteBroker } from './processes.js'
import { SteadySensor } from './sensor.js'
import { record } from './summary.js'
import { assertExactlyOnce, assertNoRestart, assertStreamDelivered, seconds, settle } from './verify.js'

const KILLS = 4

t.test('b. the worker SIGKILLed again and again under load: every 2xx stored once, none twice', async (t) => {
  const settings = caseSettings('worker-kill', suiteBroker.brokers)
  const stack = await startStack(settings)
  t.teardown(() => stack.stop())
  const sensor = new SteadySensor(stack.url, TOKENS.astana, { batch: 100, pauseMs: 40, seed: 23 })
  sensor.start()
  t.teardown(() => sensor.abort())
  let seed = 3
  const random = (n: number) => {
    seed = (seed * 48271) % 2147483647
    return seed % n
  }
  const lifetimes: string[] = []
  for (let kill = 0; kill < KILLS; kill++) {
    const lived = 1_500 + random(3_000)
    await sleep(lived)
    await stack.worker.kill('SIGKILL')
    lifetimes.push(seconds(lived))
    await stack.restartWorker()
  }
  await sleep(2_000)
  await sensor.stop()

  const settled = await settle(settings, stack)
  assertNoRestart(t, settled, stack, KILLS + 1)
  t.equal(sensor.answers.get(503) ?? 0, 0, 'the collector never noticed: the worker is not on its path')
  assertStreamDelivered(t, sensor)
  assertExactlyOnce(t, settled.stored, sensor.sent, sensor.acknowledged)
  t.equal(settled.rejected.length, 0, 'nothing was rejected')
  record(t, {
    case: `b. worker SIGKILLed ${KILLS} times under load`,
    sent: sensor.sent.size,
    acknowledged: sensor.acknowledged.size,
    stored: settled.stored.rows,
    rejected: settled.rejected.length,
    answers: sensor.answers,
    note: `killed after ${lifetimes.join(', ')} of life, started again each time; worker caught up ${seconds(settled.catchUpMs)} after the load`,
  })
})
