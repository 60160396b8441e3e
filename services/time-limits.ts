import type { CanonicalEvent } from '../schemas/event.js'

/** The plausible times of an event (QALQAN_WORKER_MAX_FUTURE_SECONDS, QALQAN_WORKER_MAX_AGE_DAYS). */
export interface TimeLimits {
  /** How far after its arrival at the collector an event may claim to have happened (clock skew). */
  maxFutureMs: number
  /** How long before its arrival an event may have happened and still be counted. */
  maxAgeMs: number
}

/**
 * Why an event's time is absurd, or undefined when it is plausible. Measured against the time the
 * collector received it, not the clock now, so a replay decides exactly as the first pass did.
 * Shared: the collector refuses such events up front, the worker still drops any that reach it.
 */
export function absurdTime(event: CanonicalEvent, limits: TimeLimits): string | undefined {
  const occurred = Date.parse(event.occurred_at)
  const received = Date.parse(event.received_at)
  if (occurred > received + limits.maxFutureMs) {
    return `occurred_at ${event.occurred_at} is more than ${limits.maxFutureMs / 1000} s after the event was received (${event.received_at}): the sensor's clock is wrong (QALQAN_WORKER_MAX_FUTURE_SECONDS)`
  }
  if (occurred < received - limits.maxAgeMs) {
    return `occurred_at ${event.occurred_at} is more than ${limits.maxAgeMs / 86_400_000} days before the event was received (${event.received_at}): older than the horizon (QALQAN_WORKER_MAX_AGE_DAYS)`
  }
  return undefined
}
