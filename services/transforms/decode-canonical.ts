import { QalqanError } from '../errors.js'
import { exceedsDepth } from './json-depth.js'

/** One event as the sensor sent it: its parsed value, or why it could not be parsed, and its original text. */
export type Candidate = { index: number; raw: string } & ({ ok: true; value: unknown } | { ok: false; reason: string })

export type BodyFormat = 'json' | 'ndjson'

/**
 * Splits a POST /v1/events body into candidates: a JSON object is one event, a JSON array is one
 * event per element, NDJSON is one event per non-blank line (a bad line is a bad event, not a bad body).
 */
export function decodeCanonical(body: string, format: BodyFormat, limits: { maxEvents: number; maxDepth: number }): Candidate[] {
  const { maxEvents, maxDepth } = limits
  if (body.trim() === '') throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the body is empty: send at least one event')
  if (format === 'ndjson') return decodeLines(body, limits)
  // An array of events is one level deeper than its events.
  if (exceedsDepth(body, body.trimStart().startsWith('[') ? maxDepth + 1 : maxDepth)) {
    throw new QalqanError('QLQ_ERR_TOO_DEEP', `the body nests objects and arrays deeper than ${maxDepth} levels (QALQAN_COLLECTOR_MAX_DEPTH)`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch (err) {
    throw new QalqanError('QLQ_ERR_INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`)
  }
  const items = Array.isArray(parsed) ? parsed : [parsed]
  if (items.length > maxEvents) throw tooMany(items.length, maxEvents)
  return items.map((value, index) => ({ index, ok: true, value, raw: JSON.stringify(value) }))
}

function decodeLines(body: string, { maxEvents, maxDepth }: { maxEvents: number; maxDepth: number }): Candidate[] {
  const candidates: Candidate[] = []
  for (const line of body.split('\n')) {
    const raw = line.endsWith('\r') ? line.slice(0, -1) : line
    if (raw.trim() === '') continue
    if (candidates.length === maxEvents) throw tooMany(maxEvents + 1, maxEvents, 'at least ')
    const index = candidates.length
    if (exceedsDepth(raw, maxDepth)) {
      candidates.push({ index, ok: false, reason: `nests objects and arrays deeper than ${maxDepth} levels (QALQAN_COLLECTOR_MAX_DEPTH)`, raw })
      continue
    }
    try {
      candidates.push({ index, ok: true, value: JSON.parse(raw), raw })
    } catch (err) {
      candidates.push({ index, ok: false, reason: `not valid JSON: ${(err as Error).message}`, raw })
    }
  }
  return candidates
}

function tooMany(count: number, limit: number, qualifier = ''): QalqanError {
  return new QalqanError(
    'QLQ_ERR_TOO_MANY_EVENTS',
    `the request holds ${qualifier}${count} events; the limit is ${limit} per request (QALQAN_COLLECTOR_MAX_EVENTS): split it`,
  )
}
