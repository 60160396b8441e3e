import { accessSync, closeSync, constants, openSync, readFileSync, readSync } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'
import { DEFAULT_TIME_ZONE, TimeZone } from '../schemas/time-zone.js'
import { coresGiven } from './cores.js'
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
const kafkaSecurityProtocol = z.enum(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'], {
  error: "must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (as in Kafka's security.protocol)",
})
const saslMechanism = z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'], {
  error: "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (as in Kafka's sasl.mechanism)",
})
/** A PEM file's path; that it can be read is checked once the settings parse. */
const pemFile = nonEmpty.optional()

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
  QALQAN_KAFKA_MAX_CONCURRENT_SENDS: wholeNumber(1, 64).default(1),
  QALQAN_KAFKA_SECURITY_PROTOCOL: kafkaSecurityProtocol.default('PLAINTEXT'),
  QALQAN_KAFKA_SASL_MECHANISM: saslMechanism.optional(),
  QALQAN_KAFKA_SASL_USERNAME: nonEmpty.optional(),
  QALQAN_KAFKA_SASL_PASSWORD: z.string().min(1, { error: 'must not be empty' }).optional(),
  QALQAN_KAFKA_CA_FILE: pemFile,
  QALQAN_KAFKA_CERT_FILE: pemFile,
  QALQAN_KAFKA_KEY_FILE: pemFile,
  QALQAN_KAFKA_KEY_PASSWORD: z.string().min(1, { error: 'must not be empty' }).optional(),
  QALQAN_CLICKHOUSE_URL: clickhouseUrl.optional(),
  QALQAN_CLICKHOUSE_USER: z.string().default('default'),
  QALQAN_CLICKHOUSE_PASSWORD: z.string().default(''),
  QALQAN_CLICKHOUSE_CA_FILE: pemFile,
  QALQAN_CLICKHOUSE_CERT_FILE: pemFile,
  QALQAN_CLICKHOUSE_KEY_FILE: pemFile,
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
  QALQAN_COLLECTOR_PROCESSES: z.union([z.literal('auto'), wholeNumber(1, 1024)]).default('auto'),
  QALQAN_COLLECTOR_TLS_CERT_FILE: nonEmpty.optional(),
  QALQAN_COLLECTOR_TLS_KEY_FILE: nonEmpty.optional(),
  QALQAN_COLLECTOR_TLS_CLIENT_CA_FILE: nonEmpty.optional(),
  QALQAN_QUERY_HOST: nonEmpty.default('127.0.0.1'),
  QALQAN_QUERY_PORT: wholeNumber(0, 65535).default(8081),
  QALQAN_QUERY_MAX_RANGE_DAYS: wholeNumber(1, 3660).default(366),
  QALQAN_QUERY_CACHE_SECONDS: wholeNumber(0, 3600).default(5),
  QALQAN_QUERY_CACHE_MAX_BYTES: wholeNumber(0, 4 * 1024 * 1024 * 1024).default(32 * 1024 * 1024),
  QALQAN_QUERY_TLS_CERT_FILE: nonEmpty.optional(),
  QALQAN_QUERY_TLS_KEY_FILE: nonEmpty.optional(),
  QALQAN_QUERY_AUDIT_LOG: nonEmpty.default('stdout'),
  QALQAN_OPS_HOST: nonEmpty.default('127.0.0.1'),
  QALQAN_OPS_PORT: wholeNumber(0, 65535).default(8083),
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
/** `X_FILE` names a file holding the value of setting X (Kubernetes and compose secrets). */
const VALUE_FILE_SUFFIX = '_FILE'
/** A value file larger than this is refused: a secret is short, and a wrong path may name a disk image. */
export const MAX_VALUE_FILE_BYTES = 64 * 1024

/** Settings whose values never appear in a message, whichever way they were given. */
export function isSecretSetting(key: string): boolean {
  return /(PASSWORD|SECRET|SALT|PEPPER)$/.test(key)
}

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
  const fromFiles = readValueFiles(input, origin, problems)

  const parsed = SETTINGS.safeParse(input)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(describeIssue(issue, input, origin, fromFiles))
  }
  if (parsed.success) problems.push(...securityProblems(parsed.data))
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
  if (parsed.success) problems.push(...tlsProblems(parsed.data))
  if (parsed.success) problems.push(...processesProblems(parsed.data))
  const roles = SETTINGS.shape.QALQAN_ROLE.safeParse(input['QALQAN_ROLE'])
  if (input['QALQAN_TOKENS_FILE'] === undefined && roles.success && roles.data.some((r) => r !== 'worker')) {
    problems.push(
      'QALQAN_TOKENS_FILE is not set: the collector and query roles need the token registry (see "Tokens" in README.md)',
    )
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems)
  return deepFreeze(toConfig(parsed.data)) as Config
}

function collectorProcesses(s: Settings): number {
  const alone = s.QALQAN_ROLE.length === 1 && s.QALQAN_ROLE[0] === 'collector'
  if (s.QALQAN_COLLECTOR_PROCESSES === 'auto') return alone ? coresGiven() : 1
  return s.QALQAN_COLLECTOR_PROCESSES
}

/** Several collector processes share the port; the worker and query roles run once per process. */
function processesProblems(s: Settings): string[] {
  const processes = s.QALQAN_COLLECTOR_PROCESSES
  if (processes === 'auto' || processes === 1) return []
  if (s.QALQAN_ROLE.length === 1 && s.QALQAN_ROLE[0] === 'collector') return []
  return [
    `QALQAN_COLLECTOR_PROCESSES=${processes} needs the collector role alone (--role=collector), not ${s.QALQAN_ROLE.join(',')}: run the other roles as processes of their own, or set it to 1`,
  ]
}

/** A certificate needs its key and the reverse; sensor certificates are asked for only over TLS. */
function tlsProblems(s: Settings): string[] {
  const problems: string[] = []
  for (const role of ['COLLECTOR', 'QUERY'] as const) {
    const cert = `QALQAN_${role}_TLS_CERT_FILE` as const
    const key = `QALQAN_${role}_TLS_KEY_FILE` as const
    if ((s[cert] === undefined) !== (s[key] === undefined)) {
      const [given, missing] = s[cert] === undefined ? [key, cert] : [cert, key]
      problems.push(`${given} is set but ${missing} is not: set both (the certificate and its private key) or neither`)
    }
  }
  if (s.QALQAN_COLLECTOR_TLS_CLIENT_CA_FILE !== undefined && s.QALQAN_COLLECTOR_TLS_CERT_FILE === undefined) {
    problems.push(
      'QALQAN_COLLECTOR_TLS_CLIENT_CA_FILE is set but QALQAN_COLLECTOR_TLS_CERT_FILE is not: sensor certificates are asked for over HTTPS only',
    )
  }
  return problems
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

/**
 * Replaces each `X_FILE` (X a setting, X_FILE not one itself) by X read from that file, trailing
 * newlines removed. Returns the settings so read: their values are never shown in a message.
 */
function readValueFiles(
  input: Record<string, string>,
  origin: Record<string, string>,
  problems: string[],
): Set<string> {
  const read = new Set<string>()
  for (const key of Object.keys(input)) {
    if (!key.endsWith(VALUE_FILE_SUFFIX) || key in SETTINGS.shape) continue
    const setting = key.slice(0, -VALUE_FILE_SUFFIX.length)
    if (!(setting in SETTINGS.shape)) continue
    const path = input[key] ?? ''
    delete input[key]
    if (setting in input) {
      problems.push(`${setting} (${origin[setting]}) and ${key} (${origin[key]}) are both set: keep one of them`)
      delete input[setting]
      continue
    }
    const value = readValueFile(path)
    if (typeof value !== 'string') {
      problems.push(`${key}=${path} (${origin[key]}): ${value.problem}`)
      continue
    }
    input[setting] = value
    origin[setting] = `read from ${path}, named by ${key} ${origin[key]}`
    read.add(setting)
  }
  return read
}

function readValueFile(path: string): string | { problem: string } {
  if (path.trim() === '') return { problem: 'must name a file' }
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    // One byte over the limit tells a file at the limit from a larger one without reading all of it.
    const buffer = Buffer.alloc(MAX_VALUE_FILE_BYTES + 1)
    let length = 0
    for (let n = -1; n !== 0 && length < buffer.length; length += n) {
      n = readSync(fd, buffer, length, buffer.length - length, null)
    }
    if (length > MAX_VALUE_FILE_BYTES) return { problem: `the file is larger than ${MAX_VALUE_FILE_BYTES} bytes` }
    const value = buffer
      .subarray(0, length)
      .toString('utf8')
      .replace(/[\r\n]+$/, '')
    if (value === '') return { problem: 'the file is empty' }
    return value
  } catch (err) {
    return { problem: `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})` }
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

const KAFKA_SASL_SETTINGS = [
  'QALQAN_KAFKA_SASL_MECHANISM',
  'QALQAN_KAFKA_SASL_USERNAME',
  'QALQAN_KAFKA_SASL_PASSWORD',
] as const
const KAFKA_TLS_SETTINGS = [
  'QALQAN_KAFKA_CA_FILE',
  'QALQAN_KAFKA_CERT_FILE',
  'QALQAN_KAFKA_KEY_FILE',
  'QALQAN_KAFKA_KEY_PASSWORD',
] as const
const CLICKHOUSE_TLS_SETTINGS = [
  'QALQAN_CLICKHOUSE_CA_FILE',
  'QALQAN_CLICKHOUSE_CERT_FILE',
  'QALQAN_CLICKHOUSE_KEY_FILE',
] as const

/**
 * Settings of TLS and SASL that only make sense together, and PEM files that cannot be read. What
 * is missing or unreadable counts only for roles that connect there: one set of settings serves
 * every role, and a query pod mounts no Kafka secret.
 */
function securityProblems(s: Settings): string[] {
  const problems: string[] = []
  const protocol = s.QALQAN_KAFKA_SECURITY_PROTOCOL
  const usesKafka = s.QALQAN_ROLE.some((role) => role !== 'query')
  const usesClickHouse = s.QALQAN_ROLE.some((role) => role !== 'collector')
  if (protocol.startsWith('SASL_')) {
    const unset = KAFKA_SASL_SETTINGS.filter((key) => s[key] === undefined)
    if (usesKafka && unset.length > 0) {
      problems.push(
        `QALQAN_KAFKA_SECURITY_PROTOCOL=${protocol} needs ${unset.join(', ')} (a password may be given as QALQAN_KAFKA_SASL_PASSWORD_FILE)`,
      )
    }
  } else {
    for (const key of KAFKA_SASL_SETTINGS.filter((key) => s[key] !== undefined)) {
      problems.push(
        `${key} is set but QALQAN_KAFKA_SECURITY_PROTOCOL=${protocol} does not use SASL: set it to SASL_SSL (or SASL_PLAINTEXT)`,
      )
    }
  }
  if (!protocol.endsWith('SSL')) {
    for (const key of KAFKA_TLS_SETTINGS.filter((key) => s[key] !== undefined)) {
      problems.push(
        `${key} is set but QALQAN_KAFKA_SECURITY_PROTOCOL=${protocol} does not use TLS: set it to SSL or SASL_SSL`,
      )
    }
  }
  const url = s.QALQAN_CLICKHOUSE_URL
  if (url === undefined || !url.startsWith('https://')) {
    for (const key of CLICKHOUSE_TLS_SETTINGS.filter((key) => s[key] !== undefined)) {
      problems.push(`${key} is set but QALQAN_CLICKHOUSE_URL is not an https:// URL: TLS settings apply to https only`)
    }
  }
  for (const [cert, key] of [
    ['QALQAN_KAFKA_CERT_FILE', 'QALQAN_KAFKA_KEY_FILE'],
    ['QALQAN_CLICKHOUSE_CERT_FILE', 'QALQAN_CLICKHOUSE_KEY_FILE'],
  ] as const) {
    if ((s[cert] === undefined) !== (s[key] === undefined)) {
      problems.push(
        `${s[cert] === undefined ? cert : key} is missing: a client certificate needs both ${cert} and ${key}`,
      )
    }
  }
  if (s.QALQAN_CLICKHOUSE_CERT_FILE !== undefined && s.QALQAN_CLICKHOUSE_CA_FILE === undefined) {
    problems.push(
      'QALQAN_CLICKHOUSE_CERT_FILE needs QALQAN_CLICKHOUSE_CA_FILE: the ClickHouse client sends a certificate only together with its CA',
    )
  }
  const used = [...(usesKafka ? KAFKA_TLS_SETTINGS : []), ...(usesClickHouse ? CLICKHOUSE_TLS_SETTINGS : [])]
  for (const key of used) {
    const path = s[key]
    if (path === undefined || !key.endsWith('_FILE')) continue
    try {
      accessSync(path, constants.R_OK)
    } catch (err) {
      problems.push(`${key}=${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`)
    }
  }
  return problems
}

function describeIssue(
  issue: z.core.$ZodIssue,
  input: Record<string, string>,
  origin: Record<string, string>,
  fromFiles: ReadonlySet<string>,
): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => `${key} (${origin[key]}) is not a Qalqan setting; see "Configuration" in README.md for the names`)
      .join('\n  - ')
  }
  const key = String(issue.path[0])
  const shown =
    isSecretSetting(key) || fromFiles.has(key)
      ? '(hidden)'
      : // A server URL may carry its user and password (https://user:pass@host).
        JSON.stringify(input[key]?.replace(/\/\/[^/@]*@/, '//(credentials hidden)@'))
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
      /** Kafka's security.protocol: TLS for SSL and SASL_SSL, SASL for SASL_PLAINTEXT and SASL_SSL. */
      securityProtocol: s.QALQAN_KAFKA_SECURITY_PROTOCOL,
      /** PEM files: the CA to trust (unset: the system's) and a client certificate for mutual TLS. */
      tls: s.QALQAN_KAFKA_SECURITY_PROTOCOL.endsWith('SSL')
        ? {
            caFile: s.QALQAN_KAFKA_CA_FILE,
            certFile: s.QALQAN_KAFKA_CERT_FILE,
            keyFile: s.QALQAN_KAFKA_KEY_FILE,
            keyPassword: s.QALQAN_KAFKA_KEY_PASSWORD,
          }
        : undefined,
      sasl:
        s.QALQAN_KAFKA_SASL_MECHANISM !== undefined &&
        s.QALQAN_KAFKA_SASL_USERNAME !== undefined &&
        s.QALQAN_KAFKA_SASL_PASSWORD !== undefined
          ? {
              mechanism: s.QALQAN_KAFKA_SASL_MECHANISM,
              username: s.QALQAN_KAFKA_SASL_USERNAME,
              password: s.QALQAN_KAFKA_SASL_PASSWORD,
            }
          : undefined,
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
      /** PEM files for an https URL: the CA to trust (unset: the system's) and a client certificate. */
      tls:
        url?.startsWith('https://') === true
          ? {
              caFile: s.QALQAN_CLICKHOUSE_CA_FILE,
              certFile: s.QALQAN_CLICKHOUSE_CERT_FILE,
              keyFile: s.QALQAN_CLICKHOUSE_KEY_FILE,
            }
          : undefined,
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
      /** Processes sharing the port: `auto` is one per core when the collector runs alone, else 1. */
      processes: collectorProcesses(s),
      timeLimits,
      /** HTTPS from these files (reloaded when they change), with sensor certificates checked against `clientCaFile`; undefined: plain HTTP. */
      tls: tlsFiles(
        s.QALQAN_COLLECTOR_TLS_CERT_FILE,
        s.QALQAN_COLLECTOR_TLS_KEY_FILE,
        s.QALQAN_COLLECTOR_TLS_CLIENT_CA_FILE,
      ),
    },
    query: {
      host: s.QALQAN_QUERY_HOST,
      port: s.QALQAN_QUERY_PORT,
      maxRangeDays: s.QALQAN_QUERY_MAX_RANGE_DAYS,
      cacheSeconds: s.QALQAN_QUERY_CACHE_SECONDS,
      /** Bytes of answers the cache keeps at most, measured as their JSON length. */
      cacheMaxBytes: s.QALQAN_QUERY_CACHE_MAX_BYTES,
      tls: tlsFiles(s.QALQAN_QUERY_TLS_CERT_FILE, s.QALQAN_QUERY_TLS_KEY_FILE, undefined),
      /** Where the analysts' queries are recorded: `stdout`, or a file appended to. */
      auditLog: s.QALQAN_QUERY_AUDIT_LOG === 'stdout' ? ('stdout' as const) : resolve(s.QALQAN_QUERY_AUDIT_LOG),
    },
    /** The listener for /metrics and readiness details, apart from the public port of the collector and the query API. */
    ops: { host: s.QALQAN_OPS_HOST, port: s.QALQAN_OPS_PORT },
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

function tlsFiles(cert: string | undefined, key: string | undefined, clientCa: string | undefined) {
  if (cert === undefined || key === undefined) return undefined
  return {
    certFile: resolve(cert),
    keyFile: resolve(key),
    clientCaFile: clientCa === undefined ? undefined : resolve(clientCa),
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
