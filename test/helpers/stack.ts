import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../services/config.js'
import { PROJECT_ROOT } from '../../services/paths.js'

/** Tokens of test/fixtures/tokens.json, whose registry holds only their hashes. */
export const TOKENS = {
  astana: 'test-sensor-astana',
  almaty: 'test-sensor-almaty',
  atyrau: 'test-sensor-atyrau',
  analyst: 'test-analyst',
} as const

export const TOKENS_FILE = join(PROJECT_ROOT, 'test', 'fixtures', 'tokens.json')

/** The throwaway broker that test/run.sh started for this run. */
export function kafkaBrokers(): string {
  const brokers = process.env['QALQAN_TEST_KAFKA_BROKERS']
  if (brokers === undefined || brokers === '') {
    throw new Error(
      'QALQAN_TEST_KAFKA_BROKERS is not set: run the tests with `npm test`, which starts a throwaway Kafka broker',
    )
  }
  return brokers
}

// The embedded engine binds one data folder per process, and each test file is its own process.
let clickhousePath: string | undefined
function processClickHousePath(): string {
  clickhousePath ??= join(mkdtempSync(join(tmpdir(), 'qalqan-test-')), 'clickhouse')
  return clickhousePath
}

/** A configuration of its own for one test: fresh topics and group on the shared broker, ports chosen by the OS. */
export function testConfig(settings: Record<string, string> = {}): Config {
  const id = randomBytes(4).toString('hex')
  return loadConfig({
    QALQAN_LOG_LEVEL: 'warn',
    QALQAN_KAFKA_BROKERS: kafkaBrokers(),
    QALQAN_KAFKA_TOPIC_EVENTS: `test.${id}.events`,
    QALQAN_KAFKA_TOPIC_REJECTED: `test.${id}.rejected`,
    QALQAN_KAFKA_TOPIC_PARTITIONS: '3',
    QALQAN_WORKER_GROUP: `test-${id}`,
    QALQAN_CLICKHOUSE_URL: `chdb:${processClickHousePath()}`,
    QALQAN_TOKENS_FILE: TOKENS_FILE,
    QALQAN_COLLECTOR_PORT: '0',
    QALQAN_QUERY_PORT: '0',
    QALQAN_WORKER_PORT: '0',
    QALQAN_OPS_PORT: '0',
    // Fixtures are dated in 2025: retention and the horizon must reach them.
    QALQAN_WORKER_MAX_AGE_DAYS: '3650',
    QALQAN_RETENTION_RAW_DAYS: '3650',
    QALQAN_RETENTION_1M_DAYS: '3650',
    QALQAN_RETENTION_1H_DAYS: '3650',
    QALQAN_RETENTION_1D_DAYS: '3650',
    ...settings,
  })
}
