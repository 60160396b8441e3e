import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { listen } from '../http/server.js'
import { roleTls, serverTlsOptions } from '../http/tls.js'
import type { TokenRegistry } from '../http/tokens.js'
import type { KafkaConnection } from '../kafka/index.js'
import type { Metrics } from '../metrics.js'
import { Reloadable, reloadErrors } from '../reloadable.js'
import { buildCollector } from './app.js'
import { AssetRegistry } from './enrich/assets.js'
import { enrich, type EnrichLookups } from './enrich/enrich.js'
import { countryDatabase, countryOf } from './enrich/geoip.js'

export interface CollectorNeeds {
  readonly config: Config
  readonly logger: Logger
  readonly metrics: Metrics
  readonly registries: Reloadable<unknown>[]
  readonly tokens: () => TokenRegistry
  readonly kafka: KafkaConnection
}

/** The settings that name the collector's certificate files, for messages. */
export const COLLECTOR_TLS_SETTINGS = {
  cert: 'QALQAN_COLLECTOR_TLS_CERT_FILE',
  key: 'QALQAN_COLLECTOR_TLS_KEY_FILE',
  clientCa: 'QALQAN_COLLECTOR_TLS_CLIENT_CA_FILE',
}

/** http -> decode -> validate -> normalize -> enrich -> kafka; 2xx once Kafka acknowledged. */
export async function startCollector(
  needs: CollectorNeeds,
): Promise<{ url: string; readiness: () => string[]; warnings: () => string[]; close(): Promise<void> }> {
  const { config, logger, metrics, registries } = needs
  const tls = roleTls(config.collector.tls, COLLECTOR_TLS_SETTINGS, 'collector', logger)
  if (tls !== undefined) registries.push(tls.reloadable)
  const producer = needs.kafka.producer(metrics)
  await producer.start()
  const assets =
    config.assetsFile === undefined
      ? undefined
      : new Reloadable({ path: config.assetsFile, load: AssetRegistry.fromFile, logger })
  if (assets !== undefined) registries.push(assets)
  const geo = countryDatabase()
  logger.info(
    { assets: config.assetsFile ?? null, countryDatabaseBuilt: geo.builtAt.toISOString() },
    'enrichment ready',
  )
  const lookups: EnrichLookups = {
    assets: (ip) => assets?.current().lookup(ip),
    country: countryOf,
    refused: (event) => metrics.attributionRefused(event.sensor_id),
  }
  // Only Kafka decides readiness. A file that failed to reload keeps the previous one serving: it is
  // reported, but taking every replica that shares the file out of rotation would stop the ingest.
  const readiness = () => {
    const problem = producer.problem()
    return problem === undefined ? [] : [problem]
  }
  const warnings = () => reloadErrors(registries)
  const app = buildCollector(config, {
    logger,
    tokens: needs.tokens,
    kafka: producer,
    metrics,
    enrich: (event, sensor) => enrich(event, lookups, sensor),
    readiness,
    tls: tls && serverTlsOptions(tls.reloadable.current(), config.collector.tls?.clientCaFile !== undefined),
  })
  tls?.attach(app.server)
  const close = async () => {
    await app.close()
    await producer.close()
  }
  try {
    const url = await listen(app, config.collector)
    logger.info({ url, clientCertificates: config.collector.tls?.clientCaFile !== undefined }, 'collector listening')
    return { url, readiness, warnings, close }
  } catch (err) {
    await close()
    throw err
  }
}
