import t from 'tap'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { Ajv } from 'ajv'
import { DCLinter } from 'dclint'
import { isAlias, isMap, isScalar, parse as parseYaml, parseDocument, type Pair } from 'yaml'
import { loadConfig } from '../../services/config.js'
import { PROJECT_ROOT } from '../../services/paths.js'

// deploy/compose.yaml checked without an engine: against the Compose Specification's JSON Schema
// (the one dclint ships, the current spec), by dclint's rules, and by what Qalqan itself needs.

const DEPLOY = join(PROJECT_ROOT, 'deploy')
const COMPOSE_FILE = join(DEPLOY, 'compose.yaml')
const SOURCE = readFileSync(COMPOSE_FILE, 'utf8')
const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version

interface Healthcheck {
  test?: string | string[]
  disable?: boolean
}
interface Service {
  image?: string
  build?: { context: string; dockerfile?: string }
  environment?: Record<string, string | number | boolean | null>
  volumes?: (string | { type: string; source: string; target: string; read_only?: boolean })[]
  configs?: { source: string; target: string }[]
  secrets?: (string | { source: string; target?: string })[]
  ports?: string[]
  healthcheck?: Healthcheck
  depends_on?: Record<string, { condition: string }>
  deploy?: { replicas?: number; resources?: { limits?: { cpus?: string; memory?: string } } }
}
interface Compose {
  services: Record<string, Service>
  configs?: Record<string, { content?: string; file?: string }>
  secrets?: Record<string, { file?: string; environment?: string }>
  volumes?: Record<string, unknown>
}

/** Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+other}. */
function interpolate(value: string, env: Record<string, string>, missing: Set<string>): string {
  return value.replace(
    /\$\$|\$([A-Za-z_][A-Za-z0-9_]*)|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}/g,
    (match, bare, name, operator, argument) => {
      if (match === '$$') return '$'
      const variable = (bare ?? name) as string
      const value = env[variable]
      const set = value !== undefined
      const nonEmpty = set && value !== ''
      switch (operator as string | undefined) {
        case ':-':
          return nonEmpty ? value : argument
        case '-':
          return set ? value : argument
        case ':?':
        case '?':
          if (operator === ':?' ? !nonEmpty : !set) missing.add(variable)
          return value ?? ''
        case ':+':
          return nonEmpty ? argument : ''
        case '+':
          return set ? argument : ''
        default:
          return value ?? ''
      }
    },
  )
}

function interpolateAll<T>(node: T, env: Record<string, string>, missing: Set<string>): T {
  if (typeof node === 'string') return interpolate(node, env, missing) as T
  if (Array.isArray(node)) return node.map((item) => interpolateAll(item, env, missing)) as T
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, interpolateAll(value, env, missing)]),
    ) as T
  }
  return node
}

const document = parseDocument(SOURCE, { merge: true })
const raw = document.toJS({ maxAliasCount: 1000 }) as Compose
// What an operator's deploy/.env holds (the header of compose.yaml names these).
const SAMPLE_ENV = {
  REGISTRY_DIR: './local',
  TLS_DIR: '/srv/qalqan/tls',
  CLICKHOUSE_QALQAN_PASSWORD: 'qalqan-test-password',
  CLICKHOUSE_GRAFANA_PASSWORD: 'grafana-test-password',
  GRAFANA_ADMIN_PASSWORD: 'admin-test-password',
  KAFKA_QALQAN_PASSWORD: 'kafka-qalqan-test-password',
  KAFKA_BROKER_PASSWORD: 'kafka-broker-test-password',
}
const compose = interpolateAll(raw, SAMPLE_ENV, new Set())
const QALQAN = Object.keys(compose.services).filter((name) => compose.services[name]?.image?.startsWith('qalqan:'))

function service(name: string): Service {
  const found = compose.services[name]
  if (found === undefined) throw new Error(`compose.yaml has no service ${name}`)
  return found
}

function env(name: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service(name).environment ?? {}).map(([key, value]) => [key, String(value ?? '')]),
  )
}

// Files the program reads at start (secrets given as X_FILE, CA and client certificate files), put
// where this test can read them: a secret from deploy/.env holds its value, a certificate a PEM line.
const READ_AT_START = /^QALQAN_(KAFKA|CLICKHOUSE)_(CA|CERT|KEY)_FILE$|^QALQAN_\w+_(PASSWORD|USER)_FILE$/
const secretsDir = mkdtempSync(join(tmpdir(), 'qalqan-compose-secrets-'))
t.teardown(() => rmSync(secretsDir, { recursive: true, force: true }))

/** The service's settings as the program reads them in its container. */
function configOf(name: string) {
  const settings = env(name)
  for (const [key, value] of Object.entries(settings)) {
    if (!READ_AT_START.test(key) || !value.startsWith('/run/secrets/')) continue
    const secret = compose.secrets?.[value.slice('/run/secrets/'.length)]
    const variable = secret?.environment as keyof typeof SAMPLE_ENV | undefined
    const path = join(secretsDir, `${name}-${key}`)
    writeFileSync(path, variable !== undefined ? `${SAMPLE_ENV[variable]}\n` : '-----BEGIN CERTIFICATE-----\n')
    settings[key] = path
  }
  return loadConfig(settings)
}

/** The service's mapping node in the YAML, to see what it merges. */
function mergedAliases(path: (string | number)[]): string[] {
  const node = document.getIn(path, true)
  if (!isMap(node)) return []
  return (node.items as Pair[])
    .filter(
      (pair) =>
        isScalar(pair.key) &&
        (pair.key.value === '<<' || (typeof pair.key.value === 'symbol' && pair.key.value.description === '<<')),
    )
    .flatMap((pair) => (isAlias(pair.value) ? [pair.value.source] : []))
}

t.test('the YAML parses cleanly, anchors and merge keys included', async (t) => {
  t.same(document.errors.map(String), [])
  t.same(document.warnings.map(String), [])
  t.ok(raw['x-qalqan' as keyof Compose], 'the shared x-qalqan block is there')
})

t.test('the file is valid against the Compose Specification, before and after interpolation', async (t) => {
  // dclint ships the current compose-spec.json (models, include, develop, ...); its exports name
  // only the package, so the schema is found beside its package.json.
  const schemaFile = join(
    dirname(createRequire(import.meta.url).resolve('dclint/package.json')),
    'schemas',
    'compose.schema.json',
  )
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as Record<string, unknown>
  t.equal(schema['title'], 'Compose Specification')
  // Its $schema names draft-07 by an https URL that Ajv's draft-07 does not call itself.
  delete schema['$schema']
  const ajv = new Ajv({ allErrors: true, strict: false })
  const validate = ajv.compile(schema)
  for (const [label, model] of [
    ['as written', raw],
    ['interpolated', compose],
  ] as const) {
    const valid = validate(model)
    t.ok(valid, `${label}: ${ajv.errorsText(validate.errors, { separator: '\n' })}`)
  }
})

t.test('dclint, a Compose linter, finds no error', async (t) => {
  // Its default rules; the warnings it gives are about the order of keys and services only.
  const linter = new DCLinter({ rules: {}, quiet: true, debug: false, exclude: [] })
  // dclint's declarations import without extensions, which NodeNext does not resolve: its shape here.
  const results = linter.lintFiles([COMPOSE_FILE], false) as {
    messages: { type: string; line: number; message: string; rule: string }[]
  }[]
  t.equal(results.length, 1, 'it read the file')
  const errors = (results[0]?.messages ?? []).filter((message) => message.type === 'error')
  t.same(
    errors.map((message) => `${message.line}: ${message.message} (${message.rule})`),
    [],
  )
})

t.test('every image is pinned to a release, never latest', async (t) => {
  for (const [name, { image }] of Object.entries(compose.services)) {
    t.ok(image, `${name} names its image`)
    const match = /^([a-z0-9./_-]+):(\d+(?:\.\d+){2,3}(?:-[a-z0-9.-]+)?)(@sha256:[0-9a-f]{64})?$/.exec(image ?? '')
    t.ok(match, `${name}: ${image} is pinned to an exact release (name:1.2.3)`)
  }
  for (const name of QALQAN) t.equal(service(name).image, `qalqan:${VERSION}`, `${name} runs this version of Qalqan`)
  // Grafana's plugin is a version too.
  const plugins = env('grafana')['GF_PLUGINS_PREINSTALL_SYNC']?.split(',') ?? []
  t.ok(
    plugins.some((plugin) => plugin.startsWith('grafana-clickhouse-datasource@')),
    'the ClickHouse data source is installed',
  )
  for (const plugin of plugins) t.match(plugin, /^[a-z0-9-]+@\d+\.\d+\.\d+$/, `plugin ${plugin} is pinned`)
})

t.test('the Qalqan services: one image built from deploy/Dockerfile, the x-qalqan anchor, a role each', async (t) => {
  t.same(QALQAN.sort(), ['collector', 'query', 'worker'])
  for (const name of QALQAN) {
    t.same(mergedAliases(['services', name]), ['qalqan'], `${name} merges the x-qalqan anchor`)
    t.same(mergedAliases(['services', name, 'environment']), ['qalqan-env'], `${name} merges the shared environment`)
    const build = service(name).build
    t.equal(resolve(DEPLOY, build?.context ?? '-'), PROJECT_ROOT, `${name} builds from the repository root`)
    t.equal(build?.dockerfile, 'deploy/Dockerfile')
    t.ok(existsSync(join(PROJECT_ROOT, build?.dockerfile ?? '-')))
    t.equal(
      env(name)['QALQAN_ROLE'],
      name,
      `${name} runs the ${name} role, set by QALQAN_ROLE (which the image's healthcheck reads)`,
    )
  }
  t.equal(service('collector').deploy?.replicas, 2, 'two collectors')
})

t.test("every service has a healthcheck; the Qalqan ones are the image's own", async (t) => {
  const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8')
  t.match(dockerfile, /^HEALTHCHECK (?:[^\n]*\\\n)*[^\n]*CMD \[/m, 'deploy/Dockerfile has a HEALTHCHECK')
  for (const [name, { healthcheck }] of Object.entries(compose.services)) {
    t.ok(healthcheck, `${name} has a healthcheck`)
    t.not(healthcheck?.disable, true, `${name} does not disable it`)
    if (QALQAN.includes(name)) t.equal(healthcheck?.test, undefined, `${name} keeps the image's test, timings only`)
    else t.ok(Array.isArray(healthcheck?.test) && healthcheck.test.length > 1, `${name} says how to check it`)
  }
  for (const [name, { depends_on }] of Object.entries(compose.services)) {
    for (const [dependency, { condition }] of Object.entries(depends_on ?? {})) {
      t.ok(compose.services[dependency], `${name} depends on ${dependency}, a service of the file`)
      t.equal(condition, 'service_healthy', `${name} waits for ${dependency} to be healthy`)
    }
  }
})

t.test("each Qalqan service's settings pass the program's own configuration check", async (t) => {
  for (const name of QALQAN) {
    const config = configOf(name)
    t.same(config.roles, [name])
    t.equal(config.clickhouse.url, 'https://clickhouse:8443', `${name} talks to the clickhouse service over HTTPS`)
    t.same(config.kafka.brokers, ['kafka:9092'])
    for (const role of ['collector', 'query', 'worker'] as const)
      t.equal(config[role].host, '0.0.0.0', `${name}: ${role} listens on every interface`)
    // The registry is read-only inside the container, from a folder so that a replaced file is seen.
    const mount = (service(name).volumes ?? []).find(
      (volume) => typeof volume === 'object' && config.tokensFile?.startsWith(`${volume.target}/`),
    )
    t.ok(mount, `${name}: ${config.tokensFile} lies in a mounted folder`)
    t.same(typeof mount === 'object' && { type: mount.type, read_only: mount.read_only }, {
      type: 'bind',
      read_only: true,
    })
  }
  // The demo registry named in the header exists and is a registry.
  t.ok(existsSync(join(DEPLOY, SAMPLE_ENV.REGISTRY_DIR, 'tokens.json')))
  t.ok(compose.services['kafka'] && compose.services['clickhouse'])
})

t.test('the collectors and the query API speak HTTPS from certificate files mounted as secrets', async (t) => {
  for (const name of ['collector', 'query'] as const) {
    const config = configOf(name)
    const tls = config[name].tls
    t.ok(tls, `${name}: a certificate is configured`)
    const mounted = new Set(
      (service(name).secrets ?? []).map((secret) =>
        typeof secret === 'string' ? `/run/secrets/${secret}` : (secret.target ?? `/run/secrets/${secret.source}`),
      ),
    )
    const files = [tls?.certFile, tls?.keyFile, ...(name === 'collector' ? [config.collector.tls?.clientCaFile] : [])]
    for (const file of files) {
      t.ok(file !== undefined && mounted.has(file), `${name}: ${file} is a mounted secret`)
      const secret = compose.secrets?.[file?.slice('/run/secrets/'.length) ?? '']
      t.match(secret?.file, /^\/srv\/qalqan\/tls\/[a-z-]+\.(crt|key)$/, `${name}: ${file} comes from TLS_DIR`)
    }
  }
})

t.test('the ops port (metrics, readiness reasons) is never published on a public address', async (t) => {
  for (const name of QALQAN) {
    const config = configOf(name)
    for (const mapping of service(name).ports ?? []) {
      // [host address:]host port[-range]:container port
      const parts = mapping.split(':')
      const container = Number(parts.at(-1))
      const address = parts.length === 3 ? parts[0] : '0.0.0.0'
      if (container === config.ops.port || (name === 'worker' && container === config.worker.port))
        t.equal(address, '127.0.0.1', `${name}: ${mapping} publishes the ops port on loopback only`)
      else t.pass(`${name}: ${mapping} is not the ops port`)
    }
    t.not(config.ops.port, config.collector.port, 'apart from the collector port')
    t.not(config.ops.port, config.query.port, 'apart from the query port')
  }
})

t.test('the secrets compose.yaml needs are named in its header, and nothing has a default password', async (t) => {
  const missing = new Set<string>()
  interpolateAll(raw, {}, missing)
  t.same([...missing].sort(), Object.keys(SAMPLE_ENV).sort(), 'exactly these must be set')
  const header = SOURCE.slice(0, SOURCE.indexOf('\nname:'))
  for (const variable of missing)
    t.match(header, new RegExp(`^#\\s+${variable}=`, 'm'), `the header shows ${variable} in deploy/.env`)
  t.notMatch(SOURCE, /PASSWORD[^\n]*:-/, 'no password falls back to a default')
})

t.test('Kafka runs in KRaft mode with a valid cluster id and a listener for the stack', async (t) => {
  const kafka = env('kafka')
  t.match(service('kafka').image, /^apache\/kafka:4\./, 'Apache Kafka 4.x, the official image')
  t.same(kafka['KAFKA_PROCESS_ROLES']?.split(',').sort(), ['broker', 'controller'])
  // A cluster id is 16 bytes, base64url without padding.
  t.equal(Buffer.from(kafka['CLUSTER_ID'] ?? '', 'base64url').length, 16)
  t.match(kafka['CLUSTER_ID'], /^[A-Za-z0-9_-]{22}$/)
  t.match(
    kafka['KAFKA_ADVERTISED_LISTENERS'],
    /(^|,)INTERNAL:\/\/kafka:9092(,|$)/,
    'the brokers Qalqan is given are advertised',
  )
  t.equal(kafka['KAFKA_AUTO_CREATE_TOPICS_ENABLE'], 'false', 'topics come from Qalqan, with their partitions')
  const dataVolume = (service('kafka').volumes ?? []).find(
    (volume) => typeof volume === 'string' && volume.endsWith(`:${kafka['KAFKA_LOG_DIRS']}`),
  )
  t.ok(dataVolume, 'the log dirs are on a volume')
})

t.test('ClickHouse, Qalqan and Grafana agree on database, users and passwords', async (t) => {
  t.match(
    service('clickhouse').image,
    /^clickhouse\/clickhouse-server:(24\.(8|9|1[0-2])|2[5-9]\.\d+)\./,
    'ClickHouse 24.8 or newer',
  )
  const clickhouse = env('clickhouse')
  const grafana = env('grafana')
  for (const name of ['worker', 'query']) {
    const qalqan = env(name)
    t.equal(qalqan['QALQAN_CLICKHOUSE_DATABASE'], clickhouse['CLICKHOUSE_DB'])
    t.equal(qalqan['QALQAN_CLICKHOUSE_USER'], clickhouse['CLICKHOUSE_USER'])
    t.equal(
      configOf(name).clickhouse.password,
      clickhouse['CLICKHOUSE_PASSWORD'],
      `${name}: the password, from its file`,
    )
  }
  t.equal(grafana['CLICKHOUSE_DATABASE'], clickhouse['CLICKHOUSE_DB'])
  t.not(grafana['CLICKHOUSE_USER'], clickhouse['CLICKHOUSE_USER'], 'Grafana does not read with the user that writes')
  // Grafana's user, from the config mounted into users.d, reads Qalqan's database only.
  const [mounted] = service('clickhouse').configs ?? []
  t.match(mounted?.target, /^\/etc\/clickhouse-server\/users\.d\/[^/]+\.xml$/)
  const xml = compose.configs?.[mounted?.source ?? '']?.content ?? ''
  t.match(xml, new RegExp(`<users>\\s*<${grafana['CLICKHOUSE_USER']}>`), "the users.d file defines Grafana's user")
  t.match(xml, new RegExp(`GRANT SELECT ON ${clickhouse['CLICKHOUSE_DB']}\\.\\*`))
  t.match(xml, /<readonly>[12]<\/readonly>/)
  const fromEnv = /from_env="([A-Z_]+)"/.exec(xml)?.[1] ?? '-'
  t.equal(clickhouse[fromEnv], grafana['CLICKHOUSE_PASSWORD'], 'its password is the one Grafana is given')
})

t.test('Grafana gets the provisioning of deploy/grafana and what it expands', async (t) => {
  const volumes = (service('grafana').volumes ?? []).filter((volume): volume is string => typeof volume === 'string')
  const target = (source: string) => volumes.find((volume) => volume.startsWith(`${source}:`))?.split(':')[1]
  t.equal(target('./grafana/provisioning'), '/etc/grafana/provisioning')
  const dashboards = target('./grafana/dashboards')
  t.ok(dashboards, 'the dashboards are mounted')
  const provisioning = join(DEPLOY, 'grafana', 'provisioning')
  if (!existsSync(provisioning)) {
    t.comment('deploy/grafana/provisioning is not there yet: the cross-checks wait for it')
    return
  }
  const yamls = (dir: string) =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((file) => /\.ya?ml$/.test(file))
          .map((file) => readFileSync(join(dir, file), 'utf8'))
      : []
  // The dashboards provider reads the folder that the compose file mounts.
  for (const text of yamls(join(provisioning, 'dashboards'))) {
    const providers = (parseYaml(text) as { providers?: { options?: { path?: string } }[] }).providers ?? []
    for (const provider of providers)
      t.equal(provider.options?.path, dashboards, 'the dashboards provider reads the mounted folder')
  }
  // Every variable the data source files expand is set in Grafana's environment.
  const grafana = env('grafana')
  for (const text of yamls(join(provisioning, 'datasources'))) {
    const body = text
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .join('\n')
    // $__file{...} is Grafana's own: the file's text, not a variable.
    for (const [, variable] of body.replace(/\$__file\{[^}]*\}/g, '').matchAll(/\$\{?([A-Z_][A-Z0-9_]*)\}?/g))
      t.ok(grafana[variable ?? ''], `Grafana's environment sets ${variable}`)
  }
})

t.test('Kafka over SASL_SSL and ClickHouse over HTTPS, their passwords from secret files', async (t) => {
  const kafka = env('kafka')
  const protocols = Object.fromEntries(
    (kafka['KAFKA_LISTENER_SECURITY_PROTOCOL_MAP'] ?? '').split(',').map((pair) => pair.split(':')),
  )
  t.equal(protocols['INTERNAL'], 'SASL_SSL', "the stack's listener takes TLS and a SASL login")
  t.equal(kafka['KAFKA_SSL_KEYSTORE_TYPE'], 'PEM')
  t.equal(kafka['KAFKA_SSL_TRUSTSTORE_TYPE'], 'PEM')
  const clickhouseXml = compose.configs?.['clickhouse-https']?.content ?? ''
  t.match(clickhouseXml, /<https_port>8443<\/https_port>/)
  const mountedBy = (name: string, path: string) =>
    (service(name).secrets ?? []).some((secret) =>
      typeof secret === 'string'
        ? `/run/secrets/${secret}` === path
        : `/run/secrets/${secret.target ?? secret.source}` === path,
    )
  for (const path of [kafka['KAFKA_SSL_KEYSTORE_LOCATION'], kafka['KAFKA_SSL_TRUSTSTORE_LOCATION']])
    t.ok(mountedBy('kafka', path ?? '-'), `kafka: ${path} is a mounted secret`)
  for (const [, path] of clickhouseXml.matchAll(/<(?:certificateFile|privateKeyFile)>([^<]+)</g))
    t.ok(mountedBy('clickhouse', path ?? '-'), `clickhouse: ${path} is a mounted secret`)
  const jaas = kafka['KAFKA_LISTENER_NAME_INTERNAL_PLAIN_SASL_JAAS_CONFIG'] ?? ''
  for (const name of QALQAN) {
    const settings = env(name)
    for (const key of Object.keys(settings))
      t.notMatch(key, /PASSWORD$/, `${name}: no password in the environment (${key})`)
    for (const [key, value] of Object.entries(settings).filter(([key]) => READ_AT_START.test(key)))
      t.ok(mountedBy(name, value), `${name}: ${key}=${value} is a mounted secret`)
    const config = configOf(name)
    t.equal(config.kafka.securityProtocol, 'SASL_SSL')
    t.ok(config.kafka.tls?.caFile, `${name}: trusts the stack's CA for the broker`)
    t.ok(config.clickhouse.tls?.caFile, `${name}: and for ClickHouse`)
    const sasl = config.kafka.sasl
    t.ok(sasl, `${name}: logs in to Kafka`)
    t.ok(
      jaas.includes(`user_${sasl?.username}="${sasl?.password}"`),
      `${name}: the broker knows the user ${sasl?.username} with the password of the secret`,
    )
    t.match(
      jaas,
      new RegExp(
        `^${sasl?.mechanism === 'PLAIN' ? 'org\\.apache\\.kafka\\.common\\.security\\.plain\\.PlainLoginModule' : '-'} required`,
      ),
    )
    t.ok(
      kafka['KAFKA_SASL_ENABLED_MECHANISMS']?.split(',').includes(sasl?.mechanism ?? '-'),
      `${name}: its mechanism is enabled`,
    )
  }
  const grafanaCa = (service('grafana').secrets ?? []).find(
    (secret) => typeof secret === 'object' && secret.target === 'clickhouse-ca',
  )
  t.equal(
    typeof grafanaCa === 'object' && grafanaCa.source,
    'internal-ca',
    "Grafana trusts the stack's CA for ClickHouse",
  )
  t.equal(env('grafana')['CLICKHOUSE_PORT'], '8443', "Grafana reads ClickHouse's HTTPS port")
})
