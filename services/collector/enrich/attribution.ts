import type { Sensor } from '../../http/tokens.js'
import type { Asset } from './assets.js'
import { NetworkList } from './network-list.js'

/** What decides whom a sensor may file events under: its own organisation, and its registry entry's `attribute_to`. */
export type AttributionRights = Pick<Sensor, 'org' | 'attribute_to'>

interface Grant {
  readonly organisations: ReadonlySet<string>
  readonly networks: NetworkList
}

/** Each registry entry's grant, built once: a reload makes new entries, and the old ones go with their grants. */
const grants = new WeakMap<NonNullable<AttributionRights['attribute_to']>, Grant>()

/**
 * Whether a sensor may have an event aimed at `dstIp` placed in `asset`'s organisation: always its
 * own organisation; another only when its entry's `attribute_to` names that organisation (as the
 * asset registry writes it) or a network that holds `dstIp`.
 */
export function mayAttribute(sensor: AttributionRights, dstIp: string, asset: Asset): boolean {
  if (asset.org === sensor.org) return true
  const attributeTo = sensor.attribute_to
  if (attributeTo === undefined) return false
  let grant = grants.get(attributeTo)
  if (grant === undefined) {
    grant = {
      organisations: new Set(attributeTo.organisations ?? []),
      networks: new NetworkList(attributeTo.networks ?? []),
    }
    grants.set(attributeTo, grant)
  }
  return grant.organisations.has(asset.org) || grant.networks.has(dstIp)
}
