import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_CONFIG, type DfstoreConfig } from '../../infra/config.ts';
import { DfstoreStack } from '../../infra/dfstore-stack.ts';

export interface NagViolation {
  readonly ruleName: string;
  readonly violatingConstructs: readonly { readonly constructPath: string }[];
}
export interface NagSuppressed extends NagViolation {
  readonly acknowledgedId: string;
  readonly reason: string;
}
export interface NagReport {
  readonly conclusion: string;
  readonly violations: readonly NagViolation[];
  readonly suppressedViolations: readonly NagSuppressed[];
}

export interface Synthesized {
  readonly stack: DfstoreStack;
  readonly template: Template;
  readonly nag: NagReport;
  /** Every acknowledgment recorded on the construct tree (`Validations.of(x).acknowledge`). */
  readonly acknowledgments: readonly { readonly path: string; readonly id: string }[];
}

/**
 * Synthesizes the stack once for a config (the tests of one variant share it), with cdk-nag's
 * AwsSolutions pack as the app's validation plugin, as infra/app.ts does. Bundles both functions
 * with the local esbuild unless `bundle: false`.
 */
export function synth(
  overrides: Partial<DfstoreConfig> = {},
  options: { readonly bundle?: boolean } = {},
): Synthesized {
  // Without bundling NodejsFunction stages a placeholder: for variants whose assertions do not
  // depend on the bundle (esbuild per function is most of a synth's time).
  const app = new App({
    context: options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {},
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new DfstoreStack(app, 'Dfstore', { config: { ...DEFAULT_CONFIG, ...overrides } });
  let assembly: ReturnType<App['synth']>;
  try {
    assembly = app.synth();
  } catch (error) {
    // A violation fails the synth; show the report's reasons rather than a bare message.
    throw new Error(`synth failed: ${String(error)}`);
  }
  const report = JSON.parse(
    readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8'),
  ) as { pluginReports: NagReport[] };
  const nag = report.pluginReports.find((plugin) => 'suppressedViolations' in plugin);
  if (!nag) throw new Error('no cdk-nag report in the cloud assembly');
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
  return { stack, template: Template.fromStack(stack), nag, acknowledgments };
}
