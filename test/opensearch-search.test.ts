/**
 * The OpenSearch search handler (functions/opensearch-search.ts) in this process against the local
 * OpenSearch endpoint: the request it builds, the answers and the errors, which match the CloudSearch
 * version's (test/search-handler.test.ts).
 */
import { encodeCursor } from "../functions/http";
import { bulkLines, ensureIndex } from "../functions/opensearch";
import { createOpenSearchClient, type OpenSearchClient } from "../functions/opensearch-client";
import { handleOpenSearchRequest, SIMPLE_QUERY_FLAGS } from "../functions/opensearch-search";
import { start, type LocalOpenSearch } from "../local/opensearch";
import { apiEvent, reply } from "./support/events";

const ALICE = "us-east-1:0b1c2d3e-4f50-4172-8394-a5b6c7d8e9f0";
const CREDENTIALS = { accessKeyId: "AKIDSEARCH", secretAccessKey: "search-secret" };
let local: LocalOpenSearch;
let client: OpenSearchClient;
let consoleError: jest.SpyInstance;

beforeAll(async () => {
    local = await start({ verifySignature: { secretAccessKey: CREDENTIALS.secretAccessKey } });
    client = createOpenSearchClient({ endpoint: local.endpoint, region: "us-east-1", credentials: () => CREDENTIALS });
    await ensureIndex(client, "notes", 0);
    const docs = [1, 2, 3].map((i) => ({
        type: "add" as const,
        id: `${ALICE}/n${i}`,
        fields: { headline: `Kite ${i}`, note_text: "kite festival", user_id: ALICE },
    }));
    await client.request("POST", "/_bulk", docs.map((d) => bulkLines(d, "notes")).join(""), "application/x-ndjson");
    consoleError = jest.spyOn(console, "error").mockImplementation(() => undefined);
});

afterAll(async () => {
    consoleError?.mockRestore();
    await local?.stop();
});

async function searchAs(identityId: string | null, query: Record<string, string> | undefined, method = "GET") {
    return reply(await handleOpenSearchRequest(apiEvent({ method, resource: "/search", query, identityId }), client, { index: "notes" }));
}

test("the request: text only in simple_query_string over the two fields, the owner a filter, sorted for search_after", async () => {
    const answer = await searchAs(ALICE, { q: "kite", limit: "2" });
    expect(answer).toMatchObject({ statusCode: 200, body: { success: true, found: 3 } });
    expect(answer.body.notes).toHaveLength(2);
    const sent = JSON.parse(local.requests[local.requests.length - 1].body);
    expect(sent).toEqual({
        size: 2,
        track_total_hits: true,
        query: {
            bool: {
                must: [{ simple_query_string: { query: "kite", fields: ["headline", "note_text"], default_operator: "and", flags: SIMPLE_QUERY_FLAGS } }],
                filter: [{ term: { user_id: ALICE } }],
            },
        },
        sort: [{ _score: { order: "desc" } }, { doc_id: { order: "asc" } }],
        _source: ["headline", "note_text", "s3_url", "created_at", "user_id"],
    });
    const next = await searchAs(ALICE, { q: "kite", limit: "2", cursor: answer.body.nextCursor });
    expect(next.body).toMatchObject({ found: 3, nextCursor: null });
    expect(next.body.notes).toHaveLength(1);
    expect(JSON.parse(local.requests[local.requests.length - 1].body).search_after).toEqual([expect.any(Number), expect.stringContaining(ALICE)]);
});

test.each([
    ["not base64url", "%%%"],
    ["a CloudSearch-style cursor", encodeCursor({ c: "abc" })],
    ["a position without a count", encodeCursor({ a: [1.5, `${ALICE}/n1`] })],
    ["a score that is not a number", encodeCursor({ a: ["1", `${ALICE}/n1`], n: 2 })],
    ["an id with spaces", encodeCursor({ a: [1, "a b"], n: 2 })],
    ["three sort values", encodeCursor({ a: [1, "x", "y"], n: 2 })],
    ["a zero count", encodeCursor({ a: [1, "x"], n: 0 })],
])("a cursor that is %s is a 400", async (_name, cursor) => {
    expect(await searchAs(ALICE, { q: "kite", cursor })).toMatchObject({
        statusCode: 400,
        body: { success: false, error: { code: "BadRequest", message: "cursor is not a cursor this API returned." } },
    });
});

test("the other errors: no identity 403, another method 405, the domain failing 500 without details", async () => {
    expect(await searchAs(null, { q: "kite" })).toMatchObject({ statusCode: 403, body: { error: { code: "Forbidden" } } });
    expect(await searchAs(ALICE, { q: "kite" }, "POST")).toMatchObject({ statusCode: 405, body: { error: { code: "MethodNotAllowed" } } });
    expect(await searchAs(ALICE, { q: "x".repeat(257) })).toMatchObject({ statusCode: 400, body: { error: { code: "BadRequest" } } });
    local.failNextRequests("/notes/_search", 1, 503);
    const failed = await searchAs(ALICE, { q: "kite" });
    expect(failed).toMatchObject({ statusCode: 500, body: { success: false, error: { code: "InternalError" } } });
    expect(JSON.stringify(failed.body)).not.toMatch(/503|injected/);
});
