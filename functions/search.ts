import { SearchCommand, type CloudSearchDomainClient, type Hit } from "@aws-sdk/client-cloudsearch-domain";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { ApiError, callerIdentity, decodeCursor, encodeCursor, errorResponse, ok, queryInteger } from "./http";
import { noteIdOf, type SearchDocumentFields } from "./search-index";

/** Bounds of the `GET /search` query parameters. */
export const SEARCH_LIMITS = {
    /** Longest `q`, in Unicode characters (code points). */
    queryChars: 256,
    /** Page size: `limit` from 1 to 50, 20 when absent. */
    limit: { min: 1, max: 50, fallback: 20 },
} as const;

/** The index fields the simple query searches. */
const SEARCHED_FIELDS: readonly (keyof SearchDocumentFields)[] = ["headline", "note_text"];

/** The fields (and the relevance score) each hit carries. */
const RETURNED: readonly (keyof SearchDocumentFields | "_score")[] = [
    "headline",
    "note_text",
    "s3_url",
    "created_at",
    "user_id",
    "_score",
];

/** A note in the search results. */
export interface SearchNote {
    noteId: string;
    headline: string;
    text: string;
    mediaUrl: string | null;
    createdAt: string | null;
    score: number | null;
}

/**
 * The structured query that keeps results to one user's documents. The identity is a single-quoted
 * string in which `\` and `'` are backslash-escaped, so no identity can end the string early and add
 * clauses of its own.
 */
export function userFilter(identityId: string): string {
    return `(term field=user_id '${identityId.replace(/[\\']/g, (c) => `\\${c}`)}')`;
}

/**
 * Serves `GET /search?q=...&limit=...&cursor=...`: a simple-syntax full-text search over the headline
 * and text of the caller's own notes, best matches first. Every failure is a JSON error response;
 * nothing throws.
 */
export async function handleSearchRequest(
    event: APIGatewayProxyEvent,
    search: CloudSearchDomainClient,
): Promise<APIGatewayProxyResult> {
    try {
        const { caller, q, size, cursorText } = searchRequest(event);
        const cursor = cursorText === undefined ? "initial" : cloudSearchCursor(cursorText);

        let result;
        try {
            result = await search.send(
                new SearchCommand({
                    // The user's text goes only here, to the simple parser, which has no field or filter syntax.
                    query: q,
                    queryParser: "simple",
                    queryOptions: JSON.stringify({ fields: SEARCHED_FIELDS, defaultOperator: "and" }),
                    // The filter is built from the caller's identity alone.
                    filterQuery: userFilter(caller),
                    size,
                    cursor,
                    return: RETURNED.join(","),
                    sort: "_score desc",
                }),
            );
        } catch (err) {
            if (isQueryRejected(err)) {
                console.warn("search query rejected by CloudSearch", (err as Error).message);
                throw new ApiError(
                    "BadRequest",
                    "q could not be parsed as a search query. Use words, \"quoted phrases\", and + - | * as operators.",
                );
            }
            throw err;
        }

        const hits = result.hits?.hit ?? [];
        const found = result.hits?.found ?? 0;
        const start = result.hits?.start ?? 0;
        const notes: SearchNote[] = [];
        for (const hit of hits) {
            const note = present(caller, hit);
            if (note !== undefined) notes.push(note);
        }
        const next = result.hits?.cursor;
        const more = typeof next === "string" && next !== "" && hits.length >= size && start + hits.length < found;
        return ok(200, { found, notes, nextCursor: more ? encodeCursor({ c: next }) : null });
    } catch (err) {
        return errorResponse(err);
    }
}

/**
 * What every engine reads of a `GET /search` request: the caller (from the credentials), `q`, the page size
 * and the cursor as sent (engine-specific, so decoded by the engine). Throws an {@link ApiError}.
 */
export function searchRequest(event: APIGatewayProxyEvent): { caller: string; q: string; size: number; cursorText?: string } {
    const caller = callerIdentity(event);
    if (`${event.httpMethod} ${event.resource}` !== "GET /search") {
        throw new ApiError("MethodNotAllowed", `${event.httpMethod} ${event.path} is not a search operation.`);
    }
    const q = queryText(event);
    const size = queryInteger(event, "limit", SEARCH_LIMITS.limit);
    const cursorText = event.queryStringParameters?.cursor ?? undefined;
    return { caller, q, size, cursorText };
}

/** The `q` parameter: required, not blank, at most {@link SEARCH_LIMITS.queryChars} characters (shared by both engines). */
export function queryText(event: APIGatewayProxyEvent): string {
    const q = event.queryStringParameters?.q;
    if (q === undefined || q === null) {
        throw new ApiError("BadRequest", "q is required: the words to search your notes for.");
    }
    if (q.trim() === "") {
        throw new ApiError("BadRequest", "q must contain something to search for; it is empty or blank.");
    }
    const length = [...q].length;
    if (length > SEARCH_LIMITS.queryChars) {
        throw new ApiError(
            "BadRequest",
            `q is ${length} characters long; the limit is ${SEARCH_LIMITS.queryChars}.`,
        );
    }
    return q;
}

/** The CloudSearch cursor inside a cursor this function returned; anything else is a 400. */
function cloudSearchCursor(cursor: string): string {
    const { c } = decodeCursor(cursor);
    // Decodable is not enough: the value goes to CloudSearch, so it must look like a cursor it issued.
    if (typeof c !== "string" || c === "initial" || !/^[\x21-\x7e]{1,1024}$/.test(c)) {
        throw new ApiError("BadRequest", "cursor is not a cursor this API returned.");
    }
    return c;
}

/** A CloudSearch 400 for the query: the user's text, since everything else in the request is fixed. */
function isQueryRejected(err: unknown): boolean {
    if (!(err instanceof Error) || err.name !== "SearchException") return false;
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return status === undefined || status === 400;
}

/** A hit as a note of `caller`'s, or `undefined` (logged) for one that must not be shown. */
function present(caller: string, hit: Hit): SearchNote | undefined {
    const owner = field(hit, "user_id");
    if (owner !== caller) {
        // The filter should make this impossible; never show another user's note if it happens.
        console.error("search hit dropped: not the caller's document", { id: hit.id, caller });
        return undefined;
    }
    const noteId = typeof hit.id === "string" ? noteIdOf(caller, hit.id) : undefined;
    if (noteId === undefined) {
        console.warn("search hit skipped: document id does not name a note", { id: hit.id });
        return undefined;
    }
    return {
        noteId,
        headline: field(hit, "headline") ?? "",
        text: field(hit, "note_text") ?? "",
        mediaUrl: field(hit, "s3_url") ?? null,
        createdAt: field(hit, "created_at") ?? null,
        score: score(hit),
    };
}

/**
 * The first value of a returned field. The SDK models fields as string arrays (`format=sdk`); a plain
 * string (the service's default JSON format) is accepted too.
 */
function field(hit: Hit, name: string): string | undefined {
    const value: unknown = hit.fields?.[name];
    const first = Array.isArray(value) ? value[0] : value;
    return typeof first === "string" ? first : undefined;
}

/**
 * The relevance score. Asked for in `return`, CloudSearch puts `_score` among the fields; an expression
 * of that name would come back in `exprs`, so both are read.
 */
function score(hit: Hit): number | null {
    const text = hit.exprs?._score ?? field(hit, "_score");
    if (typeof text !== "string" || text.trim() === "") return null;
    const value = Number(text);
    return Number.isFinite(value) ? value : null;
}
