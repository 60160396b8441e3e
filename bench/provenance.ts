/** What results.json records the figures were taken on: the machine, the versions and the commit. */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import type { Results } from './results.js'
import { BENCH, ROOT } from './settings.js'
import { round } from './stats.js'

export function machineInfo(): Results['machine'] {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown'
  let kernel = ''
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()
  } catch {
    kernel = 'unknown'
  }
  return { cores: cpus().length, model, memoryGiB: round(totalmem() / 1024 ** 3, 1), kernel }
}

/** The version in `dir`/node_modules/`name`/package.json, or 'not installed'. */
function installedVersion(dir: string, name: string): string {
  try {
    const manifest = readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')
    return (JSON.parse(manifest) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

export function versions(): Record<string, string> {
  const classpath = execFileSync('bash', [join(ROOT, 'deploy', 'kafka', 'kafka.sh'), 'classpath'], { encoding: 'utf8' })
  let java = ''
  try {
    java = execFileSync('java', ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    java = String((err as { stderr?: string }).stderr ?? '')
  }
  // java -version writes to stderr.
  const javaVersion = execFileSync('bash', ['-c', 'java -version 2>&1 | head -n1'], { encoding: 'utf8' }).trim() || java
  const ours = (name: string) => installedVersion(ROOT, name)
  // The codecs are bench/compression.ts's alone, installed in bench/codecs/.
  const codec = (name: string) => installedVersion(join(BENCH, 'codecs'), name)
  return {
    node: process.version,
    kafka: /kafka-clients-([\d.]+)\.jar/.exec(classpath)?.[1] ?? 'unknown',
    java: javaVersion,
    kafkajs: ours('kafkajs'),
    fastify: ours('fastify'),
    zod: ours('zod'),
    chdb: ours('chdb'),
    '@clickhouse/client': ours('@clickhouse/client'),
    autocannon: ours('autocannon'),
    'kafkajs-lz4': codec('kafkajs-lz4'),
    '@kafkajs/zstd': codec('@kafkajs/zstd'),
  }
}

/** The short commit, marked when services/ or schemas/ differ from it: the figures are of that code. */
export function gitDescription(): string {
  try {
    const git = (args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim()
    const head = git(['rev-parse', '--short', 'HEAD'])
    const dirty = git(['status', '--porcelain', '--', 'services', 'schemas'])
    return dirty === '' ? head : `${head} (services/ or schemas/ with uncommitted changes)`
  } catch {
    return 'unknown'
  }
}
