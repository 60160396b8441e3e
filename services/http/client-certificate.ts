import type { FastifyRequest } from 'fastify'
import { TLSSocket } from 'node:tls'
import { QalqanError } from '../errors.js'
import { certificateMatches, type PresentedCertificate, type Sensor, type TokenRegistry } from './tokens.js'

/** What the connection's TLS says of the client's certificate. */
type Presented =
  | { readonly kind: 'none' }
  | { readonly kind: 'untrusted'; readonly reason: string }
  | { readonly kind: 'trusted'; readonly certificate: PresentedCertificate }

/** The certificate the client presented, and whether the configured CA issued it (the handshake lets any through). */
export function presentedCertificate(request: FastifyRequest): Presented {
  const socket = request.raw.socket
  if (!(socket instanceof TLSSocket)) return { kind: 'none' }
  const x509 = socket.getPeerX509Certificate()
  if (x509 === undefined) return { kind: 'none' }
  if (!socket.authorized) {
    const reason = socket.authorizationError
    return { kind: 'untrusted', reason: reason instanceof Error ? reason.message : String(reason ?? 'not trusted') }
  }
  return {
    kind: 'trusted',
    certificate: { sha256: x509.fingerprint256.replace(/:/g, '').toLowerCase(), subject: x509.subject },
  }
}

/**
 * Refuses a sensor whose registration binds a certificate it did not present (or presented one the
 * CA did not issue), and any sensor presenting a certificate bound to another sensor. A sensor
 * without a binding may connect without a certificate.
 */
export function checkClientCertificate(request: FastifyRequest, sensor: Sensor, tokens: TokenRegistry): void {
  const presented = presentedCertificate(request)
  const binding = sensor.client_certificate
  if (presented.kind === 'trusted') {
    const holders = tokens.holdersOf(presented.certificate)
    if (holders.size > 0 && !holders.has(sensor.id)) {
      throw new QalqanError(
        'QLQ_ERR_CERTIFICATE_MISMATCH',
        `the client certificate presented is bound to another sensor, not to ${sensor.id}: present this sensor's own certificate`,
      )
    }
    if (binding !== undefined && !certificateMatches(binding, presented.certificate)) {
      throw new QalqanError(
        'QLQ_ERR_CERTIFICATE_MISMATCH',
        `the client certificate presented is not the one the token registry binds to ${sensor.id} (client_certificate): present that one, or update the registry after a renewal`,
      )
    }
    return
  }
  if (binding === undefined) return
  throw new QalqanError(
    'QLQ_ERR_CERTIFICATE_REQUIRED',
    presented.kind === 'none'
      ? `sensor ${sensor.id} must present its client certificate with its token (client_certificate in the token registry), over HTTPS to a collector with QALQAN_COLLECTOR_TLS_CLIENT_CA_FILE set`
      : `the client certificate presented was not issued by the collector's CA (QALQAN_COLLECTOR_TLS_CLIENT_CA_FILE): ${presented.reason.slice(0, 200)}`,
  )
}
