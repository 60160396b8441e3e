import { QalqanError } from '../../errors.js'
import type { Decoded, DecodedRecord } from './decoded.js'
import { exceedsDepth } from './json.js'
import { splitLines, tooManyEvents } from '../framing.js'
import { validate } from '../validate.js'

export type BodyFormat = 'json' | 'ndjson'

export interface CanonicalLimits {
  maxEvents: number
  maxDepth: number
  maxLineLength: number
}

/**
 * Decodes a POST /v1/events body: a JSON object is one event, a JSON array is one event per
 * element, NDJSON is one event per non-blank line (a bad line is a bad event, not a bad body).
 */
export function decodeCanonical(body: string, format: BodyFormat, limits: CanonicalLimits): DecodedRecord[] {
  if (body.trim() === '') throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the body is empty: send at least one event')
  if (format === 'ndjson') {
    return splitLines(body, limits).map((line, index) => ({ index, decoded: decodeCanonicalLine(line, limits.maxDepth), raw: () => line }))
  }
  // An array of events is one level deeper than its events.
  if (exceedsDepth(body, body.trimStart().startsWith('[') ? limits.maxDepth + 1 : limits.maxDepth)) throw tooDeep(limits.maxDepth)
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch (err) {
    throw new QalqanError('QLQ_ERR_INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`)
  }
  const items = Array.isArray(parsed) ? parsed : [parsed]
  if (items.length === 0) throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the array is empty: send at least one event')
  if (items.length > limits.maxEvents) throw tooManyEvents(limits.maxEvents)
  return items.map((value, index) => ({ index, decoded: fromValidation(value), raw: () => JSON.stringify(value) }))
}

/** One canonical event as one line of text: the decoder that NDJSON and HEC envelopes use. */
export function decodeCanonicalLine(line: string, maxDepth: number): Decoded {
  if (exceedsDepth(line, maxDepth)) return { kind: 'invalid', reason: tooDeep(maxDepth).message }
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (err) {
    return { kind: 'invalid', reason: `not valid JSON: ${(err as Error).message}` }
  }
  return fromValidation(value)
}

function fromValidation(value: unknown): Decoded {
  const checked = validate(value)
  return checked.ok ? { kind: 'event', event: checked.event } : { kind: 'invalid', reason: checked.reason }
}

function tooDeep(maxDepth: number): QalqanError {
  return new QalqanError('QLQ_ERR_TOO_DEEP', `nests objects and arrays deeper than ${maxDepth} levels (QALQAN_COLLECTOR_MAX_DEPTH)`)
}
