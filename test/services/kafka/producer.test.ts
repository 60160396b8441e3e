import t from 'tap'
import { createHash, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ConfigResourceTypes } from 'kafkajs'
import { RejectedRecord, rawFields } from '../../../schemas/rejected.js'
import { FORMATS } from '../../../services/collector/decode/formats.js'
import { connectKafka } from '../../../services/kafka/index.js'
import { createLogger } from '../../../services/logger.js'
import { startCollector } from '../../helpers/collector.js'
import { readWholeTopic, readWholeTopicMessages, testKafka } from '../../helpers/kafka.js'
import { partitionOf } from '../../../services/kafka/murmur2.js'
import { TOKENS } from '../../helpers/stack.js'

const MiB = 1024 * 1024
const TOPIC = 2 as ConfigResourceTypes

function post(app: Awaited<ReturnType<typeof startCollector>>['app'], url: string, payload: string, type: string) {
  return app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': type },
    payload,
  })
}

async function topicConfig(topic: string, name: string): Promise<number> {
  const admin = testKafka().admin()
  await admin.connect()
  try {
    const { resources } = await admin.describeConfigs({
      resources: [{ type: TOPIC, name: topic, configNames: [name] }],
      includeSynonyms: false,
    })
    return Number(resources[0]?.configEntries[0]?.configValue)
  } finally {
    await admin.disconnect()
  }
}

t.test("the producer reads the topic's max.message.bytes from the broker", async (t) => {
  const { sink, config } = await startCollector(t)
  const limit = await topicConfig(config.kafka.topics.events, 'max.message.bytes')
  t.ok(limit > 0, `the broker's limit: ${limit} bytes`)
  t.equal(sink.maxMessageBytes(config.kafka.topics.events), limit)
  t.equal(sink.maxMessageBytes(config.kafka.topics.rejected), limit)
})

/** Test topics named after `base`'s, made with these events and rejected limits (undefined: the broker's). */
async function topicsWithLimits(events: string, rejected: string | undefined) {
  const { config: base } = await startCollector(t, {}, { createTopics: false })
  const admin = testKafka().admin()
  await admin.connect()
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic: base.kafka.topics.events,
        numPartitions: 2,
        configEntries: [{ name: 'max.message.bytes', value: events }],
      },
      {
        topic: base.kafka.topics.rejected,
        numPartitions: 2,
        configEntries: rejected === undefined ? [] : [{ name: 'max.message.bytes', value: rejected }],
      },
    ],
  })
  await admin.disconnect()
  return base
}

t.test(
  "one send's events go one message per partition, a line each, where their ids put them; rejections one per message",
  async (t) => {
    const { app, config } = await startCollector(t, { QALQAN_COLLECTOR_SENSOR_BURST: '100000' })
    const events = Array.from({ length: 60 }, (_, i) => ({
      event_id: randomUUID(),
      occurred_at: '2025-03-01T08:15:30+05:00',
      category: 'scan',
      severity: 2,
      signature: `grouped ${i}`,
      src_ip: '203.0.113.9',
    }))
    const body = [...events, { category: 'scan' }, { severity: 9 }]
    const res = await post(app, '/v1/events', JSON.stringify(body), 'application/json')
    t.equal(res.statusCode, 202, res.body)
    const messages = await readWholeTopicMessages(config.kafka.topics.events)
    const admin = testKafka().admin()
    await admin.connect()
    const metadata = await admin.fetchTopicMetadata({ topics: [config.kafka.topics.events] })
    await admin.disconnect()
    const count = metadata.topics[0]?.partitions.length ?? 0
    t.ok(count > 1, `${count} partitions`)
    t.ok(messages.length <= count, `${messages.length} messages for 60 events`)
    t.equal(new Set(messages.map((m) => m.partition)).size, messages.length, 'one message per partition')
    for (const { partition, key, value } of messages) {
      const ids = value.split('\n').map((line) => JSON.parse(line).event_id as string)
      t.ok(
        ids.every((id) => partitionOf(id, count) === partition),
        `partition ${partition}: ${ids.length} events, each where its id puts it`,
      )
      t.equal(key, null)
    }
    const stored = messages.flatMap((m) => m.value.split('\n').map((line) => JSON.parse(line).signature))
    t.same(stored.sort(), events.map((e) => e.signature).sort(), 'every event once')
    const rejected = await readWholeTopicMessages(config.kafka.topics.rejected)
    t.same(
      rejected.map((m) => RejectedRecord.parse(JSON.parse(m.value)).index).sort(),
      [60, 61],
      'each rejection a message of its own',
    )
  },
)

t.test('a topic with a smaller max.message.bytes: sends are split to fit it', async (t) => {
  const base = await topicsWithLimits('20000', '20000')
  // A collector started after the topics exist, on the same topics.
  const { app, sink } = await startCollector(
    t,
    {
      QALQAN_KAFKA_TOPIC_EVENTS: base.kafka.topics.events,
      QALQAN_KAFKA_TOPIC_REJECTED: base.kafka.topics.rejected,
      QALQAN_COLLECTOR_MAX_EVENTS: '2000',
      QALQAN_COLLECTOR_SENSOR_BURST: '100000',
    },
    { createTopics: false },
  )
  t.equal(sink.maxMessageBytes(base.kafka.topics.events), 20_000)
  const events = Array.from({ length: 1000 }, () => ({
    event_id: randomUUID(),
    occurred_at: '2025-03-01T08:15:30+05:00',
    category: 'scan',
    severity: 2,
    signature: 's'.repeat(500),
    src_ip: '203.0.113.9',
  }))
  const res = await post(app, '/v1/events', JSON.stringify(events), 'application/json')
  t.equal(res.statusCode, 202, res.body)
  const stored = (await readWholeTopic(base.kafka.topics.events)).map((v) => JSON.parse(v).event_id)
  t.same(new Set(stored), new Set(events.map((e) => e.event_id)), 'about 700 kB in 20 kB batches, all there')
})

t.test('an event larger than the topic takes is refused with its reason; the others go through', async (t) => {
  const base = await topicsWithLimits('1200', undefined)
  const { app } = await startCollector(
    t,
    { QALQAN_KAFKA_TOPIC_EVENTS: base.kafka.topics.events, QALQAN_KAFKA_TOPIC_REJECTED: base.kafka.topics.rejected },
    { createTopics: false },
  )
  const small = {
    occurred_at: '2025-03-01T08:15:30+05:00',
    category: 'scan',
    severity: 2,
    signature: 's',
    src_ip: '203.0.113.9',
  }
  const large = { ...small, signature: 'é'.repeat(500) }
  const res = await post(app, '/v1/events', JSON.stringify([small, large]), 'application/json')
  t.equal(res.statusCode, 202, res.body)
  t.match(res.json(), {
    accepted: 1,
    rejected: [
      { index: 1, reason: /more than the 944 one message may take \(the topic's max.message.bytes is 1200\)/ },
    ],
  })
  t.equal((await readWholeTopic(base.kafka.topics.events)).length, 1)
  const [rejection] = (await readWholeTopic(base.kafka.topics.rejected)).map((v) => RejectedRecord.parse(JSON.parse(v)))
  t.match(rejection, { index: 1, stage: 'normalize', reason: /max.message.bytes is 1200/ })
})

t.test('2,500 invalid Suricata lines of one sensor: 400, and all 2,500 in the rejected topic', async (t) => {
  const { app, config, sink } = await startCollector(t)
  const lines = Array.from(
    { length: 2500 },
    (_, i) => `{"timestamp":"not a time ${i}","event_type":"alert","alert":{"signature":"${'x'.repeat(420)}"}}`,
  )
  t.ok(
    lines.every(
      (line) => FORMATS.suricata(line, { maxDepth: 32, receivedAt: new Date(), timeZone: 'UTC' }).kind === 'invalid',
    ),
    'each line is invalid',
  )
  const res = await post(app, '/v1/events/suricata', lines.join('\n'), 'text/plain')
  t.equal(res.statusCode, 400, res.body)
  const rejected = (await readWholeTopic(config.kafka.topics.rejected)).map((v) => RejectedRecord.parse(JSON.parse(v)))
  t.equal(rejected.length, 2500)
  t.same(new Set(rejected.map((r) => r.index)).size, 2500, 'each line once')
  const bytes = rejected.reduce((sum, r) => sum + Buffer.byteLength(JSON.stringify(r)), 0)
  t.ok(bytes > (sink.maxMessageBytes(config.kafka.topics.rejected) ?? 0), `${bytes} bytes of rejections, one partition`)
})

t.test('10,000 canonical events with 500-character signatures: 202, every event in the topic', async (t) => {
  const { app, config } = await startCollector(t, { QALQAN_COLLECTOR_MAX_BODY_BYTES: String(16 * MiB) })
  const events = Array.from({ length: 10_000 }, (_, i) => ({
    event_id: randomUUID(),
    occurred_at: '2025-03-01T08:15:30+05:00',
    category: 'exploit',
    severity: 3,
    signature: `${i} ${'ET EXPLOIT long signature '.repeat(20)}`.slice(0, 500),
    src_ip: '203.0.113.55',
    dst_ip: '198.51.100.20',
    dst_port: 443,
    protocol: 'TCP',
  }))
  const res = await post(app, '/v1/events', JSON.stringify(events), 'application/json')
  t.equal(res.statusCode, 202, res.body.slice(0, 300))
  t.same(res.json(), { accepted: 10_000, skipped: 0, rejected: [] })
  const stored = await readWholeTopic(config.kafka.topics.events)
  const bytes = stored.reduce((sum, v) => sum + Buffer.byteLength(v), 0)
  t.equal(new Set(stored.map((v) => JSON.parse(v).event_id)).size, 10_000, `all there (${bytes} bytes)`)
})

t.test('a rejection whose raw text is 3 MB: recorded with a cut raw, its length and hash', async (t) => {
  const { sink, config } = await startCollector(t)
  const raw = `${'🦀'.repeat(400_000)}${'"\\\n'.repeat(466_667)}`
  const bytes = Buffer.byteLength(raw)
  t.ok(bytes > 3_000_000, `${bytes} bytes`)
  const sha256 = createHash('sha256').update(raw).digest('hex')
  const record = (fields: Pick<RejectedRecord, 'raw' | 'raw_bytes' | 'raw_sha256'>): RejectedRecord => ({
    reason: 'too strange',
    stage: 'decode',
    format: 'suricata',
    sensor_id: 'test-ids-astana',
    index: 0,
    received_at: new Date().toISOString(),
    ...fields,
  })
  // As ingest and store make it (a 64 KiB excerpt), and as a caller that did not cut it at all.
  await sink.send([], [record(rawFields(raw)), record({ raw, raw_bytes: bytes, raw_sha256: sha256 })])
  const rejected = (await readWholeTopic(config.kafka.topics.rejected)).map((v) => RejectedRecord.parse(JSON.parse(v)))
  t.equal(rejected.length, 2)
  const [excerpt, cut] = [...rejected].sort((a, b) => a.raw.length - b.raw.length)
  t.equal(Buffer.byteLength(excerpt?.raw ?? ''), 64 * 1024, 'a 64 KiB excerpt (whole crabs: 4 bytes each)')
  t.ok(
    (cut?.raw.length ?? 0) > 64 * 1024 && Buffer.byteLength(cut?.raw ?? '') < 1024 * 1024,
    'cut by the producer to fit',
  )
  for (const r of rejected) {
    t.ok(raw.startsWith(r.raw), 'a prefix of the original, no pair split')
    t.equal(r.raw_bytes, bytes)
    t.equal(r.raw_sha256, sha256)
  }
})

t.test('readiness: back to ready without a send once the broker takes writes again', async (t) => {
  const { app, config } = await startCollector(t, { QALQAN_KAFKA_TIMEOUT_MS: '1000' }, { createTopics: false })
  const res = await post(
    app,
    '/v1/events',
    JSON.stringify({
      occurred_at: new Date().toISOString(),
      category: 'scan',
      severity: 2,
      signature: 's',
      src_ip: '203.0.113.9',
    }),
    'application/json',
  )
  t.equal(res.statusCode, 503, 'the topic is missing')
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503, 'not ready after the failed send')
  await connectKafka(config, createLogger('silent')).ensureTopics()
  const started = Date.now()
  let status = 503
  while (status !== 200 && Date.now() - started < 15_000) {
    await sleep(250)
    status = (await app.inject({ method: 'GET', url: '/readyz' })).statusCode
  }
  t.equal(status, 200, `ready again after ${Date.now() - started} ms, with no send`)
})

t.test('a refused record (MESSAGE_TOO_LARGE) fails its write but never makes the collector unready', async (t) => {
  const { sink, app, config } = await startCollector(t)
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  // The limit shrinks behind the producer's back: its next large send is refused by the broker.
  const admin = testKafka().admin()
  await admin.connect()
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: TOPIC,
        name: config.kafka.topics.rejected,
        configEntries: [{ name: 'max.message.bytes', value: '2000' }],
      },
    ],
  })
  await admin.disconnect()
  const record: RejectedRecord = {
    reason: 'r',
    stage: 'decode',
    format: 'cef',
    sensor_id: 'test-ids-astana',
    index: 0,
    received_at: new Date().toISOString(),
    ...rawFields('z'.repeat(10_000)),
  }
  await t.rejects(sink.send([], [record]), { code: 'QLQ_ERR_KAFKA_UNAVAILABLE' })
  t.equal(sink.problem(), undefined, 'a content error is no broker problem')
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
})
