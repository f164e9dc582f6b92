/**
 * Tests of the search function's request handling (`functions/search.ts`) against a mocked
 * CloudSearch domain client. Nothing here talks to AWS.
 */
import {
    CloudSearchDomainClient,
    SearchCommand,
    SearchException,
    type Hit,
    type SearchCommandInput,
    type SearchCommandOutput,
} from "@aws-sdk/client-cloudsearch-domain";
import { mockClient } from "aws-sdk-client-mock";
import { encodeCursor } from "../functions/http";
import { SEARCH_LIMITS, handleSearchRequest, userFilter } from "../functions/search";
import { SEARCH_INDEX_FIELDS, documentId } from "../functions/search-index";
import { apiEvent, reply, type ApiReply } from "./support/events";

const ALICE = "us-east-1:0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
const BOB = "us-east-1:ffffffff-0000-1111-2222-333333333333";

const QUERY_OPTIONS = '{"fields":["headline","note_text"],"defaultOperator":"and"}';
const RETURN = "headline,note_text,s3_url,created_at,user_id,_score";

const cloudSearch = mockClient(CloudSearchDomainClient);
const client = new CloudSearchDomainClient({
    endpoint: "https://search-notes-local.us-east-1.cloudsearch.amazonaws.com",
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDLOCALTEST", secretAccessKey: "local-test-secret" },
    maxAttempts: 1,
});

let consoleError: jest.SpyInstance;
let consoleWarn: jest.SpyInstance;

beforeEach(() => {
    cloudSearch.reset();
    consoleError = jest.spyOn(console, "error").mockImplementation(() => undefined);
    consoleWarn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
});

afterEach(() => {
    consoleError.mockRestore();
    consoleWarn.mockRestore();
});

afterAll(() => {
    cloudSearch.restore();
    client.destroy();
});

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

async function searchAs(
    identityId: string | null,
    query: Record<string, string> | undefined,
    method = "GET",
): Promise<ApiReply> {
    return reply(await handleSearchRequest(apiEvent({ method, resource: "/search", query, identityId }), client));
}

/** The inputs of every SearchCommand sent so far. */
function sent(): SearchCommandInput[] {
    return cloudSearch.commandCalls(SearchCommand).map((call) => call.args[0].input);
}

/** A hit as CloudSearch returns it for a note document (format=sdk: every field an array of strings). */
function hit(
    owner: string,
    noteId: string,
    fields: { headline?: string; note_text?: string; s3_url?: string; created_at?: string; user_id?: string },
    score?: { exprs?: string; fields?: string },
): Hit {
    const values: Record<string, string[]> = { user_id: [fields.user_id ?? owner] };
    for (const name of ["headline", "note_text", "s3_url", "created_at"] as const) {
        const value = fields[name];
        if (value !== undefined) values[name] = [value];
    }
    if (score?.fields !== undefined) values._score = [score.fields];
    return {
        id: documentId(owner, noteId),
        fields: values,
        ...(score?.exprs === undefined ? {} : { exprs: { _score: score.exprs } }),
    };
}

function output(hits: { found: number; start?: number; cursor?: string; hit: Hit[] }): SearchCommandOutput {
    return {
        $metadata: { httpStatusCode: 200 },
        status: { rid: "local-rid", timems: 3 },
        hits: { start: 0, ...hits },
    };
}

/** What every search sends besides the caller-specific parts. */
function expectedInput(overrides: Partial<SearchCommandInput>): SearchCommandInput {
    return {
        query: "groceries",
        queryParser: "simple",
        queryOptions: QUERY_OPTIONS,
        filterQuery: userFilter(ALICE),
        size: 20,
        cursor: "initial",
        return: RETURN,
        sort: "_score desc",
        ...overrides,
    };
}

function expectBadRequest(result: ApiReply, message: string | RegExp): void {
    expect(result.statusCode).toBe(400);
    expect(result.body.success).toBe(false);
    expect(result.body.error.code).toBe("BadRequest");
    if (typeof message === "string") expect(result.body.error.message).toBe(message);
    else expect(result.body.error.message).toMatch(message);
    expect(Object.keys(result.body).sort()).toEqual(["error", "success"]);
}

/**
 * Reads a structured `(term field=user_id '...')` filter the way CloudSearch's structured parser
 * does: the quoted string ends at the first unescaped `'`. Returns the value, or undefined when
 * anything other than the closing `)` follows the string.
 */
function parseUserFilter(filter: string): string | undefined {
    const prefix = "(term field=user_id '";
    if (!filter.startsWith(prefix)) return undefined;
    let value = "";
    let i = prefix.length;
    for (; i < filter.length; i++) {
        const c = filter[i];
        if (c === "\\") {
            i += 1;
            if (i >= filter.length) return undefined;
            value += filter[i];
        } else if (c === "'") {
            break;
        } else {
            value += c;
        }
    }
    return filter.slice(i) === "')" ? value : undefined;
}

// ---------------------------------------------------------------------------------------------
// Searching
// ---------------------------------------------------------------------------------------------

describe("GET /search", () => {
    test("sends a simple query over headline and note_text, filtered to the caller, and returns the notes", async () => {
        cloudSearch.on(SearchCommand).resolves(
            output({
                found: 2,
                hit: [
                    hit(
                        ALICE,
                        "n-1",
                        {
                            headline: "Groceries",
                            note_text: "milk, eggs",
                            s3_url: "https://d111.cloudfront.net/uploads/a/milk.jpg",
                            created_at: "2024-05-01T10:00:00.000Z",
                        },
                        { exprs: "7.25" },
                    ),
                    hit(
                        ALICE,
                        "n-2",
                        { headline: "More groceries", note_text: "bread", created_at: "2024-04-01T09:30:00.000Z" },
                        { exprs: "3.5" },
                    ),
                ],
            }),
        );

        const result = await searchAs(ALICE, { q: "groceries" });

        expect(sent()).toEqual([expectedInput({})]);
        expect(result.statusCode).toBe(200);
        expect(result.headers?.["content-type"]).toBe("application/json; charset=utf-8");
        expect(result.body).toEqual({
            success: true,
            found: 2,
            notes: [
                {
                    noteId: "n-1",
                    headline: "Groceries",
                    text: "milk, eggs",
                    mediaUrl: "https://d111.cloudfront.net/uploads/a/milk.jpg",
                    createdAt: "2024-05-01T10:00:00.000Z",
                    score: 7.25,
                },
                {
                    noteId: "n-2",
                    headline: "More groceries",
                    text: "bread",
                    mediaUrl: null,
                    createdAt: "2024-04-01T09:30:00.000Z",
                    score: 3.5,
                },
            ],
            nextCursor: null,
        });
    });

    test("no matches is an empty page", async () => {
        cloudSearch.on(SearchCommand).resolves(output({ found: 0, hit: [] }));
        const result = await searchAs(ALICE, { q: "nothing matches" });
        expect(result.statusCode).toBe(200);
        expect(result.body).toEqual({ success: true, found: 0, notes: [], nextCursor: null });
    });

    test("a response without hits at all is an empty page", async () => {
        cloudSearch.on(SearchCommand).resolves({ $metadata: {} });
        const result = await searchAs(ALICE, { q: "x" });
        expect(result.body).toEqual({ success: true, found: 0, notes: [], nextCursor: null });
    });

    test("reads _score from exprs first, then from fields; missing optional fields get defaults", async () => {
        cloudSearch.on(SearchCommand).resolves(
            output({
                found: 4,
                hit: [
                    // Both present: exprs wins.
                    hit(ALICE, "both", { headline: "a", created_at: "2024-01-01T00:00:00.000Z" }, { exprs: "2", fields: "9" }),
                    // Only among the fields, as in the service's documented JSON.
                    hit(ALICE, "fields", { headline: "b", note_text: "t" }, { fields: "1.5" }),
                    // No score at all.
                    hit(ALICE, "none", { headline: "c" }),
                    // A score that is not a number.
                    hit(ALICE, "nan", { headline: "d" }, { exprs: "not-a-number" }),
                ],
            }),
        );

        const result = await searchAs(ALICE, { q: "x", limit: "10" });

        expect(result.body.notes).toEqual([
            { noteId: "both", headline: "a", text: "", mediaUrl: null, createdAt: "2024-01-01T00:00:00.000Z", score: 2 },
            { noteId: "fields", headline: "b", text: "t", mediaUrl: null, createdAt: null, score: 1.5 },
            { noteId: "none", headline: "c", text: "", mediaUrl: null, createdAt: null, score: null },
            { noteId: "nan", headline: "d", text: "", mediaUrl: null, createdAt: null, score: null },
        ]);
    });

    test("takes the first value of each field, and accepts a plain string value too", async () => {
        cloudSearch.on(SearchCommand).resolves(
            output({
                found: 1,
                hit: [
                    {
                        id: documentId(ALICE, "n-1"),
                        fields: {
                            headline: ["first", "second"],
                            note_text: "plain" as unknown as string[],
                            user_id: [ALICE],
                            created_at: ["2024-02-02T02:02:02.000Z"],
                        },
                        exprs: { _score: "0.5" },
                    },
                ],
            }),
        );
        const result = await searchAs(ALICE, { q: "x" });
        expect(result.body.notes).toEqual([
            { noteId: "n-1", headline: "first", text: "plain", mediaUrl: null, createdAt: "2024-02-02T02:02:02.000Z", score: 0.5 },
        ]);
    });

    test("limit becomes size: default 20, and 1 and 50 are accepted", async () => {
        cloudSearch.on(SearchCommand).resolves(output({ found: 0, hit: [] }));
        for (const limit of [undefined, "1", "50", "07"]) {
            const result = await searchAs(ALICE, { q: "groceries", ...(limit === undefined ? {} : { limit }) });
            expect(result.statusCode).toBe(200);
        }
        expect(sent().map((input) => input.size)).toEqual([20, 1, 50, 7]);
        expect(SEARCH_LIMITS.limit).toEqual({ min: 1, max: 50, fallback: 20 });
    });

    test("returns only fields the index returns, and searches only text fields", () => {
        const byName = new Map(SEARCH_INDEX_FIELDS.map((f) => [f.name, f]));
        for (const name of RETURN.split(",").filter((n) => n !== "_score")) {
            expect(byName.get(name)?.return).toBe(true);
        }
        for (const name of JSON.parse(QUERY_OPTIONS).fields as string[]) {
            expect(byName.get(name)?.type).toBe("text");
        }
        // The owner filter is a term query on user_id: it must be a search-enabled literal.
        expect(byName.get("user_id")).toMatchObject({ type: "literal", search: true });
    });
});

// ---------------------------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------------------------

describe("pagination", () => {
    test("wraps the CloudSearch cursor, and a returned cursor continues from it", async () => {
        const page = (n: number) =>
            Array.from({ length: n }, (_, i) =>
                hit(ALICE, `n-${i}`, { headline: `h${i}`, note_text: "x", created_at: "2024-01-01T00:00:00.000Z" }, { exprs: "1" }),
            );
        cloudSearch
            .on(SearchCommand)
            .resolvesOnce(output({ found: 5, start: 0, cursor: "VegKzpYYQW9JSVFFRU1U+/=", hit: page(2) }))
            .resolvesOnce(output({ found: 5, start: 2, cursor: "Second-Page_Cursor", hit: page(2) }))
            .resolvesOnce(output({ found: 5, start: 4, cursor: "Third-Page-Cursor", hit: page(1) }));

        const first = await searchAs(ALICE, { q: "groceries", limit: "2" });
        expect(first.statusCode).toBe(200);
        expect(first.body.notes).toHaveLength(2);
        expect(first.body.nextCursor).toBe(encodeCursor({ c: "VegKzpYYQW9JSVFFRU1U+/=" }));
        // Opaque to the client: the raw CloudSearch cursor is not visible in it.
        expect(first.body.nextCursor).not.toContain("VegKzpYYQW9JSVFFRU1U");

        const second = await searchAs(ALICE, { q: "groceries", limit: "2", cursor: first.body.nextCursor });
        expect(second.statusCode).toBe(200);
        expect(second.body.nextCursor).toBe(encodeCursor({ c: "Second-Page_Cursor" }));

        const third = await searchAs(ALICE, { q: "groceries", limit: "2", cursor: second.body.nextCursor });
        expect(third.statusCode).toBe(200);
        expect(third.body.notes).toHaveLength(1);
        expect(third.body.nextCursor).toBeNull();

        expect(sent()).toEqual([
            expectedInput({ size: 2, cursor: "initial" }),
            expectedInput({ size: 2, cursor: "VegKzpYYQW9JSVFFRU1U+/=" }),
            expectedInput({ size: 2, cursor: "Second-Page_Cursor" }),
        ]);
    });

    test("no next page when the page reaches found, even if it is full", async () => {
        cloudSearch
            .on(SearchCommand)
            .resolves(
                output({ found: 4, start: 2, cursor: "more?", hit: [hit(ALICE, "a", {}), hit(ALICE, "b", {})] }),
            );
        const result = await searchAs(ALICE, { q: "x", limit: "2", cursor: encodeCursor({ c: "abc" }) });
        expect(result.body.nextCursor).toBeNull();
    });

    test("no next page when CloudSearch returns no cursor", async () => {
        cloudSearch.on(SearchCommand).resolves(output({ found: 9, hit: [hit(ALICE, "a", {}), hit(ALICE, "b", {})] }));
        const result = await searchAs(ALICE, { q: "x", limit: "2" });
        expect(result.body.nextCursor).toBeNull();
    });

    test("a next page when the page is full and more were found", async () => {
        cloudSearch
            .on(SearchCommand)
            .resolves(output({ found: 3, start: 0, cursor: "c2", hit: [hit(ALICE, "a", {}), hit(ALICE, "b", {})] }));
        const result = await searchAs(ALICE, { q: "x", limit: "2" });
        expect(result.body.nextCursor).toBe(encodeCursor({ c: "c2" }));
    });

    test.each([
        ["not base64url", "!!!"],
        ["base64url of something that is not JSON", Buffer.from("cursor").toString("base64url")],
        ["a JSON array", Buffer.from("[1]").toString("base64url")],
        ["an object without c", encodeCursor({ n: "x" })],
        ["c not a string", encodeCursor({ c: 12 })],
        ["c empty", encodeCursor({ c: "" })],
        ["c with spaces", encodeCursor({ c: "a b" })],
        ["c with a control character", encodeCursor({ c: "a\nb" })],
        ["c 'initial'", encodeCursor({ c: "initial" })],
        ["c too long", encodeCursor({ c: "a".repeat(1025) })],
        ["an empty string", ""],
    ])("a cursor that is %s is a 400", async (_, cursor) => {
        const result = await searchAs(ALICE, { q: "x", cursor });
        expectBadRequest(result, "cursor is not a cursor this API returned.");
        expect(sent()).toEqual([]);
    });
});

// ---------------------------------------------------------------------------------------------
// Bad requests
// ---------------------------------------------------------------------------------------------

describe("bad requests", () => {
    test("missing q", async () => {
        expectBadRequest(await searchAs(ALICE, undefined), /^q is required/);
        expectBadRequest(await searchAs(ALICE, { limit: "5" }), /^q is required/);
        expect(sent()).toEqual([]);
    });

    test.each([
        ["empty", ""],
        ["spaces", "   "],
        ["tabs and newlines", "\t\n \r"],
        ["non-breaking and ideographic spaces", "\u00a0\u3000"],
    ])("blank q (%s)", async (_, q) => {
        expectBadRequest(await searchAs(ALICE, { q }), /^q must contain something to search for/);
        expect(sent()).toEqual([]);
    });

    test("q longer than 256 characters", async () => {
        expectBadRequest(await searchAs(ALICE, { q: "a".repeat(257) }), "q is 257 characters long; the limit is 256.");
        expectBadRequest(await searchAs(ALICE, { q: "😀".repeat(257) }), "q is 257 characters long; the limit is 256.");
        expect(sent()).toEqual([]);
    });

    test("q of 256 characters is accepted, counted in Unicode characters rather than UTF-16 units", async () => {
        cloudSearch.on(SearchCommand).resolves(output({ found: 0, hit: [] }));
        const emoji = "😀".repeat(256); // 512 UTF-16 code units
        expect((await searchAs(ALICE, { q: "a".repeat(256) })).statusCode).toBe(200);
        expect((await searchAs(ALICE, { q: emoji })).statusCode).toBe(200);
        expect((await searchAs(ALICE, { q: "é" })).statusCode).toBe(200);
        expect(sent().map((input) => input.query)).toEqual(["a".repeat(256), emoji, "é"]);
    });

    test.each(["0", "51", "100", "-1", "1.5", "abc", "1e1", " 5", "0x10"])("limit %p", async (limit) => {
        expectBadRequest(await searchAs(ALICE, { q: "x", limit }), "limit must be a whole number from 1 to 50.");
        expect(sent()).toEqual([]);
    });

    test("another method is a 405", async () => {
        const result = await searchAs(ALICE, { q: "x" }, "POST");
        expect(result.statusCode).toBe(405);
        expect(result.body).toEqual({
            success: false,
            error: { code: "MethodNotAllowed", message: "POST /search is not a search operation." },
        });
        expect(sent()).toEqual([]);
    });
});

// ---------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------

describe("identity", () => {
    test("a caller without a Cognito identity is a 403, before anything else is checked", async () => {
        const queries: (Record<string, string> | undefined)[] = [{ q: "x" }, undefined, { q: "x", limit: "0" }];
        for (const query of queries) {
            const result = await searchAs(null, query);
            expect(result.statusCode).toBe(403);
            expect(result.body).toEqual({
                success: false,
                error: {
                    code: "Forbidden",
                    message: "This API must be called with Amazon Cognito identity credentials.",
                },
            });
        }
        expect(sent()).toEqual([]);
    });

    test("hits of another user are dropped and logged", async () => {
        cloudSearch.on(SearchCommand).resolves(
            output({
                found: 4,
                hit: [
                    hit(ALICE, "mine", { headline: "mine" }, { exprs: "3" }),
                    // Bob's document, even one whose id looks like Alice's.
                    hit(BOB, "bobs", { headline: "bob's" }, { exprs: "2" }),
                    hit(ALICE, "forged", { headline: "forged", user_id: BOB }, { exprs: "2" }),
                    // No user_id at all.
                    { id: documentId(ALICE, "ownerless"), fields: { headline: ["?"] }, exprs: { _score: "1" } },
                ],
            }),
        );

        const result = await searchAs(ALICE, { q: "x" });

        expect(result.statusCode).toBe(200);
        expect(result.body.found).toBe(4);
        expect(result.body.notes.map((n: { noteId: string }) => n.noteId)).toEqual(["mine"]);
        expect(consoleError).toHaveBeenCalledTimes(3);
        for (const call of consoleError.mock.calls) {
            expect(call[0]).toBe("search hit dropped: not the caller's document");
        }
    });

    test("hits whose id does not name one of the caller's notes are skipped and logged", async () => {
        cloudSearch.on(SearchCommand).resolves(
            output({
                found: 4,
                hit: [
                    hit(ALICE, "ok", { headline: "ok" }),
                    // A hashed document id (owner or note id not a valid CloudSearch id).
                    { id: documentId(ALICE, "has space"), fields: { user_id: [ALICE], headline: ["h"] } },
                    // The bare prefix, and no id at all.
                    { id: `${ALICE}/`, fields: { user_id: [ALICE] } },
                    { fields: { user_id: [ALICE] } },
                ],
            }),
        );

        const result = await searchAs(ALICE, { q: "x" });

        expect(result.body.notes.map((n: { noteId: string }) => n.noteId)).toEqual(["ok"]);
        expect(consoleWarn).toHaveBeenCalledTimes(3);
        for (const call of consoleWarn.mock.calls) {
            expect(call[0]).toBe("search hit skipped: document id does not name a note");
        }
    });
});

// ---------------------------------------------------------------------------------------------
// Escaping and injection
// ---------------------------------------------------------------------------------------------

describe("the owner filter", () => {
    test.each([
        [ALICE, `(term field=user_id '${ALICE}')`],
        ["a'b", "(term field=user_id 'a\\'b')"],
        ["a\\b", "(term field=user_id 'a\\\\b')"],
        ["\\'", "(term field=user_id '\\\\\\'')"],
        ["'", "(term field=user_id '\\'')"],
        ["\\", "(term field=user_id '\\\\')"],
        ["x') (or user_id:'y", "(term field=user_id 'x\\') (or user_id:\\'y')"],
        ["x\\') (or (term field=user_id 'y')", "(term field=user_id 'x\\\\\\') (or (term field=user_id \\'y\\')')"],
        ["a\" or b", "(term field=user_id 'a\" or b')"],
        ["(or a b) -c |d +e", "(term field=user_id '(or a b) -c |d +e')"],
    ])("userFilter(%p)", (identity, filter) => {
        expect(userFilter(identity)).toBe(filter);
        // Read back as CloudSearch reads it: one string, equal to the identity, and nothing after it.
        expect(parseUserFilter(filter)).toBe(identity);
    });

    const hostileIdentities = [
        "us-east-1:a' or user_id:'x",
        "us-east-1:\\'",
        "us-east-1:x') (or (term field=user_id 'victim')",
        "us-east-1:\\\\') (matchall",
        "us-east-1:(or user_id:'*')",
    ];

    test.each(hostileIdentities)("identity %p is sent as exactly one escaped term", async (identity) => {
        cloudSearch.on(SearchCommand).resolves(output({ found: 0, hit: [] }));
        const result = await searchAs(identity, { q: "groceries" });
        expect(result.statusCode).toBe(200);
        const [input] = sent();
        expect(input).toEqual(expectedInput({ filterQuery: userFilter(identity) }));
        expect(parseUserFilter(input.filterQuery ?? "")).toBe(identity);
    });

    const hostileQueries = [
        "a' or user_id:'x",
        "\\'",
        "(or user_id:'victim')",
        "x') (or (term field=user_id 'victim')",
        "-groceries",
        "milk | user_id:victim",
        "+milk +eggs",
        "\"milk and eggs\" or *",
        "user_id:'us-east-1:ffffffff-0000-1111-2222-333333333333'",
        "matchall",
        "') (matchall",
    ];

    test.each(hostileQueries)("q %p goes only to the simple parser, never into the filter", async (q) => {
        cloudSearch.on(SearchCommand).resolves(output({ found: 0, hit: [] }));
        const result = await searchAs(ALICE, { q });
        expect(result.statusCode).toBe(200);
        const [input] = sent();
        expect(input).toEqual(expectedInput({ query: q }));
        expect(input.filterQuery).toBe(`(term field=user_id '${ALICE}')`);
        expect(input.filterQuery).not.toContain(q);
        expect(input.queryParser).toBe("simple");
    });

    test("a hostile identity and a hostile query together", async () => {
        cloudSearch.on(SearchCommand).resolves(output({ found: 0, hit: [] }));
        const identity = "us-east-1:x' (or (term field=user_id 'y'))";
        const q = "') (or user_id:'y";
        await searchAs(identity, { q });
        const [input] = sent();
        expect(input.query).toBe(q);
        expect(input.filterQuery).toBe("(term field=user_id 'us-east-1:x\\' (or (term field=user_id \\'y\\'))')");
        expect(input.filterQuery).not.toContain(q);
    });
});

// ---------------------------------------------------------------------------------------------
// CloudSearch failures
// ---------------------------------------------------------------------------------------------

describe("CloudSearch failures", () => {
    const INTERNAL = {
        success: false,
        error: { code: "InternalError", message: "The request could not be completed. Try again later." },
    };

    test("a SearchException for the query is a 400 that says the query could not be parsed", async () => {
        cloudSearch.on(SearchCommand).rejects(
            new SearchException({
                message: "Syntax error in query: unexpected token at position 3 (internal detail)",
                $metadata: { httpStatusCode: 400 },
            }),
        );

        const result = await searchAs(ALICE, { q: "milk ((" });

        expectBadRequest(result, /could not be parsed/);
        expect(JSON.stringify(result.body)).not.toContain("internal detail");
        expect(consoleError).not.toHaveBeenCalled();
        expect(consoleWarn).toHaveBeenCalledTimes(1);
    });

    test("a SearchException with a server status is a 500", async () => {
        const cause = new SearchException({ message: "internal detail", $metadata: { httpStatusCode: 503 } });
        cloudSearch.on(SearchCommand).rejects(cause);

        const result = await searchAs(ALICE, { q: "milk" });

        expect(result.statusCode).toBe(500);
        expect(result.body).toEqual(INTERNAL);
        expect(consoleError).toHaveBeenCalledWith("unhandled error", cause);
    });

    test.each([
        ["an SDK service error", Object.assign(new Error("Rate exceeded: internal detail"), { name: "ThrottlingException" })],
        ["a network error", Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:443 internal detail"), { code: "ECONNREFUSED" })],
        ["a non-Error value", "internal detail"],
    ])("%s is a 500 that reveals nothing", async (_, cause) => {
        cloudSearch.on(SearchCommand).rejects(cause as Error);

        const result = await searchAs(ALICE, { q: "milk" });

        expect(result.statusCode).toBe(500);
        expect(result.body).toEqual(INTERNAL);
        expect(result.body.error.message).not.toContain("internal detail");
        expect(consoleError).toHaveBeenCalledTimes(1);
        expect(consoleError.mock.calls[0][0]).toBe("unhandled error");
    });

    test("an event without a request context is a 403, not an exception", async () => {
        const event = apiEvent({ method: "GET", resource: "/search", query: { q: "x" }, identityId: ALICE });
        const broken = { ...event, requestContext: undefined } as unknown as typeof event;
        const result = reply(await handleSearchRequest(broken, client));
        expect(result.statusCode).toBe(403);
    });
});
