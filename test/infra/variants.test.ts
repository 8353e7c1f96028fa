import { readFileSync } from 'node:fs';
import { App, type Stack } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { CfnBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { configFromContext } from '../../infra/config.ts';
import { NO_KEY } from '../../infra/dfstore-stack.ts';
import { expectStackInvariants } from './invariants.ts';
import { staleAcknowledgments, synth, unacknowledged } from './synth.ts';
import {
  actionsOf,
  logicalId,
  propsOf,
  resourcesOf,
  secretReaders,
  statementsWith,
} from './template-queries.ts';

const ENTRYPOINT = readFileSync('infra/docker/entrypoint.mjs', 'utf8');
const OSS_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:dfstore-oss-AbCdEf';

// bundle.test.ts bundles the functions; the variants need only the template.
const NO_BUNDLE = { bundle: false };

const env = (props: Record<string, unknown>) =>
  (props.Environment as { Variables: Record<string, unknown> }).Variables;

describe('auth=iam', () => {
  const s = synth({ auth: 'iam' }, NO_BUNDLE);

  it('keeps the stack invariants (URLs, VPC placement, SG rules, services, logs, IAM)', () => {
    expectStackInvariants(s, 'iam');
  });

  it('puts AWS_IAM on the object API URL and creates no token secret', () => {
    s.template.hasResourceProperties('AWS::Lambda::Url', {
      TargetFunctionArn: { 'Fn::GetAtt': [logicalId(s.stack.functions.objects), 'Arn'] },
      AuthType: 'AWS_IAM',
      InvokeMode: 'BUFFERED',
    });
    const variables = env(propsOf(s.template, logicalId(s.stack.functions.objects)));
    expect(variables.DFSTORE_AUTH).toBe('iam');
    expect(variables).not.toHaveProperty('DFSTORE_API_TOKEN_SECRET_ARN');
    s.template.resourceCountIs('AWS::Lambda::Permission', 0);
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(statementsWith(s.template, 'secretsmanager:')).toEqual([]);
    expect(s.template.toJSON().Outputs).not.toHaveProperty('ApiTokenSecretArn');
  });

  it('passes cdk-nag, cfn-guard and CloudFormation Validate, with no stale acknowledgment', () => {
    expect(unacknowledged(s)).toEqual([]);
    expect(staleAcknowledgments(s)).toEqual([]);
  });
});

describe('backend=oss', () => {
  const s = synth(
    {
      backend: 'oss',
      bucketName: 'dfstore-oss',
      oss: {
        secretArn: OSS_SECRET,
        region: 'oss-cn-hangzhou',
        endpoint: 'https://oss-cn-hangzhou.aliyuncs.com',
      },
    },
    NO_BUNDLE,
  );

  it('keeps the stack invariants (URLs, VPC placement, SG rules, services, logs, IAM)', () => {
    expectStackInvariants(s, 'token');
  });

  it('creates no S3 bucket and grants no S3 action', () => {
    s.template.resourceCountIs('AWS::S3::Bucket', 0);
    expect(statementsWith(s.template, 's3:')).toEqual([]);
    expect(s.template.toJSON().Outputs.BucketName.Value).toBe('dfstore-oss');
  });

  it('gives the object API function the secret ARN only, the manager no keys', () => {
    const objects = env(propsOf(s.template, logicalId(s.stack.functions.objects)));
    expect(objects.DFSTORE_BACKEND_SECRET_ARN).toBe(OSS_SECRET);
    expect(JSON.parse(objects.DFSTORE_BACKEND as string)).toEqual({
      name: 'oss',
      region: 'oss-cn-hangzhou',
      endpoint: 'https://oss-cn-hangzhou.aliyuncs.com',
    });
    const manager = env(propsOf(s.template, logicalId(s.stack.functions.manager)));
    expect(manager).not.toHaveProperty('DFSTORE_BACKEND_SECRET_ARN');
    expect(JSON.parse(manager.DFSTORE_BACKEND as string)).toMatchObject({
      name: 'oss',
      accessKeyId: NO_KEY,
      accessKeySecret: NO_KEY,
    });
    // No dynamic reference to a key anywhere in the template (ECS resolves the peers' at start).
    expect(JSON.stringify(s.template.toJSON())).not.toContain('resolve:secretsmanager');
  });

  it('injects the keys into the peers as ECS secrets read by the execution role only', () => {
    for (const service of [s.stack.peers.seedPeers, s.stack.peers.peers]) {
      const task = propsOf(s.template, logicalId(service.taskDefinition));
      const [container] = task.ContainerDefinitions as Record<string, unknown>[];
      expect(container?.Secrets).toEqual([
        { Name: 'OSS_ACCESS_KEY_ID', ValueFrom: `${OSS_SECRET}:accessKeyId::` },
        { Name: 'OSS_ACCESS_KEY_SECRET', ValueFrom: `${OSS_SECRET}:accessKeySecret::` },
      ]);
      // The names the image's entrypoint turns into the daemon's backend keys.
      for (const name of ['OSS_ACCESS_KEY_ID', 'OSS_ACCESS_KEY_SECRET']) {
        expect(ENTRYPOINT).toContain(`process.env.${name}`);
      }
      expect(JSON.stringify(container?.Environment)).not.toContain('secretsmanager');
    }
    // The OSS keys: the peers' execution roles (ECS injects them) and the object API function.
    const objectsRole = s.stack.functions.objects.role as NonNullable<IRole>;
    expect(secretReaders(s.template, OSS_SECRET)).toEqual(
      [
        objectsRole,
        ...[s.stack.peers.peers, s.stack.peers.seedPeers].map((service) =>
          service.taskDefinition.obtainExecutionRole(),
        ),
      ]
        .map(logicalId)
        .sort(),
    );
    // Every secret statement names a secret: the OSS one or the API token's.
    const token = { Ref: logicalId(s.stack.backend.apiTokenSecret as NonNullable<ISecret>) };
    for (const { statement } of statementsWith(s.template, 'secretsmanager:')) {
      for (const resource of resourcesOf(statement))
        expect([OSS_SECRET, token]).toContainEqual(resource);
    }
    expect(secretReaders(s.template, token)).toEqual([logicalId(objectsRole)]);
  });

  it('passes cdk-nag, cfn-guard and CloudFormation Validate, with no stale acknowledgment', () => {
    expect(unacknowledged(s)).toEqual([]);
    expect(staleAcknowledgments(s)).toEqual([]);
  });
});

describe('existing VPC and bucket', () => {
  const s = synth(
    {
      bucketName: 'my-dfstore-data',
      vpc: {
        vpcId: 'vpc-0123456789abcdef0',
        availabilityZones: ['us-east-1a', 'us-east-1b'],
        privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
      },
    },
    NO_BUNDLE,
  );
  const subnets = ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'];

  it('keeps the stack invariants (URLs, VPC placement, SG rules, services, logs, IAM)', () => {
    expectStackInvariants(s, 'token');
  });

  it('creates no VPC and places the function and services in the given subnets', () => {
    s.template.resourceCountIs('AWS::EC2::VPC', 0);
    s.template.resourceCountIs('AWS::EC2::FlowLog', 0);
    s.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      VpcId: 'vpc-0123456789abcdef0',
    });
    const fn = propsOf(s.template, logicalId(s.stack.functions.objects));
    expect((fn.VpcConfig as { SubnetIds: string[] }).SubnetIds).toEqual(subnets);
    for (const service of [s.stack.peers.seedPeers, s.stack.peers.peers]) {
      expect(propsOf(s.template, logicalId(service))).toMatchObject({
        NetworkConfiguration: { AwsvpcConfiguration: { Subnets: subnets } },
      });
    }
  });

  it('uses the existing bucket by name, scoping S3 statements to it', () => {
    s.template.resourceCountIs('AWS::S3::Bucket', 0);
    const arn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-dfstore-data']] };
    const objects = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-dfstore-data/*']],
    };
    for (const { statement } of statementsWith(s.template, 's3:')) {
      if (actionsOf(statement).includes('s3:ListAllMyBuckets')) continue;
      const resources = Array.isArray(statement.Resource)
        ? statement.Resource
        : [statement.Resource];
      for (const resource of resources) expect([arn, objects]).toContainEqual(resource);
      expect(actionsOf(statement).some((action) => action === 's3:*')).toBe(false);
    }
  });

  it('passes cdk-nag, cfn-guard and CloudFormation Validate, with no stale acknowledgment', () => {
    expect(unacknowledged(s)).toEqual([]);
    expect(staleAcknowledgments(s)).toEqual([]);
  });
});

describe('synth-time checks fail the synth', () => {
  it('on a CloudFormation schema error (validateAgainstDefaultRules)', () => {
    const vpc = {
      vpcId: 'vpc-0123456789abcdef0',
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      privateSubnetIds: ['subnet-a', 'subnet-b'],
    };
    expect(() => synth({ bucketName: 'my-dfstore-data', vpc }, NO_BUNDLE)).toThrow(
      /CloudFormation Validate E1154: .*Dfstore\/Peers\/SeedPeer\/Service/,
    );
  });

  it('on an unacknowledged Control Tower control', () => {
    const extend = (stack: Stack) => new CfnBucket(stack, 'Unreviewed');
    expect(() => synth({}, { ...NO_BUNDLE, extend })).toThrow(
      /cdk-validator-cfnguard s3_bucket_versioning_enabled_check: Dfstore\/Unreviewed/,
    );
  });
});

describe('configFromContext', () => {
  const read = (context: Record<string, string>) => configFromContext(new App({ context }).node);

  it('defaults to s3, token auth, 2 seed peers and 1 peer', () => {
    expect(read({})).toEqual({
      backend: 's3',
      seedPeers: 2,
      peers: 1,
      cpu: 1024,
      memory: 2048,
      ephemeralStorageGiB: 50,
      auth: 'token',
    });
  });

  it('reads every parameter from -c strings', () => {
    expect(
      read({
        backend: 'oss',
        bucketName: 'b',
        ossSecretArn: OSS_SECRET,
        ossRegion: 'oss-cn-beijing',
        seedPeers: '3',
        peers: '0',
        cpu: '2048',
        memory: '4096',
        ephemeralStorageGiB: '100',
        inlineLimit: '2MiB',
        auth: 'iam',
        vpcId: 'vpc-1',
        availabilityZones: 'a, b',
        privateSubnetIds: 'subnet-1,subnet-2',
      }),
    ).toEqual({
      backend: 'oss',
      bucketName: 'b',
      oss: {
        secretArn: OSS_SECRET,
        region: 'oss-cn-beijing',
        endpoint: 'https://oss-cn-beijing.aliyuncs.com',
      },
      seedPeers: 3,
      peers: 0,
      cpu: 2048,
      memory: 4096,
      ephemeralStorageGiB: 100,
      inlineLimit: '2MiB',
      auth: 'iam',
      vpc: {
        vpcId: 'vpc-1',
        availabilityZones: ['a', 'b'],
        privateSubnetIds: ['subnet-1', 'subnet-2'],
      },
    });
  });

  it('names a bad parameter', () => {
    expect(() => read({ backend: 'gcs' })).toThrow(/context backend: must be one of s3, oss/);
    expect(() => read({ ephemeralStorageGiB: '10' })).toThrow(/ephemeralStorageGiB: .*21\.\.200/);
    expect(() => read({ backend: 'oss' })).toThrow(/ossSecretArn, ossRegion and bucketName/);
    const partial = { backend: 'oss', bucketName: 'b', ossRegion: 'oss-cn-beijing' };
    expect(() => read({ ...partial, ossSecretArn: OSS_SECRET.replace(/-AbCdEf$/, '') })).toThrow(
      /ossSecretArn: must be a complete Secrets Manager ARN/,
    );
    expect(() => read({ vpcId: 'vpc-1' })).toThrow(/availabilityZones/);
  });
});
