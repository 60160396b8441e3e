import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { REGION_CODES, type RegionCode } from '../../../schemas/regions.js'
import { SECTORS, type Sector } from '../../../schemas/sectors.js'
import { QalqanError } from '../../errors.js'
import { formatIPv4, mask32, masks128, parseAddress, wordsToBigInt, type IPv6Words } from './address-scope.js'

/** A network of the protected infrastructure and whose it is. */
export interface Asset {
  readonly cidr: string
  readonly org: string
  readonly sector: Sector
  readonly region: RegionCode
}

/** A network's address with its host bits cleared, in the signed 32-bit form that `&` yields. */
type Network = { family: 4; network: number; prefix: number } | { family: 6; network: IPv6Words; prefix: number }

const PREFIX = /^(0|[1-9][0-9]{0,2})$/
const MAX_PROBLEMS = 20

/** `a.b.c.d/n` or `ipv6/n` with no host bits set, or the reason it is not. */
function parseCidr(cidr: string): Network | string {
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

/** A 32-bit hash of four masked words, the key of an IPv6 table: bigint keys were ten times slower (V8 hashes a bigint by its low bits, zero for most networks). */
function hashWords(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13) ^ w1, 0xc2b2ae35)
  h = Math.imul(h ^ (h >>> 16) ^ w2, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13) ^ w3, 0xc2b2ae35)
  return (h ^ (h >>> 16)) | 0
}

const AssetEntry = z.strictObject({
  cidr: z
    .string()
    .max(64)
    .superRefine((value, ctx) => {
      const network = parseCidr(value)
      if (typeof network === 'string') ctx.addIssue({ code: 'custom', message: network })
    }),
  org: z.string().min(1).max(256),
  sector: z.enum(SECTORS),
  region: z.enum(REGION_CODES),
})

const AssetsFile = z.strictObject({
  assets: z.array(AssetEntry).max(1_000_000),
})

type AssetEntry = z.infer<typeof AssetEntry>

interface V4Table {
  readonly mask: number
  readonly byNetwork: Map<number, Asset>
}

interface V6Network {
  readonly network: IPv6Words
  readonly asset: Asset
}

interface V6Table {
  readonly masks: IPv6Words
  readonly byHash: Map<number, V6Network[]>
}

/**
 * The asset registry: which organisation, sector and region each protected network belongs to.
 * `lookup` finds the longest matching prefix with one map probe per prefix length in use, so its
 * cost does not grow with the number of networks.
 */
export class AssetRegistry {
  readonly size: number
  private readonly v4: readonly V4Table[]
  private readonly v6: readonly V6Table[]

  /** Throws QLQ_ERR_ASSETS_INVALID naming each entry (by index) whose network is invalid or listed twice. */
  constructor(entries: readonly AssetEntry[], source = 'the asset registry') {
    const v4 = new Map<number, Map<number, Asset>>()
    const v6 = new Map<number, Map<number, V6Network[]>>()
    const seen = new Map<string, number>()
    const problems: string[] = []
    entries.forEach((entry, index) => {
      const network = parseCidr(entry.cidr)
      if (typeof network === 'string') {
        problems.push(`assets.${index}.cidr: ${network}`)
        return
      }
      const key = `${network.family}|${String(network.network)}|${network.prefix}`
      const first = seen.get(key)
      if (first !== undefined) {
        problems.push(`assets.${index}.cidr: ${entry.cidr} is the same network as assets.${first}.cidr`)
        return
      }
      seen.set(key, index)
      const asset: Asset = Object.freeze({
        cidr: entry.cidr,
        org: entry.org,
        sector: entry.sector,
        region: entry.region,
      })
      if (network.family === 4) {
        const table = v4.get(network.prefix) ?? new Map<number, Asset>()
        table.set(network.network, asset)
        v4.set(network.prefix, table)
      } else {
        const table = v6.get(network.prefix) ?? new Map<number, V6Network[]>()
        const [w0, w1, w2, w3] = network.network
        const hash = hashWords(w0, w1, w2, w3)
        const bucket = table.get(hash)
        if (bucket === undefined) table.set(hash, [{ network: network.network, asset }])
        else bucket.push({ network: network.network, asset })
        v6.set(network.prefix, table)
      }
    })
    if (problems.length > 0)
      throw new QalqanError('QLQ_ERR_ASSETS_INVALID', summarize(`${source} is invalid`, problems))
    this.size = entries.length
    this.v4 = [...v4.entries()]
      .sort(([a], [b]) => b - a)
      .map(([prefix, byNetwork]) => ({ mask: mask32(prefix), byNetwork }))
    this.v6 = [...v6.entries()]
      .sort(([a], [b]) => b - a)
      .map(([prefix, byHash]) => ({ masks: masks128(prefix), byHash }))
  }

  static fromFile(path: string): AssetRegistry {
    let raw: unknown
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'))
    } catch (err) {
      throw new QalqanError(
        'QLQ_ERR_ASSETS_INVALID',
        `cannot read the asset registry ${path} as JSON: ${(err as Error).message}`,
        { cause: err },
      )
    }
    const parsed = AssetsFile.safeParse(raw)
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`)
      throw new QalqanError('QLQ_ERR_ASSETS_INVALID', summarize(`the asset registry ${path} is invalid`, problems))
    }
    return new AssetRegistry(parsed.data.assets, `the asset registry ${path}`)
  }

  /** The asset of the most specific network holding `ip` (IPv4-mapped IPv6 as IPv4), or undefined. */
  lookup(ip: string): Asset | undefined {
    const address = parseAddress(ip)
    if (address === undefined) return undefined
    if (typeof address === 'number') {
      for (const table of this.v4) {
        const asset = table.byNetwork.get(address & table.mask)
        if (asset !== undefined) return asset
      }
      return undefined
    }
    for (const { masks, byHash } of this.v6) {
      const w0 = address[0] & masks[0]
      const w1 = address[1] & masks[1]
      const w2 = address[2] & masks[2]
      const w3 = address[3] & masks[3]
      const bucket = byHash.get(hashWords(w0, w1, w2, w3))
      if (bucket === undefined) continue
      for (const { network, asset } of bucket) {
        if (network[0] === w0 && network[1] === w1 && network[2] === w2 && network[3] === w3) return asset
      }
    }
    return undefined
  }
}

function summarize(title: string, problems: readonly string[]): string {
  const shown = problems.slice(0, MAX_PROBLEMS).join('; ')
  const more = problems.length > MAX_PROBLEMS ? `; and ${problems.length - MAX_PROBLEMS} more` : ''
  return `${title}: ${shown}${more}`
}
