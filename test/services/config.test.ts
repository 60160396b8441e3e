import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ConfigError, loadConfig, type Config } from '../../services/config.js'
import { coresGiven } from '../../services/cores.js'
import { PROJECT_ROOT } from '../../services/paths.js'
import { hashToken } from '../../services/http/tokens.js'

const REGISTRY = { QALQAN_TOKENS_FILE: 'test/fixtures/tokens.json' }

/** The problems of a configuration that must fail, as one message. */
function problems(t: Test, env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env)
  } catch (err) {
    t.type(err, ConfigError)
    t.equal((err as ConfigError).code, 'QLQ_ERR_CONFIG_INVALID')
    return (err as ConfigError).message
  }
  t.fail('the configuration was accepted')
  return ''
}

function tempFile(t: Test, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

t.test('defaults: every setting has one', async (t) => {
  const config = loadConfig(REGISTRY)
  t.same(config, {
    roles: ['collector', 'worker', 'query'],
    logLevel: 'info',
    tokensFile: resolve('test/fixtures/tokens.json'),
    assetsFile: undefined,
    kafka: {
      brokers: ['127.0.0.1:9092'],
      clientId: 'qalqan',
      topics: { events: 'qalqan.events.v1', rejected: 'qalqan.rejected.v1' },
      partitions: 6,
      replicationFactor: 1,
      timeoutMs: 10_000,
      maxPendingEvents: 200_000,
      maxBatchBytes: 4 * 1024 * 1024,
      maxConcurrentSends: 1,
      securityProtocol: 'PLAINTEXT',
      tls: undefined,
      sasl: undefined,
    },
    clickhouse: {
      url: undefined,
      path: resolve('data', 'clickhouse'),
      user: 'default',
      password: '',
      database: 'default',
      cluster: undefined,
      tls: undefined,
    },
    collector: {
      host: '127.0.0.1',
      port: 8080,
      maxBodyBytes: 5 * 1024 * 1024,
      maxEvents: 10_000,
      maxDepth: 32,
      maxLineLength: 1024 * 1024,
      sensorRate: 50_000,
      sensorBurst: 200_000,
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 72_000,
      maxConnections: 1024,
      timeLimits: { maxFutureMs: 3_600_000, maxAgeMs: 30 * 86_400_000 },
      timeZone: 'Asia/Almaty',
      maxCount: 10_000,
      processes: 1,
      tls: undefined,
    },
    query: {
      host: '127.0.0.1',
      port: 8081,
      maxRangeDays: 366,
      cacheSeconds: 5,
      cacheMaxBytes: 32 * 1024 * 1024,
      tls: undefined,
      auditLog: 'stdout',
    },
    ops: { host: '127.0.0.1', port: 8083 },
    worker: {
      groupId: 'qalqan-worker',
      host: '127.0.0.1',
      port: 8082,
      fetchBytes: 8 * 1024 * 1024,
      sessionTimeoutMs: 30_000,
      dedup: { windowMs: 600_000, maxEntries: 21_000_000 },
      timeLimits: { maxFutureMs: 3_600_000, maxAgeMs: 30 * 86_400_000 },
    },
    retentionDays: { events_raw: 30, attacks_1m: 90, attacks_1h: 730, attacks_1d: 3650 },
  })
})

t.test('settings are parsed into their types', async (t) => {
  const config = loadConfig({
    ...REGISTRY,
    QALQAN_KAFKA_BROKERS: ' kafka-1:9092, kafka-2:9093 ,',
    QALQAN_COLLECTOR_PORT: '0',
    QALQAN_KAFKA_TOPIC_PARTITIONS: '12',
    QALQAN_DATA_DIR: '/var/lib/qalqan',
    QALQAN_LOG_LEVEL: 'debug',
  })
  t.same(config.kafka.brokers, ['kafka-1:9092', 'kafka-2:9093'])
  t.equal(config.collector.port, 0)
  t.equal(config.kafka.partitions, 12)
  t.equal(config.clickhouse.path, '/var/lib/qalqan/clickhouse')
  t.equal(config.logLevel, 'debug')
})

t.test('a bad value names the variable, the value, where it came from and what is allowed', async (t) => {
  const message = problems(t, { ...REGISTRY, QALQAN_COLLECTOR_PORT: 'abc' })
  t.match(message, 'QALQAN_COLLECTOR_PORT="abc" (in the environment): must be a whole number from 0 to 65535')
  t.match(
    problems(t, { ...REGISTRY, QALQAN_QUERY_PORT: '70000' }),
    'QALQAN_QUERY_PORT="70000" (in the environment): must be at most 65535',
  )
  t.match(
    problems(t, { ...REGISTRY, QALQAN_COLLECTOR_MAX_EVENTS: '0' }),
    'QALQAN_COLLECTOR_MAX_EVENTS="0" (in the environment): must be at least 1',
  )
  t.match(problems(t, { ...REGISTRY, QALQAN_COLLECTOR_PORT: '-1' }), /QALQAN_COLLECTOR_PORT="-1".*whole number/)
  t.match(problems(t, { ...REGISTRY, QALQAN_COLLECTOR_PORT: '80.5' }), /QALQAN_COLLECTOR_PORT="80\.5".*whole number/)
  t.match(
    problems(t, { ...REGISTRY, QALQAN_LOG_LEVEL: 'loud' }),
    /QALQAN_LOG_LEVEL="loud" \(in the environment\): .*"warn"/,
  )
  t.match(problems(t, { ...REGISTRY, QALQAN_KAFKA_BROKERS: 'kafka' }), /QALQAN_KAFKA_BROKERS="kafka" .*host:port/)
  t.match(problems(t, { ...REGISTRY, QALQAN_KAFKA_BROKERS: ' , ' }), /QALQAN_KAFKA_BROKERS=.*at least one broker/)
  t.match(
    problems(t, { ...REGISTRY, QALQAN_KAFKA_TOPIC_EVENTS: 'events topic' }),
    /QALQAN_KAFKA_TOPIC_EVENTS="events topic" .*Kafka topic name/,
  )
  t.match(
    problems(t, { ...REGISTRY, QALQAN_CLICKHOUSE_DATABASE: 'a;drop' }),
    /QALQAN_CLICKHOUSE_DATABASE="a;drop" .*plain identifier/,
  )
  t.match(problems(t, { ...REGISTRY, QALQAN_DATA_DIR: '  ' }), /QALQAN_DATA_DIR=.*must not be empty/)
})

t.test('every problem is reported at once', async (t) => {
  const message = problems(t, {
    ...REGISTRY,
    QALQAN_COLLECTOR_PORT: 'abc',
    QALQAN_LOG_LEVEL: 'loud',
    QALQAN_KAFKA_BROKERS: 'nope',
    QALQAN_COLLECTOR_PROT: '8080',
  })
  for (const name of ['QALQAN_COLLECTOR_PORT', 'QALQAN_LOG_LEVEL', 'QALQAN_KAFKA_BROKERS', 'QALQAN_COLLECTOR_PROT'])
    t.match(message, name)
  t.equal(message.split('\n  - ').length - 1, 4, 'one line per problem')
})

t.test('a missing token registry is reported together with the other problems', async (t) => {
  const message = problems(t, { QALQAN_COLLECTOR_PORT: 'abc' })
  t.match(message, 'QALQAN_COLLECTOR_PORT="abc"')
  t.match(message, 'QALQAN_TOKENS_FILE is not set')
})

t.test('an unknown QALQAN_ variable is rejected; other variables are not ours', async (t) => {
  const message = problems(t, { ...REGISTRY, QALQAN_COLECTOR_PORT: '9000' })
  t.match(message, 'QALQAN_COLECTOR_PORT (in the environment) is not a Qalqan setting')
  t.notMatch(message, '9000', 'the value of an unknown variable is not shown')
  t.equal(loadConfig({ ...REGISTRY, PATH: '/usr/bin', QALQANX: '1', qalqan_role: 'bogus' }).roles.length, 3)
})

t.test('roles: all, a list, or a named error', async (t) => {
  t.same(loadConfig({ ...REGISTRY, QALQAN_ROLE: 'all' }).roles, ['collector', 'worker', 'query'])
  t.same(loadConfig({ ...REGISTRY, QALQAN_ROLE: 'collector,worker' }).roles, ['collector', 'worker'])
  t.same(loadConfig({ ...REGISTRY, QALQAN_ROLE: ' query , query ' }).roles, ['query'])
  t.match(
    problems(t, { ...REGISTRY, QALQAN_ROLE: 'collector,ingester' }),
    'QALQAN_ROLE="collector,ingester" (in the environment): unknown role "ingester": allowed are all, collector, worker, query',
  )
  t.match(problems(t, { ...REGISTRY, QALQAN_ROLE: '' }), /QALQAN_ROLE="" .*allowed are all/)
})

t.test('QALQAN_TOKENS_FILE is required unless the only role is worker', async (t) => {
  t.same(loadConfig({ QALQAN_ROLE: 'worker' }).roles, ['worker'])
  t.equal(loadConfig({ QALQAN_ROLE: 'worker' }).tokensFile, undefined)
  for (const role of ['all', 'collector', 'query', 'worker,query']) {
    t.match(problems(t, { QALQAN_ROLE: role }), 'QALQAN_TOKENS_FILE is not set', role)
  }
  t.equal(
    loadConfig({ QALQAN_ROLE: 'collector', QALQAN_TOKENS_FILE: 'relative/tokens.json' }).tokensFile,
    resolve('relative/tokens.json'),
  )
})

t.test('QALQAN_CONFIG_FILE: values from the file, the environment wins', async (t) => {
  const file = tempFile(
    t,
    'qalqan.json',
    JSON.stringify({
      QALQAN_ROLE: 'collector',
      QALQAN_COLLECTOR_PORT: 9000,
      QALQAN_QUERY_PORT: '9001',
      QALQAN_TOKENS_FILE: 'tokens.json',
    }),
  )
  const fromFile = loadConfig({ QALQAN_CONFIG_FILE: file })
  t.same(fromFile.roles, ['collector'])
  t.equal(fromFile.collector.port, 9000, 'a JSON number is accepted')
  t.equal(fromFile.query.port, 9001)
  const overridden = loadConfig({ QALQAN_CONFIG_FILE: file, QALQAN_COLLECTOR_PORT: '9100' })
  t.equal(overridden.collector.port, 9100)
  t.equal(overridden.query.port, 9001)
})

t.test('QALQAN_CONFIG_FILE: a bad value names the file it came from', async (t) => {
  const file = tempFile(t, 'qalqan.json', JSON.stringify({ ...REGISTRY, QALQAN_COLLECTOR_PORT: 'abc' }))
  t.match(problems(t, { QALQAN_CONFIG_FILE: file }), `QALQAN_COLLECTOR_PORT="abc" (in ${file}): must be a whole number`)
  t.match(
    problems(t, { QALQAN_CONFIG_FILE: file, QALQAN_QUERY_PORT: 'x' }),
    /QALQAN_COLLECTOR_PORT="abc" \(in .*\n.*QALQAN_QUERY_PORT="x" \(in the environment\)/,
  )
})

t.test('QALQAN_CONFIG_FILE: unknown key, malformed JSON, an array, a nested value, a missing file', async (t) => {
  const unknown = tempFile(t, 'unknown.json', JSON.stringify({ ...REGISTRY, QALQAN_COLLECTOR_PROT: 9000 }))
  t.match(problems(t, { QALQAN_CONFIG_FILE: unknown }), `QALQAN_COLLECTOR_PROT (in ${unknown}) is not a Qalqan setting`)

  const malformed = tempFile(t, 'malformed.json', '{"QALQAN_ROLE": "worker",}')
  t.match(
    problems(t, { QALQAN_CONFIG_FILE: malformed, ...REGISTRY }),
    `QALQAN_CONFIG_FILE=${malformed}: is not valid JSON`,
  )

  const array = tempFile(t, 'array.json', '[{"QALQAN_ROLE": "worker"}]')
  t.match(
    problems(t, { QALQAN_CONFIG_FILE: array, ...REGISTRY }),
    `QALQAN_CONFIG_FILE=${array}: must hold one JSON object of settings`,
  )

  const nested = tempFile(
    t,
    'nested.json',
    JSON.stringify({ ...REGISTRY, QALQAN_KAFKA_BROKERS: { host: 'kafka', port: 9092 } }),
  )
  t.match(
    problems(t, { QALQAN_CONFIG_FILE: nested }),
    `QALQAN_KAFKA_BROKERS in ${nested}: must be a string or a number`,
  )

  const nullValue = tempFile(t, 'null.json', JSON.stringify({ ...REGISTRY, QALQAN_COLLECTOR_PORT: null }))
  t.match(
    problems(t, { QALQAN_CONFIG_FILE: nullValue }),
    `QALQAN_COLLECTOR_PORT in ${nullValue}: must be a string or a number`,
  )

  const missing = join(tmpdir(), 'qalqan-no-such-dir', 'qalqan.json')
  t.match(
    problems(t, { QALQAN_CONFIG_FILE: missing, ...REGISTRY }),
    `QALQAN_CONFIG_FILE=${missing}: cannot be read (ENOENT)`,
  )

  t.match(
    problems(t, { QALQAN_CONFIG_FILE: array, ...REGISTRY, QALQAN_COLLECTOR_PORT: 'abc' }),
    /must hold one JSON object[\s\S]*QALQAN_COLLECTOR_PORT="abc"/,
    'a bad file does not hide the problems of the environment',
  )
})

t.test('QALQAN_CLICKHOUSE_URL: a server, the embedded engine, or an error', async (t) => {
  const server = loadConfig({ ...REGISTRY, QALQAN_CLICKHOUSE_URL: 'http://clickhouse:8123' }).clickhouse
  t.equal(server.url, 'http://clickhouse:8123')
  t.equal(
    loadConfig({ ...REGISTRY, QALQAN_CLICKHOUSE_URL: 'https://ch.example.kz:8443' }).clickhouse.url,
    'https://ch.example.kz:8443',
  )

  const embedded = loadConfig({ ...REGISTRY, QALQAN_CLICKHOUSE_URL: 'chdb:/var/lib/qalqan/ch' }).clickhouse
  t.equal(embedded.url, undefined)
  t.equal(embedded.path, '/var/lib/qalqan/ch')
  t.equal(loadConfig({ ...REGISTRY, QALQAN_CLICKHOUSE_URL: 'chdb:state/ch' }).clickhouse.path, resolve('state/ch'))

  for (const bad of ['clickhouse:8123', 'ftp://clickhouse', 'http://', 'chdb:']) {
    t.match(
      problems(t, { ...REGISTRY, QALQAN_CLICKHOUSE_URL: bad }),
      `QALQAN_CLICKHOUSE_URL=${JSON.stringify(bad)} (in the environment): must be http(s)://`,
      bad,
    )
  }
})

t.test('the ClickHouse password is never printed', async (t) => {
  const secret = 'hunter2-correct-horse'
  const config = loadConfig({ ...REGISTRY, QALQAN_CLICKHOUSE_PASSWORD: secret })
  t.equal(config.clickhouse.password, secret)

  const withOtherProblems = problems(t, {
    ...REGISTRY,
    QALQAN_CLICKHOUSE_PASSWORD: secret,
    QALQAN_CLICKHOUSE_PASSWORD_FILE: secret,
    QALQAN_COLLECTOR_PORT: 'x',
  })
  t.notMatch(withOtherProblems, secret)

  const nested = tempFile(
    t,
    'nested.json',
    JSON.stringify({ ...REGISTRY, QALQAN_CLICKHOUSE_PASSWORD: { value: secret } }),
  )
  const nestedMessage = problems(t, { QALQAN_CONFIG_FILE: nested })
  t.match(nestedMessage, 'QALQAN_CLICKHOUSE_PASSWORD in')
  t.notMatch(nestedMessage, secret)

  // A JSON syntax error quotes the text around it: the password must not be part of the quote.
  const unquoted = tempFile(t, 'unquoted.json', `{"QALQAN_CLICKHOUSE_PASSWORD": ${secret}}`)
  const unquotedMessage = problems(t, { QALQAN_CONFIG_FILE: unquoted, ...REGISTRY })
  t.match(unquotedMessage, 'is not valid JSON')
  t.notMatch(unquotedMessage, secret.slice(0, 6))
})

t.test('the configuration is frozen all the way down', async (t) => {
  const config: Config = loadConfig(REGISTRY)
  const objects = [
    config,
    config.roles,
    config.kafka,
    config.kafka.brokers,
    config.kafka.topics,
    config.clickhouse,
    config.collector,
    config.query,
    config.worker,
  ]
  for (const object of objects) t.ok(Object.isFrozen(object))
  t.throws(() => {
    ;(config.kafka.topics as { events: string }).events = 'other'
  }, TypeError)
  t.throws(() => (config.kafka.brokers as string[]).push('evil:9092'), TypeError)
  t.throws(() => (config.roles as string[]).push('query'), TypeError)
  t.same(loadConfig(REGISTRY).kafka.brokers, ['127.0.0.1:9092'], 'a second load is not affected by the first')
})

/** Runs the real program as an operator would, with only the given QALQAN_* settings. */
function cli(
  args: string[],
  settings: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('QALQAN_')) env[key] = value
  // process.execArgv holds the TypeScript loader that runs this test.
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

t.test('the program', async (t) => {
  // Each start compiles the sources, so the runs go in parallel.
  const runs = {
    bad: cli(['--check-config'], { ...REGISTRY, QALQAN_COLLECTOR_PORT: 'abc' }),
    good: cli(['--check-config'], REGISTRY),
    worker: cli(['--check-config', '--role=worker']),
    bogusRole: cli(['--check-config', '--role=bogus'], REGISTRY),
    unknownFlag: cli(['--frobnicate']),
    token: cli(['token']),
  }

  t.test('--check-config with a bad configuration exits 1 naming the variable', async (t) => {
    const { code, stdout, stderr } = await runs.bad
    t.equal(code, 1)
    t.match(stderr, 'QALQAN_COLLECTOR_PORT="abc" (in the environment): must be a whole number')
    t.equal(stdout, '')
  })

  t.test('--check-config with a good configuration exits 0', async (t) => {
    const { code, stdout } = await runs.good
    t.equal(code, 0)
    t.match(stdout, 'configuration is valid (roles: collector, worker, query)')
  })

  t.test('--role overrides the configuration', async (t) => {
    const { code, stdout } = await runs.worker
    t.equal(code, 0)
    t.match(stdout, 'configuration is valid (roles: worker)')
  })

  t.test('--role=bogus exits 1 naming the allowed roles', async (t) => {
    const { code, stderr } = await runs.bogusRole
    t.equal(code, 1)
    t.match(stderr, 'unknown role "bogus": allowed are all, collector, worker, query')
  })

  t.test('an unknown option exits 2 with the usage', async (t) => {
    const { code, stderr } = await runs.unknownFlag
    t.equal(code, 2)
    t.match(stderr, 'unknown option --frobnicate')
    t.match(stderr, 'usage: qalqan')
  })

  t.test('token prints a token and the SHA-256 the registry holds', async (t) => {
    const { code, stdout } = await runs.token
    t.equal(code, 0)
    const match = /^token: +(\S+)\ntoken_sha256: ([0-9a-f]{64})\n$/.exec(stdout)
    t.ok(match, stdout)
    const [, token = '', sha256] = match ?? []
    t.ok(token.length >= 32, 'the token is too long to guess')
    t.equal(sha256, hashToken(token))
  })
})

t.test('HTTPS settings: a certificate needs its key, a sensor CA needs HTTPS; paths are resolved', async (t) => {
  const config = loadConfig({
    ...REGISTRY,
    QALQAN_COLLECTOR_TLS_CERT_FILE: 'tls/server.crt',
    QALQAN_COLLECTOR_TLS_KEY_FILE: 'tls/server.key',
    QALQAN_COLLECTOR_TLS_CLIENT_CA_FILE: 'tls/sensor-ca.crt',
    QALQAN_QUERY_AUDIT_LOG: 'logs/audit.log',
    QALQAN_OPS_HOST: '0.0.0.0',
    QALQAN_OPS_PORT: '9464',
  })
  t.same(config.collector.tls, {
    certFile: resolve('tls/server.crt'),
    keyFile: resolve('tls/server.key'),
    clientCaFile: resolve('tls/sensor-ca.crt'),
  })
  t.equal(config.query.tls, undefined)
  t.equal(config.query.auditLog, resolve('logs/audit.log'))
  t.same(config.ops, { host: '0.0.0.0', port: 9464 })
  t.match(
    problems(t, { ...REGISTRY, QALQAN_QUERY_TLS_CERT_FILE: 'a.crt' }),
    /QALQAN_QUERY_TLS_CERT_FILE is set but QALQAN_QUERY_TLS_KEY_FILE is not/,
  )
  t.match(
    problems(t, { ...REGISTRY, QALQAN_COLLECTOR_TLS_KEY_FILE: 'a.key' }),
    /QALQAN_COLLECTOR_TLS_KEY_FILE is set but QALQAN_COLLECTOR_TLS_CERT_FILE is not/,
  )
  t.match(
    problems(t, { ...REGISTRY, QALQAN_COLLECTOR_TLS_CLIENT_CA_FILE: 'ca.crt' }),
    /sensor certificates are asked for over HTTPS only/,
  )
  t.match(problems(t, { ...REGISTRY, QALQAN_OPS_PORT: '70000' }), /QALQAN_OPS_PORT="70000".*at most 65535/)
})

t.test(
  'collector processes: one per core when the collector runs alone, else one; a number needs the role alone',
  async (t) => {
    const cores = coresGiven()
    t.equal(loadConfig({ ...REGISTRY, QALQAN_ROLE: 'collector' }).collector.processes, cores)
    t.equal(loadConfig({ ...REGISTRY }).collector.processes, 1, 'role all: the embedded engine binds one process')
    t.equal(loadConfig({ ...REGISTRY, QALQAN_ROLE: 'collector,query' }).collector.processes, 1)
    t.equal(
      loadConfig({ ...REGISTRY, QALQAN_ROLE: 'collector', QALQAN_COLLECTOR_PROCESSES: '3' }).collector.processes,
      3,
    )
    t.equal(loadConfig({ ...REGISTRY, QALQAN_ROLE: 'all', QALQAN_COLLECTOR_PROCESSES: '1' }).collector.processes, 1)
    t.match(
      problems(t, { ...REGISTRY, QALQAN_ROLE: 'all', QALQAN_COLLECTOR_PROCESSES: '4' }),
      /QALQAN_COLLECTOR_PROCESSES=4 needs the collector role alone \(--role=collector\), not collector,worker,query/,
    )
    for (const bad of ['0', '-1', 'two', '2.5', '1025', ''])
      t.match(
        problems(t, { ...REGISTRY, QALQAN_ROLE: 'collector', QALQAN_COLLECTOR_PROCESSES: bad }),
        /QALQAN_COLLECTOR_PROCESSES/,
        `"${bad}" is refused`,
      )
  },
)
