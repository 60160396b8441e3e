import { Kafka, logLevel } from 'kafkajs'
import { randomBytes } from 'node:crypto'
import { kafkaBrokers } from './stack.js'

export function testKafka(brokers = kafkaBrokers()): Kafka {
  return new Kafka({ clientId: 'qalqan-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING })
}

/** Reads a topic from the beginning until `count` messages arrived or `timeoutMs` passed; returns their values. */
export async function readTopic(topic: string, count: number, timeoutMs = 30_000, brokers = kafkaBrokers()): Promise<string[]> {
  const consumer = testKafka(brokers).consumer({ groupId: `reader-${randomBytes(4).toString('hex')}` })
  const values: string[] = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      void consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value?.toString('utf8') ?? '')
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
