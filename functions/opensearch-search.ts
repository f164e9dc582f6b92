/**
 * `GET /search` on the OpenSearch engine: the same parameters, answers and errors as the CloudSearch
 * version (`./search`), built as an OpenSearch `_search` request.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { ApiError, decodeCursor, encodeCursor, errorResponse, ok } from "./http";
import { errorType } from "./opensearch";
import type { OpenSearchClient } from "./opensearch-client";
import { searchRequest, type SearchNote } from "./search";
import { noteIdOf } from "./search-index";

/** Where to search. */
export interface OpenSearchSearchSettings {
    /** The stage's index. */
    index: string;
}

/** Where the next page starts: the last hit's sort values (`_score`, `doc_id`) and how many hits came before. */
export interface SearchPosition {
    after: [number, string];
    seen: number;
}

/**
 * simple_query_string operators the user may use: words, `"phrases"`, `+ | -`, `*` prefixes and
 * parentheses. No fuzzy or slop operators; the query type itself has no field or filter syntax.
 */
export const SIMPLE_QUERY_FLAGS = "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE";

/**
 * The `_search` body: the user's text only inside `simple_query_string` over the two text fields (all
 * words required by default), the owner a non-scoring `term` filter built from the caller's identity,
 * best matches first with `doc_id` as a unique tiebreaker so that `search_after` pages are stable.
 */
export function searchBody(caller: string, q: string, size: number, position?: SearchPosition): Record<string, unknown> {
    return {
        size,
        track_total_hits: true,
        query: {
            bool: {
                must: [
                    {
                        simple_query_string: {
                            query: q,
                            fields: ["headline", "note_text"],
                            default_operator: "and",
                            flags: SIMPLE_QUERY_FLAGS,
                        },
                    },
                ],
                filter: [{ term: { user_id: caller } }],
            },
        },
        sort: [{ _score: { order: "desc" } }, { doc_id: { order: "asc" } }],
        ...(position ? { search_after: position.after } : {}),
        _source: ["headline", "note_text", "s3_url", "created_at", "user_id"],
    };
}

/** Serves `GET /search?q=...&limit=...&cursor=...` from OpenSearch. Every failure is a JSON error response. */
export async function handleOpenSearchRequest(
    event: APIGatewayProxyEvent,
    client: OpenSearchClient,
    settings: OpenSearchSearchSettings,
): Promise<APIGatewayProxyResult> {
    try {
        const { caller, q, size, cursorText } = searchRequest(event);
        const position = cursorText === undefined ? undefined : readPosition(cursorText);

        const response = await client.request("POST", `/${settings.index}/_search`, JSON.stringify(searchBody(caller, q, size, position)));
        if (response.status === 404 && errorType(response.body) === "index_not_found_exception") {
            // No note has been indexed on this stage yet.
            return ok(200, { found: 0, notes: [], nextCursor: null });
        }
        if (response.status !== 200) {
            throw new Error(`OpenSearch _search answered HTTP ${response.status}: ${response.body.slice(0, 1000)}`);
        }
        const result = JSON.parse(response.body) as { hits?: { total?: { value?: number } | number; hits?: OpenSearchHit[] } };
        const total = result.hits?.total;
        const found = typeof total === "number" ? total : (total?.value ?? 0);
        const hits = result.hits?.hits ?? [];
        const notes: SearchNote[] = [];
        for (const hit of hits) {
            const note = present(caller, hit);
            if (note !== undefined) notes.push(note);
        }
        const seen = (position?.seen ?? 0) + hits.length;
        const last = hits[hits.length - 1];
        const after = last?.sort;
        const more = hits.length >= size && seen < found && Array.isArray(after) && typeof after[0] === "number" && typeof after[1] === "string";
        return ok(200, { found, notes, nextCursor: more ? encodeCursor({ a: after, n: seen }) : null });
    } catch (err) {
        return errorResponse(err);
    }
}

/** A hit as `_search` returns it. */
interface OpenSearchHit {
    _id?: string;
    _score?: number | null;
    _source?: Record<string, unknown>;
    sort?: unknown[];
}

/** The position inside a cursor this function returned; anything else is a 400. */
function readPosition(cursor: string): SearchPosition {
    const { a, n } = decodeCursor(cursor);
    const valid =
        Array.isArray(a) &&
        a.length === 2 &&
        typeof a[0] === "number" &&
        Number.isFinite(a[0]) &&
        typeof a[1] === "string" &&
        /^[\x21-\x7e]{1,256}$/.test(a[1]) &&
        Number.isSafeInteger(n) &&
        (n as number) > 0;
    if (!valid) throw new ApiError("BadRequest", "cursor is not a cursor this API returned.");
    return { after: [a[0] as number, a[1] as string], seen: n as number };
}

/** A hit as a note of `caller`'s, or `undefined` (logged) for one that must not be shown. */
function present(caller: string, hit: OpenSearchHit): SearchNote | undefined {
    const source = hit._source ?? {};
    const text = (name: string) => (typeof source[name] === "string" ? (source[name] as string) : undefined);
    if (text("user_id") !== caller) {
        console.error("search hit dropped: not the caller's document", { id: hit._id, caller });
        return undefined;
    }
    const noteId = typeof hit._id === "string" ? noteIdOf(caller, hit._id) : undefined;
    if (noteId === undefined) {
        console.warn("search hit skipped: document id does not name a note", { id: hit._id });
        return undefined;
    }
    return {
        noteId,
        headline: text("headline") ?? "",
        text: text("note_text") ?? "",
        mediaUrl: text("s3_url") ?? null,
        createdAt: text("created_at") ?? null,
        score: typeof hit._score === "number" && Number.isFinite(hit._score) ? hit._score : null,
    };
}
