import { isIP } from 'node:net'
import { z } from 'zod'
import { REGION_CODES } from './regions.js'
import { SECTORS } from './sectors.js'

export const CATEGORIES = [
  'scan',
  'bruteforce',
  'exploit',
  'malware',
  'ddos',
  'web_attack',
  'botnet_c2',
  'phishing',
  'policy_violation',
  'other',
] as const

export const SENSOR_TYPES = ['ids', 'honeypot', 'firewall', 'waf', 'edr', 'other'] as const

/**
 * Where an event's occurred_at came from: the record's own time (`event`), its syslog header
 * (`header`), the HEC envelope's `time` (`envelope`), or, when the record carried no time at all,
 * the time the collector received it (`received`).
 */
export const TIME_SOURCES = ['event', 'header', 'envelope', 'received'] as const

export type TimeSource = (typeof TIME_SOURCES)[number]

/** What kind of address the source is: only public addresses get a country. */
export const ADDRESS_SCOPES = ['public', 'private', 'loopback', 'link_local', 'multicast', 'reserved'] as const

export const NOT_WELL_FORMED = 'not well-formed Unicode (a lone surrogate)'

/** Event time must carry its offset: a time without one is ambiguous across Kazakhstan's zones. */
const timestamp = z.iso.datetime({ offset: true })
const ip = z
  .string()
  .max(45)
  .refine((value) => isIP(value) !== 0, { error: 'must be an IPv4 or IPv6 address' })
const port = z.int().min(0).max(65535)
/**
 * A string that is well-formed Unicode. A JSON escape can hold half a surrogate pair (`\ud800`),
 * which ClickHouse refuses for the whole insert; refused here, per event, naming the field.
 */
const unicode = () => z.string().refine((value) => value.isWellFormed(), { error: NOT_WELL_FORMED })
const text = (max: number) => unicode().min(1).max(max)

/** The longest name of a device or log source; a decoder cuts a longer one (truncate in decode/record.ts). */
export const MAX_ORIGIN_NAME = 255
/**
 * Where an event was seen, when the sender knows: the device that saw it (a HEC envelope's `host`,
 * CEF `dvchost`, a Cowrie `sensor`) and the log it came from (a HEC envelope's `source`, a file path
 * or an input name). Neither decides who sent the event: sensor_id comes from the token.
 */
const origin = {
  device: text(MAX_ORIGIN_NAME)
    .optional()
    .meta({ description: 'the name of the device that saw the event (a host name, a sensor name)' }),
  log_source: text(MAX_ORIGIN_NAME)
    .optional()
    .meta({ description: 'the log the event came from on that device: a file path or an input name' }),
}

/** What a sensor may say about one event on POST /v1/events. Who and where come from the registries. */
export const SensorEvent = z.strictObject({
  event_id: z.uuid().optional(),
  occurred_at: timestamp,
  category: z.enum(CATEGORIES),
  severity: z.int().min(1).max(4),
  signature: text(512),
  signature_id: text(128).optional(),
  mitre_technique: z
    .string()
    .regex(/^T\d{4}(\.\d{3})?$/, { error: 'must look like T1110 or T1110.001' })
    .optional(),
  src_ip: ip,
  src_port: port.optional(),
  dst_ip: ip.optional(),
  dst_port: port.optional(),
  protocol: z
    .string()
    .regex(/^[a-z0-9-]{1,16}$/i, { error: 'must be a protocol name such as tcp, udp or icmp' })
    .optional(),
  count: z.int().min(1).max(1_000_000).default(1),
  ...origin,
})

export type SensorEvent = z.infer<typeof SensorEvent>

/** The canonical event (v1): what the collector writes to Kafka and the worker reads back. */
export const CanonicalEvent = z.strictObject({
  v: z.literal(1),
  event_id: z.uuid(),
  occurred_at: timestamp,
  received_at: timestamp,
  sensor_id: text(128),
  sensor_type: z.enum(SENSOR_TYPES),
  category: z.enum(CATEGORIES),
  severity: z.int().min(1).max(4),
  signature: text(512),
  signature_id: text(128).optional(),
  mitre_technique: z
    .string()
    .regex(/^T\d{4}(\.\d{3})?$/)
    .optional(),
  src_ip: ip,
  src_port: port.optional(),
  dst_ip: ip.optional(),
  dst_port: port.optional(),
  protocol: unicode().max(16).optional(),
  src_country: z
    .string()
    .regex(/^([A-Z]{2})?$/)
    .default(''),
  src_scope: z.enum(ADDRESS_SCOPES).default('public'),
  org: text(256),
  sector: z.enum(SECTORS),
  region: z.enum(REGION_CODES),
  count: z.int().min(1).max(1_000_000),
  // Optional to whoever writes one; an event written before the field existed took its time from the record.
  time_source: z.enum(TIME_SOURCES).default('event').optional(),
  ...origin,
})

export type CanonicalEvent = z.infer<typeof CanonicalEvent>
