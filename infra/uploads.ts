import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { handleUploadsRequest, type UploadContentType } from "../functions/uploads";
import type { ApiService } from "./api";
import { AppFunction } from "./function";
import { UPLOADS_PREFIX } from "./media";
import { uploadsRoutes } from "./routes";

/** Arguments of {@link UploadsService}. */
export interface UploadsServiceArgs {
    /** The uploads bucket. */
    bucket: aws.s3.Bucket;
    /** Base URL that serves uploads (`https://<cloudfront domain>`), for each upload's `mediaUrl`. */
    mediaBaseUrl: pulumi.Input<string>;
    /** Content types `POST /uploads` accepts. */
    contentTypes: UploadContentType[];
    /** Largest image upload in bytes. */
    maxImageBytes: number;
    /** Largest video upload in bytes. */
    maxVideoBytes: number;
    /** How long a presigned POST stays usable, in seconds. */
    expirySeconds: number;
    /** Memory of the function in MB. */
    memoryMb: number;
    /** Timeout of the function in seconds. */
    timeoutSeconds: number;
    /** Retention of the function's logs in days. */
    logRetentionDays: number;
    /** X-Ray active tracing of the function. Default `false`. */
    tracing?: boolean;
}

/**
 * The uploads service: `POST /uploads` answers a presigned S3 POST for a new key under the caller's
 * prefix (content type and size fixed by the POST policy), `GET /uploads` lists the caller's uploads and
 * `DELETE /uploads/{key}` removes one. A presigned POST is authorized by the credentials that signed it,
 * so this function's role holds `s3:PutObject` on `uploads/*`: the app's identity roles do not.
 */
export class UploadsService extends pulumi.ComponentResource {
    /** The function that serves the uploads routes. */
    public readonly function: aws.lambda.Function;
    /** The routes of the service, for the API tier. */
    public readonly api: ApiService;

    constructor(name: string, args: UploadsServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:UploadsService", name, {}, opts);

        const objects = pulumi.interpolate`${args.bucket.arn}/${UPLOADS_PREFIX}*`;
        const handler = new AppFunction<APIGatewayProxyEvent, APIGatewayProxyResult>(
            `${name}-function`,
            {
                description: "Hands out presigned POSTs for, lists and deletes the uploads of the calling Cognito identity",
                callbackFactory: () => {
                    // The runtime's AWS SDK provides both packages (the Node.js 18+ runtimes ship
                    // @aws-sdk/s3-presigned-post next to the clients; aws-lambda-base-images issue 115 shows
                    // it loaded from /var/runtime/node_modules), so the archive holds only this closure.
                    const { S3Client } = require("@aws-sdk/client-s3");
                    const { createPresignedPost } = require("@aws-sdk/s3-presigned-post");
                    const s3 = new S3Client({});
                    const settings = {
                        bucketName: process.env.UPLOADS_BUCKET ?? "",
                        mediaBaseUrl: process.env.MEDIA_BASE_URL ?? "",
                        contentTypes: (process.env.UPLOAD_CONTENT_TYPES ?? "").split(","),
                        maxImageBytes: Number(process.env.UPLOAD_MAX_IMAGE_BYTES),
                        maxVideoBytes: Number(process.env.UPLOAD_MAX_VIDEO_BYTES),
                        expirySeconds: Number(process.env.UPLOAD_EXPIRY_SECONDS),
                    };
                    return (event: APIGatewayProxyEvent) =>
                        handleUploadsRequest(event, { s3, presignPost: createPresignedPost }, settings);
                },
                environment: {
                    UPLOADS_BUCKET: args.bucket.bucket,
                    MEDIA_BASE_URL: args.mediaBaseUrl,
                    UPLOAD_CONTENT_TYPES: args.contentTypes.join(","),
                    UPLOAD_MAX_IMAGE_BYTES: String(args.maxImageBytes),
                    UPLOAD_MAX_VIDEO_BYTES: String(args.maxVideoBytes),
                    UPLOAD_EXPIRY_SECONDS: String(args.expirySeconds),
                },
                statements: [
                    // PutObject: what the presigned POST it signs lets the app do; DeleteObject: DELETE /uploads/{key}
                    // (on a versioned bucket it adds a delete marker, which needs no other action).
                    { Action: ["s3:PutObject", "s3:DeleteObject"], Resource: [objects] },
                    {
                        Action: ["s3:ListBucket"],
                        Resource: [args.bucket.arn],
                        Condition: { StringLike: { "s3:prefix": `${UPLOADS_PREFIX}*` } },
                    },
                ],
                tracing: args.tracing,
                memoryMb: args.memoryMb,
                timeoutSeconds: args.timeoutSeconds,
                logRetentionDays: args.logRetentionDays,
            },
            { parent: this },
        );
        this.function = handler.function;
        this.api = { ...uploadsRoutes(args), function: this.function };

        this.registerOutputs({ function: this.function });
    }
}
