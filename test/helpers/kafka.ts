import { Kafka, logLevel } from 'kafkajs'
import { randomBytes } from 'node:crypto'
import { kafkaBrokers } from './stack.js'

export function testKafka(brokers = kafkaBrokers()): Kafka {
  return new Kafka({ clientId: 'qalqan-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING })
}

/** Reads a topic from the beginning until `count` values (a message's lines) arrived or `timeoutMs` passed; returns them. */
export async function readTopic(
  topic: string,
  count: number,
  timeoutMs = 30_000,
  brokers = kafkaBrokers(),
): Promise<string[]> {
  const consumer = testKafka(brokers).consumer({ groupId: `reader-${randomBytes(4).toString('hex')}` })
  const values: string[] = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      void consumer.run({
        eachMessage: async ({ message }) => {
          // A message of the events topic holds one or more events, a line each.
          values.push(...(message.value?.toString('utf8') ?? '').split('\n'))
          if (values.length >= count) {
            clearTimeout(timer)
            resolve()
          }
        },
      })
    })
  } finally {
    await consumer.disconnect()
  }
  return values
}

/** Waits until the group has committed every partition of the topic up to its end. */
export async function waitForGroupCaughtUp(
  groupId: string,
  topic: string,
  timeoutMs = 120_000,
  brokers = kafkaBrokers(),
): Promise<void> {
  const admin = testKafka(brokers).admin()
  await admin.connect()
  try {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const ends = await admin.fetchTopicOffsets(topic)
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
      // A partition that never had a message has nothing to catch up on (and no committed offset).
      const behind = ends.filter(({ partition, high }) => {
        if (BigInt(high) === 0n) return false
        const offset = committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1'
        return BigInt(offset) < BigInt(high)
      })
      if (behind.length === 0) return
      if (Date.now() > deadline) throw new Error(`group ${groupId} did not catch up on ${topic} within ${timeoutMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  } finally {
    await admin.disconnect()
  }
}

/** Every value in a topic (a message's lines), read from the beginning to the end offsets it has when the call starts. */
export async function readWholeTopic(topic: string, brokers = kafkaBrokers(), timeoutMs = 120_000): Promise<string[]> {
  // A message of the events topic holds one or more events, a line each.
  return (await readWholeTopicMessages(topic, brokers, timeoutMs)).flatMap(({ value }) => value.split('\n'))
}

/** Every message in a topic with its partition, read from the beginning to the end offsets it has when the call starts. */
export async function readWholeTopicMessages(
  topic: string,
  brokers = kafkaBrokers(),
  timeoutMs = 120_000,
): Promise<{ partition: number; key: string | null; value: string }[]> {
  const kafka = testKafka(brokers)
  const admin = kafka.admin()
  await admin.connect()
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, BigInt(high)]))
  await admin.disconnect()
  const remaining = new Set([...ends].filter(([, high]) => high > 0n).map(([partition]) => partition))
  const values: { partition: number; key: string | null; value: string }[] = []
  if (remaining.size === 0) return values
  const consumer = kafka.consumer({ groupId: `reader-${randomBytes(4).toString('hex')}` })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${topic} was not read to its end within ${timeoutMs} ms`)),
        timeoutMs,
      )
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (BigInt(message.offset) >= (ends.get(partition) ?? 0n)) return
          values.push({
            partition,
            key: message.key?.toString('utf8') ?? null,
            value: message.value?.toString('utf8') ?? '',
          })
          if (BigInt(message.offset) + 1n >= (ends.get(partition) ?? 0n)) remaining.delete(partition)
          if (remaining.size === 0) {
            clearTimeout(timer)
            resolve()
          }
        },
      })
    })
  } finally {
    await consumer.disconnect()
  }
  return values
}
