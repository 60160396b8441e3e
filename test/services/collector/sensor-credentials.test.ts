import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { buildCollector } from '../../../services/collector/app.js'
import { COLLECTOR_TLS_SETTINGS } from '../../../services/collector/start.js'
import { loadConfig } from '../../../services/config.js'
import { listen } from '../../../services/http/server.js'
import { loadTls, serverTlsOptions } from '../../../services/http/tls.js'
import { hashToken, TokenRegistry } from '../../../services/http/tokens.js'
import { createLogger } from '../../../services/logger.js'
import { Metrics } from '../../../services/metrics.js'
import { Reloadable } from '../../../services/reloadable.js'
import { certificateAuthority, type Issued } from '../../helpers/certificates.js'
import { httpsRequest } from '../../helpers/https.js'
import { MemorySender } from '../../helpers/memory.js'

// Sensor credentials against a real HTTPS collector: the token's lifecycle (revoked, expired,
// two tokens during a rotation) and the client certificate a registration may bind. Every
// refusal is made in the admission hook, on the headers, before the body is read.

const logger = createLogger('silent')
const event = {
  occurred_at: '2025-03-01T08:15:30+05:00',
  category: 'scan',
  severity: 2,
  signature: 'ET SCAN',
  src_ip: '203.0.113.10',
}
const place = { type: 'ids', org: 'Test Org', sector: 'government', region: 'KZ-71' } as const
const TOKEN = {
  boundA: 'token-bound-a',
  boundB: 'token-bound-b',
  open: 'token-open-c',
  rotatingOld: 'token-rotating-old',
  rotatingNew: 'token-rotating-new',
  retired: 'token-retired',
  revoked: 'token-revoked',
  expiring: 'token-expiring',
}

interface Setup {
  url: string
  port: number
  ca: Buffer
  certs: { a: Issued; b: Issued; rogueA: Issued; rogueB: Issued }
  sender: MemorySender
  registry: Reloadable<TokenRegistry>
  tokensFile: string
  expiresAt: Date
}

async function setup(t: Test): Promise<Setup> {
  const ca = certificateAuthority(t)
  const rogue = certificateAuthority(t, 'Rogue CA')
  const certs = {
    a: ca.client('sensor-a'),
    b: ca.client('sensor-b'),
    rogueA: rogue.client('sensor-a'),
    rogueB: rogue.client('sensor-b'),
  }
  const server = ca.server('collector')
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-credentials-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const tokensFile = join(dir, 'tokens.json')
  const expiresAt = new Date(Date.now() + 3_000)
  writeFileSync(
    tokensFile,
    JSON.stringify({
      sensors: [
        // As openssl prints it: the registry takes the fingerprint in either form.
        {
          id: 'kz-bound-a',
          token_sha256: hashToken(TOKEN.boundA),
          ...place,
          client_certificate: { sha256: certs.a.opensslFingerprint },
        },
        {
          id: 'kz-bound-b',
          token_sha256: hashToken(TOKEN.boundB),
          ...place,
          client_certificate: { subject: 'CN=sensor-b, O=Qalqan tests' },
        },
        { id: 'kz-open-c', token_sha256: hashToken(TOKEN.open), ...place },
        { id: 'kz-rotating', token_sha256: hashToken(TOKEN.rotatingOld), ...place },
        { id: 'kz-rotating', token_sha256: hashToken(TOKEN.rotatingNew), ...place },
        { id: 'kz-rotating', token_sha256: hashToken(TOKEN.retired), ...place, not_after: '2025-01-01T00:00:00Z' },
        { id: 'kz-revoked', token_sha256: hashToken(TOKEN.revoked), ...place, revoked: true },
        { id: 'kz-expiring', token_sha256: hashToken(TOKEN.expiring), ...place, not_after: expiresAt.toISOString() },
      ],
    }),
  )
  const registry = new Reloadable({ path: tokensFile, load: TokenRegistry.fromFile, logger, debounceMs: 50 })
  t.teardown(() => registry.close())
  const config = loadConfig({
    QALQAN_ROLE: 'collector',
    QALQAN_TOKENS_FILE: tokensFile,
    QALQAN_WORKER_MAX_AGE_DAYS: '3650',
    QALQAN_COLLECTOR_TLS_CERT_FILE: server.certFile,
    QALQAN_COLLECTOR_TLS_KEY_FILE: server.keyFile,
    QALQAN_COLLECTOR_TLS_CLIENT_CA_FILE: ca.certFile,
  })
  const files = config.collector.tls
  if (files === undefined) throw new Error('the configuration has no TLS')
  const sender = new MemorySender()
  const app = buildCollector(config, {
    logger,
    tokens: () => registry.current(),
    kafka: sender,
    metrics: new Metrics(),
    enrich: (e) => e,
    readiness: () => [],
    tls: serverTlsOptions(loadTls(files, COLLECTOR_TLS_SETTINGS), true),
  })
  t.teardown(() => app.close())
  const url = await listen(app, { host: '127.0.0.1', port: 0 })
  return { url, port: Number(new URL(url).port), ca: ca.cert, certs, sender, registry, tokensFile, expiresAt }
}

function post(s: Setup, token: string, cert?: Issued, path = '/v1/events', scheme = 'Bearer') {
  return httpsRequest(`${s.url}${path}`, {
    ca: s.ca,
    method: 'POST',
    headers: { authorization: `${scheme} ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(path.startsWith('/services') ? { event } : event),
    ...(cert && { cert: cert.cert, key: cert.key }),
  })
}

function refused(t: Test, answer: { status: number; text: string }, status: number, error: string) {
  t.equal(answer.status, status, `${error}: ${answer.text}`)
  t.match(JSON.parse(answer.text), { error, retryable: false })
}

t.test('a sensor bound to a client certificate', async (t) => {
  const s = await setup(t)
  t.equal((await post(s, TOKEN.boundA, s.certs.a)).status, 202, 'its token with its certificate is let in')

  const without = await post(s, TOKEN.boundA)
  refused(t, without, 401, 'QLQ_ERR_CERTIFICATE_REQUIRED')
  t.match(JSON.parse(without.text).message, /kz-bound-a must present its client certificate/)

  const another = await post(s, TOKEN.boundA, s.certs.b)
  refused(t, another, 403, 'QLQ_ERR_CERTIFICATE_MISMATCH')
  t.match(JSON.parse(another.text).message, /bound to another sensor/)

  const rogue = await post(s, TOKEN.boundA, s.certs.rogueA)
  refused(t, rogue, 401, 'QLQ_ERR_CERTIFICATE_REQUIRED')
  t.match(JSON.parse(rogue.text).message, /not issued by the collector's CA/)

  t.equal((await post(s, TOKEN.boundB, s.certs.b)).status, 202, 'a binding by subject')
  refused(t, await post(s, TOKEN.boundB, s.certs.rogueB), 401, 'QLQ_ERR_CERTIFICATE_REQUIRED')
  refused(t, await post(s, TOKEN.boundB), 401, 'QLQ_ERR_CERTIFICATE_REQUIRED')

  t.equal(s.sender.events.length, 2, 'only the two admitted requests were sent on')
  t.same(
    s.sender.events.map((e) => e.sensor_id),
    ['kz-bound-a', 'kz-bound-b'],
  )
})

t.test("a sensor without a binding may come without a certificate, never with another sensor's", async (t) => {
  const s = await setup(t)
  t.equal((await post(s, TOKEN.open)).status, 202)
  refused(t, await post(s, TOKEN.open, s.certs.a), 403, 'QLQ_ERR_CERTIFICATE_MISMATCH')
  refused(t, await post(s, TOKEN.open, s.certs.b), 403, 'QLQ_ERR_CERTIFICATE_MISMATCH')
  t.equal((await post(s, TOKEN.open, s.certs.rogueA)).status, 202, 'a certificate our CA did not issue binds nobody')
})

t.test('HEC answers the same refusals in its own codes', async (t) => {
  const s = await setup(t)
  const missing = await post(s, TOKEN.boundA, undefined, '/services/collector/event', 'Splunk')
  t.equal(missing.status, 401)
  t.match(JSON.parse(missing.text), { code: 3, text: 'Invalid authorization', error: 'QLQ_ERR_CERTIFICATE_REQUIRED' })
  const revoked = await post(s, TOKEN.revoked, undefined, '/services/collector/event', 'Splunk')
  t.equal(revoked.status, 401)
  t.match(JSON.parse(revoked.text), { code: 1, text: 'Token disabled', error: 'QLQ_ERR_TOKEN_REVOKED' })
  const ok = await post(s, TOKEN.boundA, s.certs.a, '/services/collector/event', 'Splunk')
  t.equal(ok.status, 200)
})

t.test('the certificate is checked before the body is read', async (t) => {
  const s = await setup(t)
  // Headers announcing 5 MiB, and no body: the answer comes without it.
  const answer = await new Promise<string>((resolve) => {
    let received = ''
    const socket = connect({ host: '127.0.0.1', port: s.port, ca: s.ca, servername: 'localhost' }, () =>
      socket.write(
        `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN.boundA}\r\nContent-Type: application/json\r\nContent-Length: ${5 * 1024 * 1024}\r\n\r\n`,
      ),
    )
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1')
      if (received.includes('}')) socket.destroy()
    })
    socket.on('close', () => resolve(received))
    socket.on('error', () => undefined)
  })
  t.match(answer, /^HTTP\/1\.1 401 /)
  t.match(answer, '"error":"QLQ_ERR_CERTIFICATE_REQUIRED"')
})

t.test('revoked and expired tokens are refused; two tokens of one sensor both work during a rotation', async (t) => {
  const s = await setup(t)
  const revoked = await post(s, 'token-revoked')
  refused(t, revoked, 401, 'QLQ_ERR_TOKEN_REVOKED')
  const retired = await post(s, TOKEN.retired)
  refused(t, retired, 401, 'QLQ_ERR_TOKEN_EXPIRED')
  t.match(JSON.parse(retired.text).message, /expired at 2025-01-01T00:00:00Z/)
  t.equal((await post(s, TOKEN.rotatingOld)).status, 202, 'the old token of a rotation')
  t.equal((await post(s, TOKEN.rotatingNew)).status, 202, 'and the new one')
  t.same(
    s.sender.events.map((e) => e.sensor_id),
    ['kz-rotating', 'kz-rotating'],
    'both file under the one sensor',
  )
  const unknown = await post(s, 'token-never-registered')
  refused(t, unknown, 401, 'QLQ_ERR_UNAUTHORIZED')
})

t.test('an expiry holds while a broken registry file keeps the previous registry', async (t) => {
  const s = await setup(t)
  t.equal((await post(s, TOKEN.expiring)).status, 202, 'before its not_after')
  writeFileSync(s.tokensFile, '{"sensors": [')
  t.equal(s.registry.reload(), false, 'the broken file is refused')
  t.match(s.registry.lastError(), /cannot read the token registry/)
  const wait = s.expiresAt.getTime() - Date.now() + 50
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  refused(t, await post(s, TOKEN.expiring), 401, 'QLQ_ERR_TOKEN_EXPIRED')
  t.equal((await post(s, TOKEN.open)).status, 202, 'the previous registry is still in use')
})
