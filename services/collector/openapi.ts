import { z } from 'zod'
import { SensorEvent } from '../../schemas/event.js'
import type { Config } from '../config.js'
import { ERRORS, type ErrorCode } from '../errors.js'
import { FORMAT_NAMES, type LineFormat } from './decode/formats.js'

/** The settings the collector enforces on every request, which the document states. */
export type CollectorLimits = Pick<
  Config['collector'],
  'maxBodyBytes' | 'maxEvents' | 'maxDepth' | 'maxLineLength' | 'maxCount' | 'sensorRate' | 'sensorBurst' | 'timeLimits'
>

/** A body or a field that holds more than white space. */
const NOT_BLANK = '\\S'

/** Errors only other roles answer with. */
const NOT_FROM_COLLECTOR: readonly ErrorCode[] = ['QLQ_ERR_INVALID_QUERY', 'QLQ_ERR_CLICKHOUSE_UNAVAILABLE']

const FORMAT_TITLES = {
  suricata: 'Suricata EVE JSON (alert and anomaly records become events; other event types are skipped)',
  cowrie: 'Cowrie honeypot JSON log (login attempts, commands and downloads become events; the rest is skipped)',
  cef: 'ArcSight Common Event Format, one CEF:0| record per line (a syslog header before it is allowed)',
} satisfies Record<LineFormat, string>

/** HEC's own answer codes, so that HEC clients read the collector's answers as they read Splunk's. */
const HecAnswer = z.object({
  text: z.string().meta({ description: "HEC's text for the code, such as Success or Invalid data format" }),
  code: z.int().meta({
    description:
      '0 success, 2 token is required, 4 invalid token, 5 no data, 6 invalid data format, 8 internal error, 9 server is busy, 12 event field is required, 13 event field cannot be blank',
  }),
  'invalid-event-number': z.int().min(-1).optional().meta({ description: 'the index of the first refused envelope' }),
  accepted: z.int().min(0).optional(),
  skipped: z.int().min(0).optional(),
  rejected: z
    .array(z.object({ index: z.int(), reason: z.string() }))
    .max(100)
    .optional(),
  error: z
    .enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]])
    .optional()
    .meta({ description: "the collector's error code when the request as a whole was refused" }),
  message: z.string().optional().meta({ description: 'what was wrong and how to fix it' }),
})

let cached: { limits: CollectorLimits; document: Record<string, unknown> } | undefined

/**
 * The OpenAPI 3.1 document of the collector: the canonical endpoint, one endpoint per sensor format,
 * the Splunk HEC endpoints and the probes, with the limits this collector is configured with.
 */
export function openApiDocument(limits: CollectorLimits): Record<string, unknown> {
  if (cached?.limits !== limits) cached = { limits, document: build(limits) }
  return cached.document
}

function codesWithStatus(status: number): ErrorCode[] {
  return (Object.keys(ERRORS) as ErrorCode[]).filter(
    (code) => ERRORS[code].status === status && !NOT_FROM_COLLECTOR.includes(code),
  )
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'output'): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>
  return rest
}

/** The sensor-facing event, with what its checks in code say that zod cannot put into JSON Schema. */
function sensorEventSchema(maxCount: number): Record<string, unknown> {
  const schema = jsonSchema(SensorEvent, 'input') as { properties: Record<string, Record<string, unknown>> }
  const ip = (description: string) => ({
    description,
    anyOf: [
      { type: 'string', format: 'ipv4' },
      { type: 'string', format: 'ipv6' },
    ],
    maxLength: 45,
  })
  schema.properties['src_ip'] = ip('the attacking address, IPv4 or IPv6')
  schema.properties['dst_ip'] = ip('the attacked address, IPv4 or IPv6')
  // The protocol is matched without regard to case, and stored in lower case.
  schema.properties['protocol'] = {
    type: 'string',
    pattern: '^[A-Za-z0-9-]{1,16}$',
    description: 'tcp, udp, icmp...; stored in lower case',
  }
  const occurredAt = schema.properties['occurred_at'] ?? {}
  schema.properties['occurred_at'] = {
    ...occurredAt,
    // The event's clock must be in a real zone: offsets reach ±14:00 (Kiribati), not ±23:59.
    pattern: String(occurredAt['pattern']).replace(
      '([+-](?:[01]\\d|2[0-3]):[0-5]\\d)',
      '([+-](?:(?:0\\d|1[0-3]):[0-5]\\d|14:00))',
    ),
    description:
      'when the attack happened, ISO 8601 with a UTC offset (Z or ±hh:mm, at most ±14:00); a real calendar date',
  }
  schema.properties['count'] = {
    ...schema.properties['count'],
    maximum: maxCount,
    description: `how many events this one stands for (a pre-aggregated burst), default 1, at most ${maxCount} (QALQAN_COLLECTOR_MAX_COUNT): send more as several events`,
  }
  schema.properties['event_id'] = {
    ...schema.properties['event_id'],
    description:
      "the sensor's own id of the event; without one, an id is derived from the sensor and the record's text (or the Idempotency-Key and the position), so a resent request counts once",
  }
  return schema
}

function build(limits: CollectorLimits): Record<string, unknown> {
  const { maxBodyBytes, maxEvents, maxDepth, maxLineLength, sensorRate, sensorBurst, timeLimits } = limits
  const bodyLimits = `The body is at most ${maxBodyBytes} bytes (QALQAN_COLLECTOR_MAX_BODY_BYTES), also once gunzipped, and must be UTF-8. At most ${maxEvents} events per request (QALQAN_COLLECTOR_MAX_EVENTS); JSON nests at most ${maxDepth} levels (QALQAN_COLLECTOR_MAX_DEPTH).`
  const lineLimits = `One record per line (LF or CRLF; blank lines are ignored), each at most ${maxLineLength} characters (QALQAN_COLLECTOR_MAX_LINE_LENGTH).`
  const lines = { type: 'string', pattern: NOT_BLANK, description: `at least one record. ${lineLimits}` }
  const timeRule = `An event whose occurred_at is more than ${timeLimits.maxFutureMs / 1000} s after its arrival (QALQAN_WORKER_MAX_FUTURE_SECONDS) or more than ${timeLimits.maxAgeMs / 86_400_000} days before it (QALQAN_WORKER_MAX_AGE_DAYS) is rejected with its reason.`
  const accepted =
    '2xx only once Kafka acknowledged every accepted event and rejection; a request with some invalid events is still accepted, each invalid one listed under rejected with its index and reason.'

  const sensorSecurity = [{ sensorToken: [] }]
  const hecSecurity = [{ hecToken: [] }, { sensorToken: [] }]
  const ref = (name: string) => ({ $ref: `#/components/responses/${name}` })
  const ingestErrors = {
    '401': ref('Unauthorized'),
    '403': ref('Forbidden'),
    '413': ref('TooLarge'),
    '415': ref('UnsupportedMediaType'),
    '429': ref('RateLimited'),
    '503': ref('Unavailable'),
  }
  const ingestParameters = [
    { $ref: '#/components/parameters/ContentEncoding' },
    { $ref: '#/components/parameters/IdempotencyKey' },
  ]

  const paths: Record<string, unknown> = {
    '/v1/events': {
      post: {
        operationId: 'ingestCanonical',
        summary: 'Canonical events: one JSON event, a JSON array of events, or NDJSON',
        description: `${accepted} ${bodyLimits} ${timeRule} Who sent the events and where their target is come from the sensor's token, never from the body.`,
        security: sensorSecurity,
        parameters: ingestParameters,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                oneOf: [
                  { $ref: '#/components/schemas/SensorEvent' },
                  {
                    type: 'array',
                    items: { $ref: '#/components/schemas/SensorEvent' },
                    minItems: 1,
                    maxItems: maxEvents,
                  },
                ],
              },
            },
            'application/x-ndjson': {
              schema: {
                type: 'array',
                items: { $ref: '#/components/schemas/SensorEvent' },
                minItems: 1,
                maxItems: maxEvents,
                description: `one SensorEvent per line (NDJSON is a sequence of JSON values, stated here as an array); a line that is not a valid event is rejected alone. ${lineLimits}`,
              },
            },
          },
        },
        responses: {
          '202': ref('Accepted'),
          '400': ref('InvalidEvents'),
          ...ingestErrors,
        },
      },
    },
  }

  for (const format of FORMAT_NAMES) {
    paths[`/v1/events/${format}`] = {
      post: {
        operationId: `ingest${format[0]?.toUpperCase()}${format.slice(1)}`,
        summary: FORMAT_TITLES[format],
        description: `Records as the sensor writes them; docs/formats.md gives the mapping to events. ${lineLimits} ${accepted} Records that are not attacks are counted as skipped. The Content-Type may also be left out. ${bodyLimits} ${timeRule}`,
        security: sensorSecurity,
        parameters: ingestParameters,
        requestBody: {
          required: true,
          content: {
            'text/plain': { schema: lines },
            'application/x-ndjson': { schema: lines },
            'application/json': { schema: { type: 'object', description: 'a single record' } },
            'application/octet-stream': { schema: lines },
          },
        },
        responses: {
          '202': ref('Accepted'),
          '400': ref('InvalidEvents'),
          ...ingestErrors,
        },
      },
    }
  }

  const hecResponses = (success: string) => ({
    '200': hecResponse(success),
    '400': hecResponse('no event, or every event was refused: code, text and invalid-event-number say which'),
    '401': hecResponse(
      'no token (code 2), or an unknown one; a revoked or expired token (code 1); a sensor bound to a client certificate that did not present it (code 3)',
    ),
    '403': hecResponse('an analyst token (code 4); a client certificate of another sensor (code 3)'),
    '413': hecResponse('the body, a line or the number of events is over the limit'),
    '415': hecResponse('a Content-Encoding other than gzip'),
    '429': hecResponse('the sensor sends faster than its rate limit (code 9); Retry-After says when to retry', true),
    '503': hecResponse('Kafka did not acknowledge the events (code 9); send the whole request again', true),
  })
  const hecSourcetype = {
    name: 'sourcetype',
    in: 'query',
    required: false,
    schema: { type: 'string' },
    description: `the default sourcetype: one that contains ${FORMAT_NAMES.join(', ')} picks that decoder, any other means canonical events`,
  }
  const hecEvent = (path: string, operationId: string) => {
    paths[path] = {
      post: {
        operationId,
        summary: 'Splunk HEC events: JSON envelopes {"event": ..., "sourcetype": ..., "time": ...}',
        description: `Envelopes one after another (concatenated or one per line). An envelope's sourcetype (else the query's) picks the decoder: one that contains ${FORMAT_NAMES.join(', ')} decodes event as that format, any other as a canonical event, whose missing occurred_at comes from time. ${bodyLimits} ${timeRule} Any Content-Type is accepted.`,
        security: hecSecurity,
        parameters: [hecSourcetype, ...ingestParameters],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/HecEnvelope' } } },
        },
        responses: hecResponses('every event was taken in (code 0); skipped and rejected say which were not'),
      },
    }
  }
  hecEvent('/services/collector', 'hecCollector')
  hecEvent('/services/collector/event', 'hecEvent')
  hecEvent('/services/collector/event/1.0', 'hecEventVersioned')

  const hecRaw = (path: string, operationId: string) => {
    paths[path] = {
      post: {
        operationId,
        summary: 'Splunk HEC raw: records one per line, decoded by the sourcetype',
        description: `${lineLimits} ${bodyLimits} ${timeRule} Any Content-Type is accepted.`,
        security: hecSecurity,
        parameters: [hecSourcetype, ...ingestParameters],
        requestBody: {
          required: true,
          content: { 'text/plain': { schema: lines } },
        },
        responses: hecResponses('every record was valid (code 0)'),
      },
    }
  }
  hecRaw('/services/collector/raw', 'hecRaw')
  hecRaw('/services/collector/raw/1.0', 'hecRawVersioned')

  const hecHealth = (path: string, operationId: string) => {
    paths[path] = {
      get: {
        operationId,
        summary: 'Splunk HEC health: whether this collector can take events now',
        security: [],
        responses: {
          '200': jsonResponse('ready (code 17)', { $ref: '#/components/schemas/HecHealth' }),
          '503': jsonResponse('not ready (code 18); the reasons are on the ops port', {
            $ref: '#/components/schemas/HecHealth',
          }),
        },
      },
    }
  }
  hecHealth('/services/collector/health', 'hecHealth')
  hecHealth('/services/collector/health/1.0', 'hecHealthVersioned')

  paths['/healthz'] = {
    get: {
      operationId: 'healthz',
      summary: 'Liveness: the process answers',
      security: [],
      responses: {
        '200': jsonResponse('alive', jsonSchema(z.object({ status: z.literal('ok') }))),
      },
    },
  }
  paths['/readyz'] = {
    get: {
      operationId: 'readyz',
      summary: 'Readiness: Kafka takes writes (a registry that failed to reload is reported on the ops port, not here)',
      security: [],
      responses: {
        '200': jsonResponse('ready', { $ref: '#/components/schemas/Readiness' }),
        '503': jsonResponse('not ready; the reasons are on the ops port (QALQAN_OPS_PORT)', {
          $ref: '#/components/schemas/Readiness',
        }),
      },
    },
  }
  paths['/openapi.json'] = {
    get: {
      operationId: 'openapi',
      summary: 'This document',
      security: [],
      responses: { '200': jsonResponse('the OpenAPI 3.1 document', { type: 'object' }) },
    },
  }

  const IngestResult = z.object({
    accepted: z.int().min(0).meta({ description: 'events now in Kafka' }),
    skipped: z.int().min(0).meta({ description: 'records that are not attacks' }),
    rejected: z
      .array(z.object({ index: z.int().min(-1), reason: z.string() }))
      .max(100)
      .meta({ description: 'the invalid records by index (the first 100), with what was wrong' }),
  })
  const errorSchema = (codes: ErrorCode[], extra: z.ZodRawShape = {}) =>
    jsonSchema(
      z.object({
        error: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
        message: z.string().meta({ description: 'what was wrong and how to fix it' }),
        retryable: z.boolean(),
        ...extra,
      }),
    )
  const errorResponse = (description: string, status: number, retryAfter = false) => ({
    description,
    ...(retryAfter && { headers: { 'Retry-After': retryAfterHeader } }),
    content: { 'application/json': { schema: errorSchema(codesWithStatus(status)) } },
  })

  return {
    openapi: '3.1.0',
    info: {
      title: 'Qalqan collector',
      version: '1',
      description:
        'Sensors send attack events here: canonical events, their own formats, or Splunk HEC. Each request is answered only once Kafka has the events. Every error answer names a code of docs/errors.md and says what was wrong.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        sensorToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'a sensor token from the token registry: Authorization: Bearer <token>',
        },
        hecToken: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'a sensor token as HEC clients send it: Authorization: Splunk <token>',
        },
      },
      parameters: {
        ContentEncoding: {
          name: 'Content-Encoding',
          in: 'header',
          required: false,
          // Content codings are case-insensitive (RFC 9110); an empty value means none.
          schema: {
            type: 'string',
            pattern: '^([Gg][Zz][Ii][Pp]|[Xx]-[Gg][Zz][Ii][Pp]|[Ii][Dd][Ee][Nn][Tt][Ii][Tt][Yy])?$',
          },
          description: `gzip (or x-gzip): the body is gunzipped, and must still be at most ${maxBodyBytes} bytes; identity or none: as sent; any other encoding is answered 415`,
        },
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          schema: { type: 'string' },
          description:
            'names the request: events without an event_id get ids derived from it and their position, so sending the request again stores each event once; a blank key is ignored',
        },
      },
      schemas: {
        SensorEvent: sensorEventSchema(limits.maxCount),
        IngestResult: jsonSchema(IngestResult),
        HecEnvelope: {
          type: 'object',
          required: ['event'],
          properties: {
            event: {
              description:
                'the record: a SensorEvent (whose missing occurred_at comes from time) unless the sourcetype names a format, a record of that format, or its text',
              anyOf: [
                { $ref: '#/components/schemas/SensorEvent' },
                { type: 'object' },
                { type: 'string', pattern: NOT_BLANK },
              ],
            },
            sourcetype: { type: 'string', description: 'picks the decoder, as the query parameter does' },
            time: { type: 'number', description: "epoch seconds: a canonical event's occurred_at when it has none" },
            host: { type: 'string' },
            source: { type: 'string' },
            index: { type: 'string' },
            fields: { type: 'object' },
          },
        },
        HecAnswer: jsonSchema(HecAnswer),
        HecHealth: jsonSchema(
          z.object({
            text: z.string(),
            code: z.union([z.literal(17), z.literal(18)]),
          }),
        ),
        Readiness: jsonSchema(z.object({ status: z.enum(['ready', 'not ready']) })),
      },
      responses: {
        Accepted: jsonResponse('taken in: counts of accepted, skipped and rejected records', {
          $ref: '#/components/schemas/IngestResult',
        }),
        InvalidEvents: {
          description:
            'the body cannot be read (not JSON, not UTF-8, not gzip, too deep, empty), or no record in it is valid (QLQ_ERR_INVALID_EVENTS, with every rejected record listed)',
          content: {
            'application/json': {
              schema: errorSchema(codesWithStatus(400), IngestResult.partial().shape),
            },
          },
        },
        Unauthorized: errorResponse(
          'no token, or an unknown one (QLQ_ERR_UNAUTHORIZED); a revoked or expired token (QLQ_ERR_TOKEN_REVOKED, QLQ_ERR_TOKEN_EXPIRED); a sensor bound to a client certificate that did not present it (QLQ_ERR_CERTIFICATE_REQUIRED)',
          401,
        ),
        Forbidden: errorResponse(
          "an analyst token: only sensor tokens send events (QLQ_ERR_FORBIDDEN); a client certificate that is not this sensor's (QLQ_ERR_CERTIFICATE_MISMATCH)",
          403,
        ),
        TooLarge: errorResponse(
          `over a limit: the body (${maxBodyBytes} bytes), a line (${maxLineLength} characters) or the events (${maxEvents})`,
          413,
        ),
        UnsupportedMediaType: errorResponse('a Content-Type or Content-Encoding that is not accepted here', 415),
        RateLimited: errorResponse(
          `the sensor sends more than its ${sensorRate} events a second (bursts of ${sensorBurst}; QALQAN_COLLECTOR_SENSOR_RATE, QALQAN_COLLECTOR_SENSOR_BURST): retry after Retry-After seconds`,
          429,
          true,
        ),
        Unavailable: errorResponse(
          'Kafka did not acknowledge the events, too many wait for it, or this collector is stopping: send the whole request again after Retry-After seconds',
          503,
          true,
        ),
      },
    },
  }
}

const retryAfterHeader = { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } }

function jsonResponse(description: string, schema: Record<string, unknown>) {
  return { description, content: { 'application/json': { schema } } }
}

function hecResponse(description: string, retryAfter = false) {
  return {
    description,
    ...(retryAfter && { headers: { 'Retry-After': retryAfterHeader } }),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/HecAnswer' } } },
  }
}
