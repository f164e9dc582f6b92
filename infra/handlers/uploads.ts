/** `/uploads`: the uploads function (see ./types.ts). */
import type { APIGatewayProxyEvent } from "aws-lambda";
import { handleUploadsRequest } from "../../functions/uploads";
import type { ApiHandler, Environment } from "./types";

export interface UploadsEnvironment<S> {
    bucket: S;
    mediaBaseUrl: S;
    contentTypes: string[];
    maxImageBytes: number;
    maxVideoBytes: number;
    expirySeconds: number;
}

export function uploadsEnvironment<S>(args: UploadsEnvironment<S>): Environment<S> {
    return {
        UPLOADS_BUCKET: args.bucket,
        MEDIA_BASE_URL: args.mediaBaseUrl,
        UPLOAD_CONTENT_TYPES: args.contentTypes.join(","),
        UPLOAD_MAX_IMAGE_BYTES: String(args.maxImageBytes),
        UPLOAD_MAX_VIDEO_BYTES: String(args.maxVideoBytes),
        UPLOAD_EXPIRY_SECONDS: String(args.expirySeconds),
    };
}

export function uploadsFunction(): ApiHandler {
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
    return (event: APIGatewayProxyEvent) => handleUploadsRequest(event, { s3, presignPost: createPresignedPost }, settings);
}
