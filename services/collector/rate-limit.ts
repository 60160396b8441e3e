import { QalqanError } from '../errors.js'

/**
 * Per-sensor token buckets counted in events: each sensor may send `ratePerSecond` events a second
 * on average and `burst` at once. Full buckets are dropped once a minute, so idle sensors cost nothing.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  private lastSweep = 0

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** 0 if the sensor may send `events` now (and they are counted), else the seconds to wait. */
  take(key: string, events: number): number {
    const now = this.now()
    this.sweep(now)
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now }
    bucket.tokens = Math.min(this.burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * this.ratePerSecond)
    bucket.at = now
    this.buckets.set(key, bucket)
    if (bucket.tokens >= events) {
      bucket.tokens -= events
      return 0
    }
    return Math.max(1, Math.ceil((events - bucket.tokens) / this.ratePerSecond))
  }

  /** 0 if the sensor may send one event now, else the seconds to wait; counts nothing. */
  waitForOne(key: string): number {
    const bucket = this.buckets.get(key)
    if (bucket === undefined) return 0
    const tokens = Math.min(
      this.burst,
      bucket.tokens + (Math.max(0, this.now() - bucket.at) / 1000) * this.ratePerSecond,
    )
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.ratePerSecond))
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return
    this.lastSweep = now
    // Only a bucket that would be full by now may go: a fresh one starts full.
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond >= this.burst) this.buckets.delete(key)
    }
  }
}

/** The answer to a sensor over its rate: which sensor, and when to try again. */
export function rateLimited(sensorId: string, wait: number): QalqanError {
  return new QalqanError(
    'QLQ_ERR_RATE_LIMITED',
    `sensor ${sensorId} sends faster than its rate limit: retry in ${wait} s`,
    {
      retryAfterSeconds: wait,
    },
  )
}
