import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Partitioners } from 'kafkajs'
import { Murmur2Partitioner } from '../../../services/kafka/murmur2.js'

t.test("the fast partitioner puts every key where kafkajs's DefaultPartitioner does", async (t) => {
  const ours = Murmur2Partitioner()
  const theirs = Partitioners.DefaultPartitioner()
  for (const partitions of [1, 3, 6, 12, 64]) {
    const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 1,
      partitionErrorCode: 0,
      replicas: [1],
      isr: [1],
    }))
    let mismatches = 0
    for (let i = 0; i < 5_000; i++) {
      const key = i % 7 === 0 ? `sensor-${i}` : randomUUID()
      const message = { key, value: '' }
      if (ours({ partitionMetadata, message }) !== theirs({ topic: 't', partitionMetadata, message })) mismatches++
    }
    t.equal(mismatches, 0, `${partitions} partitions`)
  }
  const partitionMetadata = [0, 1, 2].map((partitionId) => ({ partitionId, leader: 1 }))
  t.equal(ours({ partitionMetadata, message: { key: 'x', partition: 2 } }), 2, 'an explicit partition wins')
  const keyless = new Set(Array.from({ length: 30 }, () => ours({ partitionMetadata, message: { key: null } })))
  t.equal(keyless.size, 3, 'keyless messages go round the partitions')
})
