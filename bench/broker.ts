/**
 * The suite's own client of the throwaway broker: the topics each case creates and deletes, the
 * offsets its figures are read from, and a plain producer to pre-fill a topic. kafkajs directly:
 * the Kafka wing (services/kafka) has no admin beyond creating Qalqan's two configured topics.
 */
import { type Admin, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs'
import { log } from './log.js'

export class Broker {
  private constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
  ) {}

  static async connect(brokers: string): Promise<Broker> {
    const kafka = new Kafka({ clientId: 'bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    return new Broker(kafka, admin)
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    await this.admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    })
  }

  /** Never fails: a topic left behind dies with the throwaway broker. */
  async deleteTopic(topic: string): Promise<void> {
    await this.admin
      .deleteTopics({ topics: [topic], timeout: 10_000 })
      .catch((err: unknown) => log(`could not delete ${topic}: ${(err as Error).message}`))
  }

  /** Messages written to the topic so far: the sum of its partitions' end offsets. */
  async topicEnd(topic: string): Promise<number> {
    const offsets = await this.admin.fetchTopicOffsets(topic)
    return offsets.reduce((sum, partition) => sum + Number(partition.high), 0)
  }

  /** Messages of the topic that the group has committed (a partition never committed counts 0). */
  async committed(groupId: string, topic: string): Promise<number> {
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] })
    return (entry?.partitions ?? []).reduce((sum, partition) => sum + Math.max(0, Number(partition.offset)), 0)
  }

  /** The group's committed offset of each partition of the topic (a partition never committed: 0). */
  async committedByPartition(groupId: string, topic: string): Promise<Map<number, number>> {
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] })
    return new Map((entry?.partitions ?? []).map((p) => [p.partition, Math.max(0, Number(p.offset))]))
  }

  /** kafkajs's default producer: keyed messages land where the collector's murmur2 puts them. */
  producer(): Producer {
    return this.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  }

  async disconnect(): Promise<void> {
    await this.admin.disconnect()
  }
}
