import { Aws, CfnOutput, SecretValue, Stack, type StackProps } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { DfstoreConfig } from './config.ts';
import { Backend } from './constructs/backend.ts';
import { Functions } from './constructs/functions.ts';
import { Network } from './constructs/network.ts';
import { Peers } from './constructs/peers.ts';

export interface DfstoreStackProps extends StackProps {
  readonly config: DfstoreConfig;
}

const LOG_RETENTION = RetentionDays.ONE_MONTH;

/** The whole system in one environment-agnostic stack (DESIGN.md §8, README "Deploy"). */
export class DfstoreStack extends Stack {
  readonly network: Network;
  readonly backend: Backend;
  readonly functions: Functions;
  readonly peers: Peers;

  constructor(scope: Construct, id: string, props: DfstoreStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.network = new Network(this, 'Network', {
      ...(config.vpc ? { existing: config.vpc } : {}),
      logRetention: LOG_RETENTION,
    });
    this.backend = new Backend(this, 'Backend', config);

    // Peers read OSS keys from ECS secrets; the functions get them resolved at deploy time.
    const peerBackend = config.oss
      ? { name: 'oss', region: config.oss.region, endpoint: config.oss.endpoint }
      : { name: 's3', region: Aws.REGION };
    const functionBackend = config.oss
      ? { ...peerBackend, ...ossKeys(config.oss.secretArn) }
      : peerBackend;

    this.functions = new Functions(this, 'Functions', {
      vpc: this.network.vpc,
      securityGroup: this.network.functionSecurityGroup,
      backendJson: this.toJsonString(functionBackend),
      ...(this.backend.bucket ? { bucket: this.backend.bucket } : {}),
      auth: config.auth,
      ...(this.backend.apiTokenSecret ? { apiTokenSecret: this.backend.apiTokenSecret } : {}),
      ...(config.inlineLimit ? { inlineLimit: config.inlineLimit } : {}),
      logRetention: LOG_RETENTION,
    });

    this.peers = new Peers(this, 'Peers', {
      vpc: this.network.vpc,
      securityGroup: this.network.clusterSecurityGroup,
      namespace: this.network.namespace,
      managerFunction: this.functions.manager,
      managerUrl: this.functions.managerUrl,
      backendJson: this.toJsonString(peerBackend),
      ...(this.backend.bucket ? { bucket: this.backend.bucket } : {}),
      ...(this.backend.ossSecret ? { ossSecret: this.backend.ossSecret } : {}),
      seedPeers: config.seedPeers,
      peers: config.peers,
      cpu: config.cpu,
      memory: config.memory,
      ephemeralStorageGiB: config.ephemeralStorageGiB,
      logRetention: LOG_RETENTION,
    });

    new CfnOutput(this, 'ObjectApiUrl', {
      value: this.functions.objectsUrl.url,
      description: 'dfstore endpoint (object API function URL)',
    });
    new CfnOutput(this, 'ManagerUrl', {
      value: this.functions.managerUrl.url,
      description: 'manager function URL (AWS_IAM)',
    });
    new CfnOutput(this, 'BucketName', {
      value: this.backend.bucketName,
      description: 'backend bucket: use it as dfs://<bucket>/…',
    });
    if (this.backend.apiTokenSecret) {
      new CfnOutput(this, 'ApiTokenSecretArn', {
        value: this.backend.apiTokenSecret.secretArn,
        description: 'object API token: aws secretsmanager get-secret-value --secret-id <arn>',
      });
    }
  }
}

/**
 * OSS keys for the functions as CloudFormation dynamic references: resolved from Secrets Manager
 * at deploy time, never written into the template (they do show in the function configuration).
 */
function ossKeys(secretArn: string): { accessKeyId: string; accessKeySecret: string } {
  const field = (jsonField: string): string =>
    SecretValue.secretsManager(secretArn, { jsonField }).unsafeUnwrap();
  return { accessKeyId: field('accessKeyId'), accessKeySecret: field('accessKeySecret') };
}
