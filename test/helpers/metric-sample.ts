import type { Metrics } from '../../services/metrics.js'

/** `name{b="2",a="1"}` as `name{a="1",b="2"}`: the order prom-client writes labels in does not matter. */
function canonical(series: string): string {
  const match = /^([^{\s]+)(?:\{(.*)\})?$/.exec(series)
  if (match === null) throw new Error(`not a series: ${series}`)
  const labels = [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([label]) => label).sort()
  return labels.length === 0 ? (match[1] ?? '') : `${match[1]}{${labels.join(',')}}`
}

/** The value of one series, e.g. `qalqan_events_received_total{stage="store"}`, in the rendered metrics; 0 when it has no sample. */
export async function sample(metrics: Metrics, series: string): Promise<number> {
  const wanted = canonical(series)
  for (const line of (await metrics.render()).split('\n')) {
    if (line.startsWith('#') || line === '') continue
    const space = line.lastIndexOf(' ')
    if (canonical(line.slice(0, space)) === wanted) return Number(line.slice(space + 1))
  }
  return 0
}
