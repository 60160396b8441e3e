/**
 * Kafka's own Java producer (ProducerPerformance) on the same broker: what the broker takes from a
 * client that is not Node, the reference for the collector's figures.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import type { Broker } from './broker.js'
import type { ProducerPerfCase } from './cases.js'
import { start, waitExit } from './procs.js'
import type { ProducerPerfFigure } from './results.js'
import { BROKERS, ROOT, RUN_ID } from './settings.js'

// Its summary: "N records sent, R records/sec (M MB/sec), A ms avg latency, ..., P ms 50th, _ ms 95th, Q ms 99th"
const SUMMARY =
  /([\d.]+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency.*?(\d+) ms 50th, \d+ ms 95th, (\d+) ms 99th/

export async function runProducerPerf(broker: Broker, spec: ProducerPerfCase): Promise<ProducerPerfFigure> {
  const topic = `bench.producer-perf.${RUN_ID}`
  await broker.createTopic(topic, spec.partitions)
  const kafkaSh = join(ROOT, 'deploy', 'kafka', 'kafka.sh')
  const classpath = execFileSync('bash', [kafkaSh, 'classpath'], { encoding: 'utf8' }).trim()
  const proc = start(
    'producer-perf',
    'java',
    [
      '-Xmx512m',
      '-cp',
      classpath,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(spec.records),
      '--record-size',
      String(spec.recordSize),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${BROKERS}`,
      'acks=all',
    ],
    {},
    ROOT,
  )
  try {
    const code = await waitExit(proc, 180_000)
    const line =
      proc.stdout
        .trim()
        .split('\n')
        .filter((l) => l.includes('records sent'))
        .at(-1) ?? ''
    const match = SUMMARY.exec(line)
    if (code !== 0 || match === null) {
      const output = `${proc.stdout.slice(-800)} ${proc.stderr.slice(-800)}`
      throw new Error(`ProducerPerformance failed (exit ${code}): ${output}`)
    }
    return {
      records: spec.records,
      recordSize: spec.recordSize,
      recordsPerSecond: Math.round(Number(match[2])),
      mbPerSecond: Number(match[3]),
      avgLatencyMs: Number(match[4]),
      p50Ms: Number(match[5]),
      p99Ms: Number(match[6]),
      line,
    }
  } finally {
    await broker.deleteTopic(topic)
  }
}
