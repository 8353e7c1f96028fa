// An HTTP client living in one host's network namespace (bench/lib/netns.ts), driven by the swarm
// bench over stdin/stdout, one JSON object per line:
//   {"id":1,"op":"get","url":…}  → {"id":1,"status":200,"bytes":…,"sha256":…,"seconds":…,
//                                   "firstByteSeconds":…}  (the body streamed and hashed)
//   {"id":2,"op":"text","url":…} → {"id":2,"status":200,"text":…}
// Failures answer {"id":…,"error":"…"}. It prints {"ready":true} first and exits when stdin ends.
// Times are taken here, from the command's arrival: the bench's clock is not ours to trust.
import { createHash } from 'node:crypto';
import { get } from 'node:http';
import { createInterface } from 'node:readline';

interface Command {
  readonly id: number;
  readonly op: 'get' | 'text';
  readonly url: string;
}

function reply(value: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** GETs `url` (plain HTTP, one connection), hashing the body as it streams. */
function getHashed(url: string): Promise<Record<string, unknown>> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false }, (response) => {
      const hash = createHash('sha256');
      let bytes = 0;
      let firstByte: number | undefined;
      response.on('data', (chunk: Buffer) => {
        firstByte ??= performance.now();
        bytes += chunk.length;
        hash.update(chunk);
      });
      response.once('error', reject);
      response.once('end', () => {
        if (!response.complete) return reject(new Error(`body cut after ${bytes} bytes`));
        const ended = performance.now();
        resolve({
          status: response.statusCode,
          bytes,
          sha256: hash.digest('hex'),
          seconds: (ended - started) / 1000,
          firstByteSeconds: ((firstByte ?? ended) - started) / 1000,
        });
      });
    });
    request.once('error', reject);
  });
}

async function text(url: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  return { status: response.status, text: await response.text() };
}

async function handle(command: Command): Promise<void> {
  try {
    const result = command.op === 'get' ? await getHashed(command.url) : await text(command.url);
    reply({ id: command.id, ...result });
  } catch (error) {
    reply({ id: command.id, error: error instanceof Error ? error.message : String(error) });
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() !== '') void handle(JSON.parse(line) as Command);
});
lines.once('close', () => process.exit(0));
reply({ ready: true });
