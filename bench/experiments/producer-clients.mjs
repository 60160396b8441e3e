// The produce path alone, kafkajs (with its DefaultPartitioner, or with services/kafka/murmur2.ts) against
// @platformatic/kafka, on a running broker: events/s and the producer's CPU per event.
//   npm install --prefix /tmp/plt @platformatic/kafka@1.35.0      (never into Qalqan's package.json)
//   node bench/experiments/producer-clients.mjs 127.0.0.1:9092 kafkajs|platformatic [events] [imul|grouped]
// `grouped`: kafkajs with one record per partition per send, its events' JSON texts one per line.
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
const root = fileURLToPath(new URL('../..', import.meta.url))
const plt = process.env.PLT_KAFKA_DIR ?? '/tmp/plt'
const [brokers, lib, countArg, partitionerArg] = process.argv.slice(2)
const count = Number(countArg ?? 150000), batch = 500, concurrency = 4
const { canonicalEvents } = await import(`${root}dist/bench/generator.js`)
const events = canonicalEvents(count + batch, 11)
const topic = `prodbench.${lib}.${Date.now()}`
const req = createRequire(`${root}package.json`)
const kafkajs = req('kafkajs')
const admin = new kafkajs.Kafka({ clientId: 'pb', brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING }).admin()
await admin.connect()
await admin.createTopics({ topics: [{ topic, numPartitions: 6, replicationFactor: 1 }], waitForLeaders: true })
let send, close
if (lib === 'kafkajs') {
  let createPartitioner = kafkajs.Partitioners.DefaultPartitioner
  if (partitionerArg === 'imul') createPartitioner = (await import(`${root}dist/services/kafka/murmur2.js`)).Murmur2Partitioner
  const producer = new kafkajs.Kafka({ clientId: 'pb', brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING }).producer({ createPartitioner, idempotent: false })
  await producer.connect()
  if (partitionerArg === 'grouped') {
    const { partitionOf } = await import(`${root}dist/services/kafka/murmur2.js`)
    send = (msgs) => {
      const lines = Array.from({ length: 6 }, () => [])
      for (const e of msgs) lines[partitionOf(e.event_id, 6)].push(JSON.stringify(e))
      const messages = lines.flatMap((group, partition) => group.length === 0 ? [] : [{ partition, value: group.join('\n') }])
      return producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 })
    }
  } else send = (msgs) => producer.sendBatch({ topicMessages: [{ topic, messages: msgs.map((e) => ({ key: e.event_id, value: JSON.stringify(e) })) }], acks: -1 })
  close = () => producer.disconnect()
} else {
  const { Producer, stringSerializers, ProduceAcks, compatibilityPartitioner } = await import(`${plt}/node_modules/@platformatic/kafka/dist/index.js`)
  const producer = new Producer({ clientId: 'pb', bootstrapBrokers: [brokers], serializers: stringSerializers, partitioner: compatibilityPartitioner, idempotent: false, acks: ProduceAcks.ALL })
  send = (msgs) => producer.send({ messages: msgs.map((e) => ({ topic, key: e.event_id, value: JSON.stringify(e) })), acks: ProduceAcks.ALL })
  close = () => producer.close()
}
await send(events.slice(count, count + batch)) // warm-up
let next = 0
const cpu0 = process.cpuUsage(); const t0 = performance.now()
await Promise.all(Array.from({ length: concurrency }, async () => { while (next < count) { const from = next; next += batch; await send(events.slice(from, from + batch)) } }))
const wall = performance.now() - t0; const cpu = process.cpuUsage(cpu0)
const offsets = await admin.fetchTopicOffsets(topic)
const total = offsets.reduce((s, p) => s + Number(p.high), 0)
console.log(`${lib}${partitionerArg ? '+' + partitionerArg : ''}: ${Math.round(count / wall * 1000)} events/s, ${((cpu.user + cpu.system) / count).toFixed(1)} µs CPU/event (JSON.stringify included), topic holds ${total}; per partition ${offsets.sort((a, b) => a.partition - b.partition).map(p => p.high).join(',')}`)
await close(); await admin.deleteTopics({ topics: [topic] }); await admin.disconnect()
