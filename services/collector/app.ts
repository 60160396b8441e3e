import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { CanonicalEvent } from '../../schemas/event.js'
import type { Config } from '../config.js'
import { errorBody, QalqanError } from '../errors.js'
import { requireRole } from '../http/auth.js'
import { createServer } from '../http/server.js'
import { ingest, type EventWriter, type IngestDeps, type IngestResult } from './ingest.js'
import type { Metrics } from '../metrics.js'
import { RateLimiter } from './rate-limit.js'
import type { Sensor, TokenRegistry } from '../http/tokens.js'
import { decodeCanonical, type BodyFormat } from './decode/canonical.js'
import { isLineFormat, LINE_DECODERS } from './decode/formats.js'
import { splitLines } from './framing.js'
import { registerHec } from './hec.js'
import { bodyText } from './body.js'

export interface CollectorDeps {
  readonly logger: Logger
  readonly tokens: () => TokenRegistry
  readonly writer: EventWriter
  readonly metrics: Metrics
  readonly enrich: (event: CanonicalEvent) => CanonicalEvent
  /** Problems that make this collector unfit for traffic (Kafka unreachable, a registry not loaded); empty when ready. */
  readonly readiness: () => string[]
}

const LINE_TYPES = ['text/plain', 'application/x-ndjson', 'application/json', 'application/octet-stream']

/** The collector's HTTP app: sensors POST events in their own formats; 2xx only once Kafka acknowledged them. */
export function buildCollector(config: Config, deps: CollectorDeps): FastifyInstance {
  const app = createServer(deps.logger, 'collector', config.collector)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

  const ingestDeps: IngestDeps = {
    writer: deps.writer,
    metrics: deps.metrics,
    rateLimiter: new RateLimiter(config.collector.sensorRate, config.collector.sensorBurst),
    enrich: deps.enrich,
  }
  const readText = (request: FastifyRequest) => {
    deps.metrics.inc('qalqan_http_requests_total', 'Ingest requests by route.', { route: request.routeOptions.url ?? 'unknown' })
    return bodyText(Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0), request.headers['content-encoding'], config.collector.maxBodyBytes)
  }
  const sensorOnly = requireRole(deps.tokens, 'sensor')

  app.post('/v1/events', { preHandler: sensorOnly }, async (request, reply) => {
    const format = canonicalFormat(request.headers['content-type'])
    const records = decodeCanonical(await readText(request), format, config.collector)
    return answer(reply, await ingest(records, sensorOf(request), `canonical-${format}`, ingestDeps))
  })

  app.post<{ Params: { format: string } }>('/v1/events/:format', { preHandler: sensorOnly }, async (request, reply) => {
    const { format } = request.params
    if (!isLineFormat(format)) {
      throw new QalqanError('QLQ_ERR_NOT_FOUND', `no format ${JSON.stringify(format.slice(0, 40))}: use /v1/events (canonical), /v1/events/suricata, /v1/events/cowrie or /v1/events/cef`)
    }
    const type = mediaType(request.headers['content-type'])
    if (type !== '' && !LINE_TYPES.includes(type)) {
      throw new QalqanError('QLQ_ERR_UNSUPPORTED_MEDIA_TYPE', `send ${format} records one per line as text/plain or application/x-ndjson`)
    }
    const lines = splitLines(await readText(request), config.collector)
    if (lines.length === 0) throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the body is empty: send at least one record')
    const decode = LINE_DECODERS[format]
    const records = lines.map((line, index) => ({ index, decoded: decode(line), raw: () => line }))
    return answer(reply, await ingest(records, sensorOf(request), format, ingestDeps))
  })

  registerHec(app, { config, tokens: deps.tokens, ingest: ingestDeps, readText, readiness: deps.readiness })

  app.get('/readyz', async (_request, reply) => {
    const problems = deps.readiness()
    return reply.code(problems.length === 0 ? 200 : 503).send({ status: problems.length === 0 ? 'ready' : 'not ready', problems })
  })
  app.get('/metrics', async (_request, reply) => reply.type('text/plain; version=0.0.4').send(deps.metrics.render()))

  return app
}

function answer(reply: FastifyReply, result: IngestResult) {
  if (result.accepted === 0 && result.rejected.length > 0) {
    return reply.code(400).send({ ...errorBody(new QalqanError('QLQ_ERR_INVALID_EVENTS')), ...result })
  }
  return reply.code(202).send(result)
}

export function sensorOf(request: FastifyRequest): Sensor {
  if (request.sensor === undefined) throw new QalqanError('QLQ_ERR_UNAUTHORIZED')
  return request.sensor
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

function canonicalFormat(header: string | undefined): BodyFormat {
  const type = mediaType(header)
  if (type === 'application/json') return 'json'
  if (type === 'application/x-ndjson') return 'ndjson'
  throw new QalqanError(
    'QLQ_ERR_UNSUPPORTED_MEDIA_TYPE',
    `Content-Type ${JSON.stringify(type.slice(0, 60))} is not accepted here: send application/json (an event or an array of events) or application/x-ndjson (one event per line)`,
  )
}
