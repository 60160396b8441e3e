import type { FastifyReply, FastifyRequest } from 'fastify'
import { QalqanError } from '../errors.js'
import { schemeToken, standing, type Analyst, type Sensor, type TokenRegistry } from './tokens.js'

declare module 'fastify' {
  interface FastifyRequest {
    sensor?: Sensor
    analyst?: Analyst
  }
}

/**
 * A hook that admits only holders of a token of the given role; the other role gets 403.
 * The token comes as `Authorization: Bearer <token>`, or with another of the given schemes. It
 * reads the headers alone, so as an onRequest hook it refuses a request before its body is read.
 * A revoked token, or one past its not_after, is refused at each request: an expiry holds even
 * while a broken registry file keeps the previous registry loaded.
 */
export function requireRole(
  tokens: () => TokenRegistry,
  role: 'sensor' | 'analyst',
  schemes: readonly string[] = ['Bearer'],
) {
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization
    const token = schemes.map((scheme) => schemeToken(header, scheme)).find((found) => found !== undefined)
    if (token === undefined) throw new QalqanError('QLQ_ERR_UNAUTHORIZED')
    const principal = tokens().lookup(token)
    if (principal === undefined)
      throw new QalqanError('QLQ_ERR_UNAUTHORIZED', 'unknown token: check the token, or ask for one to be registered')
    const now = new Date()
    const state = standing(principal, now)
    if (state === 'revoked') throw new QalqanError('QLQ_ERR_TOKEN_REVOKED')
    if (state === 'expired') {
      const entry = principal.role === 'sensor' ? principal.sensor : principal.analyst
      throw new QalqanError(
        'QLQ_ERR_TOKEN_EXPIRED',
        `this token expired at ${entry.not_after} (not_after in the token registry): ask for a new one`,
      )
    }
    if (principal.role !== role) {
      throw new QalqanError(
        'QLQ_ERR_FORBIDDEN',
        role === 'sensor'
          ? 'an analyst token cannot send events: use a sensor token'
          : 'a sensor token cannot read: use an analyst token',
      )
    }
    if (principal.role === 'sensor') request.sensor = principal.sensor
    else request.analyst = principal.analyst
  }
}

/** The sensor that requireRole admitted. */
export function sensorOf(request: FastifyRequest): Sensor {
  if (request.sensor === undefined) throw new QalqanError('QLQ_ERR_UNAUTHORIZED')
  return request.sensor
}
