/**
 * Two pollers of the query API that note when each probe's minute first shows events. "fresh"
 * makes every query unique (its range ends one second later each time), so the answer cache
 * (QALQAN_QUERY_CACHE_SECONDS) never answers it: what the pipeline delivers. "repeated" asks the
 * identical question every time, as a dashboard does, so its answers may come from the cache:
 * what an analyst staring at one panel sees.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export interface PollOptions {
  /** The query API's base URL. */
  url: string
  token: string
  /** The first probe's minute, as epoch ms. */
  base: number
  /** Probes sent at most: the queried range covers all of their minutes. */
  probes: number
  everyMs: number
}

type Seen = (number | undefined)[]

export class VisibilityPolls {
  /** When each probe was first seen (performance.now()), by index, through unique queries. */
  readonly fresh: Seen = []
  /** The same, through one repeated query. */
  readonly repeated: Seen = []
  polls = 0
  failures = 0
  lastProblem = ''
  /** /v1/timeseries, or the older /v1/aggregates where the query API answers 404 to it. */
  endpoint: 'timeseries' | 'aggregates' = 'timeseries'
  private polling = false
  private loops: Promise<unknown> | undefined

  constructor(private readonly options: PollOptions) {}

  start(): void {
    this.polling = true
    this.loops = Promise.all([this.poll(this.fresh, true), this.poll(this.repeated, false)])
  }

  async stop(): Promise<void> {
    this.polling = false
    await this.loops
  }

  private async poll(seen: Seen, unique: boolean): Promise<void> {
    const { url, token, base, probes, everyMs } = this.options
    const from = new Date(base).toISOString()
    let counter = 0
    while (this.polling) {
      const to = new Date(base + (probes + 1) * 60_000 + (unique ? (counter++ % 20_000) * 1000 : 0)).toISOString()
      const query =
        this.endpoint === 'timeseries'
          ? `${url}/v1/timeseries?from=${from}&to=${to}&step=1m`
          : `${url}/v1/aggregates?from=${from}&to=${to}`
      try {
        const response = await fetch(query, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(10_000),
        })
        const at = performance.now()
        this.polls++
        if (response.status === 200) {
          for (const row of await minutes(response)) {
            const index = Math.round((Date.parse(row.at) - base) / 60_000)
            if (row.events > 0 && seen[index] === undefined) seen[index] = at
          }
        } else {
          this.failures++
          this.lastProblem = `${response.status} ${(await response.text()).slice(0, 300)}`
          if (response.status === 404 && this.endpoint === 'timeseries') this.endpoint = 'aggregates'
        }
      } catch (err) {
        // A slow answer under load is part of what is measured: try again.
        this.failures++
        this.lastProblem = (err as Error).message
      }
      await sleep(everyMs)
    }
  }
}

/** /v1/timeseries answers points [{time, events}]; the older /v1/aggregates rows [{window_start, events}]. */
async function minutes(response: Response): Promise<{ at: string; events: number }[]> {
  const body = (await response.json()) as {
    points?: { time: string; events: number }[]
    rows?: { window_start: string; events: number }[]
  }
  return (
    body.points?.map((p) => ({ at: p.time, events: p.events })) ??
    body.rows?.map((r) => ({ at: r.window_start, events: r.events })) ??
    []
  )
}
