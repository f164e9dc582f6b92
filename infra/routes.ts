/**
 * Every route of the API, declared once without Pulumi: the deployed document (infra/api.ts), the local
 * backend and the client-facing OpenAPI document are built from these.
 */
import { createNoteSchema, updateNoteSchema } from "../functions/notes-schema";
import { registerDeviceSchema, sendNotificationSchema } from "../functions/notification-schema";
import type { JsonSchema } from "../functions/schema";
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
}

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
        { method: "POST", path: "/notes", requestSchema: createNoteSchema },
        { method: "GET", path: "/notes" },
        { method: "GET", path: "/notes/{noteId}" },
        { method: "PUT", path: "/notes/{noteId}", requestSchema: updateNoteSchema },
        { method: "DELETE", path: "/notes/{noteId}" },
    ],
};

/** `/uploads`: the uploads function; the body schema follows the stage's media settings. */
export function uploadsRoutes(settings: Pick<UploadsSettings, "contentTypes" | "maxImageBytes" | "maxVideoBytes">): RouteSet {
    return {
        name: "uploads",
        routes: [
            { method: "POST", path: "/uploads", requestSchema: createUploadSchema(settings) },
            { method: "GET", path: "/uploads" },
            { method: "DELETE", path: "/uploads/{key}" },
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
    return { name: "search", routes: [{ method: "GET", path: "/search" }] };
}

/** `/devices`: the devices function. */
export const DEVICES_ROUTES: RouteSet = {
    name: "devices",
    routes: [
        { method: "POST", path: "/devices", requestSchema: registerDeviceSchema },
        { method: "GET", path: "/devices" },
        { method: "DELETE", path: "/devices/{deviceId}" },
    ],
};

/** `POST /notifications`: the sender, invoked asynchronously. */
export const NOTIFICATIONS_ROUTES: RouteSet = {
    name: "notifications",
    routes: [{ method: "POST", path: "/notifications", requestSchema: sendNotificationSchema, invocation: "async" }],
};

/** `/blocks`: the blocks function. */
export const BLOCKS_ROUTES: RouteSet = {
    name: "blocks",
    routes: [
        { method: "GET", path: "/blocks" },
        { method: "PUT", path: "/blocks/{identityId}" },
        { method: "DELETE", path: "/blocks/{identityId}" },
    ],
};

/**
 * `DELETE /me`: the account deletion function, invoked asynchronously (202 at once); the caller is taken from
 * the request's credentials only, so the route takes no body.
 */
export const ACCOUNT_ROUTES: RouteSet = {
    name: "account",
    routes: [{ method: "DELETE", path: "/me", invocation: "async", body: "none" }],
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
