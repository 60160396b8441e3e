import { randomUUID } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import type { Config } from '../config.js'
import { explainKafkaError } from './security.js'

/** One message of a topic as a one-off read sees it. */
export interface TopicMessage {
  readonly partition: number
  readonly offset: string
  readonly value: Buffer | null
}

/** What a read went through: the topic's partitions and the messages handed over. */
export interface TopicRead {
  readonly partitions: number
  readonly messages: number
}

/**
 * Reads a topic once, from its beginning to the end offsets it had when the read began, then
 * stops: messages written meanwhile are left for the next read. Each partition's messages come
 * in order; `handle` gets them a fetched batch at a time, and the next batch waits for it.
 */
export interface TopicReader {
  read(topic: string, handle: (messages: readonly TopicMessage[]) => Promise<void>): Promise<TopicRead>
}

/**
 * A TopicReader over a consumer group of its own (a new id per read, nothing committed), so it
 * never moves another reader's offsets and leaves nothing behind. A failure of `handle` ends the
 * read with that error.
 */
export class KafkaTopicReader implements TopicReader {
  constructor(
    private readonly kafka: Kafka,
    private readonly config: Config,
  ) {}

  async read(topic: string, handle: (messages: readonly TopicMessage[]) => Promise<void>): Promise<TopicRead> {
    const ends = await this.endOffsets(topic).catch((err: unknown) => {
      throw explainKafkaError(err, this.config.kafka)
    })
    const remaining = new Set([...ends].filter(([, end]) => end.low < end.high).map(([partition]) => partition))
    let messages = 0
    if (remaining.size === 0) return { partitions: ends.size, messages }
    const consumer = this.kafka.consumer({
      groupId: `${this.config.kafka.clientId}-read-${randomUUID()}`,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 500,
    })
    await consumer.connect()
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        let failed = false
        const fail = (err: unknown) => {
          failed = true
          reject(err instanceof Error ? err : new Error(String(err)))
        }
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          if (!payload.restart) fail(payload.error)
        })
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch, heartbeat }) => {
              const end = ends.get(batch.partition)?.high ?? 0n
              if (failed || !remaining.has(batch.partition)) return
              const taken: TopicMessage[] = []
              for (const message of batch.messages) {
                if (BigInt(message.offset) >= end) break
                taken.push({ partition: batch.partition, offset: message.offset, value: message.value })
              }
              try {
                if (taken.length > 0) await handle(taken)
                await heartbeat()
              } catch (err) {
                fail(err)
                return
              }
              messages += taken.length
              const last = batch.messages.at(-1)
              if (last !== undefined && BigInt(last.offset) + 1n >= end) remaining.delete(batch.partition)
              if (remaining.size === 0) resolve()
            },
          })
          .catch(fail)
      })
    } finally {
      await consumer.disconnect()
    }
    return { partitions: ends.size, messages }
  }

  /** Each partition's first and next offsets now; a topic that does not exist is named in the error. */
  private async endOffsets(topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
    const admin = this.kafka.admin()
    await admin.connect()
    try {
      const topics = await admin.listTopics()
      if (!topics.includes(topic)) throw new Error(`the topic ${topic} does not exist on the broker`)
      const offsets = await admin.fetchTopicOffsets(topic)
      return new Map(
        offsets.map(({ partition, low, high }) => [partition, { low: BigInt(low), high: BigInt(high) }] as const),
      )
    } finally {
      await admin.disconnect()
    }
  }
}
