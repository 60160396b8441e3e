// Posts sample attack events from the demo sensors to a running collector, then polls the query API
// until the aggregates account for all of them, and prints them per sector and region.
import { setTimeout as sleep } from 'node:timers/promises'

const collector = process.env['DEMO_COLLECTOR_URL'] ?? 'http://127.0.0.1:8080'
const query = process.env['DEMO_QUERY_URL'] ?? 'http://127.0.0.1:8081'

// The tokens whose hashes deploy/local/tokens.json registers. For local demos only.
const SENSORS = [
  { token: 'demo-sensor-token-astana-egov', name: 'IDS, e-government, Astana' },
  { token: 'demo-sensor-token-almaty-bank', name: 'honeypot, bank, Almaty' },
  { token: 'demo-sensor-token-atyrau-oil', name: 'firewall, refinery, Atyrau' },
  { token: 'demo-sensor-token-karaganda-edu', name: 'WAF, university, Karaganda' },
]
const ANALYST_TOKEN = 'demo-analyst-token'
const ATTACKS = [
  { category: 'scan', severity: 2, signature: 'ET SCAN Potential SSH Scan', dst_port: 22 },
  { category: 'bruteforce', severity: 3, signature: 'SSH login brute force', dst_port: 22 },
  { category: 'exploit', severity: 4, signature: 'ET EXPLOIT Apache Struts RCE attempt', dst_port: 8080 },
  { category: 'web_attack', severity: 3, signature: 'SQL injection attempt in query string', dst_port: 443 },
  { category: 'malware', severity: 4, signature: 'ET MALWARE Mirai variant download', dst_port: 80 },
]

let seed = 2026
const random = (n: number) => {
  seed = (seed * 48271) % 2147483647
  return seed % n
}

async function main(): Promise<void> {
  const now = Date.now()
  let posted = 0
  for (const sensor of SENSORS) {
    const events = Array.from({ length: 50 }, () => {
      const attack = ATTACKS[random(ATTACKS.length)]
      return {
        ...attack,
        occurred_at: new Date(now - random(5 * 60_000)).toISOString(),
        src_ip: `203.0.113.${1 + random(254)}`,
        dst_ip: `198.51.100.${1 + random(254)}`,
        protocol: 'tcp',
        count: 1 + random(4),
      }
    })
    const res = await fetch(`${collector}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sensor.token}`, 'content-type': 'application/x-ndjson' },
      body: events.map((event) => JSON.stringify(event)).join('\n'),
    })
    const answer = (await res.json()) as { accepted?: number }
    if (res.status !== 202) throw new Error(`the collector answered ${res.status}: ${JSON.stringify(answer)}`)
    const sum = events.reduce((total, event) => total + event.count, 0)
    posted += sum
    console.log(`demo: ${sensor.name}: ${answer.accepted} events accepted (${sum} attacks counting bursts)`)
  }

  const from = new Date(now - 10 * 60_000).toISOString()
  const to = new Date(now + 60_000).toISOString()
  const url = `${query}/v1/matrix?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`
  for (let attempt = 0; attempt < 60; attempt++) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${ANALYST_TOKEN}` } })
    const body = (await res.json()) as {
      cells: { sector: string; region: string; region_name: string; events: number }[]
    }
    const totals = new Map<string, number>()
    for (const cell of body.cells) totals.set(`${cell.sector}, ${cell.region_name}`, cell.events)
    const seen = [...totals.values()].reduce((a, b) => a + b, 0)
    if (seen >= posted) {
      console.log(
        `demo: the query API now counts ${seen} attacks in the last 10 minutes (at least the ${posted} just posted):`,
      )
      for (const [key, events] of [...totals].sort()) console.log(`  ${key.padEnd(28)} ${events}`)
      return
    }
    await sleep(500)
  }
  throw new Error('the aggregates did not catch up within 30 s: see the worker log')
}

main().catch((err: unknown) => {
  console.error(`demo: ${(err as Error).message}`)
  process.exitCode = 1
})
