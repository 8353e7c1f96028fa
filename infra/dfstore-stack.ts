import { Aws, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { DfstoreConfig } from './config.ts';
import { Backend } from './constructs/backend.ts';
import { Functions } from './constructs/functions.ts';
import { StackLogs } from './constructs/logs.ts';
import { Network } from './constructs/network.ts';
import { Peers } from './constructs/peers.ts';

export interface DfstoreStackProps extends StackProps {
  readonly config: DfstoreConfig;
}

const LOG_RETENTION = RetentionDays.ONE_MONTH;

/** The whole system in one environment-agnostic stack (DESIGN.md §8, README "Deploy"). */
export class DfstoreStack extends Stack {
  readonly logs: StackLogs;
  readonly network: Network;
  readonly backend: Backend;
  readonly functions: Functions;
  readonly peers: Peers;

  constructor(scope: Construct, id: string, props: DfstoreStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logs = new StackLogs(this, 'Logs', { retention: LOG_RETENTION });
    this.logs = logs;
    this.network = new Network(this, 'Network', {
      ...(config.vpc ? { existing: config.vpc } : {}),
      logs,
    });
    this.backend = new Backend(this, 'Backend', config);

    // Where the objects live, without keys: the object API function reads the OSS keys from
    // their secret at cold start, the peers get them as ECS secrets (never from the manager,
    // which serves only these public fields: lib/manager/object-storage-info.ts).
    const location = config.oss
      ? { name: 'oss', region: config.oss.region, endpoint: config.oss.endpoint }
      : { name: 's3', region: Aws.REGION };
    // The manager gets no OSS keys: it builds its backend from DFSTORE_BACKEND, whose OSS schema
    // wants keys, so it gets placeholders; its bucket routes (GET|POST|DELETE /api/v1/buckets,
    // which no peer uses) then fail on OSS, as create/delete do on S3 (IAM denies them).
    const managerBackend = config.oss
      ? { ...location, accessKeyId: NO_KEY, accessKeySecret: NO_KEY }
      : location;

    this.functions = new Functions(this, 'Functions', {
      vpc: this.network.vpc,
      securityGroup: this.network.functionSecurityGroup,
      bundleBackend: config.backend,
      objectsBackendJson: this.toJsonString(location),
      managerBackendJson: this.toJsonString(managerBackend),
      ...(this.backend.bucket ? { bucket: this.backend.bucket } : {}),
      ...(this.backend.ossSecret ? { backendSecret: this.backend.ossSecret } : {}),
      auth: config.auth,
      ...(this.backend.apiTokenSecret ? { apiTokenSecret: this.backend.apiTokenSecret } : {}),
      ...(config.inlineLimit ? { inlineLimit: config.inlineLimit } : {}),
      logs,
    });

    this.peers = new Peers(this, 'Peers', {
      vpc: this.network.vpc,
      securityGroup: this.network.clusterSecurityGroup,
      namespace: this.network.namespace,
      managerFunction: this.functions.manager,
      managerUrl: this.functions.managerUrl,
      backendJson: this.toJsonString(location),
      ...(this.backend.bucket ? { bucket: this.backend.bucket } : {}),
      ...(this.backend.ossSecret ? { ossSecret: this.backend.ossSecret } : {}),
      seedPeers: config.seedPeers,
      peers: config.peers,
      cpu: config.cpu,
      memory: config.memory,
      ephemeralStorageGiB: config.ephemeralStorageGiB,
      logs,
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

/** The manager's placeholder OSS keys (see above): not a credential, OSS rejects it. */
export const NO_KEY = 'none';
