import { Stack, Validations } from 'aws-cdk-lib';
import {
  FlowLogDestination,
  GatewayVpcEndpointAwsService,
  type IVpc,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { PrivateDnsNamespace } from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import { CLOUDMAP_NAMESPACE, type ExistingVpc, OBJECT_API_PORT, PIECE_PORT } from '../config.ts';
import type { StackLogs } from './logs.ts';
import { acknowledgeGuardRule } from './nag.ts';

export interface NetworkProps {
  /** An existing VPC (its private subnets with egress); absent: a new 2-AZ VPC. */
  readonly existing?: ExistingVpc;
  readonly logs: StackLogs;
}

/**
 * The VPC, the Cloud Map namespace and the two security groups: `cluster` (every peer and seed
 * peer) and `functions` (the object API function). Piece port: only inside the cluster; object
 * API port: from the cluster and the object API function.
 */
export class Network extends Construct {
  readonly vpc: IVpc;
  readonly namespace: PrivateDnsNamespace;
  readonly clusterSecurityGroup: SecurityGroup;
  readonly functionSecurityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.vpc = props.existing ? this.existingVpc(props.existing) : this.newVpc(props.logs);

    this.namespace = new PrivateDnsNamespace(this, 'Namespace', {
      name: CLOUDMAP_NAMESPACE,
      vpc: this.vpc,
      description: 'dfstore seed peers',
    });

    this.clusterSecurityGroup = new SecurityGroup(this, 'ClusterSg', {
      vpc: this.vpc,
      description: 'dfstore peers and seed peers',
      // Peers reach the backend, the manager function URL and each other.
      allowAllOutbound: true,
    });
    this.functionSecurityGroup = new SecurityGroup(this, 'FunctionSg', {
      vpc: this.vpc,
      description: 'dfstore object API function',
      // The function reaches seed peers, the backend, Secrets Manager and Cloud Map.
      allowAllOutbound: true,
    });
    const cluster = this.clusterSecurityGroup;
    cluster.addIngressRule(cluster, Port.tcp(PIECE_PORT), 'piece server, peers only');
    cluster.addIngressRule(cluster, Port.tcp(OBJECT_API_PORT), 'object API from peers');
    cluster.addIngressRule(
      this.functionSecurityGroup,
      Port.tcp(OBJECT_API_PORT),
      'object API from the object API function',
    );
  }

  private existingVpc(existing: ExistingVpc): IVpc {
    const vpc = Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: existing.vpcId,
      availabilityZones: [...existing.availabilityZones],
      privateSubnetIds: [...existing.privateSubnetIds],
    });
    Validations.of(vpc).acknowledge({
      id: 'Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId',
      reason: 'The stack adds no routes or gateway endpoints to an existing VPC.',
    });
    return vpc;
  }

  private newVpc(logs: StackLogs): Vpc {
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        // Only the NAT gateway lives here, on its Elastic IP: nothing needs a public IP on launch.
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      // Backend traffic stays off the NAT gateway.
      gatewayEndpoints: { S3: { service: GatewayVpcEndpointAwsService.S3 } },
    });
    const flowLogs = logs.group(this, 'FlowLogs');
    vpc.addFlowLog('FlowLog', { destination: FlowLogDestination.toCloudWatchLogs(flowLogs) });
    // @aws-cdk/aws-ec2:restrictDefaultSecurityGroup (cdk.json) strips the default security
    // group's rules at deploy time with a custom resource whose handler is a Lambda function.
    const restrictDefaultSg = Stack.of(this).node.tryFindChild(
      'Custom::VpcRestrictDefaultSGCustomResourceProvider',
    );
    if (restrictDefaultSg) {
      acknowledgeGuardRule(
        restrictDefaultSg,
        'lambda_inside_vpc_check',
        "CDK's own deploy-time handler that removes the default security group's rules; it " +
          'calls only the EC2 API, once per deployment, and needs nothing inside the VPC.',
      );
    }
    return vpc;
  }
}
