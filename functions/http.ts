import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";

/** Error codes every API function answers with, in `{"success": false, "error": {"code", "message"}}`. */
export type ErrorCode =
    | "BadRequest"
    | "Forbidden"
    | "NotFound"
    | "MethodNotAllowed"
    | "Conflict"
    | "PayloadTooLarge"
    | "TooManyRequests"
    | "NotImplemented"
    | "InternalError";

/** The HTTP status of each error code (the client document declares the same: infra/openapi.ts). */
export const ERROR_STATUS: Record<ErrorCode, number> = {
    BadRequest: 400,
    Forbidden: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    Conflict: 409,
    PayloadTooLarge: 413,
    TooManyRequests: 429,
    NotImplemented: 501,
    InternalError: 500,
};

/**
 * An error that becomes a JSON error response with its own status code. `retryAfterSeconds` (for
 * `TooManyRequests`) becomes the `Retry-After` header and `error.retryAfterSeconds` in the body.
 */
export class ApiError extends Error {
    constructor(
        readonly code: ErrorCode,
        message: string,
        readonly retryAfterSeconds?: number,
    ) {
        super(message);
        // Set again: in a serialized Lambda closure this class becomes a function whose `super(...)`
        // is `Error.call(this, ...)`, which returns a new error and leaves `this.message` empty.
        this.message = message;
    }
}

/** A JSON response; success bodies carry `"success": true` (the original iOS client checks it). */
export function ok(statusCode: number, body: Record<string, unknown>): APIGatewayProxyResult {
    return json(statusCode, { success: true, ...body });
}

/** The JSON response for an error: a known {@link ApiError}, or a 500 that reveals nothing. */
export function errorResponse(err: unknown): APIGatewayProxyResult {
    if (err instanceof ApiError) {
        const retryAfter = err.retryAfterSeconds;
        if (retryAfter !== undefined) {
            // Retry-After: a non-negative number of seconds (RFC 9110, section 10.2.3).
            const seconds = Math.max(1, Math.ceil(retryAfter));
            const response = json(ERROR_STATUS[err.code], {
                success: false,
                error: { code: err.code, message: err.message, retryAfterSeconds: seconds },
            });
            return { ...response, headers: { ...response.headers, "retry-after": String(seconds) } };
        }
        return json(ERROR_STATUS[err.code], { success: false, error: { code: err.code, message: err.message } });
    }
    // Logged for the operator; the caller only learns that it was not their fault.
    console.error("unhandled error", err);
    return json(500, {
        success: false,
        error: { code: "InternalError", message: "The request could not be completed. Try again later." },
    });
}

function json(statusCode: number, body: unknown): APIGatewayProxyResult {
    return {
        statusCode,
        headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
        body: JSON.stringify(body),
    };
}

/**
 * The caller's Cognito identity id. API Gateway fills it from the SigV4 credentials (`AWS_IAM`
 * authorization); it never comes from the request body.
 */
export function callerIdentity(event: APIGatewayProxyEvent): string {
    const id = event.requestContext?.identity?.cognitoIdentityId;
    if (typeof id !== "string" || id === "") {
        throw new ApiError("Forbidden", "This API must be called with Amazon Cognito identity credentials.");
    }
    return id;
}

/**
 * Parses a JSON object body no larger than `maxBytes`. Anything else is a 4xx naming what is wrong.
 */
export function parseJsonBody(event: APIGatewayProxyEvent, maxBytes: number): Record<string, unknown> {
    if (event.body === null || event.body === undefined || event.body === "") {
        throw new ApiError("BadRequest", "The request body must be a JSON object.");
    }
    const raw = event.isBase64Encoded ? Buffer.from(event.body, "base64") : Buffer.from(event.body, "utf8");
    if (raw.byteLength > maxBytes) {
        throw new ApiError("PayloadTooLarge", `The request body is ${raw.byteLength} bytes; the limit is ${maxBytes}.`);
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(raw.toString("utf8"));
    } catch {
        throw new ApiError("BadRequest", "The request body is not valid JSON.");
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new ApiError("BadRequest", "The request body must be a JSON object.");
    }
    return parsed as Record<string, unknown>;
}

/** An integer query parameter within bounds, or the default when absent. */
export function queryInteger(
    event: APIGatewayProxyEvent,
    name: string,
    range: { min: number; max: number; fallback: number },
): number {
    const text = event.queryStringParameters?.[name];
    if (text === undefined || text === null || text === "") return range.fallback;
    if (!/^\d+$/.test(text) || Number(text) < range.min || Number(text) > range.max) {
        throw new ApiError("BadRequest", `${name} must be a whole number from ${range.min} to ${range.max}.`);
    }
    return Number(text);
}

/** Encodes a continuation key as an opaque URL-safe cursor. */
export function encodeCursor(key: Record<string, unknown>): string {
    return Buffer.from(JSON.stringify(key), "utf8").toString("base64url");
}

/** Decodes a cursor made by {@link encodeCursor}; anything else is a 400. */
export function decodeCursor(cursor: string): Record<string, unknown> {
    try {
        if (!/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) throw new Error("not base64url");
        const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
        if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
        return value as Record<string, unknown>;
    } catch {
        throw new ApiError("BadRequest", "cursor is not a cursor this API returned.");
    }
}
