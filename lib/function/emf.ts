/**
 * CloudWatch Embedded Metric Format: one JSON line per request on stdout, which CloudWatch Logs
 * turns into metrics without an API call (https://docs.aws.amazon.com/AmazonCloudWatch/latest/
 * monitoring/CloudWatch_Embedded_Metric_Format_Specification.html). Dimensions are the route
 * pattern and the status class, never paths: their number stays small.
 */

export const EMF_NAMESPACE = 'dfstore';

export interface RequestMetric {
  /** `GET /buckets/:bucket/objects/*` */
  readonly route: string;
  readonly status: number;
  /** Request plus response body bytes. */
  readonly bytes: number;
  readonly latencyMs: number;
}

/** The EMF document of one request (a single line of JSON). */
export function emfLine(metric: RequestMetric, timestamp: number): string {
  const statusClass = `${Math.floor(metric.status / 100)}xx`;
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: EMF_NAMESPACE,
          Dimensions: [['route', 'statusClass']],
          Metrics: [
            { Name: 'Requests', Unit: 'Count' },
            { Name: 'Bytes', Unit: 'Bytes' },
            { Name: 'LatencyMs', Unit: 'Milliseconds' },
          ],
        },
      ],
    },
    route: metric.route,
    statusClass,
    Requests: 1,
    Bytes: metric.bytes,
    LatencyMs: Math.round(metric.latencyMs * 100) / 100,
  });
}

/** Writes EMF lines (default: stdout, where the Lambda runtime sends them to CloudWatch Logs). */
export function createEmfRecorder(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  now: () => number = Date.now,
): (metric: RequestMetric) => void {
  return (metric) => write(emfLine(metric, now()));
}

const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);

const ROUTES: readonly (readonly [RegExp, string])[] = [
  [/^\/(healthy|metadata)$/, ''],
  [/^\/buckets\/[^/]+\/objects\//, '/buckets/:bucket/objects/*'],
  [/^\/buckets\/[^/]+\/metadatas$/, '/buckets/:bucket/metadatas'],
  [/^\/buckets\/[^/]+\/uploads\/[^/]+\/complete$/, '/buckets/:bucket/uploads/:uploadId/complete'],
  [/^\/buckets\/[^/]+\/uploads\/[^/]+$/, '/buckets/:bucket/uploads/:uploadId'],
  [/^\/buckets\/[^/]+\/uploads$/, '/buckets/:bucket/uploads'],
  [/^\/buckets\/[^/]+$/, '/buckets/:bucket'],
];

/**
 * The route pattern of a request, for metric dimensions and logs (keys and buckets left out).
 * Unknown paths and methods collapse into one value each.
 */
export function routeOf(method: string, rawPath: string): string {
  const verb = METHODS.has(method) ? method : 'OTHER';
  const path = rawPath.split('?', 1)[0] ?? '';
  const match = ROUTES.find(([re]) => re.test(path));
  const pattern = match ? match[1] || path : 'unknown';
  return `${verb} ${pattern}`;
}
