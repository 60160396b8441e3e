import { QalqanError } from '../../errors.js'
import { splitLines, tooManyEvents } from '../framing.js'
import { validate } from '../validate.js'
import type { Decoded, DecodedRecord, DecodeLimits } from './decoded.js'
import { parseJson, tooDeep } from './json.js'

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
    return splitLines(body, limits).map((line, index) => ({
      index,
      decoded: decodeCanonicalLine(line, limits),
      raw: () => line,
    }))
  }
  // An array of events is one level deeper than its events.
  const json = parseJson(body, body.trimStart().startsWith('[') ? limits.maxDepth + 1 : limits.maxDepth)
  if (!json.ok && json.problem === 'too_deep') throw new QalqanError('QLQ_ERR_TOO_DEEP', tooDeep(limits.maxDepth))
  if (!json.ok) throw new QalqanError('QLQ_ERR_INVALID_JSON', `the body is ${json.reason}`)
  const parsed = json.value
  const items = Array.isArray(parsed) ? parsed : [parsed]
  if (items.length === 0) throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the array is empty: send at least one event')
  if (items.length > limits.maxEvents) throw tooManyEvents(limits.maxEvents)
  return items.map((value, index) => ({ index, decoded: fromValidation(value), raw: () => JSON.stringify(value) }))
}

/** One canonical event as one line of text: the decoder that NDJSON and HEC envelopes use. */
export function decodeCanonicalLine(line: string, limits: DecodeLimits): Decoded {
  const json = parseJson(line, limits.maxDepth)
  return json.ok ? fromValidation(json.value) : { kind: 'invalid', reason: json.reason }
}

function fromValidation(value: unknown): Decoded {
  const checked = validate(value)
  return checked.ok ? { kind: 'event', event: checked.event } : { kind: 'invalid', reason: checked.reason }
}
