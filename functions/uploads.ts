import { randomUUID } from "node:crypto";
import { DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { ApiError, callerIdentity, decodeCursor, encodeCursor, errorResponse, ok, parseJsonBody, queryInteger } from "./http";
import { mediaUrl, uploadPrefix } from "./media";
import { firstSchemaViolation, type JsonSchema } from "./schema";

/** Media types an upload may have, the extension its key gets, and which size limit applies. */
export const UPLOAD_CONTENT_TYPES = {
    "image/jpeg": { extension: "jpg", kind: "image" },
    "image/png": { extension: "png", kind: "image" },
    "image/heic": { extension: "heic", kind: "image" },
    "image/heif": { extension: "heif", kind: "image" },
    "image/webp": { extension: "webp", kind: "image" },
    "video/mp4": { extension: "mp4", kind: "video" },
    "video/quicktime": { extension: "mov", kind: "video" },
} as const;
export type UploadContentType = keyof typeof UPLOAD_CONTENT_TYPES;
export const ALL_UPLOAD_CONTENT_TYPES = Object.keys(UPLOAD_CONTENT_TYPES) as UploadContentType[];

/** What the uploads function needs besides its clients. */
export interface UploadsSettings {
    /** The uploads bucket. */
    bucketName: string;
    /** CloudFront base URL that serves the bucket. */
    mediaBaseUrl: string;
    /** Content types this stage accepts (a subset of {@link UPLOAD_CONTENT_TYPES}). */
    contentTypes: readonly string[];
    /** Largest image, in bytes. */
    maxImageBytes: number;
    /** Largest video, in bytes. */
    maxVideoBytes: number;
    /** How long a presigned POST stays usable, in seconds. */
    expirySeconds: number;
    /** Clock and id source; tests replace them. */
    now?: () => Date;
    newId?: () => string;
}

/** The clients of the uploads function: S3, and the presigned POST builder of `@aws-sdk/s3-presigned-post`. */
export interface UploadsClients {
    s3: S3Client;
    presignPost: typeof createPresignedPost;
}

/** `POST /uploads`, for the stage's settings: the API Gateway model and the function's own check. */
export function createUploadSchema(settings: Pick<UploadsSettings, "contentTypes" | "maxImageBytes" | "maxVideoBytes">): JsonSchema {
    return {
        title: "CreateUploadRequest",
        type: "object",
        required: ["contentType", "contentLength"],
        properties: {
            contentType: { type: "string", enum: [...settings.contentTypes] },
            contentLength: { type: "integer", minimum: 1, maximum: Math.max(settings.maxImageBytes, settings.maxVideoBytes) },
        },
        additionalProperties: false,
    };
}

/** Longest key (relative to the caller's prefix) DELETE accepts; S3 keys are at most 1024 bytes. */
const MAX_KEY_BYTES = 1024;

/**
 * Serves `POST /uploads` (a presigned POST for a new key under the caller's prefix), `GET /uploads` (the
 * caller's uploads) and `DELETE /uploads/{key}` for the Cognito identity that signed the request.
 * Every failure is a JSON error response; nothing throws.
 */
export async function handleUploadsRequest(
    event: APIGatewayProxyEvent,
    clients: UploadsClients,
    settings: UploadsSettings,
): Promise<APIGatewayProxyResult> {
    try {
        const identityId = callerIdentity(event);
        switch (`${event.httpMethod} ${event.resource}`) {
            case "POST /uploads":
                return await createUpload(identityId, parseJsonBody(event, 4096), clients, settings);
            case "GET /uploads":
                return await listUploads(
                    identityId,
                    queryInteger(event, "limit", { min: 1, max: 1000, fallback: 100 }),
                    event.queryStringParameters?.cursor ?? undefined,
                    clients.s3,
                    settings,
                );
            case "DELETE /uploads/{key}": {
                const key = ownKey(identityId, event.pathParameters?.key ?? "");
                await clients.s3.send(new DeleteObjectCommand({ Bucket: settings.bucketName, Key: key }));
                return ok(200, { key });
            }
            default:
                throw new ApiError("MethodNotAllowed", `${event.httpMethod} ${event.path} is not an uploads operation.`);
        }
    } catch (err) {
        return errorResponse(err);
    }
}

async function createUpload(
    identityId: string,
    body: Record<string, unknown>,
    clients: UploadsClients,
    settings: UploadsSettings,
): Promise<APIGatewayProxyResult> {
    const problem = firstSchemaViolation(createUploadSchema(settings), body);
    if (problem !== undefined) throw new ApiError("BadRequest", problem);
    const contentType = body.contentType as UploadContentType;
    const contentLength = body.contentLength as number;
    const { extension, kind } = UPLOAD_CONTENT_TYPES[contentType];
    const limit = kind === "image" ? settings.maxImageBytes : settings.maxVideoBytes;
    if (contentLength > limit) {
        throw new ApiError("PayloadTooLarge", `An upload of type ${contentType} may be at most ${limit} bytes; contentLength is ${contentLength}.`);
    }
    const key = `${uploadPrefix(identityId)}${(settings.newId ?? randomUUID)()}.${extension}`;
    const now = (settings.now ?? (() => new Date()))();
    // S3 checks every condition when the file arrives ("Creating a POST policy", Amazon S3 API reference):
    // the key and content type are fixed (the library adds an exact condition for each field it is
    // given), and the file must be exactly the declared size.
    const post = await clients.presignPost(clients.s3, {
        Bucket: settings.bucketName,
        Key: key,
        Fields: { "Content-Type": contentType },
        Conditions: [["content-length-range", contentLength, contentLength]],
        Expires: settings.expirySeconds,
    });
    return ok(201, {
        upload: {
            key,
            url: post.url,
            fields: post.fields,
            contentType,
            contentLength,
            expiresAt: new Date(now.getTime() + settings.expirySeconds * 1000).toISOString(),
            mediaUrl: mediaUrl(settings.mediaBaseUrl, key),
        },
    });
}

async function listUploads(
    identityId: string,
    limit: number,
    cursor: string | undefined,
    s3: S3Client,
    settings: UploadsSettings,
): Promise<APIGatewayProxyResult> {
    let token: string | undefined;
    if (cursor !== undefined) {
        const { t } = decodeCursor(cursor);
        if (typeof t !== "string" || t === "" || t.length > 2048) throw new ApiError("BadRequest", "cursor is not a cursor this API returned.");
        token = t;
    }
    let result;
    try {
        result = await s3.send(
            new ListObjectsV2Command({ Bucket: settings.bucketName, Prefix: uploadPrefix(identityId), MaxKeys: limit, ContinuationToken: token }),
        );
    } catch (err) {
        // S3 refuses a continuation token it did not issue with 400 InvalidArgument.
        if (token !== undefined && err instanceof Error && err.name === "InvalidArgument") {
            throw new ApiError("BadRequest", "cursor is not a cursor this API returned.");
        }
        throw err;
    }
    return ok(200, {
        uploads: (result.Contents ?? []).map((object) => ({
            key: object.Key ?? "",
            size: object.Size ?? 0,
            lastModified: object.LastModified?.toISOString() ?? null,
            mediaUrl: mediaUrl(settings.mediaBaseUrl, object.Key ?? ""),
        })),
        nextCursor: result.IsTruncated && result.NextContinuationToken ? encodeCursor({ t: result.NextContinuationToken }) : null,
    });
}

/**
 * The key `{key}` names: relative to the caller's prefix (`<uuid>.jpg`, as `POST /uploads` makes them, or a
 * deeper path of an older upload), or the full key under the caller's prefix. Anything that could leave
 * the prefix (`.` or `..` segments, empty segments, backslashes, control characters) is a 400.
 */
export function ownKey(identityId: string, raw: string): string {
    const prefix = uploadPrefix(identityId);
    const rest = raw.startsWith("uploads/") ? (raw.startsWith(prefix) ? raw.slice(prefix.length) : undefined) : raw;
    if (rest === undefined) throw new ApiError("Forbidden", `You may only delete your own uploads, under ${prefix}.`);
    if (
        rest === "" ||
        Buffer.byteLength(prefix + rest) > MAX_KEY_BYTES ||
        /[\\\u0000-\u001f\u007f]/.test(rest) ||
        rest.split("/").some((part) => part === "" || part === "." || part === "..")
    ) {
        throw new ApiError("BadRequest", `key must name one of your uploads: a name under ${prefix}, without empty, "." or ".." segments.`);
    }
    return prefix + rest;
}

/**
 * Whether `key` is a stored object, for the notes function's `mediaKey` check (HeadObject, which needs
 * s3:GetObject). Without s3:ListBucket S3 answers a missing key with 403 instead of 404 (HeadObject,
 * Amazon S3 API reference), so both mean "no such upload" here.
 */
export async function uploadExists(s3: S3Client, bucketName: string, key: string): Promise<boolean> {
    try {
        await s3.send(new HeadObjectCommand({ Bucket: bucketName, Key: key }));
        return true;
    } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404 || status === 403) return false;
        throw err;
    }
}
