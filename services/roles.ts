import type { Logger } from 'pino'
import { type ClickHouse, openClickHouse } from './clickhouse/index.js'
import { startCollector } from './collector/start.js'
import type { Config, Role } from './config.js'
import { startOps } from './http/ops-server.js'
import { TokenRegistry } from './http/tokens.js'
import { connectKafka, type KafkaConnection } from './kafka/index.js'
import { Metrics } from './metrics.js'
import { startQuery } from './query/start.js'
import { Reloadable } from './reloadable.js'
import { startWorker } from './worker/start.js'

/** What roles share in one process, each made once, and only when a role to start needs it. */
export interface Shared {
  readonly config: Config
  readonly logger: Logger
  readonly metrics: Metrics
  /** The files read at start and reloaded on change (registries, TLS): a failed reload is reported as a warning. */
  readonly registries: Reloadable<unknown>[]
  readonly isRunning: () => boolean
  readonly tokens: () => TokenRegistry
  readonly kafka: KafkaConnection
  readonly clickhouse: ClickHouse
}

type Need = 'tokens' | 'kafka' | 'clickhouse'

/** A started role: where it listens, and how it stops (after finishing what it took). */
export interface Started {
  readonly url: string
  /** The role's problems, for /readyz; a role without one is ready while it runs. */
  readonly readiness?: () => string[]
  /** What the operators should fix though the role still serves (a file that failed to reload), for the ops port's /readyz. */
  readonly warnings?: () => string[]
  close(): Promise<void>
}

interface RoleSpec {
  readonly description: string
  readonly needs: readonly Need[]
  readonly start: (shared: Shared) => Promise<Started>
}

/** Every role: what it does, what it needs, and its start function, in the order they start. */
export const ROLES = {
  collector: {
    description: 'HTTP ingest from sensors: authenticate, decode, validate, normalize, enrich, produce to Kafka',
    needs: ['tokens', 'kafka'],
    start: startCollector,
  },
  worker: {
    description: 'consume the events topic and store the events in ClickHouse, whose views aggregate them',
    needs: ['kafka', 'clickhouse'],
    start: startWorker,
  },
  query: {
    description: 'read-only analyst API over the aggregates in ClickHouse',
    needs: ['tokens', 'clickhouse'],
    start: startQuery,
  },
} as const satisfies Record<Role, RoleSpec>

export interface Running {
  /** Base URLs of the roles that run in this process. */
  readonly urls: Partial<Record<Role, string>>
  /** The ops listener's base URL (/metrics, /readyz with reasons), when a role with a public port runs. */
  readonly opsUrl: string | undefined
  /** Reads the registries again (SIGHUP); a broken file keeps the previous registry. */
  reload(): void
  /** Idempotent: finishes in-flight work, then releases every connection. */
  close(): Promise<void>
}

/** Makes what the configured roles need, then starts each role; on any failure, closes what was started. */
export async function startRoles(config: Config, logger: Logger): Promise<Running> {
  const closers: (() => Promise<unknown>)[] = []
  let running = true
  let closing: Promise<void> | undefined
  const close = () => {
    running = false
    closing ??= (async () => {
      for (const closer of closers.splice(0).reverse()) {
        await closer().catch((err: unknown) => logger.error({ err }, 'error while shutting down'))
      }
    })()
    return closing
  }
  const registries: Reloadable<unknown>[] = []
  closers.push(async () => {
    for (const registry of registries) registry.close()
  })

  try {
    const needs = new Set(config.roles.flatMap((role) => ROLES[role].needs))
    const made = {
      tokens: needs.has('tokens') ? openTokens(config, logger, registries) : undefined,
      kafka: needs.has('kafka') ? await openKafka(config, logger) : undefined,
      clickhouse: needs.has('clickhouse') ? await openStore(config, logger, closers) : undefined,
    }
    // A role reaches only what it named: the rest throws, so a missing need is found by any test.
    const shared: Shared = {
      config,
      logger,
      metrics: new Metrics(),
      registries,
      isRunning: () => running,
      get tokens() {
        return made.tokens ?? missing('tokens')
      },
      get kafka() {
        return made.kafka ?? missing('kafka')
      },
      get clickhouse() {
        return made.clickhouse ?? missing('clickhouse')
      },
    }
    const urls: Partial<Record<Role, string>> = {}
    const readiness: Partial<Record<Role, () => string[]>> = {}
    const warnings: Partial<Record<Role, () => string[]>> = {}
    for (const role of config.roles) {
      const started: Started = await ROLES[role].start(shared)
      closers.push(() => started.close())
      urls[role] = started.url
      if (started.readiness !== undefined) readiness[role] = started.readiness
      if (started.warnings !== undefined) warnings[role] = started.warnings
    }
    // The worker serves its metrics on its own port, which no sensor or analyst reaches.
    const ops = config.roles.some((role) => role !== 'worker')
      ? await startOps(config.ops, { logger, metrics: shared.metrics, readiness, warnings })
      : undefined
    if (ops !== undefined) closers.push(() => ops.close())
    const reload = () => {
      for (const registry of registries) registry.reload()
    }
    return { urls, opsUrl: ops?.url, reload, close }
  } catch (err) {
    await close()
    throw err
  }
}

function missing(need: Need): never {
  throw new Error(`${need} was not made: add it to the needs of the role that uses it (services/roles.ts)`)
}

function openTokens(config: Config, logger: Logger, registries: Reloadable<unknown>[]): () => TokenRegistry {
  if (config.tokensFile === undefined) throw new Error('QALQAN_TOKENS_FILE is not set')
  const registry = new Reloadable({ path: config.tokensFile, load: TokenRegistry.fromFile, logger })
  registries.push(registry)
  return () => registry.current()
}

async function openKafka(config: Config, logger: Logger): Promise<KafkaConnection> {
  const kafka = connectKafka(config, logger)
  const created = await kafka.ensureTopics()
  if (created.length > 0) logger.info({ topics: created, partitions: config.kafka.partitions }, 'created Kafka topics')
  return kafka
}

async function openStore(config: Config, logger: Logger, closers: (() => Promise<unknown>)[]): Promise<ClickHouse> {
  const clickhouse = await openClickHouse(config)
  closers.push(() => clickhouse.close())
  const schema = await clickhouse.migrate()
  logger.info({ clickhouse: clickhouse.location, schema }, 'ClickHouse schema ready')
  return clickhouse
}
