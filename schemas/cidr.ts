import { z } from 'zod'
import { formatIPv4, mask32, masks128, parseAddress, wordsToBigInt, type IPv6Words } from './ip-address.js'

/** A network's address with its host bits cleared, in the signed 32-bit form that `&` yields. */
export type Network = { family: 4; network: number; prefix: number } | { family: 6; network: IPv6Words; prefix: number }

const PREFIX = /^(0|[1-9][0-9]{0,2})$/

/** `a.b.c.d/n` or `ipv6/n` with no host bits set, or the reason it is not. */
export function parseCidr(cidr: string): Network | string {
  const slash = cidr.indexOf('/')
  if (slash === -1) return 'must be a network such as 198.51.100.0/24 or 2001:db8::/32 (the /length is missing)'
  const address = cidr.slice(0, slash)
  const length = cidr.slice(slash + 1)
  if (address.includes('%')) return 'a network cannot carry an IPv6 zone (%...)'
  const parsed = parseAddress(address)
  if (parsed === undefined) return `${JSON.stringify(address)} is not an IPv4 or IPv6 address`
  if (typeof parsed === 'number' && address.includes(':')) {
    return 'write an IPv4-mapped network as IPv4 (a.b.c.d/n): IPv4-mapped addresses are looked up as IPv4'
  }
  const max = typeof parsed === 'number' ? 32 : 128
  if (!PREFIX.test(length) || Number(length) > max) {
    return `the prefix length ${JSON.stringify(length.slice(0, 12))} must be a whole number from 0 to ${max}`
  }
  const prefix = Number(length)
  if (typeof parsed === 'number') {
    const network = parsed & mask32(prefix)
    if (network >>> 0 !== parsed) return `host bits are set: the network is ${formatIPv4(network >>> 0)}/${prefix}`
    return { family: 4, network, prefix }
  }
  const masks = masks128(prefix)
  const network: IPv6Words = [parsed[0] & masks[0], parsed[1] & masks[1], parsed[2] & masks[2], parsed[3] & masks[3]]
  if (network.some((word, i) => word >>> 0 !== parsed[i])) {
    return `host bits are set: the network is ${formatIPv6(network)}/${prefix}`
  }
  return { family: 6, network, prefix }
}

function formatIPv6(words: IPv6Words): string {
  const hex = wordsToBigInt([words[0] >>> 0, words[1] >>> 0, words[2] >>> 0, words[3] >>> 0])
    .toString(16)
    .padStart(32, '0')
  const groups = hex.match(/.{4}/g) ?? []
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1)
}

/** A network as the registries write it (`a.b.c.d/n`, `ipv6/n`); what is wrong with it is the issue's message. */
export const Cidr = z
  .string()
  .max(64)
  .superRefine((value, ctx) => {
    const network = parseCidr(value)
    if (typeof network === 'string') ctx.addIssue({ code: 'custom', message: network })
  })
