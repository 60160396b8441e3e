import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'
import { DEFAULT_TIME_ZONE, TimeZone } from '../schemas/time-zone.js'
import { QalqanError } from './errors.js'

/** The roles one process can run; `all` is every one of them. */
export const ROLE_NAMES = ['collector', 'worker', 'query'] as const

export type Role = (typeof ROLE_NAMES)[number]

/** Parses `all` or a comma-separated list of role names; throws with the allowed names. */
export function parseRoles(value: string): Role[] {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
  if (names.length === 1 && names[0] === 'all') return [...ROLE_NAMES]
  const unknown = names.filter((name) => !(ROLE_NAMES as readonly string[]).includes(name))
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(
      `unknown role "${unknown.join(',') || value}": allowed are all, ${ROLE_NAMES.join(', ')} (comma-separated)`,
    )
  }
  return [...new Set(names as Role[])]
}

const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: `must be a whole number from ${min} to ${max}` })
    .transform(Number)
    .pipe(
      z
        .int()
        .min(min, { error: `must be at least ${min}` })
        .max(max, { error: `must be at most ${max}` }),
    )

const nonEmpty = z.string().trim().min(1, { error: 'must not be empty' })
const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,200}$/, { error: 'must be a Kafka topic name: letters, digits, . _ -' })
const brokerList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((broker) => broker.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, { error: 'each broker must be host:port' }))
      .min(1, { error: 'name at least one broker' }),
  )
const clickhouseUrl = z.string().regex(/^(https?:\/\/.+|chdb:.+)$/, {
  error: 'must be http(s)://host:port (a ClickHouse server) or chdb:PATH (the embedded engine)',
})
const role = z.string().transform((value, ctx) => {
  try {
    return parseRoles(value)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
    return z.NEVER
  }
})
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

/**
 * Every setting, by its environment variable name, with its default. The same names are the keys
 * of the optional JSON file named by QALQAN_CONFIG_FILE; the environment wins over the file.
 */
export const SETTINGS = z.strictObject({
  QALQAN_ROLE: role.default(['collector', 'worker', 'query']),
  QALQAN_LOG_LEVEL: logLevel.default('info'),
  QALQAN_DATA_DIR: nonEmpty.default('data'),
  QALQAN_TOKENS_FILE: nonEmpty.optional(),
  QALQAN_ASSETS_FILE: nonEmpty.optional(),
  QALQAN_KAFKA_BROKERS: brokerList.default(['127.0.0.1:9092']),
  QALQAN_KAFKA_CLIENT_ID: nonEmpty.default('qalqan'),
  QALQAN_KAFKA_TOPIC_EVENTS: topicName.default('qalqan.events.v1'),
  QALQAN_KAFKA_TOPIC_REJECTED: topicName.default('qalqan.rejected.v1'),
  QALQAN_KAFKA_TOPIC_PARTITIONS: wholeNumber(1, 10_000).default(6),
  QALQAN_KAFKA_TOPIC_REPLICATION: wholeNumber(1, 10).default(1),
  QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS: wholeNumber(1, 10).optional(),
  QALQAN_KAFKA_TIMEOUT_MS: wholeNumber(100, 600_000).default(10_000),
  QALQAN_KAFKA_MAX_PENDING_EVENTS: wholeNumber(1, 10_000_000).default(200_000),
  QALQAN_KAFKA_MAX_BATCH_BYTES: wholeNumber(1024, 64 * 1024 * 1024).default(4 * 1024 * 1024),
  QALQAN_KAFKA_MAX_CONCURRENT_SENDS: wholeNumber(1, 64).default(4),
  QALQAN_CLICKHOUSE_URL: clickhouseUrl.optional(),
  QALQAN_CLICKHOUSE_USER: z.string().default('default'),
  QALQAN_CLICKHOUSE_PASSWORD: z.string().default(''),
  QALQAN_CLICKHOUSE_CLUSTER: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/, { error: "must be a cluster name from the server's remote_servers" })
    .optional(),
  QALQAN_CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, { error: 'must be a plain identifier' })
    .default('default'),
  QALQAN_COLLECTOR_HOST: nonEmpty.default('127.0.0.1'),
  QALQAN_COLLECTOR_PORT: wholeNumber(0, 65535).default(8080),
  QALQAN_COLLECTOR_MAX_BODY_BYTES: wholeNumber(1024, 512 * 1024 * 1024).default(5 * 1024 * 1024),
  QALQAN_COLLECTOR_MAX_EVENTS: wholeNumber(1, 1_000_000).default(10_000),
  QALQAN_COLLECTOR_MAX_DEPTH: wholeNumber(2, 256).default(32),
  QALQAN_COLLECTOR_MAX_LINE_LENGTH: wholeNumber(256, 64 * 1024 * 1024).default(1024 * 1024),
  QALQAN_COLLECTOR_SENSOR_RATE: wholeNumber(1, 100_000_000).default(50_000),
  QALQAN_COLLECTOR_SENSOR_BURST: wholeNumber(1, 100_000_000).default(200_000),
  QALQAN_COLLECTOR_REQUEST_TIMEOUT_MS: wholeNumber(100, 3_600_000).default(30_000),
  QALQAN_COLLECTOR_DEFAULT_TIME_ZONE: TimeZone.default(DEFAULT_TIME_ZONE),
  QALQAN_COLLECTOR_HEADERS_TIMEOUT_MS: wholeNumber(100, 3_600_000).optional(),
  QALQAN_COLLECTOR_KEEP_ALIVE_TIMEOUT_MS: wholeNumber(100, 3_600_000).default(72_000),
  QALQAN_COLLECTOR_MAX_CONNECTIONS: wholeNumber(1, 1_000_000).default(1024),
  QALQAN_COLLECTOR_MAX_COUNT: wholeNumber(1, 1_000_000).default(10_000),
  QALQAN_QUERY_HOST: nonEmpty.default('127.0.0.1'),
  QALQAN_QUERY_PORT: wholeNumber(0, 65535).default(8081),
  QALQAN_QUERY_MAX_RANGE_DAYS: wholeNumber(1, 3660).default(366),
  QALQAN_QUERY_CACHE_SECONDS: wholeNumber(0, 3600).default(5),
  QALQAN_QUERY_CACHE_MAX_BYTES: wholeNumber(0, 4 * 1024 * 1024 * 1024).default(32 * 1024 * 1024),
  QALQAN_WORKER_GROUP: nonEmpty.default('qalqan-worker'),
  QALQAN_WORKER_HOST: nonEmpty.default('127.0.0.1'),
  QALQAN_WORKER_PORT: wholeNumber(0, 65535).default(8082),
  QALQAN_WORKER_SESSION_TIMEOUT_MS: wholeNumber(6_000, 300_000).default(30_000),
  QALQAN_WORKER_FETCH_BYTES: wholeNumber(65_536, 256 * 1024 * 1024).default(8 * 1024 * 1024),
  QALQAN_WORKER_DEDUP_WINDOW_SECONDS: wholeNumber(1, 86_400).default(600),
  QALQAN_WORKER_DEDUP_MAX_ENTRIES: wholeNumber(1_000, 1_000_000_000).default(21_000_000),
  QALQAN_WORKER_MAX_FUTURE_SECONDS: wholeNumber(0, 31_536_000).default(3600),
  QALQAN_WORKER_MAX_AGE_DAYS: wholeNumber(1, 3650).default(30),
  QALQAN_RETENTION_RAW_DAYS: wholeNumber(1, 18_250).default(30),
  QALQAN_RETENTION_1M_DAYS: wholeNumber(1, 18_250).default(90),
  QALQAN_RETENTION_1H_DAYS: wholeNumber(1, 18_250).default(730),
  QALQAN_RETENTION_1D_DAYS: wholeNumber(1, 18_250).default(3650),
})

type Settings = z.output<typeof SETTINGS>

/** The settings as the roles read them: grouped by role, resolved, frozen. */
export type Config = DeepReadonly<ReturnType<typeof toConfig>>

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T

export class ConfigError extends QalqanError {
  constructor(readonly problems: string[]) {
    super('QLQ_ERR_CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`)
  }
}

const PREFIX = 'QALQAN_'
const FILE_VARIABLE = 'QALQAN_CONFIG_FILE'

/** Reads the optional file and the QALQAN_* environment, validates all of it at once, and freezes it. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const problems: string[] = []
  const input: Record<string, string> = {}
  const origin: Record<string, string> = {}

  const file = env[FILE_VARIABLE]
  if (file !== undefined) {
    for (const [key, value] of Object.entries(readConfigFile(file, problems))) {
      input[key] = value
      origin[key] = `in ${file}`
    }
  }
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(PREFIX) || key === FILE_VARIABLE || value === undefined) continue
    input[key] = value
    origin[key] = 'in the environment'
  }

  const parsed = SETTINGS.safeParse(input)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(describeIssue(issue, input, origin))
  }
  const minInsync = parsed.success ? parsed.data.QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS : undefined
  if (parsed.success && minInsync !== undefined && minInsync > parsed.data.QALQAN_KAFKA_TOPIC_REPLICATION) {
    problems.push(
      `QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS=${minInsync} is above QALQAN_KAFKA_TOPIC_REPLICATION=${parsed.data.QALQAN_KAFKA_TOPIC_REPLICATION}: Kafka could never acknowledge a write (acks=all)`,
    )
  }
  if (parsed.success && parsed.data.QALQAN_COLLECTOR_SENSOR_BURST < parsed.data.QALQAN_COLLECTOR_MAX_EVENTS) {
    problems.push(
      `QALQAN_COLLECTOR_SENSOR_BURST=${parsed.data.QALQAN_COLLECTOR_SENSOR_BURST} is below QALQAN_COLLECTOR_MAX_EVENTS=${parsed.data.QALQAN_COLLECTOR_MAX_EVENTS}: a full request could never pass`,
    )
  }
  const headersTimeout = parsed.success ? parsed.data.QALQAN_COLLECTOR_HEADERS_TIMEOUT_MS : undefined
  if (
    parsed.success &&
    headersTimeout !== undefined &&
    headersTimeout > parsed.data.QALQAN_COLLECTOR_REQUEST_TIMEOUT_MS
  ) {
    problems.push(
      `QALQAN_COLLECTOR_HEADERS_TIMEOUT_MS=${headersTimeout} is above QALQAN_COLLECTOR_REQUEST_TIMEOUT_MS=${parsed.data.QALQAN_COLLECTOR_REQUEST_TIMEOUT_MS}: the headers are part of the request`,
    )
  }
  const roles = SETTINGS.shape.QALQAN_ROLE.safeParse(input['QALQAN_ROLE'])
  if (input['QALQAN_TOKENS_FILE'] === undefined && roles.success && roles.data.some((r) => r !== 'worker')) {
    problems.push(
      'QALQAN_TOKENS_FILE is not set: the collector and query roles need the token registry (see "Tokens" in README.md)',
    )
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems)
  return deepFreeze(toConfig(parsed.data)) as Config
}

function readConfigFile(path: string, problems: string[]): Record<string, string> {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    // Not the parser's message: it quotes the file's text, which may hold a password.
    const code = (err as NodeJS.ErrnoException).code
    problems.push(`${FILE_VARIABLE}=${path}: ${code === undefined ? 'is not valid JSON' : `cannot be read (${code})`}`)
    return {}
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(
      `${FILE_VARIABLE}=${path}: must hold one JSON object of settings, such as {"QALQAN_ROLE": "collector"}`,
    )
    return {}
  }
  const values: Record<string, string> = {}
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      values[key] = String(value)
    else problems.push(`${key} in ${path}: must be a string or a number`)
  }
  return values
}

function describeIssue(issue: z.core.$ZodIssue, input: Record<string, string>, origin: Record<string, string>): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => `${key} (${origin[key]}) is not a Qalqan setting; see "Configuration" in README.md for the names`)
      .join('\n  - ')
  }
  const key = String(issue.path[0])
  const shown = /PASSWORD/.test(key) ? '(hidden)' : JSON.stringify(input[key])
  return `${key}=${shown} (${origin[key] ?? 'default'}): ${issue.message}`
}

function toConfig(s: Settings) {
  const url = s.QALQAN_CLICKHOUSE_URL
  const embeddedPath =
    url === undefined ? resolve(s.QALQAN_DATA_DIR, 'clickhouse') : url.startsWith('chdb:') ? resolve(url.slice(5)) : ''
  /** The worker's time rule, applied at the collector's door too so a sensor hears about a wrong clock. */
  const timeLimits = {
    maxFutureMs: s.QALQAN_WORKER_MAX_FUTURE_SECONDS * 1000,
    maxAgeMs: s.QALQAN_WORKER_MAX_AGE_DAYS * 86_400_000,
  }
  return {
    roles: s.QALQAN_ROLE,
    logLevel: s.QALQAN_LOG_LEVEL,
    tokensFile: s.QALQAN_TOKENS_FILE === undefined ? undefined : resolve(s.QALQAN_TOKENS_FILE),
    /** The asset registry (CIDR -> organisation, sector, region) that places targets; optional. */
    assetsFile: s.QALQAN_ASSETS_FILE === undefined ? undefined : resolve(s.QALQAN_ASSETS_FILE),
    kafka: {
      brokers: s.QALQAN_KAFKA_BROKERS,
      clientId: s.QALQAN_KAFKA_CLIENT_ID,
      topics: { events: s.QALQAN_KAFKA_TOPIC_EVENTS, rejected: s.QALQAN_KAFKA_TOPIC_REJECTED },
      partitions: s.QALQAN_KAFKA_TOPIC_PARTITIONS,
      replicationFactor: s.QALQAN_KAFKA_TOPIC_REPLICATION,
      /** min.insync.replicas of the topics Qalqan creates; unset, one fewer than the replicas from three up. */
      minInsyncReplicas: s.QALQAN_KAFKA_TOPIC_MIN_INSYNC_REPLICAS,
      timeoutMs: s.QALQAN_KAFKA_TIMEOUT_MS,
      maxPendingEvents: s.QALQAN_KAFKA_MAX_PENDING_EVENTS,
      maxBatchBytes: s.QALQAN_KAFKA_MAX_BATCH_BYTES,
      maxConcurrentSends: s.QALQAN_KAFKA_MAX_CONCURRENT_SENDS,
    },
    clickhouse: {
      /** A server's URL, or undefined for the embedded engine at `path`. */
      url: url !== undefined && !url.startsWith('chdb:') ? url : undefined,
      path: embeddedPath,
      user: s.QALQAN_CLICKHOUSE_USER,
      password: s.QALQAN_CLICKHOUSE_PASSWORD,
      database: s.QALQAN_CLICKHOUSE_DATABASE,
      /** A cluster name: the schema is made replicated and distributed across it. */
      cluster: s.QALQAN_CLICKHOUSE_CLUSTER,
    },
    collector: {
      host: s.QALQAN_COLLECTOR_HOST,
      port: s.QALQAN_COLLECTOR_PORT,
      maxBodyBytes: s.QALQAN_COLLECTOR_MAX_BODY_BYTES,
      maxEvents: s.QALQAN_COLLECTOR_MAX_EVENTS,
      maxDepth: s.QALQAN_COLLECTOR_MAX_DEPTH,
      maxLineLength: s.QALQAN_COLLECTOR_MAX_LINE_LENGTH,
      sensorRate: s.QALQAN_COLLECTOR_SENSOR_RATE,
      sensorBurst: s.QALQAN_COLLECTOR_SENSOR_BURST,
      requestTimeoutMs: s.QALQAN_COLLECTOR_REQUEST_TIMEOUT_MS,
      /** The zone of a sensor whose registration names none; decoders read this section as their context. */
      timeZone: s.QALQAN_COLLECTOR_DEFAULT_TIME_ZONE,
      /** Unset: 10 s, or the request timeout when that is shorter. */
      headersTimeoutMs:
        s.QALQAN_COLLECTOR_HEADERS_TIMEOUT_MS ?? Math.min(10_000, s.QALQAN_COLLECTOR_REQUEST_TIMEOUT_MS),
      keepAliveTimeoutMs: s.QALQAN_COLLECTOR_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: s.QALQAN_COLLECTOR_MAX_CONNECTIONS,
      /** The most occurrences one event may stand for (`count`); an event above it is rejected. */
      maxCount: s.QALQAN_COLLECTOR_MAX_COUNT,
      timeLimits,
    },
    query: {
      host: s.QALQAN_QUERY_HOST,
      port: s.QALQAN_QUERY_PORT,
      maxRangeDays: s.QALQAN_QUERY_MAX_RANGE_DAYS,
      cacheSeconds: s.QALQAN_QUERY_CACHE_SECONDS,
      /** Bytes of answers the cache keeps at most, measured as their JSON length. */
      cacheMaxBytes: s.QALQAN_QUERY_CACHE_MAX_BYTES,
    },
    worker: {
      groupId: s.QALQAN_WORKER_GROUP,
      host: s.QALQAN_WORKER_HOST,
      port: s.QALQAN_WORKER_PORT,
      fetchBytes: s.QALQAN_WORKER_FETCH_BYTES,
      sessionTimeoutMs: s.QALQAN_WORKER_SESSION_TIMEOUT_MS,
      /**
       * Copies are recognised for a window of time after their original was first seen; the most
       * ids kept bounds the memory (about 10 bytes each) when the rate exceeds what it was sized for.
       */
      dedup: { windowMs: s.QALQAN_WORKER_DEDUP_WINDOW_SECONDS * 1000, maxEntries: s.QALQAN_WORKER_DEDUP_MAX_ENTRIES },
      timeLimits,
    },
    retentionDays: {
      events_raw: s.QALQAN_RETENTION_RAW_DAYS,
      attacks_1m: s.QALQAN_RETENTION_1M_DAYS,
      attacks_1h: s.QALQAN_RETENTION_1H_DAYS,
      attacks_1d: s.QALQAN_RETENTION_1D_DAYS,
    },
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
