/**
 * Where a process spent its CPU: the top self-time functions of a V8 .cpuprofile (from
 * `node --cpu-prof`), and the same time grouped by where the code lives (a package, a Qalqan
 * file, Node's internals, GC). Usable on its own:
 *
 *   node dist/bench/profile-summary.js bench/profiles/collector-batch-500.cpuprofile [top]
 */
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface ProfileLine {
  name: string
  where: string
  selfMs: number
  share: number
}

export interface ProfileSummary {
  totalMs: number
  /** Sampled time not idle: what the process actually ran. */
  busyMs: number
  top: ProfileLine[]
  byArea: ProfileLine[]
}

/** Where a function lives, short: `kafkajs/src/protocol/...`, `services/kafka/producer.ts`, `node:internal/...`. */
function location(url: string, line: number): string {
  if (url === '') return ''
  const path = url.replace(/^file:\/\//, '')
  const modules = path.lastIndexOf('/node_modules/')
  // Lines are of the compiled dist/ files (the profile does not follow source maps).
  const short = modules >= 0 ? path.slice(modules + '/node_modules/'.length) : path.replace(/^.*\/dist\//, 'dist/')
  return `${short}:${line + 1}`
}

function area(url: string, name: string): string {
  if (url === '') {
    if (name === '(garbage collector)') return 'GC'
    if (name === '(idle)') return 'idle'
    if (name === '(program)') return '(program): native, outside JS'
    return `native: ${name}`
  }
  const path = url.replace(/^file:\/\//, '')
  const modules = path.lastIndexOf('/node_modules/')
  if (modules >= 0) {
    const rest = path.slice(modules + '/node_modules/'.length).split('/')
    return `npm: ${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`
  }
  if (path.startsWith('node:')) return 'node internals'
  const dist = path.indexOf('/dist/')
  if (dist >= 0) return `qalqan: ${path.slice(dist + '/dist/'.length).replace(/\.js$/, '.ts')}`
  return path
}

export function summarize(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfUs = new Map<number, number>()
  for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  let totalUs = 0
  let idleUs = 0
  const functions = new Map<string, { name: string; where: string; us: number }>()
  const areas = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    if (node === undefined) continue
    const { functionName, url, lineNumber } = node.callFrame
    const name = functionName === '' ? '(anonymous)' : functionName
    totalUs += us
    if (name === '(idle)') idleUs += us
    const key = `${name}@${url}:${lineNumber}`
    const entry = functions.get(key) ?? { name, where: location(url, lineNumber), us: 0 }
    entry.us += us
    functions.set(key, entry)
    const group = area(url, name)
    areas.set(group, (areas.get(group) ?? 0) + us)
  }
  const busyUs = totalUs - idleUs
  const line = (name: string, where: string, us: number): ProfileLine => ({
    name,
    where,
    selfMs: Math.round(us / 1000),
    share: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0,
  })
  return {
    totalMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    top: [...functions.values()]
      .filter((f) => f.name !== '(idle)')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => line(f.name, f.where, f.us)),
    byArea: [...areas.entries()]
      .filter(([name]) => name !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => line(name, '', us)),
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2]
  if (file === undefined) {
    process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile [top]\n')
    process.exit(2)
  }
  const summary = summarize(file, Number(process.argv[3] ?? 20))
  process.stdout.write(`busy ${summary.busyMs} ms of ${summary.totalMs} ms sampled\n\nself time by function:\n`)
  for (const f of summary.top)
    process.stdout.write(
      `  ${String(f.share).padStart(5)}%  ${String(f.selfMs).padStart(7)} ms  ${f.name}  ${f.where}\n`,
    )
  process.stdout.write('\nself time by where the code lives:\n')
  for (const a of summary.byArea)
    process.stdout.write(`  ${String(a.share).padStart(5)}%  ${String(a.selfMs).padStart(7)} ms  ${a.name}\n`)
}
