import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/**
 * How a Lambda function is bundled, for the stack (NodejsFunction, local esbuild) and for the
 * benchmark that measures the bundles as deployed (bench/lambda.ts, bench/lib/lambda-build.ts):
 * one ESM file, minified, for Node 22, with a `require` for the CommonJS dependencies.
 *
 * - `@aws-sdk/*` stays external: the Lambda Node 22 runtime provides it.
 * - `proxy-agent`: ali-oss requires it only when a proxy is configured.
 * - `process.env.DFSTORE_BUNDLE_BACKEND` is defined as the stack's backend, so that
 *   lib/backends/create-backend.ts's other branches fold away and their adapters are not bundled
 *   (ali-oss: ~800 KB minified).
 */
export type BundleBackend = 's3' | 'oss' | 'fs';

export const FUNCTION_TARGET = 'node22';
export const FUNCTION_EXTERNALS: readonly string[] = ['@aws-sdk/*', 'proxy-agent'];
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";
/** The functions run with source maps: the bundle is minified, stack traces stay readable. */
export const FUNCTION_NODE_OPTIONS = '--enable-source-maps';

export function bundleDefine(backend: BundleBackend): Record<string, string> {
  return { 'process.env.DFSTORE_BUNDLE_BACKEND': JSON.stringify(backend) };
}

/** esbuild's options for `entry`, as NodejsFunction runs it with `functionBundling(backend)`. */
export function functionBuildOptions(entry: string, backend: BundleBackend): BuildOptions {
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: FUNCTION_TARGET,
    minify: true,
    sourcemap: true,
    logLevel: 'error',
    define: bundleDefine(backend),
    external: [...FUNCTION_EXTERNALS],
    banner: { js: ESM_REQUIRE_BANNER },
  };
}

/** NodejsFunction's `bundling`: the options above, with the local esbuild (no Docker). */
export function functionBundling(backend: BundleBackend): BundlingOptions {
  return {
    forceDockerBundling: false,
    format: OutputFormat.ESM,
    target: FUNCTION_TARGET,
    minify: true,
    sourceMap: true,
    define: bundleDefine(backend),
    externalModules: [...FUNCTION_EXTERNALS],
    banner: ESM_REQUIRE_BANNER,
  };
}
