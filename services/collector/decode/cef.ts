import type { SensorEvent } from '../../../schemas/event.js'
import type { Decoded, DecodeContext } from './decoded.js'
import { describe, finish, invalid, originName, truncate } from './record.js'
import { readCefTime, readEpochByMagnitude, readSyslogTime, type RecordTime } from './cef-time.js'

type Category = SensorEvent['category']

const HEADER_FIELDS = 7
const MAX_SIGNATURE = 512

/**
 * Decodes one CEF line, bare or after a syslog header (RFC 3164 or 5424):
 * `CEF:Version|Vendor|Product|Version|Event Class ID|Name|Severity|key=value ...`.
 * A time without a zone is read in the sensor's zone, a time without a year in the year that puts
 * it nearest the receive time, and a record without any time gets its HEC envelope's time, else the
 * receive time. Traffic the device let through and system records are skipped. The mapping is
 * documented in docs/formats.md.
 */
export function decodeCef(record: string, context: DecodeContext): Decoded {
  const start = record.indexOf('CEF:')
  if (start === -1) return invalid('no "CEF:" in the record')
  const header = splitHeader(record.slice(start + 'CEF:'.length))
  if (header === undefined) return invalid(`the CEF header has fewer than ${HEADER_FIELDS} pipe-separated fields`)
  const [version, vendor, product, , classIdText, nameText, severityText] = header.fields
  if (!/^\d+$/.test(version.trim())) return invalid(`CEF version: expected a number, got ${describe(version)}`)
  const ext = parseExtension(header.extension)
  const name = nameText.trim()
  // FortiWeb writes `N/A` where it has no class id.
  const classId = /^(?:n\/a|-)$/i.test(classIdText.trim()) ? '' : classIdText.trim()
  const device = `${vendor.trim()}|${product.trim()}`.toLowerCase()
  const own = vendorSignature(device, name, ext)
  const category = categoryOf([ext.get('cat'), own?.signature, name, classId])
  const notAttack = own === undefined && category === 'other' ? notAnAttack(device, name, ext) : undefined
  if (notAttack !== undefined) return { kind: 'skipped', reason: notAttack }
  const severity = severityOf(severityText, ext)
  if (severity === undefined)
    return invalid(`CEF severity: expected 0 to 10 or ${SEVERITY_WORD_LIST}, got ${describe(severityText)}`)
  const time = eventTime(ext, record.slice(0, start), context)
  if (!time.ok) return invalid(time.reason)
  const signature = own?.signature ?? (name || ext.get('msg') || '')
  return finish(
    {
      occurred_at: time.value,
      category,
      severity,
      signature: truncate(signature, MAX_SIGNATURE),
      signature_id: own?.id ?? (classId || undefined),
      mitre_technique: mitreOf(ext),
      src_ip: ext.get('src') ?? ext.get('c6a2'),
      src_port: integer(ext.get('spt')),
      dst_ip: ext.get('dst') ?? ext.get('c6a3'),
      dst_port: integer(ext.get('dpt')),
      protocol: protocolOf(ext.get('proto')),
      count: integer(ext.get('cnt')),
      device: originName(ext.get('dvchost') ?? ext.get('deviceExternalId')),
    },
    time.source,
  )
}

/** The seven header fields, `\|` and `\\` unescaped, and the extension after the seventh pipe. */
function splitHeader(text: string): { fields: string[]; extension: string } | undefined {
  const fields: string[] = []
  let field = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\\' && (text[i + 1] === '|' || text[i + 1] === '\\')) {
      field += text[++i]
    } else if (c === '|') {
      fields.push(field)
      field = ''
      if (fields.length === HEADER_FIELDS) return { fields, extension: text.slice(i + 1) }
    } else {
      field += c
    }
  }
  // Some producers end the header at the severity, without the pipe before an empty extension.
  if (fields.length === HEADER_FIELDS - 1 && field.trim() !== '') return { fields: [...fields, field], extension: '' }
  return undefined
}

/**
 * The specification's full key names, for producers that write them instead of the short ones
 * (only those read here).
 */
const FULL_NAMES = new Map([
  ['deviceReceiptTime', 'rt'],
  ['startTime', 'start'],
  ['endTime', 'end'],
  ['deviceTimeZone', 'dtz'],
  ['sourceAddress', 'src'],
  ['destinationAddress', 'dst'],
  ['sourcePort', 'spt'],
  ['destinationPort', 'dpt'],
  ['transportProtocol', 'proto'],
  ['baseEventCount', 'cnt'],
  ['deviceEventCategory', 'cat'],
  ['message', 'msg'],
  ['deviceHostName', 'dvchost'],
  ...[1, 2, 3, 4, 5, 6].flatMap((n) => [
    [`deviceCustomString${n}`, `cs${n}`],
    [`deviceCustomString${n}Label`, `cs${n}Label`],
  ]),
] as [string, string][])

/**
 * A key is the word between the last space (or tab) and an unescaped `=`; its value runs to the
 * space before the next key, so values may hold spaces. A Map: keys are the sender's to choose.
 */
const EXTENSION_KEY = /(?:^|[ \t])([A-Za-z0-9_.[\]-]+)=/g

function parseExtension(text: string): Map<string, string> {
  const fields = new Map<string, string>()
  const keys = [...text.matchAll(EXTENSION_KEY)]
  keys.forEach((match, i) => {
    const end = keys[i + 1]?.index ?? text.length
    const value = unescapeValue(text.slice(match.index + match[0].length, end).trim())
    // An empty value says nothing; dropping it lets the fallbacks (c6a2, the syslog time) apply.
    if (value !== '') fields.set(FULL_NAMES.get(match[1]) ?? match[1], value)
  })
  return fields
}

function unescapeValue(text: string): string {
  return text.replace(/\\([\\=nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c))
}

/**
 * The event time: the record's own (`rt`, else `end`, else `start`, else FortiGate's
 * `FTNTFGTeventtime`), else the syslog header's, else the HEC envelope's, else the receive time. A
 * record's own time without a zone is read in its `dtz` when it names one, else in the sensor's
 * zone; a header time without a zone in the sensor's zone.
 */
function eventTime(ext: Map<string, string>, syslogHeader: string, arrival: DecodeContext): RecordTime {
  const key = ['rt', 'end', 'start'].find((k) => ext.has(k))
  if (key !== undefined) {
    const dtz = ext.get('dtz')
    const time = readCefTime(ext.get(key) ?? '', arrival, dtz)
    return time.ok ? time : { ...time, reason: `${key}: ${time.reason}` }
  }
  return (
    readEpochByMagnitude(ext.get('FTNTFGTeventtime')) ??
    readSyslogTime(syslogHeader, arrival) ??
    (arrival.envelopeTime === undefined
      ? { ok: true, value: arrival.receivedAt.toISOString(), source: 'received' }
      : { ok: true, value: arrival.envelopeTime.toISOString(), source: 'envelope' })
  )
}

/**
 * Severity words on the canonical 1-4 scale: the standard's (Unknown, Low, Medium, High,
 * Very-High) and the syslog and vendor levels devices write in their place (FortiWeb `Critical`,
 * FortiGate `critical`, Check Point `Very-High`).
 */
const SEVERITY_WORDS = new Map([
  ['unknown', 1],
  ['low', 1],
  ['debug', 1],
  ['info', 1],
  ['information', 1],
  ['informational', 1],
  ['notice', 1],
  ['medium', 2],
  ['warning', 2],
  ['high', 3],
  ['error', 3],
  ['very-high', 4],
  ['very high', 4],
  ['critical', 4],
  ['alert', 4],
  ['emergency', 4],
])

const SEVERITY_WORD_LIST =
  'Unknown, Low, Medium, High, Very-High (or Informational, Notice, Warning, Error, Critical, Alert, Emergency)'

/** Where vendors put their own severity when the header says Unknown: Check Point, FortiGate. */
const VENDOR_SEVERITY_KEYS = ['cp_severity', 'FTNTFGTseverity']

/**
 * The header's Severity; when it says Unknown, a vendor's own severity key may say more. CEF's
 * 0-10 in the bands the standard names: 0-3 low, 4-6 medium, 7-8 high, 9-10 very high.
 */
function severityOf(text: string, ext: Map<string, string>): number | undefined {
  const header = severityText(text)
  if (text.trim().toLowerCase() !== 'unknown') return header
  for (const key of VENDOR_SEVERITY_KEYS) {
    const vendor = severityText(ext.get(key) ?? '')
    if (vendor !== undefined) return vendor
  }
  return header
}

function severityText(text: string): number | undefined {
  const trimmed = text.trim()
  if (!/^\d{1,2}$/.test(trimmed)) return SEVERITY_WORDS.get(trimmed.toLowerCase())
  const value = Number(trimmed)
  if (value > 10) return undefined
  return value <= 3 ? 1 : value <= 6 ? 2 : value <= 8 ? 3 : 4
}

/**
 * Products whose Name is a log type rather than the attack: their attack's own name and number
 * are in extension keys of their own.
 */
function vendorSignature(
  product: string,
  name: string,
  ext: Map<string, string>,
): { signature: string; id: string | undefined } | undefined {
  if (product === 'palo alto networks|pan-os' && name.toUpperCase() === 'THREAT') {
    // `cat` holds the threat's name and its id: `Apache Log4j Remote Code Execution Vulnerability(91991)`.
    const threat = ext.get('cat')
    if (threat === undefined) return undefined
    return { signature: threat, id: /\((\d{1,12})\)$/.exec(threat)?.[1] }
  }
  if (product === 'fortinet|fortigate') {
    const attack = ext.get('FTNTFGTattack') ?? ext.get('FTNTFGTvirus')
    if (attack === undefined) return undefined
    return { signature: attack, id: ext.get('FTNTFGTattackid') ?? ext.get('FTNTFGTvirusid') }
  }
  return undefined
}

/** What a device says it did with traffic it let through: `act` (or `outcome`) in these words. */
const LET_THROUGH = /^(?:allow(?:ed)?|accept(?:ed)?|pass(?:ed)?|permit(?:ted)?|close[d]?|bypass(?:ed)?)$/i

/**
 * Log types that are not attack detections, by product: where to read the type and which values
 * say so. A short table on purpose: an unknown type is decoded, never skipped.
 */
const NOT_ATTACK_TYPES: ReadonlyArray<{
  device: RegExp
  /** The type's value and the values that are not attacks; without them the product alone decides. */
  type?: (name: string, ext: Map<string, string>) => string | undefined
  is?: RegExp
  says: string
}> = [
  {
    // FortiGate's `cat` (else the Name, `event:vpn negotiate success`) is the log type:subtype.
    device: /^fortinet\|fortigate$/,
    type: (name, ext) => ext.get('cat') ?? name,
    is: /^(?:traffic:|event:(?:system|vpn|user)\b)/i,
    says: 'a FortiGate traffic or system log',
  },
  {
    // Barracuda WAF: TR access logs, SYS system logs, AUDIT administrator actions.
    device: /^barracuda/,
    type: (_, ext) => ext.get('cat'),
    is: /^(?:TR|SYS|AUDIT)$/i,
    says: 'a Barracuda access, system or audit log',
  },
  {
    device: /^check point\|(?:smartconsole|identity awareness)$/,
    says: 'a Check Point administration or identity log',
  },
  {
    device: /^forcepoint\|/,
    type: (_, ext) => ext.get('deviceFacility'),
    is: /^(?:logging system|log server|management|system utilities|license|cluster daemon|cluster protocol|state synchronization|data synchronization)$/i,
    says: "a Forcepoint engine's own system event",
  },
  {
    // The manager writes system and audit events; detections come from the agents.
    device: /^trend micro\|deep security manager$/,
    says: 'a Deep Security Manager system or audit event',
  },
  {
    // ArcSight connectors say how significant a record is: /Normal and /Informational are not attacks.
    device: /./,
    type: (_, ext) => ext.get('categorySignificance'),
    is: /^\/(?:Normal|Informational)(?:\/|$)/i,
    says: 'classed by its connector as not significant',
  },
]

/**
 * Why a record that names no attack is not one, or undefined: the device let the traffic through
 * (`act` or `outcome` allow, accept, pass, permit, close, bypass), or the product's log type is
 * traffic, system or audit (NOT_ATTACK_TYPES). Only asked of a record whose category is `other`.
 */
function notAnAttack(device: string, name: string, ext: Map<string, string>): string | undefined {
  for (const key of ['act', 'outcome']) {
    const action = ext.get(key)
    if (action !== undefined && LET_THROUGH.test(action))
      return `${key}=${describe(action)}: traffic the device let through, not an attack`
  }
  for (const { device: pattern, type, is, says } of NOT_ATTACK_TYPES) {
    if (!pattern.test(device)) continue
    if (type === undefined || is === undefined) return `${says}, not an attack`
    const value = type(name, ext)
    if (value !== undefined && is.test(value)) return `${says} (${describe(value)}), not an attack`
  }
  return undefined
}

/**
 * Vendors' category texts vary (`/Attack/Scan`, `Brute Force`, `utm:ips`): each text (cat, the
 * attack's name, the Name, the class id) is tried against these patterns, the first match wins.
 */
const CATEGORY_PATTERNS: ReadonlyArray<readonly [RegExp, Category]> = [
  [/\b(?:botnet|c2|cnc|c&c)\b|command[\s_-]*and[\s_-]*control/, 'botnet_c2'],
  [/malware|virus|trojan|ransom|worm|spyware|backdoor/, 'malware'],
  [/phish/, 'phishing'],
  [/\bd?dos\b|denial[\s_-]*of[\s_-]*service|flood/, 'ddos'],
  // A blocked URL or application is the operator's policy, not an attack on a web server.
  [
    /policy|web[\s_-]*filter|url[\s_-]*filter|app[\s_-]*ctrl|application[\s_-]*control|\bdlp\b|allow[\s_-]*(?:only[\s_-]*)?list|white[\s_-]*list/,
    'policy_violation',
  ],
  // Citrix NetScaler's application firewall (APPFW_SQL, APPFW_XSS, APPFW_STARTURL...).
  [/\bweb|\bsql|\bxss\b|\bappfw/, 'web_attack'],
  [/brute|password[\s_-]*guess/, 'bruteforce'],
  [/exploit|overflow|privilege|injection|shellcode|remote[\s._-]*code[\s._-]*execution|\brce\b|\bcve-\d{4}/, 'exploit'],
  // A source on a block list is known for probing and attacking (as Suricata's CINS and DROP lists).
  [/scan|recon|probe|sweep|black[\s_-]*list|block[\s_-]*list|deny[\s_-]*list|reputation/, 'scan'],
]

/** Words that say only "an intrusion of some kind": used when no text says more. */
const INTRUSION = /\bips\b|intrusion|vulnerab|\battack/

function categoryOf(texts: readonly (string | undefined)[]): Category {
  const lower = texts.flatMap((text) => (text === undefined || text === '' ? [] : [text.toLowerCase()]))
  for (const text of lower) {
    const found = CATEGORY_PATTERNS.find(([pattern]) => pattern.test(text))
    if (found !== undefined) return found[1]
  }
  return lower.some((text) => INTRUSION.test(text)) ? 'exploit' : 'other'
}

const MITRE_LABEL = /mitre|technique|att&ck/i
const MITRE_TECHNIQUE = /^(T\d{4}(?:\.\d{3})?)\b/

/** A MITRE technique from a custom string labelled as one (`cs3Label=MITRE Technique cs3=T1190`). */
function mitreOf(ext: Map<string, string>): string | undefined {
  for (let n = 1; n <= 6; n++) {
    const label = ext.get(`cs${n}Label`)
    if (label === undefined || !MITRE_LABEL.test(label)) continue
    const id = MITRE_TECHNIQUE.exec(ext.get(`cs${n}`) ?? '')?.[1]
    if (id !== undefined) return id
  }
  return undefined
}

/** IANA protocol numbers that firewalls write for `proto` (FortiGate, Forcepoint: `proto=6`). */
const PROTOCOL_NUMBERS = new Map([
  ['1', 'icmp'],
  ['2', 'igmp'],
  ['6', 'tcp'],
  ['17', 'udp'],
  ['47', 'gre'],
  ['50', 'esp'],
  ['51', 'ah'],
  ['58', 'ipv6-icmp'],
  ['132', 'sctp'],
])

function protocolOf(text: string | undefined): string | undefined {
  return text === undefined ? undefined : (PROTOCOL_NUMBERS.get(text) ?? text.toLowerCase())
}

/** Digits become a number for the schema to range-check; anything else is passed on for it to refuse. */
function integer(text: string | undefined): number | string | undefined {
  return text !== undefined && /^\d{1,9}$/.test(text) ? Number(text) : text
}
