import type { SensorEvent, TimeSource } from '../../../schemas/event.js'

/**
 * What a sensor-format decoder makes of one record (a line, or one HEC envelope's event):
 * an event in the sensor-facing shape with where its time came from (`event` when not said), a
 * record that is not an attack (counted, answered as skipped, never an error), or a record that
 * cannot be read (rejected with the reason).
 */
export type Decoded =
  | { kind: 'event'; event: SensorEvent; timeSource?: TimeSource }
  | { kind: 'skipped'; reason: string }
  | { kind: 'invalid'; reason: string }

/** When a record arrived and how its sensor's clock is set: what a time the record does not complete is read against. */
export interface Arrival {
  /** When the collector received the record: the time of a record that carries none, the year of one that carries no year. */
  readonly receivedAt: Date
  /** The IANA zone of the sensor's clock (its registration, else QALQAN_COLLECTOR_DEFAULT_TIME_ZONE): how a time without a zone is read. */
  readonly timeZone: string
}

/**
 * What a decoder reads one record with: the limits, and the arrival, known before the body is read
 * (the sensor is admitted on the headers).
 */
export interface DecodeContext extends Arrival {
  /** QALQAN_COLLECTOR_MAX_DEPTH: how deep objects and arrays may nest. */
  readonly maxDepth: number
  /** A HEC envelope's `time`: the time of a record that carries none, before the receive time. */
  readonly envelopeTime?: Date
}

/** The configured limits a decoder applies to one record. */
export type DecodeLimits = Pick<DecodeContext, 'maxDepth'>

export type Decoder = (record: string, context: DecodeContext) => Decoded

/** One record of a request with what its decoder made of it; its original text is made only when needed. */
export interface DecodedRecord {
  index: number
  decoded: Decoded
  raw: () => string
}
