import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeGuardRule } from './nag.ts';

/**
 * The stack's logs: one customer managed KMS key (rotated yearly) that encrypts every log group,
 * and the groups themselves (functions, peers, VPC flow logs) with one retention, deleted with the
 * stack. Writers and readers need no KMS permission: CloudWatch Logs uses the key itself.
 */
export class StackLogs extends Construct {
  readonly key: Key;
  readonly retention: RetentionDays;

  constructor(scope: Construct, id: string, props: { readonly retention: RetentionDays }) {
    super(scope, id);
    this.retention = props.retention;
    this.key = new Key(this, 'Key', {
      description: 'dfstore log groups',
      enableKeyRotation: true,
      // The log groups go with the stack, so does their key (after the shortest waiting period).
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // What CloudWatch Logs needs of the key, for this account's log groups in this region only.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: [
          'kms:Encrypt*',
          'kms:Decrypt*',
          'kms:ReEncrypt*',
          'kms:GenerateDataKey*',
          'kms:Describe*',
        ],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*`,
          },
        },
      }),
    );
    // Control Tower CT.KMS.PR.3: only AWS services may create grants on the key.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: {
          BoolIfExists: {
            'kms:GrantIsForAWSResource': 'false',
            'aws:PrincipalIsAWSService': 'false',
          },
        },
      }),
    );
  }

  /** A log group of the stack, created in `scope`. */
  group(scope: Construct, id: string): LogGroup {
    const group = new LogGroup(scope, id, {
      retention: this.retention,
      encryptionKey: this.key,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledgeGuardRule(
      group,
      'cloudwatch_log_group_retention_period_check',
      'Operational logs of a cache (one line per request, flow logs): a month covers incident ' +
        'analysis; a year of them costs more than it tells. Audit trails belong to CloudTrail.',
    );
    return group;
  }
}
