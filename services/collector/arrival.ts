import type { FastifyRequest } from 'fastify'
import { sensorOf } from '../http/auth.js'
import type { DecodeContext } from './decode/decoded.js'

/**
 * What the records of an admitted request are decoded with: the collector's depth limit, the
 * time the request arrived and its sensor's zone (its registration, else the configured default).
 */
export function decodeContextOf(
  request: FastifyRequest,
  collector: { readonly maxDepth: number; readonly timeZone: string },
): DecodeContext {
  return {
    maxDepth: collector.maxDepth,
    receivedAt: new Date(),
    timeZone: sensorOf(request).time_zone ?? collector.timeZone,
  }
}
