import type { Config } from '../config.js'
import { QalqanError } from '../errors.js'
import { CERTIFICATE_CODES, readPem } from '../pem.js'
import { withoutCredentials } from './location.js'

const FAILED = 'QLQ_ERR_CLICKHOUSE_TLS_FAILED'

/** The client's `tls` option for an https URL: the CA to trust, and a client certificate for mutual TLS. */
export type ClickHouseTls = { ca_cert: Buffer } | { ca_cert: Buffer; cert: Buffer; key: Buffer }

/** Reads the configured PEM files; undefined when no CA is configured (the system's CAs are trusted). */
export function clickhouseTls(tls: Config['clickhouse']['tls']): ClickHouseTls | undefined {
  // The configuration refuses a client certificate without a CA.
  if (tls?.caFile === undefined) return undefined
  const ca_cert = readPem(tls.caFile, 'QALQAN_CLICKHOUSE_CA_FILE', FAILED)
  if (tls.certFile === undefined || tls.keyFile === undefined) return { ca_cert }
  return {
    ca_cert,
    cert: readPem(tls.certFile, 'QALQAN_CLICKHOUSE_CERT_FILE', FAILED),
    key: readPem(tls.keyFile, 'QALQAN_CLICKHOUSE_KEY_FILE', FAILED),
  }
}

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
