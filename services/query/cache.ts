/** Answers kept for a few seconds: dashboards on many screens refresh the same queries. */
export class AnswerCache {
  private readonly entries = new Map<string, { at: number; value: Promise<unknown> }>()

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 500,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached answer for the key, or the one `compute` makes (shared by concurrent askers; a failure is not kept). */
  get<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const now = this.now()
    const hit = this.entries.get(key)
    if (hit !== undefined && now - hit.at < this.ttlMs) return hit.value as Promise<T>
    if (this.entries.size >= this.maxEntries) {
      for (const [old, entry] of this.entries)
        if (now - entry.at >= this.ttlMs || this.entries.size >= this.maxEntries) this.entries.delete(old)
    }
    const value = compute()
    this.entries.set(key, { at: now, value })
    value.catch(() => this.entries.delete(key))
    return value
  }
}
