import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TlsOptions } from 'node:tls'
import type { Logger } from 'pino'
import type { CanonicalEvent } from '../../schemas/event.js'
import type { Config } from '../config.js'
import { errorBody, QalqanError } from '../errors.js'
import { sensorOf } from '../http/auth.js'
import { createServer } from '../http/server.js'
import { ingest, type IngestDeps, type IngestResult } from './ingest.js'
import type { Metrics } from '../metrics.js'
import { RateLimiter } from './rate-limit.js'
import type { Sensor, TokenRegistry } from '../http/tokens.js'
import type { EventSender } from '../kafka/index.js'
import { decodeCanonical, type BodyFormat } from './decode/canonical.js'
import { FORMAT_NAMES, FORMATS, isLineFormat, type LineFormat } from './decode/formats.js'
import { splitLines } from './framing.js'
import { registerHec } from './hec.js'
import { bodyText } from './body.js'
import { idempotencyKeyOf } from './event-id.js'
import { admitSensor, beforeBody } from './admission.js'
import { applyServerLimits } from './server-limits.js'
import { decodeContextOf } from './arrival.js'

export interface CollectorDeps {
  readonly logger: Logger
  readonly tokens: () => TokenRegistry
  readonly kafka: EventSender
  readonly metrics: Metrics
  /** Places the event; the sensor's registration says whom it may file events under. */
  readonly enrich: (event: CanonicalEvent, sensor: Sensor) => CanonicalEvent
  /** Problems that make this collector unfit for traffic (Kafka unreachable, a registry not loaded); empty when ready. */
  readonly readiness: () => string[]
  /** HTTPS (and sensor certificates when it asks for them); plain HTTP without. */
  readonly tls?: TlsOptions | undefined
}

const LINE_TYPES = ['text/plain', 'application/x-ndjson', 'application/json', 'application/octet-stream']

/**
 * The collector's HTTP app: sensors POST events in their own formats; 2xx only once Kafka acknowledged them.
 * Its port faces the sensors' networks: /healthz and /readyz say ready or not and no more; the
 * metrics and the reasons are on the ops port (services/http/ops-server.ts).
 */
export function buildCollector(config: Config, deps: CollectorDeps): FastifyInstance {
  const app = createServer(deps.logger, 'collector', config.collector, deps.tls)
  applyServerLimits(app.server, config.collector, () => deps.metrics.error('http', 'too_many_connections'))
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

  const ingestDeps: IngestDeps = {
    kafka: deps.kafka,
    metrics: deps.metrics,
    rateLimiter: new RateLimiter(config.collector.sensorRate, config.collector.sensorBurst),
    enrich: deps.enrich,
    timeLimits: config.collector.timeLimits,
    maxCount: config.collector.maxCount,
  }
  const readText = (request: FastifyRequest) => {
    deps.metrics.httpRequest(request.routeOptions.url ?? 'unknown')
    return bodyText(
      Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      request.headers['content-encoding'],
      config.collector.maxBodyBytes,
    )
  }
  const sensor = admitSensor({ tokens: deps.tokens, rateLimiter: ingestDeps.rateLimiter, metrics: deps.metrics })
  // A route's checks on the headers run before the body is read too: a wrong type costs no body either.
  const canonicalChecks = beforeBody(sensor, (request) => void canonicalFormat(request.headers['content-type']))
  const lineChecks = beforeBody(sensor, (request) => void lineFormatOf(request))

  app.post('/v1/events', { onRequest: canonicalChecks }, async (request, reply) => {
    const format = canonicalFormat(request.headers['content-type'])
    const receivedAt = new Date()
    const records = decodeCanonical(await readText(request), format, config.collector)
    const idempotencyKey = idempotencyKeyOf(request.headers)
    return answer(
      reply,
      await ingest(records, sensorOf(request), `canonical-${format}`, ingestDeps, { receivedAt, idempotencyKey }),
    )
  })

  app.post('/v1/events/:format', { onRequest: lineChecks }, async (request, reply) => {
    const format = lineFormatOf(request)
    const lines = splitLines(await readText(request), config.collector)
    if (lines.length === 0) throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the body is empty: send at least one record')
    const decode = FORMATS[format]
    const context = decodeContextOf(request, config.collector)
    const records = lines.map((line, index) => ({ index, decoded: decode(line, context), raw: () => line }))
    const idempotencyKey = idempotencyKeyOf(request.headers)
    return answer(
      reply,
      await ingest(records, sensorOf(request), format, ingestDeps, { receivedAt: context.receivedAt, idempotencyKey }),
    )
  })

  registerHec(app, { config, tokens: deps.tokens, ingest: ingestDeps, readText, readiness: deps.readiness })

  app.get('/readyz', async (_request, reply) => {
    const ready = deps.readiness().length === 0
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' })
  })
  app.get('/openapi.json', async () => (await import('./openapi.js')).openApiDocument(config.collector))

  return app
}

function answer(reply: FastifyReply, result: IngestResult) {
  if (result.accepted === 0 && result.rejected.length > 0) {
    return reply.code(400).send({ ...errorBody(new QalqanError('QLQ_ERR_INVALID_EVENTS')), ...result })
  }
  return reply.code(202).send(result)
}

/** The format a line-format request names in its path, sent with a type lines may have. */
function lineFormatOf(request: FastifyRequest): LineFormat {
  const { format } = request.params as { format: string }
  if (!isLineFormat(format)) {
    const routes = ['/v1/events (canonical)', ...FORMAT_NAMES.map((name) => `/v1/events/${name}`)].join(', ')
    throw new QalqanError('QLQ_ERR_NOT_FOUND', `no format ${JSON.stringify(format.slice(0, 40))}: use one of ${routes}`)
  }
  const type = mediaType(request.headers['content-type'])
  if (type !== '' && !LINE_TYPES.includes(type)) {
    throw new QalqanError(
      'QLQ_ERR_UNSUPPORTED_MEDIA_TYPE',
      `send ${format} records one per line as text/plain or application/x-ndjson`,
    )
  }
  return format
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
