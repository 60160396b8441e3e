import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Answer {
  status: number
  body: string
  ms: number
}

/** One POST to the collector; a connection that fails is status 0 with the error as body. */
export async function post(
  url: string,
  token: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<Answer> {
  const started = Date.now()
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    })
    return { status: res.status, body: await res.text(), ms: Date.now() - started }
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code
    return {
      status: 0,
      body: `${(err as Error).message}${cause === undefined ? '' : ` (${cause})`}`,
      ms: Date.now() - started,
    }
  }
}

export interface StreamOptions {
  /** Events per request. */
  batch: number
  /** Pause between one request's acknowledgement and the next request. */
  pauseMs: number
  seed: number
  /** How long one request is retried before it is given up (and counted as unexpected). */
  giveUpMs?: number
}

/**
 * A sensor sending a steady stream of canonical events, each with its own event id, the way a
 * well-behaved forwarder does: one request at a time, and a request answered 503, 429 or not at all
 * is sent again, the same body, until it is acknowledged. So every event sent is acknowledged in
 * the end, and the store must hold each exactly once.
 */
export class SteadySensor {
  /** Event id -> its count, for every event sent. */
  readonly sent = new Map<string, number>()
  readonly acknowledged = new Set<string>()
  /** Answers by status ("0" when the connection failed), retries included. */
  readonly answers = new Map<number, number>()
  readonly unexpected: string[] = []
  /** When each request was acknowledged, and how many events it held. */
  readonly acks: { at: number; events: number }[] = []
  private running = false
  private aborted = false
  private loop: Promise<void> | undefined
  private state: number

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly options: StreamOptions,
  ) {
    this.state = options.seed
  }

  start(): void {
    this.running = true
    this.loop = this.run()
  }

  /** Stops after the request in hand is acknowledged (or given up). */
  async stop(): Promise<void> {
    this.running = false
    await this.loop
  }

  /** Stops at once, the request in hand given up (a case that failed half-way). */
  async abort(): Promise<void> {
    this.aborted = true
    await this.stop()
  }

  /** Events acknowledged after `time` (ms since the epoch). */
  acknowledgedAfter(time: number): number {
    return this.acks.filter((ack) => ack.at > time).reduce((sum, ack) => sum + ack.events, 0)
  }

  /** The first acknowledgement after `time`, in ms after it; undefined when none came. */
  firstAckAfter(time: number): number | undefined {
    const ack = this.acks.find((a) => a.at > time)
    return ack === undefined ? undefined : ack.at - time
  }

  /** The longest time between two acknowledgements while the stream ran. */
  longestGapMs(): number {
    let longest = 0
    for (let i = 1; i < this.acks.length; i++)
      longest = Math.max(longest, (this.acks[i]?.at ?? 0) - (this.acks[i - 1]?.at ?? 0))
    return longest
  }

  /** The sum of the counts of the acknowledged events: what the aggregates must add up to. */
  acknowledgedCount(): number {
    let total = 0
    for (const id of this.acknowledged) total += this.sent.get(id) ?? 0
    return total
  }

  private random(n: number): number {
    this.state = (this.state * 48271) % 2147483647
    return this.state % n
  }

  private async run(): Promise<void> {
    while (this.running) {
      const events = Array.from({ length: this.options.batch }, () => {
        const event = {
          event_id: randomUUID(),
          occurred_at: new Date().toISOString(),
          category: (['scan', 'bruteforce', 'exploit', 'malware'] as const)[this.random(4)],
          severity: 1 + this.random(4),
          signature: 'ET SCAN fault drill',
          src_ip: `203.0.113.${this.random(250)}`,
          dst_ip: `198.51.100.${this.random(50)}`,
          count: 1 + this.random(3),
        }
        this.sent.set(event.event_id, event.count)
        return event
      })
      await this.deliver(
        JSON.stringify(events),
        events.map((e) => e.event_id),
      )
      if (this.running) await sleep(this.options.pauseMs)
    }
  }

  private async deliver(body: string, ids: string[]): Promise<void> {
    const started = Date.now()
    for (;;) {
      const answer = await post(`${this.url}/v1/events`, this.token, body, {}, 30_000)
      this.answers.set(answer.status, (this.answers.get(answer.status) ?? 0) + 1)
      if (answer.status === 202) {
        for (const id of ids) this.acknowledged.add(id)
        this.acks.push({ at: Date.now(), events: ids.length })
        return
      }
      const retryable = answer.status === 503 || answer.status === 429 || answer.status === 0
      if (this.aborted) return
      if (!retryable || Date.now() - started > (this.options.giveUpMs ?? 120_000)) {
        this.unexpected.push(`${answer.status} after ${Date.now() - started} ms: ${answer.body.slice(0, 300)}`)
        return
      }
      await sleep(200)
    }
  }
}
