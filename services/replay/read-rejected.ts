import { createHash } from 'node:crypto'
import { RAW_EXCERPT_BYTES, RejectedRecord } from '../../schemas/rejected.js'
import { describeIssues } from '../errors.js'

/** Why a message of the rejected topic is no rejection record at all; a bounded set, for the summary. */
export const UNREADABLE = ['empty', 'not_json', 'wrong_shape', 'raw_mismatch'] as const

export type Unreadable = (typeof UNREADABLE)[number]

export type ReadRejected =
  | { readonly ok: true; readonly record: RejectedRecord; readonly cut: boolean }
  | { readonly ok: false; readonly kind: Unreadable; readonly problem: string }

/**
 * A message of the rejected topic as a rejection record, or why it is none. Anyone who can write to
 * the topic can put anything there, so nothing is trusted: the record must have the schema's shape,
 * an excerpt no longer than a rejection keeps, and, when the excerpt is the whole text, the length
 * and hash it claims. `cut` says that the excerpt is shorter than the original text.
 */
export function readRejected(value: Buffer | null): ReadRejected {
  if (value === null || value.length === 0) return unreadable('empty', 'the message has no value')
  let json: unknown
  try {
    json = JSON.parse(value.toString('utf8'))
  } catch (err) {
    return unreadable('not_json', `not JSON: ${(err as Error).message.slice(0, 120)}`)
  }
  const parsed = RejectedRecord.safeParse(json)
  if (!parsed.success) {
    return unreadable('wrong_shape', `not a rejection record: ${describeIssues(parsed.error.issues, 3).slice(0, 300)}`)
  }
  const record = parsed.data
  const bytes = Buffer.byteLength(record.raw)
  if (bytes > RAW_EXCERPT_BYTES) {
    return unreadable('wrong_shape', `raw holds ${bytes} bytes, more than the ${RAW_EXCERPT_BYTES} a rejection keeps`)
  }
  if (bytes > record.raw_bytes) {
    return unreadable('raw_mismatch', `raw holds ${bytes} bytes, more than raw_bytes says (${record.raw_bytes})`)
  }
  if (bytes === record.raw_bytes && createHash('sha256').update(record.raw).digest('hex') !== record.raw_sha256) {
    return unreadable('raw_mismatch', 'raw is not the text raw_sha256 names')
  }
  return { ok: true, record, cut: bytes < record.raw_bytes }
}

function unreadable(kind: Unreadable, problem: string): ReadRejected {
  return { ok: false, kind, problem }
}
