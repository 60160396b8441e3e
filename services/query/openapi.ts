import { z } from 'zod'
import { CanonicalEvent, TIME_SOURCES } from '../../schemas/event.js'
import { ERRORS } from '../errors.js'
import { QUERIES } from './params.js'

const ErrorAnswer = z.object({
  error: z.enum(Object.keys(ERRORS) as [string, ...string[]]),
  message: z.string(),
  retryable: z.boolean(),
})
const range = { from: z.iso.datetime(), to: z.iso.datetime() }

/** An optional text field of the event as stored: '' when the event did not carry it, as in CSV. */
const storedText = (max: number, description: string) =>
  z
    .string()
    .max(max)
    .meta({ description: `${description}; '' when the event did not carry it` })
const storedPort = (description: string) =>
  z
    .int()
    .min(0)
    .max(65535)
    .nullable()
    .meta({ description: `${description}; null when the event did not carry it (0 is a port)` })

/**
 * An event as GET /v1/events answers it: the canonical event's fields, each always present. The
 * optional text fields read '' when absent (as src_country does, and as a CSV cell does), ports null.
 */
const StoredEvent = CanonicalEvent.omit({ v: true }).extend({
  signature_id: storedText(128, "the sensor's id of the rule or signature"),
  mitre_technique: z
    .string()
    .regex(/^(T\d{4}(\.\d{3})?)?$/)
    .meta({ description: "the ATT&CK technique, such as T1110.001; '' when the event did not carry it" }),
  src_port: storedPort('the attacking port'),
  dst_ip: storedText(45, 'the attacked address, IPv4 or IPv6'),
  dst_port: storedPort('the attacked port'),
  protocol: storedText(16, 'tcp, udp, icmp..., in lower case'),
  src_country: z
    .string()
    .regex(/^([A-Z]{2})?$/)
    .meta({ description: "the source address's country, ISO 3166 alpha-2; '' when unknown or not public" }),
  device: storedText(255, 'the device that saw the event'),
  log_source: storedText(255, 'the log it came from on that device'),
  time_source: z.enum(TIME_SOURCES).meta({
    description:
      "where occurred_at came from: event (the record's own time), header (its syslog header), envelope (the HEC envelope's time) or received (the collector's receive time: the record carried none)",
  }),
})
const counts = { events: z.int(), sources: z.int() }

const ANSWERS = {
  summary: z.object({
    ...range,
    table: z.string(),
    ...counts,
    targets: z.int(),
    first_seen: z.iso.datetime().nullable(),
    last_seen: z.iso.datetime().nullable(),
    previous: z.object({ ...range, ...counts }),
    change: z
      .object({ events: z.number().nullable(), sources: z.number().nullable() })
      .meta({ description: 'percent change against the previous range of the same length; null when it had none' }),
  }),
  timeseries: z.object({
    ...range,
    step: z.string(),
    table: z.string(),
    truncated: z.boolean(),
    points: z.array(
      z
        .looseObject({ time: z.iso.datetime(), ...counts })
        .meta({ description: 'plus one field per group_by dimension' }),
    ),
  }),
  top: z.object({
    ...range,
    by: z.string(),
    table: z.string(),
    rows: z.array(z.looseObject(counts).meta({ description: 'plus the ranked field, named after by' })),
  }),
  matrix: z.object({
    ...range,
    table: z.string(),
    cells: z.array(z.object({ sector: z.string(), region: z.string(), region_name: z.string(), ...counts })),
  }),
  events: z.object({
    ...range,
    events: z.array(StoredEvent),
    next_cursor: z.string().nullable().meta({ description: 'pass as cursor for the next page; null on the last' }),
  }),
} as const

const ENDPOINTS = {
  summary: {
    path: '/v1/summary',
    summary: 'Totals and distinct sources for a range, against the previous range of the same length',
    example: '?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z&sector=finance',
    csv: false,
  },
  timeseries: {
    path: '/v1/timeseries',
    summary: 'Attacks over time at a chosen or automatic step, optionally grouped',
    example: '?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z&step=1h&group_by=sector',
    csv: true,
  },
  top: {
    path: '/v1/top',
    summary: 'The top N source countries, categories, signatures, sectors, regions or organisations',
    example: '?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z&by=src_country&n=10',
    csv: true,
  },
  matrix: {
    path: '/v1/matrix',
    summary: 'Attacks per sector and region: the data of a heat map',
    example: '?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z',
    csv: true,
  },
  events: {
    path: '/v1/events',
    summary: 'The raw events behind a filter, newest first, paged with a cursor',
    example: '?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z&region=KZ-71&limit=50',
    csv: true,
  },
} as const

/** What the document says of the limits that the configuration sets. */
export interface DocumentLimits {
  readonly maxRangeDays: number
}

/** The OpenAPI 3.1 document of the query API, made from the same zod schemas that check each request. */
export function openApiDocument(limits: DocumentLimits): Record<string, unknown> {
  const paths: Record<string, unknown> = {}
  for (const [name, endpoint] of Object.entries(ENDPOINTS) as [
    keyof typeof ENDPOINTS,
    (typeof ENDPOINTS)[keyof typeof ENDPOINTS],
  ][]) {
    const query = z.toJSONSchema(QUERIES[name], {
      io: 'input',
      unrepresentable: 'any',
      override: statedAsParsed,
    }) as {
      properties: Record<string, Record<string, unknown>>
      required?: string[]
    }
    const parameters = Object.entries(query.properties).map(([param, schema]) => {
      const { description, example, ...rest } = schema
      const said =
        param === 'to' ? `${String(description)}, and at most ${limits.maxRangeDays} days after it` : description
      return {
        name: param,
        in: 'query',
        required: query.required?.includes(param) ?? false,
        schema: rest,
        ...(said !== undefined && { description: said }),
        ...(example !== undefined && { example }),
      }
    })
    const content: Record<string, unknown> = {
      'application/json': { schema: z.toJSONSchema(ANSWERS[name], { unrepresentable: 'any' }) },
    }
    if (endpoint.csv) content['text/csv'] = { schema: { type: 'string' } }
    paths[endpoint.path] = {
      get: {
        operationId: name,
        summary: endpoint.summary,
        description: `Example: GET ${endpoint.path}${endpoint.example}`,
        security: [{ analystToken: [] }],
        parameters,
        responses: {
          '200': { description: 'the answer', content },
          '400': errorResponse(
            name === 'events'
              ? 'a parameter is missing or wrong: the message names it; QLQ_ERR_INVALID_CURSOR: restart from the first page'
              : 'a parameter is missing or wrong: the message names it',
          ),
          '401': errorResponse(
            'no token, or an unknown one; a revoked token (QLQ_ERR_TOKEN_REVOKED) or one past its not_after (QLQ_ERR_TOKEN_EXPIRED)',
          ),
          '403': errorResponse('a sensor token: the query API is for analysts'),
          '503': errorResponse('ClickHouse did not answer; retry'),
        },
      },
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Qalqan query API',
      version: '1',
      description:
        'Read-only access for SOC analysts to attack aggregates by sector, region, category, severity, source country and organisation, and to the raw events behind them.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        analystToken: { type: 'http', scheme: 'bearer', description: 'an analyst token from the token registry' },
      },
      schemas: { Error: z.toJSONSchema(ErrorAnswer) },
    },
    paths,
  }
}

function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
}

/**
 * Query strings are text, but a whole number is stated as what it is parsed to: an integer with
 * its bounds, read from the output of the schema's pipe, and its default.
 */
function statedAsParsed({
  zodSchema,
  jsonSchema,
}: {
  zodSchema: z.core.$ZodType
  jsonSchema: Record<string, unknown>
}) {
  const def = zodSchema._zod.def
  if (def.type === 'pipe' && (def as z.core.$ZodPipeDef).out._zod.def.type === 'number') {
    const { $schema: _, ...number } = z.toJSONSchema((def as z.core.$ZodPipeDef).out) as Record<string, unknown>
    for (const key of Object.keys(jsonSchema)) delete jsonSchema[key]
    Object.assign(jsonSchema, number)
  }
  if (def.type === 'default' && !('default' in jsonSchema))
    jsonSchema['default'] = (def as z.core.$ZodDefaultDef).defaultValue
}

/** A page that shows the document to a person: each endpoint, its parameters and an example. */
export function docsPage(document: Record<string, unknown>): string {
  const doc = document as {
    paths: Record<
      string,
      {
        get: {
          summary: string
          description: string
          parameters: {
            name: string
            required: boolean
            description?: string
            example?: unknown
            schema: Record<string, unknown>
          }[]
        }
      }
    >
  }
  const escapeHtml = (text: string) =>
    text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
  const sections = Object.entries(doc.paths)
    .map(([path, { get }]) => {
      const rows = get.parameters
        .map((p) => {
          const { enum: values, minimum, maximum, default: fallback } = p.schema
          const allowed = Array.isArray(values)
            ? `one of ${values.join(', ')}`
            : minimum !== undefined && maximum !== undefined
              ? `a whole number from ${String(minimum)} to ${String(maximum)}`
              : ''
          const given = fallback === undefined ? '' : `default ${String(fallback)}`
          const example = p.example === undefined ? '' : `e.g. ${String(p.example)}`
          const meaning = [p.description, allowed, given, example].filter(Boolean).join('; ')
          return `<tr><td><code>${escapeHtml(p.name)}</code>${p.required ? ' (required)' : ''}</td><td>${escapeHtml(meaning)}</td></tr>`
        })
        .join('')
      return `<section><h2>GET ${escapeHtml(path)}</h2><p>${escapeHtml(get.summary)}</p><pre>${escapeHtml(get.description)}</pre><table><tr><th>parameter</th><th>meaning</th></tr>${rows}</table></section>`
    })
    .join('\n')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Qalqan query API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}pre{background:#f4f4f4;padding:.5rem}</style></head>
<body><h1>Qalqan query API</h1><p>Send an analyst token: <code>Authorization: Bearer &lt;token&gt;</code>. Times are ISO 8601 with an offset. Tabular answers come as CSV with <code>format=csv</code> or <code>Accept: text/csv</code>. The machine-readable document: <a href="/openapi.json">/openapi.json</a>.</p>
${sections}</body></html>`
}
