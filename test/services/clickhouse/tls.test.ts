import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { serverOptions } from '../../../services/clickhouse/client.js'
import { openClickHouse } from '../../../services/clickhouse/index.js'
import { loadConfig } from '../../../services/config.js'
import { QalqanError } from '../../../services/errors.js'
import { certificateAuthority } from '../../helpers/certificates.js'

const REGISTRY = { QALQAN_TOKENS_FILE: 'test/fixtures/tokens.json', QALQAN_ROLE: 'query' }

function secretFile(t: Test, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-ch-secret-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'secret')
  writeFileSync(path, text)
  return path
}

interface Seen {
  path: string
  user: string | string[] | undefined
  key: string | string[] | undefined
  certificateAuth: string | string[] | undefined
  clientCertificate: string | undefined
}

/**
 * The part of ClickHouse's HTTP interface a client's ping uses: `GET /ping` answers `Ok.` (as a
 * server does), over HTTPS with the given certificate; every request is recorded.
 */
async function pingServer(
  t: Test,
  cert: Buffer,
  key: Buffer,
  clientCa?: Buffer,
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = []
  const server: Server = createServer(
    { cert, key, ...(clientCa && { ca: clientCa, requestCert: true, rejectUnauthorized: true }) },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate()
      seen.push({
        path: req.url ?? '',
        user: req.headers['x-clickhouse-user'],
        key: req.headers['x-clickhouse-key'],
        certificateAuth: req.headers['x-clickhouse-ssl-certificate-auth'],
        clientCertificate: String(peer.subject?.CN ?? '') || undefined,
      })
      if (req.url === '/ping') res.end('Ok.\n')
      else {
        res.statusCode = 404
        res.end()
      }
    },
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

t.test('the client options carry the CA, the client certificate and the credentials read from files', async (t) => {
  const ca = certificateAuthority(t)
  const client = ca.client('qalqan-worker')
  const config = loadConfig({
    ...REGISTRY,
    QALQAN_CLICKHOUSE_URL: 'https://clickhouse.example:8443',
    QALQAN_CLICKHOUSE_CA_FILE: ca.certFile,
    QALQAN_CLICKHOUSE_CERT_FILE: client.certFile,
    QALQAN_CLICKHOUSE_KEY_FILE: client.keyFile,
    QALQAN_CLICKHOUSE_USER_FILE: secretFile(t, 'qalqan_writer\n'),
    QALQAN_CLICKHOUSE_PASSWORD_FILE: secretFile(t, 'pa55word\n'),
  })
  t.same(serverOptions(config.clickhouse), {
    url: 'https://clickhouse.example:8443',
    username: 'qalqan_writer',
    password: 'pa55word',
    database: 'default',
    tls: { ca_cert: ca.cert, cert: client.cert, key: client.key },
  })
  const plain = loadConfig({ ...REGISTRY, QALQAN_CLICKHOUSE_URL: 'https://clickhouse.example:8443' })
  t.notOk('tls' in serverOptions(plain.clickhouse), 'no CA: the system CAs, as Node trusts them')
})

t.test('a CA file that is not PEM is refused, naming the setting', async (t) => {
  const config = loadConfig({
    ...REGISTRY,
    QALQAN_CLICKHOUSE_URL: 'https://clickhouse.example:8443',
    QALQAN_CLICKHOUSE_CA_FILE: secretFile(t, 'not a certificate'),
  })
  t.throws(() => serverOptions(config.clickhouse), {
    code: 'QLQ_ERR_CLICKHOUSE_TLS_FAILED',
    message: /^QALQAN_CLICKHOUSE_CA_FILE=.*: is not a PEM file/,
  })
})

t.test('over HTTPS with the configured CA the server is reached, with the credentials from files', async (t) => {
  const ca = certificateAuthority(t)
  const server = ca.server('clickhouse')
  const { url, seen } = await pingServer(t, server.cert, server.key)
  const clickhouse = await openClickHouse(
    loadConfig({
      ...REGISTRY,
      QALQAN_CLICKHOUSE_URL: url,
      QALQAN_CLICKHOUSE_CA_FILE: ca.certFile,
      QALQAN_CLICKHOUSE_USER: 'qalqan_reader',
      QALQAN_CLICKHOUSE_PASSWORD_FILE: secretFile(t, 'pa55word\n'),
    }),
  )
  await clickhouse.close()
  t.equal(seen.length, 1)
  t.equal(seen[0]?.path, '/ping')
  // Over TLS the client sends the credentials as ClickHouse's own headers.
  t.equal(seen[0]?.user, 'qalqan_reader')
  t.equal(seen[0]?.key, 'pa55word')
  t.equal(seen[0]?.certificateAuth, undefined)
})

t.test('mutual TLS: the client certificate reaches a server that asks for one', async (t) => {
  const ca = certificateAuthority(t)
  const server = ca.server('clickhouse')
  const client = ca.client('qalqan-worker')
  const { url, seen } = await pingServer(t, server.cert, server.key, ca.cert)
  const clickhouse = await openClickHouse(
    loadConfig({
      ...REGISTRY,
      QALQAN_CLICKHOUSE_URL: url,
      QALQAN_CLICKHOUSE_CA_FILE: ca.certFile,
      QALQAN_CLICKHOUSE_CERT_FILE: client.certFile,
      QALQAN_CLICKHOUSE_KEY_FILE: client.keyFile,
    }),
  )
  await clickhouse.close()
  t.equal(seen[0]?.clientCertificate, 'qalqan-worker')
  t.equal(seen[0]?.certificateAuth, 'on', 'ClickHouse is asked to log the user in by its certificate')
})

t.test(
  'a server whose certificate another CA signed is refused at open, naming QALQAN_CLICKHOUSE_CA_FILE',
  async (t) => {
    const ours = certificateAuthority(t, 'Qalqan Test CA')
    const theirs = certificateAuthority(t, 'Some Other CA')
    const server = theirs.server('clickhouse')
    const { url, seen } = await pingServer(t, server.cert, server.key)
    const settings = { ...REGISTRY, QALQAN_CLICKHOUSE_URL: url, QALQAN_CLICKHOUSE_PASSWORD: 'pa55word' }
    for (const [name, extra] of [
      ['the configured CA', { QALQAN_CLICKHOUSE_CA_FILE: ours.certFile }],
      ['no CA: the system CAs', {}],
    ] as const) {
      const err = await openClickHouse(loadConfig({ ...settings, ...extra })).then(
        () => undefined,
        (e: unknown) => e,
      )
      t.type(err, QalqanError, name)
      t.equal((err as QalqanError).code, 'QLQ_ERR_CLICKHOUSE_TLS_FAILED')
      t.match((err as Error).message, /TLS handshake with ClickHouse at https:\/\/127\.0\.0\.1:\d+\/? failed/)
      t.match((err as Error).message, /QALQAN_CLICKHOUSE_CA_FILE/)
      t.notMatch((err as Error).message, 'pa55word')
    }
    t.equal(seen.length, 0, 'no request, so no credentials, reached the server')
  },
)
