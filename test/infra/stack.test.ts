import { readFileSync } from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Synthesized, synth } from './synth.ts';
import {
  actionsOf,
  logicalId,
  policyStatements,
  propsOf,
  statementsWith,
} from './template-queries.ts';

// The default variant: new VPC, new S3 bucket, token auth. One synth for every test here.
let s: Synthesized;
// Bundling both functions takes a few seconds, more while other files synth in parallel.
beforeAll(() => {
  s = synth();
}, 120_000);

const env = (props: Record<string, unknown>) =>
  (props.Environment as { Variables: Record<string, unknown> }).Variables;

describe('functions', () => {
  it('serve the object API (NONE, token checked inside) and the manager (AWS_IAM), BUFFERED', () => {
    const { objects, manager } = s.stack.functions;
    s.template.resourceCountIs('AWS::Lambda::Url', 2);
    s.template.hasResourceProperties('AWS::Lambda::Url', {
      TargetFunctionArn: { 'Fn::GetAtt': [logicalId(objects), 'Arn'] },
      AuthType: 'NONE',
      InvokeMode: 'BUFFERED',
    });
    s.template.hasResourceProperties('AWS::Lambda::Url', {
      TargetFunctionArn: { 'Fn::GetAtt': [logicalId(manager), 'Arn'] },
      AuthType: 'AWS_IAM',
      InvokeMode: 'BUFFERED',
    });
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

  it('put the object API function in the VPC with its security group; the manager outside', () => {
    const objects = propsOf(s.template, logicalId(s.stack.functions.objects));
    expect(objects.VpcConfig).toMatchObject({
      SecurityGroupIds: [
        { 'Fn::GetAtt': [logicalId(s.stack.network.functionSecurityGroup), 'GroupId'] },
      ],
      SubnetIds: expect.arrayContaining([expect.anything()]),
    });
    expect(propsOf(s.template, logicalId(s.stack.functions.manager)).VpcConfig).toBeUndefined();
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

describe('security groups', () => {
  it('open the piece port only inside the cluster, the object API only to peers and the function', () => {
    const cluster = logicalId(s.stack.network.clusterSecurityGroup);
    const fn = logicalId(s.stack.network.functionSecurityGroup);
    const rules = Object.values(s.template.findResources('AWS::EC2::SecurityGroupIngress')).map(
      (rule) => rule.Properties as Record<string, unknown>,
    );
    const summary = rules.map((rule) => ({
      port: rule.FromPort,
      to: (rule.GroupId as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
      from: (rule.SourceSecurityGroupId as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
    }));
    expect(summary).toEqual(
      expect.arrayContaining([
        { port: 65002, to: cluster, from: cluster },
        { port: 65004, to: cluster, from: cluster },
        { port: 65004, to: cluster, from: fn },
      ]),
    );
    expect(summary).toHaveLength(3);
    const inline = s.template.findResources('AWS::EC2::SecurityGroup', {
      Properties: { SecurityGroupIngress: Match.anyValue() },
    });
    expect(Object.keys(inline)).toEqual([]);
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

  it('keeps every log group for 30 days (functions, peers, VPC flow logs)', () => {
    const groups = Object.values(s.template.findResources('AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(4);
    for (const group of groups) expect(group.Properties).toMatchObject({ RetentionInDays: 30 });
    s.template.resourceCountIs('AWS::EC2::FlowLog', 1);
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

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding', () => {
    expect(s.nag.violations).toEqual([]);
    expect(s.nag.conclusion).toBe('success');
  });

  it('has a reason for every acknowledgment and no stale one', () => {
    for (const suppressed of s.nag.suppressedViolations) {
      expect(suppressed.reason.length).toBeGreaterThan(40);
    }
    const used = new Set(s.nag.suppressedViolations.map((v) => v.acknowledgedId));
    const nag = s.acknowledgments.filter((ack) => ack.id.startsWith('AwsSolutions::'));
    expect(nag.length).toBeGreaterThan(0);
    expect(nag.filter((ack) => !used.has(ack.id))).toEqual([]);
  });
});
