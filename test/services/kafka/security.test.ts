import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../../services/config.js'
import { explainKafkaError, kafkaSecurity } from '../../../services/kafka/security.js'
import { certificateAuthority } from '../../helpers/certificates.js'

const BASE = {
  QALQAN_TOKENS_FILE: 'test/fixtures/tokens.json',
  QALQAN_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
  QALQAN_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
  QALQAN_KAFKA_SASL_USERNAME: 'qalqan',
  QALQAN_KAFKA_SASL_PASSWORD: 'pa55word',
}

t.test('kafkajs options: the PEM files read, the mechanism in kafkajs spelling', async (t) => {
  const ca = certificateAuthority(t)
  const client = ca.client('qalqan')
  const config = loadConfig({
    ...BASE,
    QALQAN_KAFKA_CA_FILE: ca.certFile,
    QALQAN_KAFKA_CERT_FILE: client.certFile,
    QALQAN_KAFKA_KEY_FILE: client.keyFile,
  })
  t.same(kafkaSecurity(config.kafka), {
    ssl: {
      rejectUnauthorized: true,
      ca: [ca.cert.toString()],
      cert: client.cert.toString(),
      key: client.key.toString(),
    },
    sasl: { mechanism: 'scram-sha-256', username: 'qalqan', password: 'pa55word' },
  })
  t.same(kafkaSecurity(loadConfig({ QALQAN_TOKENS_FILE: BASE.QALQAN_TOKENS_FILE }).kafka), {
    ssl: undefined,
    sasl: undefined,
  })
})

t.test('files that are not PEM, or a key that is not the certificate’s, are refused naming the settings', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qalqan-kafka-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const junk = join(dir, 'junk.pem')
  writeFileSync(junk, 'hello')
  t.throws(() => kafkaSecurity(loadConfig({ ...BASE, QALQAN_KAFKA_CA_FILE: junk }).kafka), {
    code: 'QLQ_ERR_KAFKA_TLS_FAILED',
    message: /^QALQAN_KAFKA_CA_FILE=.*junk\.pem: is not a PEM file/,
  })
  const ca = certificateAuthority(t)
  const one = ca.client('one')
  const other = ca.client('other')
  const mismatched = loadConfig({ ...BASE, QALQAN_KAFKA_CERT_FILE: one.certFile, QALQAN_KAFKA_KEY_FILE: other.keyFile })
  t.throws(() => kafkaSecurity(mismatched.kafka), {
    code: 'QLQ_ERR_KAFKA_TLS_FAILED',
    message: /the Kafka TLS files cannot be used .*QALQAN_KAFKA_CERT_FILE, QALQAN_KAFKA_KEY_FILE/,
  })
})

t.test('errors other than a refused login or certificate pass through unchanged', async (t) => {
  const config = loadConfig(BASE)
  const other = new Error('Connection timeout')
  t.equal(explainKafkaError(other, config.kafka), other)
  const certificate = Object.assign(new Error('Connection error: self-signed certificate in certificate chain'), {
    code: 'SELF_SIGNED_CERT_IN_CHAIN',
  })
  const retried = new Error('retries exceeded', { cause: certificate })
  t.match(explainKafkaError(retried, config.kafka), {
    code: 'QLQ_ERR_KAFKA_TLS_FAILED',
    message:
      /self-signed certificate .*QALQAN_KAFKA_CA_FILE must name the CA .*\(unset: only the system CAs are trusted\)/,
  })
})
