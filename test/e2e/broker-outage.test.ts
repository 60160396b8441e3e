import t from 'tap'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { OwnBroker } from '../helpers/broker.js'
import { startCollector } from '../helpers/collector.js'
import { readWholeTopic } from '../helpers/kafka.js'
import { TOKENS } from '../helpers/stack.js'

t.test('the broker stops in the middle of a load: every event answered 202 is in the topic afterwards', async (t) => {
  const broker = new OwnBroker()
  const brokers = await broker.start()
  t.teardown(() => broker.stop())
  const { app, config } = await startCollector(t, { QALQAN_KAFKA_BROKERS: brokers, QALQAN_KAFKA_TIMEOUT_MS: '2000' })

  const acknowledged: string[] = []
  const statuses = new Map<number, number>()
  let sending = true
  const sender = async () => {
    while (sending) {
      const events = Array.from({ length: 20 }, () => ({
        event_id: randomUUID(),
        occurred_at: new Date().toISOString(),
        category: 'scan',
        severity: 2,
        signature: 'outage test',
        src_ip: '203.0.113.9',
      }))
      const res = await app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'application/json' },
        payload: JSON.stringify(events),
      })
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      if (res.statusCode === 202) acknowledged.push(...events.map((e) => e.event_id))
      else if (res.statusCode !== 503) t.fail(`unexpected answer ${res.statusCode}: ${res.body}`)
      if (res.statusCode === 503) await sleep(100)
    }
  }
  const senders = Promise.all(Array.from({ length: 8 }, sender))
  await sleep(1500)
  const beforeStop = acknowledged.length
  broker.stop()
  await sleep(3000)
  sending = false
  await senders

  t.ok(beforeStop > 0, `events were acknowledged before the stop (${beforeStop})`)
  t.ok((statuses.get(503) ?? 0) > 0, 'requests during the outage got 503')
  await broker.start()
  // The whole topic: requests answered 503 may have stored some events too, so a count is no end.
  const stored = new Set((await readWholeTopic(config.kafka.topics.events, brokers)).map((v) => JSON.parse(v).event_id))
  const missing = acknowledged.filter((id) => !stored.has(id))
  t.same(missing, [], `all ${acknowledged.length} acknowledged events are in the topic`)
})
