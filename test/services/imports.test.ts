import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { PROJECT_ROOT } from '../../services/paths.js'

// The floor plan as a rule: no import cycles, no import from a lower layer up to a higher one,
// no role wing reaching into another, and each vendor client imported only inside its own wing.

/** Layers from the bottom: a file may import its own layer's shared files, its own wing, and below. */
const LAYERS: [layer: number, pattern: RegExp][] = [
  // A script that writes files beside the schemas, from wherever it runs (services/paths.ts finds where).
  [5, /^schemas\/export-json-schema\.ts$/],
  [0, /^schemas\//],
  [1, /^services\/(config|errors|metrics|cluster-metrics|cores|pem|logger|reloadable|paths|time-limits|shutdown)\.ts$/],
  [2, /^services\/(http|kafka|clickhouse)\//],
  [3, /^services\/(collector|worker|query)\//],
  // A tool over the roles' steps (the replay decodes as the collector and reads as the worker).
  [4, /^services\/(roles\.ts$|replay\/)/],
  [5, /^services\/main\.ts$/],
]

/** The only folders whose files may import each vendor client. */
const VENDOR_WINGS: Record<string, RegExp> = {
  kafkajs: /^services\/kafka\//,
  '@clickhouse/client': /^services\/clickhouse\//,
  chdb: /^services\/clickhouse\//,
}

/**
 * Benchmark files with a Kafka client of their own: reference programs measured against Qalqan (so
 * written without its code on purpose), and the harness's admin of throwaway topics, which the
 * product has no use for (bench/README.md says which is which).
 */
const BENCH_REFERENCES = new Set(['bench/naive-collector.ts', 'bench/compression.ts', 'bench/broker.ts'])

function sourceFiles(dir: string): string[] {
  return readdirSync(join(PROJECT_ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`
    if (entry.isDirectory()) return entry.name === 'codecs' || entry.name === 'node_modules' ? [] : sourceFiles(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

/** Each file's imports: repository paths for relative ones, package names for the rest. */
function importsOf(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(join(PROJECT_ROOT, file), 'utf8')
  const local: string[] = []
  const packages: string[] = []
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2] ?? ''
    if (spec.startsWith('.'))
      local.push(relative(PROJECT_ROOT, resolve(PROJECT_ROOT, dirname(file), spec)).replace(/\.js$/, '.ts'))
    else if (!spec.startsWith('node:'))
      packages.push(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec))
  }
  return { local, packages }
}

const files = [...sourceFiles('services'), ...sourceFiles('schemas'), ...sourceFiles('bench')]
const graph = new Map(files.map((file) => [file, importsOf(file)]))

function layerOf(file: string): number | undefined {
  return LAYERS.find(([, pattern]) => pattern.test(file))?.[0]
}

function wingOf(file: string): string {
  return file.split('/').slice(0, 2).join('/')
}

/** Every cycle's files, found by a depth-first walk (each cycle reported once, by its first file). */
function cycles(): string[][] {
  const found: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (file: string) => {
    state.set(file, 'open')
    stack.push(file)
    for (const next of graph.get(file)?.local ?? []) {
      if (!graph.has(next)) continue
      if (state.get(next) === 'open') found.push(stack.slice(stack.indexOf(next)))
      else if (state.get(next) === undefined) visit(next)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of files) if (state.get(file) === undefined) visit(file)
  return found
}

t.test('the sources are all found and every relative import names a file that exists', async (t) => {
  t.ok(files.length > 60, `${files.length} files`)
  const dangling = files.flatMap((file) =>
    (graph.get(file)?.local ?? []).filter((target) => !graph.has(target)).map((target) => `${file} -> ${target}`),
  )
  t.same(dangling, [])
})

t.test('no import cycle in services/, schemas/ or bench/', async (t) => {
  t.same(
    cycles().map((cycle) => cycle.join(' -> ')),
    [],
  )
})

t.test('no import from a lower layer up to a higher one, and no role wing imports another', async (t) => {
  const problems: string[] = []
  for (const file of files.filter((f) => f.startsWith('services/') || f.startsWith('schemas/'))) {
    const from = layerOf(file)
    if (from === undefined) {
      problems.push(`${file} is in no layer: place it in a wing or add it to LAYERS`)
      continue
    }
    for (const target of graph.get(file)?.local ?? []) {
      const to = layerOf(target)
      if (to === undefined) problems.push(`${file} imports ${target}, which is in no layer`)
      else if (to > from) problems.push(`${file} (layer ${from}) imports ${target} (layer ${to}) above it`)
      else if (to === from && from >= 2 && wingOf(target) !== wingOf(file))
        problems.push(`${file} imports ${target} from another wing`)
    }
  }
  t.same(problems, [])
})

t.test('kafkajs, @clickhouse/client and chdb are imported only inside their own wing', async (t) => {
  const problems: string[] = []
  for (const file of files.filter((f) => !BENCH_REFERENCES.has(f))) {
    for (const name of graph.get(file)?.packages ?? []) {
      const wing = VENDOR_WINGS[name]
      if (wing !== undefined && !wing.test(file)) problems.push(`${file} imports ${name}`)
    }
  }
  t.same(problems, [])
  const used = new Set(files.flatMap((file) => graph.get(file)?.packages ?? []))
  for (const name of Object.keys(VENDOR_WINGS))
    t.ok(used.has(name), `${name} is imported somewhere (the rule is not vacuous)`)
})

t.test('the checks catch what they are meant to catch', async (t) => {
  graph.set('services/kafka/client.ts', { local: ['services/collector/app.ts'], packages: ['kafkajs'] })
  graph.set('services/collector/app.ts', {
    local: ['services/kafka/client.ts', 'services/worker/store.ts'],
    packages: ['@clickhouse/client'],
  })
  t.teardown(() => {
    graph.set('services/kafka/client.ts', importsOf('services/kafka/client.ts'))
    graph.set('services/collector/app.ts', importsOf('services/collector/app.ts'))
  })
  t.ok(
    cycles().some((cycle) => cycle.includes('services/kafka/client.ts') && cycle.includes('services/collector/app.ts')),
    'a cycle is found',
  )
  t.equal(layerOf('services/kafka/client.ts'), 2)
  t.equal(layerOf('services/collector/app.ts'), 3)
  t.not(wingOf('services/collector/app.ts'), wingOf('services/worker/store.ts'), 'wings differ')
  t.same(importsOf('services/roles.ts').local.includes('services/kafka/index.ts'), true, 'imports are read')
})
