import t from 'tap'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '../../services/logger.js'
import { startRoles } from '../../services/roles.js'
import { certificateAuthority } from '../helpers/certificates.js'
import { httpsRequest } from '../helpers/https.js'
import { testConfig, TOKENS, TOKENS_FILE } from '../helpers/stack.js'

// The collector and the query API as one process starts them, over HTTPS, seen from a sensor's
// network: every path an outsider might try on the public ports answers without metrics, sensor
// ids, file paths or registry text, even while a registry is broken; the ops port has all of it.

const ca = certificateAuthority(t)
const server = ca.server('qalqan')
const dir = mkdtempSync(join(tmpdir(), 'qalqan-public-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const tokensFile = join(dir, 'tokens.json')
copyFileSync(TOKENS_FILE, tokensFile)
const auditFile = join(dir, 'audit', 'queries.log')

const config = testConfig({
  QALQAN_ROLE: 'collector,query',
  QALQAN_TOKENS_FILE: tokensFile,
  QALQAN_COLLECTOR_TLS_CERT_FILE: server.certFile,
  QALQAN_COLLECTOR_TLS_KEY_FILE: server.keyFile,
  QALQAN_QUERY_TLS_CERT_FILE: server.certFile,
  QALQAN_QUERY_TLS_KEY_FILE: server.keyFile,
  QALQAN_QUERY_AUDIT_LOG: auditFile,
})
const running = await startRoles(config, createLogger('silent'))
t.teardown(() => running.close())
const collector = running.urls.collector ?? ''
const query = running.urls.query ?? ''
const ops = running.opsUrl ?? ''

const PROBES = [
  '/metrics',
  '/metrics/',
  '/METRICS',
  '/%6detrics',
  '//metrics',
  '/metrics?format=json',
  '/readyz',
  '/readyz?verbose=1',
  '/healthz',
  '/services/collector/health',
  '/services/collector/health/1.0',
  '/debug',
  '/debug/vars',
  '/debug/pprof/',
  '/status',
  '/server-status',
  '/admin',
  '/.env',
  '/tokens.json',
  '/etc/qalqan/tokens.json',
  '/v1/events',
  '/v1/summary',
  '/openapi.json',
  '/docs',
]

/** What no public answer may hold: metrics, the sensors' ids, the registry's path, name and text. */
const SECRETS = [
  /qalqan_/,
  /# HELP|# TYPE/,
  /test-ids-astana|test-hp-almaty|test-fw-atyrau|test-analyst/,
  /tokens\.json/,
  new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
  /token_sha256|"sensors"|problems/,
  /cannot read the token registry/,
]

t.test('the roles listen over HTTPS; the ops port on loopback', async (t) => {
  t.match(collector, /^https:\/\/127\.0\.0\.1:\d+$/)
  t.match(query, /^https:\/\/127\.0\.0\.1:\d+$/)
  t.match(ops, /^http:\/\/127\.0\.0\.1:\d+$/, 'the ops port on 127.0.0.1 by default')
})

t.test('public ports hide every detail, ready or broken; the ops port has them', async (t) => {
  const sent = await httpsRequest(`${collector}/v1/events`, {
    ca: ca.cert,
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.astana}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      occurred_at: new Date().toISOString(),
      category: 'scan',
      severity: 2,
      signature: 'ET SCAN',
      src_ip: '203.0.113.10',
    }),
  })
  t.equal(sent.status, 202, 'an event came in: the metrics now name its sensor')
  const metrics = await fetch(`${ops}/metrics`)
  t.equal(metrics.status, 200)
  t.match(await metrics.text(), /qalqan_sensor_last_seen_seconds\{sensor="test-ids-astana"\} \d+/)

  const scan = async (label: string) => {
    for (const base of [collector, query]) {
      for (const path of PROBES) {
        const answer = await httpsRequest(`${base}${path}`, { ca: ca.cert })
        // A 404 names the path asked for: what the client sent is no leak.
        const text = answer.text.replaceAll(path.split('?')[0] ?? path, '<path>')
        for (const secret of SECRETS)
          t.notMatch(text, secret, `${label}: ${base === collector ? 'collector' : 'query'} GET ${path}`)
        t.notMatch(answer.headers['content-type'], /^text\/plain; version=0\.0\.4/, `${path}: not a Prometheus page`)
      }
    }
  }
  await scan('ready')

  writeFileSync(tokensFile, readFileSync(tokensFile, 'utf8').slice(0, 40))
  running.reload()
  // The previous registry still serves: ready, and the file's problem is the ops port's to tell.
  const readyz = await httpsRequest(`${collector}/readyz`, { ca: ca.cert })
  t.equal(readyz.status, 200)
  t.same(JSON.parse(readyz.text), { status: 'ready' })
  const health = await httpsRequest(`${collector}/services/collector/health`, { ca: ca.cert })
  t.equal(health.status, 200)
  t.same(JSON.parse(health.text), { text: 'HEC is healthy', code: 17 })
  await scan('registry broken')

  const detailed = await fetch(`${ops}/readyz`)
  t.equal(detailed.status, 200)
  const body = (await detailed.json()) as { warnings: Record<string, string[]> }
  t.match(body.warnings['collector'], [new RegExp(`${tokensFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)])
  t.match(body.warnings['query'], [/tokens\.json/])
  t.match(await (await fetch(`${ops}/metrics`)).text(), /qalqan_http_requests_total/)
})

t.test("an analyst's query over HTTPS is in the audit file, without the token", async (t) => {
  const answer = await httpsRequest(`${query}/v1/top?by=sector&from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z`, {
    ca: ca.cert,
    headers: { authorization: `Bearer ${TOKENS.analyst}` },
  })
  t.equal(answer.status, 200)
  const lines = readFileSync(auditFile, 'utf8').trim().split('\n')
  const last = JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>
  t.match(last, {
    log: 'qalqan-audit',
    analyst: 'test-analyst',
    endpoint: '/v1/top',
    filters: { by: 'sector' },
    rows: 0,
    status: 200,
  })
  // The fixture's analyst token is its id too; test/services/query/audit.test.ts tells them apart.
  t.notMatch(readFileSync(auditFile, 'utf8'), /authorization|Bearer/i, 'no credentials in the audit log')
})
