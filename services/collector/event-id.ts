import { hash } from 'node:crypto'

/**
 * The id of an event its sensor gave none: a UUID from a SHA-256 of the sensor id and the record's
 * original text, so a resent record gets the id it had and the worker drops the copy. Shaped as
 * RFC 9562 version 8 (a name-based UUID by a hash other than SHA-1). One hash of a ~350-byte record
 * costs ~0.6 µs (crypto.hash, Node 20), a fresh random UUID ~0.16 µs.
 */
export function recordEventId(sensorId: string, text: string): string {
  return uuidOf(hash('sha256', `r${sensorId.length}:${sensorId}\n${text}`, 'hex'))
}

/** The id of the `index`th record of a request sent with an Idempotency-Key: the key names the request. */
export function keyedEventId(sensorId: string, key: string, index: number): string {
  return uuidOf(hash('sha256', `k${sensorId.length}:${sensorId}\n${key}\n${index}`, 'hex'))
}

// The sensor id goes first with its length, and each kind of input has its own first letter, so no
// two different inputs hash the same text.

/** The first 128 bits of a hex digest with the version (8) and variant (10) bits set. */
function uuidOf(hex: string): string {
  const variant = ((Number.parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/** A request's Idempotency-Key header, when it has a usable one (not blank, not repeated). */
export function idempotencyKeyOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const key = headers['idempotency-key']
  return typeof key === 'string' && key.trim() !== '' ? key.trim() : undefined
}
