import { randomBytes } from 'node:crypto'

/**
 * What copies are recognised by: the sensor and its event id, as a sensor chooses its own ids and
 * must not be able to suppress another sensor's events by reusing them. Both are folded into 64
 * bits (`hi`, `lo`), eight bytes to remember per event instead of two strings: with a window of tens
 * of millions of events, the difference is gigabytes.
 *
 * The hash is seeded at random per process, so nobody can prepare ids that collide offline. Two
 * distinct events share a key with a chance of about n / 2^64 per lookup against n remembered keys:
 * at 21 million keys and 35,000 events/s, one event wrongly taken for a copy every few hundred days.
 */
export interface CopyKey {
  readonly hi: number
  readonly lo: number
}

const seeds = new Uint32Array(randomBytes(16).buffer)
const SEED_HI = seeds[0] as number
const SEED_LO = seeds[1] as number
const SEED_SENSOR_HI = seeds[2] as number
const SEED_SENSOR_LO = seeds[3] as number

/** Sensors are few (each has a token); a stream from elsewhere could name many, so the cache is bounded. */
const MAX_CACHED_SENSORS = 65_536
const sensors = new Map<string, readonly [number, number]>()

const words = new Uint32Array(6)

export function copyKey(sensorId: string, eventId: string): CopyKey {
  const [s0, s1] = sensorHash(sensorId)
  words[0] = s0
  words[1] = s1
  if (!uuidWords(eventId, words)) {
    // Not a UUID (the canonical schema requires one; this is for messages from elsewhere).
    words[2] = stringHash(eventId, SEED_SENSOR_HI)
    words[3] = stringHash(eventId, SEED_SENSOR_LO)
    words[4] = eventId.length
    words[5] = 0xffffffff
  }
  let hi = mixWords(words, SEED_HI)
  const lo = mixWords(words, SEED_LO)
  // (0, 0) marks an empty slot in the key tables.
  if (hi === 0 && lo === 0) hi = 1
  return { hi, lo }
}

function sensorHash(sensorId: string): readonly [number, number] {
  let hash = sensors.get(sensorId)
  if (hash === undefined) {
    if (sensors.size >= MAX_CACHED_SENSORS) sensors.clear()
    hash = [stringHash(sensorId, SEED_SENSOR_HI), stringHash(sensorId, SEED_SENSOR_LO)]
    sensors.set(sensorId, hash)
  }
  return hash
}

/** The 128 bits of a UUID in any letter case, as ClickHouse reads it, into words[2..5]; false if not one. */
function uuidWords(id: string, into: Uint32Array): boolean {
  if (id.length !== 36) return false
  let word = 0
  let nibbles = 0
  let at = 2
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i)
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false
      continue
    }
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1
    if (digit < 0) return false
    word = ((word << 4) | digit) >>> 0
    if (++nibbles === 8) {
      into[at++] = word
      word = 0
      nibbles = 0
    }
  }
  return true
}

// MurmurHash3's 32-bit block and finalisation steps.
function mixBlock(h: number, k: number): number {
  let block = Math.imul(k, 0xcc9e2d51)
  block = (block << 15) | (block >>> 17)
  block = Math.imul(block, 0x1b873593)
  const mixed = h ^ block
  return (Math.imul((mixed << 13) | (mixed >>> 19), 5) + 0xe6546b64) | 0
}

function finish(h: number, length: number): number {
  let out = h ^ length
  out = Math.imul(out ^ (out >>> 16), 0x85ebca6b)
  out = Math.imul(out ^ (out >>> 13), 0xc2b2ae35)
  return (out ^ (out >>> 16)) >>> 0
}

function mixWords(input: Uint32Array, seed: number): number {
  let h = seed
  for (let i = 0; i < input.length; i++) h = mixBlock(h, input[i] as number)
  return finish(h, input.length * 4)
}

function stringHash(text: string, seed: number): number {
  let h = seed
  let i = 0
  for (; i + 1 < text.length; i += 2) h = mixBlock(h, text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16))
  if (i < text.length) h = mixBlock(h, text.charCodeAt(i))
  return finish(h, text.length * 2)
}
