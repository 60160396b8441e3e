/**
 * Fitting sends to the broker's limit: Kafka refuses a partition's record batch larger than the
 * topic's max.message.bytes (MESSAGE_TOO_LARGE, not retriable), and kafkajs sends one batch per
 * partition. Sizes are bounded from above: measured with kafkajs's own RecordBatch encoder, a
 * batch is 61 bytes of header plus 7 to 13 bytes per record besides its key and value; the
 * figures below take each varint at its widest.
 */

/** A record's bytes in a batch besides its key and value: length, attributes, deltas, lengths, headers. */
export const RECORD_OVERHEAD = 32
/** A batch's own bytes (61 header, 12 log overhead) with room to spare. */
export const BATCH_OVERHEAD = 256

/** One message with where it goes and what it weighs in its partition's batch. */
export interface Sized {
  readonly topic: string
  readonly key: string
  readonly value: string
  /** The partition, or undefined when the topic's partitions are unknown (the producer picks). */
  readonly partition: number | undefined
  readonly bytes: number
}

/** What a message weighs in a record batch, at most. */
export function recordBytes(key: string, value: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(value) + RECORD_OVERHEAD
}

/** A group of messages that may go out in one send: per partition and in all, within the budgets. */
export interface Piece {
  readonly messages: Sized[]
  /** Bytes per `topic:partition` (`topic:*` when the partition is unknown: the whole topic counts as one). */
  readonly partitions: Map<string, number>
  bytes: number
}

function slot(message: Sized): string {
  return `${message.topic}:${message.partition ?? '*'}`
}

/** Whether `message` can join `piece` within `partitionBudget` per partition and `totalBudget` in all. */
function fits(piece: Piece, message: Sized, partitionBudget: (topic: string) => number, totalBudget: number): boolean {
  if (piece.messages.length === 0) return true
  if (piece.bytes + message.bytes > totalBudget) return false
  return (piece.partitions.get(slot(message)) ?? 0) + message.bytes <= partitionBudget(message.topic)
}

function add(piece: Piece, message: Sized): void {
  piece.messages.push(message)
  const key = slot(message)
  piece.partitions.set(key, (piece.partitions.get(key) ?? 0) + message.bytes)
  piece.bytes += message.bytes
}

/**
 * Splits messages into pieces that each fit: a partition's messages fill one piece after another
 * in their order, so each piece stays under both budgets. A message larger than the partition
 * budget must have been refused or cut before; it would go alone in its piece.
 */
export function split(
  messages: readonly Sized[],
  partitionBudget: (topic: string) => number,
  totalBudget: number,
): Piece[] {
  const pieces: Piece[] = []
  const current = new Map<string, number>()
  for (const message of messages) {
    const key = slot(message)
    let index = current.get(key) ?? 0
    for (;;) {
      const piece = pieces[index]
      if (piece === undefined) {
        pieces.push({ messages: [], partitions: new Map(), bytes: 0 })
        continue
      }
      if (fits(piece, message, partitionBudget, totalBudget)) {
        add(piece, message)
        break
      }
      index++
    }
    current.set(key, index)
  }
  return pieces
}

/** Whether `next` can join the pieces already gathered in `into` for one send. */
export function canMerge(
  into: Piece,
  next: Piece,
  partitionBudget: (topic: string) => number,
  totalBudget: number,
): boolean {
  if (into.messages.length === 0) return true
  if (into.bytes + next.bytes > totalBudget) return false
  for (const [key, bytes] of next.partitions) {
    const topic = key.slice(0, key.lastIndexOf(':'))
    // A topic split before its partitions were known (`topic:*`) does not mix with one split after.
    const unknown = `${topic}:*`
    const mixed = key === unknown ? hasKnownPartition(into, topic) : into.partitions.has(unknown)
    if (mixed) return false
    if ((into.partitions.get(key) ?? 0) + bytes > partitionBudget(topic)) return false
  }
  return true
}

function hasKnownPartition(piece: Piece, topic: string): boolean {
  for (const key of piece.partitions.keys()) if (key.startsWith(`${topic}:`) && !key.endsWith(':*')) return true
  return false
}

/** Adds `next`'s messages and bytes to `into`. */
export function merge(into: Piece, next: Piece): void {
  into.messages.push(...next.messages)
  for (const [key, bytes] of next.partitions) into.partitions.set(key, (into.partitions.get(key) ?? 0) + bytes)
  into.bytes += next.bytes
}
