// `node --import tsx bench/lib/bundle-report.ts <functions/x.ts> [top N]`: bundles an entry as
// bench/lambda.ts does (esbuild, ESM, minified, node22, `@aws-sdk/*` external) and prints the
// output bytes per package (node_modules/<pkg>) or per lib/ directory, largest first: where a
// function's bundle size goes.
import { join } from 'node:path';
import { build } from 'esbuild';
import { lambdaBuildOptions } from './lambda-build.ts';

const [entry, top] = process.argv.slice(2);
if (!entry) {
  console.error('usage: bundle-report.ts <entry.ts> [top N]');
  process.exit(2);
}
const result = await build({
  ...lambdaBuildOptions(join(process.cwd(), entry)),
  write: false,
  outdir: '/tmp',
  metafile: true,
});
const byGroup = new Map<string, number>();
let total = 0;
for (const output of Object.values(result.metafile.outputs)) {
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
    const group = pkg ?? path.split('/').slice(0, -1).join('/');
    byGroup.set(group, (byGroup.get(group) ?? 0) + bytesInOutput);
    total += bytesInOutput;
  }
}
const rows = [...byGroup].sort((a, b) => b[1] - a[1]).slice(0, Number(top) || 25);
for (const [group, bytes] of rows)
  console.log(`${(bytes / 1000).toFixed(1).padStart(8)} KB  ${group}`);
console.log(`${(total / 1000).toFixed(1).padStart(8)} KB  total (inputs)`);
