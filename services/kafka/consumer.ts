import type { Consumer, Kafka } from 'kafkajs'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { Metrics } from '../metrics.js'
import type { BatchHandler } from './interfaces.js'
import { explainKafkaError } from './security.js'

/**
 * Consumes the events topic in the worker group with manual commits: `handle` must have made the
 * batch durable before it returns, and only then is the next offset committed. A crash in between
 * replays the batch, which the handler must make harmless.
 */
export class KafkaConsumer {
  private readonly consumer: Consumer
  private closed: Promise<void> | undefined

  constructor(
    kafka: Kafka,
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.consumer = kafka.consumer({
      groupId: config.worker.groupId,
      allowAutoTopicCreation: false,
      // A failing batch or commit is retried for about 8 s, then the consumer restarts: kafkajs keeps
      // committing to a group coordinator that died and came back as a mere member ("not the correct
      // coordinator") until its retries run out, and only a restart asks the cluster again.
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 3_000 },
      // How soon a worker that died without leaving is replaced by the group.
      sessionTimeout: config.worker.sessionTimeoutMs,
      heartbeatInterval: Math.floor(config.worker.sessionTimeoutMs / 6),
      // Large fetches make large inserts: ClickHouse wants thousands of rows at a time.
      maxBytesPerPartition: config.worker.fetchBytes,
      maxBytes: config.worker.fetchBytes * 4,
      maxWaitTimeInMs: 1_000,
    })
  }

  /** `handle` returns the last offset it made durable: the batch may be cut short of its end. */
  async start(handle: BatchHandler): Promise<void> {
    await this.consumer.connect().catch((err: unknown) => {
      throw explainKafkaError(err, this.config.kafka)
    })
    await this.consumer.subscribe({ topics: [this.config.kafka.topics.events], fromBeginning: true })
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 2,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        const { topic, partition, messages } = batch
        const first = messages[0]
        const last = messages.at(-1)
        if (!isRunning() || isStale() || first === undefined || last === undefined) return
        const handled = await handle(
          { topic, partition, firstOffset: first.offset, lastOffset: last.offset, messages },
          heartbeat,
        )
        resolveOffset(handled)
        await this.consumer.commitOffsets([{ topic, partition, offset: (BigInt(handled) + 1n).toString() }])
        const lag = BigInt(batch.highWatermark) - BigInt(handled) - 1n
        this.metrics.workerLag(topic, partition, Number(lag))
        this.logger.debug({ topic, partition, lastOffset: handled }, 'batch committed')
      },
    })
  }

  /** Idempotent: stops fetching, lets the batch in hand finish, and leaves the group. */
  close(): Promise<void> {
    this.closed ??= this.consumer.disconnect()
    return this.closed
  }
}
