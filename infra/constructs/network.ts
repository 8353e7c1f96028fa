import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  FlowLogDestination,
  GatewayVpcEndpointAwsService,
  type IVpc,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { PrivateDnsNamespace } from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import { CLOUDMAP_NAMESPACE, type ExistingVpc, OBJECT_API_PORT, PIECE_PORT } from '../config.ts';

export interface NetworkProps {
  /** An existing VPC (its private subnets with egress); absent: a new 2-AZ VPC. */
  readonly existing?: ExistingVpc;
  readonly logRetention: RetentionDays;
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
    this.vpc = props.existing ? this.existingVpc(props.existing) : this.newVpc(props.logRetention);

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

  private newVpc(logRetention: RetentionDays): Vpc {
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      // Backend traffic stays off the NAT gateway.
      gatewayEndpoints: { S3: { service: GatewayVpcEndpointAwsService.S3 } },
    });
    const flowLogs = new LogGroup(this, 'FlowLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    vpc.addFlowLog('FlowLog', { destination: FlowLogDestination.toCloudWatchLogs(flowLogs) });
    return vpc;
  }
}
