/**
 * The freshness case's probes: single events posted to the collector one at a time, each dated in
 * a minute of its own (`base` + index minutes), so the query API shows exactly when each arrived.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export interface ProbeOptions {
  /** The collector's base URL. */
  url: string
  token: string
  /** The first probe's minute, as epoch ms. */
  base: number
  /** Probes sent at most. */
  count: number
  everyMs: number
}

export class Probes {
  /** When each probe's 202 came back (performance.now()), by index; undefined: not (yet) accepted. */
  readonly acceptedAt: (number | undefined)[] = []
  /** Probes answered other than 202, or not at all. */
  failed = 0
  private sending = false
  private loop: Promise<void> | undefined
  private readonly posts: Promise<void>[] = []

  constructor(private readonly options: ProbeOptions) {}

  start(): void {
    this.sending = true
    this.loop = this.send()
  }

  /** Sends no more probes; those already sent still get their answer (see settled). */
  stop(): void {
    this.sending = false
  }

  /** Resolves once every probe sent has been answered, or has failed. */
  async settled(): Promise<void> {
    await this.loop
    await Promise.all(this.posts)
  }

  private async send(): Promise<void> {
    const { url, token, base, count, everyMs } = this.options
    for (let i = 0; this.sending && i < count; i++) {
      const index = i
      const occurred = new Date(base + index * 60_000 + 30_000).toISOString()
      const probe = {
        occurred_at: occurred,
        category: 'scan',
        severity: 1,
        signature: 'bench freshness probe',
        src_ip: '203.0.113.7',
        count: 1,
      }
      this.posts.push(
        fetch(`${url}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(probe),
          signal: AbortSignal.timeout(30_000),
        })
          .then(async (response) => {
            await response.text()
            if (response.status === 202) this.acceptedAt[index] = performance.now()
            else this.failed++
          })
          .catch(() => void this.failed++),
      )
      await sleep(everyMs)
    }
  }
}
