import type { SensorEvent } from '../../../schemas/event.js'
import type { Arrival, Decoded, DecodeContext } from './decoded.js'
import {
  describe,
  eventTime,
  finish,
  invalid,
  isObject,
  originName,
  parseObject,
  truncate,
  type JsonObject,
} from './record.js'

type Category = SensorEvent['category']

const MAX_SIGNATURE = 512

/**
 * Decodes one Suricata EVE JSON line. Alerts and anomalies become events; flow, dns, http, tls,
 * stats, fileinfo and every other event type describe traffic, not attacks, and are skipped.
 * The mapping is documented in docs/formats.md.
 */
export function decodeSuricata(record: string, context: DecodeContext): Decoded {
  const parsed = parseObject(record, context)
  if (!parsed.ok) return invalid(parsed.reason)
  const eve = parsed.value
  if (eve.event_type === 'alert') return fromAlert(eve, context)
  if (eve.event_type === 'anomaly') return fromAnomaly(eve, context)
  if (typeof eve.event_type !== 'string' || eve.event_type === '') return invalid('event_type: missing or not a string')
  return { kind: 'skipped', reason: `event_type ${describe(eve.event_type)} is not an alert or an anomaly` }
}

function fromAlert(eve: JsonObject, arrival: Arrival): Decoded {
  const { alert } = eve
  if (!isObject(alert)) return invalid('alert: missing or not an object')
  const time = eventTime(eve.timestamp, arrival)
  if (!time.ok) return invalid(time.reason)
  const severity = severityOf(alert.severity)
  if (severity === undefined)
    return invalid(`alert.severity: expected an integer from 1 (highest), got ${describe(alert.severity)}`)
  const { signature } = alert
  return finish(
    {
      occurred_at: time.value,
      category: categoryOf(signature, alert.category),
      severity,
      signature: typeof signature === 'string' ? truncate(signature, MAX_SIGNATURE) : signature,
      signature_id: Number.isSafeInteger(alert.signature_id) ? String(alert.signature_id) : alert.signature_id,
      mitre_technique: mitreOf(alert.metadata),
      ...endpoints(eve, alert),
      protocol: lowerCase(eve.proto),
      // EVE writes `host`, the sensor's name, when suricata.yaml sets `sensor-name`.
      device: originName(eve.host),
    },
    'event',
  )
}

/** Protocol anomalies (malformed packets, app-layer mismatches) have no rule: low severity, category other. */
function fromAnomaly(eve: JsonObject, arrival: Arrival): Decoded {
  const { anomaly } = eve
  if (!isObject(anomaly)) return invalid('anomaly: missing or not an object')
  const time = eventTime(eve.timestamp, arrival)
  if (!time.ok) return invalid(time.reason)
  const parts = [anomaly.type, anomaly.event].filter((part) => typeof part === 'string' && part !== '')
  return finish(
    {
      occurred_at: time.value,
      category: 'other',
      severity: 1,
      signature: truncate(parts.length === 0 ? 'anomaly' : `anomaly: ${parts.join(' ')}`, MAX_SIGNATURE),
      ...endpoints(eve),
      protocol: lowerCase(eve.proto),
      device: originName(eve.host),
    },
    'event',
  )
}

/** Suricata's priority runs the other way: 1 is the highest. */
function severityOf(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) return undefined
  return Math.max(1, 5 - value)
}

/** The ruleset's own category word (`ET SCAN ...`) says most; else the rule's classtype; else other. */
const CATEGORY_BY_RULE_GROUP = new Map<string, Category>([
  ['SCAN', 'scan'],
  // Reputation lists: traffic from addresses known to probe and attack.
  ['CINS', 'scan'],
  ['DROP', 'scan'],
  ['DSHIELD', 'scan'],
  ['COMPROMISED', 'scan'],
  ['EXPLOIT', 'exploit'],
  ['SHELLCODE', 'exploit'],
  // A victim's reply that shows an attack worked (`id check returned root`).
  ['ATTACK_RESPONSE', 'exploit'],
  ['MALWARE', 'malware'],
  ['TROJAN', 'malware'],
  ['MOBILE_MALWARE', 'malware'],
  ['WORM', 'malware'],
  ['CNC', 'botnet_c2'],
  ['BOTCC', 'botnet_c2'],
  ['WEB_SERVER', 'web_attack'],
  ['WEB_SPECIFIC_APPS', 'web_attack'],
  ['WEB_CLIENT', 'web_attack'],
  ['DOS', 'ddos'],
  ['PHISHING', 'phishing'],
  ['POLICY', 'policy_violation'],
])

/** Classtype descriptions (Suricata's classification.config), lower-cased. */
const CATEGORY_BY_CLASSTYPE = new Map<string, Category>([
  ['attempted information leak', 'scan'],
  ['detection of a network scan', 'scan'],
  ['attempted administrator privilege gain', 'exploit'],
  ['attempted user privilege gain', 'exploit'],
  ['successful administrator privilege gain', 'exploit'],
  ['successful user privilege gain', 'exploit'],
  ['executable code was detected', 'exploit'],
  ['exploit kit activity detected', 'exploit'],
  ['web application attack', 'web_attack'],
  // A trojan is malware on the host; command and control is the botnet's channel.
  ['a network trojan was detected', 'malware'],
  ['malware command and control activity detected', 'botnet_c2'],
  ['domain observed used for c2 detected', 'botnet_c2'],
  ['detection of a denial of service attack', 'ddos'],
  ['attempted denial of service', 'ddos'],
  ['denial of service', 'ddos'],
  ['successful credential theft detected', 'phishing'],
  ['attempt to login by a default username and password', 'bruteforce'],
  ['an attempted login using a suspicious username was detected', 'bruteforce'],
  ['potential corporate privacy violation', 'policy_violation'],
])

const RULE_GROUP = /^(?:ET|ETPRO|GPL) ([A-Z0-9_]+)(?: |$)/

function categoryOf(signature: unknown, classtype: unknown): Category {
  const group = typeof signature === 'string' ? RULE_GROUP.exec(signature)?.[1] : undefined
  const byGroup = group === undefined ? undefined : CATEGORY_BY_RULE_GROUP.get(group)
  if (byGroup !== undefined) return byGroup
  return (
    (typeof classtype === 'string' ? CATEGORY_BY_CLASSTYPE.get(classtype.trim().toLowerCase()) : undefined) ?? 'other'
  )
}

const MITRE_TECHNIQUE = /^T\d{4}(\.\d{3})?$/

function mitreOf(metadata: unknown): string | undefined {
  const ids = isObject(metadata) ? metadata.mitre_technique_id : undefined
  const first: unknown = Array.isArray(ids) ? ids[0] : undefined
  return typeof first === 'string' && MITRE_TECHNIQUE.test(first) ? first : undefined
}

/**
 * The packet's source is the attacker, unless the rule used the `target` keyword: then Suricata
 * names the attacker in alert.source (an alert on a victim's reply has the victim as src_ip).
 */
function endpoints(eve: JsonObject, alert: JsonObject = {}): JsonObject {
  const { source, target } = alert
  if (isObject(source) && isObject(target) && source.ip !== undefined) {
    return { src_ip: source.ip, src_port: source.port, dst_ip: target.ip, dst_port: target.port }
  }
  return { src_ip: eve.src_ip, src_port: eve.src_port, dst_ip: eve.dest_ip, dst_port: eve.dest_port }
}

function lowerCase(value: unknown): unknown {
  return typeof value === 'string' ? value.toLowerCase() : value
}
