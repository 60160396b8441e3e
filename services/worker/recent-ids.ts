/**
 * The last `capacity` event ids of one partition, oldest forgotten first: a copy of an event that a
 * producer retry or a sensor's resend wrote again arrives soon after its original.
 */
export class RecentIds {
  private readonly ids = new Set<string>()
  private readonly ring: (string | undefined)[]
  private next = 0

  constructor(readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity)
  }

  has(id: string): boolean {
    return this.ids.has(id)
  }

  /** Remembers an id that is not yet remembered. */
  add(id: string): void {
    const oldest = this.ring[this.next]
    if (oldest !== undefined) this.ids.delete(oldest)
    this.ring[this.next] = id
    this.ids.add(id)
    this.next = (this.next + 1) % this.capacity
  }

  get size(): number {
    return this.ids.size
  }
}
