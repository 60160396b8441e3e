import t from 'tap'
import { createClickHouse } from '../../services/clickhouse/client.js'
import { connectKafka } from '../../services/kafka/index.js'
import { createLogger } from '../../services/logger.js'
import { startRoles } from '../../services/roles.js'
import { RejectedRecord } from '../../schemas/rejected.js'
import { rawEventCount } from '../helpers/clickhouse.js'
import { makeEvents, produceEvents } from '../helpers/events.js'
import { readWholeTopic, waitForGroupCaughtUp } from '../helpers/kafka.js'
import { testConfig } from '../helpers/stack.js'

const logger = createLogger('warn')
const reader = await createClickHouse(testConfig())
t.teardown(() => reader.close())

t.test('3,000 absurd-time events of one sensor all go to the rejected topic, and the worker goes on', async (t) => {
  const config = testConfig({ QALQAN_ROLE: 'worker', QALQAN_WORKER_MAX_FUTURE_SECONDS: '600' })
  await connectKafka(config, logger).ensureTopics()
  // A day in the future, one sensor (one key of the rejected topic: one partition), ~1 kB each.
  const absurd = makeEvents(3000, 31, Date.parse('2025-07-01T00:00:00Z')).map((event) => ({
    ...event,
    sensor_id: 'test-ids-astana',
    signature: `absurd ${'x'.repeat(500)}`,
    occurred_at: new Date(Date.parse(event.received_at) + 86_400_000).toISOString(),
  }))
  const after = makeEvents(500, 37, Date.parse('2025-07-01T00:00:00Z'))
  await produceEvents(config.kafka.topics.events, absurd)
  await produceEvents(config.kafka.topics.events, after)
  const running = await startRoles(config, logger)
  t.teardown(() => running.close())
  await waitForGroupCaughtUp(config.worker.groupId, config.kafka.topics.events)

  const rejected = (await readWholeTopic(config.kafka.topics.rejected)).map((v) => RejectedRecord.parse(JSON.parse(v)))
  const bytes = rejected.reduce((sum, r) => sum + Buffer.byteLength(JSON.stringify(r)), 0)
  t.equal(rejected.length, 3000, `all rejected (${bytes} bytes of rejections for one sensor)`)
  t.ok(
    rejected.every((r) => r.stage === 'store' && r.sensor_id === 'test-ids-astana' && /MAX_FUTURE/.test(r.reason)),
    'each with its reason',
  )
  t.equal(await rawEventCount(reader, config.kafka.topics.events), after.length, 'the events after them are stored')
})
