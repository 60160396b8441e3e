import t from 'tap'
import { connectKafka } from '../../../services/kafka/index.js'
import type { TopicMessage } from '../../../services/kafka/index.js'
import { createLogger } from '../../../services/logger.js'
import { testKafka } from '../../helpers/kafka.js'
import { testConfig } from '../../helpers/stack.js'

const logger = createLogger('silent')

async function produce(topic: string, from: number, count: number): Promise<void> {
  const producer = testKafka().producer()
  await producer.connect()
  await producer.send({
    topic,
    messages: Array.from({ length: count }, (_, i) => ({ key: `k${(from + i) % 7}`, value: String(from + i) })),
  })
  await producer.disconnect()
}

t.test('reads every partition to the end it had at the start, then stops', async (t) => {
  const config = testConfig()
  const kafka = connectKafka(config, logger)
  await kafka.ensureTopics()
  const topic = config.kafka.topics.rejected
  await produce(topic, 0, 300)
  const seen: TopicMessage[] = []
  let first = true
  const read = await kafka.reader().read(topic, async (messages) => {
    // Written while the read goes on: left for the next read.
    if (first) await produce(topic, 300, 50)
    first = false
    seen.push(...messages)
  })
  t.same(read, { partitions: 3, messages: 300 })
  t.same(
    seen.map((message) => Number(message.value?.toString())).sort((a, b) => a - b),
    Array.from({ length: 300 }, (_, i) => i),
  )
  for (const partition of [0, 1, 2]) {
    const offsets = seen.filter((m) => m.partition === partition).map((m) => Number(m.offset))
    t.same(
      offsets,
      offsets.map((_, i) => i),
      `partition ${partition} in order`,
    )
  }
  const again = await kafka.reader().read(topic, async () => undefined)
  t.same(again, { partitions: 3, messages: 350 }, 'the next read sees what was written meanwhile')
})

t.test('an empty topic is read at once; a missing one is named', async (t) => {
  const config = testConfig()
  const kafka = connectKafka(config, logger)
  await kafka.ensureTopics()
  t.same(
    await kafka.reader().read(config.kafka.topics.rejected, async () => {
      t.fail('no message')
    }),
    {
      partitions: 3,
      messages: 0,
    },
  )
  await t.rejects(
    kafka.reader().read('test.no-such-topic', async () => undefined),
    {
      message: 'the topic test.no-such-topic does not exist on the broker',
    },
  )
})

t.test('a failing handler ends the read with its error', async (t) => {
  const config = testConfig()
  const kafka = connectKafka(config, logger)
  await kafka.ensureTopics()
  await produce(config.kafka.topics.rejected, 0, 30)
  let calls = 0
  await t.rejects(
    kafka.reader().read(config.kafka.topics.rejected, async () => {
      calls++
      throw new Error('the handler failed')
    }),
    { message: 'the handler failed' },
  )
  t.equal(calls, 1, 'no batch is handed over after the failure')
})
