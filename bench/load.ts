/**
 * The load generator, run by bench/run.ts as its own process so that it never shares an event
 * loop with what it measures: autocannon POSTs seeded bodies to /v1/events with the sensor tokens
 * in rotation, first for a warm-up that is thrown away, then for the measured window. Prints one
 * line of JSON on stdout.
 *
 *   node dist/bench/load.js '{"url":"http://127.0.0.1:8080","batch":500,...}'
 */
import autocannon from 'autocannon'
import { sensorEvents } from './generator.js'

export interface LoadSpec {
  url: string
  batch: number
  connections: number
  warmupSeconds: number
  durationSeconds: number
  overallRate?: number
  seed: number
  tokens: string[]
  /** Distinct bodies per token; each connection cycles through all of them. */
  bodiesPerToken: number
}

export interface LoadResult {
  seconds: number
  requests2xx: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number }
  bodyBytes: number
  /** The load generator's own peak RSS, MiB. */
  peakRssMiB: number
  /** The load generator's CPU during the measured window, percent of one core. */
  cpuPercent: number
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
  const requests: { method: string; path: string; headers: Record<string, string>; body: string }[] = []
  let bodyBytes = 0
  let seed = spec.seed
  for (let i = 0; i < spec.bodiesPerToken; i++) {
    for (const token of spec.tokens) {
      const events = sensorEvents(spec.batch, seed++)
      const body = JSON.stringify(spec.batch === 1 ? events[0] : events)
      bodyBytes += body.length
      requests.push({
        method: 'POST',
        path: '/v1/events',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      })
    }
  }
  const base = {
    url: spec.url,
    connections: spec.connections,
    requests,
    timeout: 30,
    excludeErrorStats: true,
    ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
  }
  if (spec.warmupSeconds > 0) await autocannon({ ...base, duration: spec.warmupSeconds })
  // bench/run.ts starts its CPU and offset readings on this line.
  process.stderr.write('measuring\n')
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const result = await autocannon({ ...base, duration: spec.durationSeconds })
  const cpu = process.cpuUsage(cpuBefore)
  const cpuPercent = Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - started)) * 100)
  const statusCodes: Record<string, number> = {}
  for (const [code, stats] of Object.entries(result.statusCodeStats)) statusCodes[code] = stats.count
  const output: LoadResult = {
    seconds: result.duration,
    requests2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.mean,
    },
    bodyBytes: Math.round(bodyBytes / requests.length),
    peakRssMiB: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
    cpuPercent,
  }
  process.stdout.write(`${JSON.stringify(output)}\n`)
}

await main()
