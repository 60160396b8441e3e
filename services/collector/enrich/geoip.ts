import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Reader, type Response } from 'maxmind'
import { formatIPv4, parseAddress } from '../../../schemas/ip-address.js'
import { scopeOfAddress } from './address-scope.js'

/**
 * The country database: a snapshot of the RIRs' registration data (WHOIS, ASN; CC BY 4.0 by the NRO)
 * merged with published geofeeds, shipped in the npm package so it is never fetched at run time.
 * A newer package version is a newer snapshot.
 */
export const COUNTRY_DATABASE_PATH = createRequire(import.meta.url).resolve(
  '@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb',
)

interface CountryRecord {
  readonly country_code?: unknown
}

const ALPHA2 = /^[A-Z]{2}$/

/** Decoded records by offset: the database holds one record per country, so this stays small. */
class RecordCache {
  private readonly records = new Map<string | number, unknown>()

  get(key: string | number): unknown {
    return this.records.get(key)
  }

  set(key: string | number, value: unknown): void {
    if (this.records.size < 4096) this.records.set(key, value)
  }
}

let reader: Reader<Response> | undefined

function open(): Reader<Response> {
  reader ??= new Reader<Response>(readFileSync(COUNTRY_DATABASE_PATH), { cache: new RecordCache() })
  return reader
}

/** Opens the database (once per process) and says when its snapshot was built. */
export function countryDatabase(): { path: string; builtAt: Date } {
  return { path: COUNTRY_DATABASE_PATH, builtAt: open().metadata.buildEpoch }
}

/**
 * The ISO 3166-1 alpha-2 code (uppercase) of the country where `ip` is registered, or '' when the
 * database does not know it, `ip` is not a public address, or not an address at all. IPv4-mapped
 * IPv6 is looked up as IPv4.
 */
export function countryOf(ip: string): string {
  const address = parseAddress(ip)
  // The snapshot places some special-purpose ranges in countries (192.168.0.0/16 and 203.0.113.0/24
  // in AU, 2001:db8::/32 in JP): a private or documentation address has no country.
  if (address === undefined || scopeOfAddress(address) !== 'public') return ''
  let key = ip
  if (typeof address === 'number') {
    if (ip.indexOf(':') !== -1) key = formatIPv4(address)
  } else {
    const percent = ip.indexOf('%')
    if (percent !== -1) key = ip.slice(0, percent)
  }
  const record = open().get(key) as CountryRecord | null
  const code = record?.country_code
  return typeof code === 'string' && ALPHA2.test(code) ? code : ''
}
