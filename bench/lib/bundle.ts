import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * Bundles a TypeScript entry the way production runs it (esbuild, ESM, minified), so that memory
 * figures measure our code and its dependencies, not an on-the-fly TypeScript compiler.
 */
export async function bundleEntry(
  entry: string,
  options: { minify?: boolean } = {},
): Promise<string> {
  const outfile = join(mkdtempSync(join(tmpdir(), 'dfstore-bundle-')), 'entry.mjs');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Unminified keeps function names readable in CPU profiles.
    minify: options.minify ?? true,
    logLevel: 'error',
    // ali-oss requires proxy-agent only when a proxy is configured.
    external: ['proxy-agent'],
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
  return outfile;
}
