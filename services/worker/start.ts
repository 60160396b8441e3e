import type { Logger } from 'pino'
import type { ClickHouse } from '../clickhouse/index.js'
import type { Config } from '../config.js'
import { createServer, listen, serveMetrics } from '../http/server.js'
import type { KafkaConnection } from '../kafka/index.js'
import type { Metrics } from '../metrics.js'
import { createStore } from './store.js'

export interface WorkerNeeds {
  readonly config: Config
  readonly logger: Logger
  readonly metrics: Metrics
  readonly isRunning: () => boolean
  readonly kafka: KafkaConnection
  readonly clickhouse: ClickHouse
}

/** kafka -> read -> check time -> drop copies -> store in ClickHouse; health and metrics on the worker's port. */
export async function startWorker(needs: WorkerNeeds): Promise<{ url: string; close(): Promise<void> }> {
  const { config, metrics, clickhouse, kafka } = needs
  const logger = needs.logger.child({ role: 'worker' })
  const retention = await clickhouse.applyRetention()
  if (retention.length > 0) logger.info({ tables: retention }, 'retention changed')
  const rejections = kafka.producer(metrics)
  await rejections.start()
  const consumer = kafka.consumer(logger, metrics)
  const ops = createServer(needs.logger, 'worker', { maxBodyBytes: 1024 })
  serveMetrics(ops, metrics)
  const close = async () => {
    await consumer.close()
    await rejections.close()
    await ops.close()
  }
  try {
    const store = createStore({
      logger,
      metrics,
      events: clickhouse.events,
      ledger: clickhouse.ledger,
      rejections,
      isRunning: needs.isRunning,
      timeLimits: config.worker.timeLimits,
      dedup: config.worker.dedup,
    })
    await consumer.start(store)
    const url = await listen(ops, config.worker)
    logger.info({ group: config.worker.groupId, topic: config.kafka.topics.events, url }, 'worker consuming')
    return { url, close }
  } catch (err) {
    await close()
    throw err
  }
}
