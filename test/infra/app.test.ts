import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PluginReport } from './synth.ts';

// The acceptance's command itself: `npx cdk synth` of infra/app.ts with cdk.json, bundling both
// functions, offline, without AWS credentials and with no `docker` on the PATH.
const outdir = mkdtempSync(join(tmpdir(), 'dfstore-cdk-synth-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const OFFLINE_ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_'))),
  // node and npx live in /usr/bin here; /usr/local/bin holds a docker CLI.
  PATH: '/usr/bin:/bin',
  CDK_DISABLE_CLI_TELEMETRY: 'true',
  AWS_EC2_METADATA_DISABLED: 'true',
};

/**
 * CPU seconds used by this process's waited-for children so far (/proc/self/stat cutime +
 * cstime, in USER_HZ = 100 ticks per second on Linux): unlike wall time, it does not depend on
 * what else the machine's cores are running.
 */
function childCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of proc(5); `fields` starts at field 3.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

describe('npx cdk synth (infra/app.ts, cdk.json)', () => {
  it('succeeds offline within 60 s of CPU, with every check clean', () => {
    const cpuBefore = childCpuSeconds();
    const started = performance.now();
    execFileSync('npx', ['cdk', 'synth', '--no-notices', '-q', '-o', outdir], {
      env: OFFLINE_ENV,
      stdio: 'pipe',
      timeout: 180_000,
    });
    const cpu = childCpuSeconds() - cpuBefore;
    const wall = (performance.now() - started) / 1000;
    // Unloaded, wall time is about the CPU time (~15 s); the machine's other work only adds.
    console.info(`npx cdk synth: ${wall.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU`);
    expect(cpu).toBeGreaterThan(1);
    expect(cpu).toBeLessThan(60);

    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: PluginReport[];
    };
    const plugins = report.pluginReports.map((plugin) => plugin.pluginName);
    expect(plugins).toEqual(expect.arrayContaining(['AwsSolutions', 'cdk-validator-cfnguard']));
    for (const plugin of report.pluginReports) {
      expect({ plugin: plugin.pluginName, violations: plugin.violations }).toEqual({
        plugin: plugin.pluginName,
        violations: [],
      });
      expect(plugin.conclusion).toBe('success');
    }
    const template = JSON.parse(readFileSync(join(outdir, 'Dfstore.template.json'), 'utf8'));
    expect(Object.keys(template.Outputs).sort()).toEqual([
      'ApiTokenSecretArn',
      'BucketName',
      'ManagerUrl',
      'ObjectApiUrl',
    ]);
  }, 200_000);

  it('turns on the CloudFormation schema check and the recommended feature flags', () => {
    const { context } = JSON.parse(readFileSync('cdk.json', 'utf8')) as {
      context: Record<string, unknown>;
    };
    const recommended = JSON.parse(
      readFileSync('node_modules/aws-cdk-lib/recommended-feature-flags.json', 'utf8'),
    ) as Record<string, unknown>;
    expect(context).toMatchObject(recommended);
    expect(context['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
  });
});
