import { SensorEvent } from '../../schemas/event.js'
import type { RejectedRecord } from '../../schemas/rejected.js'
import { decodeCanonicalLine } from '../collector/decode/canonical.js'
import type { Decoded, DecodeContext, DecodedRecord } from '../collector/decode/decoded.js'
import { FORMATS, isLineFormat } from '../collector/decode/formats.js'
import { decodeEnvelopes } from '../collector/hec.js'
import { validate } from '../collector/validate.js'
import { QalqanError } from '../errors.js'
import type { Sensor } from '../http/tokens.js'
import { readMessage } from '../worker/read-message.js'

/** What the collector decodes with, from its configuration. */
export interface DecodeSettings {
  readonly maxDepth: number
  /** The zone of a sensor whose registration names none. */
  readonly timeZone: string
}

/** A rejected record decoded again, and the time it counts as received: its first arrival. */
export interface Redecoded {
  readonly record: DecodedRecord
  readonly receivedAt: Date
}

export const HEC_RAW_UNKNOWN =
  "a hec-raw record was decoded by its request's sourcetype, which the rejection does not keep: send it to the collector's raw endpoint again (docs/operations.md)"

const SENSOR_FIELDS = Object.keys(SensorEvent.shape)

/**
 * Decodes a rejected record's original text as the collector would now: the record's format picks
 * the decoder, the sensor's zone and the record's first arrival complete its time. A record the
 * worker refused (`store`) holds the canonical event the collector made: it is read as the worker
 * reads one, then what a sensor may say of it is validated again, so normalize and enrich remake
 * the rest from today's registries. The original text stays the record's text, which the id of an
 * event without one is derived from.
 */
export function redecode(rejected: RejectedRecord, sensor: Sensor, settings: DecodeSettings): Redecoded {
  const arrival = new Date(rejected.received_at)
  const { raw } = rejected
  const record = (decoded: Decoded, receivedAt = arrival): Redecoded => ({
    record: { index: rejected.index ?? 0, decoded, raw: () => raw },
    receivedAt,
  })
  if (rejected.stage === 'store') {
    const stored = storedEvent(raw)
    return 'reason' in stored ? record(invalid(stored.reason)) : record(stored.decoded, stored.receivedAt)
  }
  const context = { maxDepth: settings.maxDepth, receivedAt: arrival, timeZone: sensor.time_zone ?? settings.timeZone }
  const { format } = rejected
  if (isLineFormat(format)) return record(FORMATS[format](raw, context))
  if (format === 'canonical' || format === 'canonical-json' || format === 'canonical-ndjson')
    return record(decodeCanonicalLine(raw, context))
  if (format === 'hec') return record(envelope(raw, context))
  if (format === 'hec-raw') return record(invalid(HEC_RAW_UNKNOWN))
  return record(invalid(`no decoder for the format ${JSON.stringify(format.slice(0, 64))}`))
}

/**
 * The sensor a rejected record came from: the one it names, else (a message the worker could not
 * read as a whole) the sensor_id its text names, if any.
 */
export function sensorIdOf(rejected: RejectedRecord): string | undefined {
  if (rejected.sensor_id !== null) return rejected.sensor_id
  if (rejected.stage !== 'store') return undefined
  try {
    const value: unknown = JSON.parse(rejected.raw)
    const id = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['sensor_id'] : undefined
    return typeof id === 'string' && id !== '' ? id : undefined
  } catch {
    return undefined
  }
}

function storedEvent(raw: string): { decoded: Decoded; receivedAt: Date } | { reason: string } {
  const event = readMessage(raw)
  if (typeof event === 'string') return { reason: event }
  const said = Object.fromEntries(Object.entries(event).filter(([key]) => SENSOR_FIELDS.includes(key)))
  const checked = validate(said)
  if (!checked.ok) return { reason: checked.reason }
  return {
    decoded: { kind: 'event', event: checked.event, timeSource: event.time_source ?? 'event' },
    receivedAt: new Date(event.received_at),
  }
}

function envelope(raw: string, context: DecodeContext): Decoded {
  try {
    const { records } = decodeEnvelopes(raw, { ...context, maxEvents: 2 }, '')
    const [first] = records
    if (first === undefined || records.length > 1) return invalid('the text is not one HEC envelope')
    return first.decoded
  } catch (err) {
    if (err instanceof QalqanError) return invalid(err.message)
    throw err
  }
}

function invalid(reason: string): Decoded {
  return { kind: 'invalid', reason }
}
