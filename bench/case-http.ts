/**
 * An HTTP case: load on one target (the collector, the ceiling, the naive baseline or the reference server) for a
 * measured window, with the CPU and memory of every process involved and, where there is a topic,
 * the messages that reached it.
 */
import { join } from 'node:path'
import type { Broker } from './broker.js'
import type { HttpCase } from './cases.js'
import { CpuWindow, freePort, MachineCpu, otherCpu, peakRssTreeMiB, type Proc, start, stop, waitHttp } from './procs.js'
import type { HttpFigure } from './results.js'
import { runLoad } from './run-load.js'
import { metric, scrape } from './scrape-metrics.js'
import {
  ASSETS_FILE,
  BROKERS,
  DIST_BENCH,
  KAFKA_PID,
  REFERENCE_SERVER,
  ROOT,
  RUN_ID,
  SENSOR_TOKENS,
  TOKENS_FILE,
} from './settings.js'
import { nodeArgs, startQalqan } from './start-qalqan.js'
import { round } from './stats.js'

/** Figures of one HTTP case; with `profileDir`, the target process runs under --cpu-prof. */
export async function runHttp(broker: Broker, spec: HttpCase, profileDir?: string): Promise<HttpFigure> {
  const port = await freePort()
  // The collector's metrics are on its ops port, apart from the port the load goes to.
  const opsPort = await freePort()
  const topic = `bench.${spec.name}.${RUN_ID}${profileDir ? '.prof' : ''}`
  const target = await startTarget(broker, spec, port, opsPort, topic, profileDir)
  const url = `http://127.0.0.1:${port}`
  try {
    await waitHttp(`${url}/${spec.target === 'collector' ? 'readyz' : 'healthz'}`, 60_000, target)
    const cpu = new CpuWindow()
    const machine = new MachineCpu()
    let offsetsBefore: Promise<number> | undefined
    const hasTopic = spec.target !== 'ceiling'
    const result = await runLoad(
      {
        url,
        batch: spec.batch,
        connections: spec.connections,
        warmupSeconds: spec.warmupSeconds,
        durationSeconds: spec.durationSeconds,
        ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
        seed: spec.seed,
        tokens: SENSOR_TOKENS,
        bodiesPerToken: Math.min(200, Math.max(2, Math.ceil(2000 / spec.batch))),
      },
      () => {
        cpu.begin([target.pid, KAFKA_PID, process.pid], [target.pid])
        machine.begin()
        if (hasTopic) offsetsBefore = broker.topicEnd(topic).catch(() => -1)
      },
    )
    // The window ends when the load process exits; it reports its own CPU.
    const shares = cpu.end()
    const machineShare = machine.end()
    let recordsInTopic: number | undefined
    if (hasTopic && offsetsBefore !== undefined) {
      const before = await offsetsBefore
      recordsInTopic = before < 0 ? undefined : (await broker.topicEnd(topic)) - before
    }
    const kafkaSends = spec.target === 'collector' ? await collectorSends(`http://127.0.0.1:${opsPort}`) : undefined
    const peak = peakRssTreeMiB(target.pid)
    const figure: HttpFigure = {
      name: spec.name,
      target: spec.target,
      batch: spec.batch,
      connections: spec.connections,
      seconds: result.seconds,
      eventsPerSecond: Math.round((result.requests2xx * spec.batch) / result.seconds),
      requestsPerSecond: Math.round(result.requests2xx / result.seconds),
      latencyMs: result.latencyMs,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      statusCodes: result.statusCodes,
      bodyBytes: result.bodyBytes,
      cpu: {
        ...(shares.get(target.pid) !== undefined ? { target: shares.get(target.pid) } : {}),
        ...(shares.get(KAFKA_PID) !== undefined && hasTopic ? { broker: shares.get(KAFKA_PID) } : {}),
        load: result.cpuPercent,
        bench: shares.get(process.pid),
        other: otherCpu(machineShare, shares, result.cpuPercent),
        machine: machineShare,
      },
      peakRssMiB: { ...(peak !== undefined ? { target: peak } : {}), load: result.peakRssMiB },
      ...(recordsInTopic !== undefined ? { recordsInTopic } : {}),
      ...(kafkaSends ? { kafkaSends } : {}),
    }
    return figure
  } finally {
    await stop(target)
    if (spec.target !== 'ceiling') await broker.deleteTopic(topic)
  }
}

/** The collector creates its topic itself; the naive baseline is given one; the ceiling has none. */
async function startTarget(
  broker: Broker,
  spec: HttpCase,
  port: number,
  opsPort: number,
  topic: string,
  profileDir: string | undefined,
): Promise<Proc> {
  if (spec.target === 'collector') {
    const settings = {
      QALQAN_COLLECTOR_PORT: String(port),
      QALQAN_OPS_PORT: String(opsPort),
      QALQAN_KAFKA_TOPIC_EVENTS: topic,
      QALQAN_KAFKA_CLIENT_ID: 'bench-collector',
    }
    return startQalqan('collector', settings, profileDir)
  }
  const node = (program: string, args: string[], env: Record<string, string>): Proc =>
    start(spec.target, process.execPath, [...nodeArgs(profileDir), join(DIST_BENCH, program), ...args], env, ROOT)
  if (spec.target === 'ceiling') return node('ceiling-server.js', [String(port)], {})
  await broker.createTopic(topic, 6)
  if (spec.target === 'reference') {
    const args = [
      '-listen',
      `127.0.0.1:${port}`,
      '-brokers',
      BROKERS,
      '-topic',
      topic,
      '-tokens',
      SENSOR_TOKENS.join(','),
    ]
    return start('reference', REFERENCE_SERVER, args, {}, ROOT)
  }
  return node('naive-collector.js', [String(port), BROKERS, topic], {
    QALQAN_TOKENS_FILE: TOKENS_FILE,
    QALQAN_ASSETS_FILE: ASSETS_FILE,
  })
}

/** Events per Kafka send and the mean send time, from the collector's own metrics (`url`: its ops port). */
async function collectorSends(url: string): Promise<HttpFigure['kafkaSends']> {
  const metrics = await scrape(`${url}/metrics`)
  const sends = metric(metrics, 'qalqan_kafka_produce_seconds_count')
  const sent = metric(metrics, 'qalqan_events_sent_total{stage="kafka"}')
  const secondsSum = metric(metrics, 'qalqan_kafka_produce_seconds_sum')
  if (sends > 0) return { sends, meanEvents: round(sent / sends, 1), meanMs: round((secondsSum / sends) * 1000, 1) }
  return undefined
}
