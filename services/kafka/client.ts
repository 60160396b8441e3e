import { Kafka, logLevel as kafkaLogLevel, type Admin, type ITopicConfig, type LogEntry } from 'kafkajs'
import type { Logger } from 'pino'
import type { Config } from '../config.js'

/** One kafkajs client for the process, logging through pino. */
export function createKafka(config: Config, logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs' })
  return new Kafka({
    clientId: config.kafka.clientId,
    brokers: [...config.kafka.brokers],
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
export async function ensureTopics(admin: Admin, config: Config, names: readonly string[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics())
  const missing: ITopicConfig[] = names
    .filter((name) => !existing.has(name))
    .map((topic) => ({ topic, numPartitions: config.kafka.partitions, replicationFactor: config.kafka.replicationFactor }))
  if (missing.length > 0) {
    await admin.createTopics({ topics: missing, waitForLeaders: true, timeout: config.kafka.timeoutMs })
  }
  return missing.map((topic) => topic.topic)
}
