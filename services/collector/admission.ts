import type { FastifyReply, FastifyRequest } from 'fastify'
import { QalqanError } from '../errors.js'
import { requireRole, sensorOf } from '../http/auth.js'
import type { TokenRegistry } from '../http/tokens.js'
import type { Metrics } from '../metrics.js'
import type { RateLimiter } from './rate-limit.js'

type Check = (request: FastifyRequest, reply: FastifyReply) => void | Promise<void>

/**
 * An onRequest hook: the check runs on the headers alone, before the body is read. A refused
 * request's connection is closed after the answer when its body has not all arrived, so the rest
 * is neither read nor drained: a request without a valid token costs its headers, nothing more.
 */
export function beforeBody(...checks: Check[]) {
  return async function checkBeforeBody(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      for (const check of checks) await check(request, reply)
    } catch (err) {
      if (!request.raw.complete) void reply.header('connection', 'close')
      throw err
    }
  }
}

export interface AdmissionDeps {
  readonly tokens: () => TokenRegistry
  readonly rateLimiter: RateLimiter
  readonly metrics: Metrics
}

/**
 * Admits a sensor before its body is read: its token (in one of `schemes`), then its rate budget,
 * since a sensor with less than one event's budget left could have no event of the body taken.
 */
export function admitSensor(deps: AdmissionDeps, schemes?: readonly string[]): Check {
  const authenticate = requireRole(deps.tokens, 'sensor', schemes)
  return async (request, reply) => {
    await authenticate(request, reply)
    const { id } = sensorOf(request)
    const wait = deps.rateLimiter.waitForOne(id)
    if (wait > 0) {
      deps.metrics.error('http', 'rate_limited')
      throw new QalqanError(
        'QLQ_ERR_RATE_LIMITED',
        `sensor ${id} sends faster than its rate limit: retry in ${wait} s`,
        {
          retryAfterSeconds: wait,
        },
      )
    }
  }
}
