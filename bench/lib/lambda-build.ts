import type { BuildOptions } from 'esbuild';

/**
 * esbuild options of a Lambda function's bundle as deployed (see bench/lambda.ts's header):
 * one ESM file, minified, node22, `@aws-sdk/*` external (the Lambda runtime provides it), and
 * only the adapter of the stack's backend (lib/backends/create-backend.ts).
 */
export function lambdaBuildOptions(entry: string, backend = 's3'): BuildOptions {
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    logLevel: 'error',
    define: { 'process.env.DFSTORE_BUNDLE_BACKEND': JSON.stringify(backend) },
    external: ['@aws-sdk/*', 'proxy-agent'],
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  };
}
