import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig } from '../../services/config.js'
import { PROJECT_ROOT } from '../../services/paths.js'

// deploy/Dockerfile without an engine: what it says (pinned, non-root, one entrypoint), what it
// builds (deploy/check-image.sh performs its steps), and its HEALTHCHECK run against a real process.

const DOCKERFILE = join(PROJECT_ROOT, 'deploy', 'Dockerfile')
const SCRIPT = join(PROJECT_ROOT, 'deploy', 'check-image.sh')
const TEXT = readFileSync(DOCKERFILE, 'utf8')
// Logical lines, as Docker reads them: comments dropped, continuations joined.
const LINES = TEXT.replace(/^[ \t]*#.*\n/gm, '').replace(/\\\n/g, '').split('\n').filter((line) => line.trim() !== '')
const instruction = (keyword: string) => LINES.filter((line) => line.startsWith(`${keyword} `))

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

t.test('the Dockerfile pins Node.js 24, runs as a non-root user and has one entrypoint', async (t) => {
  const args = Object.fromEntries(instruction('ARG').map((line) => line.slice(4).split('=') as [string, string]))
  const stages = instruction('FROM').map((line) => line.split(/\s+/))
  const names = stages.map((words) => words[3]).filter(Boolean)
  for (const [, image] of stages) {
    const resolved = (image ?? '').replace(/^\$\{(\w+)\}$/, (_match, name: string) => args[name] ?? '')
    if (names.includes(resolved)) continue
    t.match(resolved, /^node:24\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/, `${image}: Node.js 24, an exact release`)
  }
  t.equal(stages.at(-1)?.[3], 'runtime', 'the last stage is what runs')
  t.same(instruction('USER'), ['USER 1000:1000'], 'a numeric non-root user, so runAsNonRoot can check it')
  t.same(instruction('ENTRYPOINT'), ['ENTRYPOINT ["node", "dist/services/main.js"]'])
  // The ports the image announces are the program's defaults.
  const defaults = loadConfig({ QALQAN_TOKENS_FILE: '/dev/null' })
  const exposed = instruction('EXPOSE').flatMap((line) => line.slice(7).split(/\s+/).map(Number))
  t.same(exposed.sort(), [defaults.collector.port, defaults.query.port, defaults.worker.port].sort())
  t.notMatch(TEXT, /:latest\b/)
})

t.test('check-image.sh builds the image\'s files and finds its dist/ the one the tests run', { timeout: 180_000 }, async (t) => {
  const started = Date.now()
  const result = spawnSync('bash', [SCRIPT], { encoding: 'utf8', timeout: 170_000 })
  t.equal(result.status, 0, result.stderr)
  t.match(result.stdout, /^check-image: OK in \d+ s$/m)
  t.match(result.stderr, /dist\/: \d+ files, the same as tsc's/)
  t.match(result.stderr, /node_modules: the lock's \d+ production packages/)
  t.comment(`check-image.sh took ${Math.round((Date.now() - started) / 1000)} s`)
})

t.test('check-image.sh fails on a dist/ that is not tsc\'s', { timeout: 60_000 }, async (t) => {
  // A build that writes its own dist/ instead of compiling: no install, so this one is quick.
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-dockerfile-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const dockerfile = join(dir, 'Dockerfile')
  writeFileSync(dockerfile, [
    'FROM node:24.21.0-bookworm-slim AS build',
    'WORKDIR /app',
    'COPY package.json tsconfig.json ./',
    'COPY services/ services/',
    'RUN mkdir -p dist/services && echo "// not tsc\'s" > dist/services/main.js',
    '',
  ].join('\n'))
  const result = spawnSync('bash', [SCRIPT], { encoding: 'utf8', timeout: 55_000, env: { ...process.env, CHECK_IMAGE_DOCKERFILE: dockerfile } })
  t.equal(result.status, 1)
  t.match(result.stderr, /the image's dist\/ is not the one the tests run/)
  t.match(result.stderr, /differs: dist\/services\/main\.js/)
  t.match(result.stderr, /missing from the image: dist\/schemas\/event\.js/)
})

t.test('the HEALTHCHECK passes while the process answers and fails once it stops', { timeout: 120_000 }, async (t) => {
  const healthcheck = instruction('HEALTHCHECK')[0] ?? ''
  const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4)) as string[]
  t.equal(command[0], 'node', 'it runs the program\'s own runtime')
  t.match(healthcheck, /--timeout=(\d+)s/)

  // The query role needs neither Kafka nor a server: the embedded engine stands in for ClickHouse.
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'qalqan-healthcheck-'))
  const env = {
    PATH: process.env['PATH'] ?? '',
    QALQAN_ROLE: 'query',
    QALQAN_QUERY_PORT: String(port),
    QALQAN_QUERY_HOST: '0.0.0.0',
    QALQAN_TOKENS_FILE: join(PROJECT_ROOT, 'test', 'fixtures', 'tokens.json'),
    QALQAN_DATA_DIR: dataDir,
    QALQAN_LOG_LEVEL: 'warn',
  }
  // The check runs in the image's WORKDIR, where dist/ is: here, the repository's dist/.
  const check = (settings: Record<string, string>) =>
    spawnSync(command[0] ?? 'node', command.slice(1), { cwd: PROJECT_ROOT, env: settings, encoding: 'utf8', timeout: 10_000 })

  t.equal(check(env).status, 1, 'unhealthy before the process listens')
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'services', 'main.js')], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.teardown(() => {
    child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })

  let healthy = false
  for (let waited = 0; waited < 90 && !healthy && child.exitCode === null; waited++) {
    healthy = check(env).status === 0
    if (!healthy) await sleep(1000)
  }
  t.ok(healthy, `healthy once the query API listens${healthy ? '' : `: ${stderr}`}`)
  t.equal(check({ ...env, QALQAN_ROLE: 'query,worker', QALQAN_WORKER_PORT: String(await freePort()) }).status, 1, 'unhealthy when one of its roles does not answer')

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'the process stops cleanly on SIGTERM')
  t.equal(check(env).status, 1, 'unhealthy once it stopped')
})
