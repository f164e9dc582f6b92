/**
 * The response bodies of the API, declared once: the deployed document publishes them as API Gateway models
 * (JSON Schema draft 4), the client document (`npm run openapi`) as OpenAPI 3.0 schemas with examples, and the
 * tests hold the functions' real responses to them (ajv-draft-04). Schemas stay valid in both: `type` is one
 * name, a nullable field is `anyOf` a schema and `{enum: [null]}` (as in notes-schema.ts), no `format`.
 */
import type { ErrorCode } from "./http";
import { NOTE_LIMITS } from "./notes-schema";
import { PUSH_PLATFORMS } from "./notification-schema";

/** A response schema: the draft 4 subset the request schemas use, plus arrays, numbers and booleans. */
export interface ResponseSchema {
    type?: "object" | "string" | "integer" | "number" | "boolean" | "array";
    title?: string;
    description?: string;
    properties?: Record<string, ResponseSchema>;
    required?: string[];
    additionalProperties?: boolean | ResponseSchema;
    items?: ResponseSchema;
    enum?: (string | boolean | null)[];
    anyOf?: ResponseSchema[];
    minimum?: number;
    maxLength?: number;
}

/** One response a route can give: its body's schema (titled: it names the model) and an example body. */
export interface ResponseDeclaration {
    description: string;
    schema: ResponseSchema;
    example: Record<string, unknown>;
}

const string = (description?: string): ResponseSchema => ({ type: "string", ...(description ? { description } : {}) });
const nullable = (schema: ResponseSchema): ResponseSchema => ({ anyOf: [schema, { enum: [null] }] });
const TRUE: ResponseSchema = { type: "boolean", enum: [true] };
const timestamp = (what: string) => string(`${what} (ISO 8601, UTC, milliseconds: \`Date.prototype.toISOString\`)`);
const cursor: ResponseSchema = {
    ...nullable(string()),
    description: "Pass as `cursor` to get the next page; null on the last page.",
};

/** A success body: `{"success": true, …}` (the original iOS client checks `success`). */
function success(title: string, properties: Record<string, ResponseSchema>): ResponseSchema {
    return {
        title,
        type: "object",
        required: ["success", ...Object.keys(properties)],
        properties: { success: TRUE, ...properties },
        additionalProperties: false,
    };
}

/** A note as the API returns it (`Note` in functions/notes.ts). */
export const noteSchema: ResponseSchema = {
    type: "object",
    required: ["noteId", "headline", "text", "createdAt", "updatedAt"],
    properties: {
        noteId: { type: "string", maxLength: NOTE_LIMITS.noteIdLength },
        headline: { type: "string", maxLength: NOTE_LIMITS.headlineLength },
        text: { type: "string", maxLength: NOTE_LIMITS.textLength },
        mediaKey: string("The key of the note's upload, when it has one."),
        mediaUrl: string("Where the upload is served (the media base URL plus the percent-encoded key)."),
        createdAt: timestamp("When the note was created"),
        updatedAt: timestamp("When the note last changed"),
    },
    additionalProperties: false,
};

const NOTE_EXAMPLE = {
    noteId: "a1b2c3",
    headline: "Groceries",
    text: "Milk, eggs",
    mediaKey: "uploads/us-east-1:7d0e5bd4-3b8a-4c2e-9f1d-2a6b8c0e4f11/0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b.jpg",
    mediaUrl:
        "https://d1234abcd.cloudfront.net/uploads/us-east-1%3A7d0e5bd4-3b8a-4c2e-9f1d-2a6b8c0e4f11/0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b.jpg",
    createdAt: "2026-05-01T12:00:00.000Z",
    updatedAt: "2026-05-01T12:00:00.000Z",
};

export const NOTE_RESPONSE: ResponseDeclaration = {
    description: "The note",
    schema: success("NoteResponse", { note: noteSchema }),
    example: { success: true, note: NOTE_EXAMPLE },
};

export const NOTE_LIST_RESPONSE: ResponseDeclaration = {
    description: "The caller's notes, newest first",
    schema: success("NoteListResponse", { notes: { type: "array", items: noteSchema }, nextCursor: cursor }),
    example: { success: true, notes: [NOTE_EXAMPLE], nextCursor: null },
};

export const NOTE_DELETED_RESPONSE: ResponseDeclaration = {
    description: "The note is gone (also when there was none: deleting is idempotent)",
    schema: success("NoteDeletedResponse", { noteId: string() }),
    example: { success: true, noteId: "a1b2c3" },
};

const UPLOAD_KEY = "uploads/us-east-1:7d0e5bd4-3b8a-4c2e-9f1d-2a6b8c0e4f11/0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b.jpg";

export const UPLOAD_CREATED_RESPONSE: ResponseDeclaration = {
    description:
        "A presigned POST: send `multipart/form-data` to `url` with every field of `fields` and then the file as `file`, " +
        "of exactly `contentType` and `contentLength`, before `expiresAt`",
    schema: success("UploadCreatedResponse", {
        upload: {
            type: "object",
            required: ["key", "url", "fields", "contentType", "contentLength", "expiresAt", "mediaUrl"],
            properties: {
                key: string("The object key; put it into a note's `mediaKey`."),
                url: string("Where to POST the form (the bucket's endpoint)."),
                fields: { type: "object", additionalProperties: { type: "string" }, description: "Form fields, in order, before the file." },
                contentType: string(),
                contentLength: { type: "integer", minimum: 1 },
                expiresAt: timestamp("When the presigned POST expires"),
                mediaUrl: string("Where the file will be served once uploaded."),
            },
            additionalProperties: false,
        },
    }),
    example: {
        success: true,
        upload: {
            key: UPLOAD_KEY,
            url: "https://media-uploads-abc1234.s3.us-east-1.amazonaws.com/",
            fields: {
                "Content-Type": "image/jpeg",
                bucket: "media-uploads-abc1234",
                "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                "X-Amz-Credential": "ASIAEXAMPLE/20260501/us-east-1/s3/aws4_request",
                "X-Amz-Date": "20260501T120000Z",
                "X-Amz-Security-Token": "IQoJb3JpZ2luX2VjEXAMPLE",
                key: UPLOAD_KEY,
                Policy: "eyJleHBpcmF0aW9uIjoi…",
                "X-Amz-Signature": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            },
            contentType: "image/jpeg",
            contentLength: 48213,
            expiresAt: "2026-05-01T12:05:00.000Z",
            mediaUrl: `https://d1234abcd.cloudfront.net/${UPLOAD_KEY.replace(":", "%3A")}`,
        },
    },
};

export const UPLOAD_LIST_RESPONSE: ResponseDeclaration = {
    description: "The caller's uploads, by key",
    schema: success("UploadListResponse", {
        uploads: {
            type: "array",
            items: {
                type: "object",
                required: ["key", "size", "lastModified", "mediaUrl"],
                properties: {
                    key: string(),
                    size: { type: "integer", minimum: 0 },
                    lastModified: nullable(timestamp("When the object was stored")),
                    mediaUrl: string(),
                },
                additionalProperties: false,
            },
        },
        nextCursor: cursor,
    }),
    example: {
        success: true,
        uploads: [
            { key: UPLOAD_KEY, size: 48213, lastModified: "2026-05-01T12:01:00.000Z", mediaUrl: `https://d1234abcd.cloudfront.net/${UPLOAD_KEY.replace(":", "%3A")}` },
        ],
        nextCursor: null,
    },
};

export const UPLOAD_DELETED_RESPONSE: ResponseDeclaration = {
    description: "The upload is gone (also when there was none)",
    schema: success("UploadDeletedResponse", { key: string() }),
    example: { success: true, key: UPLOAD_KEY },
};

export const SEARCH_RESPONSE: ResponseDeclaration = {
    description: "The caller's notes that match `q`, best first",
    schema: success("SearchResponse", {
        found: { type: "integer", minimum: 0, description: "How many of the caller's notes match (all pages)." },
        notes: {
            type: "array",
            items: {
                type: "object",
                required: ["noteId", "headline", "text", "mediaUrl", "createdAt", "score"],
                properties: {
                    noteId: string(),
                    headline: string(),
                    text: string(),
                    mediaUrl: nullable(string()),
                    createdAt: nullable(string()),
                    score: nullable({ type: "number" }),
                },
                additionalProperties: false,
            },
        },
        nextCursor: cursor,
    }),
    example: {
        success: true,
        found: 1,
        notes: [{ noteId: "a1b2c3", headline: "Groceries", text: "Milk, eggs", mediaUrl: null, createdAt: "2026-05-01T12:00:00.000Z", score: 1.2 }],
        nextCursor: null,
    },
};

const platform: ResponseSchema = { type: "string", enum: [...PUSH_PLATFORMS] };

export const DEVICE_REGISTERED_RESPONSE: ResponseDeclaration = {
    description: "The device is registered to the caller (registering again refreshes it)",
    schema: success("DeviceRegisteredResponse", { deviceId: string(), platform }),
    example: { success: true, deviceId: "5a1f0c2e-7b3d-3c4e-9f8a-1b2c3d4e5f60", platform: "ios" },
};

export const DEVICE_LIST_RESPONSE: ResponseDeclaration = {
    description: "The caller's devices",
    schema: success("DeviceListResponse", {
        devices: {
            type: "array",
            items: {
                type: "object",
                required: ["deviceId", "platform", "createdAt", "updatedAt"],
                properties: { deviceId: string(), platform, createdAt: timestamp("First registered"), updatedAt: timestamp("Last registered") },
                additionalProperties: false,
            },
        },
    }),
    example: {
        success: true,
        devices: [{ deviceId: "5a1f0c2e-7b3d-3c4e-9f8a-1b2c3d4e5f60", platform: "ios", createdAt: "2026-05-01T12:00:00.000Z", updatedAt: "2026-05-02T08:30:00.000Z" }],
    },
};

export const DEVICE_DELETED_RESPONSE: ResponseDeclaration = {
    description: "The device is gone (also when there was none)",
    schema: success("DeviceDeletedResponse", { deviceId: string() }),
    example: { success: true, deviceId: "5a1f0c2e-7b3d-3c4e-9f8a-1b2c3d4e5f60" },
};

export const ACCEPTED_RESPONSE: ResponseDeclaration = {
    description: "Accepted: the notification is delivered after the response (failures go to the stage's failure queue)",
    schema: success("AcceptedResponse", { accepted: TRUE }),
    example: { success: true, accepted: true },
};

export const ACCOUNT_DELETION_ACCEPTED_RESPONSE: ResponseDeclaration = {
    description:
        "Accepted: the caller's notes, devices, uploads, blocks, counters, identity and user are deleted after the response " +
        "(retried; failures go to the stage's failure queue). Calling again is safe.",
    schema: success("AccountDeletionAcceptedResponse", { accepted: TRUE }),
    example: { success: true, accepted: true },
};

const IDENTITY_EXAMPLE = "us-east-1:0b8c6a2e-5d4f-4e3a-9b1c-2d3e4f5a6b7c";

export const BLOCK_LIST_RESPONSE: ResponseDeclaration = {
    description: "The senders whose notifications to the caller are dropped",
    schema: success("BlockListResponse", {
        blocked: {
            type: "array",
            items: {
                type: "object",
                required: ["identityId", "createdAt"],
                properties: { identityId: string(), createdAt: timestamp("When the sender was blocked") },
                additionalProperties: false,
            },
        },
    }),
    example: { success: true, blocked: [{ identityId: IDENTITY_EXAMPLE, createdAt: "2026-05-01T12:00:00.000Z" }] },
};

export const BLOCK_RESPONSE: ResponseDeclaration = {
    description: "The sender's state for the caller: blocked after PUT, not blocked after DELETE (both idempotent)",
    schema: success("BlockResponse", { identityId: string(), blocked: { type: "boolean" } }),
    example: { success: true, identityId: IDENTITY_EXAMPLE, blocked: true },
};

/** Every error body, from a function or from API Gateway itself (its gateway responses use the same shape). */
export const errorSchema: ResponseSchema = {
    title: "ErrorResponse",
    type: "object",
    required: ["success", "error"],
    properties: {
        success: { type: "boolean", enum: [false] },
        error: {
            type: "object",
            required: ["code", "message"],
            properties: {
                code: string(
                    "A function's code (`BadRequest`, `Forbidden`, `NotFound`, `Conflict`, `PayloadTooLarge`, `TooManyRequests`, " +
                        "`NotImplemented`, `InternalError`) or API Gateway's response type (`MISSING_AUTHENTICATION_TOKEN`, " +
                        "`INVALID_SIGNATURE`, `EXPIRED_TOKEN`, `INVALID_API_KEY`, `ACCESS_DENIED`, `WAF_FILTERED`, `THROTTLED`, " +
                        "`QUOTA_EXCEEDED`, `REQUEST_TOO_LARGE`, `INTEGRATION_FAILURE`, `INTEGRATION_TIMEOUT`, `DEFAULT_5XX`, …).",
                ),
                message: string("What went wrong, for a person; never a stack trace."),
                retryAfterSeconds: { type: "integer", minimum: 1, description: "TooManyRequests only: also the Retry-After header." },
            },
            additionalProperties: false,
        },
    },
    additionalProperties: false,
};

/** Who answers with an error status: the function (its codes) and API Gateway (its gateway response types). */
interface ErrorSource {
    functionCodes: ErrorCode[];
    gatewayTypes: string[];
}

/** An error response of a status code, with what causes it; its example is the first cause. */
export function errorDeclaration(source: ErrorSource, messages: Partial<Record<string, string>> = {}): ResponseDeclaration {
    const codes = [...source.functionCodes, ...source.gatewayTypes];
    const code = codes[0];
    return {
        description: `Error: ${codes.map((c) => `\`${c}\``).join(", ")}`,
        schema: errorSchema,
        example: {
            success: false,
            error: {
                code,
                message: messages[code] ?? GATEWAY_MESSAGES[code] ?? "The request could not be completed.",
                ...(code === "TooManyRequests" ? { retryAfterSeconds: 30 } : {}),
            },
        },
    };
}

/** API Gateway's own messages (`$context.error.messageString`) for the examples. */
const GATEWAY_MESSAGES: Record<string, string> = {
    MISSING_AUTHENTICATION_TOKEN: "Missing Authentication Token",
    THROTTLED: "Too Many Requests",
    REQUEST_TOO_LARGE: "Request Too Long",
    INTEGRATION_TIMEOUT: "Endpoint request timed out",
    DEFAULT_5XX: "Internal server error",
    InternalError: "The request could not be completed. Try again later.",
    BadRequest: "Invalid request body",
};
