/**
 * The freshness case: a collector and a worker+query process under a sustained load, while probes
 * go in and the query API is polled for them. Freshness is the time from a probe's 202 to the
 * first answer that shows it.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Broker } from './broker.js'
import type { FreshnessCase } from './cases.js'
import { Probes } from './freshness-probes.js'
import { LagSampler } from './lag-sampler.js'
import { CpuWindow, freePort, MachineCpu, otherCpu, peakRssMiB, peakRssTreeMiB, stop, waitHttp } from './procs.js'
import type { FreshnessFigure, ProbeDelays } from './results.js'
import { runLoad } from './run-load.js'
import { ANALYST_TOKEN, KAFKA_PID, RUN_ID, SENSOR_TOKENS, TMP } from './settings.js'
import { startQalqan } from './start-qalqan.js'
import { percentile } from './stats.js'
import { VisibilityPolls } from './visibility-polls.js'

/** The probes' minutes run up to a few hours ahead: the time rule lets them through in this case only. */
const PROBES_AHEAD_SECONDS = 6 * 3600

export async function runFreshness(broker: Broker, spec: FreshnessCase): Promise<FreshnessFigure> {
  const topic = `bench.freshness.${RUN_ID}`
  const groupId = `bench-freshness-${RUN_ID}`
  const [collectorPort, queryPort, workerPort] = [await freePort(), await freePort(), await freePort()]
  // Two processes with a public port: each has an ops port of its own.
  const [collectorOpsPort, queryOpsPort] = [await freePort(), await freePort()]
  const dataDir = join(TMP, 'freshness')
  const collector = startQalqan('collector', {
    QALQAN_WORKER_MAX_FUTURE_SECONDS: String(PROBES_AHEAD_SECONDS),
    QALQAN_COLLECTOR_PORT: String(collectorPort),
    QALQAN_OPS_PORT: String(collectorOpsPort),
    QALQAN_KAFKA_TOPIC_EVENTS: topic,
    QALQAN_KAFKA_CLIENT_ID: 'bench-collector',
  })
  await waitHttp(`http://127.0.0.1:${collectorPort}/readyz`, 60_000, collector)
  const workerQuery = startQalqan('worker,query', {
    QALQAN_KAFKA_TOPIC_EVENTS: topic,
    QALQAN_KAFKA_CLIENT_ID: 'bench-worker',
    QALQAN_WORKER_GROUP: groupId,
    QALQAN_WORKER_PORT: String(workerPort),
    QALQAN_QUERY_PORT: String(queryPort),
    QALQAN_OPS_PORT: String(queryOpsPort),
    QALQAN_WORKER_MAX_FUTURE_SECONDS: String(PROBES_AHEAD_SECONDS),
    QALQAN_DATA_DIR: dataDir,
  })
  try {
    await waitHttp(`http://127.0.0.1:${queryPort}/healthz`, 90_000, workerQuery)
    await waitHttp(`http://127.0.0.1:${workerPort}/healthz`, 90_000, workerQuery)

    // Each probe is dated in a minute of its own, ahead of now, where no load event falls (the
    // load's are in the last minutes): the polled range ends after now, as a dashboard's does, so
    // the answer cache must not hold it back.
    const base = Math.floor(Date.now() / 60_000) * 60_000 + 2 * 60_000
    const maxProbes = Math.ceil((spec.durationSeconds * 1000) / spec.probeEveryMs) + 5
    const probes = new Probes({
      url: `http://127.0.0.1:${collectorPort}`,
      token: SENSOR_TOKENS[2],
      base,
      count: maxProbes,
      everyMs: spec.probeEveryMs,
    })
    const polls = new VisibilityPolls({
      url: `http://127.0.0.1:${queryPort}`,
      token: ANALYST_TOKEN,
      base,
      probes: maxProbes,
      everyMs: spec.pollEveryMs,
    })
    const lag = new LagSampler(broker, groupId, topic)
    let measuring = false
    const cpu = new CpuWindow()
    const machine = new MachineCpu()
    polls.start()
    const result = await runLoad(
      {
        url: `http://127.0.0.1:${collectorPort}`,
        batch: spec.batch,
        connections: spec.connections,
        warmupSeconds: spec.warmupSeconds,
        durationSeconds: spec.durationSeconds,
        overallRate: Math.round(spec.eventsPerSecond / spec.batch),
        seed: spec.seed,
        tokens: SENSOR_TOKENS,
        bodiesPerToken: 20,
      },
      () => {
        measuring = true
        cpu.begin([collector.pid, workerQuery.pid, KAFKA_PID, process.pid], [collector.pid])
        machine.begin()
        probes.start()
        lag.start()
      },
    )
    probes.stop()
    await lag.stop()
    const shares = cpu.end()
    const machineShare = machine.end()
    if (!measuring) throw new Error('the load generator never started measuring')
    const lagAtEnd = (await broker.topicEnd(topic)) - (await broker.committed(groupId, topic).catch(() => 0))
    await probes.settled()
    // The last probes get up to probeTimeoutSeconds to show.
    const timeoutMs = spec.probeTimeoutSeconds * 1000
    const deadline = performance.now() + timeoutMs
    const unseen = (t: number | undefined, i: number) =>
      t !== undefined && (polls.fresh[i] === undefined || polls.repeated[i] === undefined)
    while (performance.now() < deadline && probes.acceptedAt.some(unseen)) await sleep(100)
    await polls.stop()
    const peakCollector = peakRssTreeMiB(collector.pid)
    const peakWorkerQuery = peakRssMiB(workerQuery.pid)
    return {
      targetEventsPerSecond: spec.eventsPerSecond,
      ...probeDelays(probes.acceptedAt, polls.fresh, timeoutMs),
      repeated: probeDelays(probes.acceptedAt, polls.repeated, timeoutMs),
      endpoint: `/v1/${polls.endpoint}`,
      failedProbes: probes.failed,
      load: {
        eventsPerSecond: Math.round((result.requests2xx * spec.batch) / result.seconds),
        p50Ms: result.latencyMs.p50,
        p99Ms: result.latencyMs.p99,
        non2xx: result.non2xx,
        seconds: result.seconds,
      },
      lagAtEnd,
      lagSlope: lag.slope(),
      writeRate: lag.writeRate(),
      lagMax: lag.max(),
      lagSamples: lag.samples.length,
      polls: polls.polls,
      pollFailures: polls.failures,
      lastPollProblem: polls.lastProblem,
      cpu: {
        ...(shares.get(collector.pid) !== undefined ? { collector: shares.get(collector.pid) } : {}),
        ...(shares.get(workerQuery.pid) !== undefined ? { workerQuery: shares.get(workerQuery.pid) } : {}),
        ...(shares.get(KAFKA_PID) !== undefined ? { broker: shares.get(KAFKA_PID) } : {}),
        load: result.cpuPercent,
        bench: shares.get(process.pid),
        other: otherCpu(machineShare, shares, result.cpuPercent),
        machine: machineShare,
      },
      peakRssMiB: {
        ...(peakCollector !== undefined ? { collector: peakCollector } : {}),
        ...(peakWorkerQuery !== undefined ? { workerQuery: peakWorkerQuery } : {}),
        load: result.peakRssMiB,
      },
    }
  } finally {
    await stop(collector)
    await stop(workerQuery, 30_000)
    await broker.deleteTopic(topic)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

type Times = (number | undefined)[]

/** From each accepted probe's 202 to the first answer that showed it; a probe never seen counts as `timeoutMs`. */
function probeDelays(acceptedAt: Times, seenAt: Times, timeoutMs: number): ProbeDelays {
  const delays: number[] = []
  let lost = 0
  acceptedAt.forEach((t, i) => {
    if (t === undefined) return
    const seen = seenAt[i]
    if (seen === undefined) {
      lost++
      delays.push(timeoutMs)
    } else delays.push(seen - t)
  })
  delays.sort((a, b) => a - b)
  return {
    probes: delays.length,
    seen: delays.length - lost,
    lost,
    p50Ms: Math.round(percentile(delays, 50)),
    p99Ms: Math.round(percentile(delays, 99)),
    maxMs: Math.round(delays.at(-1) ?? 0),
    minMs: Math.round(delays[0] ?? 0),
  }
}
