import t from 'tap'
import { openClickHouse, withoutCredentials } from '../../../services/clickhouse/index.js'
import { ConfigError, loadConfig } from '../../../services/config.js'
import { TOKENS_FILE } from '../../helpers/stack.js'

// A ClickHouse URL may carry a user and password: neither reaches a log line or a message.
t.test('a server URL is named without its credentials', async (t) => {
  t.equal(withoutCredentials('https://qalqan:s3cret@ch.example:8443/'), 'https://ch.example:8443/')
  t.equal(withoutCredentials('http://ch:8123'), 'http://ch:8123/')
  t.notMatch(withoutCredentials('not a url s3cret'), 's3cret', 'unreadable: not shown at all')
  const config = loadConfig({
    QALQAN_ROLE: 'worker',
    QALQAN_TOKENS_FILE: TOKENS_FILE,
    QALQAN_CLICKHOUSE_URL: 'http://qalqan:s3cret@127.0.0.1:1',
  })
  const clickhouse = await openClickHouse(config)
  t.teardown(() => clickhouse.close())
  t.equal(clickhouse.location, 'http://127.0.0.1:1/', 'the location the roles log')
})

t.test('a configuration error shows the URL without its credentials', async (t) => {
  try {
    loadConfig({ QALQAN_ROLE: 'worker', QALQAN_CLICKHOUSE_URL: 'ftp://qalqan:s3cret@ch.example' })
    t.fail('accepted')
  } catch (err) {
    t.type(err, ConfigError)
    t.notMatch((err as Error).message, 's3cret')
    t.match((err as Error).message, /QALQAN_CLICKHOUSE_URL="ftp:\/\/\(credentials hidden\)@ch\.example"/)
  }
})
