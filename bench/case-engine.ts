/**
 * The engine case: engine-limit.js in a process of its own (the embedded engine binds one data
 * folder per process), reporting the fastest format's rows/s with and without the views.
 */
import { join } from 'node:path'
import type { EngineCase } from './cases.js'
import { start, waitExit } from './procs.js'
import type { EngineFigure } from './results.js'
import { DIST_BENCH, ROOT, TMP } from './settings.js'

export async function runEngine(spec: EngineCase): Promise<EngineFigure> {
  const args = [
    join(DIST_BENCH, 'engine-limit.js'),
    join(TMP, 'engine-limit'),
    String(spec.events),
    String(spec.batch),
    String(spec.seed),
  ]
  const proc = start('engine-limit', process.execPath, args, {}, ROOT)
  const code = await waitExit(proc, spec.timeoutSeconds * 1000)
  if (code !== 0) throw new Error(`engine-limit exited with ${code}: ${proc.stderr.slice(-1500)}`)
  const answer = JSON.parse(proc.stdout.trim().split('\n').at(-1) ?? '{}') as {
    events: number
    batch: number
    stored: number
    figures: Record<string, { views: number; noViews: number }>
  }
  // Each format is inserted once with the views: a count short of that is a failed measurement.
  const formats = Object.keys(answer.figures)
  if (answer.stored !== answer.events * formats.length)
    throw new Error(`engine-limit stored ${answer.stored} rows, expected ${answer.events * formats.length}`)
  const [format, best] = Object.entries(answer.figures).sort(([, a], [, b]) => b.views - a.views)[0] ?? []
  if (format === undefined || best === undefined) throw new Error('engine-limit measured no format')
  return {
    events: answer.events,
    batch: answer.batch,
    format,
    withViews: { rowsPerSecond: best.views },
    withoutViews: { rowsPerSecond: best.noViews },
    formats: answer.figures,
  }
}
