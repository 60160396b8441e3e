import { readFileSync } from 'node:fs'
import { type ErrorCode, QalqanError } from './errors.js'

/**
 * A PEM file's bytes for a client of Kafka or ClickHouse; a file that cannot be read, or holds no
 * PEM block, is refused with `code`, naming the setting that points at it.
 */
export function readPem(path: string, setting: string, code: ErrorCode): Buffer {
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (err) {
    throw new QalqanError(
      code,
      `${setting}=${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`,
      { cause: err },
    )
  }
  if (!bytes.includes('-----BEGIN '))
    throw new QalqanError(code, `${setting}=${path}: is not a PEM file (no -----BEGIN line)`)
  return bytes
}

/** Node's codes for a server certificate that could not be verified or does not name the host. */
export const CERTIFICATE_CODES =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO|HOSTNAME/
