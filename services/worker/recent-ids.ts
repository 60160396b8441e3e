/**
 * What copies are recognised by: the sensor and its event id, as a sensor chooses its own ids and
 * must not be able to suppress another sensor's events by reusing them.
 */
export function eventKey(sensorId: string, eventId: string): string {
  return `${sensorId}:${eventId}`
}

/**
 * The last `capacity` event keys (see eventKey) of one partition, oldest forgotten first: a copy of
 * an event that a producer retry or a sensor's resend wrote again arrives soon after its original.
 */
export class RecentIds {
  /** Each id and its slot in the ring. */
  private readonly ids = new Map<string, number>()
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
    this.ids.set(id, this.next)
    this.next = (this.next + 1) % this.capacity
  }

  /** Forgets an id; its slot stays empty until the ring comes round to it. */
  delete(id: string): void {
    const slot = this.ids.get(id)
    if (slot === undefined) return
    this.ring[slot] = undefined
    this.ids.delete(id)
  }

  get size(): number {
    return this.ids.size
  }
}
