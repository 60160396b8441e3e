import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { TOKENS } from '../helpers/stack.js'
import { caseSettings, startStack, suiteBroker } from './processes.js'
import { SteadySensor } from './sensor.js'
import { record } from './summary.js'
import { assertExactlyOnce, assertNoRestart, assertStreamDelivered, seconds, settle } from './verify.js'

t.test(
  'a. the broker SIGKILLed and started again under load: no restart of Qalqan, every 2xx stored once',
  async (t) => {
    const settings = caseSettings('broker-kill', suiteBroker.brokers)
    const stack = await startStack(settings)
    t.teardown(async () => {
      await stack.stop()
      await suiteBroker.start()
    })
    const sensor = new SteadySensor(stack.url, TOKENS.astana, { batch: 100, pauseMs: 40, seed: 11 })
    sensor.start()
    t.teardown(() => sensor.abort())
    await sleep(4_000)
    const beforeKill = sensor.acknowledged.size
    const killedAt = Date.now()
    await suiteBroker.kill()
    await sleep(3_000)
    await suiteBroker.start()
    const backAt = Date.now()
    await sleep(6_000)
    await sensor.stop()

    t.ok(beforeKill > 0, `events were acknowledged before the kill (${beforeKill})`)
    const refused = sensor.answers.get(503) ?? 0
    t.ok(refused > 0, `requests while the broker was away were answered 503 (${refused})`)
    const resumed = sensor.firstAckAfter(backAt)
    t.ok(resumed !== undefined && resumed < 15_000, `acknowledged again ${seconds(resumed)} after the broker was back`)
    t.ok(sensor.acknowledgedAfter(backAt) > 0, 'and the stream went on')

    const settled = await settle(settings, stack)
    assertNoRestart(t, settled, stack)
    assertStreamDelivered(t, sensor)
    assertExactlyOnce(t, settled.stored, sensor.sent, sensor.acknowledged)
    t.equal(settled.rejected.length, 0, 'nothing was rejected')
    record(t, {
      case: 'a. broker SIGKILLed under load, restarted',
      sent: sensor.sent.size,
      acknowledged: sensor.acknowledged.size,
      stored: settled.stored.rows,
      rejected: settled.rejected.length,
      answers: sensor.answers,
      note: `broker down ${seconds(backAt - killedAt)}; 2xx again ${seconds(resumed)} after it was back; longest pause in 2xx ${seconds(sensor.longestGapMs())}; worker caught up ${seconds(settled.catchUpMs)} after the load`,
    })
  },
)
