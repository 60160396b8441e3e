import { readFileSync } from 'node:fs'
import type { Config } from '../config.js'
import { QalqanError } from '../errors.js'
import { withoutCredentials } from './location.js'

/** The client's `tls` option for an https URL: the CA to trust, and a client certificate for mutual TLS. */
export type ClickHouseTls = { ca_cert: Buffer } | { ca_cert: Buffer; cert: Buffer; key: Buffer }

/** Reads the configured PEM files; undefined when no CA is configured (the system's CAs are trusted). */
export function clickhouseTls(tls: Config['clickhouse']['tls']): ClickHouseTls | undefined {
  // The configuration refuses a client certificate without a CA.
  if (tls?.caFile === undefined) return undefined
  const ca_cert = readPem(tls.caFile, 'QALQAN_CLICKHOUSE_CA_FILE')
  if (tls.certFile === undefined || tls.keyFile === undefined) return { ca_cert }
  return {
    ca_cert,
    cert: readPem(tls.certFile, 'QALQAN_CLICKHOUSE_CERT_FILE'),
    key: readPem(tls.keyFile, 'QALQAN_CLICKHOUSE_KEY_FILE'),
  }
}

function readPem(path: string, setting: string): Buffer {
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (err) {
    throw new QalqanError(
      'QLQ_ERR_CLICKHOUSE_TLS_FAILED',
      `${setting}=${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`,
      { cause: err },
    )
  }
  if (!bytes.includes('-----BEGIN ')) {
    throw new QalqanError('QLQ_ERR_CLICKHOUSE_TLS_FAILED', `${setting}=${path}: is not a PEM file (no -----BEGIN line)`)
  }
  return bytes
}

/** Node's codes for a server certificate that could not be verified or does not name the host. */
const CERTIFICATE_CODES =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO|HOSTNAME/

/** A failed TLS handshake as an error naming the setting to fix; undefined for any other failure. */
export function explainClickHouseTls(err: unknown, clickhouse: Config['clickhouse']): QalqanError | undefined {
  const code = String((err as { code?: unknown } | undefined)?.code ?? '')
  if (!CERTIFICATE_CODES.test(code)) return undefined
  const ca = clickhouse.tls?.caFile
  return new QalqanError(
    'QLQ_ERR_CLICKHOUSE_TLS_FAILED',
    `the TLS handshake with ClickHouse at ${withoutCredentials(clickhouse.url ?? '')} failed (${code}: ${(err as Error).message}): ${
      ca === undefined
        ? 'set QALQAN_CLICKHOUSE_CA_FILE to the CA that signed the server certificate (unset: only the system CAs are trusted)'
        : `QALQAN_CLICKHOUSE_CA_FILE=${ca} must name the CA that signed the server certificate`
    }, and the URL must use a name the certificate holds`,
    { cause: err },
  )
}
