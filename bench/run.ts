/**
 * Runs every case of bench/cases.ts in one measurement against the broker that bench/run.sh
 * started, then writes bench/RESULTS.md, bench/throughput.svg and bench/results.json.
 * Started by `npm run bench` (bench/run.sh), which passes the broker in BENCH_* variables.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { Broker } from './broker.js'
import { runCompression } from './case-compression.js'
import { runEngine } from './case-engine.js'
import { runFreshness } from './case-freshness.js'
import { runHttp } from './case-http.js'
import { runProducerPerf } from './case-producer-perf.js'
import { runProfile } from './case-profile.js'
import { WorkerRuns } from './case-worker.js'
import { CASES, type Case } from './cases.js'
import { assetRegistry } from './generator.js'
import { log } from './log.js'
import { killAll } from './procs.js'
import { gitDescription, machineInfo, versions } from './provenance.js'
import { writeReport } from './report.js'
import type { Results } from './results.js'
import { ASSETS_FILE, BENCH, BROKERS, ONLY, ROOT } from './settings.js'
import { round } from './stats.js'

// The whole suite must end by itself: past this, everything is killed and the run fails.
const WATCHDOG_MS = 14 * 60_000

async function main(): Promise<void> {
  const startedAt = new Date()
  const watchdog = setTimeout(() => {
    log(`the suite ran past ${WATCHDOG_MS / 60_000} minutes: stopping everything`)
    killAll()
    process.exit(1)
  }, WATCHDOG_MS)
  watchdog.unref()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll()
      process.exit(130)
    })
  }
  writeFileSync(ASSETS_FILE, JSON.stringify(assetRegistry(), null, 2))
  mkdirSync(join(BENCH, 'profiles'), { recursive: true })
  const broker = await Broker.connect(BROKERS)
  const worker = new WorkerRuns(broker)

  const results: Results = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    durationSeconds: 0,
    command: process.env['BENCH_COMMAND'] ?? 'npm run bench',
    machine: machineInfo(),
    versions: versions(),
    git: gitDescription(),
    loadAverage: loadavg()
      .map((n) => n.toFixed(2))
      .join(', '),
    brokerHeap: process.env['LOCAL_KAFKA_HEAP'] ?? '-Xms256m -Xmx768m (kafka.sh default)',
    http: [],
    profiles: [],
    problems: [],
  }
  /** Runs one case, adds its figures to `results` and logs the headline. */
  const runCase = async (spec: Case): Promise<void> => {
    if (spec.kind === 'http') {
      const figure = await runHttp(broker, spec)
      results.http.push(figure)
      const { p50, p99 } = figure.latencyMs
      log(`  ${figure.eventsPerSecond} events/s, p50 ${p50} ms, p99 ${p99} ms, non-2xx ${figure.non2xx}`)
    } else if (spec.kind === 'producer-perf') {
      results.producerPerf = await runProducerPerf(broker, spec)
      log(`  ${results.producerPerf.line}`)
    } else if (spec.kind === 'compression') {
      results.compression = await runCompression(spec)
      results.compressionCase = spec
      for (const c of results.compression) {
        log(`  ${c.codec}: ${c.ok ? `${c.eventsPerSecond} events/s, ${c.bytesPerEvent} B/event on disk` : c.problem}`)
      }
    } else if (spec.kind === 'worker') {
      results.worker = await worker.run(spec)
      const { eventsPerSecond, committed, events } = results.worker
      log(`  ${eventsPerSecond} events/s (${committed}/${events} committed)`)
    } else if (spec.kind === 'engine') {
      results.engine = await runEngine(spec)
      const { format, withViews, withoutViews } = results.engine
      log(`  ${format}: ${withViews.rowsPerSecond} rows/s with the views, ${withoutViews.rowsPerSecond} without`)
    } else if (spec.kind === 'freshness') {
      results.freshnessTimeoutSeconds = spec.probeTimeoutSeconds
      results.freshness = await runFreshness(broker, spec)
      const { p50Ms, p99Ms, load } = results.freshness
      log(`  freshness p50 ${p50Ms} ms, p99 ${p99Ms} ms at ${load.eventsPerSecond} events/s`)
    } else {
      const profile = await runProfile(spec, {
        http: (of, dir) => runHttp(broker, of, dir),
        worker: (of, dir) => worker.run(of, dir),
      })
      results.profiles.push(profile)
      log(
        `  top: ${profile.summary.top
          .slice(0, 3)
          .map((f) => `${f.name} ${f.share}%`)
          .join(', ')}`,
      )
    }
  }

  const suiteStarted = performance.now()
  for (const spec of CASES) {
    if (ONLY !== undefined && !ONLY.has(spec.name)) continue
    log(`${spec.name}: ${spec.goal}`)
    const caseStarted = performance.now()
    try {
      await runCase(spec)
    } catch (err) {
      const message = `${spec.name}: ${(err as Error).message}`.slice(0, 2000)
      results.problems.push(message)
      log(`  FAILED ${message}`)
    }
    log(`  (${round((performance.now() - caseStarted) / 1000, 1)} s)`)
  }
  await worker.deleteTopic()
  await broker.disconnect()
  results.finishedAt = new Date().toISOString()
  const setupSeconds = Number(process.env['BENCH_SETUP_SECONDS'] ?? 0)
  results.durationSeconds = Math.round((performance.now() - suiteStarted) / 1000 + setupSeconds)

  // A partial run (BENCH_ONLY=case,case) never overwrites the report of a whole run.
  const out = ONLY === undefined ? BENCH : join(BENCH, 'partial')
  mkdirSync(out, { recursive: true })
  const previousFile = join(out, 'results.json')
  const previous = existsSync(previousFile) ? (JSON.parse(readFileSync(previousFile, 'utf8')) as Results) : undefined
  writeFileSync(previousFile, `${JSON.stringify(results, null, 2)}\n`)
  writeReport(out, results, previous)
  clearTimeout(watchdog)
  const problems = results.problems.length > 0 ? `, ${results.problems.length} problem(s)` : ''
  const written = `${out.slice(ROOT.length + 1)}/RESULTS.md, throughput.svg and results.json`
  log(`wrote ${written} (${results.durationSeconds} s${problems})`)
  // Nothing may keep the process (and so the broker) alive after the report.
  process.exit(results.problems.length > 0 ? 1 : 0)
}

await main()
