import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { REGION_CODES, type RegionCode } from '../../../schemas/regions.js'
import { SECTORS, type Sector } from '../../../schemas/sectors.js'
import { QalqanError } from '../../errors.js'
import { Cidr, parseCidr } from '../../../schemas/cidr.js'
import { mask32, masks128, parseAddress, type IPv6Words } from '../../../schemas/ip-address.js'

/** A network of the protected infrastructure and whose it is. */
export interface Asset {
  readonly cidr: string
  readonly org: string
  readonly sector: Sector
  readonly region: RegionCode
}

const MAX_PROBLEMS = 20

/** A 32-bit hash of four masked words, the key of an IPv6 table: bigint keys were ten times slower (V8 hashes a bigint by its low bits, zero for most networks). */
function hashWords(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13) ^ w1, 0xc2b2ae35)
  h = Math.imul(h ^ (h >>> 16) ^ w2, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13) ^ w3, 0xc2b2ae35)
  return (h ^ (h >>> 16)) | 0
}

const AssetEntry = z.strictObject({
  cidr: Cidr,
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
