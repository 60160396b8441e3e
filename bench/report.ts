/**
 * bench/RESULTS.md and bench/throughput.svg from one run's figures (and the previous run's, for
 * the run-to-run spread). The hand-written analysis lives in bench/FINDINGS.md and is included
 * as it is, under its own heading, so a re-run never overwrites it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { TARGETS } from './cases.js'
import type { FreshnessFigure, HttpFigure, Results } from './results.js'

const int = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US')
const pct = (n: number | undefined) => (n === undefined ? '–' : `${n}%`)
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)}×`
const mark = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? '**pass**' : '**MISS**')

/** The target's CPU per accepted event, in µs: steadier than events/s when others share the cores. */

/** The engine limit's figure for inserts as the worker makes them (engine-limit.ts). */
const TOKENS_FORMAT = 'TabSeparated, deduplication tokens'

/**
 * Sustained means the worker kept up: its lag grew by at most 2% of what was written per second
 * (Kafka messages; events in runs from before the collector wrote several events per message).
 */
function lagSteady(f: FreshnessFigure): boolean {
  return (f.lagSlope ?? 0) <= 0.02 * (f.writeRate ?? f.targetEventsPerSecond)
}

function lagUnit(f: FreshnessFigure): string {
  return f.writeRate === undefined ? 'events' : 'messages'
}

function cpuMicros(f: HttpFigure | undefined): number | undefined {
  if (f === undefined || f.cpu.target === undefined || f.eventsPerSecond === 0) return undefined
  return (f.cpu.target * 10_000) / f.eventsPerSecond
}

function cpuPerEvent(f: HttpFigure | undefined): string {
  return cpuMicros(f)?.toFixed(1) ?? '–'
}

function find(results: Results, target: string, batch: number): HttpFigure | undefined {
  return results.http.find((f) => f.target === target && f.batch === batch)
}

interface TargetRow {
  target: string
  figure: string
  measured: string
  ok: boolean | undefined
}

const share = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b
const percent = (value: number | undefined) => (value === undefined ? '–' : `${(value * 100).toFixed(1)}%`)

function targetRows(r: Results): TargetRow[] {
  const rows: TargetRow[] = []
  for (const batch of [100, 500, 1000]) {
    const c = find(r, 'collector', batch)
    const reference = find(r, 'reference', batch)
    const ofReference = share(c?.eventsPerSecond, reference?.eventsPerSecond)
    rows.push({
      target: `batches of ${batch}: ≥ ${TARGETS.batchedShareOfReference * 100}% of the reference server's events/s`,
      figure: `collector / reference-batch-${batch}`,
      measured: `${percent(ofReference)} (${int(c?.eventsPerSecond)} / ${int(reference?.eventsPerSecond)})`,
      ok: ofReference === undefined ? undefined : ofReference >= TARGETS.batchedShareOfReference,
    })
    const micros = cpuMicros(c)
    rows.push({
      target: `batches of ${batch}: ≤ ${TARGETS.batchedCpuMicrosPerEvent} µs of collector CPU per event`,
      figure: `collector-batch-${batch}`,
      measured: micros === undefined ? '–' : `${micros.toFixed(1)} µs (reference: ${cpuPerEvent(reference)} µs)`,
      ok: micros === undefined ? undefined : micros <= TARGETS.batchedCpuMicrosPerEvent,
    })
    if (batch === 100)
      rows.push({
        target: `batches of ${batch}: p99 < ${TARGETS.batchedP99Ms} ms`,
        figure: `collector-batch-${batch}`,
        measured: `p99 ${c?.latencyMs.p99 ?? '–'} ms`,
        ok: c === undefined ? undefined : c.latencyMs.p99 < TARGETS.batchedP99Ms,
      })
  }
  const single = find(r, 'collector', 1)
  const singleCeiling = find(r, 'ceiling', 1)
  const singleShare = share(single?.eventsPerSecond, singleCeiling?.eventsPerSecond)
  rows.push({
    target: `single-event posts: ≥ ${TARGETS.singleShareOfCeiling * 100}% of the single-event ceiling`,
    figure: 'collector / ceiling-single',
    measured: `${percent(singleShare)} (${int(single?.eventsPerSecond)} / ${int(singleCeiling?.eventsPerSecond)})`,
    ok: singleShare === undefined ? undefined : singleShare >= TARGETS.singleShareOfCeiling,
  })
  const w = r.worker
  rows.push({
    target: `worker: ≥ ${int(TARGETS.workerEventsPerSecond)} events/s per process`,
    figure: 'worker',
    measured: w === undefined ? '–' : `${int(w.eventsPerSecond)} events/s${w.done ? '' : ' (did not finish in time)'}`,
    ok: w === undefined ? undefined : w.done && w.eventsPerSecond >= TARGETS.workerEventsPerSecond,
  })
  const e = r.engine
  const ofEngine = share(w?.eventsPerSecond, e?.withViews.rowsPerSecond)
  rows.push({
    target: `worker: ≥ ${TARGETS.workerShareOfEngine * 100}% of the engine's own insert limit`,
    figure: 'worker / engine-limit',
    measured: `${percent(ofEngine)} (${int(w?.eventsPerSecond)} / ${int(e?.withViews.rowsPerSecond)} rows/s, ${e?.format ?? '–'} with the views)`,
    ok: ofEngine === undefined ? undefined : ofEngine >= TARGETS.workerShareOfEngine,
  })
  const f = r.freshness
  const rateHeld = f === undefined ? undefined : f.load.eventsPerSecond >= 0.95 * TARGETS.freshnessRate
  // Sustained means the worker keeps up: a lag still growing by more than 2% of the rate would
  // make freshness grow without bound, whatever p99 this window happened to show.
  const keptUp = f === undefined ? undefined : lagSteady(f)
  rows.push({
    target: `freshness: p99 ≤ ${TARGETS.freshnessP99Ms / 1000} s at a sustained ${int(TARGETS.freshnessRate)} events/s, fresh and repeated queries`,
    figure: 'freshness',
    measured:
      f === undefined
        ? '–'
        : `fresh query: p99 ${int(f.p99Ms)} ms (p50 ${int(f.p50Ms)} ms); repeated identical query (answer cache): p99 ${int(f.repeated.p99Ms)} ms; at ${int(f.load.eventsPerSecond)} events/s; ${f.lost} of ${f.probes} probes not seen in ${r.freshnessTimeoutSeconds ?? '–'} s; worker lag ${keptUp ? 'steady' : `still growing by ${int(f.lagSlope)} ${lagUnit(f)}/s at the end: not sustained`}`,
    ok:
      f === undefined
        ? undefined
        : f.p99Ms <= TARGETS.freshnessP99Ms &&
          f.repeated.p99Ms <= TARGETS.freshnessP99Ms &&
          f.lost === 0 &&
          rateHeld === true &&
          keptUp === true,
  })
  const collectorPeaks = r.http.filter((h) => h.target === 'collector').map((h) => h.peakRssMiB.target ?? 0)
  const collectorPeak = collectorPeaks.length > 0 ? Math.max(...collectorPeaks) : undefined
  rows.push({
    target: `memory: collector peak RSS ≤ ${TARGETS.collectorPeakRssMiB} MiB (largest process)`,
    figure: 'collector-*',
    measured: collectorPeak === undefined ? '–' : `${collectorPeak} MiB`,
    ok: collectorPeak === undefined ? undefined : collectorPeak <= TARGETS.collectorPeakRssMiB,
  })
  rows.push({
    target: `memory: worker peak RSS ≤ ${int(TARGETS.workerPeakRssMiB)} MiB`,
    figure: 'worker',
    measured: w?.peakRssMiB === undefined ? '–' : `${w.peakRssMiB} MiB`,
    ok: w?.peakRssMiB === undefined ? undefined : w.peakRssMiB <= TARGETS.workerPeakRssMiB,
  })
  return rows
}

/** The headline figures, by a stable key, for the run-to-run comparison. */
function headline(r: Results): [string, number | undefined, string][] {
  const rows: [string, number | undefined, string][] = []
  for (const f of r.http)
    rows.push([`${f.name} events/s`, f.eventsPerSecond, 'events/s'], [`${f.name} p99 ms`, f.latencyMs.p99, 'ms'])
  if (r.producerPerf) rows.push(['kafka ProducerPerformance records/s', r.producerPerf.recordsPerSecond, 'records/s'])
  for (const c of r.compression ?? [])
    if (c.ok) rows.push([`kafkajs ${c.codec} events/s`, c.eventsPerSecond, 'events/s'])
  if (r.worker) rows.push(['worker events/s', r.worker.eventsPerSecond, 'events/s'])
  if (r.engine)
    rows.push([`engine ${r.engine.format} rows/s with the views`, r.engine.withViews.rowsPerSecond, 'rows/s'])
  if (r.freshness)
    rows.push(['freshness p50 ms', r.freshness.p50Ms, 'ms'], ['freshness p99 ms', r.freshness.p99Ms, 'ms'])
  return rows
}

function chart(r: Results): string {
  const batches = [1, 100, 500, 1000]
  const series = [
    { target: 'ceiling', label: 'ceiling: parse + validate only', color: '#7f7f7f', dash: '' },
    { target: 'collector', label: 'collector, end to end (202 after ack)', color: '#1f77b4', dash: '' },
    { target: 'naive', label: 'naive: one awaited send per event', color: '#ff7f0e', dash: '' },
    { target: 'reference', label: 'reference: Go + franz-go, token + JSON check', color: '#9467bd', dash: '' },
  ]
  const values = r.http.map((f) => f.eventsPerSecond).filter((v) => v > 0)
  const lines: { value: number; label: string; color: string }[] = []
  if (r.producerPerf)
    lines.push({
      value: r.producerPerf.recordsPerSecond,
      label: `Kafka's own producer (${r.producerPerf.recordSize} B): ${int(r.producerPerf.recordsPerSecond)}/s`,
      color: '#2ca02c',
    })
  const all = [...values, ...lines.map((l) => l.value)]
  const lo = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...all))))
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all)))
  const W = 760
  const H = 440
  const left = 78
  const right = 24
  const top = 40
  const bottom = 120
  const plotW = W - left - right
  const plotH = H - top - bottom
  const x = (i: number) => left + (plotW * (i + 0.5)) / batches.length
  const y = (v: number) => top + plotH - (plotH * (Math.log10(v) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo))
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  )
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Accepted events/s against events per request (log scale), ${r.startedAt.slice(0, 10)}</text>`,
  )
  for (let decade = lo; decade <= hi; decade *= 10) {
    for (const m of [1, 2, 5]) {
      const v = decade * m
      if (v > hi) break
      out.push(
        `<line x1="${left}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${m === 1 ? '#ccc' : '#eee'}"/>`,
      )
      out.push(
        `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${v >= 1_000_000 ? `${v / 1_000_000}M` : v >= 1000 ? `${v / 1000}k` : v}</text>`,
      )
    }
  }
  out.push(
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/><line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`,
  )
  for (const [i, b] of batches.entries()) {
    const label = b === 1 ? '1 (single event)' : b.toLocaleString('en-US')
    out.push(`<text x="${x(i)}" y="${top + plotH + 18}" text-anchor="middle">${label}</text>`)
  }
  out.push(
    `<text x="${left + plotW / 2}" y="${top + plotH + 36}" text-anchor="middle" fill="#333">events per POST /v1/events</text>`,
  )
  out.push(
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">accepted events/s</text>`,
  )
  for (const line of lines) {
    out.push(
      `<line x1="${left}" x2="${W - right}" y1="${y(line.value).toFixed(1)}" y2="${y(line.value).toFixed(1)}" stroke="${line.color}" stroke-dasharray="6 4"/>`,
    )
  }
  for (const s of series) {
    const points = batches
      .map((b, i) => ({ i, f: find(r, s.target, b) }))
      .filter((p): p is { i: number; f: HttpFigure } => p.f !== undefined && p.f.eventsPerSecond > 0)
    if (points.length > 1)
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2.5" points="${points.map((p) => `${x(p.i).toFixed(1)},${y(p.f.eventsPerSecond).toFixed(1)}`).join(' ')}"/>`,
      )
    for (const p of points) {
      out.push(
        `<circle cx="${x(p.i).toFixed(1)}" cy="${y(p.f.eventsPerSecond).toFixed(1)}" r="4.5" fill="${s.color}"/>`,
      )
      out.push(
        `<text x="${(x(p.i) + 8).toFixed(1)}" y="${(y(p.f.eventsPerSecond) - 6).toFixed(1)}" fill="${s.color}" font-size="11">${int(p.f.eventsPerSecond)}</text>`,
      )
    }
  }
  const legend = [
    ...series.map((s) => ({ color: s.color, label: s.label, dash: '' })),
    ...lines.map((l) => ({ color: l.color, label: l.label, dash: '6 4' })),
  ]
  legend.forEach((item, i) => {
    const lx = left + (i % 2) * (plotW / 2)
    const ly = top + plotH + 58 + Math.floor(i / 2) * 18
    out.push(
      `<line x1="${lx}" x2="${lx + 26}" y1="${ly - 4}" y2="${ly - 4}" stroke="${item.color}" stroke-width="2.5"${item.dash ? ` stroke-dasharray="${item.dash}"` : ''}/>`,
    )
    out.push(`<text x="${lx + 32}" y="${ly}">${item.label.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`)
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

function profileSection(r: Results): string[] {
  const md: string[] = []
  for (const p of r.profiles) {
    md.push(`### ${p.name} (\`node --cpu-prof\`, a re-run of ${p.of})`, '')
    md.push(
      `Busy ${int(p.summary.busyMs)} ms of ${int(p.summary.totalMs)} ms sampled in the main thread. Profile: \`${p.file}\` (not committed; summarise again with \`node dist/bench/profile-summary.js ${p.file}\`).`,
      '',
    )
    md.push('| self time | share of busy | function | where |', '| ---: | ---: | --- | --- |')
    for (const f of p.summary.top.slice(0, 12))
      md.push(`| ${int(f.selfMs)} ms | ${f.share}% | \`${f.name}\` | ${f.where === '' ? '' : `\`${f.where}\``} |`)
    md.push('', '| by where the code lives | share of busy |', '| --- | ---: |')
    for (const a of p.summary.byArea.slice(0, 10)) md.push(`| ${a.name} | ${a.share}% |`)
    md.push('')
  }
  return md
}

interface HistoryEntry {
  startedAt: string
  git: string
  figures: Record<string, number>
  /** Mean CPU of other work on the machine during the HTTP cases, percent of one core. */
  othersMean?: number
}

/** Appends this run's headline figures to history.json (kept beside the report) and returns the last runs. */
function updateHistory(dir: string, r: Results, previous?: Results): HistoryEntry[] {
  const file = join(dir, 'history.json')
  const entry = (run: Results): HistoryEntry => {
    const others = run.http.map((f) => f.cpu.other).filter((v): v is number => v !== undefined)
    return {
      startedAt: run.startedAt,
      git: run.git,
      figures: Object.fromEntries(
        headline(run).flatMap(([key, value]) => (value === undefined ? [] : [[key, value] as const])),
      ),
      ...(others.length > 0 ? { othersMean: Math.round(others.reduce((a, b) => a + b, 0) / others.length) } : {}),
    }
  }
  let history: HistoryEntry[] = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as HistoryEntry[])
    : previous
      ? [entry(previous)]
      : []
  history = [...history.filter((h) => h.startedAt !== r.startedAt), entry(r)].slice(-10)
  writeFileSync(file, `${JSON.stringify(history, null, 1)}\n`)
  return history
}

export function writeReport(dir: string, r: Results, previous?: Results): void {
  const history = updateHistory(dir, r, previous)
  writeFileSync(join(dir, 'throughput.svg'), chart(r))
  const md: string[] = []
  md.push('# Qalqan benchmarks: results', '')
  md.push(
    `Written by \`${r.command}\` on **${r.startedAt.replace('T', ' ').slice(0, 19)} UTC**; the whole suite took **${Math.floor(r.durationSeconds / 60)} min ${r.durationSeconds % 60} s**. Do not edit: run it again. The cases are declared in [cases.ts](cases.ts); the analysis of the misses is hand-written in [FINDINGS.md](FINDINGS.md) and repeated at the end.`,
    '',
  )

  md.push('## Setup', '')
  md.push(
    `- **Command:** \`${r.command}\` (bench/run.sh: builds dist/ with \`npx tsc -p tsconfig.json\` and bench/ with \`npx tsc -p bench/tsconfig.json\`, starts its own broker with \`deploy/kafka/kafka.sh\` in a temp \`LOCAL_KAFKA_DIR\` on free ports, runs [run.ts](run.ts), stops the broker).`,
  )
  md.push(
    `- **Machine:** ${r.machine.cores} cores, ${r.machine.model}, ${r.machine.memoryGiB} GiB memory, Linux ${r.machine.kernel}.`,
  )
  md.push(
    `- **Versions:** ${Object.entries(r.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
  )
  if (r.loadAverage !== undefined)
    md.push(
      `- **Machine load when the suite started:** load average ${r.loadAverage} (1, 5, 15 min) on ${r.machine.cores} cores, before the broker was busy: anything above ~0.5 is other work sharing the machine.`,
    )
  md.push(`- **Code:** ${r.git}. Broker heap ${r.brokerHeap}, topics of 6 partitions, replication 1.`)
  md.push(
    '- **Load:** autocannon in a separate process ([load.ts](load.ts)), POSTing seeded bodies from [generator.ts](generator.ts) (a weighted mix of 10 categories, severities, signatures, public sources worldwide, targets in 26 registered networks over 12 sectors and 17 regions, see the asset registry it writes) with the three test sensor tokens in rotation. Every product process runs as its own `node dist/services/main.js --role=...`.',
  )
  md.push(
    '- **Noise:** everything shares one 2-core machine: the load generator, the broker (a JVM) and the process under test compete for the same two cores, so each figure is a lower bound for a dedicated deployment and the CPU columns say who had the cores. The spread between runs is in [Run to run](#run-to-run).',
    '',
  )

  md.push('## Targets', '')
  md.push('| target | case | measured | verdict |', '| --- | --- | --- | --- |')
  for (const row of targetRows(r)) md.push(`| ${row.target} | ${row.figure} | ${row.measured} | ${mark(row.ok)} |`)
  md.push('')

  md.push('## Collector: end to end, against the reference server, the ceiling and the naive baseline', '')
  md.push('![accepted events/s against batch size](throughput.svg)', '')
  md.push(
    'Accepted events/s = 2xx responses × events per request ÷ measured seconds (after a warm-up). Latency is per request, from autocannon. CPU µs per event is the CPU time of the process and its children (/proc/PID/stat; a collector runs one process per core) per accepted event: it moves less than events/s when other work takes cores away. The reference server ([reference-server/](reference-server/main.go), Go with franz-go) checks the token and that the body is JSON objects, and produces one record per event with acks=all: the limit of HTTP → Kafka on this machine and broker.',
    '',
  )
  md.push(
    '| events per request | reference events/s | collector events/s | collector ÷ reference | ceiling events/s | collector ÷ ceiling | naive events/s | collector ÷ naive | collector p50 / p99 | reference p50 / p99 | ceiling p50 / p99 | naive p50 / p99 | CPU µs per event: reference / ceiling / collector / naive |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const batch of [1, 100, 500, 1000]) {
    const re = find(r, 'reference', batch)
    const ce = find(r, 'ceiling', batch)
    const co = find(r, 'collector', batch)
    const na = find(r, 'naive', batch)
    const lat = (f: HttpFigure | undefined) => (f === undefined ? '–' : `${f.latencyMs.p50} / ${f.latencyMs.p99} ms`)
    md.push(
      `| ${int(batch)} | ${int(re?.eventsPerSecond)} | ${int(co?.eventsPerSecond)} | ${ratio(co?.eventsPerSecond, re?.eventsPerSecond)} | ${int(ce?.eventsPerSecond)} | ${ratio(co?.eventsPerSecond, ce?.eventsPerSecond)} | ${int(na?.eventsPerSecond)} | ${ratio(co?.eventsPerSecond, na?.eventsPerSecond)} | ${lat(co)} | ${lat(re)} | ${lat(ce)} | ${lat(na)} | ${cpuPerEvent(re)} / ${cpuPerEvent(ce)} / ${cpuPerEvent(co)} / ${cpuPerEvent(na)} |`,
    )
  }
  md.push('')
  const c500 = find(r, 'collector', 500)
  const ceil500 = find(r, 'ceiling', 500)
  md.push(
    `DESIGN.md's ceiling for batches of 500 is about 600,000 events/s; this run measured ${int(ceil500?.eventsPerSecond)} (${ratio(ceil500?.eventsPerSecond, 600_000)} of it), and the collector reached ${ratio(c500?.eventsPerSecond, 600_000)} of DESIGN.md's figure. DESIGN.md's single-event ceiling is about 60,000 requests/s; this run measured ${int(find(r, 'ceiling', 1)?.requestsPerSecond)}.`,
    '',
  )
  if (r.producerPerf) {
    const best = Math.max(...r.http.filter((f) => f.target === 'collector').map((f) => f.eventsPerSecond), 0)
    md.push(
      `Against Kafka's own producer on the same broker (${int(r.producerPerf.recordsPerSecond)} records/s of ${r.producerPerf.recordSize} B), the collector's best figure is ${ratio(best, r.producerPerf.recordsPerSecond)}.`,
      '',
    )
  }
  md.push(
    'Every case, in detail. CPU is in percent of one core during the measured window (200% is the whole machine); "others" is what no process of this benchmark used: other work on the shared machine, which the figures had to share the cores with.',
    '',
  )
  md.push(
    '| case | conns | req/s | events/s | p50 / p90 / p99 / max ms | non-2xx | errors | body B | CPU target / broker / load / others / machine | peak RSS target / load MiB | Kafka records | Kafka sends: events each, ms each |',
    '| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | --- | ---: | --- |',
  )
  for (const f of r.http) {
    md.push(
      `| ${f.name} | ${f.connections} | ${int(f.requestsPerSecond)} | ${int(f.eventsPerSecond)} | ${f.latencyMs.p50} / ${f.latencyMs.p90} / ${f.latencyMs.p99} / ${f.latencyMs.max} | ${int(f.non2xx)}${
        f.non2xx > 0
          ? ` (${Object.entries(f.statusCodes)
              .filter(([code]) => !code.startsWith('2'))
              .map(([code, n]) => `${code}: ${n}`)
              .join(', ')})`
          : ''
      } | ${f.errors + f.timeouts} | ${int(f.bodyBytes)} | ${pct(f.cpu.target)} / ${pct(f.cpu.broker)} / ${pct(f.cpu.load)} / ${pct(f.cpu.other)} / ${f.cpu.machine}% of 2 cores | ${f.peakRssMiB.target ?? '–'} / ${f.peakRssMiB.load} | ${int(f.recordsInTopic)} | ${f.kafkaSends ? `${f.kafkaSends.meanEvents}, ${f.kafkaSends.meanMs} ms (${int(f.kafkaSends.sends)} sends, warm-up included)` : '–'} |`,
    )
  }
  md.push(
    '',
    '"Kafka records" counts the records that reached the topic between the start and the end of the measured window (it also holds sends still in flight at the edges): one per event from the reference server and the naive collector, one per partition of each send from the collector, which writes the events of one partition in one record, a line each.',
    '',
  )

  md.push("## Kafka's own producer (the broker's ceiling)", '')
  if (r.producerPerf) {
    const p = r.producerPerf
    md.push(
      `\`java -cp <kafka 4.4 classpath> org.apache.kafka.tools.ProducerPerformance --topic <6 partitions> --num-records ${int(p.records)} --record-size ${p.recordSize} --throughput -1 --producer-props bootstrap.servers=... acks=all\`:`,
      '',
    )
    md.push(
      `**${int(p.recordsPerSecond)} records/s** (${p.mbPerSecond} MB/s), latency avg ${p.avgLatencyMs} ms, p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms.`,
      '',
      '```',
      p.line,
      '```',
      '',
    )
  } else md.push('Not measured (see Problems).', '')

  md.push('## Producer compression (kafkajs, not wired into services/)', '')
  if (r.compression) {
    const cc = r.compressionCase
    md.push(
      `[compression.ts](compression.ts): ${int(cc?.events)} seeded canonical events, sends of ${cc?.batch} messages, ${cc?.concurrency} in flight, acks=-1, one fresh 6-partition topic per codec; bytes on disk are the sizes of the topic's .log segments.`,
      '',
    )
    md.push(
      '| codec | events/s | vs none | bytes on disk per event | raw JSON bytes per event | raw ÷ on disk | producer CPU s |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    )
    const none = r.compression.find((c) => c.codec === 'none')
    for (const c of r.compression) {
      if (!c.ok) md.push(`| ${c.codec} | not measured: ${c.problem} | | | | | |`)
      else
        md.push(
          `| ${c.codec} | ${int(c.eventsPerSecond)} | ${ratio(c.eventsPerSecond, none?.eventsPerSecond)} | ${c.bytesPerEvent} | ${c.rawBytesPerEvent} | ${c.ratio}× | ${c.cpuSeconds} |`,
        )
    }
    md.push(
      '',
      "Codecs: `kafkajs-lz4` (its `lz4` dependency builds a native addon from bundled source with node-gyp and the installed Node headers, nothing downloaded) and `@kafkajs/zstd` (its `cppzst` dependency also builds from bundled source, but **fails with the default compiler flags on Node 20** — Node 20's headers need C++17 — and builds with `CXXFLAGS=-std=c++17`, which bench/run.sh sets). They live in bench/codecs/ with their own lock file, never in Qalqan's dependencies.",
      '',
    )
  } else md.push('Not measured (see Problems).', '')

  md.push('## Worker', '')
  if (r.worker) {
    const w = r.worker
    md.push(
      `${int(w.events)} seeded canonical events (mean ${w.fill.meanBytes} B, dated within the last 10 minutes) written first to a fresh 6-partition topic${w.fill.eventsPerMessage === undefined ? '' : `, ${w.fill.eventsPerMessage} events of one partition per message as the collector writes them`} (by kafkajs at ${int(w.fill.eventsPerSecond)} events/s, not part of the figure); then one \`node dist/services/main.js --role=worker\` with the embedded ClickHouse engine in its own temp data dir and a new group. The rate is between the first and the last reading of the group's committed offsets (kafkajs admin fetchOffsets, every 100 ms), counted as the events in the messages before them.`,
      '',
    )
    md.push('| figure | value |', '| --- | ---: |')
    md.push(`| events/s (steady: first to last commit) | **${int(w.eventsPerSecond)}** |`)
    md.push(
      `| events/s from process start (chdb start, migrations, group join included) | ${int(w.eventsPerSecondFromStart)} |`,
    )
    md.push(
      `| start to first commit | ${w.startupSeconds} s |`,
      `| first commit to all committed | ${w.drainSeconds} s |`,
      `| committed / written | ${int(w.committed)} / ${int(w.events)}${w.done ? '' : ' (timed out)'} |`,
    )
    md.push(
      `| rows inserted (worker metric) | ${int(w.rowsInserted)} |`,
      `| inserts, mean rows each, mean insert time | ${int(w.inserts)}, ${w.inserts ? int((w.rowsInserted ?? 0) / w.inserts) : '–'}, ${w.meanInsertMs ?? '–'} ms |`,
    )
    md.push(
      `| CPU µs per event (worker process, all threads, the embedded engine included) | ${w.cpu.worker !== undefined && w.eventsPerSecond > 0 ? ((w.cpu.worker * 10_000) / w.eventsPerSecond).toFixed(1) : '–'} |`,
    )
    md.push(
      `| CPU worker / broker / others / machine | ${pct(w.cpu.worker)} / ${pct(w.cpu.broker)} / ${pct(w.cpu.other)} / ${w.cpu.machine}% of 2 cores |`,
      `| peak RSS of the worker | ${w.peakRssMiB ?? '–'} MiB |`,
      '',
    )
  } else md.push('Not measured (see Problems).', '')

  md.push("## The engine's own insert limit", '')
  const e = r.engine
  if (e !== undefined) {
    md.push(
      `${int(e.events)} seeded canonical events, built into rows before the clock starts, inserted into \`events_raw\` of the product's schema in the embedded engine (a process of its own: [engine-limit.ts](engine-limit.ts)) in inserts of ${int(e.batch)} rows, each format into the table with its three materialized views and into a copy without them. Nothing else is timed: no Kafka, no parsing or validation in JavaScript.`,
      '',
      '| format | rows/s with the views | rows/s without them | the views cost |',
      '| --- | ---: | ---: | ---: |',
    )
    for (const [format, figure] of Object.entries(e.formats))
      md.push(
        `| ${format} | ${int(figure.views)} | ${int(figure.noViews)} | ${figure.noViews > 0 ? `${Math.round((1 - figure.views / figure.noViews) * 100)}%` : '–'} |`,
      )
    md.push(
      '',
      `The worker case above reached ${ratio(r.worker?.eventsPerSecond, e.withViews.rowsPerSecond)} of the fastest (${e.format} with the views)${e.formats[TOKENS_FORMAT] === undefined ? '' : `, and ${ratio(r.worker?.eventsPerSecond, e.formats[TOKENS_FORMAT].views)} of the worker's own kind of insert (${TOKENS_FORMAT}, with the views)`}.`,
      '',
    )
  } else md.push('Not measured (see Problems).', '')

  md.push('## Freshness', '')
  if (r.freshness) {
    const f = r.freshness
    md.push(
      `Two processes, as production runs them with the embedded engine (which binds one data folder per process): \`--role=collector\` and \`--role=worker,query\`. Load: autocannon paced at ${int(f.targetEventsPerSecond)} events/s in batches (overallRate). Probes: one single-event POST every few hundred ms, each dated in a minute of its own ahead of now (no load event falls there; the case lets the time rule take them), so the polled range ends after now as a live dashboard's does. The query API (\`GET ${f.endpoint}\`, analyst token) is polled every 100 ms over the probes' range by two pollers: **fresh** makes every query unique (so the answer cache, \`QALQAN_QUERY_CACHE_SECONDS\`, default 5 s, never answers it: what the pipeline delivers) and **repeated** asks the identical query each time, as a dashboard panel does (answers may come from the cache). A probe's freshness is from its 202 to the first poll that shows its minute; a probe never seen counts as the timeout.`,
      '',
    )
    md.push('| figure | fresh query | repeated identical query |', '| --- | ---: | ---: |')
    md.push(
      `| freshness p50 | **${int(f.p50Ms)} ms** | ${int(f.repeated.p50Ms)} ms |`,
      `| freshness p99 | **${int(f.p99Ms)} ms** | ${int(f.repeated.p99Ms)} ms |`,
    )
    md.push(
      `| min / max | ${int(f.minMs)} / ${int(f.maxMs)} ms | ${int(f.repeated.minMs)} / ${int(f.repeated.maxMs)} ms |`,
      `| probes seen / not seen in time | ${f.seen} / ${f.lost} | ${f.repeated.seen} / ${f.repeated.lost} |`,
      '',
    )
    md.push('| figure | value |', '| --- | ---: |')
    md.push(
      `| sustained load achieved | ${int(f.load.eventsPerSecond)} events/s over ${f.load.seconds} s (p50 ${f.load.p50Ms} ms, p99 ${f.load.p99Ms} ms, non-2xx ${f.load.non2xx}) |`,
    )
    md.push(
      `| probes accepted / failed | ${f.probes} / ${f.failedProbes} |`,
      `| query polls / failed | ${int(f.polls)} / ${int(f.pollFailures)}${f.lastPollProblem ? ` (last: ${f.lastPollProblem.replace(/\|/g, '/').slice(0, 120)})` : ''} |`,
    )
    md.push(
      `| worker lag when the load stopped / highest sampled | ${int(f.lagAtEnd)} / ${int(f.lagMax)} ${lagUnit(f)} |`,
    )
    md.push(
      `| growth of the lag over the second half of the window (${f.lagSamples} samples, 1 s apart) | ${int(f.lagSlope)} ${lagUnit(f)}/s${f.writeRate === undefined ? '' : ` of ${int(f.writeRate)} written/s`}: ${lagSteady(f) ? 'steady, the worker kept up' : 'still growing, the worker did not keep up, so freshness grows with the length of the run'} |`,
    )
    md.push(
      `| CPU collector / worker+query / broker / load / others / machine | ${pct(f.cpu.collector)} / ${pct(f.cpu.workerQuery)} / ${pct(f.cpu.broker)} / ${pct(f.cpu.load)} / ${pct(f.cpu.other)} / ${f.cpu.machine}% of 2 cores |`,
      '',
    )
  } else md.push('Not measured (see Problems).', '')

  md.push('## Memory: peak RSS (VmHWM) of each role under load', '')
  md.push('Read from /proc/PID/status at the end of each case; each case starts a fresh process.', '')
  md.push('| process | case | peak RSS |', '| --- | --- | ---: |')
  for (const f of r.http)
    md.push(
      `| ${f.target}${f.target === 'collector' ? ' (--role=collector)' : ''} | ${f.name} | ${f.peakRssMiB.target ?? '–'} MiB |`,
    )
  if (r.worker) md.push(`| worker (--role=worker) | worker | ${r.worker.peakRssMiB ?? '–'} MiB |`)
  if (r.freshness) {
    md.push(
      `| collector (--role=collector) | freshness | ${r.freshness.peakRssMiB.collector ?? '–'} MiB |`,
      `| worker and query (--role=worker,query) | freshness | ${r.freshness.peakRssMiB.workerQuery ?? '–'} MiB |`,
    )
  }
  const loads = r.http.map((f) => f.peakRssMiB.load)
  if (loads.length > 0)
    md.push(`| load generator (autocannon) | all | ${Math.min(...loads)}–${Math.max(...loads)} MiB |`)
  md.push('')

  md.push('## Where the time goes', '')
  if (r.profiles.length === 0) md.push('No profile in this run.', '')
  md.push(...profileSection(r))

  md.push('## Run to run', '')
  if (history.length > 1) {
    md.push(
      `This run against the ${history.length - 1} before it kept in [history.json](history.json) (the last 10 runs of the whole suite). The spread is the noise of this shared machine, plus any change of code between runs (the code of each run is in history.json); "others" is the mean CPU that other work on the machine took during the HTTP cases.`,
      '',
    )
    md.push(
      `| figure | this run | previous run | lowest | highest | runs |`,
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    )
    const prev = history.at(-2)
    for (const [key, value] of headline(r)) {
      const values = history.map((h) => h.figures[key]).filter((v): v is number => v !== undefined)
      md.push(
        `| ${key} | ${int(value)} | ${int(prev?.figures[key])} | ${int(Math.min(...values))} | ${int(Math.max(...values))} | ${values.length} |`,
      )
    }
    md.push('', '| run | code | others (mean CPU of other work, % of one core) |', '| --- | --- | ---: |')
    for (const h of history)
      md.push(`| ${h.startedAt.replace('T', ' ').slice(0, 16)} UTC | ${h.git} | ${h.othersMean ?? '–'}% |`)
    md.push('')
  } else md.push('No previous run to compare with: run the suite again to see the spread.', '')

  md.push('## Problems', '')
  if (r.problems.length === 0) md.push('None: every case ran.', '')
  else for (const p of r.problems) md.push(`- ${p.replace(/\n/g, ' ')}`)
  md.push('')

  const findings = join(dir, 'FINDINGS.md')
  const fallback = join(dir, '..', 'FINDINGS.md')
  const file = existsSync(findings) ? findings : existsSync(fallback) ? fallback : undefined
  md.push('## Findings (hand-written, from FINDINGS.md)', '')
  if (file !== undefined) {
    const text = readFileSync(file, 'utf8').replace(/^# .*\n+/, '')
    md.push(text.replace(/^## /gm, '### ').trim(), '')
  } else md.push('FINDINGS.md is missing.', '')
  writeFileSync(join(dir, 'RESULTS.md'), `${md.join('\n')}\n`)
}

// `node dist/bench/report.js [dir]`: writes RESULTS.md and the chart again from dir/results.json
// (default bench/), e.g. after FINDINGS.md changed; no benchmark runs.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench'))
  writeReport(dir, JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results)
  process.stdout.write(`wrote ${join(dir, 'RESULTS.md')} from ${join(dir, 'results.json')}\n`)
}
