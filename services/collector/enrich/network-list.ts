import { mask32, masks128, parseAddress, type IPv6Words } from '../../../schemas/ip-address.js'
import { parseCidr } from '../../../schemas/cidr.js'

/**
 * A few networks, asked whether they hold an address (IPv4-mapped IPv6 as IPv4). A linear scan:
 * for the networks a sensor's registry entry names (at most 1,000), not for the asset registry.
 */
export class NetworkList {
  private readonly v4: readonly { mask: number; network: number }[]
  private readonly v6: readonly { masks: IPv6Words; network: IPv6Words }[]

  /** Throws on a network that is not one: registry entries are validated with `Cidr` before. */
  constructor(cidrs: readonly string[]) {
    const v4: { mask: number; network: number }[] = []
    const v6: { masks: IPv6Words; network: IPv6Words }[] = []
    for (const cidr of cidrs) {
      const parsed = parseCidr(cidr)
      if (typeof parsed === 'string') throw new Error(`${JSON.stringify(cidr)}: ${parsed}`)
      if (parsed.family === 4) v4.push({ mask: mask32(parsed.prefix), network: parsed.network })
      else v6.push({ masks: masks128(parsed.prefix), network: parsed.network })
    }
    this.v4 = v4
    this.v6 = v6
  }

  has(ip: string): boolean {
    const address = parseAddress(ip)
    if (address === undefined) return false
    if (typeof address === 'number') return this.v4.some(({ mask, network }) => (address & mask) === network)
    return this.v6.some(
      ({ masks, network }) =>
        (address[0] & masks[0]) === network[0] &&
        (address[1] & masks[1]) === network[1] &&
        (address[2] & masks[2]) === network[2] &&
        (address[3] & masks[3]) === network[3],
    )
  }
}
