/**
 * Starts Qalqan as it runs in production, `node dist/services/main.js --role=...`, each role set in
 * its own process, on the bench's broker with its test tokens and limits that never throttle the load.
 */
import { type Proc, start } from './procs.js'
import { ASSETS_FILE, BROKERS, MAIN, ROOT, TOKENS_FILE } from './settings.js'

/** `node` flags for a profiled run: a .cpuprofile in `profileDir` when the process exits. */
export function nodeArgs(profileDir: string | undefined): string[] {
  return profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
}

/** `roles` as --role takes them (collector, or worker,query); `settings` add to or override the bench's. */
export function startQalqan(roles: string, settings: Record<string, string>, profileDir?: string): Proc {
  return start(roles, process.execPath, [...nodeArgs(profileDir), MAIN, `--role=${roles}`], qalqanEnv(settings), ROOT)
}

function qalqanEnv(extra: Record<string, string>): Record<string, string> {
  return {
    QALQAN_KAFKA_BROKERS: BROKERS,
    QALQAN_LOG_LEVEL: 'warn',
    QALQAN_TOKENS_FILE: TOKENS_FILE,
    QALQAN_ASSETS_FILE: ASSETS_FILE,
    QALQAN_KAFKA_TOPIC_REJECTED: 'bench.rejected',
    QALQAN_COLLECTOR_SENSOR_RATE: '100000000',
    QALQAN_COLLECTOR_SENSOR_BURST: '100000000',
    QALQAN_COLLECTOR_MAX_EVENTS: '10000',
    ...extra,
  }
}
