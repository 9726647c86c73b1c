// The S3 bucket for released homes and removed servers' backups: private, encrypted, expiring.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

export const ARCHIVE_BUCKET = "wod:index:ArchiveBucket";

export interface ArchiveBucketArgs {
  /** Days after which archived objects expire. */
  expireDays: number;
  /** Explicit AWS provider of the bucket's region. */
  provider: pulumi.ProviderResource;
}

export class ArchiveBucket extends pulumi.ComponentResource {
  /** Bucket name. */
  public readonly bucketName: pulumi.Output<string>;

  constructor(name: string, args: ArchiveBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ARCHIVE_BUCKET, name, {}, opts);
    if (!Number.isInteger(args.expireDays) || args.expireDays < 1) throw new pulumi.ResourceError(`expireDays: ${args.expireDays} is not a whole number of days`, this);
    const child = { parent: this, provider: args.provider };

    // Not forceDestroy: removing the stack must not silently drop learners' archives.
    const bucket = new aws.s3.Bucket(name, { bucketPrefix: "wod-archive-", tags: { "wod:role": "archive" } }, child);
    new aws.s3.BucketPublicAccessBlock(`${name}-private`, {
      bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    }, child);
    new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-encryption`, {
      bucket: bucket.id,
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
    }, child);
    new aws.s3.BucketLifecycleConfiguration(`${name}-expiry`, {
      bucket: bucket.id,
      rules: [{
        id: "expire-archives",
        status: "Enabled",
        filter: { prefix: "" },
        expiration: { days: args.expireDays },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
      }],
    }, child);

    this.bucketName = bucket.bucket;
    this.registerOutputs({ bucketName: this.bucketName });
  }
}
