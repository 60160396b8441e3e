import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { NOT_WELL_FORMED } from '../../schemas/event.js'
import type { Config } from '../config.js'
import { QalqanError, type ErrorCode } from '../errors.js'
import { sensorOf } from '../http/auth.js'
import { toQalqanError } from '../http/errors.js'
import { RAW_EXCERPT_BYTES } from '../../schemas/rejected.js'
import { ingest, type IngestDeps } from './ingest.js'
import type { TokenRegistry } from '../http/tokens.js'
import { decodeCanonicalLine } from './decode/canonical.js'
import type { Decoded, DecodeContext, DecodedRecord } from './decode/decoded.js'
import { FORMATS, formatOfSourcetype, type LineFormat } from './decode/formats.js'
import { parseJson, tooDeep } from './decode/json.js'
import { originName } from './decode/record.js'
import { splitLines, splitObjects } from './framing.js'
import { validate } from './validate.js'
import { idempotencyKeyOf } from './event-id.js'
import { admitSensor, beforeBody } from './admission.js'
import { decodeContextOf } from './arrival.js'

export interface HecDeps {
  readonly config: Config
  readonly tokens: () => TokenRegistry
  readonly ingest: IngestDeps
  readonly readText: (request: FastifyRequest) => Promise<string>
  readonly readiness: () => string[]
}

/** HEC's own answer codes (Splunk "Format events for HEC"), so HEC clients read our errors as they read Splunk's. */
const HEC_CODES: Partial<Record<ErrorCode, { code: number; text: string }>> = {
  QLQ_ERR_UNAUTHORIZED: { code: 2, text: 'Token is required' },
  QLQ_ERR_FORBIDDEN: { code: 4, text: 'Invalid token' },
  QLQ_ERR_TOKEN_REVOKED: { code: 1, text: 'Token disabled' },
  QLQ_ERR_TOKEN_EXPIRED: { code: 1, text: 'Token disabled' },
  QLQ_ERR_CERTIFICATE_REQUIRED: { code: 3, text: 'Invalid authorization' },
  QLQ_ERR_CERTIFICATE_MISMATCH: { code: 3, text: 'Invalid authorization' },
  QLQ_ERR_NO_EVENTS: { code: 5, text: 'No data' },
  QLQ_ERR_KAFKA_UNAVAILABLE: { code: 9, text: 'Server is busy' },
  QLQ_ERR_OVERLOADED: { code: 9, text: 'Server is busy' },
  QLQ_ERR_SHUTTING_DOWN: { code: 9, text: 'Server is busy' },
  QLQ_ERR_RATE_LIMITED: { code: 9, text: 'Server is busy' },
  QLQ_ERR_INTERNAL: { code: 8, text: 'Internal server error' },
}

/**
 * A Splunk HTTP Event Collector compatible surface, so that forwarders that speak HEC (Vector,
 * Fluent Bit, Logstash, ...) send to Qalqan unchanged. The envelope's sourcetype picks the decoder.
 */
export function registerHec(app: FastifyInstance, deps: HecDeps): void {
  const { config } = deps
  const errorHandler = (err: FastifyError | QalqanError, request: FastifyRequest, reply: FastifyReply) =>
    answerError(toQalqanError(err, config.collector), request, reply)
  const { rateLimiter, metrics } = deps.ingest
  const sensor = admitSensor({ tokens: deps.tokens, rateLimiter, metrics }, ['Splunk', 'Bearer'])
  const options = { onRequest: beforeBody(sensor), errorHandler }

  const events = async (request: FastifyRequest, reply: FastifyReply) => {
    const context = decodeContextOf(request, config.collector)
    const { records, firstProblem } = decodeEnvelopes(
      await deps.readText(request),
      { ...context, maxEvents: config.collector.maxEvents },
      sourcetypeOf(request),
    )
    const result = await ingest(records, sensorOf(request), 'hec', deps.ingest, {
      receivedAt: context.receivedAt,
      idempotencyKey: idempotencyKeyOf(request.headers),
    })
    if (firstProblem !== undefined) return reply.code(400).send({ ...firstProblem, ...result })
    if (result.rejected.length > 0) {
      return reply
        .code(400)
        .send({ text: 'Invalid data format', code: 6, 'invalid-event-number': result.rejected[0]?.index, ...result })
    }
    return reply.code(200).send({ text: 'Success', code: 0, ...result })
  }
  for (const url of ['/services/collector', '/services/collector/event', '/services/collector/event/1.0'])
    app.post(url, options, events)

  const raw = async (request: FastifyRequest, reply: FastifyReply) => {
    const format = formatOfSourcetype(sourcetypeOf(request))
    const context = decodeContextOf(request, config.collector)
    const lines = splitLines(await deps.readText(request), config.collector)
    if (lines.length === 0) throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the body is empty: send at least one record')
    const records = lines.map((line, index) => ({
      index,
      decoded: decodeRecord(line, format, context),
      raw: () => line,
    }))
    const result = await ingest(records, sensorOf(request), 'hec-raw', deps.ingest, {
      receivedAt: context.receivedAt,
      idempotencyKey: idempotencyKeyOf(request.headers),
    })
    if (result.rejected.length > 0) {
      return reply
        .code(400)
        .send({ text: 'Invalid data format', code: 6, 'invalid-event-number': result.rejected[0]?.index, ...result })
    }
    return reply.code(200).send({ text: 'Success', code: 0, ...result })
  }
  for (const url of ['/services/collector/raw', '/services/collector/raw/1.0']) app.post(url, options, raw)

  // Public: the reasons (registry paths and their errors) are on the ops port only.
  const health = async (_request: FastifyRequest, reply: FastifyReply) => {
    if (deps.readiness().length === 0) return reply.code(200).send({ text: 'HEC is healthy', code: 17 })
    return reply.code(503).send({ text: 'HEC is unhealthy, queues are full', code: 18 })
  }
  for (const url of ['/services/collector/health', '/services/collector/health/1.0']) app.get(url, health)
}

function answerError(err: QalqanError, request: FastifyRequest, reply: FastifyReply) {
  const hec =
    HEC_CODES[err.code] ??
    (err.status >= 500 ? { code: 8, text: 'Internal server error' } : { code: 6, text: 'Invalid data format' })
  if (err.retryAfterSeconds !== undefined) void reply.header('retry-after', String(err.retryAfterSeconds))
  if (err.code === 'QLQ_ERR_INTERNAL') request.log.error({ err }, 'HEC request failed')
  return reply.code(err.status).send({ ...hec, error: err.code, message: err.message })
}

function sourcetypeOf(request: FastifyRequest): string {
  const query = request.query as Record<string, unknown>
  return typeof query['sourcetype'] === 'string' ? query['sourcetype'] : ''
}

function decodeRecord(record: string, format: LineFormat | 'canonical', context: DecodeContext): Decoded {
  return format === 'canonical' ? decodeCanonicalLine(record, context) : FORMATS[format](record, context)
}

interface Envelopes {
  records: DecodedRecord[]
  /** HEC's answer for the first envelope that is not an event at all (no `event`, a blank one). */
  firstProblem: { text: string; code: number; 'invalid-event-number': number } | undefined
}

/** Splits concatenated (or newline-separated) JSON envelopes and decodes each one's `event`. */
export function decodeEnvelopes(
  body: string,
  context: DecodeContext & { maxEvents: number },
  defaultSourcetype: string,
): Envelopes {
  const slices = splitObjects(body, context)
  if (slices.length === 0) throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the body holds no HEC events')
  const records: DecodedRecord[] = []
  let firstProblem: Envelopes['firstProblem']
  for (const [index, slice] of slices.entries()) {
    const decoded = decodeEnvelope(slice, context, defaultSourcetype)
    if ('code' in decoded) {
      firstProblem ??= { text: decoded.text, code: decoded.code, 'invalid-event-number': index }
      const raw = slice.text.slice(0, RAW_EXCERPT_BYTES)
      records.push({ index, decoded: { kind: 'invalid', reason: decoded.reason }, raw: () => raw })
    } else {
      records.push({ index, decoded, raw: () => slice.text })
    }
  }
  return { records, firstProblem }
}

/** HEC's answer for an envelope that is not an event at all. */
interface EnvelopeProblem {
  code: number
  text: string
  reason: string
}

function decodeEnvelope(
  slice: { text: string; object: boolean },
  context: DecodeContext,
  defaultSourcetype: string,
): Decoded | EnvelopeProblem {
  const problem = (code: number, text: string, reason: string) => ({ code, text, reason })
  if (!slice.object) {
    return problem(6, 'Invalid data format', 'not a JSON object: HEC events are JSON objects, one after another')
  }
  // The envelope is one level above its event.
  const json = parseJson(slice.text, context.maxDepth + 1)
  if (!json.ok)
    return problem(6, 'Invalid data format', json.problem === 'too_deep' ? tooDeep(context.maxDepth) : json.reason)
  const envelope = json.value
  if (envelope === null || typeof envelope !== 'object' || Array.isArray(envelope)) {
    return problem(6, 'Invalid data format', 'not a JSON object')
  }
  const { event, sourcetype, time, host, source } = envelope as Record<string, unknown>
  if (event === undefined || event === null)
    return problem(12, 'Event field is required', 'the envelope has no "event"')
  if (typeof event === 'string' && event.trim() === '') {
    return problem(13, 'Event field cannot be blank', 'the envelope\'s "event" is blank')
  }
  const format = formatOfSourcetype(typeof sourcetype === 'string' ? sourcetype : defaultSourcetype)
  const envelopeTime = epochToDate(time)
  const decoded =
    format === 'canonical'
      ? canonicalFromEnvelope(event, envelopeTime, context)
      : FORMATS[format](typeof event === 'string' ? event : JSON.stringify(event), { ...context, envelopeTime })
  return withOrigin(decoded, host, source)
}

/**
 * HEC's `host` names the device that saw the event and `source` its log (a file path, an input),
 * for an event that names none itself: text only, cut to the schema's length as a decoder cuts it.
 */
function withOrigin(decoded: Decoded, host: unknown, source: unknown): Decoded {
  if (decoded.kind !== 'event') return decoded
  let { event } = decoded
  for (const [field, key, value] of [
    ['device', 'host', host],
    ['log_source', 'source', source],
  ] as const) {
    const name = event[field] === undefined ? originName(value) : undefined
    if (name === undefined) continue
    if (!name.isWellFormed()) return { kind: 'invalid', reason: `the envelope's ${key}: ${NOT_WELL_FORMED}` }
    event = { ...event, [field]: name }
  }
  return event === decoded.event ? decoded : { ...decoded, event }
}

/**
 * A canonical event as an envelope's `event` (an object, or its JSON as text); HEC's `time`
 * (epoch seconds) stands in for a missing occurred_at, and the event says so in its time_source.
 */
function canonicalFromEnvelope(event: unknown, envelopeTime: Date | undefined, context: DecodeContext): Decoded {
  let value = event
  if (typeof event === 'string') {
    const json = parseJson(event, context.maxDepth)
    if (!json.ok) return { kind: 'invalid', reason: json.reason }
    value = json.value
  }
  const needsTime = value !== null && typeof value === 'object' && !Array.isArray(value) && !('occurred_at' in value)
  const fromEnvelope = needsTime && envelopeTime !== undefined
  const checked = validate(fromEnvelope ? { ...(value as object), occurred_at: envelopeTime.toISOString() } : value)
  if (!checked.ok) return { kind: 'invalid', reason: checked.reason }
  return { kind: 'event', event: checked.event, timeSource: fromEnvelope ? 'envelope' : 'event' }
}

/** HEC's `time`: epoch seconds, a number or its text as Splunk accepts it. */
function epochToDate(seconds: unknown): Date | undefined {
  const value = typeof seconds === 'string' && /^\d+(\.\d+)?$/.test(seconds) ? Number(seconds) : seconds
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined
  const date = new Date(value * 1000)
  return Number.isNaN(date.getTime()) ? undefined : date
}
