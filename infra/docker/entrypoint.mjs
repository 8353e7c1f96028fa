// Container entrypoint: turns DFSTORE_BACKEND (JSON) and the OSS keys ECS injects from Secrets
// Manager into a config file for the daemon (which takes every other setting from DFSTORE_*
// variables), then starts it. An explicit DFSTORE_CONFIG wins.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

// The root filesystem is read-only (infra/constructs/peers.ts): temp files go to the data volume.
if (process.env.TMPDIR) mkdirSync(process.env.TMPDIR, { recursive: true });

const backendJson = process.env.DFSTORE_BACKEND;
if (backendJson && !process.env.DFSTORE_CONFIG) {
  const backend = JSON.parse(backendJson);
  if (backend.name === 'oss') {
    backend.accessKeyId ??= process.env.OSS_ACCESS_KEY_ID;
    backend.accessKeySecret ??= process.env.OSS_ACCESS_KEY_SECRET;
  }
  // Beside the piece store, on the task's ephemeral storage.
  const dir = dirname(process.env.DFSTORE_DATA_DIR ?? '/var/lib/dfstore/peer');
  mkdirSync(dir, { recursive: true });
  const path = `${dir}/peer.yaml`;
  // JSON is YAML: one line, no quoting pitfalls.
  writeFileSync(path, `backend: ${JSON.stringify(backend)}\n`, { mode: 0o600 });
  process.env.DFSTORE_CONFIG = path;
}

await import('./main.mjs');
