import { readFileSync } from 'node:fs'
import { createSecureContext, Server as TlsServer, type SecureContextOptions, type TlsOptions } from 'node:tls'
import type { Logger } from 'pino'
import { QalqanError } from '../errors.js'
import { Reloadable } from '../reloadable.js'

/** The files of a role's HTTPS: its certificate (chain) and key, and the CA that issues sensor certificates. */
export interface TlsFiles {
  readonly certFile: string
  readonly keyFile: string
  readonly clientCaFile?: string | undefined
}

/**
 * TLS 1.2 with forward-secret AEAD suites only (Mozilla's "intermediate" list); TLS 1.3's suites
 * are all modern and are not set by this list.
 */
export const TLS_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':')

/** The settings that name the files, for messages. */
export interface TlsSettingNames {
  readonly cert: string
  readonly key: string
  readonly clientCa?: string
}

/** Reads the files and checks that they make a context (the key matches the certificate); QLQ_ERR_TLS_INVALID otherwise. */
export function loadTls(files: TlsFiles, names: TlsSettingNames): SecureContextOptions {
  const read = (path: string, setting: string) => {
    try {
      return readFileSync(path)
    } catch (err) {
      throw new QalqanError(
        'QLQ_ERR_TLS_INVALID',
        `cannot read ${path} (${setting}): ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        { cause: err },
      )
    }
  }
  const options: SecureContextOptions = {
    cert: read(files.certFile, names.cert),
    key: read(files.keyFile, names.key),
    ...(files.clientCaFile !== undefined && { ca: read(files.clientCaFile, names.clientCa ?? 'the client CA') }),
    minVersion: 'TLSv1.2',
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
  }
  try {
    createSecureContext(options)
  } catch (err) {
    // OpenSSL's message names the problem (no start line, key values mismatch), never the key's bytes.
    throw new QalqanError(
      'QLQ_ERR_TLS_INVALID',
      `the certificate ${files.certFile} (${names.cert}) and key ${files.keyFile} (${names.key})${files.clientCaFile === undefined ? '' : ` or the CA ${files.clientCaFile}`} cannot be used: ${(err as Error).message}`,
      { cause: err },
    )
  }
  return options
}

/** A server's options for these files: a client certificate is asked for when a CA is given, and checked per request, not at the handshake. */
export function serverTlsOptions(context: SecureContextOptions, asksClientCertificate: boolean): TlsOptions {
  // A sensor without a certificate still connects, so that it hears which one it lacks in an answer.
  // A handshake that stalls ties up a connection as trickling headers do: bounded likewise.
  return { ...context, requestCert: asksClientCertificate, rejectUnauthorized: false, handshakeTimeout: 10_000 }
}

/**
 * The files followed as the registries are: a new certificate and key are handed to the server as
 * soon as they are both in place and match (new connections use them); a broken pair keeps the previous.
 */
export function followTls(
  files: TlsFiles,
  names: TlsSettingNames,
  logger: Logger,
): { reloadable: Reloadable<SecureContextOptions>; attach(server: object): void } {
  let server: TlsServer | undefined
  const reloadable = new Reloadable<SecureContextOptions>({
    path: files.certFile,
    also: [files.keyFile, ...(files.clientCaFile === undefined ? [] : [files.clientCaFile])],
    load: () => loadTls(files, names),
    logger,
    onReload: (context) => server?.setSecureContext(serverTlsOptions(context, files.clientCaFile !== undefined)),
  })
  return {
    reloadable,
    /** The server the app made (an HTTPS server whenever TLS options were given). */
    attach: (to) => {
      if (to instanceof TlsServer) server = to
    },
  }
}

/** The role's TLS, or undefined with a warning that it serves plain HTTP. */
export function roleTls(
  files: TlsFiles | undefined,
  names: TlsSettingNames,
  role: string,
  logger: Logger,
): ReturnType<typeof followTls> | undefined {
  if (files === undefined) {
    logger.warn(
      { role },
      `no certificate configured (${names.cert}, ${names.key}): serving plain HTTP, which only a network of your own should carry`,
    )
    return undefined
  }
  return followTls(files, names, logger)
}
