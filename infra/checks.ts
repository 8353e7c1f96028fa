import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/**
 * The app with the synth-time checks of README "Deploy": cdk-nag's AwsSolutions pack and the
 * Control Tower proactive controls (cfn-guard, bundled binary, offline). Every finding either
 * fails the synth or is acknowledged, with its reason, on the construct it concerns
 * (`Validations.of(x).acknowledge`, see constructs/nag.ts). Schema errors fail the synth through
 * the context flag `@aws-cdk/core:validateAgainstDefaultRules` (cdk.json).
 */
export function checkedApp(props: AppProps = {}): App {
  const app = new App(props);
  // `Validations.of(app).addPlugins` supersedes the deprecated AppProps.policyValidationBeta1.
  Validations.of(app).addPlugins(new CfnGuardValidator(), new AwsSolutionsChecks(app));
  return app;
}

/** The validation report's plugin names (`validation-report.json`). */
export const CFN_GUARD_PLUGIN = 'cdk-validator-cfnguard';
export const CDK_NAG_PLUGIN = 'AwsSolutions';
