interface Entry {
  readonly at: number
  readonly value: Promise<unknown>
  /** The key and the answer's estimated size; the key alone while the answer is computed. */
  bytes: number
}

/**
 * Answers kept for a few seconds: dashboards on many screens refresh the same queries. The cache
 * holds at most `maxBytes` of answers, estimated by `sizeOf` (their serialized length), drops an
 * answer once it is older than the TTL, and evicts the least recently used first. An answer larger
 * than the whole budget is answered but not kept.
 */
export class AnswerCache {
  private readonly entries = new Map<string, Entry>()
  private readonly computing = new Map<string, Promise<unknown>>()
  private total = 0
  private lastSweep: number

  constructor(
    private readonly ttlMs: number,
    private readonly maxBytes: number,
    private readonly sizeOf: (value: unknown) => number = serializedLength,
    private readonly now: () => number = Date.now,
  ) {
    this.lastSweep = now()
  }

  /** Bytes the kept answers and their keys are estimated to take. */
  get bytes(): number {
    return this.total
  }

  /** Answers kept, including those still being computed. */
  get size(): number {
    return this.entries.size
  }

  /**
   * The cached answer for the key, or the one `compute` makes (shared by concurrent askers; a failure
   * is not kept). `live`: the answer is still changing (its range ends now), so it is shared only
   * while it is computed and never served once made: a dashboard sees new events at once.
   */
  get<T>(key: string, compute: () => Promise<T>, live = false): Promise<T> {
    if (live) return this.shared(key, compute)
    const now = this.now()
    if (now - this.lastSweep >= this.ttlMs) this.sweep(now)
    const hit = this.entries.get(key)
    if (hit !== undefined) {
      this.remove(key, hit)
      if (now - hit.at < this.ttlMs) {
        // Set again so that the map's order stays least recently used first.
        this.entries.set(key, hit)
        this.total += hit.bytes
        return hit.value as Promise<T>
      }
    }
    const value = compute()
    if (this.ttlMs <= 0 || key.length > this.maxBytes) return value
    const entry: Entry = { at: now, value, bytes: key.length }
    this.entries.set(key, entry)
    this.total += entry.bytes
    value.then(
      (answer) => {
        if (this.entries.get(key) !== entry) return
        const bytes = key.length + this.sizeOf(answer)
        if (bytes > this.maxBytes) {
          this.remove(key, entry)
          return
        }
        this.total += bytes - entry.bytes
        entry.bytes = bytes
        this.evict()
      },
      () => {
        if (this.entries.get(key) === entry) this.remove(key, entry)
      },
    )
    this.evict()
    return value
  }

  private shared<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const pending = this.computing.get(key)
    if (pending !== undefined) return pending as Promise<T>
    const value = compute()
    this.computing.set(key, value)
    const done = () => void this.computing.delete(key)
    value.then(done, done)
    return value
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key)
    this.total -= entry.bytes
  }

  /** Drops every answer older than the TTL. */
  private sweep(now: number): void {
    this.lastSweep = now
    for (const [key, entry] of this.entries) if (now - entry.at >= this.ttlMs) this.remove(key, entry)
  }

  /** Drops the least recently used answers until the rest fit. */
  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.total <= this.maxBytes) return
      this.remove(key, entry)
    }
  }
}

/** The length of the value as JSON: what it takes to send, and a fair measure of what it takes to keep. */
export function serializedLength(value: unknown): number {
  return JSON.stringify(value)?.length ?? 0
}
