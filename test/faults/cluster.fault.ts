import t from 'tap'
import type { ConfigResourceTypes } from 'kafkajs'
import { setTimeout as sleep } from 'node:timers/promises'
import { startCollector } from '../helpers/collector.js'
import { testKafka } from '../helpers/kafka.js'
import { TOKENS } from '../helpers/stack.js'
import { Cluster, caseSettings, startStack } from './processes.js'
import { SteadySensor } from './sensor.js'
import { record } from './summary.js'
import {
  assertExactlyOnce,
  assertNoRestart,
  assertStreamDelivered,
  endOffsets,
  seconds,
  settle,
  storedWithin,
} from './verify.js'

const TOPIC = 2 as ConfigResourceTypes
const BROKER = 4 as ConfigResourceTypes

/** What deploy/kafka/kafka.sh cluster-start promises of each node. */
const NODE_SETTINGS = {
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'offsets.topic.replication.factor': '3',
  'transaction.state.log.replication.factor': '3',
  'transaction.state.log.min.isr': '2',
}

async function nodeSettings(brokers: string): Promise<Record<string, string>[]> {
  const admin = testKafka(brokers).admin()
  await admin.connect()
  try {
    const { resources } = await admin.describeConfigs({
      resources: ['1', '2', '3'].map((name) => ({ type: BROKER, name, configNames: Object.keys(NODE_SETTINGS) })),
      includeSynonyms: false,
    })
    return resources.map((resource) =>
      Object.fromEntries(resource.configEntries.map((entry) => [entry.configName, entry.configValue])),
    )
  } finally {
    await admin.disconnect()
  }
}

async function topicSettings(brokers: string, topics: string[]) {
  const admin = testKafka(brokers).admin()
  await admin.connect()
  try {
    const { resources } = await admin.describeConfigs({
      resources: topics.map((name) => ({ type: TOPIC, name, configNames: ['min.insync.replicas'] })),
      includeSynonyms: false,
    })
    const metadata = await admin.fetchTopicMetadata({ topics })
    return topics.map((name) => ({
      name,
      minInsync: resources.find((r) => r.resourceName === name)?.configEntries[0]?.configValue,
      replicas: [
        ...new Set(metadata.topics.find((m) => m.name === name)?.partitions.map((p) => p.replicas.length) ?? []),
      ],
    }))
  } finally {
    await admin.disconnect()
  }
}

/** Waits until every partition of the topics has all three replicas in sync; returns the leader of partition 0 of the first. */
async function waitInSync(brokers: string, topics: readonly string[], timeoutMs: number): Promise<number> {
  const admin = testKafka(brokers).admin()
  await admin.connect()
  try {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: [...topics] })
      if (found.every((topic) => topic.partitions.every((p) => p.isr.length === 3))) {
        return found[0]?.partitions.find((p) => p.partitionId === 0)?.leader ?? -1
      }
      if (Date.now() > deadline)
        throw new Error(`the replicas of ${topics.join(', ')} were not all in sync within ${timeoutMs} ms`)
      await sleep(250)
    }
  } finally {
    await admin.disconnect()
  }
}

t.test(
  'f. three brokers, one SIGKILLed under load and started again: nothing acknowledged lost or doubled',
  async (t) => {
    const cluster = new Cluster()
    const brokers = await cluster.start()
    t.teardown(() => cluster.stop())
    t.match(await cluster.status(), /3 of 3 nodes running/, 'three nodes')
    t.same(
      await nodeSettings(brokers),
      [NODE_SETTINGS, NODE_SETTINGS, NODE_SETTINGS],
      'each replicates as production does',
    )
    const settings = caseSettings('cluster', brokers, { QALQAN_KAFKA_TOPIC_REPLICATION: '3' })
    const stack = await startStack(settings)
    t.teardown(() => stack.stop())
    const topics = [settings.topics.events, settings.topics.rejected]
    t.same(
      await topicSettings(brokers, topics),
      topics.map((name) => ({ name, minInsync: '2', replicas: [3] })),
      'the topics Qalqan created have three replicas and min.insync.replicas=2',
    )

    // A topic that wants all three replicas in sync: with one broker gone, an acks=all write must be
    // refused; a producer with acks=1 would have it acknowledged by the leader alone.
    const strict = await startCollector(t, {
      QALQAN_KAFKA_BROKERS: brokers,
      QALQAN_KAFKA_TOPIC_REPLICATION: '3',
      QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS: '3',
      QALQAN_KAFKA_TIMEOUT_MS: '3000',
    })
    const strictEvents = strict.config.kafka.topics.events
    t.same(
      await topicSettings(brokers, [strictEvents]),
      [{ name: strictEvents, minInsync: '3', replicas: [3] }],
      'QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS=3 is set on the topic',
    )

    // The node to lose coordinates the worker's group (the leader of the one __consumer_offsets
    // partition) and leads a partition of the events topic. Node N is broker N.
    await waitInSync(brokers, topics, 30_000)
    const coordinator = await waitInSync(brokers, ['__consumer_offsets'], 30_000)
    const victim = coordinator >= 1 && coordinator <= 3 ? coordinator : 2
    const sensor = new SteadySensor(stack.url, TOKENS.astana, { batch: 100, pauseMs: 40, seed: 53 })
    sensor.start()
    t.teardown(() => sensor.abort())
    await sleep(4_000)
    const beforeKill = sensor.acknowledged.size
    const atKill = await endOffsets(settings)
    const killedAt = Date.now()
    await cluster.killNode(victim)
    t.match(
      await cluster.status(),
      new RegExp(`node ${victim} not running[^]*2 of 3 nodes running`),
      `node ${victim} is gone`,
    )
    // How long until the worker has stored everything the topic held when the node died.
    const storing = storedWithin(settings, 240_000, atKill).then(
      (ms) => ms,
      (err: Error) => err,
    )
    await sleep(12_000)

    // By now the dead broker has left every in-sync replica set.
    const strictWrite = await strict.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: `Bearer ${TOKENS.almaty}`, 'content-type': 'application/json' },
      payload: JSON.stringify({
        occurred_at: new Date().toISOString(),
        category: 'scan',
        severity: 1,
        signature: 'needs three replicas',
        src_ip: '192.0.2.9',
      }),
    })
    t.equal(
      strictWrite.statusCode,
      503,
      `a topic needing 3 in sync refuses the write with 2 left: acks=all (${strictWrite.body.slice(0, 160)})`,
    )
    const whileDown = sensor.acknowledgedAfter(killedAt)

    await cluster.startNode(victim)
    const backAt = Date.now()
    t.match(await cluster.status(), /3 of 3 nodes running/, `node ${victim} is back`)
    await sleep(4_000)
    await sensor.stop()
    const stoppedAt = Date.now()
    await waitInSync(brokers, topics, 60_000)
    const inSyncMs = Date.now() - stoppedAt
    const storedMs = await storing
    t.type(
      storedMs,
      'number',
      `the worker stored what the topic held at the kill ${storedMs instanceof Error ? storedMs.message : `${seconds(storedMs)} after it`}`,
    )

    t.ok(beforeKill > 0, `events were acknowledged before the kill (${beforeKill})`)
    t.ok(whileDown > 0, `and while node ${victim} was down (${whileDown})`)
    t.ok(sensor.acknowledgedAfter(backAt) > 0, 'and after it was back')
    const settled = await settle(settings, stack)
    assertNoRestart(t, settled, stack)
    assertStreamDelivered(t, sensor)
    assertExactlyOnce(t, settled.stored, sensor.sent, sensor.acknowledged)
    t.equal(settled.rejected.length, 0, 'nothing was rejected')
    record(t, {
      case: `f. 3-node cluster, node ${victim} (the group's coordinator) SIGKILLed under load, restarted`,
      sent: sensor.sent.size,
      acknowledged: sensor.acknowledged.size,
      stored: settled.stored.rows,
      rejected: settled.rejected.length,
      answers: sensor.answers,
      note: `node down ${seconds(backAt - killedAt)}; ${whileDown} events acknowledged meanwhile; longest pause in 2xx ${seconds(sensor.longestGapMs())}; the worker stored what was in the topic at the kill ${storedMs instanceof Error ? 'never' : seconds(storedMs)} after it; replicas all in sync ${seconds(inSyncMs)} after the load; topics RF 3, min.insync.replicas=2; a min-ISR-3 topic answered ${strictWrite.statusCode} with a node down (acks=all)`,
    })
  },
)
