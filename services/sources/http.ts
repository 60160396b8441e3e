import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { CanonicalEvent } from '../../schemas/event.js'
import type { Config } from '../config.js'
import { errorBody, QalqanError } from '../errors.js'
import { requireRole } from '../http/auth.js'
import { createServer } from '../http/server.js'
import type { RejectedRecord } from '../sinks/kafka.js'
import type { TokenRegistry } from '../tokens.js'
import { decodeCanonical, type BodyFormat } from '../transforms/decode-canonical.js'
import { normalize } from '../transforms/normalize.js'
import { validate } from '../transforms/validate.js'

export interface EventWriter {
  write(events: readonly CanonicalEvent[], rejected: readonly RejectedRecord[]): Promise<void>
}

export interface CollectorDeps {
  readonly logger: Logger
  readonly tokens: () => TokenRegistry
  readonly writer: EventWriter
}

/** The answer to an ingest request: how many events were accepted, and each rejected one by index. */
export interface IngestResult {
  accepted: number
  rejected: { index: number; reason: string }[]
}

const MAX_REJECTIONS_LISTED = 100

/** The collector's HTTP app: sensors POST events; 202 only once Kafka acknowledged them. */
export function buildCollector(config: Config, deps: CollectorDeps): FastifyInstance {
  const app = createServer(deps.logger, 'collector', config.collector)

  app.removeAllContentTypeParsers()
  for (const type of ['application/json', 'application/x-ndjson']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_request, body, done) => done(null, body))
  }

  app.post('/v1/events', { preHandler: requireRole(deps.tokens, 'sensor') }, async (request, reply) => {
    const sensor = request.sensor
    if (sensor === undefined) throw new QalqanError('QLQ_ERR_UNAUTHORIZED')
    if (typeof request.body !== 'string') throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the body is empty: send at least one event')
    const format: BodyFormat = request.headers['content-type']?.startsWith('application/x-ndjson') ? 'ndjson' : 'json'
    const candidates = decodeCanonical(request.body, format, config.collector)
    if (candidates.length === 0) throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the body holds no events: send at least one')

    const receivedAt = new Date()
    const events: CanonicalEvent[] = []
    const rejected: RejectedRecord[] = []
    for (const candidate of candidates) {
      const checked = candidate.ok ? validate(candidate.value) : candidate
      const normalized = checked.ok ? normalize(checked.event, { sensor, receivedAt, newEventId: randomUUID }) : checked
      if (normalized.ok) {
        events.push(normalized.event)
      } else {
        rejected.push({
          reason: normalized.reason,
          stage: !candidate.ok ? 'decode' : !checked.ok ? 'validate' : 'normalize',
          format: `canonical-${format}`,
          sensor_id: sensor.id,
          index: candidate.index,
          received_at: receivedAt.toISOString(),
          raw: candidate.raw,
        })
      }
    }

    await deps.writer.write(events, rejected)
    if (rejected.length > 0) request.log.info({ sensor: sensor.id, accepted: events.length, rejected: rejected.length }, 'events rejected')
    const result: IngestResult = {
      accepted: events.length,
      rejected: rejected.slice(0, MAX_REJECTIONS_LISTED).map(({ index, reason }) => ({ index: index ?? -1, reason })),
    }
    if (events.length === 0) return reply.code(400).send({ ...errorBody(new QalqanError('QLQ_ERR_INVALID_EVENTS')), ...result })
    return reply.code(202).send(result)
  })

  return app
}
