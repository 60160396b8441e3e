import type { ADDRESS_SCOPES } from '../../../schemas/event.js'
import { mask32, masks128, parseAddress, type IPv6Words } from '../../../schemas/ip-address.js'

export type AddressScope = (typeof ADDRESS_SCOPES)[number]

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
  return { mask, network: (parseAddress(address) as number) & mask, scope }
}

function v6(cidr: string, scope: AddressScope): V6Range {
  const [address = '', length = ''] = cidr.split('/')
  const masks = masks128(Number(length))
  const words = parseAddress(address) as IPv6Words
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
