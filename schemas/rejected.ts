import { createHash } from 'node:crypto'
import { z } from 'zod'

/** The step that refused a record; the same names as the steps and their metrics' stage label. */
export const REJECTING_STAGES = ['decode', 'validate', 'normalize', 'store'] as const

/** How much of a refused record's original text is kept: a rejection must fit in one Kafka message. */
export const RAW_EXCERPT_BYTES = 64 * 1024

/**
 * A record of the rejected topic (v1): why it was refused, by which step, from which sensor and
 * format, and its original text (cut to an excerpt when long, with the whole text's length and
 * hash), so it can be replayed once the cause is fixed.
 */
export const RejectedRecord = z.strictObject({
  reason: z.string().min(1),
  stage: z.enum(REJECTING_STAGES),
  format: z.string().min(1).max(64),
  sensor_id: z.string().max(128).nullable(),
  /** The record's position in its request, or null when it was refused after Kafka. */
  index: z.int().min(0).nullable(),
  received_at: z.iso.datetime({ offset: true }),
  /** The original text, or its first bytes when it is longer than raw_bytes allows to keep. */
  raw: z.string(),
  /** The whole original text's length in UTF-8 bytes: more than raw's when raw was cut. */
  raw_bytes: z.int().min(0),
  /** The whole original text's SHA-256 (UTF-8, lowercase hex). */
  raw_sha256: z.string().regex(/^[0-9a-f]{64}$/),
})

export type RejectedRecord = z.infer<typeof RejectedRecord>

/** The raw fields of a rejection: an excerpt of at most `maxBytes`, the whole text's length and hash. */
export function rawFields(
  raw: string,
  maxBytes = RAW_EXCERPT_BYTES,
): Pick<RejectedRecord, 'raw' | 'raw_bytes' | 'raw_sha256'> {
  const bytes = Buffer.byteLength(raw)
  return {
    raw: bytes <= maxBytes ? raw : utf8Prefix(raw, maxBytes),
    raw_bytes: bytes,
    raw_sha256: createHash('sha256').update(raw).digest('hex'),
  }
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes, never cutting a character (or surrogate pair). */
export function utf8Prefix(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return ''
  // Every character takes at least one byte, so the first maxBytes characters hold the answer;
  // a high surrogate at the cut would encode as U+FFFD, so it is left out.
  let chars = Math.min(text.length, maxBytes)
  const last = text.charCodeAt(chars - 1)
  if (chars < text.length && last >= 0xd800 && last <= 0xdbff) chars--
  const buffer = Buffer.from(text.slice(0, chars))
  if (buffer.length <= maxBytes) return buffer.toString('utf8')
  let end = maxBytes
  // Back off from a continuation byte to the start of its character.
  while (end > 0 && ((buffer[end] as number) & 0xc0) === 0x80) end--
  return buffer.subarray(0, end).toString('utf8')
}
