import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { createClickHouse, migrate, type ClickHouseClient } from './clickhouse/client.js'
import { createKafka, ensureTopics } from './kafka/client.js'
import type { Config } from './config.js'
import { buildQueryApi } from './query/api.js'
import { ClickHouseSink } from './clickhouse/ledger.js'
import { AssetRegistry } from './collector/enrich/assets.js'
import { countryDatabase, countryOf } from './collector/enrich/geoip.js'
import { createServer } from './http/server.js'
import { Metrics } from './metrics.js'
import { Reloadable } from './reloadable.js'
import { applyRetention } from './clickhouse/retention.js'
import { KafkaSink } from './kafka/producer.js'
import { buildCollector } from './collector/app.js'
import { KafkaEventSource } from './kafka/consumer.js'
import { TokenRegistry } from './http/tokens.js'
import { enrich } from './collector/enrich/enrich.js'
import { createBatchHandler } from './worker/store.js'

export interface Running {
  /** Base URLs of the HTTP roles that run in this process. */
  readonly collectorUrl?: string
  readonly queryUrl?: string
  /** The worker's /healthz and /metrics. */
  readonly workerUrl?: string
  /** Reads the registries again (SIGHUP); a broken file keeps the previous registry. */
  reload(): void
  /** Idempotent: finishes in-flight work, then releases every connection. */
  close(): Promise<void>
}

/**
 * Starts the roles that the configuration names, wired as the pipeline runs:
 *   collector: http -> decode -> validate -> normalize -> enrich -> kafka
 *   worker:    kafka -> aggregate -> clickhouse
 *   query:     http -> clickhouse
 */
export async function startRoles(config: Config, logger: Logger): Promise<Running> {
  const roles = new Set(config.roles)
  const metrics = new Metrics()
  const closers: (() => Promise<unknown>)[] = []
  let running = true
  const close = async () => {
    running = false
    for (const closer of closers.splice(0).reverse()) {
      await closer().catch((err: unknown) => logger.error({ err }, 'error while shutting down'))
    }
  }

  const registries: Reloadable<unknown>[] = []
  const reload = () => {
    for (const registry of registries) registry.reload()
  }
  closers.push(async () => {
    for (const registry of registries) registry.close()
  })

  try {
    let tokens: (() => TokenRegistry) | undefined
    if (roles.has('collector') || roles.has('query')) {
      if (config.tokensFile === undefined) throw new Error('QALQAN_TOKENS_FILE is not set')
      const registry = new Reloadable({ path: config.tokensFile, load: TokenRegistry.fromFile, logger })
      registries.push(registry)
      tokens = () => registry.current()
    }
    const kafka = roles.has('collector') || roles.has('worker') ? createKafka(config, logger) : undefined
    if (kafka !== undefined) {
      const admin = kafka.admin()
      await admin.connect()
      try {
        const created = await ensureTopics(admin, config, [config.kafka.topics.events, config.kafka.topics.rejected])
        if (created.length > 0) logger.info({ topics: created, partitions: config.kafka.partitions }, 'created Kafka topics')
      } finally {
        await admin.disconnect()
      }
    }
    let clickhouse: ClickHouseClient | undefined
    if (roles.has('worker') || roles.has('query')) {
      clickhouse = await createClickHouse(config)
      const ch = clickhouse
      closers.push(() => ch.close())
      const statements = await migrate(clickhouse, config.clickhouse.cluster)
      const retention = roles.has('worker') ? await applyRetention(clickhouse, config.retentionDays, config.clickhouse.cluster) : []
      logger.info({ clickhouse: config.clickhouse.url ?? `embedded:${config.clickhouse.path}`, statements, retentionChanged: retention }, 'ClickHouse schema ready')
    }

    let collectorUrl: string | undefined
    if (roles.has('collector') && kafka !== undefined && tokens !== undefined) {
      const sink = new KafkaSink(kafka, config, metrics)
      await sink.start()
      closers.push(() => sink.close())
      const assets = config.assetsFile === undefined ? undefined : new Reloadable({ path: config.assetsFile, load: AssetRegistry.fromFile, logger })
      if (assets !== undefined) registries.push(assets)
      const geo = countryDatabase()
      logger.info({ assets: config.assetsFile ?? null, countryDatabaseBuilt: geo.builtAt.toISOString() }, 'enrichment ready')
      const lookups = { assets: (ip: string) => assets?.current().lookup(ip), country: countryOf }
      const readiness = () =>
        [sink.problem(), ...registries.map((registry) => registry.lastError())].filter((problem): problem is string => problem !== undefined)
      const app = buildCollector(config, { logger, tokens, writer: sink, metrics, enrich: (event) => enrich(event, lookups), readiness })
      collectorUrl = await listen(app, config.collector, closers)
      logger.info({ url: collectorUrl }, 'collector listening')
    }

    let workerUrl: string | undefined
    if (roles.has('worker') && kafka !== undefined && clickhouse !== undefined) {
      const workerLogger = logger.child({ role: 'worker' })
      const rejected = new KafkaSink(kafka, config, metrics)
      await rejected.start()
      closers.push(() => rejected.close())
      const source = new KafkaEventSource(kafka, config, workerLogger, metrics)
      closers.push(() => source.close())
      const handle = createBatchHandler({
        logger: workerLogger,
        metrics,
        clickhouse: new ClickHouseSink(clickhouse),
        rejected,
        isRunning: () => running,
        timeLimits: { maxFutureMs: config.worker.maxFutureMs, maxAgeMs: config.worker.maxAgeMs },
        dedupWindow: config.worker.dedupWindow,
      })
      await source.start(handle)
      workerUrl = await listen(buildOpsServer(logger, 'worker', metrics), config.worker, closers)
      logger.info({ group: config.worker.groupId, topic: config.kafka.topics.events, url: workerUrl }, 'worker consuming')
    }

    let queryUrl: string | undefined
    if (roles.has('query') && clickhouse !== undefined && tokens !== undefined) {
      const app = buildQueryApi(config, { logger, tokens, clickhouse })
      queryUrl = await listen(app, config.query, closers)
      logger.info({ url: queryUrl }, 'query API listening')
    }

    return { ...(collectorUrl && { collectorUrl }), ...(queryUrl && { queryUrl }), ...(workerUrl && { workerUrl }), reload, close }
  } catch (err) {
    await close()
    throw err
  }
}

/** The worker's HTTP surface: health and metrics only. */
function buildOpsServer(logger: Logger, role: string, metrics: Metrics) {
  const app = createServer(logger, role, { maxBodyBytes: 1024 })
  app.get('/metrics', async (_request, reply) => reply.type('text/plain; version=0.0.4').send(metrics.render()))
  return app
}

async function listen(app: FastifyInstance, at: { host: string; port: number }, closers: (() => Promise<unknown>)[]): Promise<string> {
  await app.listen({ host: at.host, port: at.port })
  closers.push(() => app.close())
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : at.port
  return `http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${port}`
}
