import { type Admin, type ITopicConfig, Kafka, logLevel as kafkaLogLevel, type LogEntry } from 'kafkajs'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { Metrics } from '../metrics.js'
import { KafkaConsumer } from './consumer.js'
import { KafkaProducer } from './producer.js'
import { explainKafkaError, kafkaSecurity } from './security.js'
import { KafkaTopicReader, type TopicReader } from './topic-reader.js'

/** One Kafka client for the process: its producers and consumers share the broker connections' settings. */
export interface KafkaConnection {
  /** Creates the events and rejected topics where missing; returns the names it created. */
  ensureTopics(): Promise<string[]>
  producer(metrics?: Metrics): KafkaProducer
  consumer(logger: Logger, metrics: Metrics): KafkaConsumer
  /** A one-off reader of a topic to its current end (for tools, not the roles). */
  reader(): TopicReader
}

export function connectKafka(config: Config, logger: Logger): KafkaConnection {
  const kafka = createKafka(config, logger)
  return {
    ensureTopics: async () => {
      const admin = kafka.admin()
      try {
        await admin.connect()
        return await ensureTopics(admin, config, [config.kafka.topics.events, config.kafka.topics.rejected])
      } catch (err) {
        throw explainKafkaError(err, config.kafka)
      } finally {
        await admin.disconnect()
      }
    },
    producer: (metrics) => new KafkaProducer(kafka, config, metrics),
    consumer: (consumerLogger, metrics) => new KafkaConsumer(kafka, config, consumerLogger, metrics),
    reader: () => new KafkaTopicReader(kafka, config),
  }
}

/** A kafkajs client logging through pino, with TLS and SASL as configured. */
function createKafka(config: Config, logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs' })
  return new Kafka({
    clientId: config.kafka.clientId,
    brokers: [...config.kafka.brokers],
    ...kafkaSecurity(config.kafka),
    connectionTimeout: Math.min(config.kafka.timeoutMs, 10_000),
    requestTimeout: config.kafka.timeoutMs,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5_000 },
    logLevel: kafkaLogLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log
      const fields = { namespace: entry.namespace, broker: extra['broker'], error: extra['error'] }
      if (entry.level <= kafkaLogLevel.ERROR) log.error(fields, message)
      else log.warn(fields, message)
    },
  })
}

/** Creates the topics that are missing, with the configured partitions and replication; never alters existing ones. */
async function ensureTopics(admin: Admin, config: Config, names: readonly string[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics())
  const configEntries = topicConfigEntries(config.kafka)
  const missing: ITopicConfig[] = names
    .filter((name) => !existing.has(name))
    .map((topic) => ({
      topic,
      numPartitions: config.kafka.partitions,
      replicationFactor: config.kafka.replicationFactor,
      configEntries,
    }))
  if (missing.length > 0) {
    await admin.createTopics({ topics: missing, waitForLeaders: true, timeout: config.kafka.timeoutMs })
  }
  return missing.map((topic) => topic.topic)
}

/**
 * The settings of a topic Qalqan creates. With three replicas or more, a write acknowledged with
 * acks=all must be on at least two of them (one fewer than the replicas unless configured), so a
 * broker lost just after the acknowledgement loses nothing. Otherwise the topic takes the broker's
 * min.insync.replicas (Kafka's default: 1).
 */
export function topicConfigEntries(kafka: Config['kafka']): { name: string; value: string }[] {
  const minInsync = kafka.minInsyncReplicas ?? (kafka.replicationFactor >= 3 ? kafka.replicationFactor - 1 : undefined)
  return minInsync === undefined ? [] : [{ name: 'min.insync.replicas', value: String(minInsync) }]
}
