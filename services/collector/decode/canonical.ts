import { QalqanError } from '../../errors.js'
import { splitLines, tooManyEvents } from '../framing.js'
import { validate } from '../validate.js'
import type { Decoded, DecodedRecord, DecodeLimits } from './decoded.js'
import { parseArray, parseJson, skipWhitespace, tooDeep } from './json.js'

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
  // An array is split and counted before any of it is parsed; it is one level deeper than its events.
  const json =
    body.charCodeAt(skipWhitespace(body, 0)) === 0x5b
      ? parseArray(body, limits.maxDepth + 1, limits.maxEvents)
      : parseJson(body, limits.maxDepth)
  if (!json.ok && json.problem === 'too_many') throw tooManyEvents(limits.maxEvents)
  if (!json.ok && json.problem === 'too_deep') throw new QalqanError('QLQ_ERR_TOO_DEEP', tooDeep(limits.maxDepth))
  if (!json.ok) throw new QalqanError('QLQ_ERR_INVALID_JSON', `the body is ${json.reason}`)
  const items = 'values' in json ? json.values : [json.value]
  if (items.length === 0) throw new QalqanError('QLQ_ERR_NO_EVENTS', 'the array is empty: send at least one event')
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
