import t from 'tap'
import type { ConfigResourceTypes } from 'kafkajs'
import { loadConfig } from '../../../services/config.js'
import { connectKafka, topicConfigEntries } from '../../../services/kafka/client.js'
import { createLogger } from '../../../services/logger.js'
import { testKafka } from '../../helpers/kafka.js'
import { testConfig } from '../../helpers/stack.js'

const TOPIC = 2 as ConfigResourceTypes
// DescribeConfigs' source of a value set on the topic itself (not the broker's, not Kafka's default).
const TOPIC_CONFIG = 1

function kafkaSettings(settings: Record<string, string>) {
  return loadConfig({ QALQAN_ROLE: 'worker', ...settings }).kafka
}

t.test(
  'topics of three replicas or more need one fewer of them in sync; fewer replicas keep the broker default',
  async (t) => {
    const entries = (replication: number) =>
      topicConfigEntries(kafkaSettings({ QALQAN_KAFKA_TOPIC_REPLICATION: String(replication) }))
    t.same(entries(1), [], 'one replica: the broker default')
    t.same(entries(2), [], 'two replicas: the broker default')
    t.same(entries(3), [{ name: 'min.insync.replicas', value: '2' }])
    t.same(entries(5), [{ name: 'min.insync.replicas', value: '4' }])
  },
)

t.test('QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS sets it whatever the replicas', async (t) => {
  const entries = (replication: number, minInsync: number) =>
    topicConfigEntries(
      kafkaSettings({
        QALQAN_KAFKA_TOPIC_REPLICATION: String(replication),
        QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS: String(minInsync),
      }),
    )
  t.same(entries(3, 3), [{ name: 'min.insync.replicas', value: '3' }])
  t.same(entries(3, 1), [{ name: 'min.insync.replicas', value: '1' }])
  t.same(entries(1, 1), [{ name: 'min.insync.replicas', value: '1' }])
})

t.test('more replicas in sync than the topic has is refused at start, with both settings named', async (t) => {
  t.throws(() => kafkaSettings({ QALQAN_KAFKA_TOPIC_REPLICATION: '1', QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS: '2' }), {
    message:
      /QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS=2 is above QALQAN_KAFKA_TOPIC_REPLICATION=1: Kafka could never acknowledge a write \(acks=all\)/,
  })
  t.throws(() => kafkaSettings({ QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS: '0' }), /must be at least 1/)
})

t.test('the topics ensureTopics creates carry the setting on the broker', async (t) => {
  const config = testConfig({ QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS: '1' })
  const created = await connectKafka(config, createLogger('silent')).ensureTopics()
  t.same(created.sort(), [config.kafka.topics.events, config.kafka.topics.rejected].sort())
  const admin = testKafka().admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  const { resources } = await admin.describeConfigs({
    resources: created.map((name) => ({ type: TOPIC, name, configNames: ['min.insync.replicas'] })),
    includeSynonyms: false,
  })
  for (const resource of resources) {
    t.match(
      resource.configEntries,
      [{ configName: 'min.insync.replicas', configValue: '1', configSource: TOPIC_CONFIG }],
      `${resource.resourceName}: set on the topic, not inherited`,
    )
  }
})
