import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TimedTransfer {
  readonly bytes: number;
  readonly seconds: number;
  readonly status: number;
}

/**
 * GETs `url` with curl into /dev/null: a C client, so that on 2 cores the measuring side takes as
 * little CPU as it can and the figure is the server's. Fails on a non-2xx status.
 */
export async function curlGet(url: string): Promise<TimedTransfer> {
  const { stdout } = await run(
    'curl',
    ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url],
    { maxBuffer: 1 << 20 },
  );
  const [status, bytes, seconds] = stdout.trim().split(' ').map(Number);
  if (!status || status < 200 || status > 299) throw new Error(`GET ${url}: HTTP ${status}`);
  return { status, bytes: bytes ?? 0, seconds: seconds ?? 0 };
}

/** `cat <file> > /dev/null`, timed. */
export async function catFile(file: string, bytes: number): Promise<TimedTransfer> {
  const started = performance.now();
  await run('sh', ['-c', 'cat "$1" > /dev/null', 'cat', file]);
  return { status: 0, bytes, seconds: (performance.now() - started) / 1000 };
}
