import type { Logger } from 'pino'
import type { ClickHouse } from '../clickhouse/index.js'
import type { Config } from '../config.js'
import { listen } from '../http/server.js'
import { roleTls, serverTlsOptions } from '../http/tls.js'
import type { TokenRegistry } from '../http/tokens.js'
import { type Reloadable, reloadErrors } from '../reloadable.js'
import { buildQueryApi } from './api.js'
import { QueryAudit } from './audit.js'

export interface QueryNeeds {
  readonly config: Config
  readonly logger: Logger
  readonly registries: Reloadable<unknown>[]
  readonly tokens: () => TokenRegistry
  readonly clickhouse: ClickHouse
}

/** The settings that name the query API's certificate files, for messages. */
export const QUERY_TLS_SETTINGS = { cert: 'QALQAN_QUERY_TLS_CERT_FILE', key: 'QALQAN_QUERY_TLS_KEY_FILE' }

/** http -> analyst token -> bound-parameter SQL -> ClickHouse; each query recorded in the audit log. */
export async function startQuery(
  needs: QueryNeeds,
): Promise<{ url: string; warnings: () => string[]; close(): Promise<void> }> {
  const { config, logger, registries } = needs
  const tls = roleTls(config.query.tls, QUERY_TLS_SETTINGS, 'query', logger)
  if (tls !== undefined) registries.push(tls.reloadable)
  const audit = new QueryAudit(config.query.auditLog)
  const app = buildQueryApi(config, {
    logger,
    tokens: needs.tokens,
    clickhouse: needs.clickhouse.reader,
    audit,
    tls: tls && serverTlsOptions(tls.reloadable.current(), false),
  })
  tls?.attach(app.server)
  const close = async () => {
    await app.close()
    audit.flush()
  }
  // A file that failed to reload keeps the previous one serving: reported, never a reason to be unready.
  const warnings = () => reloadErrors(registries)
  try {
    const url = await listen(app, config.query)
    logger.info({ url, auditLog: config.query.auditLog }, 'query API listening')
    return { url, warnings, close }
  } catch (err) {
    await close()
    throw err
  }
}
