import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { configFromContext } from '../../infra/config.ts';
import { synth } from './synth.ts';
import { actionsOf, logicalId, propsOf, statementsWith } from './template-queries.ts';

const OSS_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:dfstore-oss-AbCdEf';

// stack.test.ts bundles the functions; the variants need only the template.
const NO_BUNDLE = { bundle: false };

const env = (props: Record<string, unknown>) =>
  (props.Environment as { Variables: Record<string, unknown> }).Variables;

describe('auth=iam', () => {
  const s = synth({ auth: 'iam' }, NO_BUNDLE);

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

  it('passes cdk-nag', () => {
    expect(s.nag.violations).toEqual([]);
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

  it('creates no S3 bucket and grants no S3 action', () => {
    s.template.resourceCountIs('AWS::S3::Bucket', 0);
    expect(statementsWith(s.template, 's3:')).toEqual([]);
    expect(s.template.toJSON().Outputs.BucketName.Value).toBe('dfstore-oss');
  });

  it('gives the functions the OSS keys as Secrets Manager dynamic references', () => {
    const backend = JSON.stringify(
      env(propsOf(s.template, logicalId(s.stack.functions.objects))).DFSTORE_BACKEND,
    );
    expect(backend).toContain('oss-cn-hangzhou');
    expect(backend).toContain(
      `{{resolve:secretsmanager:${OSS_SECRET}:SecretString:accessKeyId::}}`,
    );
    expect(backend).toContain('accessKeySecret::}}');
  });

  it('injects the keys into the peers as ECS secrets read by the execution role only', () => {
    for (const service of [s.stack.peers.seedPeers, s.stack.peers.peers]) {
      const task = propsOf(s.template, logicalId(service.taskDefinition));
      const [container] = task.ContainerDefinitions as Record<string, unknown>[];
      expect(container?.Secrets).toEqual([
        { Name: 'OSS_ACCESS_KEY_ID', ValueFrom: `${OSS_SECRET}:accessKeyId::` },
        { Name: 'OSS_ACCESS_KEY_SECRET', ValueFrom: `${OSS_SECRET}:accessKeySecret::` },
      ]);
      expect(JSON.stringify(container?.Environment)).not.toContain('secretsmanager');
    }
    const readers = statementsWith(s.template, 'secretsmanager:');
    const oss = readers.filter(({ statement }) => statement.Resource === OSS_SECRET);
    expect(oss.flatMap(({ roles }) => roles).sort()).toEqual(
      [s.stack.peers.peers, s.stack.peers.seedPeers]
        .map((service) => logicalId(service.taskDefinition.obtainExecutionRole()))
        .sort(),
    );
    // The other reader is the object API function, of its token secret.
    const objectsRole = s.stack.functions.objects.role;
    expect(readers.filter(({ statement }) => statement.Resource !== OSS_SECRET)).toEqual([
      expect.objectContaining({
        roles: [logicalId(objectsRole as NonNullable<typeof objectsRole>)],
      }),
    ]);
  });

  it('passes cdk-nag', () => {
    expect(s.nag.violations).toEqual([]);
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

  it('passes cdk-nag', () => {
    expect(s.nag.violations).toEqual([]);
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
    expect(() => read({ vpcId: 'vpc-1' })).toThrow(/availabilityZones/);
  });
});
