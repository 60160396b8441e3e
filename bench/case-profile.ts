/**
 * A profile case: another case run again with `node --cpu-prof` on the product process, kept as
 * bench/profiles/NAME.cpuprofile and summarised. The figures of that run are not results.
 */
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { CASES, type HttpCase, type ProfileCase, type WorkerCase } from './cases.js'
import { summarize } from './profile-summary.js'
import type { ProfileFigure } from './results.js'
import { BENCH, ROOT } from './settings.js'

/** How to run the cases that can be profiled, with the folder their process writes its profile to. */
export interface Profilable {
  http(spec: HttpCase, profileDir: string): Promise<unknown>
  worker(spec: WorkerCase, profileDir: string): Promise<unknown>
}

export async function runProfile(spec: ProfileCase, run: Profilable): Promise<ProfileFigure> {
  const dir = join(BENCH, 'profiles', `${spec.name}.tmp`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const of = CASES.find((c) => c.name === spec.of)
  if (of === undefined) throw new Error(`profile ${spec.name}: no case named ${spec.of}`)
  if (of.kind === 'http') await run.http({ ...of, durationSeconds: spec.durationSeconds }, dir)
  else if (of.kind === 'worker') await run.worker(of, dir)
  else throw new Error(`profile ${spec.name}: cannot profile a ${of.kind} case`)
  // A collector of several processes writes one profile each (its primary's mostly idle): the busiest is kept.
  const written = readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => ({ name, busyMs: summarize(join(dir, name), 1).busyMs }))
    .sort((a, b) => b.busyMs - a.busyMs)[0]
  if (written === undefined) {
    throw new Error(`profile ${spec.name}: the process wrote no .cpuprofile (did it exit cleanly?)`)
  }
  const file = join(BENCH, 'profiles', `${spec.name}.cpuprofile`)
  renameSync(join(dir, written.name), file)
  rmSync(dir, { recursive: true, force: true })
  return { name: spec.name, of: spec.of, file: file.slice(ROOT.length + 1), summary: summarize(file, 15) }
}
