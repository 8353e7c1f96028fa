import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket } from 'aws-cdk-lib/aws-s3';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { DfstoreConfig } from '../config.ts';
import { acknowledgeGuardRule, acknowledgeRule } from './nag.ts';

/** How long an overwritten or deleted object's previous version is kept. */
export const NONCURRENT_VERSION_DAYS = 7;

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
        // Overwritten and deleted objects stay recoverable for a week, then cost nothing.
        versioned: true,
        // The objects are the users' data: `cdk destroy` leaves the bucket.
        removalPolicy: RemovalPolicy.RETAIN,
        lifecycleRules: [
          {
            abortIncompleteMultipartUploadAfter: Duration.days(1),
            noncurrentVersionExpiration: Duration.days(NONCURRENT_VERSION_DAYS),
            expiredObjectDeleteMarker: true,
          },
        ],
      });
      acknowledgeRule(
        bucket,
        'AwsSolutions-S1',
        'Every object access goes through the dfstore functions and peers, which log each ' +
          'request; S3 server access logs would need a second bucket per deployment. Enable ' +
          'CloudTrail S3 data events where an audit trail of the bucket itself is required.',
      );
      acknowledgeBucketControls(bucket);
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

/** The Control Tower S3 controls the backend bucket does not follow, each with its reason. */
function acknowledgeBucketControls(bucket: Bucket): void {
  const controls: Record<string, string> = {
    s3_bucket_logging_enabled_check:
      'As AwsSolutions-S1: the dfstore functions and peers log every request; S3 server access ' +
      'logs would need a second bucket (itself unlogged). Use CloudTrail S3 data events.',
    s3_bucket_default_encryption_kms_check:
      'SSE-S3 (AES256) encrypts every object at rest. SSE-KMS would add a KMS request to every ' +
      'piece read and write-back and KMS grants to every presigned-URL signer, for no reader ' +
      'the bucket policy does not already exclude.',
    s3_event_notifications_enabled_check:
      'Nothing consumes bucket events: peers learn of objects through the dfstore API.',
    s3_bucket_object_lock_enabled_check:
      'The object API deletes and overwrites objects (DELETE, PUT); Object Lock would forbid ' +
      'both. Versioning keeps previous versions for a week instead.',
  };
  for (const [rule, reason] of Object.entries(controls)) {
    acknowledgeGuardRule(bucket, rule, reason);
  }
}
