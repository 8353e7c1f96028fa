import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CDK_NAG_PLUGIN, CFN_GUARD_PLUGIN, checkedApp } from '../../infra/checks.ts';
import { DEFAULT_CONFIG, type DfstoreConfig } from '../../infra/config.ts';
import { DfstoreStack } from '../../infra/dfstore-stack.ts';

export interface Violation {
  readonly ruleName: string;
  readonly violatingConstructs: readonly { readonly constructPath: string }[];
}
export interface SuppressedViolation extends Violation {
  readonly acknowledgedId: string;
  readonly reason: string;
}
/** One plugin's part of `validation-report.json`. */
export interface PluginReport {
  readonly pluginName: string;
  readonly conclusion: string;
  readonly violations: readonly Violation[];
  readonly suppressedViolations?: readonly SuppressedViolation[];
}

export interface Synthesized {
  readonly stack: DfstoreStack;
  readonly template: Template;
  /** The cloud assembly directory (assets: `asset.<hash>/`). */
  readonly assemblyDir: string;
  /** Every plugin's report: cdk-nag, cfn-guard, CloudFormation Validate. */
  readonly reports: readonly PluginReport[];
  readonly nag: PluginReport;
  readonly guard: PluginReport;
  /** Every acknowledgment recorded on the construct tree (`Validations.of(x).acknowledge`). */
  readonly acknowledgments: readonly { readonly path: string; readonly id: string }[];
}

/** cdk.json's context (the feature flags `cdk synth` runs with). */
export function cdkJsonContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync('cdk.json', 'utf8')) as { context: Record<string, unknown> })
    .context;
}

/**
 * Synthesizes the stack once for a config (the tests of one variant share it) in the app of
 * infra/app.ts (cdk-nag and cfn-guard plugins) with cdk.json's feature flags. Bundles both
 * functions with the local esbuild unless `bundle: false`. A failed validation throws with the
 * report's findings.
 */
export function synth(
  overrides: Partial<DfstoreConfig> = {},
  options: {
    readonly bundle?: boolean;
    /** Adds to the stack before the synth (tests of the checks themselves). */
    readonly extend?: (stack: DfstoreStack) => void;
  } = {},
): Synthesized {
  // Without bundling NodejsFunction stages a placeholder: for variants whose assertions do not
  // depend on the bundle (esbuild per function is most of a synth's time).
  const app = checkedApp({
    context: {
      ...cdkJsonContext(),
      ...(options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}),
    },
  });
  const stack = new DfstoreStack(app, 'Dfstore', { config: { ...DEFAULT_CONFIG, ...overrides } });
  options.extend?.(stack);
  const assemblyDir = synthesize(app);
  const { pluginReports: reports } = JSON.parse(
    readFileSync(join(assemblyDir, 'validation-report.json'), 'utf8'),
  ) as { pluginReports: PluginReport[] };
  const acknowledgments = stack.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      // Each entry maps acknowledged rule ids to their reasons.
      .flatMap((entry) =>
        Object.keys(entry.data as Record<string, string>).map((id) => ({
          path: construct.node.path,
          id,
        })),
      ),
  );
  return {
    stack,
    template: Template.fromStack(stack),
    assemblyDir,
    reports,
    nag: pluginReport(reports, CDK_NAG_PLUGIN),
    guard: pluginReport(reports, CFN_GUARD_PLUGIN),
    acknowledgments,
  };
}

function synthesize(app: App): string {
  try {
    return app.synth().directory;
  } catch (error) {
    // The exception names only the report file: show its findings.
    const report = join(app.outdir, 'validation-report.json');
    let findings = '';
    try {
      const { pluginReports } = JSON.parse(readFileSync(report, 'utf8')) as {
        pluginReports: PluginReport[];
      };
      findings = pluginReports
        .flatMap((plugin) =>
          plugin.violations.map(
            (v) =>
              `${plugin.pluginName} ${v.ruleName}: ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`,
          ),
        )
        .join('\n');
    } catch {}
    throw new Error(`synth failed: ${String(error)}\n${findings}`);
  }
}

function pluginReport(reports: readonly PluginReport[], name: string): PluginReport {
  const report = reports.find((plugin) => plugin.pluginName === name);
  if (!report) throw new Error(`no ${name} report in the cloud assembly`);
  return report;
}

/** Every finding of every plugin that no acknowledgment covers (`[]` when the synth is clean). */
export function unacknowledged(s: Synthesized): string[] {
  return s.reports.flatMap((plugin) => [
    ...(plugin.conclusion === 'success' ? [] : [`${plugin.pluginName}: ${plugin.conclusion}`]),
    ...plugin.violations.map((v) => `${plugin.pluginName} ${v.ruleName}`),
  ]);
}

/**
 * Acknowledgments of cdk-nag and cfn-guard findings that suppress nothing at or below their
 * construct: stale ones would hide a future finding without review.
 */
export function staleAcknowledgments(s: Synthesized): string[] {
  const suppressed = [s.nag, s.guard].flatMap((plugin) => plugin.suppressedViolations ?? []);
  return s.acknowledgments
    .filter(({ id }) => id.startsWith('AwsSolutions::') || id.startsWith(`${CFN_GUARD_PLUGIN}::`))
    .filter(
      ({ path, id }) =>
        !suppressed.some(
          (v) =>
            v.acknowledgedId === id &&
            v.violatingConstructs.some(
              (c) => c.constructPath === path || c.constructPath.startsWith(`${path}/`),
            ),
        ),
    )
    .map(({ path, id }) => `${path}: ${id}`);
}
