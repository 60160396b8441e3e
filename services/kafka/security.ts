import { createSecureContext } from 'node:tls'
import type { KafkaConfig, SASLOptions } from 'kafkajs'
import type { Config } from '../config.js'
import { QalqanError } from '../errors.js'
import { CERTIFICATE_CODES, readPem } from '../pem.js'

const FAILED = 'QLQ_ERR_KAFKA_TLS_FAILED'

type TlsOptions = Exclude<KafkaConfig['ssl'], boolean | undefined>

/** kafkajs's `ssl` and `sasl` options from the settings; the PEM files are read here, once. */
export function kafkaSecurity(kafka: Config['kafka']): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  return { ssl: tlsOptions(kafka.tls), sasl: saslOptions(kafka.sasl) }
}

function tlsOptions(tls: Config['kafka']['tls']): TlsOptions | undefined {
  if (tls === undefined) return undefined
  const options: TlsOptions = { rejectUnauthorized: true }
  if (tls.caFile !== undefined) options.ca = [readPem(tls.caFile, 'QALQAN_KAFKA_CA_FILE', FAILED).toString('utf8')]
  if (tls.certFile !== undefined)
    options.cert = readPem(tls.certFile, 'QALQAN_KAFKA_CERT_FILE', FAILED).toString('utf8')
  if (tls.keyFile !== undefined) options.key = readPem(tls.keyFile, 'QALQAN_KAFKA_KEY_FILE', FAILED).toString('utf8')
  if (tls.keyPassword !== undefined) options.passphrase = tls.keyPassword
  try {
    // Node reports a bad PEM, or a key that does not match its certificate or passphrase, only here.
    createSecureContext(options)
  } catch (err) {
    throw new QalqanError(
      'QLQ_ERR_KAFKA_TLS_FAILED',
      `the Kafka TLS files cannot be used (${(err as Error).message}): check QALQAN_KAFKA_CA_FILE, QALQAN_KAFKA_CERT_FILE, QALQAN_KAFKA_KEY_FILE and QALQAN_KAFKA_KEY_PASSWORD`,
      { cause: err },
    )
  }
  return options
}

function saslOptions(sasl: Config['kafka']['sasl']): SASLOptions | undefined {
  if (sasl === undefined) return undefined
  const { username, password } = sasl
  switch (sasl.mechanism) {
    case 'PLAIN':
      return { mechanism: 'plain', username, password }
    case 'SCRAM-SHA-256':
      return { mechanism: 'scram-sha-256', username, password }
    case 'SCRAM-SHA-512':
      return { mechanism: 'scram-sha-512', username, password }
  }
}

/**
 * The error that stops a start when Kafka refused the credentials or the TLS handshake failed, naming
 * the settings to fix; any other error unchanged. kafkajs never retries a refused authentication,
 * so this comes at the first attempt instead of a loop of reconnects.
 */
export function explainKafkaError(err: unknown, kafka: Config['kafka']): unknown {
  if (err instanceof QalqanError) return err
  const chain = causes(err)
  const auth = chain.find((e) => e.name === 'KafkaJSSASLAuthenticationError')
  if (auth !== undefined) {
    return new QalqanError(
      'QLQ_ERR_KAFKA_AUTH_FAILED',
      `Kafka at ${kafka.brokers.join(',')} refused the ${kafka.sasl?.mechanism ?? 'SASL'} login of user "${kafka.sasl?.username ?? ''}" (${auth.message}): check QALQAN_KAFKA_SASL_USERNAME and QALQAN_KAFKA_SASL_PASSWORD (or QALQAN_KAFKA_SASL_PASSWORD_FILE), and QALQAN_KAFKA_SASL_MECHANISM`,
      { cause: err },
    )
  }
  const tls = chain.find((e) => CERTIFICATE_CODES.test(String((e as { code?: unknown }).code ?? '')))
  if (tls !== undefined) {
    return new QalqanError(
      'QLQ_ERR_KAFKA_TLS_FAILED',
      `the TLS handshake with Kafka at ${kafka.brokers.join(',')} failed (${tls.message}): QALQAN_KAFKA_CA_FILE must name the CA that signed the brokers' certificates${kafka.tls?.caFile === undefined ? ' (unset: only the system CAs are trusted)' : ''}, and the brokers must be reached by a name their certificate holds${kafka.tls?.certFile === undefined ? '' : '; the brokers must also trust the client certificate of QALQAN_KAFKA_CERT_FILE'}`,
      { cause: err },
    )
  }
  return err
}

function causes(err: unknown): Error[] {
  const chain: Error[] = []
  for (let e = err; e instanceof Error && chain.length < 10; e = (e as { cause?: unknown }).cause) chain.push(e)
  return chain
}
