import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket } from 'aws-cdk-lib/aws-s3';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { DfstoreConfig } from '../config.ts';
import { acknowledgeRule } from './nag.ts';

/**
 * The backend (an S3 bucket, new or existing, or an OSS bucket whose keys are in a secret) and
 * the object API token secret (token auth only).
 */
export class Backend extends Construct {
  readonly bucket?: IBucket;
  readonly bucketName: string;
  /** OSS keys: JSON `{ "accessKeyId": …, "accessKeySecret": … }`. */
  readonly ossSecret?: ISecret;
  readonly apiTokenSecret?: Secret;

  constructor(scope: Construct, id: string, config: DfstoreConfig) {
    super(scope, id);
    if (config.backend === 'oss') {
      if (!config.oss || !config.bucketName) throw new Error('backend oss needs oss and bucket');
      this.ossSecret = Secret.fromSecretCompleteArn(this, 'OssKeys', config.oss.secretArn);
      this.bucketName = config.bucketName;
    } else if (config.bucketName) {
      this.bucket = Bucket.fromBucketName(this, 'Bucket', config.bucketName);
      this.bucketName = config.bucketName;
    } else {
      const bucket = new Bucket(this, 'Bucket', {
        encryption: BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        versioned: false,
        // The objects are the users' data: `cdk destroy` leaves the bucket.
        removalPolicy: RemovalPolicy.RETAIN,
        lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      });
      acknowledgeRule(
        bucket,
        'AwsSolutions-S1',
        'Every object access goes through the dfstore functions and peers, which log each ' +
          'request; S3 server access logs would need a second bucket per deployment. Enable ' +
          'CloudTrail S3 data events where an audit trail of the bucket itself is required.',
      );
      this.bucket = bucket;
      this.bucketName = bucket.bucketName;
    }

    if (config.auth === 'token') {
      this.apiTokenSecret = new Secret(this, 'ApiToken', {
        description: 'dfstore object API token (HTTP Basic password or Bearer)',
        generateSecretString: { passwordLength: 40, excludePunctuation: true },
      });
      acknowledgeRule(
        this.apiTokenSecret,
        'AwsSolutions-SMG4',
        'The token is a shared client credential configured into dfstore CLIs; rotating it ' +
          'breaks every client at once. Rotate by `aws secretsmanager put-secret-value` and ' +
          're-distribute; the function re-reads the secret every 5 minutes.',
      );
    }
  }
}
