import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLogger } from '../../services/logger.js'
import { PROJECT_ROOT } from '../../services/paths.js'
import { startRoles } from '../../services/roles.js'
import { testConfig, TOKENS } from '../helpers/stack.js'

// Property-based fuzzing of both HTTP APIs against their OpenAPI documents: every answer must be
// documented (status, content type, body schema), no request may cause a 5xx, schema-valid requests
// are accepted and schema-violating ones refused. Bounded: 50 cases per operation and phase, seed 1.
const SEED = '1'
const MAX_EXAMPLES = '50'

/** The folder with the virtualenv, hooks.py and the two configurations (test/faults/schemathesis-setup.sh). */
const setup = execFileSync('bash', [join(PROJECT_ROOT, 'test', 'faults', 'schemathesis-setup.sh')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim()

interface Run {
  command: string
  code: number | null
  output: string
  seconds: number
}

/** One `schemathesis run` against a served document; its database off, so the seed alone decides the cases. */
function schemathesis(document: string, token: string, configFile: string): Promise<Run> {
  const args = [
    '--config-file',
    join(setup, configFile),
    'run',
    document,
    '--header',
    `Authorization: Bearer ${token}`,
    '--max-examples',
    MAX_EXAMPLES,
    '--seed',
    SEED,
    '--generation-database',
    'none',
    '--request-timeout',
    '10',
    '--no-color',
  ]
  const cwd = join(setup, 'run')
  mkdirSync(cwd, { recursive: true })
  const started = Date.now()
  const child = spawn(join(setup, 'venv', 'bin', 'schemathesis'), args, {
    cwd,
    env: { ...process.env, SCHEMATHESIS_HOOKS: join(setup, 'hooks.py') },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8')
  })
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8')
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) =>
      resolve({
        command: `SCHEMATHESIS_HOOKS=${join(setup, 'hooks.py')} schemathesis ${args.map((arg) => (/\s/.test(arg) ? `'${arg}'` : arg)).join(' ')}`,
        code,
        output,
        seconds: (Date.now() - started) / 1000,
      }),
    )
  })
}

/** What a person needs from a failed run: each failure, the warnings and the summary. */
function failures(output: string): string {
  const from = output.indexOf('FAILURES')
  const text = from === -1 ? output : output.slice(output.lastIndexOf('\n', from) + 1)
  return text.length > 20_000 ? `${text.slice(0, 12_000)}\n[...]\n${text.slice(-8_000)}` : text
}

/** The run's warnings (such as an operation no generated case reached), which a passing run still prints. */
function warnings(output: string): string | undefined {
  const match = /^[= ]*WARNINGS[= ]*$([\s\S]*?)(?=^[= ]*SUMMARY[= ]*$|$(?![\s\S]))/m.exec(output)
  return match?.[1]?.trim() || undefined
}

function summaryLine(output: string): string {
  const lines = output.trim().split('\n')
  const cases = lines.find((line) => / generated, /.test(line))?.trim() ?? 'no test case count'
  return `${cases}; ${lines.at(-1)?.replace(/=/g, '').trim()}`
}

t.test('both APIs answer as their OpenAPI documents say, under generated requests', async (t) => {
  const running = await startRoles(
    testConfig({
      QALQAN_LOG_LEVEL: 'error',
      // Small enough that the fuzzer reaches the limits and past them.
      QALQAN_COLLECTOR_MAX_EVENTS: '100',
      QALQAN_COLLECTOR_MAX_BODY_BYTES: '262144',
    }),
    createLogger('error'),
  )
  t.teardown(() => running.close())
  const { collector, query } = running.urls
  if (collector === undefined || query === undefined) throw new Error('the collector and the query roles should run')

  // Events in the query documents' example range, so that the query answers hold rows to check.
  const seeded = Array.from({ length: 30 }, (_, i) => ({
    occurred_at: new Date(Date.parse('2025-03-01T06:00:00Z') + i * 97_000).toISOString(),
    category: (['scan', 'bruteforce', 'exploit'] as const)[i % 3],
    severity: 1 + (i % 4),
    signature: `fuzz seed ${i % 5}`,
    src_ip: `203.0.113.${i + 1}`,
    dst_port: 22,
    protocol: 'tcp',
  }))
  const posted = await fetch(`${collector}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'application/json' },
    body: JSON.stringify(seeded),
  })
  t.equal(posted.status, 202, 'the seed events are accepted')
  let stored = 0
  for (let attempt = 0; attempt < 120 && stored < seeded.length; attempt++) {
    const res = await fetch(`${query}/v1/summary?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z`, {
      headers: { authorization: `Bearer ${TOKENS.analyst}` },
    })
    stored = res.ok ? ((await res.json()) as { events: number }).events : 0
    if (stored < seeded.length) await sleep(500)
  }
  t.equal(stored, seeded.length, 'the seed events are stored before the query API is fuzzed')

  const checks = [...readFileSync(join(setup, 'query.toml'), 'utf8').matchAll(/^(\w+)\.enabled = true$/gm)]
  t.comment(
    `checks: ${checks.map(([, name]) => name).join(', ')}; ${MAX_EXAMPLES} examples per operation and phase; seed ${SEED}`,
  )
  for (const [name, url, token, configFile] of [
    ['collector', collector, TOKENS.astana, 'collector.toml'],
    ['query', query, TOKENS.analyst, 'query.toml'],
  ] as const) {
    const run = await schemathesis(`${url}/openapi.json`, token, configFile)
    t.comment(`${name}: ${run.command}`)
    t.comment(`${name}: exit ${run.code} after ${run.seconds.toFixed(1)} s; ${summaryLine(run.output)}`)
    const warned = warnings(run.output)
    if (warned !== undefined) t.comment(`${name} warnings:\n${warned.slice(0, 4000)}`)
    t.equal(run.code, 0, `the ${name} API passes every check`, { failures: failures(run.output) })
  }
})
