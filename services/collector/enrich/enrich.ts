import type { CanonicalEvent } from '../../../schemas/event.js'
import type { Asset } from './assets.js'
import { scopeOf } from './address-scope.js'

export interface EnrichLookups {
  /** The asset registry's network holding a target address, if any. */
  readonly assets: (ip: string) => Asset | undefined
  /** The ISO alpha-2 country of a public address, or ''. */
  readonly country: (ip: string) => string
}

const ALPHA2 = /^[A-Z]{2}$/

/**
 * The event with its target placed by the asset registry (from `dst_ip`, when the registry holds it;
 * otherwise the sensor's registration stays) and its source's scope and country. Only a public
 * source gets a country. Returns a new event; the input is not changed.
 */
export function enrich(event: CanonicalEvent, lookups: EnrichLookups): CanonicalEvent {
  const asset = event.dst_ip === undefined ? undefined : lookups.assets(event.dst_ip)
  const srcScope = scopeOf(event.src_ip)
  const country = srcScope === 'public' ? lookups.country(event.src_ip) : ''
  return {
    ...event,
    src_scope: srcScope,
    src_country: ALPHA2.test(country) ? country : '',
    org: asset?.org ?? event.org,
    sector: asset?.sector ?? event.sector,
    region: asset?.region ?? event.region,
  }
}
