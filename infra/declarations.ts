/**
 * Declarations the program and the local backend (`npm start`) share, without Pulumi: the tables' keys and
 * indexes, the notes stream, the uploads prefix and the search index. infra/ builds its resources from them;
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
