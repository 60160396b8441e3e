/**
 * Producer compression, measured and not wired into services/: the same seeded canonical events
 * sent with kafkajs with no compression, LZ4 (kafkajs-lz4) and ZSTD (@kafkajs/zstd), in sends of
 * `batch` messages with `concurrency` sends in flight (what the collector's sink does under load),
 * acks=-1, each codec to a fresh topic. Reports events/s and the bytes the broker wrote to disk.
 * The codecs live in bench/codecs/ (their own package.json), never in Qalqan's dependencies.
 *
 *   node dist/bench/compression.js '{"brokers":"127.0.0.1:9092","kafkaDataDir":"...","codecsDir":"bench/codecs",...}'
 */
import { readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import kafkajs, { type Message } from 'kafkajs'
import { canonicalEvents } from './generator.js'

export interface CompressionSpec {
  brokers: string
  kafkaDataDir: string
  codecsDir: string
  codecs: ('none' | 'lz4' | 'zstd')[]
  events: number
  batch: number
  concurrency: number
  seed: number
  partitions: number
}

export interface CompressionResult {
  codec: string
  ok: boolean
  problem?: string
  eventsPerSecond?: number
  seconds?: number
  bytesOnDisk?: number
  bytesPerEvent?: number
  rawBytesPerEvent?: number
  ratio?: number
  cpuSeconds?: number
}

// kafkajs is CommonJS: CompressionCodecs is not a named export Node can see.
const { CompressionCodecs, CompressionTypes, Kafka, logLevel, Partitioners } = kafkajs

type Codec = () => {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>
  decompress(buffer: Buffer): Promise<Buffer>
}

function loadCodecs(codecsDir: string): Record<string, string> {
  const problems: Record<string, string> = {}
  const require = createRequire(join(resolve(codecsDir), 'package.json'))
  try {
    const LZ4Codec = require('kafkajs-lz4') as new () => { codec: Codec }
    CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec
  } catch (err) {
    problems['lz4'] = `kafkajs-lz4 did not load: ${(err as Error).message.split('\n')[0]}`
  }
  try {
    const zstd = require('@kafkajs/zstd') as (compression?: unknown, decompression?: unknown) => Codec
    CompressionCodecs[CompressionTypes.ZSTD] = zstd()
  } catch (err) {
    problems['zstd'] = `@kafkajs/zstd did not load: ${(err as Error).message.split('\n')[0]}`
  }
  return problems
}

function logBytes(dataDir: string, topic: string): number {
  let total = 0
  for (const entry of readdirSync(dataDir)) {
    if (!entry.startsWith(`${topic}-`)) continue
    for (const file of readdirSync(join(dataDir, entry)))
      if (file.endsWith('.log')) total += statSync(join(dataDir, entry, file)).size
  }
  return total
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as CompressionSpec
  const problems = loadCodecs(spec.codecsDir)
  const kafka = new Kafka({
    clientId: 'bench-compression',
    brokers: spec.brokers.split(','),
    logLevel: logLevel.NOTHING,
  })
  const admin = kafka.admin()
  await admin.connect()
  const events = canonicalEvents(spec.events, spec.seed)
  const messages: Message[] = events.map((event) => ({ key: event.event_id, value: JSON.stringify(event) }))
  const rawBytes = messages.reduce((sum, message) => sum + (message.value as string).length, 0)
  const results: CompressionResult[] = []
  for (const codec of spec.codecs) {
    if (problems[codec] !== undefined) {
      results.push({ codec, ok: false, problem: problems[codec] })
      continue
    }
    const topic = `bench.compression.${codec}.${Date.now()}`
    await admin.createTopics({
      topics: [{ topic, numPartitions: spec.partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    })
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    })
    await producer.connect()
    const compression =
      codec === 'lz4' ? CompressionTypes.LZ4 : codec === 'zstd' ? CompressionTypes.ZSTD : CompressionTypes.None
    try {
      // A short warm-up on the same topic so JIT and connections do not count against the first codec.
      await producer.send({ topic, acks: -1, compression, messages: messages.slice(0, spec.batch) })
      const cpuBefore = process.cpuUsage()
      const started = process.hrtime.bigint()
      let next = 0
      const sender = async () => {
        while (next < messages.length) {
          const from = next
          next += spec.batch
          await producer.send({ topic, acks: -1, compression, messages: messages.slice(from, from + spec.batch) })
        }
      }
      await Promise.all(Array.from({ length: spec.concurrency }, sender))
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const cpu = process.cpuUsage(cpuBefore)
      // Give the broker a moment to flush the last segment's bytes to the page cache's view of the file.
      await new Promise((done) => setTimeout(done, 500))
      const bytesOnDisk = logBytes(spec.kafkaDataDir, topic)
      const sent = messages.length + spec.batch
      results.push({
        codec,
        ok: true,
        eventsPerSecond: Math.round(messages.length / seconds),
        seconds: Math.round(seconds * 100) / 100,
        bytesOnDisk,
        bytesPerEvent: Math.round((bytesOnDisk / sent) * 10) / 10,
        rawBytesPerEvent: Math.round((rawBytes / messages.length) * 10) / 10,
        ratio: Math.round((((rawBytes / messages.length) * sent) / bytesOnDisk) * 100) / 100,
        cpuSeconds: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100,
      })
    } catch (err) {
      results.push({ codec, ok: false, problem: `send failed: ${(err as Error).message}` })
    } finally {
      await producer.disconnect()
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined)
    }
  }
  await admin.disconnect()
  process.stdout.write(`${JSON.stringify(results)}\n`)
}

await main()
