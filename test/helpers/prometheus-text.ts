/** Reads values out of a Prometheus text exposition (what `GET /metrics` answers). */

const SAMPLE_RE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL_RE = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;

/**
 * The sum of the samples of `name` whose labels include `labels` (0 when there are none), so
 * `metricValue(text, 'dfstore_bytes_sent_total', { server: 'api' })` works whatever other
 * labels the series carry.
 */
export function metricValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = SAMPLE_RE.exec(line.trim());
    if (!match || match[1] !== name) continue;
    const found = new Map<string, string>();
    for (const [, key = '', value = ''] of (match[2] ?? '').matchAll(LABEL_RE)) {
      found.set(key, value);
    }
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) {
      total += Number(match[3]);
    }
  }
  return total;
}

/** Whether the exposition has a sample or a `# TYPE` line for `name`. */
export function hasMetric(text: string, name: string): boolean {
  return text
    .split('\n')
    .some(
      (line) =>
        line.startsWith(`${name} `) ||
        line.startsWith(`${name}{`) ||
        line === `# TYPE ${name} counter` ||
        line.startsWith(`# TYPE ${name} `),
    );
}
