/**
 * Kafka's murmur2 key hash (the Java client's Utils.murmur2, which kafkajs's DefaultPartitioner
 * reimplements with a 64-bit Long object per step) in plain 32-bit integer arithmetic: the same
 * partition for every key, so a duplicate still lands beside its original, with no allocation.
 */
const M = 0x5bd1e995

export function murmur2(data: Uint8Array): number {
  const length = data.length
  let h = 0x9747b28c ^ length
  const length4 = length >>> 2
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4
    let k =
      (data[i4] as number) |
      ((data[i4 + 1] as number) << 8) |
      ((data[i4 + 2] as number) << 16) |
      ((data[i4 + 3] as number) << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  const tail = length & ~3
  const rest = length & 3
  if (rest === 3) h ^= (data[tail + 2] as number) << 16
  if (rest >= 2) h ^= (data[tail + 1] as number) << 8
  if (rest >= 1) h = Math.imul(h ^ (data[tail] as number), M)
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

/** A kafkajs `createPartitioner` with the DefaultPartitioner's mapping for keyed messages. */
export const Murmur2Partitioner = () => {
  let counter = Math.floor(Math.random() * 2 ** 31)
  return ({
    partitionMetadata,
    message,
  }: {
    partitionMetadata: { partitionId: number; leader: number }[]
    message: { key?: Buffer | string | null; partition?: number }
  }): number => {
    if (message.partition !== undefined && message.partition !== null) return message.partition
    if (message.key !== undefined && message.key !== null) {
      return partitionOf(message.key, partitionMetadata.length)
    }
    return (counter++ & 0x7fffffff) % partitionMetadata.length
  }
}

/**
 * The partition the partitioner above gives a key among `partitions`: the producer uses it too, to
 * budget each partition's batch, so the two can never disagree.
 */
export function partitionOf(key: Uint8Array | string, partitions: number): number {
  return (murmur2(typeof key === 'string' ? Buffer.from(key) : key) & 0x7fffffff) % partitions
}
