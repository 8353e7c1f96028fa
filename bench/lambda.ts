// `npm run bench -- lambda [--runs N]`: each Lambda function bundled as deployed (esbuild, ESM,
// minified, node22, `@aws-sdk/*` external: the Lambda runtime provides it, as CDK's
// NodejsFunction assumes), its size, and its module init time: a fresh `node` process imports
// the bundle (config checked, backend, membership and app built) with the environment a
// deployment sets, N times; the median is reported. Goals: < 500 KB and < 100 ms. The S3
// adapter loads the SDK on its first call (lib/backends/s3-sdk.ts), not at init: requests that a
// seed peer answers never load it. A last row times `import('@aws-sdk/client-s3')` alone
// (external: loaded from node_modules here, from the runtime on Lambda): what the first request
// that needs the backend (a presigned redirect, a fallback write) adds once per environment.
//
// Backend selection is done at build time, and that is what a CDK stack deploys: NodejsFunction
// bundles one entry into one file with esbuild, and the stack knows its backend, so it sets
//   bundling: { define: { 'process.env.DFSTORE_BUNDLE_BACKEND': JSON.stringify('s3') } }
// (or 'oss' / 'fs'): lib/backends/create-backend.ts's other branches fold away and their adapters
// are not bundled (ali-oss and its iconv-lite, urllib, xml stack: ~800 KB minified). Code
// splitting was not chosen: NodejsFunction cannot deploy several chunks. The esbuild options
// are in bench/lib/lambda-build.ts; bench/lib/bundle-report.ts prints where a bundle's bytes go.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { FUNCTION_NODE_OPTIONS } from '../infra/function-bundling.ts';
import { lambdaBuildOptions } from './lib/lambda-build.ts';
import { printTable, type Row, writeResults } from './lib/report.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 7;
const KB = 1000;
// Bundles go under node_modules/.cache so that their external @aws-sdk/* imports resolve from
// the repository's node_modules (ESM ignores NODE_PATH), as from the runtime's copy on Lambda.
const buildRoot = join(root, 'node_modules', '.cache', 'dfstore-bench-lambda');
mkdirSync(buildRoot, { recursive: true });
const seedPeers = JSON.stringify([
  { id: 'seed-1', hostname: 'seed-1', ip: '10.0.1.7', port: 65004, downloadPort: 65002 },
]);
const s3 = JSON.stringify({ name: 's3', region: 'eu-west-1', forcePathStyle: false });

const oss = JSON.stringify({
  name: 'oss',
  region: 'oss-cn-hangzhou',
  endpoint: 'https://oss-cn-hangzhou.aliyuncs.com',
  accessKeyId: 'bench-access-key',
  accessKeySecret: 'bench-access-secret',
});

const functions: {
  name: string;
  entry: string;
  backend: 's3' | 'oss';
  env: Record<string, string>;
}[] = [
  {
    name: 'objects',
    entry: 'objects',
    backend: 's3',
    env: {
      DFSTORE_BACKEND: s3,
      DFSTORE_SEED_PEERS: seedPeers,
      DFSTORE_API_TOKEN: 'bench-token-0123456789abcdef',
      DFSTORE_LOG_LEVEL: 'warn',
    },
  },
  {
    // An OSS stack's objects function carries ali-oss (and its iconv-lite, urllib, xml stack).
    name: 'objects (oss stack)',
    entry: 'objects',
    backend: 'oss',
    env: {
      DFSTORE_BACKEND: oss,
      DFSTORE_SEED_PEERS: seedPeers,
      DFSTORE_API_TOKEN: 'bench-token-0123456789abcdef',
      DFSTORE_LOG_LEVEL: 'warn',
    },
  },
  {
    name: 'manager',
    entry: 'manager',
    backend: 's3',
    env: { DFSTORE_BACKEND: s3, DFSTORE_SEED_PEERS: seedPeers, DFSTORE_LOG_LEVEL: 'warn' },
  },
];

const rows: Row[] = [];
for (const fn of functions) {
  const outdir = mkdtempSync(join(buildRoot, `${fn.entry}-${fn.backend}-`));
  const outfile = join(outdir, 'index.mjs');
  const entry = join(root, 'functions', `${fn.entry}.ts`);
  await build({ ...lambdaBuildOptions(entry, fn.backend), outfile });
  const bytes = statSync(outfile).size;
  const median = medianInitMs(outdir, outfile, fn.env);
  rows.push({
    function: fn.name,
    'bundle KB': (bytes / KB).toFixed(0),
    'size goal < 500 KB': bytes < 500 * KB ? 'met' : 'missed',
    'init ms (median)': median.toFixed(0),
    'init goal < 100 ms': median < 100 ? 'met' : 'missed',
  });
}
// The S3 client alone, from the same place the bundles import it.
const sdkDir = mkdtempSync(join(buildRoot, 'client-s3-'));
const sdkEntry = join(sdkDir, 'client-s3.mjs');
writeFileSync(sdkEntry, "export * from '@aws-sdk/client-s3';\n");
const sdkMedian = medianInitMs(sdkDir, sdkEntry, {});
rows.push({
  function: '@aws-sdk/client-s3 alone (lazy: paid by the first backend call, not at init)',
  'bundle KB': '-',
  'size goal < 500 KB': '-',
  'init ms (median)': sdkMedian.toFixed(0),
  'init goal < 100 ms': '-',
});
printTable(rows);

/** Median time of `runs` fresh processes importing `module` (module evaluation only). */
function medianInitMs(dir: string, module: string, env: Record<string, string>): number {
  // The timer starts in the importing process just before the import.
  const probe = join(dir, 'probe.mjs');
  writeFileSync(
    probe,
    `const t = performance.now(); await import(${JSON.stringify(module)}); ` +
      'process.stdout.write(String(performance.now() - t));',
  );
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, [probe], {
      cwd: root,
      // NODE_OPTIONS as the stack sets it (source maps): part of the init a deployment pays.
      env: { ...process.env, NODE_OPTIONS: FUNCTION_NODE_OPTIONS, ...env },
      encoding: 'utf8',
    });
    times.push(Number(out));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}
writeResults('lambda', rows, {
  runs,
  external: ['@aws-sdk/*'],
  define: { 'process.env.DFSTORE_BUNDLE_BACKEND': 's3 (oss for the oss-stack row)' },
});
