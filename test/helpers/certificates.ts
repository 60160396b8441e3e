import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'

// Certificates made by the openssl command line, the way docs/operations.md ("HTTPS and sensor
// certificates") tells an operator to make them: a CA, server certificates for 127.0.0.1, and
// client certificates for sensors. EC P-256 keys, quick to make.

export interface Issued {
  readonly certFile: string
  readonly keyFile: string
  readonly cert: Buffer
  readonly key: Buffer
  /** 64 lowercase hex digits, as the token registry's client_certificate.sha256 takes it. */
  readonly sha256: string
  /** As `openssl x509 -fingerprint -sha256` prints it: upper case, colons. */
  readonly opensslFingerprint: string
}

export interface Authority {
  readonly dir: string
  readonly certFile: string
  readonly cert: Buffer
  /** A server certificate for 127.0.0.1 and localhost, signed by this CA. */
  server(name: string): Issued
  /** A client certificate (clientAuth) with this CN, signed by this CA. */
  client(commonName: string): Issued
}

function openssl(dir: string, args: string[]): string {
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** A new CA in a temporary folder of its own, removed when the test ends. */
export function certificateAuthority(t: Test, name = 'Qalqan Test CA'): Authority {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-certs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const prefix = name.replace(/\W+/g, '-').toLowerCase()
  const caKey = `${prefix}.key`
  const caCert = `${prefix}.crt`
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    '2',
    '-subj',
    `/O=Qalqan tests/CN=${name}`,
  ])
  const issue = (file: string, subject: string, extensions: string): Issued => {
    writeFileSync(join(dir, `${file}.ext`), `${extensions}\n`)
    openssl(dir, [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${file}.key`,
      '-out',
      `${file}.csr`,
      '-subj',
      subject,
    ])
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${file}.csr`,
      '-CA',
      caCert,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      `${file}.crt`,
      '-days',
      '2',
      '-extfile',
      `${file}.ext`,
    ])
    const cert = readFileSync(join(dir, `${file}.crt`))
    const printed = openssl(dir, ['x509', '-in', `${file}.crt`, '-noout', '-fingerprint', '-sha256']).trim()
    return {
      certFile: join(dir, `${file}.crt`),
      keyFile: join(dir, `${file}.key`),
      cert,
      key: readFileSync(join(dir, `${file}.key`)),
      sha256: new X509Certificate(cert).fingerprint256.replace(/:/g, '').toLowerCase(),
      opensslFingerprint: printed.slice(printed.indexOf('=') + 1),
    }
  }
  return {
    dir,
    certFile: join(dir, caCert),
    cert: readFileSync(join(dir, caCert)),
    server: (serverName) =>
      issue(
        `${prefix}-server-${serverName}`,
        `/O=Qalqan tests/CN=${serverName}`,
        'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth',
      ),
    client: (commonName) =>
      issue(`${prefix}-client-${commonName}`, `/O=Qalqan tests/CN=${commonName}`, 'extendedKeyUsage=clientAuth'),
  }
}
