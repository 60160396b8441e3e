import { existsSync } from 'node:fs'
import type { Writable } from 'node:stream'
import { type ClickHouse, type Ledger, openClickHouse, withoutCredentials } from '../clickhouse/index.js'
import type { IngestDeps } from '../collector/ingest.js'
import { RateLimiter } from '../collector/rate-limit.js'
import { AssetRegistry } from '../collector/enrich/assets.js'
import { type EnrichLookups, enrich } from '../collector/enrich/enrich.js'
import { countryOf } from '../collector/enrich/geoip.js'
import { type Config, loadConfig } from '../config.js'
import { QalqanError } from '../errors.js'
import { TokenRegistry } from '../http/tokens.js'
import { connectKafka } from '../kafka/index.js'
import { createLogger } from '../logger.js'
import { Metrics } from '../metrics.js'
import { FILTER_OPTIONS, type Filters, parseFilters } from './filters.js'
import { progress, Replay } from './replay.js'
import { formatSummary, type ReplaySummary } from './summary.js'

export const REPLAY_USAGE = `usage: qalqan replay-rejected [options]

Decodes the records of the rejected topic again with the current decoders and the sensor registry,
and produces those that now pass to the events topic, with the ids the collector gives them.
Before each batch it asks ClickHouse which of these events events_raw already holds (replayed
before, or also accepted by a collector) and leaves those out. Nothing is written to the rejected
topic: what is still refused is reported with its reason.

Options:
  --sensor=ID[,ID...]      only records of these sensors
  --format=NAME[,NAME...]  only records of these formats (cef, suricata, cowrie, canonical-json, hec...)
  --reason=TEXT            only records whose reason contains TEXT; /REGEX/flags for a regular expression
  --since=TIME             only records received at or after TIME (2025-03-01, or 2025-03-01T10:00:00+05:00)
  --until=TIME             only records received before TIME
  --dry-run                decode and count only: produce nothing
  --no-check-stored        do not ask ClickHouse what is already stored (see docs/operations.md)
  --json                   print the summary as JSON
  --progress-every=N       a progress line on stderr every N records read (default 10000)
  --check-config           check the settings and options, then exit

Settings come from the same QALQAN_* variables as the roles (Kafka, ClickHouse, QALQAN_TOKENS_FILE,
QALQAN_ASSETS_FILE, the collector's limits and time zone). docs/operations.md shows the workflow.`

const FLAGS = ['dry-run', 'no-check-stored', 'json', 'check-config', 'help'] as const
const VALUED = [...FILTER_OPTIONS, 'progress-every'] as const

export interface Output {
  readonly stdout: Writable
  readonly stderr: Writable
}

/** `qalqan replay-rejected`: 0 once the topic was read to its end, 1 when it could not be, 2 for a usage error. */
export async function replayRejected(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  output: Output = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const options = parseOptions(argv)
  if ('problems' in options) return usage(output, options.problems)
  if (options.flags.has('help')) {
    output.stdout.write(`${REPLAY_USAGE}\n`)
    return 0
  }
  const parsed = parseFilters(options.values)
  const progressEvery = Number(options.values.get('progress-every') ?? 10_000)
  const problems = 'problems' in parsed ? [...parsed.problems] : []
  if (!Number.isInteger(progressEvery) || progressEvery < 1)
    problems.push('--progress-every must be a whole number of records, 1 or more')
  if (problems.length > 0 || 'problems' in parsed) return usage(output, problems)

  let config: Config
  let registries: Registries
  try {
    config = loadConfig(env)
    registries = openRegistries(config)
  } catch (err) {
    if (!(err instanceof QalqanError)) throw err
    output.stderr.write(`qalqan replay-rejected: ${err.message}\n`)
    return 1
  }
  if (options.flags.has('check-config')) {
    output.stdout.write(
      `qalqan replay-rejected: configuration and options are valid (rejected topic ${config.kafka.topics.rejected}, events topic ${config.kafka.topics.events})\n`,
    )
    return 0
  }
  const dryRun = options.flags.has('dry-run')
  let clickhouse: ClickHouse | undefined
  if (!options.flags.has('no-check-stored')) {
    const opened = await openStore(config)
    if ('problem' in opened) {
      output.stderr.write(
        `qalqan replay-rejected: cannot ask ClickHouse (${storeLocation(config)}) which events events_raw already holds: ${opened.problem}\n` +
          'The replay leaves out the events already stored, so it reads the ClickHouse the workers store to (QALQAN_CLICKHOUSE_URL, QALQAN_CLICKHOUSE_DATABASE, QALQAN_CLICKHOUSE_USER and QALQAN_CLICKHOUSE_PASSWORD). ' +
          (config.clickhouse.url === undefined
            ? "The embedded engine's folder can be open in one process at a time: stop the role that holds it for the replay. "
            : '') +
          'Nothing was produced. With --no-check-stored the replay asks nothing: a copy of a stored event is then dropped only when it reaches the worker within QALQAN_WORKER_DEDUP_WINDOW_SECONDS of the first.\n',
      )
      return 1
    }
    clickhouse = opened.clickhouse
  }
  let run: { summary: ReplaySummary; error?: Error }
  try {
    const stored = clickhouse === undefined ? undefined : askingStore(clickhouse, storeLocation(config))
    run = await runReplay(config, registries, parsed.filters, { dryRun, stored, progressEvery, stderr: output.stderr })
  } finally {
    await clickhouse?.close().catch(() => {})
  }
  output.stdout.write(options.flags.has('json') ? `${JSON.stringify(run.summary)}\n` : formatSummary(run.summary))
  if (run.error === undefined) return 0
  const kafka = run.error.name.startsWith('KafkaJS') ? ` (Kafka at ${config.kafka.brokers.join(',')})` : ''
  output.stderr.write(
    `qalqan replay-rejected: stopped before the end of the topic${kafka}: ${run.error.message}\n` +
      'The counts above are what was done until then. Running the replay again is safe: replayed events keep their ids, the events already stored are left out, and the worker drops copies that arrive within QALQAN_WORKER_DEDUP_WINDOW_SECONDS of the first.\n',
  )
  return 1
}

/** ClickHouse, once it answered a question about events_raw (the schema is the workers' to make); else why not. */
async function openStore(config: Config): Promise<{ clickhouse: ClickHouse } | { problem: string }> {
  const { url, path } = config.clickhouse
  // Opening the embedded engine on a folder that is not there would make an empty database.
  if (url === undefined && !existsSync(path)) return { problem: `the folder ${path} does not exist` }
  let clickhouse: ClickHouse | undefined
  try {
    clickhouse = await openClickHouse(config)
    await clickhouse.ledger.storedEventIds([])
    return { clickhouse }
  } catch (err) {
    await clickhouse?.close().catch(() => {})
    return { problem: errorText(err) }
  }
}

/** The store's question, its failures saying where they came from. */
function askingStore(clickhouse: ClickHouse, location: string): Pick<Ledger, 'storedEventIds'> {
  return {
    storedEventIds: async (keys) => {
      try {
        return await clickhouse.ledger.storedEventIds(keys)
      } catch (err) {
        throw new Error(`ClickHouse (${location}) did not say which events events_raw holds: ${errorText(err)}`, {
          cause: err,
        })
      }
    },
  }
}

/** Where ClickHouse is, for a message: a server's URL without any credentials in it, or the embedded engine's folder. */
function storeLocation(config: Config): string {
  const { url, path } = config.clickhouse
  return url === undefined ? `the embedded engine at ${path}` : withoutCredentials(url)
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim().slice(0, 500)
}

interface Registries {
  readonly tokens: TokenRegistry
  readonly assets: AssetRegistry | undefined
}

/** The sensor and asset registries, read as the collector reads them; a problem throws QLQ_ERR_*_INVALID. */
function openRegistries(config: Config): Registries {
  if (config.tokensFile === undefined) {
    throw new QalqanError(
      'QLQ_ERR_CONFIG_INVALID',
      "QALQAN_TOKENS_FILE is not set: the replay needs the sensor registry to know each record's sensor",
    )
  }
  return {
    tokens: TokenRegistry.fromFile(config.tokensFile),
    assets: config.assetsFile === undefined ? undefined : AssetRegistry.fromFile(config.assetsFile),
  }
}

/** Reads the rejected topic to its current end through a Replay; a failure keeps the counts so far. */
async function runReplay(
  config: Config,
  registries: Registries,
  filters: Filters,
  options: {
    dryRun: boolean
    stored: Pick<Ledger, 'storedEventIds'> | undefined
    progressEvery: number
    stderr: Writable
  },
): Promise<{ summary: ReplaySummary; error?: Error }> {
  const logger = createLogger(config.logLevel, options.stderr).child({ command: 'replay-rejected' })
  const kafka = connectKafka(config, logger)
  const metrics = new Metrics()
  const producer = kafka.producer(metrics)
  const lookups: EnrichLookups = {
    assets: (ip) => registries.assets?.lookup(ip),
    country: countryOf,
    refused: (event) => metrics.attributionRefused(event.sensor_id),
  }
  // As buildCollector and startCollector set them up; Required makes a setting added later fail here until it is.
  const ingest: Required<Omit<IngestDeps, 'kafka'>> = {
    metrics,
    // Records replayed are not a sensor's live traffic: no rate limit.
    rateLimiter: new RateLimiter(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY),
    enrich: (event, sensor) => enrich(event, lookups, sensor),
    timeLimits: config.collector.timeLimits,
    maxCount: config.collector.maxCount,
  }
  const replay = new Replay({
    logger,
    sensors: (id) => registries.tokens.sensor(id),
    events: producer,
    stored: options.stored,
    ingest,
    decode: config.collector,
    filters,
    dryRun: options.dryRun,
    progressEvery: options.progressEvery,
    sendBatch: Math.min(1_000, config.kafka.maxPendingEvents),
  })
  const topic = config.kafka.topics.rejected
  logger.info(
    { topic, events: config.kafka.topics.events, dryRun: options.dryRun, checkStored: options.stored !== undefined },
    'replaying the rejected topic',
  )
  let error: Error | undefined
  try {
    await producer.start()
    const read = await kafka.reader().read(topic, (messages) => replay.take(messages))
    logger.info({ partitions: read.partitions, ...progress(replay.summary()) }, 'read the rejected topic to its end')
  } catch (err) {
    error = err instanceof Error ? err : new Error(String(err))
    logger.error({ err: error, ...progress(replay.summary()) }, 'the replay stopped')
  } finally {
    await producer.close().catch((err: unknown) => logger.warn({ err }, 'closing the Kafka producer failed'))
  }
  return error === undefined ? { summary: replay.summary() } : { summary: replay.summary(), error }
}

interface Options {
  readonly flags: ReadonlySet<string>
  readonly values: ReadonlyMap<string, string>
}

function parseOptions(argv: readonly string[]): Options | { problems: string[] } {
  const flags = new Set<string>()
  const values = new Map<string, string>()
  const problems: string[] = []
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg)
    const name = match?.[1]
    const value = match?.[2]
    if (name === undefined) problems.push(`unexpected argument ${JSON.stringify(arg.slice(0, 60))}`)
    else if ((FLAGS as readonly string[]).includes(name)) {
      if (value === undefined) flags.add(name)
      else problems.push(`--${name} takes no value`)
    } else if ((VALUED as readonly string[]).includes(name)) {
      if (value === undefined) problems.push(`--${name} needs a value: --${name}=...`)
      else if (values.has(name)) problems.push(`--${name} is given twice: give several values separated by commas`)
      else values.set(name, value)
    } else problems.push(`unknown option --${name}`)
  }
  return problems.length > 0 ? { problems } : { flags, values }
}

function usage(output: Output, problems: readonly string[]): number {
  output.stderr.write(`qalqan replay-rejected: ${problems.join('; ')}\n\n${REPLAY_USAGE}\n`)
  return 2
}
