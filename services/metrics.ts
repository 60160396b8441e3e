/**
 * A small Prometheus registry: counters, gauges and histograms with bounded label sets, rendered in
 * the text exposition format. Every stage counts the same four things: received, sent, errors (by
 * a bounded error type) and discarded.
 */
type Labels = Record<string, string>

interface Family {
  help: string
  type: 'counter' | 'gauge' | 'histogram'
  series: Map<string, { labels: Labels; value: number; buckets?: number[]; sum?: number }>
}

const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const MAX_SERIES_PER_FAMILY = 10_000

export class Metrics {
  private readonly families = new Map<string, Family>()

  inc(name: string, help: string, labels: Labels, by = 1): void {
    const series = this.series(name, help, 'counter', labels)
    if (series !== undefined) series.value += by
  }

  set(name: string, help: string, labels: Labels, value: number): void {
    const series = this.series(name, help, 'gauge', labels)
    if (series !== undefined) series.value = value
  }

  observe(name: string, help: string, labels: Labels, seconds: number): void {
    const series = this.series(name, help, 'histogram', labels)
    if (series === undefined) return
    series.buckets ??= DEFAULT_BUCKETS.map(() => 0)
    for (let i = 0; i < DEFAULT_BUCKETS.length; i++) if (seconds <= (DEFAULT_BUCKETS[i] ?? 0)) series.buckets[i] = (series.buckets[i] ?? 0) + 1
    series.sum = (series.sum ?? 0) + seconds
    series.value++
  }

  /** The four stage counters, summed by the caller and emitted once per unit of work. */
  stage(stage: string, counts: { received?: number; sent?: number; discarded?: number; discardReason?: string }): void {
    if (counts.received) this.inc('qalqan_events_received_total', 'Events a stage took in.', { stage }, counts.received)
    if (counts.sent) this.inc('qalqan_events_sent_total', 'Events a stage passed on.', { stage }, counts.sent)
    if (counts.discarded) {
      this.inc('qalqan_events_discarded_total', 'Events a stage did not pass on, on purpose or not.', { stage, reason: counts.discardReason ?? 'unknown' }, counts.discarded)
    }
  }

  error(stage: string, errorType: string, by = 1): void {
    this.inc('qalqan_errors_total', 'Errors by stage and a bounded error type.', { stage, error_type: errorType }, by)
  }

  render(): string {
    const lines: string[] = []
    for (const [name, family] of this.families) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`)
      for (const { labels, value, buckets, sum } of family.series.values()) {
        if (family.type !== 'histogram') {
          lines.push(`${name}${formatLabels(labels)} ${value}`)
          continue
        }
        DEFAULT_BUCKETS.forEach((le, i) => lines.push(`${name}_bucket${formatLabels({ ...labels, le: String(le) })} ${buckets?.[i] ?? 0}`))
        lines.push(`${name}_bucket${formatLabels({ ...labels, le: '+Inf' })} ${value}`)
        lines.push(`${name}_sum${formatLabels(labels)} ${sum ?? 0}`, `${name}_count${formatLabels(labels)} ${value}`)
      }
    }
    return `${lines.join('\n')}\n`
  }

  private series(name: string, help: string, type: Family['type'], labels: Labels) {
    let family = this.families.get(name)
    if (family === undefined) {
      family = { help, type, series: new Map() }
      this.families.set(name, family)
    }
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    let series = family.series.get(key)
    if (series === undefined) {
      // A label that outside input could multiply must never grow memory without bound.
      if (family.series.size >= MAX_SERIES_PER_FAMILY) return undefined
      series = { labels, value: 0 }
      family.series.set(key, series)
    }
    return series
  }
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  return `{${entries.map(([key, value]) => `${key}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`
}
