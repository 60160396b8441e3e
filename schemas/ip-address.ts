/** An IPv6 address as four unsigned 32-bit words, most significant first. */
export type IPv6Words = readonly [number, number, number, number]

const ZONE = /^[0-9a-zA-Z.:-]+$/

/** Scratch space for the eight hextets of the address being parsed (parsing is synchronous). */
const hextets = new Uint16Array(8)

/**
 * An IP address in numbers: IPv4, and IPv4-mapped IPv6 (`::ffff:1.2.3.4`), as an unsigned 32-bit
 * number; other IPv6 as four 32-bit words; undefined when `ip` is not an address that `node:net`
 * `isIP` accepts (up to 64 characters). An IPv6 zone (`fe80::1%eth0`) is accepted and ignored.
 */
export function parseAddress(ip: string): number | IPv6Words | undefined {
  if (ip.length > 64) return undefined
  if (ip.indexOf(':') === -1) {
    const v4 = parseIPv4(ip, 0, ip.length)
    return v4 < 0 ? undefined : v4
  }
  return parseIPv6(ip)
}

/** The dotted form of an unsigned 32-bit IPv4 number. */
export function formatIPv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`
}

/** IPv6 words as one 128-bit number. */
export function wordsToBigInt(words: IPv6Words): bigint {
  return (BigInt(words[0]) << 96n) | (BigInt(words[1]) << 64n) | (BigInt(words[2]) << 32n) | BigInt(words[3])
}

/** The netmask of a prefix length (0 to 32) as a signed 32-bit integer, the form `&` yields. */
export function mask32(prefix: number): number {
  return prefix <= 0 ? 0 : -1 << (32 - Math.min(prefix, 32))
}

/** The four word masks of an IPv6 prefix length. */
export function masks128(prefix: number): IPv6Words {
  return [mask32(prefix), mask32(prefix - 32), mask32(prefix - 64), mask32(prefix - 96)]
}

/**
 * The dotted-decimal IPv4 address in `text[start, end)` as an unsigned 32-bit number, or -1. Like
 * `isIP`, four decimal octets of 0 to 255 without leading zeros.
 */
function parseIPv4(text: string, start: number, end: number): number {
  let value = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1
      value = value * 256 + octet
      octet = 0
      digits = 0
      dots++
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1
      octet = octet * 10 + (c - 48)
      if (octet > 255) return -1
      digits++
    } else {
      return -1
    }
  }
  if (dots !== 3 || digits === 0) return -1
  return value * 256 + octet
}

/** RFC 4291 text: up to eight hex groups, one `::` for a run of zeros, an IPv4 tail; in one pass. */
function parseIPv6(text: string): number | IPv6Words | undefined {
  let end = text.length
  const percent = text.indexOf('%')
  if (percent !== -1) {
    if (!ZONE.test(text.slice(percent + 1))) return undefined
    end = percent
  }
  let count = 0
  let gapAt = -1
  let i = 0
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return undefined
    gapAt = 0
    i = 2
  }
  while (i < end) {
    const start = i
    let value = 0
    let c = 0
    for (; i < end; i++) {
      c = text.charCodeAt(i)
      if (c >= 48 && c <= 57) value = (value << 4) | (c - 48)
      else if (c >= 97 && c <= 102) value = (value << 4) | (c - 87)
      else if (c >= 65 && c <= 70) value = (value << 4) | (c - 55)
      else break
    }
    if (i < end && c === 46) {
      const v4 = count <= 6 ? parseIPv4(text, start, end) : -1
      if (v4 < 0) return undefined
      hextets[count++] = v4 >>> 16
      hextets[count++] = v4 & 0xffff
      break
    }
    const digits = i - start
    if (digits === 0 || digits > 4 || count === 8) return undefined
    hextets[count++] = value
    if (i === end) break
    if (c !== 58) return undefined
    i++
    if (i === end) return undefined
    if (text.charCodeAt(i) === 58) {
      if (gapAt !== -1) return undefined
      gapAt = count
      i++
    }
  }
  if (gapAt === -1) {
    if (count !== 8) return undefined
  } else {
    if (count > 7) return undefined
    const moved = count - gapAt
    hextets.copyWithin(8 - moved, gapAt, count)
    hextets.fill(0, gapAt, 8 - moved)
  }
  const h = hextets
  if (h[0] === 0 && h[1] === 0 && h[2] === 0 && h[3] === 0 && h[4] === 0 && h[5] === 0xffff) return h[6] * 65536 + h[7]
  return [h[0] * 65536 + h[1], h[2] * 65536 + h[3], h[4] * 65536 + h[5], h[6] * 65536 + h[7]]
}
