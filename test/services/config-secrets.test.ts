import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, loadConfig, MAX_VALUE_FILE_BYTES } from '../../services/config.js'
import { PROJECT_ROOT } from '../../services/paths.js'

const REGISTRY = { QALQAN_TOKENS_FILE: 'test/fixtures/tokens.json' }
const SECRET = 's3cr3t-never-shown'

function folder(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-secrets-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function file(t: Test, text: string | Buffer, name = 'value'): string {
  const path = join(folder(t), name)
  writeFileSync(path, text)
  return path
}

/** The problems of a configuration that must fail. */
function problems(t: Test, env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig({ ...REGISTRY, ...env })
  } catch (err) {
    t.type(err, ConfigError)
    t.notMatch((err as Error).message, SECRET, 'no secret in the message')
    return (err as ConfigError).problems
  }
  t.fail('the configuration was accepted')
  return []
}

t.test('X_FILE gives setting X the text of the file, its trailing newline removed', async (t) => {
  for (const text of [`${SECRET}\n`, `${SECRET}\r\n`, SECRET, `${SECRET}\n\n`]) {
    const config = loadConfig({ ...REGISTRY, QALQAN_CLICKHOUSE_PASSWORD_FILE: file(t, text) })
    t.equal(config.clickhouse.password, SECRET, JSON.stringify(text))
  }
  const spaced = loadConfig({ ...REGISTRY, QALQAN_CLICKHOUSE_PASSWORD_FILE: file(t, ' a b \n') })
  t.equal(spaced.clickhouse.password, ' a b ', 'only newlines are removed: spaces may be part of a password')
  const user = loadConfig({ ...REGISTRY, QALQAN_CLICKHOUSE_USER_FILE: file(t, 'qalqan_writer\n') })
  t.equal(user.clickhouse.user, 'qalqan_writer', 'any setting may come from a file')
})

t.test('X_FILE may be named in the JSON settings file as well', async (t) => {
  const secret = file(t, `${SECRET}\n`)
  const settings = file(t, JSON.stringify({ QALQAN_CLICKHOUSE_PASSWORD_FILE: secret }), 'settings.json')
  t.equal(loadConfig({ ...REGISTRY, QALQAN_CONFIG_FILE: settings }).clickhouse.password, SECRET)
})

t.test('both X and X_FILE: refused, naming both, showing neither value', async (t) => {
  const found = problems(t, { QALQAN_CLICKHOUSE_PASSWORD: SECRET, QALQAN_CLICKHOUSE_PASSWORD_FILE: file(t, SECRET) })
  t.match(found, [
    /^QALQAN_CLICKHOUSE_PASSWORD \(in the environment\) and QALQAN_CLICKHOUSE_PASSWORD_FILE \(in the environment\) are both set: keep one of them$/,
  ])
})

t.test(
  'a file that is missing, a folder, empty, or only a newline: refused, naming the variable and the path',
  async (t) => {
    const dir = folder(t)
    const cases: [string, RegExp][] = [
      [join(dir, 'missing'), /cannot be read \(ENOENT\)/],
      [dir, /cannot be read \(EISDIR\)/],
      [file(t, ''), /the file is empty/],
      [file(t, '\n'), /the file is empty/],
      ['', /must name a file/],
    ]
    for (const [path, reason] of cases) {
      const found = problems(t, { QALQAN_KAFKA_SASL_PASSWORD_FILE: path })
      t.equal(found.length, 1, path)
      t.match(found[0], `QALQAN_KAFKA_SASL_PASSWORD_FILE=${path} (in the environment): `)
      t.match(found[0], reason)
    }
  },
)

t.test('a file over the limit is refused without reading it whole (an endless one too)', async (t) => {
  const large = problems(t, { QALQAN_CLICKHOUSE_PASSWORD_FILE: file(t, Buffer.alloc(MAX_VALUE_FILE_BYTES + 1, 'a')) })
  t.match(large, [new RegExp(`the file is larger than ${MAX_VALUE_FILE_BYTES} bytes`)])
  const atLimit = loadConfig({
    ...REGISTRY,
    QALQAN_CLICKHOUSE_PASSWORD_FILE: file(t, Buffer.alloc(MAX_VALUE_FILE_BYTES, 'a')),
  })
  t.equal(atLimit.clickhouse.password.length, MAX_VALUE_FILE_BYTES)
  t.match(problems(t, { QALQAN_CLICKHOUSE_PASSWORD_FILE: '/dev/zero' }), [/larger than/])
})

t.test('a value read from a file is never shown, even for a setting that is no secret', async (t) => {
  const found = problems(t, { QALQAN_KAFKA_TIMEOUT_MS_FILE: file(t, `${SECRET}\n`) })
  t.match(found, [
    /^QALQAN_KAFKA_TIMEOUT_MS=\(hidden\) \(read from .*, named by QALQAN_KAFKA_TIMEOUT_MS_FILE in the environment\): must be a whole number/,
  ])
  const password = problems(t, { QALQAN_KAFKA_SASL_PASSWORD: '' })
  t.match(password, [/^QALQAN_KAFKA_SASL_PASSWORD=\(hidden\)/])
})

t.test('X_FILE of a name that is no setting is an unknown setting', async (t) => {
  t.match(problems(t, { QALQAN_NOT_A_THING_FILE: file(t, 'x') }), [
    /QALQAN_NOT_A_THING_FILE \(in the environment\) is not a Qalqan setting/,
  ])
})

t.test('Kafka over SASL_SSL: the settings as the client reads them', async (t) => {
  const ca = file(t, '-----BEGIN CERTIFICATE-----\n', 'ca.pem')
  const config = loadConfig({
    ...REGISTRY,
    QALQAN_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    QALQAN_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    QALQAN_KAFKA_SASL_USERNAME: 'qalqan',
    QALQAN_KAFKA_SASL_PASSWORD_FILE: file(t, `${SECRET}\n`),
    QALQAN_KAFKA_CA_FILE: ca,
  })
  t.same(config.kafka.sasl, { mechanism: 'SCRAM-SHA-512', username: 'qalqan', password: SECRET })
  t.same(config.kafka.tls, { caFile: ca, certFile: undefined, keyFile: undefined, keyPassword: undefined })
  const plain = loadConfig({
    ...REGISTRY,
    QALQAN_KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
    QALQAN_KAFKA_SASL_MECHANISM: 'PLAIN',
    QALQAN_KAFKA_SASL_USERNAME: 'qalqan',
    QALQAN_KAFKA_SASL_PASSWORD: SECRET,
  })
  t.equal(plain.kafka.tls, undefined, 'SASL_PLAINTEXT: no TLS')
  const tlsOnly = loadConfig({ ...REGISTRY, QALQAN_KAFKA_SECURITY_PROTOCOL: 'SSL' })
  t.same(tlsOnly.kafka.tls, { caFile: undefined, certFile: undefined, keyFile: undefined, keyPassword: undefined })
  t.equal(tlsOnly.kafka.sasl, undefined)
})

t.test('Kafka settings that do not go together', async (t) => {
  t.match(problems(t, { QALQAN_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' }), [
    /^QALQAN_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs QALQAN_KAFKA_SASL_MECHANISM, QALQAN_KAFKA_SASL_USERNAME, QALQAN_KAFKA_SASL_PASSWORD \(a password may be given as QALQAN_KAFKA_SASL_PASSWORD_FILE\)$/,
  ])
  t.match(problems(t, { QALQAN_KAFKA_SASL_USERNAME: 'qalqan' }), [
    /QALQAN_KAFKA_SASL_USERNAME is set but QALQAN_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL: set it to SASL_SSL/,
  ])
  t.match(
    problems(t, {
      QALQAN_KAFKA_CA_FILE: file(t, 'x'),
      QALQAN_KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      QALQAN_KAFKA_SASL_MECHANISM: 'PLAIN',
      QALQAN_KAFKA_SASL_USERNAME: 'u',
      QALQAN_KAFKA_SASL_PASSWORD: SECRET,
    }),
    [/QALQAN_KAFKA_CA_FILE is set but QALQAN_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT does not use TLS/],
  )
  t.match(problems(t, { QALQAN_KAFKA_SECURITY_PROTOCOL: 'SSL', QALQAN_KAFKA_CERT_FILE: file(t, 'x') }), [
    /QALQAN_KAFKA_KEY_FILE is missing: a client certificate needs both QALQAN_KAFKA_CERT_FILE and QALQAN_KAFKA_KEY_FILE/,
  ])
  t.match(problems(t, { QALQAN_KAFKA_SECURITY_PROTOCOL: 'SSL', QALQAN_KAFKA_CA_FILE: '/nonexistent/ca.pem' }), [
    /^QALQAN_KAFKA_CA_FILE=\/nonexistent\/ca.pem: cannot be read \(ENOENT\)$/,
  ])
  t.match(problems(t, { QALQAN_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl' }), [
    /must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL/,
  ])
  t.match(
    problems(t, {
      QALQAN_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      QALQAN_KAFKA_SASL_MECHANISM: 'GSSAPI',
      QALQAN_KAFKA_SASL_USERNAME: 'u',
      QALQAN_KAFKA_SASL_PASSWORD: SECRET,
    }),
    [/QALQAN_KAFKA_SASL_MECHANISM="GSSAPI".*must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512/],
  )
})

t.test('ClickHouse over https: the CA and client certificate, for https URLs only', async (t) => {
  const ca = file(t, 'x', 'ca.pem')
  const config = loadConfig({
    ...REGISTRY,
    QALQAN_CLICKHOUSE_URL: 'https://clickhouse.example:8443',
    QALQAN_CLICKHOUSE_CA_FILE: ca,
    QALQAN_CLICKHOUSE_PASSWORD_FILE: file(t, SECRET),
  })
  t.same(config.clickhouse.tls, { caFile: ca, certFile: undefined, keyFile: undefined })
  t.equal(config.clickhouse.password, SECRET)
  t.match(problems(t, { QALQAN_CLICKHOUSE_URL: 'http://clickhouse:8123', QALQAN_CLICKHOUSE_CA_FILE: ca }), [
    /QALQAN_CLICKHOUSE_CA_FILE is set but QALQAN_CLICKHOUSE_URL is not an https:\/\/ URL/,
  ])
  t.match(
    problems(t, {
      QALQAN_CLICKHOUSE_URL: 'https://clickhouse:8443',
      QALQAN_CLICKHOUSE_CERT_FILE: ca,
      QALQAN_CLICKHOUSE_KEY_FILE: ca,
    }),
    [/QALQAN_CLICKHOUSE_CERT_FILE needs QALQAN_CLICKHOUSE_CA_FILE/],
  )
})

t.test('qalqan --check-config shows no secret, valid or not', async (t) => {
  const secret = file(t, `${SECRET}\n`)
  const settings = {
    ...REGISTRY,
    QALQAN_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    QALQAN_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
    QALQAN_KAFKA_SASL_USERNAME: 'qalqan',
    QALQAN_KAFKA_SASL_PASSWORD_FILE: secret,
    QALQAN_CLICKHOUSE_PASSWORD: SECRET,
  }
  const [good, bad] = await Promise.all([
    cli(['--check-config'], settings),
    cli(['--check-config'], { ...settings, QALQAN_CLICKHOUSE_PASSWORD_FILE: secret, QALQAN_KAFKA_TIMEOUT_MS: 'soon' }),
  ])
  t.equal(good.code, 0, good.stderr)
  t.match(good.stdout, /configuration is valid/)
  t.equal(bad.code, 1)
  t.match(bad.stderr, /QALQAN_CLICKHOUSE_PASSWORD .* and QALQAN_CLICKHOUSE_PASSWORD_FILE .* are both set/)
  for (const run of [good, bad]) t.notMatch(run.stdout + run.stderr, SECRET)
  t.match(
    bad.stderr,
    /QALQAN_KAFKA_TIMEOUT_MS="soon"/,
    'a value that is no secret and not from a file is shown, to help',
  )
})

function cli(
  args: string[],
  settings: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('QALQAN_')) env[key] = value
  const child = spawn(process.execPath, [...process.execArgv, 'services/main.ts', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...env, ...settings },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

t.test('what is missing or unreadable counts only for the roles that connect there', async (t) => {
  const kafka = {
    QALQAN_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    QALQAN_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    QALQAN_KAFKA_SASL_USERNAME: 'qalqan',
    QALQAN_KAFKA_CA_FILE: '/nonexistent/kafka-ca.crt',
  }
  const clickhouse = {
    QALQAN_CLICKHOUSE_URL: 'https://clickhouse:8443',
    QALQAN_CLICKHOUSE_CA_FILE: '/nonexistent/clickhouse-ca.crt',
  }
  // A query pod: no Kafka secret is mounted, and it does not need one.
  t.ok(loadConfig({ ...REGISTRY, ...kafka, QALQAN_ROLE: 'query', QALQAN_CLICKHOUSE_URL: 'https://ch:8443' }))
  // A collector pod: no ClickHouse secret.
  t.ok(loadConfig({ ...REGISTRY, ...clickhouse, QALQAN_ROLE: 'collector', QALQAN_KAFKA_SECURITY_PROTOCOL: 'SSL' }))
  t.match(problems(t, { ...kafka, QALQAN_ROLE: 'collector' }), [
    /QALQAN_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs QALQAN_KAFKA_SASL_PASSWORD/,
    /QALQAN_KAFKA_CA_FILE=\/nonexistent\/kafka-ca.crt: cannot be read \(ENOENT\)/,
  ])
  t.match(problems(t, { ...clickhouse, QALQAN_ROLE: 'worker' }), [
    /QALQAN_CLICKHOUSE_CA_FILE=\/nonexistent\/clickhouse-ca.crt: cannot be read \(ENOENT\)/,
  ])
})
