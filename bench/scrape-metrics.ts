/** Reads a product process's Prometheus /metrics: extra detail for a figure, never the figure itself. */

/** Each series' value by its name and labels, as `name{label="value"}`; empty if the process does not answer. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const values = new Map<string, number>()
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).text()
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue
      const space = line.lastIndexOf(' ')
      const key = line.slice(0, space)
      values.set(key, (values.get(key) ?? 0) + Number(line.slice(space + 1)))
    }
  } catch {
    // Metrics are extra detail; a figure never depends on them.
  }
  return values
}

/** The sum of the series named `prefix`, with any labels (or exactly `prefix` when it names labels). */
export const metric = (values: Map<string, number>, prefix: string): number => {
  let total = 0
  for (const [key, value] of values) if (key === prefix || key.startsWith(`${prefix}{`)) total += value
  return total
}
