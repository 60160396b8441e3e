/**
 * The worker's lag, every second of the measured window: a lag that keeps growing means the
 * pipeline does not sustain the rate, and freshness would grow with the length of the run. Counted
 * in Kafka messages (the collector writes several events per message), and judged against the
 * messages written per second over the same samples.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Broker } from './broker.js'

export class LagSampler {
  /** The topic's end, and it less the group's committed offsets, at performance.now() times. */
  readonly samples: { at: number; end: number; lag: number }[] = []
  private sampling = false
  private loop: Promise<void> | undefined

  constructor(
    private readonly broker: Broker,
    private readonly groupId: string,
    private readonly topic: string,
  ) {}

  start(): void {
    this.sampling = true
    this.loop = this.sample()
  }

  async stop(): Promise<void> {
    this.sampling = false
    await this.loop
  }

  max(): number {
    return Math.max(0, ...this.samples.map((p) => p.lag))
  }

  /** Least-squares slope of the lag over the second half of the window, in messages/s. */
  slope(): number {
    return this.slopeOf((p) => p.lag)
  }

  /** Messages written per second over the same samples. */
  writeRate(): number {
    return this.slopeOf((p) => p.end)
  }

  private slopeOf(y: (p: { at: number; end: number; lag: number }) => number): number {
    const half = this.samples.slice(Math.floor(this.samples.length / 2))
    if (half.length < 3) return 0
    const mx = half.reduce((sum, p) => sum + p.at, 0) / half.length
    const my = half.reduce((sum, p) => sum + y(p), 0) / half.length
    const sxy = half.reduce((sum, p) => sum + (p.at - mx) * (y(p) - my), 0)
    const sxx = half.reduce((sum, p) => sum + (p.at - mx) ** 2, 0)
    return sxx > 0 ? Math.round((sxy / sxx) * 1000) : 0
  }

  private async sample(): Promise<void> {
    while (this.sampling) {
      try {
        const [end, done] = await Promise.all([
          this.broker.topicEnd(this.topic),
          this.broker.committed(this.groupId, this.topic),
        ])
        this.samples.push({ at: performance.now(), end, lag: end - done })
      } catch {
        // A missed sample is fine.
      }
      await sleep(1_000)
    }
  }
}
