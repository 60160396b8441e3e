import type { CanonicalEvent, SensorEvent } from '../schemas/event.js'

/**
 * A seeded mix of attack events as Kazakh sensors report them: categories, severities, signatures
 * and ports that go together, public sources from all over the address space (so the country
 * lookup does real work), and targets spread over the sectors and regions of bench/assets.json.
 * Same seed, same events; only the times move with the clock, so the worker never drops them as
 * too old. The idea is test/helpers/events.ts's; bench/ does not import from test/.
 */

/** Park-Miller, as in the tests: small, seedable, good enough for a workload mix. */
export class Random {
  private state: number
  constructor(seed: number) {
    this.state = (Math.abs(Math.floor(seed)) % 2147483646) + 1
  }
  next(): number {
    this.state = (this.state * 48271) % 2147483647
    return this.state
  }
  int(n: number): number {
    return this.next() % n
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }
  /** Picks by weight: [[value, weight], ...]. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((sum, [, weight]) => sum + weight, 0)
    let roll = this.int(total)
    for (const [value, weight] of items) {
      if (roll < weight) return value
      roll -= weight
    }
    return (items[0] as readonly [T, number])[0]
  }
}

type Category = SensorEvent['category']

interface Kind {
  category: Category
  weight: number
  severities: readonly (readonly [number, number])[]
  signatures: readonly (readonly [string, string, string | undefined])[]
  ports: readonly number[]
  protocol: string
}

// Weights follow what national CERT dashboards show: scans and brute force dominate, exploits and
// malware are rarer and more severe.
const KINDS: readonly Kind[] = [
  {
    category: 'scan',
    weight: 38,
    severities: [
      [1, 6],
      [2, 3],
      [3, 1],
    ],
    protocol: 'tcp',
    ports: [22, 23, 80, 443, 445, 3389, 8080, 5900, 1433, 3306],
    signatures: [
      ['ET SCAN Nmap Scripting Engine User-Agent Detected', '2009358', 'T1046'],
      ['ET SCAN Suspicious inbound to MSSQL port 1433', '2010935', 'T1046'],
      ['ET SCAN Potential VNC Scan 5900-5920', '2002911', 'T1046'],
      ['ET SCAN Zmap User-Agent (Inbound)', '2036330', 'T1595.001'],
      ['Masscan SYN sweep', '9000101', 'T1595.001'],
    ],
  },
  {
    category: 'bruteforce',
    weight: 24,
    severities: [
      [2, 5],
      [3, 3],
      [4, 1],
    ],
    protocol: 'tcp',
    ports: [22, 23, 3389, 21, 25, 110, 143, 5432],
    signatures: [
      ['SSH login brute force', '4000001', 'T1110.001'],
      ['ET SCAN Potential SSH Scan', '2001219', 'T1110'],
      ['RDP password spraying', '4000017', 'T1110.003'],
      ['cowrie.login.failed', '6000002', 'T1110.001'],
    ],
  },
  {
    category: 'web_attack',
    weight: 12,
    severities: [
      [2, 3],
      [3, 4],
      [4, 1],
    ],
    protocol: 'tcp',
    ports: [80, 443, 8080, 8443],
    signatures: [
      ['ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT', '2006446', 'T1190'],
      ['ET WEB_SERVER Script tag in URI Possible Cross Site Scripting Attempt', '2009714', 'T1190'],
      ['WAF: path traversal ../../etc/passwd', '7000031', 'T1083'],
      ['ET WEB_SPECIFIC_APPS Bitrix24 RCE attempt', '2049120', 'T1190'],
    ],
  },
  {
    category: 'exploit',
    weight: 8,
    severities: [
      [3, 3],
      [4, 2],
    ],
    protocol: 'tcp',
    ports: [80, 443, 445, 8443, 7001, 9200],
    signatures: [
      ['ET EXPLOIT Apache log4j RCE Attempt (CVE-2021-44228)', '2034647', 'T1190'],
      ['ET EXPLOIT Possible EternalBlue MS17-010 Echo Request', '2024218', 'T1210'],
      ['ET EXPLOIT Fortinet FortiOS SSL-VPN path traversal (CVE-2018-13379)', '2027870', 'T1190'],
      ['ET EXPLOIT Ivanti Connect Secure auth bypass (CVE-2023-46805)', '2050177', 'T1190'],
    ],
  },
  {
    category: 'malware',
    weight: 5,
    severities: [
      [3, 2],
      [4, 1],
    ],
    protocol: 'tcp',
    ports: [443, 80, 8080, 4444],
    signatures: [
      ['ET MALWARE Win32/Emotet CnC Activity', '2035886', 'T1071.001'],
      ['EDR: Mimikatz credential dumping', '8000012', 'T1003.001'],
      ['ET MALWARE AgentTesla Exfil via SMTP', '2030171', 'T1048.003'],
    ],
  },
  {
    category: 'ddos',
    weight: 6,
    severities: [
      [2, 2],
      [3, 2],
      [4, 1],
    ],
    protocol: 'udp',
    ports: [53, 123, 1900, 11211, 80, 443],
    signatures: [
      ['DNS amplification flood', '5000001', 'T1498.002'],
      ['NTP monlist reflection', '5000004', 'T1498.002'],
      ['SYN flood above threshold', '5000010', 'T1498.001'],
    ],
  },
  {
    category: 'botnet_c2',
    weight: 3,
    severities: [
      [3, 2],
      [4, 1],
    ],
    protocol: 'tcp',
    ports: [443, 6667, 8443, 1604],
    signatures: [
      ['ET MALWARE Mirai Variant CnC Beacon', '2030490', 'T1071'],
      ['ET CNC Feodo Tracker Reported CnC Server', '2404001', 'T1071.001'],
    ],
  },
  {
    category: 'phishing',
    weight: 2,
    severities: [
      [2, 2],
      [3, 1],
    ],
    protocol: 'tcp',
    ports: [25, 587, 443],
    signatures: [
      ['ET PHISHING egov.kz credential phish landing', '2051002', 'T1566.002'],
      ['ET PHISHING Kaspi bank lookalike domain', '2051009', 'T1566.002'],
    ],
  },
  {
    category: 'policy_violation',
    weight: 1,
    severities: [
      [1, 3],
      [2, 1],
    ],
    protocol: 'tcp',
    ports: [6881, 9001, 1194],
    signatures: [
      ['ET POLICY Tor relay traffic', '2522000', undefined],
      ['ET P2P BitTorrent peer sync', '2008581', undefined],
    ],
  },
  {
    category: 'other',
    weight: 1,
    severities: [
      [1, 3],
      [2, 1],
    ],
    protocol: 'icmp',
    ports: [0],
    signatures: [['ICMP sweep', '9000400', 'T1018']],
  },
]

// The same /24s that bench/assets.json maps to organisations, sectors and regions; the rest of
// the targets fall back to the sensor's registration (the token's sector and region).
export const ASSET_NETS: readonly (readonly [string, string, string, string])[] = [
  ['198.18.1', 'Electronic Government Data Center', 'government', 'KZ-71'],
  ['198.18.2', 'Ministry of Digital Development', 'government', 'KZ-71'],
  ['198.18.3', 'Akimat of Shymkent', 'government', 'KZ-79'],
  ['198.18.4', 'National Bank Processing Center', 'finance', 'KZ-75'],
  ['198.18.5', 'Regional Bank Karaganda', 'finance', 'KZ-35'],
  ['198.18.6', 'Atyrau Refinery', 'energy', 'KZ-23'],
  ['198.18.7', 'Pavlodar Power Grid', 'energy', 'KZ-55'],
  ['198.18.8', 'Ekibastuz GRES', 'energy', 'KZ-55'],
  ['198.18.9', 'Kazakhtelecom Backbone Aktobe', 'telecom', 'KZ-15'],
  ['198.18.10', 'Mobile Operator Almaty', 'telecom', 'KZ-75'],
  ['198.18.11', 'Rail Dispatch Kostanay', 'transport', 'KZ-39'],
  ['198.18.12', 'Aktau Sea Port', 'transport', 'KZ-47'],
  ['198.18.13', 'City Hospital Ust-Kamenogorsk', 'healthcare', 'KZ-63'],
  ['198.18.14', 'Regional Clinic Kyzylorda', 'healthcare', 'KZ-43'],
  ['198.18.15', 'State University Karaganda', 'education', 'KZ-35'],
  ['198.18.16', 'Nazarbayev Schools Turkistan', 'education', 'KZ-61'],
  ['198.18.17', 'Water Utility Taraz', 'water', 'KZ-31'],
  ['198.18.18', 'Steel Works Temirtau', 'industry', 'KZ-35'],
  ['198.18.19', 'Copper Mine Zhezkazgan', 'mining', 'KZ-62'],
  ['198.18.20', 'Uranium Mine South', 'mining', 'KZ-61'],
  ['198.18.21', 'Grain Terminal Petropavl', 'agriculture_food', 'KZ-59'],
  ['198.18.22', 'National Data Center Kokshetau', 'digital_infrastructure', 'KZ-11'],
  ['198.18.23', 'TV Broadcaster Oral', 'media', 'KZ-27'],
  ['198.18.24', 'Research Institute Semey', 'research', 'KZ-10'],
  ['198.18.25', 'Agro Holding Taldykorgan', 'agriculture_food', 'KZ-33'],
  ['198.18.26', 'Regional Akimat Konaev', 'government', 'KZ-19'],
]

/** The asset registry that goes with ASSET_NETS, in the shape of QALQAN_ASSETS_FILE. */
export function assetRegistry(): { assets: { cidr: string; org: string; sector: string; region: string }[] } {
  return { assets: ASSET_NETS.map(([net, org, sector, region]) => ({ cidr: `${net}.0/24`, org, sector, region })) }
}

// Sources: mostly public IPv4 anywhere (the country database then sees the whole world), some
// IPv6, and a few private addresses (misrouted internal scans, which get no country).
function sourceIp(random: Random): string {
  const roll = random.int(100)
  if (roll < 3) return `10.${random.int(256)}.${random.int(256)}.${1 + random.int(254)}`
  if (roll < 8)
    return `2a0${random.int(10)}:${random.int(65536).toString(16)}:${random.int(65536).toString(16)}::${(1 + random.int(65535)).toString(16)}`
  for (;;) {
    const a = 1 + random.int(223)
    if (a === 10 || a === 127 || a === 100 || a === 169 || a === 172 || a === 192 || a === 198) continue
    return `${a}.${random.int(256)}.${random.int(256)}.${1 + random.int(254)}`
  }
}

function targetIp(random: Random): string {
  // Three in four targets are registered assets; the rest are placed by the sensor's registration.
  if (random.int(4) < 3) return `${random.pick(ASSET_NETS)[0]}.${1 + random.int(254)}`
  return `203.0.113.${1 + random.int(254)}`
}

const OFFSETS = ['Z', '+05:00', '+06:00'] as const

function isoWithOffset(ms: number, offset: (typeof OFFSETS)[number]): string {
  if (offset === 'Z') return new Date(ms).toISOString()
  const hours = Number(offset.slice(1, 3))
  return `${new Date(ms + hours * 3_600_000).toISOString().slice(0, -1)}${offset}`
}

/**
 * Sensor events as a sensor would POST them to /v1/events (no event_id: the collector assigns
 * one, so a body sent again is new events, as in real traffic), dated within `spreadMs` before `now`.
 */
export function sensorEvents(count: number, seed: number, now = Date.now(), spreadMs = 120_000): SensorEvent[] {
  const random = new Random(seed)
  const weights = KINDS.map((kind) => [kind, kind.weight] as const)
  return Array.from({ length: count }, () => {
    const kind = random.weighted(weights)
    const [signature, signatureId, technique] = random.pick(kind.signatures)
    const event: SensorEvent = {
      occurred_at: isoWithOffset(now - random.int(spreadMs), random.pick(OFFSETS)),
      category: kind.category,
      severity: random.weighted(kind.severities),
      signature,
      signature_id: signatureId,
      src_ip: sourceIp(random),
      src_port: 1024 + random.int(64_000),
      dst_ip: targetIp(random),
      dst_port: random.pick(kind.ports),
      protocol: kind.protocol,
      count: random.int(10) === 0 ? 2 + random.int(50) : 1,
    }
    if (technique !== undefined) event.mitre_technique = technique
    return event
  })
}

const SENSORS = [
  ['kz-ids-astana-egov-01', 'ids'],
  ['kz-hp-almaty-01', 'honeypot'],
  ['kz-fw-atyrau-01', 'firewall'],
  ['kz-waf-karaganda-01', 'waf'],
  ['kz-edr-shymkent-01', 'edr'],
] as const
const COUNTRIES = ['CN', 'RU', 'US', 'NL', 'DE', 'KZ', 'IR', 'BR', 'IN', 'VN', 'UA', 'TR', '', ''] as const

let uuidCounter = 0
/** A v4-shaped UUID from the seeded stream plus a counter, so ids never repeat within a run. */
function seededUuid(random: Random): string {
  uuidCounter++
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0').slice(-width)
  return `${hex(random.next(), 8)}-${hex(random.int(65536), 4)}-4${hex(random.int(4096), 3)}-${hex(0x8000 + random.int(0x4000), 4)}-${hex(uuidCounter, 6)}${hex(random.int(65536), 6)}`
}

/** Canonical events as the collector writes them to Kafka, for the worker case. */
export function canonicalEvents(count: number, seed: number, now = Date.now(), spreadMs = 600_000): CanonicalEvent[] {
  const random = new Random(seed)
  return sensorEvents(count, seed + 1, now, spreadMs).map((input) => {
    const [sensorId, sensorType] = random.pick(SENSORS)
    const asset = ASSET_NETS.find(([net]) => input.dst_ip?.startsWith(`${net}.`)) ?? [
      '',
      'Unregistered Target',
      'unknown',
      'KZ-71',
    ]
    const occurred = Date.parse(input.occurred_at)
    const event: CanonicalEvent = {
      v: 1,
      event_id: seededUuid(random),
      occurred_at: new Date(occurred).toISOString(),
      received_at: new Date(occurred + random.int(5_000)).toISOString(),
      sensor_id: sensorId,
      sensor_type: sensorType,
      category: input.category,
      severity: input.severity,
      signature: input.signature,
      signature_id: input.signature_id,
      mitre_technique: input.mitre_technique,
      src_ip: input.src_ip,
      src_port: input.src_port,
      dst_ip: input.dst_ip,
      dst_port: input.dst_port,
      protocol: input.protocol,
      src_country: input.src_ip.startsWith('10.') ? '' : random.pick(COUNTRIES),
      src_scope: input.src_ip.startsWith('10.') ? 'private' : 'public',
      org: asset[1],
      sector: asset[2] as CanonicalEvent['sector'],
      region: asset[3] as CanonicalEvent['region'],
      count: input.count,
    }
    return event
  })
}
