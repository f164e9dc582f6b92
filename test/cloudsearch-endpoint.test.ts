/**
 * Proves the local CloudSearch domain endpoint (local/cloudsearch.ts) against the real
 * `@aws-sdk/client-cloudsearch-domain` client: what the SDK sends is accepted (and its SigV4 signature
 * verifies), what the server answers deserializes into the SDK's shapes and exceptions.
 */
import {
    CloudSearchDomainClient,
    DocumentServiceException,
    SearchCommand,
    SearchException,
    UploadDocumentsCommand,
    type SearchCommandInput,
    type UploadDocumentsCommandOutput,
} from "@aws-sdk/client-cloudsearch-domain";
import { MAX_BATCH_BYTES, MAX_DOCUMENT_BYTES, startCloudSearch, type LocalCloudSearch } from "../local/cloudsearch";

type SdkError = Error & { $fault?: string; $metadata: { httpStatusCode?: number; attempts?: number }; status?: string };

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const clientFor = (server: LocalCloudSearch, extra: Record<string, unknown> = {}) =>
    new CloudSearchDomainClient({ endpoint: server.endpoint, region: "us-east-1", credentials, ...extra });

let cs: LocalCloudSearch;
let client: CloudSearchDomainClient;

beforeAll(async () => {
    // Every SDK request in this file must carry a signature that verifies.
    cs = await startCloudSearch({ verifySignature: { secretAccessKey: "local" } });
    client = clientFor(cs);
});

afterAll(async () => {
    client.destroy();
    await cs.close();
});

beforeEach(async () => {
    const ids = [...cs.documents().keys()];
    if (ids.length > 0) await upload(ids.map((id) => ({ type: "delete", id })));
});

function upload(operations: unknown, on = client): Promise<UploadDocumentsCommandOutput> {
    return on.send(
        new UploadDocumentsCommand({
            contentType: "application/json",
            documents: typeof operations === "string" ? operations : JSON.stringify(operations),
        }),
    );
}

function search(input: Partial<SearchCommandInput>) {
    return client.send(new SearchCommand({ query: "matchall", queryParser: "structured", ...input }));
}

async function rejection(promise: Promise<unknown>): Promise<SdkError> {
    try {
        await promise;
    } catch (e) {
        return e as SdkError;
    }
    throw new Error("expected the call to fail");
}

/** A structured-query string literal: backslashes and single quotes escaped. */
const quote = (value: string) => `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

const add = (id: string, fields: Record<string, unknown>) => ({ type: "add", id, fields });
const minute = (n: number) => new Date(Date.UTC(2024, 0, 1) + n * 60_000).toISOString();
const note = (user: string, n: number, extra: Record<string, string> = {}) =>
    add(`${user}/n${String(n).padStart(3, "0")}`, {
        headline: `Note ${n}`,
        note_text: `body of note ${n}`,
        user_id: user,
        created_at: minute(n),
        ...extra,
    });

describe("document service", () => {
    test("adds and deletes documents, answering with CloudSearch's counts", async () => {
        const before = cs.requests.length;
        const result = await upload([
            note("u1", 1, { s3_url: "https://cdn.example/m/1.jpg" }),
            note("u1", 2),
            note("u2", 3),
        ]);
        expect(result).toMatchObject({ status: "success", adds: 3, deletes: 0 });
        expect([...cs.documents().keys()].sort()).toEqual(["u1/n001", "u1/n002", "u2/n003"]);
        expect(cs.documents().get("u1/n001")).toEqual({
            headline: "Note 1",
            note_text: "body of note 1",
            user_id: "u1",
            created_at: "2024-01-01T00:01:00.000Z",
            s3_url: "https://cdn.example/m/1.jpg",
        });

        const mixed = await upload([{ type: "delete", id: "u1/n002" }, note("u2", 4), { type: "delete", id: "never-existed" }]);
        expect(mixed).toMatchObject({ status: "success", adds: 1, deletes: 2 });
        expect([...cs.documents().keys()].sort()).toEqual(["u1/n001", "u2/n003", "u2/n004"]);

        // What went over the wire.
        const sent = cs.requests.slice(before);
        expect(sent).toHaveLength(2);
        expect(sent[0]).toMatchObject({ method: "POST", path: "/2013-01-01/documents/batch", query: { format: "sdk" }, status: 200 });
        expect(sent[0].headers["content-type"]).toBe("application/json");
        expect(sent[0].headers.authorization).toMatch(
            /^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/us-east-1\/cloudsearch\/aws4_request, SignedHeaders=[a-z0-9;-]*\bhost\b[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
        );
        expect(JSON.parse(sent[0].body)).toHaveLength(3);
    });

    test("documents() is a copy of the index", async () => {
        await upload([note("u1", 1)]);
        const copy = cs.documents();
        copy.get("u1/n001")!.headline = "tampered";
        copy.delete("u1/n001");
        expect(cs.documents().get("u1/n001")?.headline).toBe("Note 1");
    });

    test("an add for an existing id replaces the whole document", async () => {
        await upload([note("u1", 1, { s3_url: "https://cdn.example/m/1.jpg", headline: "Old headline" })]);
        const result = await upload([add("u1/n001", { headline: "New headline", note_text: "new", user_id: "u1", created_at: minute(1) })]);
        expect(result).toMatchObject({ status: "success", adds: 1, deletes: 0 });
        expect(cs.documents().size).toBe(1);
        // Replaced, not merged: s3_url is gone.
        expect(cs.documents().get("u1/n001")).toEqual({ headline: "New headline", note_text: "new", user_id: "u1", created_at: minute(1) });
        const { hits } = await search({ query: "new", queryParser: "simple" });
        expect(hits?.hit?.map((h) => h.id)).toEqual(["u1/n001"]);
        expect((await search({ query: "old", queryParser: "simple" })).hits?.found).toBe(0);
    });

    test.each([
        ["not JSON", "{not json", /not valid JSON/],
        ["not an array", JSON.stringify({ type: "add", id: "a", fields: { headline: "x" } }), /JSON array/],
        ["an empty array", "[]", /at least one add or delete/],
        ["an operation without type", [{ id: "a", fields: { headline: "x" } }], /no 'type'/],
        ["an unknown type", [{ type: "update", id: "a", fields: { headline: "x" } }], /"add" or "delete"/],
        ["an operation without id", [{ type: "add", fields: { headline: "x" } }], /no 'id'/],
        ["an add without fields", [{ type: "add", id: "a" }], /needs 'fields'/],
        ["an add with no field in fields", [add("a", {})], /at least one field/],
        ["a 2011-API version property", [{ type: "add", id: "a", version: 1, fields: { headline: "x" } }], /unknown operation property 'version'/],
        ["a field not in the schema", [add("a", { title: "x" })], /Unknown field 'title'.*document_id a/],
        ["an id with a space", [add("a b", { headline: "x" })], /Invalid document id "a b"/],
        ["an empty id", [add("", { headline: "x" })], /Invalid document id ""/],
        ["a 129-character id", [add("x".repeat(129), { headline: "x" })], /Invalid document id/],
        ["a null value", [add("a", { headline: null })], /'headline': expected a string, got null/],
        ["an array for a single-valued field", [add("a", { headline: ["x", "y"] })], /single-valued/],
        ["a number for a text field", [add("a", { headline: 42 })], /expected a string, got number/],
        ["a date not in RFC 3339 UTC", [add("a", { created_at: "2024-01-01 10:00:00" })], /Invalid date/],
        ["a control character", [add("a", { note_text: "bell\u0007" })], /Invalid character/],
    ])("rejects a batch with %s as DocumentServiceException, applying nothing", async (_name, batch, message) => {
        const operations = typeof batch === "string" ? batch : [note("u1", 9), ...batch];
        const error = await rejection(upload(operations));
        expect(error).toBeInstanceOf(DocumentServiceException);
        expect(error.name).toBe("DocumentServiceException");
        expect(error.status).toBe("error");
        expect(error.$fault).toBe("client");
        expect(error.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
        expect(error.message).toMatch(message);
        expect(cs.documents().size).toBe(0); // the valid operation in the same batch was not applied either
    });

    test("enforces the 1 MB document and 5 MB batch limits", async () => {
        const big = (id: string, bytes: number) => add(id, { note_text: "x".repeat(bytes), user_id: "u1" });

        const overDocument = await rejection(upload([big("huge", MAX_DOCUMENT_BYTES)]));
        expect(overDocument).toBeInstanceOf(DocumentServiceException);
        expect(overDocument.message).toMatch(/exceeds the 1 MB document size limit.*document_id huge/);

        const docs = (n: number) => Array.from({ length: n }, (_, i) => big(`big${i}`, 900 * 1024));
        const overBatch = JSON.stringify(docs(6));
        expect(Buffer.byteLength(overBatch)).toBeGreaterThan(MAX_BATCH_BYTES);
        const error = await rejection(upload(overBatch));
        expect(error).toBeInstanceOf(DocumentServiceException);
        expect(error.$metadata.httpStatusCode).toBe(400);
        expect(error.message).toMatch(/exceeds the batch size limit of 5242880 bytes/);
        expect(cs.documents().size).toBe(0);

        // Just under both limits is fine.
        const result = await upload(docs(5));
        expect(result).toMatchObject({ status: "success", adds: 5 });
    });

    test("failNextUploads('http500') fails uploads with HTTP 500, which the SDK retries", async () => {
        const once = clientFor(cs, { maxAttempts: 1 });
        try {
            cs.failNextUploads(1, "http500");
            const error = await rejection(upload([note("u1", 1)], once));
            expect(error.$metadata.httpStatusCode).toBe(500);
            expect(error.$fault).toBe("server");
            expect(error.name).toBe("InternalFailure");
            expect(cs.documents().size).toBe(0);
            await expect(upload([note("u1", 1)], once)).resolves.toMatchObject({ status: "success", adds: 1 });
        } finally {
            once.destroy();
        }

        // A default client makes 3 attempts: one failure is absorbed by a retry...
        cs.failNextUploads(1); // "http500" is the default
        const retried = await upload([note("u1", 2)]);
        expect(retried).toMatchObject({ status: "success", adds: 1 });
        expect(retried.$metadata.attempts).toBe(2);

        // ...three are not.
        const before = cs.requests.length;
        cs.failNextUploads(3, "http500");
        const error = await rejection(upload([note("u1", 3)]));
        expect(error.$metadata).toMatchObject({ httpStatusCode: 500, attempts: 3 });
        expect(cs.requests.slice(before).map((r) => r.status)).toEqual([500, 500, 500]);
        expect([...cs.documents().keys()].sort()).toEqual(["u1/n001", "u1/n002"]);
    });

    test("failNextUploads('status-error') answers like a rejected batch: DocumentServiceException, status 'error', no retry", async () => {
        cs.failNextUploads(1, "status-error");
        const error = await rejection(upload([note("u1", 1)]));
        expect(error).toBeInstanceOf(DocumentServiceException);
        expect(error.status).toBe("error");
        expect(error.message).toMatch(/injected failure/);
        expect(error.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
        expect(cs.documents().size).toBe(0);
        await expect(upload([note("u1", 1)])).resolves.toMatchObject({ status: "success", adds: 1 });
    });
});

describe("search service", () => {
    test("returns each field as an array of strings, _score among the fields when asked, only the fields asked for", async () => {
        await upload([note("u1", 1, { s3_url: "https://cdn.example/m/1.jpg" }), note("u1", 2)]);
        const all = await search({ sort: "created_at asc" });
        expect(all.status?.rid).toEqual(expect.any(String));
        expect(all.status?.timems).toEqual(expect.any(Number));
        expect(all.hits).toEqual({
            found: 2,
            start: 0,
            hit: [
                {
                    id: "u1/n001",
                    fields: {
                        headline: ["Note 1"],
                        note_text: ["body of note 1"],
                        user_id: ["u1"],
                        s3_url: ["https://cdn.example/m/1.jpg"],
                        created_at: [minute(1)],
                    },
                },
                // An absent field is absent from the hit.
                { id: "u1/n002", fields: { headline: ["Note 2"], note_text: ["body of note 2"], user_id: ["u1"], created_at: [minute(2)] } },
            ],
        });

        const some = await search({ query: "note", queryParser: "simple", return: "headline,_score", size: 1 });
        expect(some.hits?.found).toBe(2);
        expect(some.hits?.hit).toHaveLength(1);
        const [hit] = some.hits?.hit ?? [];
        expect(Object.keys(hit.fields ?? {}).sort()).toEqual(["_score", "headline"]);
        expect(hit.fields?._score).toEqual([expect.stringMatching(/^\d+(\.\d+)?$/)]);
        expect(Number(hit.fields?._score?.[0])).toBeGreaterThan(0);
        expect(hit.exprs).toBeUndefined();

        const ids = await search({ return: "_no_fields" });
        expect(ids.hits?.hit?.every((h) => h.fields === undefined && typeof h.id === "string")).toBe(true);

        const request = cs.requests.filter((r) => r.path === "/2013-01-01/search").at(-1)!;
        expect(request).toMatchObject({
            method: "GET",
            query: { format: "sdk", pretty: "true", q: "matchall", "q.parser": "structured", return: "_no_fields" },
        });
    });

    test("simple parser: words in the chosen text fields, case-insensitively, with +, -, phrases, prefixes, | and defaultOperator", async () => {
        await upload([
            add("a", { headline: "Shopping list", note_text: "Buy MILK and bread", user_id: "u" }),
            add("b", { headline: "Milk run", note_text: "the corner shop closes early", user_id: "u" }),
            add("c", { headline: "Ideas", note_text: "bread recipes; milk-free", user_id: "u" }),
            add("d", { headline: "Misc", note_text: "nothing here", user_id: "milk" }),
        ]);
        const ids = async (query: string, queryOptions?: object) =>
            (
                await search({ query, queryParser: "simple", queryOptions: queryOptions && JSON.stringify(queryOptions), size: 100 })
            ).hits?.hit?.map((h) => h.id).sort();

        expect(await ids("milk")).toEqual(["a", "b", "c"]); // text fields only by default: not d's user_id
        expect(await ids("MILK bread")).toEqual(["a", "c"]); // defaultOperator and
        expect(await ids("milk bread", { defaultOperator: "or" })).toEqual(["a", "b", "c"]);
        expect(await ids("milk -bread")).toEqual(["b"]);
        expect(await ids("+milk -free", { defaultOperator: "or" })).toEqual(["a", "b"]);
        expect(await ids('"milk and bread"')).toEqual(["a"]);
        expect(await ids('"bread milk"')).toEqual([]);
        expect(await ids("shop*")).toEqual(["a", "b"]);
        expect(await ids("ideas|misc")).toEqual(["c", "d"]);
        expect(await ids("recipes | corner")).toEqual(["b", "c"]);
        expect(await ids("-milk")).toEqual(["d"]);
        expect(await ids("milk", { fields: ["headline"] })).toEqual(["b"]);
        expect(await ids("milk", { fields: ["user_id"] })).toEqual(["d"]); // literal: whole value
        expect(await ids("milk-free")).toEqual(["c"]); // split into a phrase
    });

    test("sorts by _score (term frequency, field boosts) by default and on sort-enabled fields", async () => {
        await upload([
            add("once", { headline: "cat", note_text: "a dog", created_at: minute(3) }),
            add("thrice", { headline: "cat cat", note_text: "cat", created_at: minute(1) }),
            add("twice", { headline: "x", note_text: "cat and cat", created_at: minute(2) }),
        ]);
        const ids = async (input: Partial<SearchCommandInput>) => (await search({ queryParser: "simple", ...input })).hits?.hit?.map((h) => h.id);
        expect(await ids({ query: "cat" })).toEqual(["thrice", "twice", "once"]);
        expect(await ids({ query: "cat", sort: "_score asc" })).toEqual(["once", "twice", "thrice"]);
        expect(await ids({ query: "cat", queryOptions: JSON.stringify({ fields: ["headline^5", "note_text"] }) })).toEqual(["thrice", "once", "twice"]);
        expect(await ids({ query: "cat", sort: "created_at desc" })).toEqual(["once", "twice", "thrice"]);
        expect(await ids({ query: "cat", sort: "created_at asc" })).toEqual(["thrice", "twice", "once"]);
    });

    test("filter queries match literal values exactly, with \\ and ' escaped inside quotes", async () => {
        const users = ["it's\\me", "it's", "it\\'s", "its"];
        await upload(users.flatMap((user, u) => [0, 1].map((n) => add(`u${u}-n${n}`, { headline: "hello", user_id: user }))));
        for (const [u, user] of users.entries()) {
            const fq = `(term field=user_id ${quote(user)})`;
            const result = await search({ query: "hello", queryParser: "simple", filterQuery: fq });
            expect(result.hits?.hit?.map((h) => h.id).sort()).toEqual([`u${u}-n0`, `u${u}-n1`]);
            expect(result.hits?.hit?.every((h) => h.fields?.user_id?.[0] === user)).toBe(true);
            // The server saw exactly what was sent, decoded.
            expect(cs.requests.at(-1)?.query.fq).toBe(fq);
        }
        expect(quote("it's\\me")).toBe("'it\\'s\\\\me'");
        // The shorthand form works too.
        const shorthand = await search({ filterQuery: `user_id:${quote("it's")}` });
        expect(shorthand.hits?.found).toBe(2);
        // Forgetting to escape is a syntax error, not a silent mismatch.
        await expect(search({ filterQuery: "(term field=user_id 'it's')" })).rejects.toBeInstanceOf(SearchException);
        await expect(search({ filterQuery: "(term field=user_id 'it\\me')" })).rejects.toThrow(/invalid escape/);
    });

    test("structured queries: and / or / not / term / phrase / prefix, on q and fq", async () => {
        await upload([
            add("a", { headline: "Trip to Paris", note_text: "pack the camera", user_id: "alice" }),
            add("b", { headline: "Paris budget", note_text: "hotel and trains", user_id: "alice" }),
            add("c", { headline: "Trip to Rome", note_text: "camera battery", user_id: "bob" }),
            add("d", { headline: "Groceries", note_text: "eggs", user_id: "albert" }),
        ]);
        const ids = async (query: string, filterQuery?: string) =>
            (await search({ query, queryParser: "structured", filterQuery })).hits?.hit?.map((h) => h.id).sort();
        expect(await ids("(and (term field=headline 'paris') (not (term field=note_text 'hotel')))")).toEqual(["a"]);
        expect(await ids("(or (phrase field=headline 'trip to') (term field=note_text 'eggs'))")).toEqual(["a", "c", "d"]);
        expect(await ids("'camera'")).toEqual(["a", "c"]); // all text fields
        expect(await ids("matchall", "(prefix field=user_id 'al')")).toEqual(["a", "b", "d"]);
        expect(await ids("(matchall)", "(and user_id:'alice' (not headline:'budget'))")).toEqual(["a"]);
        expect(await ids("(term field='headline' boost=2 'trip')", "(or user_id:'bob' user_id:'nobody')")).toEqual(["c"]);
    });

    test("size and start select a window of the sorted hits", async () => {
        await upload(Array.from({ length: 7 }, (_, i) => note("u1", i)));
        const page = await search({ sort: "created_at asc", size: 3, start: 3 });
        expect(page.hits?.found).toBe(7);
        expect(page.hits?.start).toBe(3);
        expect(page.hits?.cursor).toBeUndefined();
        expect(page.hits?.hit?.map((h) => h.id)).toEqual(["u1/n003", "u1/n004", "u1/n005"]);
        expect((await search({})).hits?.hit).toHaveLength(7); // default size 10
        expect((await search({ size: 0 })).hits).toEqual({ found: 7, start: 0, hit: [] });
        expect((await search({ start: 10 })).hits?.hit).toEqual([]);
    });

    test("a cursor pages through every hit exactly once, in order", async () => {
        await upload(Array.from({ length: 23 }, (_, i) => note(i % 2 ? "odd" : "even", i)));
        const seen: string[] = [];
        const starts: number[] = [];
        let cursor: string | undefined = "initial";
        let pages = 0;
        while (cursor !== undefined) {
            const result = await search({ sort: "created_at desc", size: 5, cursor });
            pages++;
            expect(result.hits?.found).toBe(23);
            starts.push(result.hits?.start ?? -1);
            seen.push(...(result.hits?.hit ?? []).map((h) => h.id ?? ""));
            cursor = result.hits?.cursor;
            expect(pages).toBeLessThan(10);
        }
        expect(pages).toBe(5);
        expect(starts).toEqual([0, 5, 10, 15, 20]);
        expect(new Set(seen).size).toBe(23);
        expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => `${(22 - i) % 2 ? "odd" : "even"}/n${String(22 - i).padStart(3, "0")}`));

        // The cursor is opaque and tied to its query.
        const first = await search({ sort: "created_at desc", size: 5, cursor: "initial" });
        expect(first.hits?.cursor).toMatch(/^[A-Za-z0-9_-]+$/);
        await expect(search({ sort: "created_at asc", size: 5, cursor: first.hits?.cursor })).rejects.toThrow(/Invalid cursor/);
    });

    test("cursorOnLastPage: a cursor on every page, the last one leading to an empty page", async () => {
        const solr = await startCloudSearch({ cursorOnLastPage: true });
        const local = clientFor(solr);
        try {
            await upload(Array.from({ length: 4 }, (_, i) => note("u1", i)), local);
            const ids: string[] = [];
            let cursor = "initial";
            for (;;) {
                const { hits } = await local.send(new SearchCommand({ query: "matchall", queryParser: "structured", size: 2, cursor }));
                expect(hits?.cursor).toEqual(expect.any(String));
                if (hits?.hit?.length === 0) break;
                ids.push(...(hits?.hit ?? []).map((h) => h.id ?? ""));
                cursor = hits?.cursor ?? "";
            }
            expect(ids.sort()).toEqual(["u1/n000", "u1/n001", "u1/n002", "u1/n003"]);
        } finally {
            local.destroy();
            await solr.close();
        }
    });

    test.each<[string, Partial<SearchCommandInput>, RegExp]>([
        ["an unclosed fq", { filterQuery: "(term field=user_id 'x'" }, /Syntax error in fq/],
        ["an unquoted fq value", { filterQuery: "(term field=user_id x)" }, /Syntax error in fq/],
        ["trailing fq tokens", { filterQuery: "user_id:'x' user_id:'y'" }, /unexpected/],
        ["an fq on an unknown field", { filterQuery: "(term field=owner 'x')" }, /field 'owner' does not exist/],
        ["an fq on a field that is not search enabled", { filterQuery: "(term field=s3_url 'x')" }, /'s3_url' is not search enabled/],
        ["a range on a date field that is not search enabled", { filterQuery: "created_at:['2024-01-01T00:00:00Z',}" }, /'created_at' is not search enabled/],
        ["an unsupported structured operator", { query: "(near field=headline 'a b')" }, /unsupported operator 'near'/],
        ["an unterminated phrase", { query: '"milk', queryParser: "simple" }, /unterminated phrase/],
        ["a dangling |", { query: "milk |", queryParser: "simple" }, /dangling/],
        ["q.options that are not JSON", { query: "milk", queryParser: "simple", queryOptions: "{fields:" }, /q.options/],
        ["q.options naming an unknown field", { query: "milk", queryParser: "simple", queryOptions: '{"fields":["title"]}' }, /'title' does not exist/],
        ["the lucene parser", { query: "milk", queryParser: "lucene" }, /not supported/],
        ["a sort on a field that is not sort enabled", { sort: "headline asc" }, /not sort enabled/],
        ["a sort without direction", { sort: "created_at" }, /Invalid sort/],
        ["an unknown return field", { return: "title" }, /Invalid return/],
        ["start together with cursor", { start: 0, cursor: "initial" }, /mutually exclusive/],
        ["a forged cursor", { cursor: "bm90LWEtY3Vyc29y" }, /Invalid cursor/],
        ["a size over 10000", { size: 10001 }, /at most 10000/],
        ["an empty q", { query: " " }, /Missing required parameter 'q'/],
        ["a facet request", { facet: '{"user_id":{}}' }, /not supported.*facet/],
    ])("maps %s to SearchException", async (_name, input, message) => {
        const error = await rejection(search(input));
        expect(error).toBeInstanceOf(SearchException);
        expect(error.name).toBe("SearchException");
        expect(error.$fault).toBe("client");
        expect(error.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
        expect(error.message).toMatch(message);
        expect(cs.requests.at(-1)?.status).toBe(400);
    });
});

describe("wire checks", () => {
    let plain: LocalCloudSearch;
    beforeAll(async () => {
        plain = await startCloudSearch();
    });
    afterAll(() => plain.close());

    const fakeAuth = (service = "cloudsearch") => ({
        authorization: `AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${"0".repeat(64)}`,
        "x-amz-date": "20240101T000000Z",
    });
    async function send(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
        const response = await fetch(`${plain.endpoint}${path}`, init);
        return { status: response.status, type: response.headers.get("x-amzn-errortype"), body: (await response.json()) as Record<string, unknown> };
    }
    const batch = JSON.stringify([add("a", { headline: "x" })]);

    test.each<[string, string, Parameters<typeof send>[1], number, string, RegExp]>([
        ["an unsigned upload", "/2013-01-01/documents/batch?format=sdk", { method: "POST", headers: { "content-type": "application/json" }, body: batch }, 400, "MissingAuthenticationToken", /Authorization/],
        ["a signature for another service", "/2013-01-01/search?format=sdk&q=x", { headers: fakeAuth("es") }, 400, "IncompleteSignature", /'es', expected 'cloudsearch'/],
        ["a non-SigV4 Authorization", "/2013-01-01/search?format=sdk&q=x", { headers: { authorization: "Bearer abc", "x-amz-date": "20240101T000000Z" } }, 400, "IncompleteSignature", /SigV4/],
        ["GET on the batch resource", "/2013-01-01/documents/batch?format=sdk", { headers: fakeAuth() }, 400, "DocumentServiceException", /takes POST/],
        ["POST on the search resource", "/2013-01-01/search?format=sdk&q=x", { method: "POST", headers: fakeAuth(), body: "" }, 400, "SearchException", /takes GET/],
        ["an unknown path", "/2011-02-01/search?q=x", { headers: fakeAuth() }, 400, "UnknownOperationException", /no such resource/],
        ["an XML batch", "/2013-01-01/documents/batch?format=sdk", { method: "POST", headers: { ...fakeAuth(), "content-type": "application/xml" }, body: "<batch/>" }, 400, "DocumentServiceException", /XML batches are not supported/],
        ["a batch without content type", "/2013-01-01/documents/batch?format=sdk", { method: "POST", headers: { ...fakeAuth(), "content-type": "text/plain" }, body: batch }, 400, "DocumentServiceException", /Content-Type must be application\/json/],
        ["a batch without format=sdk", "/2013-01-01/documents/batch", { method: "POST", headers: { ...fakeAuth(), "content-type": "application/json" }, body: batch }, 400, "DocumentServiceException", /format=sdk/],
        ["a body that does not match x-amz-content-sha256", "/2013-01-01/documents/batch?format=sdk", { method: "POST", headers: { ...fakeAuth(), "content-type": "application/json", "x-amz-content-sha256": "0".repeat(64) }, body: batch }, 400, "XAmzContentSHA256Mismatch", /does not match/],
        ["an unknown search parameter", "/2013-01-01/search?format=sdk&q=x&bq=y", { headers: fakeAuth() }, 400, "SearchException", /unexpected query parameter 'bq'/],
    ])("rejects %s", async (_name, path, init, status, type, message) => {
        const response = await send(path, init);
        expect(response.status).toBe(status);
        expect(response.type).toBe(type);
        expect(response.body.__type).toBe(`#${type}`);
        expect(response.body.message).toMatch(message);
        expect(plain.documents().size).toBe(0);
    });

    test("rejected batches carry CloudSearch's status/errors body", async () => {
        const response = await send("/2013-01-01/documents/batch?format=sdk", {
            method: "POST",
            headers: { ...fakeAuth(), "content-type": "application/json" },
            body: JSON.stringify([add("a", { title: "x" })]),
        });
        expect(response.body).toMatchObject({
            status: "error",
            adds: 0,
            deletes: 0,
            errors: [{ message: expect.stringMatching(/Unknown field 'title'/) }],
            __type: "#DocumentServiceException",
        });
    });

    test("signatures are verified when asked: a wrong secret key is refused, odd query characters are not", async () => {
        const wrong = new CloudSearchDomainClient({ endpoint: cs.endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "nope" } });
        try {
            const error = await rejection(wrong.send(new SearchCommand({ query: "x" })));
            expect(error.name).toBe("SignatureDoesNotMatch");
            expect(error.$metadata.httpStatusCode).toBe(403);
        } finally {
            wrong.destroy();
        }
        await upload([add("odd", { headline: "Crème brûlée + 100% (fun)! it's *great* ~ é" })]);
        const result = await client.send(
            new SearchCommand({ query: "crème +brûlée -\"not this\" 100* (fun)! it's ~", queryOptions: JSON.stringify({ fields: ["headline"] }), return: "_all_fields,_score" }),
        );
        expect(result.hits?.hit?.map((h) => h.id)).toEqual(["odd"]);
        expect(cs.requests.at(-1)?.query.q).toBe("crème +brûlée -\"not this\" 100* (fun)! it's ~");
    });
});
