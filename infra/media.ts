import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { kept, type RetainedResource, type RetainsResources } from "./adopt";
import type { PriceClass } from "./config";
import { UPLOADS_PREFIX, uploadsCorsRules, type UploadsBucketStatement } from "./declarations";
import type { PolicyStatement } from "./function";

/** Arguments of {@link Media}. */
export interface MediaArgs {
    /** Origins allowed to POST uploads to and GET them from the bucket in a browser (CORS). Default `["*"]`. */
    corsOrigins?: string[];
    /** CloudFront price class. Default `PriceClass_100` (North America and Europe edges). */
    priceClass?: PriceClass;
    /**
     * Longest time, in seconds, that CloudFront edges and viewers cache a media object, so the longest a
     * deleted upload stays reachable at its media URL. Default `3600`.
     */
    cacheSeconds?: number;
    /**
     * Keep the bucket, with object versioning on, when the stack is destroyed. Default `false`: the
     * bucket and its objects are deleted with the stack.
     */
    retain?: boolean;
}

/** Where users' uploads live: below `uploads/<identity id>/`, written only through presigned POSTs of the uploads function. */
export { UPLOADS_PREFIX };

/**
 * A role's statements on the uploads bucket (declared without Pulumi in infra/declarations.ts, which the local
 * backend evaluates too) as IAM statements: object actions on `<bucket ARN>/<keys>`, list actions on the bucket
 * with the `s3:prefix` condition.
 */
export function bucketStatements(bucketArn: pulumi.Input<string>, statements: readonly UploadsBucketStatement[]): PolicyStatement[] {
    return statements.map((s) =>
        "keys" in s
            ? { Action: [...s.Action], Resource: [pulumi.interpolate`${bucketArn}/${s.keys}`] }
            : { Action: [...s.Action], Resource: [bucketArn], Condition: { StringLike: { "s3:prefix": s.listPrefix } } },
    );
}

/**
 * The media tier: a private, encrypted S3 bucket that mobile clients upload to with presigned POSTs
 * (from `POST /uploads`), and a CloudFront distribution that is the only public reader of it.
 *
 * Caching: a cache policy of this stage caps every object's time at the edge at `cacheSeconds` (minimum 0,
 * default and maximum `cacheSeconds`: "Controlling how long content stays in the cache (expiration)",
 * CloudFront developer guide — the maximum TTL wins over a longer origin `Cache-Control`), and the response
 * headers policy sends viewers `Cache-Control: max-age=<cacheSeconds>`: a deleted upload is gone from every
 * cache at most `cacheSeconds` after its deletion.
 * Headers: the AWS-managed SecurityHeadersPolicy also sends `X-Content-Type-Options: nosniff`, but without
 * overriding the origin's headers and without a way to add `Cache-Control`; this stage's own policy sends
 * nosniff (overriding), HSTS, `X-Frame-Options: DENY`, a referrer policy and a `Content-Security-Policy`
 * of `default-src 'none'; sandbox` (an object that a browser did render as a document could run nothing).
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
        this.distribution = this.createDistribution(name, args.priceClass ?? "PriceClass_100", args.cacheSeconds ?? 3600);
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
                // POST: browser-based uploads with the presigned POST of POST /uploads (the local endpoint answers
                // browsers with the same rules).
                corsRules: uploadsCorsRules(corsOrigins),
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

    private createDistribution(name: string, priceClass: PriceClass, cacheSeconds: number): aws.cloudfront.Distribution {
        const compress = cacheSeconds > 0;
        const cachePolicy = new aws.cloudfront.CachePolicy(
            `${name}-media`,
            {
                comment: `Media of ${pulumi.getProject()} ${pulumi.getStack()}: cached at most ${cacheSeconds} s`,
                minTtl: 0,
                defaultTtl: cacheSeconds,
                maxTtl: cacheSeconds,
                parametersInCacheKeyAndForwardedToOrigin: {
                    cookiesConfig: { cookieBehavior: "none" },
                    headersConfig: { headerBehavior: "none" },
                    queryStringsConfig: { queryStringBehavior: "none" },
                    // Compression settings are refused when caching is off (maximum TTL 0).
                    enableAcceptEncodingGzip: compress,
                    enableAcceptEncodingBrotli: compress,
                },
            },
            { parent: this },
        );
        const headersPolicy = new aws.cloudfront.ResponseHeadersPolicy(
            `${name}-media`,
            {
                comment: `Media of ${pulumi.getProject()} ${pulumi.getStack()}: nosniff, no scripts, cached at most ${cacheSeconds} s`,
                securityHeadersConfig: {
                    contentTypeOptions: { override: true },
                    contentSecurityPolicy: { contentSecurityPolicy: "default-src 'none'; sandbox", override: true },
                    frameOptions: { frameOption: "DENY", override: true },
                    referrerPolicy: { referrerPolicy: "strict-origin-when-cross-origin", override: true },
                    strictTransportSecurity: { accessControlMaxAgeSec: 31536000, includeSubdomains: false, override: true },
                },
                customHeadersConfig: {
                    items: [{ header: "Cache-Control", value: `max-age=${cacheSeconds}`, override: true }],
                },
            },
            { parent: this },
        );
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
                    compress,
                    cachePolicyId: cachePolicy.id,
                    responseHeadersPolicyId: headersPolicy.id,
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
