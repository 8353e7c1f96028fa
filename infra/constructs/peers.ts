import { fileURLToPath } from 'node:url';
import { Duration, IgnoreMode } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  Secret as EcsSecret,
  FargateService,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import type { FunctionUrl, IFunction } from 'aws-cdk-lib/aws-lambda';
import type { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { DnsRecordType, type INamespace } from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import { CLOUDMAP_SEED_SERVICE, OBJECT_API_PORT, PIECE_PORT } from '../config.ts';
import type { StackLogs } from './logs.ts';
import {
  acknowledgeFindings,
  acknowledgeRule,
  BUCKET_READ_WRITE_ACTIONS,
  bucketObjectsResource,
} from './nag.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DATA_DIR = '/var/lib/dfstore';

export interface PeersProps {
  readonly vpc: IVpc;
  readonly securityGroup: ISecurityGroup;
  readonly namespace: INamespace;
  readonly managerFunction: IFunction;
  readonly managerUrl: FunctionUrl;
  /** DFSTORE_BACKEND as JSON, without OSS keys (those come from `ossSecret`). */
  readonly backendJson: string;
  readonly bucket?: IBucket;
  readonly ossSecret?: ISecret;
  readonly seedPeers: number;
  readonly peers: number;
  readonly cpu: number;
  readonly memory: number;
  readonly ephemeralStorageGiB: number;
  readonly logs: StackLogs;
}

/** The ECS cluster and the seed-peer and peer Fargate services, both from one image. */
export class Peers extends Construct {
  readonly cluster: Cluster;
  readonly seedPeers: FargateService;
  readonly peers: FargateService;

  constructor(scope: Construct, id: string, props: PeersProps) {
    super(scope, id);
    this.cluster = new Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });
    // Built from the repo at deploy time (no Docker at synth); ARM64 like the functions.
    const image = ContainerImage.fromAsset(ROOT, {
      file: 'infra/docker/peer.Dockerfile',
      platform: Platform.LINUX_ARM64,
      // Only what the Dockerfile copies, so unrelated edits keep the image hash.
      ignoreMode: IgnoreMode.DOCKER,
      exclude: [
        '*',
        '!package.json',
        '!package-lock.json',
        '!tsconfig.json',
        '!lib',
        '!infra/docker',
      ],
    });
    const logGroup = props.logs.group(this, 'Logs');
    this.seedPeers = this.service('SeedPeer', 'seed-peer', props.seedPeers, image, logGroup, props);
    this.peers = this.service('Peer', 'peer', props.peers, image, logGroup, props);
  }

  private service(
    id: string,
    role: 'seed-peer' | 'peer',
    desiredCount: number,
    image: ContainerImage,
    logGroup: LogGroup,
    props: PeersProps,
  ): FargateService {
    const task = new FargateTaskDefinition(this, `${id}Task`, {
      cpu: props.cpu,
      memoryLimitMiB: props.memory,
      ephemeralStorageGiB: props.ephemeralStorageGiB,
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
    });
    // Task ephemeral storage backs this volume; the image declares it (owned by `node`).
    task.addVolume({ name: 'data' });
    const container = task.addContainer('daemon', {
      image,
      // The image's non-root user, stated here too; the whole task's memory is the daemon's.
      user: 'node',
      // Everything the daemon writes goes to the data volume (TMPDIR too: upload spools).
      readonlyRootFilesystem: true,
      memoryLimitMiB: props.memory,
      logging: LogDrivers.awsLogs({ logGroup, streamPrefix: role }),
      environment: {
        DFSTORE_ROLE: role,
        DFSTORE_MANAGER_ADDRS: props.managerUrl.url,
        DFSTORE_BACKEND: props.backendJson,
        DFSTORE_API_LISTEN: '0.0.0.0',
        DFSTORE_API_PORT: String(OBJECT_API_PORT),
        DFSTORE_PIECE_LISTEN: '0.0.0.0',
        DFSTORE_PIECE_PORT: String(PIECE_PORT),
        DFSTORE_DATA_DIR: `${DATA_DIR}/peer`,
        TMPDIR: `${DATA_DIR}/tmp`,
        // Leave headroom on the task's ephemeral storage for the image and logs.
        DFSTORE_CAPACITY: `${Math.max(1, props.ephemeralStorageGiB - 6)}GiB`,
      },
      ...(props.ossSecret
        ? {
            secrets: {
              OSS_ACCESS_KEY_ID: EcsSecret.fromSecretsManager(props.ossSecret, 'accessKeyId'),
              OSS_ACCESS_KEY_SECRET: EcsSecret.fromSecretsManager(
                props.ossSecret,
                'accessKeySecret',
              ),
            },
          }
        : {}),
      portMappings: [{ containerPort: OBJECT_API_PORT }, { containerPort: PIECE_PORT }],
      healthCheck: {
        command: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${PIECE_PORT}/healthy').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))`,
        ],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      stopTimeout: Duration.seconds(60),
    });
    container.addMountPoints({ sourceVolume: 'data', containerPath: DATA_DIR, readOnly: false });

    if (props.bucket) {
      props.bucket.grantReadWrite(task.taskRole);
      acknowledgeFindings(
        task,
        'AwsSolutions-IAM5',
        [...BUCKET_READ_WRITE_ACTIONS, bucketObjectsResource(props.bucket)],
        'Peers read, write back, list and delete any key of the one backend bucket and abort ' +
          'their multipart uploads; the statements name that bucket only.',
      );
    }
    acknowledgeFindings(
      task,
      'AwsSolutions-IAM5',
      ['Resource::*'],
      'The execution role pulls the image (ecr:GetAuthorizationToken has no resource type).',
    );
    props.managerFunction.grantInvokeUrl(task.taskRole);

    const service = new FargateService(this, id, {
      cluster: this.cluster,
      taskDefinition: task,
      desiredCount,
      securityGroups: [props.securityGroup],
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      assignPublicIp: false,
      circuitBreaker: { rollback: true },
      minHealthyPercent: 50,
      maxHealthyPercent: 200,
      ...(role === 'seed-peer'
        ? {
            cloudMapOptions: {
              cloudMapNamespace: props.namespace,
              name: CLOUDMAP_SEED_SERVICE,
              dnsRecordType: DnsRecordType.SRV,
              container,
              containerPort: OBJECT_API_PORT,
              dnsTtl: Duration.seconds(10),
            },
          }
        : {}),
    });
    acknowledgeRule(
      task,
      'AwsSolutions-ECS2',
      'The environment holds only non-secret settings (role, ports, manager URL, backend ' +
        'location); OSS keys come in as ECS secrets from Secrets Manager.',
    );
    return service;
  }
}
