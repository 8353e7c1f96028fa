import type { BuildOptions } from 'esbuild';
import { type BundleBackend, functionBuildOptions } from '../../infra/function-bundling.ts';

/**
 * esbuild options of a Lambda function's bundle as deployed (see bench/lambda.ts's header): the
 * stack's own (infra/function-bundling.ts), so the benchmark measures what NodejsFunction ships.
 */
export function lambdaBuildOptions(entry: string, backend: BundleBackend = 's3'): BuildOptions {
  return functionBuildOptions(entry, backend);
}
