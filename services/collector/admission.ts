import type { FastifyReply, FastifyRequest } from 'fastify'
import { Socket } from 'node:net'
import { QalqanError } from '../errors.js'
import { requireRole, sensorOf } from '../http/auth.js'
import { checkClientCertificate } from '../http/client-certificate.js'
import type { TokenRegistry } from '../http/tokens.js'
import type { Metrics } from '../metrics.js'
import { type RateLimiter, rateLimited } from './rate-limit.js'

type Check = (request: FastifyRequest, reply: FastifyReply) => void | Promise<void>

/** How long the rest of a refused request's body is read (and dropped) before its connection is closed. */
export const LINGER_MS = 2_000

/**
 * An onRequest hook: the checks run on the headers alone, before the body is read, and then the
 * Content-Length is held against the body limit. A refused request's body is never buffered: what is still
 * coming is read and dropped for at most LINGER_MS and twice the body limit, then the connection
 * is closed. Closing at once would reset the connection under a client still writing its body,
 * which would never read the answer and would send the request again.
 */
export function beforeBody(...checks: Check[]) {
  return async function checkBeforeBody(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      for (const check of checks) await check(request, reply)
      announcedWithinLimit(request)
    } catch (err) {
      if (!request.raw.complete) lingerThenClose(request, reply)
      throw err
    }
  }
}

function announcedWithinLimit(request: FastifyRequest): void {
  const limit = request.routeOptions.bodyLimit
  const announced = Number(request.headers['content-length'])
  if (limit !== undefined && announced > limit) {
    throw new QalqanError(
      'QLQ_ERR_BODY_TOO_LARGE',
      `the body is larger than ${limit} bytes (QALQAN_COLLECTOR_MAX_BODY_BYTES): send fewer events per request`,
    )
  }
}

/** Drops the rest of the body as it comes; closes the connection once it has all come and the answer is out, or at the limits. */
function lingerThenClose(request: FastifyRequest, reply: FastifyReply): void {
  const { raw } = request
  const socket = raw.socket
  // A request injected in a test has no connection of its own to linger on.
  if (!(socket instanceof Socket)) return
  let left = 2 * (request.routeOptions.bodyLimit ?? 1024 * 1024)
  let bodyRead = false
  let answered = false
  const cut = () => {
    clearTimeout(timer)
    raw.off('data', drop)
    socket.destroy()
  }
  const drop = (chunk: Buffer) => {
    left -= chunk.length
    if (left < 0) cut()
  }
  const closeWhenDone = () => {
    if (!bodyRead || !answered) return
    clearTimeout(timer)
    socket.end()
  }
  const timer = setTimeout(cut, LINGER_MS)
  raw.on('data', drop)
  raw.once('end', () => {
    bodyRead = true
    closeWhenDone()
  })
  reply.raw.once('finish', () => {
    answered = true
    closeWhenDone()
  })
  socket.once('close', () => clearTimeout(timer))
}

export interface AdmissionDeps {
  readonly tokens: () => TokenRegistry
  readonly rateLimiter: RateLimiter
  readonly metrics: Metrics
}

/**
 * Admits a sensor before its body is read: its token (in one of `schemes`), the client certificate
 * its registration binds, then its rate budget, since a sensor with less than one event's budget
 * left could have no event of the body taken.
 */
export function admitSensor(deps: AdmissionDeps, schemes?: readonly string[]): Check {
  const authenticate = requireRole(deps.tokens, 'sensor', schemes)
  return async (request, reply) => {
    await authenticate(request, reply)
    const sensor = sensorOf(request)
    checkClientCertificate(request, sensor, deps.tokens())
    const { id } = sensor
    const wait = deps.rateLimiter.waitForOne(id)
    if (wait > 0) {
      deps.metrics.error('http', 'rate_limited')
      throw rateLimited(id, wait)
    }
  }
}
