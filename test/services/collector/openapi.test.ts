import t from 'tap'
import { Ajv2020 } from 'ajv/dist/2020.js'
import type { FastifyInstance } from 'fastify'
import { buildCollector } from '../../../services/collector/app.js'
import { FORMAT_NAMES } from '../../../services/collector/decode/formats.js'
import { TokenRegistry } from '../../../services/http/tokens.js'
import { createLogger } from '../../../services/logger.js'
import { Metrics } from '../../../services/metrics.js'
import { MemorySender } from '../../helpers/memory.js'
import { validate as validateOpenApi } from '../../helpers/openapi.js'
import { testConfig, TOKENS } from '../../helpers/stack.js'

const config = testConfig({
  QALQAN_COLLECTOR_MAX_EVENTS: '40',
  QALQAN_COLLECTOR_MAX_BODY_BYTES: '65536',
  QALQAN_COLLECTOR_MAX_COUNT: '500',
})
const kafka = new MemorySender()
const tokens = TokenRegistry.fromFile(config.tokensFile ?? '')
const app = buildCollector(config, {
  logger: createLogger('silent'),
  tokens: () => tokens,
  kafka,
  metrics: new Metrics(),
  enrich: (event) => event,
  readiness: () => [],
})
t.teardown(() => app.close())

interface Operation {
  security?: unknown[]
  responses: Record<string, unknown>
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }
}
type Document = { paths: Record<string, Record<string, Operation>> }

async function fetchDocument(): Promise<Document> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200, 'the document is served without a token')
  return res.json()
}

/** `METHOD /path` of every route the app declares, read from Fastify's route tree (without the HEADs it adds to GETs). */
function declaredRoutes(instance: FastifyInstance): string[] {
  const routes: string[] = []
  const prefixes: string[] = []
  for (const line of instance.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (match === null) continue
    const depth = (match[1] ?? '').length / 4
    prefixes.length = depth
    const path = `${prefixes.join('')}${match[2]}`
    prefixes.push(match[2] ?? '')
    for (const method of (match[3] ?? '').split(', ').filter((m) => m !== '' && m !== 'HEAD'))
      routes.push(`${method} ${path}`)
  }
  return routes.sort()
}

/** Whether a concrete path of the document is one the route pattern serves. */
function serves(pattern: string, path: string): boolean {
  const regex = pattern.replace(/[.]/g, '\\.').replace(/:[A-Za-z]+/g, '[^/]+')
  return new RegExp(`^${regex}$`).test(path)
}

t.test('the document is valid OpenAPI 3.1', async (t) => {
  const doc = await fetchDocument()
  const result = await validateOpenApi(doc)
  t.ok(result.valid, JSON.stringify(result.errors ?? []).slice(0, 1000))
})

t.test('every route the app declares is in the document, and every path of the document is a route', async (t) => {
  await app.ready()
  const doc = await fetchDocument()
  const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
  )
  const routes = declaredRoutes(app)
  t.ok(
    routes.includes('POST /v1/events/:format') && routes.includes('GET /services/collector/health/1.0'),
    `the route tree was read: ${routes.join(', ')}`,
  )
  for (const route of routes) {
    const [method, pattern] = route.split(' ') as [string, string]
    t.ok(
      documented.some((entry) => entry.startsWith(`${method} `) && serves(pattern, entry.slice(method.length + 1))),
      `${route} is documented`,
    )
  }
  for (const entry of documented) {
    const [method, path] = entry.split(' ') as [string, string]
    t.ok(
      routes.some((route) => route.startsWith(`${method} `) && serves(route.slice(method.length + 1), path)),
      `${entry} is a route of the app`,
    )
  }
  for (const format of FORMAT_NAMES)
    t.ok(doc.paths[`/v1/events/${format}`]?.['post'], `/v1/events/${format} is documented`)
})

t.test('the document states the configured limits and who may call what', async (t) => {
  const doc = await fetchDocument()
  const canonical = doc.paths['/v1/events']?.['post']
  const json = canonical?.requestBody?.content['application/json']?.schema as { oneOf: { maxItems?: number }[] }
  t.equal(json.oneOf[1]?.maxItems, 40, 'QALQAN_COLLECTOR_MAX_EVENTS')
  t.match(JSON.stringify(canonical), /65536 bytes/, 'QALQAN_COLLECTOR_MAX_BODY_BYTES')
  for (const status of ['202', '400', '401', '403', '413', '415', '429', '503'])
    t.ok(canonical?.responses[status], `POST /v1/events documents ${status}`)
  t.same(doc.paths['/services/collector/event']?.['post']?.security, [{ hecToken: [] }, { sensorToken: [] }])
  t.same(doc.paths['/readyz']?.['get']?.security, [], 'probes take no token')
})

t.test('the patterns of the document refuse what the collector refuses', async (t) => {
  const doc = (await fetchDocument()) as Document & {
    components: {
      schemas: { SensorEvent: { properties: Record<string, { pattern: string }> } }
      parameters: { ContentEncoding: { schema: { pattern: string } } }
    }
  }
  const occurredAt = new RegExp(doc.components.schemas.SensorEvent.properties['occurred_at']?.pattern ?? '')
  t.ok(occurredAt.test('2025-03-01T08:15:30+14:00'), 'an offset of +14:00 (Kiribati) is in a zone')
  t.notOk(occurredAt.test('2025-03-01T08:15:30+14:30'), 'one beyond it is not')
  t.notOk(occurredAt.test('2025-03-01T08:15:30'), 'a time without an offset is not')
  const protocol = new RegExp(doc.components.schemas.SensorEvent.properties['protocol']?.pattern ?? '')
  t.ok(protocol.test('TCP'), 'a protocol in capitals is accepted, as the collector accepts it')
  const encoding = new RegExp(doc.components.parameters.ContentEncoding.schema.pattern)
  for (const accepted of ['gzip', 'GZIP', 'x-gzip', 'identity', '']) t.ok(encoding.test(accepted), `"${accepted}"`)
  for (const refused of ['br', 'deflate', 'gzip, br']) t.notOk(encoding.test(refused), `"${refused}" is refused`)
})

t.test("the collector's answers match the document's schemas", async (t) => {
  const doc = await fetchDocument()
  const ajv = new Ajv2020({ strict: false, validateFormats: false })
  ajv.addSchema({ ...doc, $id: 'collector' })
  const check = async (
    request: { url: string; headers?: Record<string, string>; payload?: string },
    status: number,
    response: string,
  ) => {
    const res = await app.inject({ method: 'POST', ...request })
    t.equal(res.statusCode, status, `${request.url} answers ${status}`)
    const validator = ajv.getSchema(`collector#${response}/content/application~1json/schema`)
    if (validator === undefined) throw new Error(`no schema at ${response}`)
    t.ok(validator(res.json()), `${request.url} ${status}: ${JSON.stringify(validator.errors)} for ${res.body}`)
    return res
  }
  const sensor = { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'application/json' }
  const event = {
    occurred_at: new Date().toISOString(),
    category: 'scan',
    severity: 2,
    signature: 'port scan',
    src_ip: '203.0.113.9',
  }
  await check(
    { url: '/v1/events', headers: sensor, payload: JSON.stringify([event, {}]) },
    202,
    '/components/responses/Accepted',
  )
  await check({ url: '/v1/events', headers: sensor, payload: '{}' }, 400, '/components/responses/InvalidEvents')
  await check({ url: '/v1/events', payload: '{}' }, 401, '/components/responses/Unauthorized')
  await check(
    { url: '/v1/events', headers: { ...sensor, authorization: `Bearer ${TOKENS.analyst}` }, payload: '{}' },
    403,
    '/components/responses/Forbidden',
  )
  await check(
    { url: '/v1/events', headers: sensor, payload: JSON.stringify(Array(41).fill(event)) },
    413,
    '/components/responses/TooLarge',
  )
  await check(
    { url: '/v1/events', headers: { ...sensor, 'content-type': 'text/csv' }, payload: 'a' },
    415,
    '/components/responses/UnsupportedMediaType',
  )
  kafka.failNext(1)
  const unavailable = await check(
    { url: '/v1/events', headers: sensor, payload: JSON.stringify(event) },
    503,
    '/components/responses/Unavailable',
  )
  t.match(unavailable.headers['retry-after'], /^\d+$/, 'Retry-After as documented')
  const hec = (status: number) => `/paths/~1services~1collector~1event/post/responses/${status}`
  const splunk = { authorization: `Splunk ${TOKENS.astana}` }
  await check({ url: '/services/collector/event', headers: splunk, payload: JSON.stringify({ event }) }, 200, hec(200))
  await check({ url: '/services/collector/event', headers: splunk, payload: '{"event": ""}' }, 400, hec(400))
  await check({ url: '/services/collector/event', payload: '{"event": {}}' }, 401, hec(401))
})

t.test('the event schema states every bound the collector enforces on a field, at both sides of it', async (t) => {
  const doc = (await fetchDocument()) as Document & {
    components: { schemas: { SensorEvent: { properties: Record<string, Record<string, unknown>> } } }
  }
  const properties = doc.components.schemas.SensorEvent.properties
  t.match(properties['count'], { minimum: 1, maximum: 500, description: /500 \(QALQAN_COLLECTOR_MAX_COUNT\)/ })
  const ajv = new Ajv2020({ strict: false, validateFormats: false })
  ajv.addSchema({ ...doc, $id: 'collector' })
  const documented = ajv.getSchema('collector#/components/schemas/SensorEvent')
  if (documented === undefined) throw new Error('no SensorEvent schema')
  // An hour ago on the clock of a zone `offset` away from UTC, written with that offset.
  const at = (offset: string) => {
    const minutes = (offset[0] === '-' ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)))
    const local = new Date(Date.now() - 3_600_000 + minutes * 60_000).toISOString().slice(0, 19)
    return `${local}${offset}`
  }
  const valid = {
    occurred_at: at('+05:00'),
    category: 'scan',
    severity: 2,
    signature: 'port scan',
    src_ip: '203.0.113.9',
  }
  const cases: [string, Record<string, unknown>, boolean][] = [
    ['count at the ceiling', { count: 500 }, true],
    ['count above the ceiling', { count: 501 }, false],
    ['count 0', { count: 0 }, false],
    ['count not whole', { count: 1.5 }, false],
    ['severity 4', { severity: 4 }, true],
    ['severity 5', { severity: 5 }, false],
    ['a signature of 512 characters', { signature: 's'.repeat(512) }, true],
    ['a signature of 513', { signature: 's'.repeat(513) }, false],
    ['an empty signature', { signature: '' }, false],
    ['a signature_id of 128 characters', { signature_id: 'i'.repeat(128) }, true],
    ['a signature_id of 129', { signature_id: 'i'.repeat(129) }, false],
    ['an empty signature_id', { signature_id: '' }, false],
    ['a sub-technique', { mitre_technique: 'T1110.001' }, true],
    ['a technique spelled otherwise', { mitre_technique: 'T1110.1' }, false],
    ['an empty technique', { mitre_technique: '' }, false],
    ['port 0', { src_port: 0, dst_port: 0 }, true],
    ['port 65536', { dst_port: 65536 }, false],
    ['a protocol of 16 characters', { protocol: 'P'.repeat(16) }, true],
    ['a protocol of 17', { protocol: 'p'.repeat(17) }, false],
    ['a device of 255 characters', { device: 'd'.repeat(255) }, true],
    ['a device of 256', { device: 'd'.repeat(256) }, false],
    ['an empty device', { device: '' }, false],
    ['a log_source of 255 characters', { log_source: '/'.repeat(255) }, true],
    ['a log_source of 256', { log_source: '/'.repeat(256) }, false],
    ['an empty log_source', { log_source: '' }, false],
    ['an offset of +14:00', { occurred_at: at('+14:00') }, true],
    ['an offset of -14:00', { occurred_at: at('-14:00') }, true],
    ['an offset of +14:30', { occurred_at: at('+14:30') }, false],
    ['an offset of -15:00', { occurred_at: at('-15:00') }, false],
    ['a field no event has', { severity_text: 'high' }, false],
  ]
  for (const [label, change, expected] of cases) {
    const event = { ...valid, ...change }
    t.equal(documented(event), expected, `${label}: the document ${expected ? 'allows' : 'refuses'} it`)
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'application/json' },
      payload: JSON.stringify(event),
    })
    t.equal(
      res.statusCode === 202 && res.json().accepted === 1,
      expected,
      `${label}: the collector ${expected ? 'accepts' : 'refuses'} it (${res.body.slice(0, 200)})`,
    )
  }
})
