import type { CanonicalEvent } from '../../../schemas/event.js'
import type { Asset } from './assets.js'
import { scopeOf } from './address-scope.js'
import { mayAttribute, type AttributionRights } from './attribution.js'

export interface EnrichLookups {
  /** The asset registry's network holding a target address, if any. */
  readonly assets: (ip: string) => Asset | undefined
  /** The ISO alpha-2 country of a public address, or ''. */
  readonly country: (ip: string) => string
  /** Told of each event the registry would place in an organisation its sensor may not file under. */
  readonly refused?: (event: CanonicalEvent, asset: Asset) => void
}

const ALPHA2 = /^[A-Z]{2}$/

/**
 * The event with its target placed by the asset registry (from `dst_ip`, when the registry holds it
 * and the sensor may file under that organisation; otherwise the sensor's registration stays) and
 * its source's scope and country. Only a public source gets a country. Without the sensor's
 * registration, only the organisation the event already carries (its sensor's) is allowed. Returns
 * a new event; the input is not changed.
 */
export function enrich(event: CanonicalEvent, lookups: EnrichLookups, sensor?: AttributionRights): CanonicalEvent {
  const dstIp = event.dst_ip
  let asset = dstIp === undefined ? undefined : lookups.assets(dstIp)
  if (asset !== undefined && dstIp !== undefined && !mayAttribute(sensor ?? { org: event.org }, dstIp, asset)) {
    lookups.refused?.(event, asset)
    asset = undefined
  }
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
