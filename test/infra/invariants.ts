import type { IRole } from 'aws-cdk-lib/aws-iam';
import { expect } from 'vitest';
import type { Synthesized } from './synth.ts';
import {
  actionsOf,
  logicalId,
  policyStatements,
  propsOf,
  resourcesOf,
  statementsWith,
} from './template-queries.ts';

const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });
const roleOf = (role: IRole | undefined) => logicalId(role as IRole);

/**
 * What every context variant keeps (DESIGN.md §8, the acceptance); each variant's tests
 * call this once, then check what is particular to it.
 */
export function expectStackInvariants(s: Synthesized, auth: 'token' | 'iam'): void {
  const { template, stack } = s;
  const { objects, manager } = stack.functions;
  const { clusterSecurityGroup: cluster, functionSecurityGroup: fnSg } = stack.network;

  // Function URLs: the object API by auth mode, the manager AWS_IAM; BUFFERED (VPC).
  template.resourceCountIs('AWS::Lambda::Url', 2);
  const urls = Object.values(template.findResources('AWS::Lambda::Url')).map((u) => u.Properties);
  expect(urls).toEqual(
    expect.arrayContaining([
      {
        TargetFunctionArn: getAtt(logicalId(objects), 'Arn'),
        AuthType: auth === 'iam' ? 'AWS_IAM' : 'NONE',
        InvokeMode: 'BUFFERED',
      },
      {
        TargetFunctionArn: getAtt(logicalId(manager), 'Arn'),
        AuthType: 'AWS_IAM',
        InvokeMode: 'BUFFERED',
      },
    ]),
  );

  // The object API function in the VPC's private subnets with its own security group.
  const vpcConfig = propsOf(template, logicalId(objects)).VpcConfig as Record<string, unknown[]>;
  expect(vpcConfig.SecurityGroupIds).toEqual([getAtt(logicalId(fnSg), 'GroupId')]);
  const privateSubnets = stack.network.vpc.privateSubnets.map((subnet) =>
    stack.resolve(subnet.subnetId),
  );
  expect(vpcConfig.SubnetIds).toEqual(privateSubnets);

  // Ingress: piece port only cluster → cluster; object API port from the cluster and the function.
  const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map(
    ({ Properties: p }) => ({
      ports: [p.FromPort, p.ToPort],
      protocol: p.IpProtocol,
      to: p.GroupId,
      from: p.SourceSecurityGroupId ?? p.CidrIp ?? p.CidrIpv6,
    }),
  );
  const sg = (group: typeof cluster) => getAtt(logicalId(group), 'GroupId');
  expect(ingress).toHaveLength(3);
  expect(ingress).toEqual(
    expect.arrayContaining([
      { ports: [65002, 65002], protocol: 'tcp', to: sg(cluster), from: sg(cluster) },
      { ports: [65004, 65004], protocol: 'tcp', to: sg(cluster), from: sg(cluster) },
      { ports: [65004, 65004], protocol: 'tcp', to: sg(cluster), from: sg(fnSg) },
    ]),
  );
  for (const group of Object.values(template.findResources('AWS::EC2::SecurityGroup'))) {
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
  }

  // Services: private, Cloud Map for seed peers, ephemeral storage, health checks, read-only root.
  const seedRegistry = (
    propsOf(template, logicalId(stack.peers.seedPeers)).ServiceRegistries as {
      RegistryArn: { 'Fn::GetAtt': [string, string] };
    }[]
  )[0];
  const registry = propsOf(template, seedRegistry?.RegistryArn['Fn::GetAtt'][0] ?? '');
  expect(registry).toMatchObject({
    Name: 'seed-peers',
    NamespaceId: getAtt(logicalId(stack.network.namespace), 'Id'),
  });
  expect(propsOf(template, logicalId(stack.network.namespace)).Name).toBe('dfstore.internal');
  for (const service of [stack.peers.seedPeers, stack.peers.peers]) {
    expect(propsOf(template, logicalId(service))).toMatchObject({
      NetworkConfiguration: {
        AwsvpcConfiguration: {
          AssignPublicIp: 'DISABLED',
          SecurityGroups: [sg(cluster)],
          Subnets: privateSubnets,
        },
      },
      DeploymentConfiguration: { DeploymentCircuitBreaker: { Enable: true, Rollback: true } },
    });
    const task = propsOf(template, logicalId(service.taskDefinition));
    expect(task.EphemeralStorage).toEqual({ SizeInGiB: 50 });
    expect((task.ContainerDefinitions as Record<string, unknown>[])[0]).toMatchObject({
      HealthCheck: { Command: expect.arrayContaining([expect.stringContaining('/healthy')]) },
      ReadonlyRootFilesystem: true,
      Environment: expect.arrayContaining([{ Name: 'TMPDIR', Value: '/var/lib/dfstore/tmp' }]),
    });
  }

  // Every log group keeps 30 days, encrypted with the stack's logs key.
  const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
  expect(groups.length).toBeGreaterThanOrEqual(3);
  for (const group of groups) {
    expect(group.Properties).toEqual({
      RetentionInDays: 30,
      KmsKeyId: getAtt(logicalId(stack.logs.key), 'Arn'),
    });
  }

  // IAM: no action wildcard; the manager reads no secret; secrets are read by the object API
  // function and (OSS keys) the peers' execution roles only; S3 only on the backend bucket.
  expect(policyStatements(template).flatMap(({ statement }) => actionsOf(statement))).not.toContain(
    '*',
  );
  const secretRoles = new Set(
    statementsWith(template, 'secretsmanager:').flatMap((st) => st.roles),
  );
  const allowed = [
    roleOf(objects.role),
    ...[stack.peers.seedPeers, stack.peers.peers].map((service) =>
      logicalId(service.taskDefinition.obtainExecutionRole()),
    ),
  ];
  for (const role of secretRoles) expect(allowed).toContain(role);
  expect(secretRoles.has(roleOf(manager.role))).toBe(false);
  const bucket = stack.backend.bucket;
  const scopes = bucket
    ? [bucket.bucketArn, bucket.arnForObjects('*')].map((x) => stack.resolve(x))
    : [];
  for (const { statement } of statementsWith(template, 's3:')) {
    if (actionsOf(statement).includes('s3:ListAllMyBuckets')) continue;
    for (const resource of resourcesOf(statement)) expect(scopes).toContainEqual(resource);
  }
}
