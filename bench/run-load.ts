/** Runs the load generator (bench/load.ts) in its own process, so it never shares an event loop with its target. */
import { join } from 'node:path'
import type { LoadResult, LoadSpec } from './load.js'
import { start, waitExit } from './procs.js'
import { DIST_BENCH, ROOT } from './settings.js'

/** `onMeasuring` fires when the warm-up is over: the measured window starts. */
export async function runLoad(spec: LoadSpec, onMeasuring: () => void): Promise<LoadResult> {
  const proc = start('load', process.execPath, [join(DIST_BENCH, 'load.js'), JSON.stringify(spec)], {}, ROOT)
  proc.onLine((line) => {
    if (line === 'measuring') onMeasuring()
  })
  const code = await waitExit(proc, (spec.warmupSeconds + spec.durationSeconds + 90) * 1000)
  const line = proc.stdout.trim().split('\n').at(-1) ?? ''
  if (code !== 0 || !line.startsWith('{')) {
    throw new Error(`the load generator failed (exit ${code}): ${proc.stderr.slice(-1500)}`)
  }
  return JSON.parse(line) as LoadResult
}
