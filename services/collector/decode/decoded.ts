import type { SensorEvent } from '../../../schemas/event.js'

/**
 * What a sensor-format decoder makes of one record (a line, or one HEC envelope's event):
 * an event in the sensor-facing shape, a record that is not an attack (counted, answered as
 * skipped, never an error), or a record that cannot be read (rejected with the reason).
 */
export type Decoded =
  | { kind: 'event'; event: SensorEvent }
  | { kind: 'skipped'; reason: string }
  | { kind: 'invalid'; reason: string }

/** The configured limits a decoder applies to one record. */
export interface DecodeLimits {
  /** QALQAN_COLLECTOR_MAX_DEPTH: how deep objects and arrays may nest. */
  readonly maxDepth: number
}

export type Decoder = (record: string, limits: DecodeLimits) => Decoded

/** One record of a request with what its decoder made of it; its original text is made only when needed. */
export interface DecodedRecord {
  index: number
  decoded: Decoded
  raw: () => string
}
