import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { kept, type RetainedResource, type RetainsResources } from "./adopt";
import type { PriceClass } from "./config";

/** Arguments of {@link Media}. */
export interface MediaArgs {
    /** Origins allowed to PUT and GET uploads from a browser (CORS). Default `["*"]`. */
    corsOrigins?: string[];
    /** CloudFront price class. Default `PriceClass_100` (North America and Europe edges). */
    priceClass?: PriceClass;
    /**
     * Keep the bucket, with object versioning on, when the stack is destroyed. Default `false`: the
     * bucket and its objects are deleted with the stack.
     */
    retain?: boolean;
}

/** Where users' uploads live; each identity may write only below `uploads/<identity id>/`. */
export const UPLOADS_PREFIX = "uploads/";

// AWS-managed CloudFront policies; their ids are fixed and documented by AWS.
const MANAGED_CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const MANAGED_SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03";

/**
 * The media tier: a private, encrypted S3 bucket that mobile clients upload to directly with their
 * Cognito credentials, and a CloudFront distribution that is the only reader of it.
 */
export class Media extends pulumi.ComponentResource implements RetainsResources {
    /** The uploads bucket. */
    public readonly bucket: aws.s3.Bucket;
    /** The CloudFront distribution that serves uploads. */
    public readonly distribution: aws.cloudfront.Distribution;
    /** `https://<distribution domain>`: prefix of every media URL. */
    public readonly baseUrl: pulumi.Output<string>;
    /** What a retaining stage keeps on destroy and adopts again: the bucket (its settings are re-applied). */
    public readonly retained: RetainedResource[];

    constructor(name: string, args: MediaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:Media", name, {}, opts);
        const retain = args.retain ?? false;

        this.bucket = this.createBucket(name, retain, args.corsOrigins ?? ["*"]);
        this.distribution = this.createDistribution(name, args.priceClass ?? "PriceClass_100");
        this.createBucketPolicy(name, retain);
        this.baseUrl = pulumi.interpolate`https://${this.distribution.domainName}`;
        this.retained = retain ? [kept(this.bucket)] : [];

        this.registerOutputs({ bucket: this.bucket, distribution: this.distribution, baseUrl: this.baseUrl });
    }

    private createBucket(name: string, retain: boolean, corsOrigins: string[]): aws.s3.Bucket {
        const bucket = new aws.s3.Bucket(
            `${name}-uploads`,
            { forceDestroy: !retain },
            { parent: this, retainOnDelete: retain },
        );
        const child = { parent: bucket, retainOnDelete: retain };
        new aws.s3.BucketPublicAccessBlock(
            `${name}-uploads`,
            {
                bucket: bucket.id,
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: true,
            },
            child,
        );
        new aws.s3.BucketOwnershipControls(
            `${name}-uploads`,
            { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
            child,
        );
        new aws.s3.BucketServerSideEncryptionConfiguration(
            `${name}-uploads`,
            {
                bucket: bucket.id,
                rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
            },
            child,
        );
        if (retain) {
            // A retained bucket keeps overwritten and deleted uploads for 30 days (lifecycle below).
            new aws.s3.BucketVersioning(
                `${name}-uploads`,
                { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
                child,
            );
        }
        new aws.s3.BucketCorsConfiguration(
            `${name}-uploads`,
            {
                bucket: bucket.id,
                corsRules: [
                    {
                        allowedMethods: ["GET", "HEAD", "PUT"],
                        allowedOrigins: corsOrigins,
                        allowedHeaders: ["*"],
                        exposeHeaders: ["ETag"],
                        maxAgeSeconds: 3000,
                    },
                ],
            },
            child,
        );
        new aws.s3.BucketLifecycleConfiguration(
            `${name}-uploads`,
            {
                bucket: bucket.id,
                rules: [
                    {
                        id: "abort-incomplete-uploads",
                        status: "Enabled",
                        filter: { prefix: UPLOADS_PREFIX },
                        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
                    },
                    ...(retain
                        ? [
                              {
                                  id: "expire-replaced-versions",
                                  status: "Enabled",
                                  filter: { prefix: UPLOADS_PREFIX },
                                  noncurrentVersionExpiration: { noncurrentDays: 30 },
                              },
                          ]
                        : []),
                ],
            },
            child,
        );
        return bucket;
    }

    private createDistribution(name: string, priceClass: PriceClass): aws.cloudfront.Distribution {
        const accessControl = new aws.cloudfront.OriginAccessControl(
            `${name}-uploads`,
            {
                description: `CloudFront reads the uploads bucket of ${name}`,
                originAccessControlOriginType: "s3",
                signingBehavior: "always",
                signingProtocol: "sigv4",
            },
            { parent: this },
        );
        const originId = "uploads";
        return new aws.cloudfront.Distribution(
            `${name}-cdn`,
            {
                enabled: true,
                comment: `Uploads of ${pulumi.getProject()} ${pulumi.getStack()}`,
                origins: [
                    {
                        originId,
                        domainName: this.bucket.bucketRegionalDomainName,
                        originAccessControlId: accessControl.id,
                    },
                ],
                defaultCacheBehavior: {
                    targetOriginId: originId,
                    viewerProtocolPolicy: "https-only",
                    allowedMethods: ["GET", "HEAD", "OPTIONS"],
                    cachedMethods: ["GET", "HEAD"],
                    compress: true,
                    cachePolicyId: MANAGED_CACHING_OPTIMIZED,
                    responseHeadersPolicyId: MANAGED_SECURITY_HEADERS,
                },
                priceClass,
                httpVersion: "http2and3",
                isIpv6Enabled: true,
                restrictions: { geoRestriction: { restrictionType: "none" } },
                viewerCertificate: { cloudfrontDefaultCertificate: true },
            },
            { parent: this },
        );
    }

    /** Only this distribution may read uploads, and nobody may use the bucket without TLS. */
    private createBucketPolicy(name: string, retain: boolean): aws.s3.BucketPolicy {
        return new aws.s3.BucketPolicy(
            `${name}-uploads`,
            {
                bucket: this.bucket.id,
                policy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "DenyInsecureTransport",
                            Effect: "Deny",
                            Principal: "*",
                            Action: "s3:*",
                            Resource: [this.bucket.arn, pulumi.interpolate`${this.bucket.arn}/*`],
                            Condition: { Bool: { "aws:SecureTransport": "false" } },
                        },
                        {
                            Sid: "AllowCloudFrontRead",
                            Effect: "Allow",
                            Principal: { Service: "cloudfront.amazonaws.com" },
                            Action: "s3:GetObject",
                            Resource: pulumi.interpolate`${this.bucket.arn}/${UPLOADS_PREFIX}*`,
                            Condition: { StringEquals: { "AWS:SourceArn": this.distribution.arn } },
                        },
                    ],
                }),
            },
            // A retained bucket keeps refusing plain HTTP after the stack is gone.
            { parent: this, retainOnDelete: retain },
        );
    }
}
