import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import type { Config } from '../../services/config.js'
import { createLogger } from '../../services/logger.js'
import { Metrics } from '../../services/metrics.js'
import { connectKafka, type KafkaProducer } from '../../services/kafka/index.js'
import { buildCollector } from '../../services/collector/app.js'
import { TokenRegistry } from '../../services/http/tokens.js'
import { testConfig } from './stack.js'

export interface TestCollector {
  app: FastifyInstance
  config: Config
  sink: KafkaProducer
  metrics: Metrics
  /** What the collector's readiness says, as the ops port shows it. */
  readiness: () => string[]
}

/** A collector on the test broker with topics of its own; closed when the test ends. */
export async function startCollector(
  t: Test,
  settings: Record<string, string> = {},
  options: { createTopics?: boolean } = {},
): Promise<TestCollector> {
  const config = testConfig(settings)
  const logger = createLogger('silent')
  const kafka = connectKafka(config, logger)
  if (options.createTopics !== false) await kafka.ensureTopics()
  const metrics = new Metrics()
  const sink = kafka.producer(metrics)
  await sink.start()
  const tokens = TokenRegistry.fromFile(config.tokensFile ?? '')
  const readiness = () => [sink.problem()].filter((problem): problem is string => problem !== undefined)
  const app = buildCollector(config, {
    logger,
    tokens: () => tokens,
    kafka: sink,
    metrics,
    enrich: (event) => event,
    readiness,
  })
  t.teardown(async () => {
    await app.close()
    await sink.close()
  })
  return { app, config, sink, metrics, readiness }
}
