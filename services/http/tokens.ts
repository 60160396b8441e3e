import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { SENSOR_TYPES } from '../../schemas/event.js'
import { REGION_CODES } from '../../schemas/regions.js'
import { SECTORS } from '../../schemas/sectors.js'
import { TimeZone } from '../../schemas/time-zone.js'
import { QalqanError } from '../errors.js'
import { Cidr } from '../../schemas/cidr.js'

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, {
  error: 'must be the SHA-256 of the token, 64 lowercase hex digits (qalqan token prints one)',
})

/** When a token stops being accepted (checked at each request), and whether it was withdrawn before then. */
const lifecycle = {
  not_after: z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 time with its zone, such as 2027-01-31T00:00:00Z' })
    .optional(),
  revoked: z.boolean().optional(),
}

/**
 * The client certificate a sensor must present with its token: by its SHA-256 fingerprint (as
 * `openssl x509 -fingerprint -sha256` prints it, or 64 hex digits), by its subject (`CN=...`,
 * several attributes separated by commas, all of which must be in the certificate's subject), or both.
 */
const ClientCertificate = z
  .strictObject({
    sha256: z
      .string()
      .transform((value) => value.replace(/:/g, '').toLowerCase())
      .pipe(
        z.string().regex(/^[0-9a-f]{64}$/, {
          error: 'must be the SHA-256 fingerprint of the certificate: 64 hex digits, with or without colons',
        }),
      )
      .optional(),
    subject: z
      .string()
      .max(1024)
      .regex(/^\s*[A-Za-z][A-Za-z0-9.]*\s*=[^,=]+(,\s*[A-Za-z][A-Za-z0-9.]*\s*=[^,=]+)*$/, {
        error: 'must be attributes of the subject, such as "CN=kz-ids-astana-01" or "CN=kz-ids-astana-01, O=Ministry"',
      })
      .optional(),
  })
  .refine((binding) => binding.sha256 !== undefined || binding.subject !== undefined, {
    error: 'name the certificate by sha256, subject or both',
  })

const SensorEntry = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/),
  token_sha256: sha256Hex,
  ...lifecycle,
  client_certificate: ClientCertificate.optional(),
  type: z.enum(SENSOR_TYPES),
  org: z.string().min(1).max(256),
  sector: z.enum(SECTORS),
  region: z.enum(REGION_CODES),
  /** The IANA zone the sensor's clock is set to, for times it writes without one; else QALQAN_COLLECTOR_DEFAULT_TIME_ZONE. */
  time_zone: TimeZone.optional(),
  /** Whom else the sensor may file events under, by organisation or by the network of the target; its own organisation always. */
  attribute_to: z
    .strictObject(
      {
        organisations: z.array(z.string().min(1).max(256)).max(10_000).optional(),
        networks: z.array(Cidr).max(1_000).optional(),
      },
      {
        error: (issue) =>
          issue.code === 'unrecognized_keys'
            ? `unknown key ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}: attribute_to takes organisations (names as the asset registry writes them) and networks (such as 198.51.100.0/24)`
            : undefined,
      },
    )
    .optional(),
})

const AnalystEntry = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._:@-]{1,128}$/),
  /** The analyst's name, for the audit log of queries. */
  name: z.string().min(1).max(256).optional(),
  token_sha256: sha256Hex,
  ...lifecycle,
})

const TokensFile = z.strictObject({
  sensors: z.array(SensorEntry).default([]),
  analysts: z.array(AnalystEntry).default([]),
})

export type Sensor = z.infer<typeof SensorEntry>
export type Analyst = z.infer<typeof AnalystEntry>
export type Principal = { role: 'sensor'; sensor: Sensor } | { role: 'analyst'; analyst: Analyst }
export type ClientCertificateBinding = NonNullable<Sensor['client_certificate']>

/** Whether the token may be used at `now`: revoked and expired tokens are refused, each with its own answer. */
export function standing(principal: Principal, now: Date): 'valid' | 'revoked' | 'expired' {
  const entry = principal.role === 'sensor' ? principal.sensor : principal.analyst
  if (entry.revoked === true) return 'revoked'
  if (entry.not_after !== undefined && now.getTime() > Date.parse(entry.not_after)) return 'expired'
  return 'valid'
}

/** What a certificate says of itself, as the binding is compared against it. */
export interface PresentedCertificate {
  /** 64 lowercase hex digits. */
  readonly sha256: string
  /** The subject's attributes, as `X509Certificate.subject` lists them (`CN=...` per line). */
  readonly subject: string
}

/** Whether the certificate is the one the binding names: each part given must match. */
export function certificateMatches(binding: ClientCertificateBinding, certificate: PresentedCertificate): boolean {
  if (binding.sha256 !== undefined && binding.sha256 !== certificate.sha256) return false
  if (binding.subject === undefined) return true
  const attributes = new Set(certificate.subject.split('\n').map(attribute))
  return binding.subject.split(',').every((part) => attributes.has(attribute(part)))
}

/** `CN = name` as `CN=name`: the type's case and the spaces around the parts do not matter. */
function attribute(text: string): string {
  const at = text.indexOf('=')
  return `${text.slice(0, at).trim().toUpperCase()}=${text.slice(at + 1).trim()}`
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** Sensor and analyst tokens, held only as SHA-256 hashes; one token names one principal. */
export class TokenRegistry {
  private readonly byHash = new Map<string, Principal>()
  private readonly sensorsById = new Map<string, Sensor>()
  /** The entries that bind a certificate, whose holders a presented certificate is checked against. */
  private readonly bound: Sensor[] = []

  constructor(sensors: readonly Sensor[], analysts: readonly Analyst[]) {
    for (const sensor of sensors) {
      this.add(sensor.token_sha256, { role: 'sensor', sensor })
      this.sensorsById.set(sensor.id, sensor)
      if (sensor.client_certificate !== undefined) this.bound.push(sensor)
    }
    const byFingerprint = new Map<string, string>()
    for (const { id, client_certificate } of this.bound) {
      const fingerprint = client_certificate?.sha256
      if (fingerprint === undefined) continue
      const holder = byFingerprint.get(fingerprint)
      if (holder !== undefined && holder !== id) {
        throw new QalqanError(
          'QLQ_ERR_TOKENS_INVALID',
          `sensors ${holder} and ${id} are bound to one client certificate (sha256 ${fingerprint}): give each sensor its own`,
        )
      }
      byFingerprint.set(fingerprint, id)
    }
    for (const analyst of analysts) this.add(analyst.token_sha256, { role: 'analyst', analyst })
  }

  static fromFile(path: string): TokenRegistry {
    let raw: unknown
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'))
    } catch (err) {
      throw new QalqanError(
        'QLQ_ERR_TOKENS_INVALID',
        `cannot read the token registry ${path} as JSON: ${(err as Error).message}`,
        { cause: err },
      )
    }
    const parsed = TokensFile.safeParse(raw)
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`)
      throw new QalqanError('QLQ_ERR_TOKENS_INVALID', `the token registry ${path} is invalid: ${problems.join('; ')}`)
    }
    try {
      return new TokenRegistry(parsed.data.sensors, parsed.data.analysts)
    } catch (err) {
      throw new QalqanError(
        'QLQ_ERR_TOKENS_INVALID',
        `the token registry ${path} is invalid: ${(err as Error).message}`,
      )
    }
  }

  /** The registered sensor with this id, or undefined (a record replayed later names its sensor by id). */
  sensor(id: string): Sensor | undefined {
    return this.sensorsById.get(id)
  }

  /** The principal holding this token while it may be used (not revoked, not expired at `now`), or undefined. */
  authenticate(token: string, now = new Date()): Principal | undefined {
    const principal = this.lookup(token)
    return principal !== undefined && standing(principal, now) === 'valid' ? principal : undefined
  }

  /** The ids of the sensors whose registration binds this certificate (one, unless entries of one sensor name it). */
  holdersOf(certificate: PresentedCertificate): Set<string> {
    return new Set(
      this.bound
        .filter((sensor) => sensor.client_certificate && certificateMatches(sensor.client_certificate, certificate))
        .map((sensor) => sensor.id),
    )
  }

  /** The principal holding this token, revoked or expired as it may be (`standing` tells), or undefined. */
  lookup(token: string): Principal | undefined {
    const presented = Buffer.from(hashToken(token), 'hex')
    const principal = this.byHash.get(presented.toString('hex'))
    if (principal === undefined) return undefined
    const stored = principal.role === 'sensor' ? principal.sensor.token_sha256 : principal.analyst.token_sha256
    return timingSafeEqual(presented, Buffer.from(stored, 'hex')) ? principal : undefined
  }

  private add(hash: string, principal: Principal): void {
    const holder = this.byHash.get(hash)
    if (holder !== undefined) {
      throw new QalqanError(
        'QLQ_ERR_TOKENS_INVALID',
        `${idOf(holder)} and ${idOf(principal)} share one token: give each sensor and analyst its own`,
      )
    }
    this.byHash.set(hash, principal)
  }
}

function idOf(principal: Principal): string {
  return principal.role === 'sensor' ? `sensor ${principal.sensor.id}` : `analyst ${principal.analyst.id}`
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  return schemeToken(header, 'Bearer')
}

/** The token of an `Authorization: <scheme> <token>` header, or undefined. */
export function schemeToken(header: string | undefined, scheme: string): string | undefined {
  if (header === undefined) return undefined
  const match = /^([A-Za-z]+)[ \t]+([\x21-\x7e]{1,512})[ \t]*$/.exec(header)
  return match?.[1]?.toLowerCase() === scheme.toLowerCase() ? match[2] : undefined
}
