// One adapter, one process: PUT then GET a streamed object, report throughput and peak RSS as one
// JSON line. Run by bench/backend-stream.ts; args: <config json> <size bytes>.
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBackend } from '../../lib/backends/create-backend.ts';
import type { BackendConfigInput } from '../../lib/config/backend-config.ts';

const [configJson = '{}', sizeArg = String(1024 ** 3)] = process.argv.slice(2);
const config = JSON.parse(configJson) as BackendConfigInput;
const size = Number(sizeArg);
const backend = await createBackend(config);

let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss > peakRss && process.env.BENCH_DEBUG)
    console.error(JSON.stringify(process.memoryUsage()));
  peakRss = Math.max(peakRss, rss);
}, 50);

/** `size` bytes from a repeated 1 MiB random block: cheap to generate, incompressible enough. */
function source(): Readable {
  const block = randomBytes(1024 * 1024);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(block.length, size - sent);
      sent += n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

const bucket = `bench-${Date.now().toString(36)}`;
await backend.createBucket(bucket);

let started = performance.now();
await backend.putObject(bucket, 'bench/object.bin', source(), { contentLength: size });
const putSeconds = (performance.now() - started) / 1000;
const peakRssPut = peakRss;

started = performance.now();
const got = await backend.getObject(bucket, 'bench/object.bin');
let received = 0;
await pipeline(
  got.body,
  new Writable({
    write(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      callback();
    },
  }),
);
const getSeconds = (performance.now() - started) / 1000;
clearInterval(sampler);
if (received !== size) throw new Error(`GET returned ${received} bytes, expected ${size}`);
await backend.deleteObject(bucket, 'bench/object.bin');
await backend.deleteBucket(bucket);

process.stdout.write(`${JSON.stringify({ putSeconds, getSeconds, peakRss, peakRssPut })}\n`);
