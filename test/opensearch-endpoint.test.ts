/**
 * The local OpenSearch endpoint (local/opensearch.ts) checked against the official client,
 * `@opensearch-project/opensearch` with its `AwsSigv4Signer` (service `es`): index creation, `_bulk` and
 * `_search` answers in the shapes the client reads, signature checks; and this program's own signed
 * client (functions/opensearch-client.ts) sends the same requests the official client does.
 */
import { Client, errors } from "@opensearch-project/opensearch";
import { AwsSigv4Signer } from "@opensearch-project/opensearch/aws";
import { start, type LocalOpenSearch } from "../local/opensearch";
import { bulkLines, ensureIndex, indexDefinition, parseBulkResponse } from "../functions/opensearch";
import { createOpenSearchClient } from "../functions/opensearch-client";
import { searchBody } from "../functions/opensearch-search";

const CREDENTIALS = { accessKeyId: "AKIDLOCAL", secretAccessKey: "local-secret", sessionToken: "local-session" };
const ALICE = "us-east-1:aaaaaaaa-1111-4111-8111-111111111111";
const BOB = "us-east-1:bbbbbbbb-2222-4222-8222-222222222222";

let local: LocalOpenSearch;
let official: Client;

function officialClient(endpoint: string, credentials = CREDENTIALS, service: "es" | "aoss" = "es"): Client {
    return new Client({
        ...AwsSigv4Signer({ region: "us-east-1", service, getCredentials: async () => credentials }),
        node: endpoint,
    });
}

const ours = (credentials = CREDENTIALS) => createOpenSearchClient({ endpoint: local.endpoint, region: "us-east-1", credentials: () => credentials });

const doc = (owner: string, noteId: string, headline: string, text = "") => ({
    type: "add" as const,
    id: `${owner}/${noteId}`,
    fields: { headline, note_text: text, user_id: owner, created_at: "2026-01-01T00:00:00.000Z" },
});

beforeAll(async () => {
    local = await start({ verifySignature: { secretAccessKey: CREDENTIALS.secretAccessKey, region: "us-east-1" }, maxRequestBytes: 64 * 1024 });
    official = officialClient(local.endpoint);
});

afterAll(async () => {
    await official?.close();
    await local?.stop();
});

test("index creation: the official client creates it; creating it again is resource_already_exists_exception, which ensureIndex accepts", async () => {
    const created = await official.indices.create({ index: "notes", body: indexDefinition(0) as never });
    expect(created.statusCode).toBe(200);
    expect(created.body).toMatchObject({ acknowledged: true, index: "notes" });
    expect((await official.indices.exists({ index: "notes" })).body).toBe(true);
    expect((await official.indices.exists({ index: "missing" })).body).toBe(false);

    const again = official.indices.create({ index: "notes", body: indexDefinition(0) as never });
    await expect(again).rejects.toBeInstanceOf(errors.ResponseError);
    await expect(again).rejects.toMatchObject({ meta: { statusCode: 400, body: { error: { type: "resource_already_exists_exception" } } } });
    expect(await ensureIndex(ours(), "notes", 0)).toBe("exists");
    expect(await ensureIndex(ours(), "fresh", 0)).toBe("created");
});

test("_bulk: the official client and ours send the same NDJSON and read the same per-item answer", async () => {
    const operations = [doc(ALICE, "a", "Beach day", "sand and sun"), doc(BOB, "b", "Beach volleyball"), { type: "delete" as const, id: `${ALICE}/gone` }];
    const ndjson = operations.map((op) => bulkLines(op, "notes")).join("");
    const lines = ndjson.trimEnd().split("\n").map((line) => JSON.parse(line));

    const before = local.requests.length;
    const answer = await official.bulk({ body: lines });
    const officialRequest = local.requests[before];
    expect(answer.body.errors).toBe(false);
    expect(answer.body.items.map((item: Record<string, { status: number }>) => Object.values(item)[0].status)).toEqual([201, 201, 404]);

    const response = await ours().request("POST", "/_bulk", ndjson, "application/x-ndjson");
    const ourRequest = local.requests[before + 1];
    expect({ method: ourRequest.method, path: ourRequest.path, body: ourRequest.body }).toEqual({
        method: officialRequest.method,
        path: officialRequest.path,
        body: officialRequest.body,
    });
    // The second time the adds are updates (200); the delete of a missing document is still a success.
    expect(parseBulkResponse(response.body, 3)).toEqual([
        { ok: true, status: 200, retryable: false },
        { ok: true, status: 200, retryable: false },
        { ok: true, status: 404, retryable: false },
    ]);

    // A document the mapping refuses fails alone, with its reason.
    const bad = { ...doc(ALICE, "bad", "Bad date"), fields: { ...doc(ALICE, "bad", "x").fields, created_at: "yesterday" } };
    const mixed = await official.bulk({ body: [bulkLines(bad, "notes"), bulkLines(doc(ALICE, "ok", "Fine"), "notes")].join("").trimEnd().split("\n").map((l) => JSON.parse(l)) });
    expect(mixed.body.errors).toBe(true);
    expect(parseBulkResponse(JSON.stringify(mixed.body), 2)).toEqual([
        { ok: false, status: 400, retryable: false, error: expect.stringMatching(/^mapper_parsing_exception: failed to parse field \[created_at\]/) },
        { ok: true, status: 201, retryable: false },
    ]);
    // Fields outside the mapping are refused (dynamic: strict).
    const extra = await official.bulk({ body: [{ index: { _index: "notes", _id: "x" } }, { headline: "x", unknown: "y" }] });
    expect(extra.body.items[0].index?.error?.type).toBe("strict_dynamic_mapping_exception");
});

test("_search: our query reads the same through the official client; the owner filter holds and paging continues after the last hit", async () => {
    const notes = [
        doc(ALICE, "n1", "Beach towel", "blue beach towel"),
        doc(ALICE, "n2", "Beach", "sunset"),
        doc(ALICE, "n3", "Groceries", "milk and eggs"),
        doc(ALICE, "n4", "Beachcomber", "shells"),
    ];
    await official.bulk({ body: notes.map((op) => bulkLines(op, "notes")).join("").trimEnd().split("\n").map((l) => JSON.parse(l)) });

    const first = await official.search({ index: "notes", body: searchBody(ALICE, "beach", 2) as never });
    const hits = first.body.hits.hits as Array<{ _id: string; _score: number; sort: [number, string] }>;
    expect(first.body.hits.total).toEqual({ value: 3, relation: "eq" });
    expect(hits).toHaveLength(2);
    expect(hits[0]._score).toBeGreaterThanOrEqual(hits[1]._score);
    for (const hit of hits) expect(hit.sort).toEqual([hit._score, hit._id]);
    const rest = await official.search({ index: "notes", body: searchBody(ALICE, "beach", 2, { after: hits[1].sort, seen: 2 }) as never });
    const all = [...hits.map((h) => h._id), ...(rest.body.hits.hits as Array<{ _id: string }>).map((h) => h._id)];
    expect(all.sort()).toEqual([`${ALICE}/a`, `${ALICE}/n1`, `${ALICE}/n2`]);

    // Our client sends the same request and gets the same answer.
    const before = local.requests.length;
    const response = await ours().request("POST", "/notes/_search", JSON.stringify(searchBody(ALICE, "beach", 2)));
    expect(JSON.parse(response.body).hits.hits.map((h: { _id: string }) => h._id)).toEqual(hits.map((h) => h._id));
    expect(local.requests[before].path).toBe("/notes/_search");

    // Bob sees only his note whatever the text says.
    for (const q of ["beach", `beach user_id:${ALICE}`, "beach | milk", "*"]) {
        const answer = await official.search({ index: "notes", body: searchBody(BOB, q, 10) as never });
        for (const hit of answer.body.hits.hits) expect(hit._source.user_id).toBe(BOB);
    }
    // simple_query_string operators: prefix, phrase, negation, or.
    const idsFor = async (q: string) =>
        ((await official.search({ index: "notes", body: searchBody(ALICE, q, 10) as never })).body.hits.hits as Array<{ _id: string }>)
            .map((h) => h._id.split("/")[1])
            .sort();
    expect(await idsFor("beach*")).toEqual(["a", "n1", "n2", "n4"]);
    expect(await idsFor('"beach towel"')).toEqual(["n1"]);
    expect(await idsFor("beach -towel")).toEqual(["a", "n2"]);
    expect(await idsFor("milk | sunset")).toEqual(["n2", "n3"]);
    expect(await idsFor("beach sunset")).toEqual(["n2"]);

    // A missing index is index_not_found_exception (404), as the search function expects.
    await expect(official.search({ index: "missing", body: { query: { match_all: {} } } })).rejects.toMatchObject({
        meta: { statusCode: 404, body: { error: { type: "index_not_found_exception" } } },
    });
});

test("signatures: wrong secret, wrong service or none are refused; a body over the limit is 413", async () => {
    const wrongSecret = officialClient(local.endpoint, { ...CREDENTIALS, secretAccessKey: "nope" });
    await expect(wrongSecret.search({ index: "notes", body: { query: { match_all: {} } } })).rejects.toMatchObject({ meta: { statusCode: 403 } });
    const serverless = officialClient(local.endpoint, CREDENTIALS, "aoss");
    await expect(serverless.search({ index: "notes", body: { query: { match_all: {} } } })).rejects.toMatchObject({ meta: { statusCode: 400 } });
    const unsigned = new Client({ node: local.endpoint });
    await expect(unsigned.search({ index: "notes", body: { query: { match_all: {} } } })).rejects.toMatchObject({ meta: { statusCode: 400 } });
    await Promise.all([wrongSecret.close(), serverless.close(), unsigned.close()]);

    const response = await ours().request("POST", "/_bulk", `${"x".repeat(70 * 1024)}\n`, "application/x-ndjson");
    expect(response.status).toBe(413);
});
