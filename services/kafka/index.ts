/**
 * The Kafka wing: the only place that imports kafkajs. The roles see the interfaces and the
 * connection, so replacing or tuning the client touches this folder alone.
 */
export { connectKafka, type KafkaConnection } from './client.js'
export { KafkaConsumer } from './consumer.js'
export type { BatchHandler, EventSender, Message, PartitionBatch, RejectedRecord } from './interfaces.js'
export { KafkaProducer } from './producer.js'
export type { TopicMessage, TopicRead, TopicReader } from './topic-reader.js'
