/**
 * What every part of one run shares: where things are, the broker that run.sh started (passed in
 * BENCH_* variables), the run's id and the tokens the load uses. Read once, when the run starts.
 */
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

// Compiled to dist/bench/settings.js: the repository is two folders up.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BENCH = join(ROOT, 'bench')
export const MAIN = join(ROOT, 'dist', 'services', 'main.js')
export const DIST_BENCH = join(ROOT, 'dist', 'bench')

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`${name} is not set: run the suite with npm run bench`)
  return value
}
export const BROKERS = env('BENCH_KAFKA_BROKERS')
export const KAFKA_DIR = env('BENCH_KAFKA_DIR')
export const TMP = env('BENCH_TMP')
/** The Go reference server, built by run.sh into the run's temp folder. */
export const REFERENCE_SERVER = join(TMP, 'reference-server')
export const KAFKA_PID = Number(readFileSync(join(KAFKA_DIR, 'kafka.pid'), 'utf8').trim())
/** Part of every topic and group name, so no run ever reads another's. */
export const RUN_ID = new Date()
  .toISOString()
  .replace(/[-:.TZ]/g, '')
  .slice(0, 14)
const only = process.env['BENCH_ONLY']
/** The cases named in BENCH_ONLY=case,case; undefined: all of them. */
export const ONLY = only === undefined || only === '' ? undefined : new Set(only.split(','))

// test/fixtures/tokens.json: fine for benchmarks; never deployed.
export const TOKENS_FILE = join(ROOT, 'test', 'fixtures', 'tokens.json')
export const SENSOR_TOKENS = ['test-sensor-astana', 'test-sensor-almaty', 'test-sensor-atyrau']
export const ANALYST_TOKEN = 'test-analyst'
/** Written by run.ts from generator.ts's registry before the first case. */
export const ASSETS_FILE = join(TMP, 'assets.json')
