import type { CopyKey } from './copy-key.js'
import { KeySet } from './key-set.js'

export interface WindowOptions {
  /** How long a key is remembered after it was first seen. */
  readonly windowMs: number
  /** The most keys remembered at once; past it the oldest are forgotten early. */
  readonly maxEntries: number
  /** Called with the number of keys forgotten early to stay within maxEntries. */
  readonly onEvicted?: (count: number) => void
}

/** Slices of the window: a key lives between windowMs and windowMs + windowMs / SLICES. */
const SLICES = 8

interface Slice {
  readonly keys: KeySet
  /** When the slice opened, and when it last took a key (ms). */
  readonly from: number
  until: number
}

/**
 * The copy keys (see copy-key.ts) first seen within the last `windowMs`, for every partition a
 * worker holds: a copy of an event that a producer retry or a sensor's resend wrote again arrives
 * soon after its original. Keys are kept in slices of the window by the time they were first seen;
 * a slice is dropped whole once its newest key is older than the window, or, oldest first, when
 * the keys would exceed `maxEntries` (a rate above what the window was sized for): then the window
 * is shorter than configured, and `onEvicted` says by how many keys.
 */
export class RecentIds {
  /** Closed slices, oldest first. */
  private readonly closed: Slice[] = []
  private open: Slice
  private closedKeys = 0
  private readonly sliceMs: number
  private readonly sliceKeys: number

  constructor(
    private readonly options: WindowOptions,
    now = Date.now(),
  ) {
    this.sliceMs = Math.max(1, options.windowMs / SLICES)
    this.sliceKeys = Math.max(1, Math.floor(options.maxEntries / SLICES))
    this.open = { keys: new KeySet(), from: now, until: now }
  }

  get size(): number {
    return this.closedKeys + this.open.keys.size
  }

  has(key: CopyKey): boolean {
    if (this.open.keys.has(key.hi, key.lo)) return true
    for (let i = this.closed.length - 1; i >= 0; i--) {
      if ((this.closed[i] as Slice).keys.has(key.hi, key.lo)) return true
    }
    return false
  }

  /** Remembers a key first seen at `now`; a key already remembered keeps its first sight. */
  add(key: CopyKey, now = Date.now()): void {
    if (!this.has(key)) this.addNew(key, now)
  }

  /** Remembers a key that `has` just said is not remembered, without looking again. */
  addNew(key: CopyKey, now = Date.now()): void {
    this.advance(now)
    if (this.open.keys.size >= this.sliceKeys) this.close(now)
    this.open.keys.add(key.hi, key.lo)
    this.open.until = now
    if (this.size > this.options.maxEntries) this.evictOldest()
  }

  /** Forgets the slices older than the window, and starts a new slice when the open one is old enough. */
  advance(now = Date.now()): void {
    if (now - this.open.from >= this.sliceMs) this.close(now)
    while (this.closed.length > 0 && now - (this.closed[0] as Slice).until > this.options.windowMs) {
      const oldest = this.closed.shift() as Slice
      this.closedKeys -= oldest.keys.size
    }
  }

  private close(now: number): void {
    if (this.open.keys.size > 0) {
      this.open.keys.compact()
      this.closed.push(this.open)
      this.closedKeys += this.open.keys.size
    }
    this.open = { keys: new KeySet(), from: now, until: now }
  }

  private evictOldest(): void {
    const oldest = this.closed.shift()
    if (oldest === undefined) return
    this.closedKeys -= oldest.keys.size
    this.options.onEvicted?.(oldest.keys.size)
  }
}
