import type { ADDRESS_SCOPES } from '../../../schemas/event.js'

export type AddressScope = (typeof ADDRESS_SCOPES)[number]

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

interface V4Range {
  readonly mask: number
  readonly network: number
  readonly scope: AddressScope
}

interface V6Range {
  readonly masks: IPv6Words
  readonly network: IPv6Words
  readonly scope: AddressScope
}

function v4(cidr: string, scope: AddressScope): V4Range {
  const [address = '', length = ''] = cidr.split('/')
  const mask = mask32(Number(length))
  return { mask, network: parseIPv4(address, 0, address.length) & mask, scope }
}

function v6(cidr: string, scope: AddressScope): V6Range {
  const [address = '', length = ''] = cidr.split('/')
  const masks = masks128(Number(length))
  const words = parseIPv6(address) as IPv6Words
  return { masks, network: [words[0] & masks[0], words[1] & masks[1], words[2] & masks[2], words[3] & masks[3]], scope }
}

function inV6(words: IPv6Words, range: V6Range): boolean {
  const { masks, network } = range
  return (
    (words[0] & masks[0]) === network[0] &&
    (words[1] & masks[1]) === network[1] &&
    (words[2] & masks[2]) === network[2] &&
    (words[3] & masks[3]) === network[3]
  )
}

/**
 * IANA's special-purpose registries, kept to what changes the meaning of a source. Documentation
 * and benchmarking ranges are reserved, so an event whose source is 203.0.113.x gets no country.
 */
const IPV4_RANGES: readonly V4Range[] = [
  v4('10.0.0.0/8', 'private'),
  v4('172.16.0.0/12', 'private'),
  v4('192.168.0.0/16', 'private'),
  v4('100.64.0.0/10', 'private'), // carrier-grade NAT (RFC 6598)
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link_local'),
  v4('224.0.0.0/4', 'multicast'),
  v4('0.0.0.0/8', 'reserved'),
  v4('240.0.0.0/4', 'reserved'), // includes the broadcast address 255.255.255.255
  v4('192.0.0.0/24', 'reserved'),
  v4('198.18.0.0/15', 'reserved'),
  v4('192.0.2.0/24', 'reserved'),
  v4('198.51.100.0/24', 'reserved'),
  v4('203.0.113.0/24', 'reserved'),
]

/** Checked in order: everything outside 2000::/3 (global unicast) that is not listed first is reserved. */
const IPV6_RANGES: readonly V6Range[] = [
  v6('::1/128', 'loopback'),
  v6('fc00::/7', 'private'),
  v6('fe80::/10', 'link_local'),
  v6('ff00::/8', 'multicast'),
  v6('2001:db8::/32', 'reserved'),
  v6('3fff::/20', 'reserved'), // documentation (RFC 9637)
  v6('2001:2::/48', 'reserved'), // benchmarking
]
const GLOBAL_UNICAST = v6('2000::/3', 'public')

/**
 * What kind of address `ip` is: private, loopback, link_local, multicast, reserved or public. Only a
 * public source gets a country. An IPv4-mapped IPv6 address is classified as its IPv4 address; a
 * string that is not an address is `reserved`.
 */
export function scopeOf(ip: string): AddressScope {
  const address = parseAddress(ip)
  return address === undefined ? 'reserved' : scopeOfAddress(address)
}

/** The scope of an address that parseAddress returned. */
export function scopeOfAddress(address: number | IPv6Words): AddressScope {
  if (typeof address === 'number') {
    for (const range of IPV4_RANGES) {
      if ((address & range.mask) === range.network) return range.scope
    }
    return 'public'
  }
  for (const range of IPV6_RANGES) {
    if (inV6(address, range)) return range.scope
  }
  return inV6(address, GLOBAL_UNICAST) ? 'public' : 'reserved'
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
