// Builds the files of deploy/Dockerfile's image without a container engine, and checks them.
//
//   npm run build && node dist/deploy/check-image.js [--keep]    (--keep leaves the work folder)
//
// It performs STEPS, each stage in a folder standing for its root, this machine's node and npm in
// place of the base image's. Then the last stage's /app must hold only dist/, schemas/, package.json
// and node_modules/; its dist/ must be, file for file, what `tsc -p tsconfig.json` makes of the
// repository (the dist/ the tests run); its node_modules the lock's production packages at the
// lock's versions; and the program must start from that folder alone and find its schema there.
import { execFile, type ExecFileOptions } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PROJECT_ROOT } from '../services/paths.js'

// The Dockerfile's instructions that make the image's files, one logical line each, in order:
// test/deploy/image.test.ts fails when the Dockerfile says other ones. Its comments say why.
export const STEPS = [
  'FROM ${NODE_IMAGE} AS base',
  'WORKDIR /app',
  'ENV NPM_CONFIG_UPDATE_NOTIFIER=false',
  'FROM base AS deps',
  'COPY package.json package-lock.json ./',
  'RUN --mount=type=cache,target=/root/.npm npm install --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund',
  'FROM base AS build',
  'COPY package.json package-lock.json ./',
  'RUN --mount=type=cache,target=/root/.npm npm install --omit=optional --ignore-scripts --no-audit --no-fund',
  'COPY tsconfig.json ./',
  'COPY schemas/ schemas/',
  'COPY services/ services/',
  'COPY deploy/ deploy/',
  'RUN npx tsc -p tsconfig.json',
  'FROM ${NODE_IMAGE} AS runtime',
  'WORKDIR /app',
  'ENV NODE_ENV=production QALQAN_COLLECTOR_HOST=0.0.0.0 QALQAN_QUERY_HOST=0.0.0.0 QALQAN_WORKER_HOST=0.0.0.0',
  'COPY --from=build /app/package.json ./',
  'COPY --from=build /app/schemas/ schemas/',
  'COPY --from=build /app/dist/ dist/',
  'COPY --from=deps /app/node_modules/ node_modules/',
]

// Whether .dockerignore lets a path into the build context, by Docker's rules as far as that file
// uses them: the last matching pattern wins, ! lets a path back in, * stays within a path segment,
// **/ spans segments, and a pattern matching a folder matches all under it. A folder left out is
// still walked when a ! pattern may let in something below it.
export function buildContext(repo: string): (path: string, folder: boolean) => boolean {
  const lines = readFileSync(join(repo, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^[^#]/.test(line))
  const rules = lines.map((line) => {
    const pattern = line.replace(/^!\s*/, '').replace(/^\/+|\/+$/g, '')
    const glob = pattern
      .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
      .replaceAll('**/', '\0')
      .replaceAll('*', '[^/]*')
      .replaceAll('\0', '(?:.*/)?')
    return {
      include: line.startsWith('!'),
      prefix: pattern.split('*')[0] ?? '',
      regex: new RegExp(`^${glob}(?:/.*)?$`),
    }
  })
  return (path, folder) =>
    rules.reduce((kept, rule) => (rule.regex.test(path) ? rule.include : kept), true) ||
    (folder &&
      rules.some((rule) => rule.include && (rule.prefix.startsWith(`${path}/`) || `${path}/`.startsWith(rule.prefix))))
}

function exec(failure: string, file: string, args: string[], options: ExecFileOptions): Promise<string> {
  return new Promise((done, fail) =>
    execFile(file, args, { ...options, encoding: 'utf8', maxBuffer: 1 << 26 }, (err, stdout, stderr) =>
      err === null
        ? done(stdout)
        : fail(new Error(`${failure}\n${`${stdout}${stderr}`.trim().split('\n').slice(-30).join('\n')}`)),
    ),
  )
}

interface Stage {
  name: string
  root: string
  workdir: string
  env: Record<string, string>
}

/** Performs STEPS, each stage in work/<name>, and returns the last stage. */
async function build(context: string, work: string, say: (message: string) => void): Promise<Stage> {
  const stages = new Map<string, Stage>()
  let stage: Stage = { name: '', root: work, workdir: '/', env: {} }
  for (const step of STEPS) {
    const [keyword, ...words] = step.split(' ')
    if (keyword === 'FROM') {
      const [from = '', , name = ''] = words
      const parent = stages.get(from) // none for a base image
      stage = { name, root: join(work, name), workdir: parent?.workdir ?? '/', env: { ...parent?.env } }
      stages.set(name, stage)
      if (parent === undefined) mkdirSync(stage.root)
      else cpSync(parent.root, stage.root, { recursive: true, verbatimSymlinks: true })
    } else if (keyword === 'WORKDIR') {
      stage.workdir = resolve(stage.workdir, words[0] ?? '')
      mkdirSync(join(stage.root, stage.workdir), { recursive: true })
    } else if (keyword === 'ENV') {
      for (const pair of words) stage.env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1)
    } else if (keyword === 'COPY') {
      const from = words[0]?.startsWith('--from=') ? words.shift()?.slice('--from='.length) : undefined
      const to = words.pop() ?? ''
      for (const path of words) {
        const source = join(from === undefined ? context : (stages.get(from)?.root ?? '/no-such-stage'), path)
        if (!existsSync(source))
          throw new Error(
            `${step}: no ${path} in the ${from === undefined ? 'build context (.dockerignore?)' : `stage ${from}`}`,
          )
        // a folder's contents go into the destination; a file into a destination folder keeps its name
        const dest = join(
          stage.root,
          resolve(stage.workdir, to),
          statSync(source).isFile() && to.endsWith('/') ? basename(source) : '',
        )
        cpSync(source, dest, { recursive: true, verbatimSymlinks: true })
      }
    } else if (keyword === 'RUN') {
      say(`stage ${stage.name}: ${step}`)
      // Nothing resolves from NODE_PATH; npm's cache here stands in for the cache mount.
      const env = { ...process.env, ...stage.env, NODE_PATH: '', npm_config_prefer_offline: 'true' }
      await exec(`stage ${stage.name}: failed: ${step}`, 'sh', ['-c', step.replace(/^RUN (--\S+ )*/, '')], {
        cwd: join(stage.root, stage.workdir),
        env,
      })
    } else throw new Error(`${step}: not performed here`)
  }
  return stage
}

const files = (dir: string) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => statSync(join(dir, file)).isFile())
    .sort()

// A source map names its sources relative to itself, and the two builds lie in different folders:
// its sources are compared as paths from each build's project folder.
function content(file: string, projectRoot: string): string {
  const text = readFileSync(file, 'utf8')
  if (!file.endsWith('.map')) return text
  const map = JSON.parse(text) as { sources: string[]; sourceRoot?: string }
  map.sources = map.sources.map((source) => relative(projectRoot, resolve(dirname(file), map.sourceRoot ?? '', source)))
  return JSON.stringify(map)
}

/** How the image's dist/ (in its project folder) differs from tsc's output for the project at referenceRoot. */
export function distProblems(imageDist: string, referenceDist: string, referenceRoot: string): string[] {
  const [image, reference] = [files(imageDist), files(referenceDist)]
  const same = (file: string) =>
    content(join(imageDist, file), dirname(imageDist)) === content(join(referenceDist, file), referenceRoot)
  return [
    ...reference.filter((file) => image.includes(file) && !same(file)).map((file) => `differs: dist/${file}`),
    ...reference.filter((file) => !image.includes(file)).map((file) => `missing from the image: dist/${file}`),
    ...image.filter((file) => !reference.includes(file)).map((file) => `only in the image: dist/${file}`),
  ]
}

type Packages = Record<string, { version?: string; dev?: boolean; optional?: boolean; devOptional?: boolean }>
const packages = (file: string) =>
  Object.entries((JSON.parse(readFileSync(file, 'utf8')) as { packages: Packages }).packages)
const named = ([path, { version }]: [string, { version?: string }]) => `${path}@${version}`

/** How app/node_modules, by npm's record of what it installed there, differs from the lock's production packages. */
export function moduleProblems(lockFile: string, app: string): string[] {
  const record = join(app, 'node_modules', '.package-lock.json')
  if (!existsSync(record)) return [`${record} is missing: node_modules was not installed by npm`]
  // what only development (dev) or an optional feature (optional, devOptional) needs is not production
  const production = packages(lockFile)
    .filter(([path, entry]) => path !== '' && !entry.dev && !entry.optional && !entry.devOptional)
    .map(named)
  const installed = packages(record).map(named)
  return [
    ...production.filter((name) => !installed.includes(name)).map((name) => `missing: ${name}`),
    ...installed
      .filter((name) => !production.includes(name))
      .map((name) => `not one of the lock's production packages: ${name}`),
    ...packages(record)
      .filter(([path]) => !existsSync(join(app, path, 'package.json')))
      .map(([path]) => `recorded but absent: ${path}`),
  ]
}

function check(what: string, problems: string[]): void {
  if (problems.length > 0)
    throw new Error(
      `${what} (${problems.length}):\n  ${[...problems.slice(0, 20), ...(problems.length > 20 ? ['...'] : [])].join('\n  ')}`,
    )
}

async function main(repo: string, work: string): Promise<void> {
  const started = Date.now()
  const say = (message: string) =>
    console.error(`check-image: [${Math.round((Date.now() - started) / 1000)} s] ${message}`)
  // The build context, taken first as Docker takes it, and the reference right after.
  const [context, reference] = [join(work, 'context'), join(work, 'reference')]
  const inContext = buildContext(repo)
  cpSync(repo, context, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (file) => file === repo || inContext(relative(repo, file), statSync(file).isDirectory()),
  })
  say(
    `build context: ${files(context).length} files (.dockerignore); the reference: tsc -p tsconfig.json on the repository`,
  )
  await exec(
    'tsc -p tsconfig.json failed on the repository',
    'npx',
    ['tsc', '-p', 'tsconfig.json', '--outDir', reference],
    { cwd: repo },
  )
  const { root, workdir, env } = await build(context, work, say)
  const app = join(root, workdir)

  const layout = readdirSync(app).sort().join(' ')
  if (layout !== 'dist node_modules package.json schemas')
    throw new Error(`the image's ${workdir} holds [${layout}], not [dist node_modules package.json schemas]`)
  check("the image's dist/ is not the one the tests run", distProblems(join(app, 'dist'), reference, repo))
  check("node_modules is not the lock's production set", moduleProblems(join(repo, 'package-lock.json'), app))

  // The program with the image's ENV, from its folder alone: the work folder lies outside the
  // repository, so no module resolves from the repository's node_modules.
  const options = {
    cwd: app,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: work,
      ...env,
      QALQAN_ROLE: 'collector,worker,query',
      QALQAN_TOKENS_FILE: '/etc/qalqan/tokens.json',
      QALQAN_KAFKA_BROKERS: 'kafka:9092',
      QALQAN_CLICKHOUSE_URL: 'http://clickhouse:8123',
    },
  }
  await exec(
    "the program does not start from the image's folder",
    'node',
    ['dist/services/main.js', '--check-config'],
    options,
  )
  // It reads its ClickHouse schema from PROJECT_ROOT/schemas/clickhouse (services/paths.ts).
  const found = (
    await exec(
      'the program cannot find its folder',
      'node',
      ['--input-type=module', '--eval', "console.log((await import('./dist/services/paths.js')).PROJECT_ROOT)"],
      options,
    )
  ).trim()
  if (found !== realpathSync(app)) throw new Error(`the program finds its folder at ${found}, not ${workdir}`)
  const schema = join(app, 'schemas', 'clickhouse')
  const migrations = existsSync(schema) ? readdirSync(schema).filter((file) => file.endsWith('.sql')).length : 0
  if (migrations === 0) throw new Error(`the image has no ${workdir}/schemas/clickhouse/*.sql`)

  const production = packages(join(app, 'node_modules', '.package-lock.json')).length
  say(
    `dist/: ${files(reference).length} files, the same as tsc's; node_modules: the lock's ${production} production packages; schema: ${migrations} migration files`,
  )
  console.log(`check-image: OK in ${Math.round((Date.now() - started) / 1000)} s`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const keep = process.argv[2] === '--keep'
  if (process.argv.length > (keep ? 3 : 2) || !relative(PROJECT_ROOT, tmpdir()).startsWith('..')) {
    console.error('usage: node dist/deploy/check-image.js [--keep]   (with TMPDIR outside the repository)')
    process.exit(2)
  }
  const work = mkdtempSync(join(tmpdir(), 'qalqan-check-image-'))
  if (keep) console.error(`check-image: work folder ${work}`)
  await main(PROJECT_ROOT, work)
    .catch((err: unknown) => {
      console.error(`check-image: ${(err as Error).message}`)
      process.exitCode = 1
    })
    .finally(() => keep || rmSync(work, { recursive: true, force: true }))
}
