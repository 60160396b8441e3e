import { z } from 'zod'

/** The step that refused a record; the same names as the steps and their metrics' stage label. */
export const REJECTING_STAGES = ['decode', 'validate', 'normalize', 'store'] as const

/**
 * A record of the rejected topic (v1): why it was refused, by which step, from which sensor and
 * format, and its original text, so it can be replayed once the cause is fixed.
 */
export const RejectedRecord = z.strictObject({
  reason: z.string().min(1),
  stage: z.enum(REJECTING_STAGES),
  format: z.string().min(1).max(64),
  sensor_id: z.string().max(128).nullable(),
  /** The record's position in its request, or null when it was refused after Kafka. */
  index: z.int().min(0).nullable(),
  received_at: z.iso.datetime({ offset: true }),
  raw: z.string(),
})

export type RejectedRecord = z.infer<typeof RejectedRecord>
