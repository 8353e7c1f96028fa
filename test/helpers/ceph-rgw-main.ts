// Starts one Ceph RGW on 127.0.0.1, prints its endpoint and keys as one JSON line on stdout, and
// stops it (removing its state) on SIGINT or SIGTERM. Progress and errors go to stderr.
// Usage: npx tsx test/helpers/ceph-rgw-main.ts
import { ensureCephInstalled, startCephRgw } from './ceph-rgw.ts';

await ensureCephInstalled();
const started = Date.now();
const rgw = await startCephRgw();
console.error(`ceph-rgw: started in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.stdout.write(
  `${JSON.stringify({
    endpoint: rgw.endpoint,
    region: rgw.region,
    accessKeyId: rgw.accessKeyId,
    secretAccessKey: rgw.secretAccessKey,
    stateDir: rgw.stateDir,
  })}\n`,
);

let stopping = false;
const shutdown = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  const begun = Date.now();
  rgw.stop().then(
    () => {
      console.error(
        `ceph-rgw: stopped on ${signal} in ${((Date.now() - begun) / 1000).toFixed(1)} s`,
      );
      process.exit(0);
    },
    (err: unknown) => {
      console.error('ceph-rgw: stop failed', err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
