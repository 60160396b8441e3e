import t, { type Test } from 'tap'
import { copyFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { join } from 'node:path'
import { QalqanError } from '../../../services/errors.js'
import { createServer, listen } from '../../../services/http/server.js'
import { followTls, loadTls, roleTls, serverTlsOptions, TLS_CIPHERS } from '../../../services/http/tls.js'
import { createLogger } from '../../../services/logger.js'
import { certificateAuthority } from '../../helpers/certificates.js'
import { handshake, httpsRequest } from '../../helpers/https.js'

const NAMES = { cert: 'QALQAN_COLLECTOR_TLS_CERT_FILE', key: 'QALQAN_COLLECTOR_TLS_KEY_FILE' }
const logger = createLogger('silent')

/** An HTTPS server of the shared factory on a free port, following the files in `dir`. */
async function httpsServer(t: Test, files: { certFile: string; keyFile: string }) {
  const tls = followTls(files, NAMES, logger)
  const app = createServer(logger, 'test', { maxBodyBytes: 1024 }, serverTlsOptions(tls.reloadable.current(), false))
  tls.attach(app.server)
  t.teardown(async () => {
    tls.reloadable.close()
    await app.close()
  })
  const url = await listen(app, { host: '127.0.0.1', port: 0 })
  return { url, port: Number(new URL(url).port), reloadable: tls.reloadable }
}

t.test('a certificate and key that cannot be used are refused with the setting named', async (t) => {
  const ca = certificateAuthority(t)
  const first = ca.server('first')
  const second = ca.server('second')
  const mismatched = () => loadTls({ certFile: first.certFile, keyFile: second.keyFile }, NAMES)
  t.throws(mismatched, { code: 'QLQ_ERR_TLS_INVALID', message: /QALQAN_COLLECTOR_TLS_KEY_FILE.*cannot be used/ })
  const missing = join(ca.dir, 'no-such.key')
  t.throws(() => loadTls({ certFile: first.certFile, keyFile: missing }, NAMES), {
    code: 'QLQ_ERR_TLS_INVALID',
    message: `cannot read ${missing} (QALQAN_COLLECTOR_TLS_KEY_FILE): ENOENT`,
  })
  const notPem = join(ca.dir, 'not-pem.crt')
  writeFileSync(notPem, 'not a certificate\n')
  try {
    loadTls({ certFile: notPem, keyFile: first.keyFile }, NAMES)
    t.fail('a file that is not PEM was accepted')
  } catch (err) {
    t.type(err, QalqanError)
    t.notMatch((err as Error).message, /BEGIN|PRIVATE/, 'no key material in the message')
  }
  const options = loadTls(first, NAMES)
  t.equal(options.minVersion, 'TLSv1.2')
  t.equal(options.ciphers, TLS_CIPHERS)
  t.notMatch(TLS_CIPHERS, /CBC|SHA1$|RC4|3DES|-SHA:|NULL|EXPORT/, 'AEAD suites with forward secrecy only')
})

t.test('HTTPS: TLS 1.2 and 1.3 with modern suites; TLS 1.1, a CBC suite and plain HTTP are refused', async (t) => {
  const ca = certificateAuthority(t)
  const server = ca.server('first')
  const { url, port } = await httpsServer(t, server)
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/)

  const health = await httpsRequest(`${url}/healthz`, { ca: ca.cert })
  t.equal(health.status, 200)
  t.same(JSON.parse(health.text), { status: 'ok' })

  const tls13 = await handshake(port, { ca: ca.cert })
  t.match(tls13, { ok: true, protocol: 'TLSv1.3' })
  const tls12 = await handshake(port, { ca: ca.cert, maxVersion: 'TLSv1.2' })
  t.match(tls12, { ok: true, protocol: 'TLSv1.2' })
  t.ok(tls12.ok && TLS_CIPHERS.split(':').includes(tls12.cipher), `a suite of the list: ${tls12.ok && tls12.cipher}`)

  // The client is allowed TLS 1.1 (security level 0), so that the refusal is the server's: a
  // server that allows it too agrees on TLS 1.1 with this very client.
  const oldClient = {
    ca: ca.cert,
    minVersion: 'TLSv1.1',
    maxVersion: 'TLSv1.1',
    ciphers: 'DEFAULT@SECLEVEL=0',
  } as const
  const lax = createTlsServer(
    { cert: server.cert, key: server.key, minVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
    (socket) => socket.end(),
  )
  await new Promise<void>((resolve) => lax.listen(0, '127.0.0.1', resolve))
  t.teardown(() => lax.close())
  const laxPort = (lax.address() as { port: number }).port
  t.match(await handshake(laxPort, oldClient), { ok: true, protocol: 'TLSv1.1' }, 'the client can speak TLS 1.1')
  const tls11 = await handshake(port, oldClient)
  t.match(tls11, { ok: false, code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' }, "TLS 1.1 is refused by Qalqan's server")
  const cbc = await handshake(port, {
    ca: ca.cert,
    maxVersion: 'TLSv1.2',
    ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384',
  })
  // OpenSSL 3 (Node.js 20) says SSLV3 in the alert's name, OpenSSL 3.5 (Node.js 24) SSL/TLS.
  t.match(cbc, { ok: false, code: /^ERR_SSL_(SSLV3|SSL\/TLS)_ALERT_HANDSHAKE_FAILURE$/ }, 'a CBC suite is refused')

  // Plain HTTP to the HTTPS port gets no HTTP answer.
  const plain = await new Promise<string>((resolve) => {
    let received = ''
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'))
    socket.on('data', (chunk) => (received += chunk.toString('latin1')))
    socket.on('close', () => resolve(received))
    socket.on('error', () => undefined)
  })
  t.notMatch(plain, /^HTTP\/1\.1 200/, 'no answer in the clear')
})

t.test(
  'a new certificate written over the files is served to new connections; a broken pair keeps the old',
  async (t) => {
    const ca = certificateAuthority(t)
    const first = ca.server('first')
    const second = ca.server('second')
    const live = { certFile: join(ca.dir, 'live.crt'), keyFile: join(ca.dir, 'live.key') }
    copyFileSync(first.certFile, live.certFile)
    copyFileSync(first.keyFile, live.keyFile)
    const { port, reloadable } = await httpsServer(t, live)
    const served = async () => {
      const answer = await handshake(port, { ca: ca.cert })
      return answer.ok ? answer.certificate.subject.CN : `failed: ${answer.ok || answer.message}`
    }
    t.equal(await served(), 'first')

    /** Waits for the watcher to reload (it debounces), then says what is served. */
    const servedOnceChanged = async (from: string) => {
      for (let tries = 0; tries < 100; tries++) {
        const now = await served()
        if (now !== from) return now
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      return from
    }

    // Key first, then certificate: in between the pair does not match, and the old one stays.
    copyFileSync(second.keyFile, live.keyFile)
    for (let tries = 0; tries < 100 && reloadable.lastError() === undefined; tries++)
      await new Promise((resolve) => setTimeout(resolve, 100))
    t.match(reloadable.lastError(), /cannot be used/, 'the mismatched pair is reported')
    t.equal(await served(), 'first', 'and the previous certificate is still served')
    copyFileSync(second.certFile, live.certFile)
    t.equal(await servedOnceChanged('first'), 'second', 'the new certificate is served without a restart')
    t.equal(reloadable.lastError(), undefined, 'and the problem is gone')
  },
)

t.test('without a certificate a role serves plain HTTP and says so in the log', async (t) => {
  let written = ''
  const warned = createLogger('info', {
    write: (line: string) => {
      written += line
    },
  })
  t.equal(roleTls(undefined, NAMES, 'collector', warned), undefined)
  const line = JSON.parse(written.trim()) as Record<string, unknown>
  t.match(line, {
    level: 40,
    role: 'collector',
    msg: /no certificate configured.*QALQAN_COLLECTOR_TLS_CERT_FILE.*plain HTTP/,
  })
  const app = createServer(logger, 'test', { maxBodyBytes: 1024 })
  t.teardown(() => app.close())
  t.match(await listen(app, { host: '127.0.0.1', port: 0 }), /^http:\/\//)
})
