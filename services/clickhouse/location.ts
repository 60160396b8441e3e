/** A server's URL for a log line or a message: without the user and password it may carry. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url)
    parsed.username = ''
    parsed.password = ''
    return parsed.href
  } catch {
    return 'QALQAN_CLICKHOUSE_URL (not shown: it could not be read as a URL)'
  }
}
