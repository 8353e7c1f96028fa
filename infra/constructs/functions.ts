import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  type FunctionUrl,
  FunctionUrlAuthType,
  InvokeMode,
  Runtime,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CLOUDMAP_NAMESPACE, CLOUDMAP_SEED_SERVICE } from '../config.ts';
import {
  type BundleBackend,
  FUNCTION_NODE_OPTIONS,
  functionBundling,
} from '../function-bundling.ts';
import type { StackLogs } from './logs.ts';
import {
  acknowledgeFindings,
  acknowledgeGuardRule,
  acknowledgeRule,
  BUCKET_READ_WRITE_ACTIONS,
  bucketObjectsResource,
} from './nag.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface FunctionsProps {
  readonly vpc: IVpc;
  readonly securityGroup: ISecurityGroup;
  /** The stack's backend kind: the only adapter bundled (infra/function-bundling.ts). */
  readonly bundleBackend: BundleBackend;
  /** DFSTORE_BACKEND of each function as JSON (may hold tokens), never with keys. */
  readonly objectsBackendJson: string;
  readonly managerBackendJson: string;
  /** The S3 bucket both functions may touch; absent for OSS. */
  readonly bucket?: IBucket;
  /** OSS keys (JSON `accessKeyId`, `accessKeySecret`): read by the object API at cold start. */
  readonly backendSecret?: ISecret;
  readonly auth: 'token' | 'iam';
  readonly apiTokenSecret?: ISecret;
  readonly inlineLimit?: string;
  readonly logs: StackLogs;
}

/** The object API function (in the VPC) and the manager function, each behind a function URL. */
export class Functions extends Construct {
  readonly objects: NodejsFunction;
  readonly objectsUrl: FunctionUrl;
  readonly manager: NodejsFunction;
  readonly managerUrl: FunctionUrl;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const cloudMap = {
      DFSTORE_CLOUDMAP_NAMESPACE: CLOUDMAP_NAMESPACE,
      DFSTORE_CLOUDMAP_SERVICE: CLOUDMAP_SEED_SERVICE,
    };

    this.objects = this.nodeFunction('Objects', 'functions/objects.ts', props, {
      memorySize: 1024,
      timeout: Duration.seconds(60),
      environment: {
        DFSTORE_BACKEND: props.objectsBackendJson,
        ...(props.backendSecret
          ? { DFSTORE_BACKEND_SECRET_ARN: props.backendSecret.secretArn }
          : {}),
        DFSTORE_AUTH: props.auth,
        ...(props.apiTokenSecret
          ? { DFSTORE_API_TOKEN_SECRET_ARN: props.apiTokenSecret.secretArn }
          : {}),
        ...(props.inlineLimit ? { DFSTORE_INLINE_LIMIT: props.inlineLimit } : {}),
        ...cloudMap,
      },
    });
    this.objectsUrl = this.objects.addFunctionUrl({
      // token: the function checks the token itself (DESIGN.md §5); iam: SigV4 at the URL.
      authType: props.auth === 'iam' ? FunctionUrlAuthType.AWS_IAM : FunctionUrlAuthType.NONE,
      // Function URLs cannot stream responses from a function in a VPC.
      invokeMode: InvokeMode.BUFFERED,
    });
    props.apiTokenSecret?.grantRead(this.objects);
    props.backendSecret?.grantRead(this.objects);
    if (props.auth === 'token') {
      acknowledgeGuardRule(
        this.objects,
        'lambda_function_url_auth_check',
        'Token auth (DESIGN.md §5): the URL is public so that the Go dfstore CLI, which cannot ' +
          'sign SigV4, can call it; the function checks the token in constant time on every ' +
          'request. Stack option auth=iam switches the URL to AWS_IAM.',
      );
      acknowledgeGuardRule(
        this.objects,
        'lambda_function_public_access_prohibited_check',
        'The permissions that let anyone invoke the object API through its URL (and only ' +
          'through it: InvokedViaFunctionUrl), as token auth needs; see lambda_function_url_auth_check.',
      );
    }

    this.manager = this.nodeFunction('Manager', 'functions/manager.ts', props, {
      memorySize: 256,
      timeout: Duration.seconds(15),
      environment: { DFSTORE_BACKEND: props.managerBackendJson, ...cloudMap },
    });
    acknowledgeGuardRule(
      this.manager,
      'lambda_inside_vpc_check',
      'The manager reaches only AWS APIs (Cloud Map, the backend) and is reached only through ' +
        'its AWS_IAM function URL; nothing it talks to is inside the VPC.',
    );
    this.managerUrl = this.manager.addFunctionUrl({
      authType: FunctionUrlAuthType.AWS_IAM,
      invokeMode: InvokeMode.BUFFERED,
    });

    if (props.bucket) {
      props.bucket.grantReadWrite(this.objects);
      acknowledgeFindings(
        this.objects,
        'AwsSolutions-IAM5',
        [...BUCKET_READ_WRITE_ACTIONS, bucketObjectsResource(props.bucket)],
        'The object API reads, writes, lists and deletes any key of its one backend bucket, ' +
          'and aborts multipart uploads; the statements name that bucket only.',
      );
      // The manager only answers bucket metadata: list and locate, no object data.
      this.manager.addToRolePolicy(
        new PolicyStatement({
          actions: ['s3:ListBucket', 's3:GetBucketLocation'],
          resources: [props.bucket.bucketArn],
        }),
      );
      // GET /api/v1/buckets[/:id] lists bucket names (ListBuckets has no resource type). No
      // CreateBucket/DeleteBucket: a deployment serves its one bucket, those routes get 403.
      this.manager.addToRolePolicy(
        new PolicyStatement({ actions: ['s3:ListAllMyBuckets'], resources: ['*'] }),
      );
    }
    for (const fn of [this.objects, this.manager]) {
      fn.addToRolePolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ['servicediscovery:DiscoverInstances'],
          // DiscoverInstances has no resource type; the condition pins it to our namespace.
          resources: ['*'],
          conditions: { StringEquals: { 'servicediscovery:NamespaceName': CLOUDMAP_NAMESPACE } },
        }),
      );
    }
  }

  private nodeFunction(
    id: string,
    entry: string,
    props: FunctionsProps,
    options: {
      memorySize: number;
      timeout: Duration;
      environment: Record<string, string>;
    },
  ): NodejsFunction {
    const inVpc = id === 'Objects';
    const logGroup = props.logs.group(this, `${id}Logs`);
    const fn = new NodejsFunction(this, id, {
      entry: `${ROOT}${entry}`,
      projectRoot: ROOT,
      depsLockFilePath: `${ROOT}package-lock.json`,
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: options.memorySize,
      timeout: options.timeout,
      logGroup,
      environment: { ...options.environment, NODE_OPTIONS: FUNCTION_NODE_OPTIONS },
      ...(inVpc
        ? {
            vpc: props.vpc,
            vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
            securityGroups: [props.securityGroup],
          }
        : {}),
      bundling: functionBundling(props.bundleBackend),
    });
    const managed = [
      'AWSLambdaBasicExecutionRole',
      ...(inVpc ? ['AWSLambdaVPCAccessExecutionRole'] : []),
    ];
    acknowledgeFindings(
      fn,
      'AwsSolutions-IAM4',
      managed.map((name) => `Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${name}`),
      'AWS managed AWSLambdaBasicExecutionRole (logs) and, in the VPC, ' +
        'AWSLambdaVPCAccessExecutionRole (ENIs) are the scoped policies AWS maintains for this.',
    );
    acknowledgeFindings(
      fn,
      'AwsSolutions-IAM5',
      ['Resource::*'],
      'servicediscovery:DiscoverInstances has no resource type (a condition pins it to the ' +
        'dfstore namespace), nor has s3:ListAllMyBuckets (manager only: lists bucket names).',
    );
    acknowledgeRule(
      fn,
      'AwsSolutions-L1',
      'NODEJS_22_X is the runtime the project targets and tests (DESIGN.md §1, §8).',
    );
    return fn;
  }
}
