import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createClickHouse } from '../../services/clickhouse/client.js'
import { connectKafka } from '../../services/kafka/index.js'
import { loadConfig } from '../../services/config.js'
import { createLogger } from '../../services/logger.js'
import { PROJECT_ROOT } from '../../services/paths.js'
import { attackTotals, rawEventCount } from '../helpers/clickhouse.js'
import { makeEvents, produceEvents, totalsByKey } from '../helpers/events.js'
import { waitForGroupCaughtUp } from '../helpers/kafka.js'
import { kafkaBrokers } from '../helpers/stack.js'

const MAIN = join(PROJECT_ROOT, 'dist', 'services', 'main.js')

t.test('workers killed with SIGKILL at random moments while events stream in: the totals are exact', async (t) => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does)`)
  const id = randomBytes(4).toString('hex')
  const env = {
    QALQAN_ROLE: 'worker',
    QALQAN_LOG_LEVEL: 'warn',
    QALQAN_KAFKA_BROKERS: kafkaBrokers(),
    QALQAN_KAFKA_TOPIC_EVENTS: `crash.${id}.events`,
    QALQAN_KAFKA_TOPIC_REJECTED: `crash.${id}.rejected`,
    QALQAN_KAFKA_TOPIC_PARTITIONS: '3',
    QALQAN_WORKER_GROUP: `crash-${id}`,
    QALQAN_WORKER_PORT: '0',
    QALQAN_WORKER_SESSION_TIMEOUT_MS: '6000',
    QALQAN_WORKER_FETCH_BYTES: '262144',
    QALQAN_WORKER_MAX_AGE_DAYS: '3650',
    QALQAN_RETENTION_1M_DAYS: '3650',
    QALQAN_RETENTION_1H_DAYS: '3650',
    QALQAN_RETENTION_1D_DAYS: '3650',
    QALQAN_RETENTION_RAW_DAYS: '3650',
    // One data folder, used by one process at a time: the engine allows no more.
    QALQAN_CLICKHOUSE_URL: `chdb:${join(mkdtempSync(join(tmpdir(), 'qalqan-crash-')), 'clickhouse')}`,
  }
  const config = loadConfig(env)
  await connectKafka(config, createLogger('silent')).ensureTopics()

  const spawnWorker = (): ChildProcess =>
    spawn(process.execPath, [MAIN], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
  const exited = (child: ChildProcess) =>
    new Promise<void>((resolve) =>
      child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
    )

  const events = makeEvents(30_000, 97, Date.parse('2025-07-01T00:00:00Z'), 30)
  const streaming = produceEvents(config.kafka.topics.events, events, { batch: 500, pauseMs: 60 })
  let seed = 3
  const random = (n: number) => {
    seed = (seed * 48271) % 2147483647
    return seed % n
  }
  for (let kill = 0; kill < 4; kill++) {
    const worker = spawnWorker()
    await sleep(1500 + random(4000))
    worker.kill('SIGKILL')
    await exited(worker)
  }
  await streaming
  const last = spawnWorker()
  t.teardown(() => void last.kill('SIGKILL'))
  await waitForGroupCaughtUp(config.worker.groupId, config.kafka.topics.events, 180_000)
  last.kill('SIGTERM')
  await exited(last)
  t.equal(last.exitCode, 0, 'the last worker stopped cleanly on SIGTERM')

  const clickhouse = await createClickHouse(config)
  t.teardown(() => clickhouse.close())
  const window = ['2025-07-01 00:00:00', '2025-07-02 00:00:00'] as const
  t.same(
    await attackTotals(clickhouse, 'attacks_1m', ...window),
    totalsByKey(events),
    'minute totals equal the events produced',
  )
  t.same(await attackTotals(clickhouse, 'attacks_1d', ...window), totalsByKey(events), 'daily totals too')
  t.equal(await rawEventCount(clickhouse, config.kafka.topics.events), events.length, 'each event stored once')
})
