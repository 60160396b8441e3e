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

const SensorEntry = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/),
  token_sha256: sha256Hex,
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
  token_sha256: sha256Hex,
})

const TokensFile = z.strictObject({
  sensors: z.array(SensorEntry).default([]),
  analysts: z.array(AnalystEntry).default([]),
})

export type Sensor = z.infer<typeof SensorEntry>
export type Analyst = z.infer<typeof AnalystEntry>
export type Principal = { role: 'sensor'; sensor: Sensor } | { role: 'analyst'; analyst: Analyst }

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** Sensor and analyst tokens, held only as SHA-256 hashes; one token names one principal. */
export class TokenRegistry {
  private readonly byHash = new Map<string, Principal>()
  private readonly sensorsById = new Map<string, Sensor>()

  constructor(sensors: readonly Sensor[], analysts: readonly Analyst[]) {
    for (const sensor of sensors) {
      this.add(sensor.token_sha256, { role: 'sensor', sensor })
      this.sensorsById.set(sensor.id, sensor)
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

  /** The principal holding this token, or undefined. */
  authenticate(token: string): Principal | undefined {
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
