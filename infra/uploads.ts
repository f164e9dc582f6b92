import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { UploadContentType } from "../functions/uploads";
import type { ApiService } from "./api";
import { AppFunction } from "./function";
import { uploadsEnvironment, uploadsFunction } from "./handlers/uploads";
import { UPLOADS_FUNCTION_UPLOADS_ACCESS } from "./declarations";
import { bucketStatements } from "./media";
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

        const handler = new AppFunction<APIGatewayProxyEvent, APIGatewayProxyResult>(
            `${name}-function`,
            {
                description: "Hands out presigned POSTs for, lists and deletes the uploads of the calling Cognito identity",
                callbackFactory: uploadsFunction,
                environment: uploadsEnvironment({
                    bucket: args.bucket.bucket,
                    mediaBaseUrl: args.mediaBaseUrl,
                    contentTypes: args.contentTypes,
                    maxImageBytes: args.maxImageBytes,
                    maxVideoBytes: args.maxVideoBytes,
                    expirySeconds: args.expirySeconds,
                }),
                statements: bucketStatements(args.bucket.arn, UPLOADS_FUNCTION_UPLOADS_ACCESS),
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
