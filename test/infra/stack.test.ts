import { readFileSync } from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectStackInvariants } from './invariants.ts';
import { type Synthesized, staleAcknowledgments, synth, unacknowledged } from './synth.ts';
import {
  actionsOf,
  logicalId,
  policyStatements,
  propsOf,
  statementsWith,
} from './template-queries.ts';

// The default variant: new VPC, new S3 bucket, token auth. One synth for every test here; the
// bundles are bundle.test.ts's.
let s: Synthesized;
beforeAll(() => {
  s = synth({}, { bundle: false });
}, 120_000);

const env = (props: Record<string, unknown>) =>
  (props.Environment as { Variables: Record<string, unknown> }).Variables;

describe('stack invariants (every variant: variants.test.ts)', () => {
  it('keeps URL modes, VPC placement, SG rules, services, log retention and IAM scopes', () => {
    expectStackInvariants(s, 'token');
  });
});

describe('functions', () => {
  it('leave the manager outside the VPC (it reaches only AWS APIs)', () => {
    expect(propsOf(s.template, logicalId(s.stack.functions.manager)).VpcConfig).toBeUndefined();
  });

  it('lets anyone invoke the object API only through its URL (the function checks the token)', () => {
    const objects = { 'Fn::GetAtt': [logicalId(s.stack.functions.objects), 'Arn'] };
    const permissions = Object.values(s.template.findResources('AWS::Lambda::Permission')).map(
      (permission) => permission.Properties,
    );
    expect(permissions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: 'lambda:InvokeFunctionUrl',
          FunctionUrlAuthType: 'NONE',
        }),
        expect.objectContaining({ Action: 'lambda:InvokeFunction', InvokedViaFunctionUrl: true }),
      ]),
    );
    expect(permissions).toHaveLength(2);
    for (const permission of permissions) expect(permission.FunctionName).toEqual(objects);
  });

  it('run Node 22 on ARM64, bundled locally, with their own log groups', () => {
    for (const fn of [s.stack.functions.objects, s.stack.functions.manager]) {
      const props = propsOf(s.template, logicalId(fn));
      expect(props).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
      });
    }
  });

  it('configure the functions through the variables README "Lambda functions" names', () => {
    const objects = env(propsOf(s.template, logicalId(s.stack.functions.objects)));
    const secret = s.stack.backend.apiTokenSecret;
    expect(secret).toBeDefined();
    expect(objects).toMatchObject({
      DFSTORE_AUTH: 'token',
      DFSTORE_API_TOKEN_SECRET_ARN: { Ref: logicalId(secret as NonNullable<typeof secret>) },
      DFSTORE_CLOUDMAP_NAMESPACE: 'dfstore.internal',
      DFSTORE_CLOUDMAP_SERVICE: 'seed-peers',
      DFSTORE_BACKEND: {
        'Fn::Join': ['', ['{"name":"s3","region":"', { Ref: 'AWS::Region' }, '"}']],
      },
    });
    const manager = env(propsOf(s.template, logicalId(s.stack.functions.manager)));
    expect(manager).toMatchObject({ DFSTORE_CLOUDMAP_SERVICE: 'seed-peers' });
    expect(manager).not.toHaveProperty('DFSTORE_API_TOKEN_SECRET_ARN');
  });
});

describe('peer services', () => {
  it('run seed peers (Cloud Map SRV on the object API port) and peers from one image', () => {
    const { seedPeers, peers } = s.stack.peers;
    s.template.resourceCountIs('AWS::ECS::Service', 2);
    s.template.hasResourceProperties('AWS::ServiceDiscovery::Service', {
      Name: 'seed-peers',
      DnsConfig: { DnsRecords: [{ Type: 'SRV', TTL: 10 }] },
    });
    expect(propsOf(s.template, logicalId(seedPeers))).toMatchObject({
      DesiredCount: 2,
      LaunchType: 'FARGATE',
      ServiceRegistries: [{ ContainerName: 'daemon', ContainerPort: 65004 }],
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } },
    });
    const peer = propsOf(s.template, logicalId(peers));
    expect(peer).toMatchObject({ DesiredCount: 1 });
    expect(peer.ServiceRegistries).toBeUndefined();
    const images = ['SeedPeer', 'Peer'].map((id) => {
      const task = propsOf(
        s.template,
        logicalId(id === 'Peer' ? peers.taskDefinition : seedPeers.taskDefinition),
      );
      return JSON.stringify((task.ContainerDefinitions as { Image: unknown }[])[0]?.Image);
    });
    expect(images[0]).toBe(images[1]);
  });

  it('give each task ARM64, ephemeral storage, a /healthy check and its role', () => {
    for (const [service, role] of [
      [s.stack.peers.seedPeers, 'seed-peer'],
      [s.stack.peers.peers, 'peer'],
    ] as const) {
      const task = propsOf(s.template, logicalId(service.taskDefinition));
      expect(task).toMatchObject({
        Cpu: '1024',
        Memory: '2048',
        EphemeralStorage: { SizeInGiB: 50 },
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        RequiresCompatibilities: ['FARGATE'],
      });
      const [container] = task.ContainerDefinitions as Record<string, unknown>[];
      expect(container).toMatchObject({
        User: 'node',
        Memory: 2048,
        HealthCheck: { Command: ['CMD', 'node', '-e', expect.stringContaining(':65002/healthy')] },
        PortMappings: [{ ContainerPort: 65004 }, { ContainerPort: 65002 }],
        MountPoints: [{ ContainerPath: '/var/lib/dfstore', SourceVolume: 'data' }],
        LogConfiguration: { LogDriver: 'awslogs' },
      });
      const variables = Object.fromEntries(
        ((container?.Environment ?? []) as { Name: string; Value: unknown }[]).map((e) => [
          e.Name,
          e.Value,
        ]),
      );
      expect(variables).toMatchObject({
        DFSTORE_ROLE: role,
        DFSTORE_MANAGER_ADDRS: { 'Fn::GetAtt': [expect.any(String), 'FunctionUrl'] },
        DFSTORE_API_PORT: '65004',
        DFSTORE_PIECE_PORT: '65002',
        DFSTORE_PIECE_LISTEN: '0.0.0.0',
        DFSTORE_CAPACITY: '44GiB',
      });
    }
  });

  it('build the image from infra/docker/peer.Dockerfile: multi-stage, non-root, HEALTHCHECK', () => {
    const dockerfile = readFileSync('infra/docker/peer.Dockerfile', 'utf8');
    expect(dockerfile.match(/^FROM node:22/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^RUN npm ci/m);
    expect(dockerfile).toMatch(/esbuild lib\/peer\/main\.ts/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*65002\/healthy/m);
  });
});

describe('IAM', () => {
  it('scopes every S3 statement to the backend bucket', () => {
    const bucket = logicalId(s.stack.backend.bucket as NonNullable<typeof s.stack.backend.bucket>);
    const arn = { 'Fn::GetAtt': [bucket, 'Arn'] };
    const s3 = statementsWith(s.template, 's3:');
    expect(s3.length).toBeGreaterThanOrEqual(4);
    // Listing bucket names (the manager's GET /api/v1/buckets) has no resource type.
    const listAll = s3.filter(({ statement }) =>
      actionsOf(statement).includes('s3:ListAllMyBuckets'),
    );
    expect(listAll.map(({ statement }) => [actionsOf(statement), statement.Resource])).toEqual([
      [['s3:ListAllMyBuckets'], '*'],
    ]);
    for (const { statement } of s3.filter((entry) => !listAll.includes(entry))) {
      const resources = Array.isArray(statement.Resource)
        ? statement.Resource
        : [statement.Resource];
      for (const resource of resources) {
        expect([arn, { 'Fn::Join': ['', [arn, '/*']] }]).toContainEqual(resource);
      }
    }
    const roles = [...new Set(s3.flatMap(({ roles }) => roles))].sort();
    expect(roles).toEqual(
      [
        s.stack.functions.objects.role,
        s.stack.functions.manager.role,
        s.stack.peers.seedPeers.taskDefinition.taskRole,
        s.stack.peers.peers.taskDefinition.taskRole,
      ]
        .map((role) => logicalId(role as NonNullable<typeof role>))
        .sort(),
    );
    const manager = logicalId(
      s.stack.functions.manager.role as NonNullable<typeof s.stack.functions.manager.role>,
    );
    const managerS3 = s3.filter(({ roles }) => roles.includes(manager));
    expect(managerS3.flatMap(({ statement }) => actionsOf(statement)).sort()).toEqual([
      's3:GetBucketLocation',
      's3:ListAllMyBuckets',
      's3:ListBucket',
    ]);
  });

  it('lets only the object API function read the token secret', () => {
    const readers = statementsWith(s.template, 'secretsmanager:').flatMap(({ roles }) => roles);
    const objectsRole = s.stack.functions.objects.role;
    expect(readers).toEqual([logicalId(objectsRole as NonNullable<typeof objectsRole>)]);
  });

  it('pins DiscoverInstances to the namespace and lets peers invoke only the manager URL', () => {
    for (const { statement } of statementsWith(s.template, 'servicediscovery:')) {
      expect(statement.Condition).toEqual({
        StringEquals: { 'servicediscovery:NamespaceName': 'dfstore.internal' },
      });
    }
    const manager = logicalId(s.stack.functions.manager);
    const invoke = statementsWith(s.template, 'lambda:');
    expect(invoke.length).toBeGreaterThan(0);
    for (const { statement, roles } of invoke) {
      expect(statement.Resource).toEqual({ 'Fn::GetAtt': [manager, 'Arn'] });
      expect(roles.every((role) => role.startsWith('Peers'))).toBe(true);
    }
    expect(
      policyStatements(s.template).some(({ statement }) => actionsOf(statement).includes('*')),
    ).toBe(false);
  });
});

describe('storage and logs', () => {
  it('creates the bucket encrypted, SSL-only, private, aborting stale multipart uploads', () => {
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })],
      },
    });
    s.template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it("keeps every log group 30 days, encrypted with the stack's rotated logs key", () => {
    const key = logicalId(s.stack.logs.key);
    const groups = Object.values(s.template.findResources('AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(4);
    for (const group of groups) {
      expect(group.Properties).toEqual({
        RetentionInDays: 30,
        KmsKeyId: { 'Fn::GetAtt': [key, 'Arn'] },
      });
    }
    s.template.resourceCountIs('AWS::EC2::FlowLog', 1);
    s.template.resourceCountIs('AWS::KMS::Key', 1);
    const keyProps = propsOf(s.template, key) as {
      EnableKeyRotation: boolean;
      KeyPolicy: { Statement: Record<string, unknown>[] };
    };
    expect(keyProps.EnableKeyRotation).toBe(true);
    // CloudWatch Logs of this region may use it for this account's log groups; only AWS
    // services may create grants.
    expect(keyProps.KeyPolicy.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Allow',
          Principal: {
            Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
          },
          Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': expect.anything() } },
        }),
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'kms:CreateGrant',
          Principal: { AWS: '*' },
          Condition: {
            BoolIfExists: {
              'kms:GrantIsForAWSResource': 'false',
              'aws:PrincipalIsAWSService': 'false',
            },
          },
        }),
      ]),
    );
  });

  it('outputs the object API URL, the manager URL, the bucket and the token secret', () => {
    const outputs = s.template.toJSON().Outputs as Record<string, unknown>;
    expect(Object.keys(outputs).sort()).toEqual([
      'ApiTokenSecretArn',
      'BucketName',
      'ManagerUrl',
      'ObjectApiUrl',
    ]);
  });
});

describe('synth-time checks (cdk-nag AwsSolutions, cfn-guard Control Tower, CFN Validate)', () => {
  it('reports no unacknowledged finding from any plugin', () => {
    // CloudFormation Validate reports only when it finds something (variants.test.ts).
    const plugins = s.reports.map((plugin) => plugin.pluginName);
    expect(plugins).toEqual(expect.arrayContaining(['AwsSolutions', 'cdk-validator-cfnguard']));
    expect(unacknowledged(s)).toEqual([]);
  });

  it('has a reason for every acknowledgment and no stale one', () => {
    const suppressed = [s.nag, s.guard].flatMap((plugin) => plugin.suppressedViolations ?? []);
    expect(s.guard.suppressedViolations?.length).toBeGreaterThan(0);
    for (const violation of suppressed) expect(violation.reason.length).toBeGreaterThan(40);
    expect(staleAcknowledgments(s)).toEqual([]);
  });

  it('fixes the cheap Control Tower controls instead of acknowledging them', () => {
    const subnets = Object.values(s.template.findResources('AWS::EC2::Subnet'));
    expect(subnets).toHaveLength(4);
    for (const subnet of subnets) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
    });
    const guarded = (s.guard.suppressedViolations ?? []).map((v) => v.ruleName);
    expect(guarded).not.toContain('subnet_auto_assign_public_ip_disabled_check');
    expect(guarded).not.toContain('ecs_containers_readonly_access_check');
    expect(guarded).not.toContain('s3_bucket_versioning_enabled_check');
    expect(guarded).not.toContain('cloudwatch_log_group_encrypted_check');
    expect(guarded).not.toContain('kms_create_grant_aws_service_check');
  });
});
