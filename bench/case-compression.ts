/** The compression case: bench/compression.ts in its own process, with the codecs of bench/codecs/. */
import { join } from 'node:path'
import type { CompressionCase } from './cases.js'
import type { CompressionResult, CompressionSpec } from './compression.js'
import { start, waitExit } from './procs.js'
import { BENCH, BROKERS, DIST_BENCH, KAFKA_DIR, ROOT } from './settings.js'

export async function runCompression(spec: CompressionCase): Promise<CompressionResult[]> {
  const input: CompressionSpec = {
    brokers: BROKERS,
    // Where the broker writes its logs: the bytes on disk per codec are read from there.
    kafkaDataDir: join(KAFKA_DIR, 'data'),
    codecsDir: join(BENCH, 'codecs'),
    codecs: [...spec.codecs],
    events: spec.events,
    batch: spec.batch,
    concurrency: spec.concurrency,
    seed: spec.seed,
    partitions: 6,
  }
  const args = [join(DIST_BENCH, 'compression.js'), JSON.stringify(input)]
  const proc = start('compression', process.execPath, args, {}, ROOT)
  const code = await waitExit(proc, 240_000)
  const line = proc.stdout.trim().split('\n').at(-1) ?? ''
  if (code !== 0 || !line.startsWith('[')) {
    throw new Error(`compression.js failed (exit ${code}): ${proc.stderr.slice(-1500)}`)
  }
  return JSON.parse(line) as CompressionResult[]
}
