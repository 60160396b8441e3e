import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildContext, distProblems, moduleProblems, STEPS } from '../../deploy/check-image.js'
import { loadConfig } from '../../services/config.js'
import { PROJECT_ROOT } from '../../services/paths.js'
import { freePort } from '../helpers/free-port.js'

// deploy/Dockerfile without an engine: what it says (pinned, non-root, one entrypoint), what it
// builds (deploy/check-image.ts performs its steps and checks the result), and its HEALTHCHECK run
// against a real process.

const DOCKERFILE = join(PROJECT_ROOT, 'deploy', 'Dockerfile')
const SCRIPT = join(PROJECT_ROOT, 'dist', 'deploy', 'check-image.js')
const TEXT = readFileSync(DOCKERFILE, 'utf8')
// Logical lines, as Docker reads them: comments dropped, continuations joined.
const logicalLines = (text: string) =>
  text
    .replace(/^[ \t]*#.*\n/gm, '')
    .replace(/\\\n/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '')
const LINES = logicalLines(TEXT)
const instruction = (keyword: string) => LINES.filter((line) => line.startsWith(`${keyword} `))
// The instructions that make the image's files: from the first FROM on, all but those that only
// describe the image (checked above and below), spaces collapsed.
function fileSteps(text: string): string[] {
  const lines = logicalLines(text).map((line) => line.trim().replace(/\s+/g, ' '))
  return lines
    .slice(lines.findIndex((line) => line.startsWith('FROM ')))
    .filter((line) => !/^(LABEL|USER|EXPOSE|HEALTHCHECK|ENTRYPOINT|CMD) /.test(line))
}
const write = (file: string, text: string) => {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
}

t.test('the Dockerfile pins Node.js 24, runs as a non-root user and has one entrypoint', async (t) => {
  const args = Object.fromEntries(instruction('ARG').map((line) => line.slice(4).split('=') as [string, string]))
  const stages = instruction('FROM').map((line) => line.split(/\s+/))
  const names = stages.map((words) => words[3]).filter(Boolean)
  for (const [, image] of stages) {
    const resolved = (image ?? '').replace(/^\$\{(\w+)\}$/, (_match, name: string) => args[name] ?? '')
    if (names.includes(resolved)) continue
    t.match(
      resolved,
      /^node:24\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/,
      `${image}: Node.js 24, an exact release`,
    )
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

t.test("check-image.ts performs exactly the Dockerfile's steps, in order", async (t) => {
  t.same(fileSteps(TEXT), STEPS)
  // A changed, dropped, added or moved step, or another base, is noticed.
  const changes: [string, string][] = [
    ['--omit=dev ', ''],
    ['COPY deploy/ deploy/\n', ''],
    ['USER 1000:1000', 'COPY --from=build /app/services/ services/\nUSER 1000:1000'],
    ['COPY schemas/ schemas/\nCOPY services/ services/', 'COPY services/ services/\nCOPY schemas/ schemas/'],
    ['FROM base AS deps', 'FROM ${NODE_IMAGE} AS deps'],
    ['ENV NODE_ENV=production', 'ENV NODE_ENV=development'],
  ]
  for (const [from, to] of changes) {
    const changed = TEXT.replace(from, to)
    t.not(changed, TEXT, `the Dockerfile says ${JSON.stringify(from)}`)
    t.notSame(fileSteps(changed), STEPS, `${JSON.stringify(from)} made ${JSON.stringify(to)}`)
  }
})

t.test('the build context is what .dockerignore lets in', async (t) => {
  const inContext = buildContext(PROJECT_ROOT)
  for (const path of [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'services/main.ts',
    'schemas/clickhouse/0001_events_raw.sql',
    'deploy/local/demo.ts',
  ]) {
    t.ok(inContext(path, false), path)
  }
  for (const path of [
    'node_modules/zod/package.json',
    'dist/services/main.js',
    '.dockerignore',
    'deploy/compose.yaml',
    'deploy/local/tokens.json',
    'data/x',
    'README.md',
  ]) {
    t.notOk(inContext(path, false), path)
  }
  // a folder left out is still walked for the files a ! pattern lets in below it, and only then
  t.ok(inContext('deploy/local', true), 'deploy/local/ is walked for its .ts files')
  t.notOk(inContext('node_modules', true), 'node_modules/ is not walked')
})

t.test("check-image builds the image's files and finds them as they should be", { timeout: 180_000 }, async (t) => {
  const started = Date.now()
  const result = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', timeout: 170_000 })
  t.equal(result.status, 0, result.stderr)
  t.match(result.stdout, /^check-image: OK in \d+ s$/m)
  t.match(result.stderr, /dist\/: \d+ files, the same as tsc's/)
  t.match(result.stderr, /node_modules: the lock's \d+ production packages/)
  t.match(result.stderr, /schema: [1-9]\d* migration files/)
  t.comment(`check-image took ${Math.round((Date.now() - started) / 1000)} s`)
})

t.test("check-image tells a dist/ that is not tsc's, file by file", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-check-dist-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const map = (source: string) =>
    JSON.stringify({ version: 3, file: 'main.js', sourceRoot: '', sources: [source], names: [], mappings: 'AAAA' })
  // tsc's output for the project in repo/, written to reference/; the image's project in app/
  write(join(dir, 'reference/services/main.js'), 'main()\n')
  write(join(dir, 'reference/services/main.js.map'), map('../../repo/services/main.ts'))
  write(join(dir, 'reference/services/config.js'), 'config()\n')
  write(join(dir, 'app/dist/services/main.js'), 'main()\n')
  write(join(dir, 'app/dist/services/main.js.map'), map('../../services/main.ts'))
  write(join(dir, 'app/dist/services/config.js'), 'config()\n')
  const problems = () => distProblems(join(dir, 'app/dist'), join(dir, 'reference'), join(dir, 'repo'))
  t.same(problems(), [], 'the same build in another folder: its source map names the same source')

  write(join(dir, 'app/dist/services/main.js'), "// not tsc's\n")
  write(join(dir, 'app/dist/services/main.js.map'), map('../../services/other.ts'))
  rmSync(join(dir, 'app/dist/services/config.js'))
  write(join(dir, 'app/dist/services/extra.js'), '\n')
  t.same(problems(), [
    'differs: dist/services/main.js',
    'differs: dist/services/main.js.map',
    'missing from the image: dist/services/config.js',
    'only in the image: dist/services/extra.js',
  ])
})

t.test("check-image tells a node_modules that is not the lock's production set", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-check-modules-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const lock = join(dir, 'package-lock.json')
  const app = join(dir, 'app')
  write(
    lock,
    JSON.stringify({
      packages: {
        '': { name: 'qalqan' },
        'node_modules/zod': { version: '4.6.7' },
        'node_modules/pino': { version: '10.4.0' },
        'node_modules/tap': { version: '21.8.0', dev: true },
        'node_modules/@chdb/lib-linux-x64': { version: '3.4.0', optional: true },
      },
    }),
  )
  t.same(moduleProblems(lock, app), [
    `${join(app, 'node_modules', '.package-lock.json')} is missing: node_modules was not installed by npm`,
  ])

  const install = (packages: Record<string, { version: string }>) => {
    write(join(app, 'node_modules', '.package-lock.json'), JSON.stringify({ packages }))
    for (const path of Object.keys(packages)) write(join(app, path, 'package.json'), '{}')
  }
  install({ 'node_modules/zod': { version: '4.6.7' }, 'node_modules/pino': { version: '10.4.0' } })
  t.same(moduleProblems(lock, app), [], "the production packages at the lock's versions")

  install({
    'node_modules/zod': { version: '4.6.6' },
    'node_modules/tap': { version: '21.8.0' },
    'node_modules/left-pad': { version: '1.3.0' },
  })
  rmSync(join(app, 'node_modules/left-pad'), { recursive: true })
  t.same(moduleProblems(lock, app), [
    'missing: node_modules/zod@4.6.7',
    'missing: node_modules/pino@10.4.0',
    "not one of the lock's production packages: node_modules/zod@4.6.6",
    "not one of the lock's production packages: node_modules/tap@21.8.0",
    "not one of the lock's production packages: node_modules/left-pad@1.3.0",
    'recorded but absent: node_modules/left-pad',
  ])
})

t.test('the HEALTHCHECK passes while the process answers and fails once it stops', { timeout: 120_000 }, async (t) => {
  const healthcheck = instruction('HEALTHCHECK')[0] ?? ''
  const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4)) as string[]
  t.equal(command[0], 'node', "it runs the program's own runtime")
  t.match(healthcheck, /--timeout=(\d+)s/)

  // The query role needs neither Kafka nor a server: the embedded engine stands in for ClickHouse.
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'qalqan-healthcheck-'))
  const env = {
    PATH: process.env['PATH'] ?? '',
    QALQAN_ROLE: 'query',
    QALQAN_QUERY_PORT: String(port),
    QALQAN_QUERY_HOST: '0.0.0.0',
    // The check asks the ops port, where the query API's own port may speak HTTPS.
    QALQAN_OPS_PORT: String(await freePort()),
    QALQAN_TOKENS_FILE: join(PROJECT_ROOT, 'test', 'fixtures', 'tokens.json'),
    QALQAN_DATA_DIR: dataDir,
    QALQAN_LOG_LEVEL: 'warn',
  }
  // The check runs in the image's WORKDIR, where dist/ is: here, the repository's dist/.
  const check = (settings: Record<string, string>) =>
    spawnSync(command[0] ?? 'node', command.slice(1), {
      cwd: PROJECT_ROOT,
      env: settings,
      encoding: 'utf8',
      timeout: 10_000,
    })

  t.equal(check(env).status, 1, 'unhealthy before the process listens')
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'services', 'main.js')], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
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
  t.equal(
    check({ ...env, QALQAN_ROLE: 'query,worker', QALQAN_WORKER_PORT: String(await freePort()) }).status,
    1,
    'unhealthy when one of its roles does not answer',
  )

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'the process stops cleanly on SIGTERM')
  t.equal(check(env).status, 1, 'unhealthy once it stopped')
})
