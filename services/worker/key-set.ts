/**
 * A set of 64-bit keys (two 32-bit halves, not both zero) in one typed array, open addressing with
 * linear probing: eight bytes a slot, no object per key, nothing for the garbage collector to trace.
 * It grows by doubling while keys are added; `compact` shrinks it to its contents once no more come.
 */
export class KeySet {
  /** hi and lo of each slot, side by side; (0, 0) is an empty slot. */
  private slots: Uint32Array
  private capacity: number
  private count = 0

  constructor(capacity = 1024) {
    this.capacity = Math.max(8, Math.ceil(capacity))
    this.slots = new Uint32Array(this.capacity * 2)
  }

  get size(): number {
    return this.count
  }

  /** Bytes held by the table itself. */
  get bytes(): number {
    return this.slots.byteLength
  }

  has(hi: number, lo: number): boolean {
    const { slots, capacity } = this
    let at = slotOf(lo, capacity)
    for (;;) {
      const h = slots[at * 2] as number
      const l = slots[at * 2 + 1] as number
      if (h === hi && l === lo) return true
      if (h === 0 && l === 0) return false
      at = at + 1 === capacity ? 0 : at + 1
    }
  }

  /** Adds a key; false when it was there already. */
  add(hi: number, lo: number): boolean {
    if ((this.count + 1) / this.capacity > MAX_LOAD) this.rehash(this.capacity * 2)
    return this.place(hi, lo)
  }

  private place(hi: number, lo: number): boolean {
    const { slots, capacity } = this
    let at = slotOf(lo, capacity)
    for (;;) {
      const h = slots[at * 2] as number
      const l = slots[at * 2 + 1] as number
      if (h === hi && l === lo) return false
      if (h === 0 && l === 0) {
        slots[at * 2] = hi
        slots[at * 2 + 1] = lo
        this.count++
        return true
      }
      at = at + 1 === capacity ? 0 : at + 1
    }
  }

  /** Shrinks the table to the fewest slots that keep probes short, for a set that is done growing. */
  compact(): void {
    const fitted = Math.max(8, Math.ceil(this.count / COMPACT_LOAD))
    if (fitted < this.capacity) this.rehash(fitted)
  }

  private rehash(capacity: number): void {
    const old = this.slots
    this.capacity = capacity
    this.slots = new Uint32Array(capacity * 2)
    this.count = 0
    for (let i = 0; i < old.length; i += 2) {
      const hi = old[i] as number
      const lo = old[i + 1] as number
      if (hi !== 0 || lo !== 0) this.place(hi, lo)
    }
  }
}

/** Growing tables stay between half and three quarters full; a compacted one is about 80% full. */
const MAX_LOAD = 0.75
const COMPACT_LOAD = 0.8

/** The key's slot in a table of any size: lo scaled to the capacity (lo is a hash, so uniform). */
function slotOf(lo: number, capacity: number): number {
  return Math.floor((lo / 4294967296) * capacity)
}
