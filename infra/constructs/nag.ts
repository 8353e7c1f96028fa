import { Stack, Validations } from 'aws-cdk-lib';
import { CfnBucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges cdk-nag findings of one rule by their finding ids (`AwsSolutions-IAM5[Action::…]`),
 * so that a new, unreviewed wildcard still fails the synth.
 */
export function acknowledgeFindings(
  scope: IConstruct,
  rule: string,
  findings: readonly string[],
  reason: string,
): void {
  Validations.of(scope).acknowledge(
    ...findings.map((finding) => ({ id: `AwsSolutions::${rule}[${finding}]`, reason })),
  );
}

/** The IAM5 resource finding of `<bucket ARN>/*`, as cdk-nag spells it. */
export function bucketObjectsResource(bucket: IBucket): string {
  const stack = Stack.of(bucket);
  const cfn = bucket.node.defaultChild;
  if (cfn instanceof CfnBucket) return `Resource::<${stack.resolve(cfn.logicalId)}.Arn>/*`;
  return `Resource::arn:<AWS::Partition>:s3:::${bucket.bucketName}/*`;
}

/** The wildcard actions of `IBucket.grantReadWrite`. */
export const BUCKET_READ_WRITE_ACTIONS = [
  'Action::s3:GetObject*',
  'Action::s3:GetBucket*',
  'Action::s3:List*',
  'Action::s3:DeleteObject*',
  'Action::s3:Abort*',
];

/** Acknowledges every finding of one cdk-nag AwsSolutions rule on `scope` and below. */
export function acknowledgeRule(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions::${rule}`, reason });
}

/**
 * Acknowledges a Control Tower control (cfn-guard, infra/checks.ts) on `scope` and below, by its
 * guard rule name (`lambda_inside_vpc_check`), as the validation report's "Acknowledge with" says.
 */
export function acknowledgeGuardRule(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `cdk-validator-cfnguard::${rule}`, reason });
}
