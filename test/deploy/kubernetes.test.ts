import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { loadConfig } from '../../services/config.js'
import { PROJECT_ROOT } from '../../services/paths.js'
import { TokenRegistry } from '../../services/http/tokens.js'

// deploy/kubernetes/ checked without a cluster: every object against the Kubernetes API's schemas
// (kubernetes-models' validators, generated from the API's OpenAPI), then what Qalqan needs of
// them: probes on the right paths and ports, resources, non-root, settings the program accepts.

const DIR = join(PROJECT_ROOT, 'deploy', 'kubernetes')
const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version
const NAMESPACE = 'qalqan'

// The shapes this test reads; kubernetes-models validates the whole objects.
interface Probe {
  httpGet?: { path: string; port: string | number; scheme?: string }
}
interface Container {
  name: string
  image: string
  envFrom?: { configMapRef?: { name: string } }[]
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]
  ports?: { name?: string; containerPort: number }[]
  startupProbe?: Probe
  livenessProbe?: Probe
  readinessProbe?: Probe
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  securityContext?: {
    allowPrivilegeEscalation?: boolean
    readOnlyRootFilesystem?: boolean
    runAsNonRoot?: boolean
    capabilities?: { drop?: string[] }
  }
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[]
}
interface PodSpec {
  enableServiceLinks?: boolean
  automountServiceAccountToken?: boolean
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } }
  containers: Container[]
  volumes?: { name: string; secret?: { secretName: string }; emptyDir?: object }[]
}
interface Manifest {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string> }
  type?: string
  data?: Record<string, string>
  stringData?: Record<string, string>
  spec?: {
    replicas?: number
    selector?: { matchLabels?: Record<string, string> } | Record<string, string>
    template?: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec }
    podSelector?: { matchLabels?: Record<string, string> }
    ingress?: {
      from?: { namespaceSelector?: { matchLabels?: Record<string, string> } }[]
      ports?: { port: string | number }[]
    }[]
    ports?: { name: string; port: number; targetPort: string | number }[]
    scaleTargetRef?: { apiVersion: string; kind: string; name: string }
    minReplicas?: number
    maxReplicas?: number
    metrics?: { type: string; resource?: { name: string } }[]
  }
}

const FILES = readdirSync(DIR)
  .filter((file) => /\.ya?ml$/.test(file))
  .sort()
const manifests: { file: string; manifest: Manifest }[] = []
for (const file of FILES) {
  const text = readFileSync(join(DIR, file), 'utf8')
  // Kubernetes reads YAML 1.1 (yes, no, on and 0644 mean other things there); a value that reads
  // differently in 1.1 and 1.2 is a trap, so both must agree.
  const as11 = parseAllDocuments(text, { version: '1.1' })
  const as12 = parseAllDocuments(text, { version: '1.2' })
  if (!Array.isArray(as11) || !Array.isArray(as12)) throw new Error(`${file}: not YAML documents`)
  as11.forEach((document, index) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.join('; ')}`)
    const manifest = document.toJS() as Manifest | null
    if (manifest === null) return
    if (JSON.stringify(manifest) !== JSON.stringify(as12[index]?.toJS()))
      throw new Error(`${file}: document ${index + 1} reads differently in YAML 1.1 and 1.2`)
    manifests.push({ file, manifest })
  })
}

const ofKind = (kind: string) =>
  manifests.filter(({ manifest }) => manifest.kind === kind).map(({ manifest }) => manifest)
const deployments = ofKind('Deployment')
const byName = (kind: string, name: string) => ofKind(kind).find((manifest) => manifest.metadata.name === name)
const roleOf = (deployment: Manifest) =>
  deployment.spec?.template?.spec.containers[0]?.env?.find((item) => item.name === 'QALQAN_ROLE')?.value ?? ''
const deploymentOf = (role: string) => {
  const found = deployments.find((deployment) => roleOf(deployment) === role)
  if (found === undefined) throw new Error(`no Deployment runs the ${role} role`)
  return found
}
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value)

/** The environment the container starts with; Secret values stand in as placeholders. */
function containerEnv(container: Container): Record<string, string> {
  const env: Record<string, string> = {}
  for (const source of container.envFrom ?? []) {
    const map = byName('ConfigMap', source.configMapRef?.name ?? '')
    if (map === undefined) throw new Error(`${container.name}: no ConfigMap ${source.configMapRef?.name}`)
    Object.assign(env, map.data)
  }
  for (const item of container.env ?? [])
    env[item.name] = item.value ?? `secret:${item.valueFrom?.secretKeyRef?.name}/${item.valueFrom?.secretKeyRef?.key}`
  return env
}

// Files the program reads at start (secrets given as X_FILE, CA and client certificate files),
// written from the stringData of the Secret mounted where they lie, so the check reads what the pod would.
const READ_AT_START = /^QALQAN_(KAFKA|CLICKHOUSE)_(CA|CERT|KEY)_FILE$|^QALQAN_\w+_(PASSWORD|USER)_FILE$/
const mountedDir = mkdtempSync(join(tmpdir(), 'qalqan-k8s-secrets-'))
t.teardown(() => rmSync(mountedDir, { recursive: true, force: true }))

/** The Secret and key behind a path of a container's mounts, if a Secret volume is mounted there. */
function mountedSecret(container: Container, path: string): { secret: string; key: string } | undefined {
  const deployment = deployments.find((item) => item.spec?.template?.spec.containers.includes(container))
  const mount = container.volumeMounts?.find((item) => path.startsWith(`${item.mountPath}/`))
  const volume = deployment?.spec?.template?.spec.volumes?.find((item) => item.name === mount?.name)
  if (mount === undefined || volume?.secret === undefined) return undefined
  return { secret: volume.secret.secretName, key: path.slice(mount.mountPath.length + 1) }
}

/** The container's settings as the program reads them in the pod. */
function configOf(container: Container) {
  const env = containerEnv(container)
  for (const [key, value] of Object.entries(env)) {
    if (!READ_AT_START.test(key)) continue
    const mounted = mountedSecret(container, value)
    const text = byName('Secret', mounted?.secret ?? '')?.stringData?.[mounted?.key ?? '']
    if (text === undefined) continue
    const path = join(mountedDir, `${container.name}-${key}`)
    writeFileSync(
      path,
      key.endsWith('_CA_FILE') || key.endsWith('_CERT_FILE') ? `-----BEGIN CERTIFICATE-----\n${text}\n` : `${text}\n`,
    )
    env[key] = path
  }
  return loadConfig(env)
}

t.test('the manifests parse, one object per document', async (t) => {
  t.ok(FILES.length >= 5, `files: ${FILES.join(', ')}`)
  t.same([...new Set(deployments.map(roleOf))].sort(), ['collector', 'query', 'worker'], 'one Deployment per role')
})

t.test('every object is valid against the Kubernetes API schemas', async (t) => {
  for (const { file, manifest } of manifests) {
    // kubernetes-models has one module per API group and version, with a class per kind.
    const [group, version] = manifest.apiVersion.includes('/')
      ? manifest.apiVersion.split('/')
      : [undefined, manifest.apiVersion]
    const models = (await import(`kubernetes-models/${group === undefined ? '' : `${group}/`}${version}`)) as Record<
      string,
      new (
        data: Manifest,
      ) => { validate(): void }
    >
    const Model = models[manifest.kind]
    if (Model === undefined) {
      t.fail(`${file}: ${manifest.apiVersion} ${manifest.kind} is not a kind of the Kubernetes API`)
      continue
    }
    t.doesNotThrow(() => new Model(manifest).validate(), `${file}: ${manifest.kind} ${manifest.metadata.name}`)
  }
})

t.test('everything lives in the qalqan namespace, which enforces the restricted Pod Security profile', async (t) => {
  const [namespace] = ofKind('Namespace')
  t.equal(namespace?.metadata.name, NAMESPACE)
  t.equal(namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted')
  t.equal(FILES[0], '00-namespace.yaml', 'applied first: kubectl apply -f takes the files in name order')
  for (const { file, manifest } of manifests) {
    if (manifest.kind !== 'Namespace')
      t.equal(manifest.metadata.namespace, NAMESPACE, `${file}: ${manifest.kind} ${manifest.metadata.name}`)
  }
})

t.test('every pod runs non-root, read-only, without privileges, with resources set', async (t) => {
  for (const deployment of deployments) {
    const name = deployment.metadata.name
    const pod = deployment.spec?.template?.spec
    if (pod === undefined) throw new Error(`${name} has no pod template`)
    t.ok(
      matches(
        (deployment.spec?.selector as { matchLabels: Record<string, string> } | undefined)?.matchLabels ?? {},
        deployment.spec?.template?.metadata?.labels ?? {},
      ),
      `${name}: its selector matches its pods`,
    )
    t.equal(pod.securityContext?.runAsNonRoot, true, `${name}: runAsNonRoot`)
    t.ok((pod.securityContext?.runAsUser ?? 0) > 0, `${name}: a non-root uid`)
    t.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${name}: seccomp RuntimeDefault`)
    // Service links would add *_SERVICE_HOST and *_PORT variables, which Qalqan refuses when they
    // start with QALQAN_ (a Service named qalqan-collector gives QALQAN_COLLECTOR_PORT=tcp://...).
    t.equal(pod.enableServiceLinks, false, `${name}: no service links`)
    t.equal(pod.automountServiceAccountToken, false, `${name}: no API token`)
    for (const container of pod.containers) {
      const where = `${name}/${container.name}`
      t.equal(container.image, `qalqan:${VERSION}`, `${where}: this version's image, pinned`)
      const security = container.securityContext
      t.equal(security?.allowPrivilegeEscalation, false, `${where}: no privilege escalation`)
      t.equal(security?.readOnlyRootFilesystem, true, `${where}: read-only root filesystem`)
      t.same(security?.capabilities?.drop, ['ALL'], `${where}: every capability dropped`)
      for (const kind of ['requests', 'limits'] as const) {
        for (const resource of ['cpu', 'memory'])
          t.ok(container.resources?.[kind]?.[resource], `${where}: ${kind}.${resource}`)
      }
      for (const mount of container.volumeMounts ?? [])
        t.ok(
          pod.volumes?.some((volume) => volume.name === mount.name),
          `${where}: volume ${mount.name} exists`,
        )
      for (const volume of pod.volumes ?? []) {
        if (volume.secret)
          t.ok(
            byName('Secret', volume.secret.secretName),
            `${where}: Secret ${volume.secret.secretName} is among the manifests`,
          )
      }
    }
  }
})

t.test("probes: /healthz for liveness, /readyz for the collector's readiness, on the role's port", async (t) => {
  const readiness: Record<string, string> = { collector: '/readyz', worker: '/healthz', query: '/healthz' }
  for (const role of ['collector', 'worker', 'query'] as const) {
    const deployment = deploymentOf(role)
    const container = deployment.spec?.template?.spec.containers[0]
    if (container === undefined) throw new Error(`${role}: no container`)
    const port = (probe: Probe | undefined) => {
      const named = probe?.httpGet?.port
      return typeof named === 'number' ? named : container.ports?.find((item) => item.name === named)?.containerPort
    }
    const config = configOf(container)
    t.equal(container.livenessProbe?.httpGet?.path, '/healthz', `${role}: liveness on /healthz`)
    t.equal(container.readinessProbe?.httpGet?.path, readiness[role], `${role}: readiness on ${readiness[role]}`)
    t.equal(
      container.startupProbe?.httpGet?.path,
      '/healthz',
      `${role}: a startup probe, while it connects before it listens`,
    )
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
      t.equal(port(probe), config[role].port, `${role}: the probe asks the port the ${role} listens on`)
    }
  }
})

t.test("each container's settings pass the program's own configuration check", async (t) => {
  for (const deployment of deployments) {
    const role = roleOf(deployment)
    for (const container of deployment.spec?.template?.spec.containers ?? []) {
      const env = containerEnv(container)
      const config = configOf(container)
      t.same(config.roles, [role], `${deployment.metadata.name} runs the ${role} role`)
      t.equal(
        config[role as 'collector' | 'worker' | 'query'].host,
        '0.0.0.0',
        `${role} listens on the pod's addresses`,
      )
      if (role !== 'collector') {
        t.match(
          config.clickhouse.url,
          /^https?:\/\//,
          `${role}: a ClickHouse server, not the embedded engine (left out of the image)`,
        )
        t.same(
          mountedSecret(container, env['QALQAN_CLICKHOUSE_PASSWORD_FILE'] ?? '-'),
          { secret: 'qalqan-clickhouse', key: 'password' },
          `${role}: the password is a file of the Secret`,
        )
        t.equal(config.clickhouse.password, byName('Secret', 'qalqan-clickhouse')?.stringData?.['password'])
      }
      if (role !== 'worker') {
        // The registry is a file of the mounted Secret (a folder, so that updates reach the pod).
        const mount = container.volumeMounts?.find((item) => config.tokensFile?.startsWith(`${item.mountPath}/`))
        t.ok(mount?.readOnly, `${role}: ${config.tokensFile} is in a read-only mount`)
        const volume = deployment.spec?.template?.spec.volumes?.find((item) => item.name === mount?.name)
        const secret = byName('Secret', volume?.secret?.secretName ?? '')
        t.ok(
          secret?.stringData?.[config.tokensFile?.slice((mount?.mountPath.length ?? 0) + 1) ?? ''],
          `${role}: the Secret holds ${config.tokensFile}`,
        )
      }
    }
  }
})

t.test('Services and the autoscaler point at the Deployments they are for', async (t) => {
  for (const service of ofKind('Service')) {
    const selector = service.spec?.selector as Record<string, string>
    const target = deployments.find((deployment) =>
      matches(selector, deployment.spec?.template?.metadata?.labels ?? {}),
    )
    t.ok(target, `Service ${service.metadata.name} selects a Deployment`)
    for (const port of service.spec?.ports ?? []) {
      t.ok(
        target?.spec?.template?.spec.containers.some((container) =>
          container.ports?.some((item) => item.name === port.targetPort || item.containerPort === port.targetPort),
        ),
        `Service ${service.metadata.name}: port ${port.name} reaches a container port`,
      )
    }
    t.notMatch(
      service.metadata.name.toUpperCase().replace(/-/g, '_'),
      /^QALQAN_/,
      `Service ${service.metadata.name} would not make QALQAN_ variables even with service links`,
    )
  }
  t.ok(byName('Service', 'collector') && byName('Service', 'query'), 'the collector and the query API have a Service')
  const [autoscaler] = ofKind('HorizontalPodAutoscaler')
  const scaled = deployments.find((deployment) => deployment.metadata.name === autoscaler?.spec?.scaleTargetRef?.name)
  t.equal(scaled && roleOf(scaled), 'collector', 'the collectors are autoscaled')
  t.ok((autoscaler?.spec?.minReplicas ?? 0) >= 2, 'at least two collectors')
  t.ok(
    autoscaler?.spec?.metrics?.some((metric) => metric.resource?.name === 'cpu'),
    'on CPU, which the containers request',
  )
  for (const budget of ofKind('PodDisruptionBudget')) {
    const selector = (budget.spec?.selector as { matchLabels: Record<string, string> } | undefined)?.matchLabels ?? {}
    t.ok(
      deployments.some((deployment) => matches(selector, deployment.spec?.template?.metadata?.labels ?? {})),
      `PodDisruptionBudget ${budget.metadata.name} covers a Deployment`,
    )
  }
})

t.test('no more workers than the events topic has partitions', async (t) => {
  const worker = deploymentOf('worker')
  const container = worker.spec?.template?.spec.containers[0]
  const partitions = configOf(container as Container).kafka.partitions
  t.ok((worker.spec?.replicas ?? 1) <= partitions, `${worker.spec?.replicas} workers for ${partitions} partitions`)
  t.notOk(
    ofKind('HorizontalPodAutoscaler').some(
      (autoscaler) => autoscaler.spec?.scaleTargetRef?.name === worker.metadata.name,
    ),
    'workers are not autoscaled past the partitions',
  )
})

t.test('the example token registry is one Qalqan accepts, and lets nobody in', async (t) => {
  const secret = byName('Secret', 'qalqan-tokens')
  const text = secret?.stringData?.['tokens.json'] ?? ''
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-k8s-tokens-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'tokens.json')
  writeFileSync(file, text)
  const registry = TokenRegistry.fromFile(file)
  t.ok(registry)
  const hashes = [...text.matchAll(/"token_sha256": "([0-9a-f]{64})"/g)].map((match) => match[1])
  t.ok(hashes.length >= 2, 'a sensor and an analyst')
  // Placeholders, not the hash of any token someone could guess: all zeros but the last digit.
  for (const hash of hashes) t.match(hash, /^0{63}[1-9a-f]$/)
})

t.test('the collector and the query API speak HTTPS from a mounted Secret; probes use HTTPS', async (t) => {
  for (const role of ['collector', 'query'] as const) {
    const deployment = deploymentOf(role)
    const container = deployment.spec?.template?.spec.containers[0] as Container
    const config = configOf(container)
    const tls = config[role].tls
    t.ok(tls, `${role}: a certificate is configured`)
    const files = [tls?.certFile, tls?.keyFile, ...(role === 'collector' ? [config.collector.tls?.clientCaFile] : [])]
    for (const file of files) {
      const mount = container.volumeMounts?.find((item) => file?.startsWith(`${item.mountPath}/`))
      t.ok(mount?.readOnly, `${role}: ${file} is in a read-only mount`)
      const volume = deployment.spec?.template?.spec.volumes?.find((item) => item.name === mount?.name)
      const secret = byName('Secret', volume?.secret?.secretName ?? '')
      t.ok(
        secret?.stringData?.[file?.slice((mount?.mountPath.length ?? 0) + 1) ?? ''],
        `${role}: the Secret holds ${file}`,
      )
    }
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe])
      t.equal(probe?.httpGet?.scheme, 'HTTPS', `${role}: the probe speaks HTTPS to the HTTPS port`)
  }
  t.equal(byName('Secret', 'qalqan-tls')?.type, 'kubernetes.io/tls', 'the certificate is a TLS Secret')
})

t.test('the ops port is a named port of its own, scraped by Prometheus, open to monitoring only', async (t) => {
  for (const role of ['collector', 'query', 'worker'] as const) {
    const deployment = deploymentOf(role)
    const container = deployment.spec?.template?.spec.containers[0] as Container
    const config = configOf(container)
    const opsPort = role === 'worker' ? config.worker.port : config.ops.port
    const named = container.ports?.find((item) => item.name === 'ops')
    t.equal(named?.containerPort, opsPort, `${role}: the port named ops is the one the process serves metrics on`)
    if (role !== 'worker') {
      t.not(opsPort, config[role].port, `${role}: apart from the public port`)
      t.equal(config.ops.host, '0.0.0.0', `${role}: on the pod's addresses, for Prometheus`)
    }
    const annotations = deployment.spec?.template?.metadata.annotations ?? {}
    t.equal(annotations['prometheus.io/scrape'], 'true', `${role}: scraped`)
    t.equal(annotations['prometheus.io/port'], String(opsPort), `${role}: on the ops port`)
    t.equal(annotations['prometheus.io/path'], '/metrics')
    for (const service of ofKind('Service')) {
      if (!matches(service.spec?.selector as Record<string, string>, deployment.spec?.template?.metadata.labels ?? {}))
        continue
      for (const port of service.spec?.ports ?? [])
        t.not(port.targetPort, 'ops', `Service ${service.metadata.name} does not carry the ops port`)
    }
    const policies = ofKind('NetworkPolicy').filter((policy) =>
      matches(policy.spec?.podSelector?.matchLabels ?? {}, deployment.spec?.template?.metadata.labels ?? {}),
    )
    t.equal(policies.length, 1, `${role}: one NetworkPolicy selects its pods`)
    const rules = policies[0]?.spec?.ingress ?? []
    const opsRules = rules.filter((rule) => rule.ports?.some((port) => port.port === 'ops' || port.port === opsPort))
    t.ok(opsRules.length > 0, `${role}: a rule for the ops port`)
    for (const rule of opsRules) {
      t.ok(
        (rule.from ?? []).length > 0 &&
          rule.from?.every(
            (peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring',
          ),
        `${role}: the ops port admits the monitoring namespace only`,
      )
    }
    for (const rule of rules) {
      t.ok(
        rule.ports !== undefined && rule.ports.length > 0,
        `${role}: every rule names its ports (none opens the whole pod)`,
      )
    }
  }
})

t.test('Kafka over SASL_SSL and ClickHouse over HTTPS, every password and CA a file of a mounted Secret', async (t) => {
  for (const role of ['collector', 'worker', 'query'] as const) {
    const container = deploymentOf(role).spec?.template?.spec.containers[0] as Container
    const env = containerEnv(container)
    for (const key of Object.keys(env)) t.notMatch(key, /PASSWORD$/, `${role}: no password in the environment (${key})`)
    const config = configOf(container)
    if (role !== 'query') {
      t.equal(config.kafka.securityProtocol, 'SASL_SSL', `${role}: Kafka over TLS with a login`)
      t.match(config.kafka.sasl, { mechanism: /^SCRAM-SHA-(256|512)$/, password: 'REPLACE-with-the-kafka-password' })
      for (const key of ['QALQAN_KAFKA_SASL_PASSWORD_FILE', 'QALQAN_KAFKA_CA_FILE'])
        t.ok(mountedSecret(container, env[key] ?? '-'), `${role}: ${key} lies in a mounted Secret`)
    }
    if (role !== 'collector') {
      t.match(config.clickhouse.url, /^https:\/\//, `${role}: ClickHouse over HTTPS`)
      for (const key of ['QALQAN_CLICKHOUSE_PASSWORD_FILE', 'QALQAN_CLICKHOUSE_CA_FILE'])
        t.ok(mountedSecret(container, env[key] ?? '-'), `${role}: ${key} lies in a mounted Secret`)
    }
  }
})
