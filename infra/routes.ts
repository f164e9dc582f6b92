/**
 * Every route of the API, declared once without Pulumi: the deployed document (infra/api.ts), the local
 * backend and the client-facing OpenAPI document are built from these.
 */
import type { ErrorCode } from "../functions/http";
import { createNoteSchema, updateNoteSchema } from "../functions/notes-schema";
import { registerDeviceSchema, sendNotificationSchema } from "../functions/notification-schema";
import * as R from "../functions/responses";
import type { ResponseDeclaration } from "../functions/responses";
import type { JsonSchema } from "../functions/schema";
import { SEARCH_LIMITS } from "../functions/search";
import { createUploadSchema, type UploadsSettings } from "../functions/uploads";
import type { SearchEngine, StageConfig } from "./config";

/** One operation of the API. */
export interface ApiRoute {
    /** HTTP method. */
    method: "GET" | "POST" | "PUT" | "DELETE";
    /** Resource path with `{param}` placeholders, e.g. `/notes/{noteId}`. */
    path: string;
    /**
     * JSON Schema (draft 4) of the request body, published as an API Gateway model (its `title` names
     * it). On an `async` route (required there) API Gateway validates the body against it and refuses a
     * non-conforming one with 400 before the function runs; on a `sync` route the function validates the
     * same schema itself and answers with the detailed message. Default: none.
     */
    requestSchema?: JsonSchema;
    /**
     * Answer with this response from API Gateway itself (no function), e.g. for a feature a stage has
     * turned off. Default: none (the service's function answers).
     */
    fixedResponse?: { statusCode: number; body: Record<string, unknown> };
    /**
     * `async`: API Gateway invokes the function with invocation type `Event` and answers 202
     * `{"success": true, "accepted": true}` at once; the function receives
     * `{"senderId", "requestId", "body"}`, the sender taken from the request's credentials.
     * Default `sync` (Lambda proxy integration).
     */
    invocation?: "sync" | "async";
    /**
     * `none`: the route takes no body (an `async` route without a `requestSchema` must say so). API Gateway
     * then hands the function `{"identityId", "authenticationType", "authenticationProvider", "requestId"}`,
     * all from the request's credentials and context (infra/openapi.ts, `BODYLESS_ASYNC_EVENT_TEMPLATE`);
     * a body sent anyway is ignored. Default: a body (validated as {@link ApiRoute.requestSchema} says).
     */
    body?: "none";
    /**
     * The success bodies the route answers with, by status code (functions/responses.ts). Published as
     * response models in the deployed document and as response schemas with examples in the client document.
     * Default: none declared.
     */
    responses?: Record<number, ResponseDeclaration>;
    /**
     * The error codes the route's function answers with besides `Forbidden` and `InternalError`, which every
     * function can answer. API Gateway's own errors are added by the document builders (infra/openapi.ts).
     * Default: none.
     */
    errors?: ErrorCode[];
    /** The query parameters the route's function reads. Default: none. */
    query?: QueryParameter[];
}

/** A query parameter of a route. */
export interface QueryParameter {
    name: string;
    description: string;
    required?: boolean;
    schema: { type: "integer"; minimum: number; maximum: number; default: number } | { type: "string"; maxLength?: number };
}

/** `limit` and `cursor`: a page of a list. */
function page(limit: { min: number; max: number; fallback: number }): QueryParameter[] {
    return [
        {
            name: "limit",
            description: "How many items to return at most.",
            schema: { type: "integer", minimum: limit.min, maximum: limit.max, default: limit.fallback },
        },
        { name: "cursor", description: "The `nextCursor` of the previous page.", schema: { type: "string", maxLength: 2048 } },
    ];
}

/** Page sizes of the list routes, as their functions read `limit` (functions/notes.ts, functions/uploads.ts). */
export const PAGE_LIMITS = {
    notes: { min: 1, max: 100, fallback: 20 },
    uploads: { min: 1, max: 1000, fallback: 100 },
} as const;

/** The routes one function serves (or that answer by themselves), under a short name unique within the API. */
export interface RouteSet {
    /** Short name, unique within the API (names the function's invoke permission). */
    name: string;
    /** The routes. */
    routes: ApiRoute[];
}

/** `/notes`: the notes function. */
export const NOTES_ROUTES: RouteSet = {
    name: "notes",
    routes: [
        {
            method: "POST",
            path: "/notes",
            requestSchema: createNoteSchema,
            responses: { 201: R.NOTE_RESPONSE },
            errors: ["BadRequest", "Conflict", "PayloadTooLarge", "TooManyRequests"],
        },
        { method: "GET", path: "/notes", query: page(PAGE_LIMITS.notes), responses: { 200: R.NOTE_LIST_RESPONSE }, errors: ["BadRequest"] },
        { method: "GET", path: "/notes/{noteId}", responses: { 200: R.NOTE_RESPONSE }, errors: ["BadRequest", "NotFound"] },
        {
            method: "PUT",
            path: "/notes/{noteId}",
            requestSchema: updateNoteSchema,
            responses: { 200: R.NOTE_RESPONSE },
            errors: ["BadRequest", "NotFound", "PayloadTooLarge", "TooManyRequests"],
        },
        { method: "DELETE", path: "/notes/{noteId}", responses: { 200: R.NOTE_DELETED_RESPONSE }, errors: ["BadRequest", "TooManyRequests"] },
    ],
};

/** `/uploads`: the uploads function; the body schema follows the stage's media settings. */
export function uploadsRoutes(settings: Pick<UploadsSettings, "contentTypes" | "maxImageBytes" | "maxVideoBytes">): RouteSet {
    return {
        name: "uploads",
        routes: [
            {
                method: "POST",
                path: "/uploads",
                requestSchema: createUploadSchema(settings),
                responses: { 201: R.UPLOAD_CREATED_RESPONSE },
                errors: ["BadRequest", "PayloadTooLarge"],
            },
            { method: "GET", path: "/uploads", query: page(PAGE_LIMITS.uploads), responses: { 200: R.UPLOAD_LIST_RESPONSE }, errors: ["BadRequest"] },
            { method: "DELETE", path: "/uploads/{key}", responses: { 200: R.UPLOAD_DELETED_RESPONSE }, errors: ["BadRequest"] },
        ],
    };
}

/** `GET /search`: the search function, or API Gateway's own 501 where the stage has no engine. */
export function searchRoutes(engine: SearchEngine): RouteSet {
    if (engine === "none") {
        return {
            name: "search",
            routes: [
                {
                    method: "GET",
                    path: "/search",
                    fixedResponse: {
                        statusCode: 501,
                        body: {
                            success: false,
                            error: { code: "NotImplemented", message: "Search is disabled on this stage (search.engine: none)." },
                        },
                    },
                },
            ],
        };
    }
    const query: QueryParameter[] = [
        {
            name: "q",
            required: true,
            description: 'The words to find in the caller\'s notes: words, "quoted phrases", and + - | * as operators.',
            schema: { type: "string", maxLength: SEARCH_LIMITS.queryChars },
        },
        ...page(SEARCH_LIMITS.limit),
    ];
    return { name: "search", routes: [{ method: "GET", path: "/search", query, responses: { 200: R.SEARCH_RESPONSE }, errors: ["BadRequest"] }] };
}

/** `/devices`: the devices function. */
export const DEVICES_ROUTES: RouteSet = {
    name: "devices",
    routes: [
        {
            method: "POST",
            path: "/devices",
            requestSchema: registerDeviceSchema,
            responses: { 201: R.DEVICE_REGISTERED_RESPONSE },
            errors: ["BadRequest", "Conflict", "PayloadTooLarge", "TooManyRequests"],
        },
        { method: "GET", path: "/devices", responses: { 200: R.DEVICE_LIST_RESPONSE } },
        { method: "DELETE", path: "/devices/{deviceId}", responses: { 200: R.DEVICE_DELETED_RESPONSE }, errors: ["BadRequest", "TooManyRequests"] },
    ],
};

/** `POST /notifications`: the sender, invoked asynchronously. */
export const NOTIFICATIONS_ROUTES: RouteSet = {
    name: "notifications",
    routes: [
        {
            method: "POST",
            path: "/notifications",
            requestSchema: sendNotificationSchema,
            invocation: "async",
            responses: { 202: R.ACCEPTED_RESPONSE },
        },
    ],
};

/** `/blocks`: the blocks function. */
export const BLOCKS_ROUTES: RouteSet = {
    name: "blocks",
    routes: [
        { method: "GET", path: "/blocks", responses: { 200: R.BLOCK_LIST_RESPONSE } },
        { method: "PUT", path: "/blocks/{identityId}", responses: { 200: R.BLOCK_RESPONSE }, errors: ["BadRequest", "TooManyRequests"] },
        { method: "DELETE", path: "/blocks/{identityId}", responses: { 200: R.BLOCK_RESPONSE }, errors: ["BadRequest", "TooManyRequests"] },
    ],
};

/**
 * `DELETE /me`: the account deletion function, invoked asynchronously (202 at once); the caller is taken from
 * the request's credentials only, so the route takes no body.
 */
export const ACCOUNT_ROUTES: RouteSet = {
    name: "account",
    routes: [{ method: "DELETE", path: "/me", invocation: "async", body: "none", responses: { 202: R.ACCOUNT_DELETION_ACCEPTED_RESPONSE } }],
};

/**
 * Every route set of a stage, in the order the program puts them in its API (index.ts): what the local backend
 * serves for a stage config.
 */
export function stageRoutes(config: Pick<StageConfig, "media" | "search">): RouteSet[] {
    return [
        NOTES_ROUTES,
        uploadsRoutes(config.media),
        searchRoutes(config.search.engine),
        DEVICES_ROUTES,
        NOTIFICATIONS_ROUTES,
        BLOCKS_ROUTES,
        ACCOUNT_ROUTES,
    ];
}
