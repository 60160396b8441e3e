import type { Consumer, Kafka, KafkaMessage } from 'kafkajs'
import type { Logger } from 'pino'
import type { Config } from '../config.js'

/** One partition's fetched messages, with the offsets that bound them. */
export interface PartitionBatch {
  topic: string
  partition: number
  firstOffset: string
  lastOffset: string
  messages: KafkaMessage[]
}

/**
 * Consumes the events topic in the worker group with manual commits: `handle` must have made the
 * batch durable before it returns, and only then is the next offset committed. A crash in between
 * replays the batch, which the handler must make harmless.
 */
export class KafkaEventSource {
  private readonly consumer: Consumer
  private closed: Promise<void> | undefined

  constructor(
    kafka: Kafka,
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    this.consumer = kafka.consumer({ groupId: config.worker.groupId, allowAutoTopicCreation: false, retry: { retries: 10 } })
  }

  async start(handle: (batch: PartitionBatch, heartbeat: () => Promise<void>) => Promise<void>): Promise<void> {
    await this.consumer.connect()
    await this.consumer.subscribe({ topics: [this.config.kafka.topics.events], fromBeginning: true })
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 2,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return
        const lastOffset = batch.lastOffset()
        await handle(
          { topic: batch.topic, partition: batch.partition, firstOffset: batch.firstOffset() ?? lastOffset, lastOffset, messages: batch.messages },
          heartbeat,
        )
        await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(lastOffset) + 1n).toString() }])
        this.logger.debug({ topic: batch.topic, partition: batch.partition, lastOffset }, 'batch committed')
      },
    })
  }

  /** Idempotent: stops fetching, lets the batch in hand finish, and leaves the group. */
  close(): Promise<void> {
    this.closed ??= this.consumer.disconnect()
    return this.closed
  }
}
