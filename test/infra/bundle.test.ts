import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { lambdaBuildOptions } from '../../bench/lib/lambda-build.ts';
import {
  ESM_REQUIRE_BANNER,
  FUNCTION_EXTERNALS,
  functionBuildOptions,
  functionBundling,
} from '../../infra/function-bundling.ts';
import { type Synthesized, synth } from './synth.ts';
import { logicalId, propsOf } from './template-queries.ts';

// The default variant (S3), bundled: what `cdk deploy` would upload.
let s: Synthesized;
beforeAll(() => {
  s = synth();
}, 120_000);

/** The bundled index.mjs of a function, from the cloud assembly. */
function bundleOf(fn: Synthesized['stack']['functions']['objects']): string {
  const code = propsOf(s.template, logicalId(fn)).Code as { S3Key: string };
  const hash = code.S3Key.replace(/\.zip$/, '');
  return readFileSync(join(s.assemblyDir, `asset.${hash}`, 'index.mjs'), 'utf8');
}

/** ali-oss's User-Agent prefix (node_modules/ali-oss/lib/client.js): present iff it is bundled. */
const ALI_OSS_MARK = 'aliyun-sdk-';

describe('function bundling (infra/function-bundling.ts, shared with bench/lambda.ts)', () => {
  it('gives NodejsFunction and the benchmark the same esbuild options', () => {
    const bundling = functionBundling('s3');
    const esbuild = functionBuildOptions('functions/objects.ts', 's3');
    expect(bundling).toMatchObject({
      format: OutputFormat.ESM,
      target: 'node22',
      minify: true,
      forceDockerBundling: false,
      define: { 'process.env.DFSTORE_BUNDLE_BACKEND': '"s3"' },
      externalModules: ['@aws-sdk/*', 'proxy-agent'],
      banner: ESM_REQUIRE_BANNER,
    });
    expect(esbuild).toMatchObject({
      format: bundling.format,
      target: bundling.target,
      minify: bundling.minify,
      sourcemap: bundling.sourceMap,
      define: bundling.define,
      external: bundling.externalModules,
      banner: { js: bundling.banner },
    });
    expect(lambdaBuildOptions('functions/objects.ts')).toEqual(esbuild);
    expect(functionBundling('oss').define).toEqual({
      'process.env.DFSTORE_BUNDLE_BACKEND': '"oss"',
    });
  });

  it('bundles each function as ESM with the require banner, the backend defined away', () => {
    for (const fn of [s.stack.functions.objects, s.stack.functions.manager]) {
      const bundle = bundleOf(fn);
      expect(bundle.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
      // The define replaced every read of the variable.
      expect(bundle).not.toContain('DFSTORE_BUNDLE_BACKEND');
    }
  });

  it('leaves @aws-sdk/* to the runtime and ali-oss out of an S3 stack', () => {
    const bundle = bundleOf(s.stack.functions.objects);
    expect(bundle).toMatch(/import\("@aws-sdk\/client-s3"\)|from"@aws-sdk\/client-s3"/);
    expect(bundle).toMatch(/"@aws-sdk\/client-secrets-manager"/);
    // An external module's own code is not inlined: its package-internal names do not occur.
    expect(bundle).not.toContain('S3ServiceException');
    expect(bundle).not.toContain(ALI_OSS_MARK);
    expect(FUNCTION_EXTERNALS).toEqual(['@aws-sdk/*', 'proxy-agent']);
  });

  it('bundles ali-oss, proxy-agent external, for an OSS stack (the mark does detect it)', async () => {
    const result = await build({
      ...functionBuildOptions('functions/objects.ts', 'oss'),
      write: false,
      sourcemap: false,
      outfile: 'objects.mjs',
    });
    const bundle = result.outputFiles[0]?.text ?? '';
    expect(bundle).toContain(ALI_OSS_MARK);
    // urllib (ali-oss's HTTP client) requires proxy-agent only behind a proxy: left external.
    expect(bundle).toMatch(/\("proxy-agent"\)/);
    expect(bundle).not.toContain('S3ServiceException');
  }, 60_000);
});
