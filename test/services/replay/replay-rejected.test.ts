import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { PROJECT_ROOT } from '../../../services/paths.js'
import { replayRejected } from '../../../services/replay/replay-rejected.js'
import { TOKENS_FILE } from '../../helpers/stack.js'

const SETTINGS = { QALQAN_TOKENS_FILE: TOKENS_FILE, QALQAN_KAFKA_BROKERS: '127.0.0.1:1' }

/** Runs the command in this process; nothing here reaches Kafka. */
async function run(argv: string[], env: Record<string, string> = SETTINGS) {
  let stdout = ''
  let stderr = ''
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        append(chunk.toString('utf8'))
        done()
      },
    })
  const code = await replayRejected(argv, env, {
    stdout: sink((text) => (stdout += text)),
    stderr: sink((text) => (stderr += text)),
  })
  return { code, stdout, stderr }
}

t.test('--help prints the options', async (t) => {
  const { code, stdout } = await run(['--help'])
  t.equal(code, 0)
  t.match(stdout, 'usage: qalqan replay-rejected')
  for (const option of ['--sensor', '--format', '--reason', '--since', '--until', '--dry-run', '--no-check-stored'])
    t.match(stdout, option)
})

t.test('usage errors exit 2 naming every problem', async (t) => {
  const { code, stderr, stdout } = await run([
    '--frobnicate',
    '--dry-run=yes',
    '--sensor',
    'stray',
    '--progress-every=1',
    '--progress-every=2',
  ])
  t.equal(code, 2)
  t.equal(stdout, '')
  t.match(stderr, 'unknown option --frobnicate')
  t.match(stderr, '--dry-run takes no value')
  t.match(stderr, '--sensor needs a value: --sensor=...')
  t.match(stderr, 'unexpected argument "stray"')
  t.match(stderr, '--progress-every is given twice')
  const filters = await run(['--since=tomorrow', '--progress-every=0'])
  t.equal(filters.code, 2)
  t.match(filters.stderr, '--since="tomorrow": write a date')
  t.match(filters.stderr, '--progress-every must be a whole number of records, 1 or more')
})

t.test('--check-config reads the settings and the registries, and connects to nothing', async (t) => {
  const good = await run(['--check-config', '--dry-run', '--reason=/offset/i'])
  t.equal(good.code, 0)
  t.match(good.stdout, 'configuration and options are valid (rejected topic qalqan.rejected.v1')
  const noRegistry = await run(['--check-config'], { QALQAN_ROLE: 'worker' })
  t.equal(noRegistry.code, 1)
  t.match(noRegistry.stderr, 'QALQAN_TOKENS_FILE is not set: the replay needs the sensor registry')
  const badRegistry = await run(['--check-config'], { ...SETTINGS, QALQAN_TOKENS_FILE: '/nonexistent/tokens.json' })
  t.equal(badRegistry.code, 1)
  t.match(badRegistry.stderr, 'cannot read the token registry /nonexistent/tokens.json')
  const badSetting = await run(['--check-config'], { ...SETTINGS, QALQAN_KAFKA_TIMEOUT_MS: 'soon' })
  t.equal(badSetting.code, 1)
  t.match(badSetting.stderr, 'QALQAN_KAFKA_TIMEOUT_MS')
})

t.test(
  'a ClickHouse that cannot say what is stored stops the replay before it reads or produces anything',
  async (t) => {
    const missing = await run(['--dry-run'], {
      ...SETTINGS,
      QALQAN_CLICKHOUSE_URL: 'chdb:/nonexistent/qalqan/clickhouse',
    })
    t.equal(missing.code, 1)
    t.equal(missing.stdout, '')
    t.match(
      missing.stderr,
      'cannot ask ClickHouse (the embedded engine at /nonexistent/qalqan/clickhouse) which events events_raw already holds: the folder /nonexistent/qalqan/clickhouse does not exist',
    )
    t.match(missing.stderr, 'Nothing was produced. With --no-check-stored')

    const unreachable = await run([], {
      ...SETTINGS,
      QALQAN_CLICKHOUSE_URL: 'http://qalqan:secret@127.0.0.1:1',
    })
    t.equal(unreachable.code, 1)
    t.match(unreachable.stderr, 'cannot ask ClickHouse (http://127.0.0.1:1/) which events events_raw already holds: ')
    t.match(unreachable.stderr, /ECONNREFUSED/)
    t.notMatch(unreachable.stderr, 'secret', 'the password in the URL is not shown')

    // A folder with no schema in it: the replay does not make one (the workers do, at their start).
    const empty = mkdtempSync(join(tmpdir(), 'qalqan-replay-'))
    const withoutSchema = await run(['--dry-run'], { ...SETTINGS, QALQAN_CLICKHOUSE_URL: `chdb:${empty}` })
    t.equal(withoutSchema.code, 1)
    t.equal(withoutSchema.stdout, '')
    t.match(withoutSchema.stderr, /already holds: Unknown table expression identifier 'events_raw'/)
  },
)

t.test('the program runs it as `qalqan replay-rejected`', async (t) => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('QALQAN_')) env[key] = value
  // process.execArgv holds the TypeScript loader that runs this test.
  const child = spawn(
    process.execPath,
    [...process.execArgv, 'services/main.ts', 'replay-rejected', '--check-config'],
    {
      cwd: PROJECT_ROOT,
      env: { ...env, ...SETTINGS },
    },
  )
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  const code = await new Promise((resolve) => child.on('close', resolve))
  t.equal(code, 0)
  t.match(stdout, 'qalqan replay-rejected: configuration and options are valid')
})
