import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { CanonicalEvent } from '../../schemas/event.js'
import type { Config } from '../config.js'
import { errorBody, QalqanError } from '../errors.js'
import { requireRole, sensorOf } from '../http/auth.js'
import { createServer, serveMetrics } from '../http/server.js'
import { ingest, type IngestDeps, type IngestResult } from './ingest.js'
import type { Metrics } from '../metrics.js'
import { RateLimiter } from './rate-limit.js'
import type { TokenRegistry } from '../http/tokens.js'
import type { EventSender } from '../kafka/index.js'
import { decodeCanonical, type BodyFormat } from './decode/canonical.js'
import { FORMAT_NAMES, FORMATS, isLineFormat } from './decode/formats.js'
import { splitLines } from './framing.js'
import { registerHec } from './hec.js'
import { bodyText } from './body.js'
import { idempotencyKeyOf } from './event-id.js'

export interface CollectorDeps {
  readonly logger: Logger
  readonly tokens: () => TokenRegistry
  readonly kafka: EventSender
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
    kafka: deps.kafka,
    metrics: deps.metrics,
    rateLimiter: new RateLimiter(config.collector.sensorRate, config.collector.sensorBurst),
    enrich: deps.enrich,
    timeLimits: config.collector.timeLimits,
  }
  const readText = (request: FastifyRequest) => {
    deps.metrics.httpRequest(request.routeOptions.url ?? 'unknown')
    return bodyText(
      Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      request.headers['content-encoding'],
      config.collector.maxBodyBytes,
    )
  }
  const sensorOnly = requireRole(deps.tokens, 'sensor')

  app.post('/v1/events', { preHandler: sensorOnly }, async (request, reply) => {
    const format = canonicalFormat(request.headers['content-type'])
    const records = decodeCanonical(await readText(request), format, config.collector)
    return answer(
      reply,
      await ingest(records, sensorOf(request), `canonical-${format}`, ingestDeps, idempotencyKeyOf(request.headers)),
    )
  })

  app.post<{ Params: { format: string } }>('/v1/events/:format', { preHandler: sensorOnly }, async (request, reply) => {
    const { format } = request.params
    if (!isLineFormat(format)) {
      const routes = ['/v1/events (canonical)', ...FORMAT_NAMES.map((name) => `/v1/events/${name}`)].join(', ')
      throw new QalqanError(
        'QLQ_ERR_NOT_FOUND',
        `no format ${JSON.stringify(format.slice(0, 40))}: use one of ${routes}`,
      )
    }
    const type = mediaType(request.headers['content-type'])
    if (type !== '' && !LINE_TYPES.includes(type)) {
      throw new QalqanError(
        'QLQ_ERR_UNSUPPORTED_MEDIA_TYPE',
        `send ${format} records one per line as text/plain or application/x-ndjson`,
      )
    }
    const lines = splitLines(await readText(request), config.collector)
    if (lines.length === 0) throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the body is empty: send at least one record')
    const decode = FORMATS[format]
    const records = lines.map((line, index) => ({ index, decoded: decode(line, config.collector), raw: () => line }))
    return answer(
      reply,
      await ingest(records, sensorOf(request), format, ingestDeps, idempotencyKeyOf(request.headers)),
    )
  })

  registerHec(app, { config, tokens: deps.tokens, ingest: ingestDeps, readText, readiness: deps.readiness })

  app.get('/readyz', async (_request, reply) => {
    const problems = deps.readiness()
    return reply
      .code(problems.length === 0 ? 200 : 503)
      .send({ status: problems.length === 0 ? 'ready' : 'not ready', problems })
  })
  serveMetrics(app, deps.metrics)

  return app
}

function answer(reply: FastifyReply, result: IngestResult) {
  if (result.accepted === 0 && result.rejected.length > 0) {
    return reply.code(400).send({ ...errorBody(new QalqanError('QLQ_ERR_INVALID_EVENTS')), ...result })
  }
  return reply.code(202).send(result)
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
