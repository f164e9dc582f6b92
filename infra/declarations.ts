/**
 * Declarations the program and the local backend (`npm start`) share, without Pulumi: the tables' keys and
 * indexes, the notes stream, the uploads prefix, what each role may do in the uploads bucket and its CORS rules,
 * and the search index. infra/ builds its resources from them;
 * local/backend.ts creates its local tables and buckets from the same values (and loads no Pulumi module,
 * which keeps its start fast).
 */
import { NOTES_BY_CREATED_AT } from "../functions/notes";
import { DEVICES_BY_ENDPOINT } from "../functions/notification-schema";
import { LIMITS_KEY, LIMITS_TTL_ATTRIBUTE } from "../functions/rate-limit";

/** The key schema and indexes of a table, in `aws.dynamodb.Table` terms (tests build local tables from it). */
export interface TableKeys {
    hashKey: string;
    rangeKey?: string;
    attributes: { name: string; type: "S" | "N" | "B" }[];
    localSecondaryIndexes?: { name: string; rangeKey: string; projectionType: "ALL" }[];
    globalSecondaryIndexes?: { name: string; hashKey: string; rangeKey?: string; projectionType: "ALL" }[];
}

/** The notes table: a user's notes are one partition, ordered by creation in a local index. */
export const NOTES_TABLE_KEYS: TableKeys = {
    hashKey: "ownerId",
    rangeKey: "noteId",
    attributes: [
        { name: "ownerId", type: "S" },
        { name: "noteId", type: "S" },
        { name: "createdAt", type: "S" },
    ],
    localSecondaryIndexes: [{ name: NOTES_BY_CREATED_AT, rangeKey: "createdAt", projectionType: "ALL" }],
};

/**
 * The limits table: short-lived per-identity state, one item per key, deleted by TTL (`expiresAt`, epoch
 * seconds): the fair-use counters of `functions/rate-limit.ts` (`<rule>#<identity>#<window start>`) and
 * the notification sender's delivery records (`delivery#<request id>`, so a retried event skips the
 * endpoints that already got it).
 */
export const LIMITS_TABLE_KEYS: TableKeys & { ttlAttribute: string } = {
    hashKey: LIMITS_KEY,
    attributes: [{ name: LIMITS_KEY, type: "S" }],
    ttlAttribute: LIMITS_TTL_ATTRIBUTE,
};

/** The notes table's stream: old and new images of every change, for the search indexer. */
export const NOTES_STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES";

/** The devices table: a user's devices are one partition; a global index finds who registered an endpoint. */
export const DEVICES_TABLE_KEYS: TableKeys = {
    hashKey: "ownerId",
    rangeKey: "deviceId",
    attributes: [
        { name: "ownerId", type: "S" },
        { name: "deviceId", type: "S" },
        { name: "endpointArn", type: "S" },
    ],
    globalSecondaryIndexes: [{ name: DEVICES_BY_ENDPOINT, hashKey: "endpointArn", projectionType: "ALL" }],
};

/** The blocks table: a recipient's blocked senders are one partition (`recipientId`, sort key `senderId`). */
export const BLOCKS_TABLE_KEYS: TableKeys = {
    hashKey: "recipientId",
    rangeKey: "senderId",
    attributes: [
        { name: "recipientId", type: "S" },
        { name: "senderId", type: "S" },
    ],
};

/** Every upload's key starts with this prefix (then the identity id: see `uploadPrefix` in functions/media.ts). */
export const UPLOADS_PREFIX = "uploads/";

/** IAM policy variable holding the caller's Cognito identity id. */
export const IDENTITY_ID = "${cognito-identity.amazonaws.com:sub}";

/** An S3 action some role of this program is granted on the uploads bucket. */
export type UploadsBucketAction =
    | "s3:GetObject"
    | "s3:PutObject"
    | "s3:DeleteObject"
    | "s3:DeleteObjectVersion"
    | "s3:ListBucket"
    | "s3:ListBucketVersions";

/**
 * One Allow statement of a role on the uploads bucket, without the bucket's ARN (which only Pulumi knows):
 * with `keys`, object actions on the resource `<bucket ARN>/<keys>`; with `listPrefix`, list actions on the
 * bucket itself under the condition `StringLike` `s3:prefix` = `listPrefix` ("Amazon S3 condition key
 * examples", S3 User Guide). Both may use IAM wildcards (`*`, `?`) and policy variables ({@link IDENTITY_ID}).
 * infra/ turns these into the roles' policies (`bucketStatements` in infra/media.ts); local/backend.ts evaluates
 * the same statements for the local S3 endpoint.
 */
export type UploadsBucketStatement = UploadsObjectStatement | UploadsListStatement;

/** Object actions on the keys `keys` matches (see {@link UploadsBucketStatement}). */
export interface UploadsObjectStatement {
    Action: readonly UploadsBucketAction[];
    keys: string;
}

/** List actions on the bucket, for listings whose `s3:prefix` matches `listPrefix` (see {@link UploadsBucketStatement}). */
export interface UploadsListStatement {
    Action: readonly UploadsBucketAction[];
    listPrefix: string;
}

/**
 * What an identity's credentials may do in the uploads bucket: read its own prefix
 * (`uploads/<identity id>/*`), nothing else. No `s3:PutObject`: the only way in is the presigned POST of
 * `POST /uploads`.
 */
export const OWN_UPLOADS_ACTIONS = ["s3:GetObject"] as const;

/** The identity roles (signed-in and guest) on the uploads bucket: {@link OWN_UPLOADS_ACTIONS} on their own prefix. */
export const IDENTITY_UPLOADS_ACCESS: UploadsObjectStatement = { Action: OWN_UPLOADS_ACTIONS, keys: `${UPLOADS_PREFIX}${IDENTITY_ID}/*` };

/**
 * The uploads function (infra/uploads.ts): PutObject, what the presigned POST it signs lets the app do;
 * DeleteObject, `DELETE /uploads/{key}` (on a versioned bucket it adds a delete marker, which needs no other
 * action); ListBucket under the uploads prefix, `GET /uploads`.
 */
export const UPLOADS_FUNCTION_UPLOADS_ACCESS: readonly UploadsBucketStatement[] = [
    { Action: ["s3:PutObject", "s3:DeleteObject"], keys: `${UPLOADS_PREFIX}*` },
    { Action: ["s3:ListBucket"], listPrefix: `${UPLOADS_PREFIX}*` },
];

/** The notes function (infra/notes.ts): HeadObject of a note's mediaKey (HeadObject needs s3:GetObject). */
export const NOTES_FUNCTION_UPLOADS_ACCESS: readonly UploadsBucketStatement[] = [{ Action: ["s3:GetObject"], keys: `${UPLOADS_PREFIX}*` }];

/**
 * The account deletion function (infra/account.ts): every version under the uploads prefix, listed and deleted
 * version by version (only DeleteObject with a VersionId: each version goes for good, no delete marker is added).
 */
export const ACCOUNT_FUNCTION_UPLOADS_ACCESS: readonly UploadsBucketStatement[] = [
    { Action: ["s3:ListBucketVersions"], listPrefix: `${UPLOADS_PREFIX}*` },
    { Action: ["s3:DeleteObjectVersion"], keys: `${UPLOADS_PREFIX}*` },
];

/** A CORS rule of a bucket, in `aws.s3.BucketCorsConfiguration` terms (`CORSRule`, S3 API reference). */
export interface BucketCorsRule {
    allowedMethods: ("GET" | "PUT" | "HEAD" | "POST" | "DELETE")[];
    allowedOrigins: string[];
    allowedHeaders?: string[];
    exposeHeaders?: string[];
    maxAgeSeconds?: number;
}

/**
 * The uploads bucket's CORS rules: browsers on `corsOrigins` (the stage's `media.corsOrigins`) may GET and HEAD
 * objects and POST uploads (the presigned POST of `POST /uploads`), with any request header, and read the ETag.
 */
export function uploadsCorsRules(corsOrigins: string[]): BucketCorsRule[] {
    return [
        {
            allowedMethods: ["GET", "HEAD", "POST"],
            allowedOrigins: corsOrigins,
            allowedHeaders: ["*"],
            exposeHeaders: ["ETag"],
            maxAgeSeconds: 3000,
        },
    ];
}

/** The stage's index on its own OpenSearch domain (one domain per stage). */
export const OPENSEARCH_INDEX = "notes";

/**
 * The stack output `clientConfig` (index.ts): everything a mobile app needs. The local backend's
 * client-config.json has the same keys (plus its endpoints); `npm run client-config` and `npm run journey` read it.
 */
export interface ClientConfig {
    apiUrl: string;
    apiKey: string;
    region: string;
    identityPoolId: string;
    userPoolId: string;
    userPoolClientId: string;
    uploadsBucket: string;
    uploadsPrefix: string;
    mediaBaseUrl: string;
    allowGuests: boolean;
    guestRoleArn?: string;
}
