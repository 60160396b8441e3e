import type { Logger } from 'pino'
import type { ClickHouse } from '../clickhouse/index.js'
import type { Config } from '../config.js'
import { listen } from '../http/server.js'
import type { TokenRegistry } from '../http/tokens.js'
import { buildQueryApi } from './api.js'

export interface QueryNeeds {
  readonly config: Config
  readonly logger: Logger
  readonly tokens: () => TokenRegistry
  readonly clickhouse: ClickHouse
}

/** http -> analyst token -> bound-parameter SQL -> ClickHouse. */
export async function startQuery(needs: QueryNeeds): Promise<{ url: string; close(): Promise<void> }> {
  const app = buildQueryApi(needs.config, {
    logger: needs.logger,
    tokens: needs.tokens,
    clickhouse: needs.clickhouse.reader,
  })
  const url = await listen(app, needs.config.query)
  needs.logger.info({ url }, 'query API listening')
  return { url, close: () => app.close() }
}
