/**
 * The worker case: one worker process drains a pre-filled topic into the embedded ClickHouse; its
 * rate is read from the group's committed offsets (the events in the messages before them), every 100 ms.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Broker } from './broker.js'
import type { WorkerCase } from './cases.js'
import { type FilledTopic, fillWorkerTopic } from './fill-worker-topic.js'
import { CpuWindow, freePort, MachineCpu, otherCpu, peakRssMiB, stop } from './procs.js'
import type { WorkerFigure } from './results.js'
import { metric, scrape } from './scrape-metrics.js'
import { KAFKA_PID, RUN_ID, TMP } from './settings.js'
import { startQalqan } from './start-qalqan.js'
import { round } from './stats.js'

/**
 * The worker case and its profile drain the same topic: it is filled once, on first use, and
 * deleted when the suite ends. Each run has a group and a data folder of its own.
 */
export class WorkerRuns {
  private filled: FilledTopic | undefined
  private runs = 0

  constructor(private readonly broker: Broker) {}

  /** With `profileDir`, the worker runs under --cpu-prof. */
  async run(spec: WorkerCase, profileDir?: string): Promise<WorkerFigure> {
    this.filled ??= await fillWorkerTopic(this.broker, spec)
    const { topic, events, fill } = this.filled
    this.runs++
    const groupId = `bench-worker-${RUN_ID}-${this.runs}`
    const port = await freePort()
    const dataDir = join(TMP, `worker-${this.runs}`)
    const spawnedAt = performance.now()
    const settings = {
      QALQAN_KAFKA_TOPIC_EVENTS: topic,
      QALQAN_KAFKA_CLIENT_ID: 'bench-worker',
      QALQAN_WORKER_GROUP: groupId,
      QALQAN_WORKER_PORT: String(port),
      QALQAN_DATA_DIR: dataDir,
    }
    const worker = startQalqan('worker', settings, profileDir)
    const cpu = new CpuWindow()
    const machine = new MachineCpu()
    try {
      const deadline = performance.now() + spec.timeoutSeconds * 1000
      let first: { at: number; committed: number } | undefined
      let last = { at: performance.now(), committed: 0 }
      while (performance.now() < deadline) {
        if (worker.child.exitCode !== null) throw new Error(`the worker exited: ${worker.stderr.slice(-2000)}`)
        const now = await this.broker
          .committedByPartition(groupId, topic)
          .then((committed) => this.filled?.eventsBefore(committed) ?? 0)
          .catch(() => 0)
        const at = performance.now()
        // The window starts at the first commit: startup (chdb, migrations, group join) is apart.
        if (now > 0 && first === undefined) {
          first = { at, committed: now }
          cpu.begin([worker.pid, KAFKA_PID, process.pid])
          machine.begin()
        }
        last = { at, committed: now }
        if (now >= events) break
        await sleep(100)
      }
      const shares = first === undefined ? new Map<number, number>() : cpu.end()
      const machineShare = first === undefined ? 0 : machine.end()
      const metrics = await scrape(`http://127.0.0.1:${port}/metrics`)
      const inserts = metric(metrics, 'qalqan_clickhouse_insert_seconds_count')
      const insertSeconds = metric(metrics, 'qalqan_clickhouse_insert_seconds_sum')
      const rows = metric(metrics, 'qalqan_clickhouse_rows_total')
      const drainSeconds = first === undefined ? 0 : (last.at - first.at) / 1000
      const sinceSpawn = (last.at - spawnedAt) / 1000
      const peak = peakRssMiB(worker.pid)
      return {
        events,
        done: last.committed >= events,
        committed: last.committed,
        eventsPerSecond:
          first === undefined || drainSeconds === 0 ? 0 : Math.round((last.committed - first.committed) / drainSeconds),
        eventsPerSecondFromStart: Math.round(last.committed / sinceSpawn),
        startupSeconds: round(((first?.at ?? last.at) - spawnedAt) / 1000, 2),
        drainSeconds: round(drainSeconds, 2),
        ...(rows > 0 ? { rowsInserted: rows } : {}),
        ...(inserts > 0
          ? {
              inserts,
              meanInsertMs: round((insertSeconds / inserts) * 1000, 1),
              insertShare: drainSeconds > 0 ? round(insertSeconds / sinceSpawn, 2) : 0,
            }
          : {}),
        cpu: {
          ...(shares.get(worker.pid) !== undefined ? { worker: shares.get(worker.pid) } : {}),
          ...(shares.get(KAFKA_PID) !== undefined ? { broker: shares.get(KAFKA_PID) } : {}),
          bench: shares.get(process.pid),
          other: otherCpu(machineShare, shares),
          machine: machineShare,
        },
        ...(peak !== undefined ? { peakRssMiB: peak } : {}),
        fill,
      }
    } finally {
      await stop(worker, 30_000)
      rmSync(dataDir, { recursive: true, force: true })
    }
  }

  /** Deletes the filled topic, if one was filled. */
  async deleteTopic(): Promise<void> {
    if (this.filled !== undefined) await this.broker.deleteTopic(this.filled.topic)
  }
}
