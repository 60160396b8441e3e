import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../../services/paths.js'

const SCRIPT = join(PROJECT_ROOT, 'deploy', 'kafka', 'kafka.sh')

/** A PATH holding only the named commands, taken from the machine's own PATH. */
function pathWith(commands: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-path-'))
  for (const command of commands) {
    const found = spawnSync('bash', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim()
    if (found !== '') symlinkSync(found, join(dir, command))
  }
  return dir
}

function run(args: string[], env: Record<string, string>) {
  return spawnSync('/bin/bash', [SCRIPT, ...args], {
    encoding: 'utf8',
    env: { LOCAL_KAFKA_DIR: mkdtempSync(join(tmpdir(), 'qalqan-kafka-')), LOCAL_KAFKA_PORT: '1', ...env },
  })
}

const BASICS = [
  'sed',
  'head',
  'cut',
  'cat',
  'mkdir',
  'sha256sum',
  'dirname',
  'mv',
  'rm',
  'grep',
  'sleep',
  'seq',
  'tr',
  'base64',
]

t.test('without Java it says so and how to get it', async (t) => {
  const result = run(['start'], { PATH: pathWith(BASICS) })
  t.equal(result.status, 1)
  t.match(result.stderr, /java not found on PATH\. Install a Java 17\+ runtime/)
})

t.test('without Maven, before the jars are resolved, it says so and how to get it', async (t) => {
  const result = run(['classpath'], {
    PATH: pathWith([...BASICS, 'java']),
    HOME: mkdtempSync(join(tmpdir(), 'qalqan-home-')),
  })
  // The classpath may already be cached from an earlier run; then Maven is not needed at all.
  if (result.status === 0) {
    t.match(result.stdout, /kafka_2\.13-4\.4\.0\.jar/)
  } else {
    t.equal(result.status, 1)
    t.match(result.stderr, /mvn not found on PATH\. Install Apache Maven/)
  }
})

t.test('the SASL_SSL broker without openssl says so and how to get it, before starting anything', async (t) => {
  for (const [args, env] of [
    [['start-secure'], {}],
    [['start'], { LOCAL_KAFKA_SASL: '1' }],
  ] as const) {
    const result = run([...args], { PATH: pathWith([...BASICS, 'java', 'mvn', 'stat', 'chmod']), ...env })
    // Without the resolved jars (and Maven) it stops earlier, saying that instead.
    if (/mvn not found/.test(result.stderr)) t.equal(result.status, 1)
    else {
      t.equal(result.status, 1, args.join(' '))
      t.match(result.stderr, /openssl not found on PATH\. Install OpenSSL/)
    }
  }
})

t.test('status and stop of a broker that is not running', async (t) => {
  const status = run(['status'], { PATH: process.env['PATH'] ?? '' })
  t.equal(status.status, 3)
  t.match(status.stderr, /not running/)
  const stop = run(['stop'], { PATH: process.env['PATH'] ?? '' })
  t.equal(stop.status, 0)
})

t.test('an unknown command prints the usage', async (t) => {
  const result = run(['restart-everything'], { PATH: process.env['PATH'] ?? '' })
  t.equal(result.status, 2)
  t.match(result.stderr, /usage: .*start\|stop\|status\|classpath/)
})

t.test('the broker of this test run answers status', async (t) => {
  const port = (process.env['QALQAN_TEST_KAFKA_BROKERS'] ?? '').split(':')[1] ?? ''
  const status = spawnSync('/bin/bash', [SCRIPT, 'status'], { encoding: 'utf8', env: { ...process.env } })
  t.equal(status.status, 0)
  t.match(status.stderr, `running (pid`)
  t.match(status.stderr, `127.0.0.1:${port}`)
})

t.test('a new cluster id never starts with "-", which the storage tool would read as an option', async (t) => {
  // One draw in 64 of url-safe base64 starts with "-": 2,000 draws would meet ~31 of them.
  const draws = spawnSync(
    'bash',
    ['-c', `source <(sed -n '/^new_uuid() {/,/^}/p' "$0"); for i in $(seq 2000); do new_uuid; done`, SCRIPT],
    { encoding: 'utf8' },
  )
  const ids = draws.stdout.trim().split('\n')
  t.equal(ids.length, 2000)
  t.same(
    ids.filter((id) => !/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/.test(id)),
    [],
    'every id is 22 url-safe base64 characters, the first not "-"',
  )
})
