/**
 * The OpenSearch engine's code exactly as `pulumi up` would ship it (the default on every stage). The
 * notes, indexer and search functions' archives run in fresh Node processes that see only the archive and
 * the AWS SDK (so the indexer and search functions sign with the aws4 bundled in their archives); notes go
 * to the local DynamoDB (local/dynamodb.ts) through the notes function, each change's stream record is the
 * one that server captured and its event source mapping delivers, and the indexer and search functions
 * talk to the local OpenSearch endpoint (local/opensearch.ts), which checks every request's SigV4
 * signature for service `es`.
 */
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { start as startOpenSearch, type LocalOpenSearch } from "../local/opensearch";
import { startS3, type LocalS3 } from "../local/s3";
import { createDeclaredTable, startDynamo, type LocalDynamo } from "./support/dynamodb";
import { startFunction, type LocalFunction } from "./support/lambda";
import { loadProgram } from "./support/program";
import { pipelineCalls } from "./support/search-pipeline";
import { tapStream, type StreamTap } from "./support/streams";

const alice = "us-east-1:11111111-1111-4111-8111-111111111111";
const bob = "us-east-1:22222222-2222-4222-8222-222222222222";

let dynamo: LocalDynamo;
let opensearch: LocalOpenSearch;
let notes: LocalFunction;
let indexer: LocalFunction;
let search: LocalFunction;
let s3: LocalS3;
let stream: StreamTap;
let tableName: string;
let mediaBaseUrl: string;

beforeAll(async () => {
    const program = await loadProgram("dev");
    const archives = program.archives;
    tableName = archives["notes-function"].environment.NOTES_TABLE;
    mediaBaseUrl = archives["notes-function"].environment.MEDIA_BASE_URL;
    // The signer comes from the archive itself: the process has no other copy.
    expect(Object.keys(archives["search-indexer"].files)).toContain("node_modules/aws4/aws4.js");
    expect(Object.keys(archives["search-function"].files)).toContain("node_modules/aws4/aws4.js");

    dynamo = await startDynamo();
    await createDeclaredTable(dynamo, program.recorder.one("aws:dynamodb/table:Table", "data-notes"), tableName);
    // The notes function counts writes per identity in the limits table.
    await createDeclaredTable(dynamo, program.recorder.one("aws:dynamodb/table:Table", "data-limits"), archives["notes-function"].environment.LIMITS_TABLE);
    opensearch = await startOpenSearch({ verifySignature: { secretAccessKey: "secret-of-the-role", region: "us-east-1" } });
    // The notes table is stream-enabled as declared: the local DynamoDB captures each change's record.
    stream = tapStream(dynamo, tableName);

    // The execution role's session credentials, as Lambda puts them in the environment.
    const role = { AWS_ACCESS_KEY_ID: "ASIAROLESESSION", AWS_SECRET_ACCESS_KEY: "secret-of-the-role", AWS_SESSION_TOKEN: "session-token" };
    // A note's mediaKey must be an existing upload: alice's photo is in the (local) uploads bucket.
    const bucket = archives["notes-function"].environment.UPLOADS_BUCKET;
    s3 = await startS3({ buckets: [{ name: bucket }] });
    s3.put(bucket, `uploads/${alice}/beach.jpg`, "jpeg", "image/jpeg");
    notes = await startFunction(archives["notes-function"], { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: s3.endpoint });
    // The program points each function at its domain's https endpoint; here, at the local one.
    indexer = await startFunction(archives["search-indexer"], { ...role, OPENSEARCH_ENDPOINT: opensearch.endpoint });
    search = await startFunction(archives["search-function"], { ...role, OPENSEARCH_ENDPOINT: opensearch.endpoint });
    // Loading the program under mocks is slow on a busy machine.
}, 300_000);

afterAll(async () => {
    await Promise.all([notes?.stop(), indexer?.stop(), search?.stop()]);
    await opensearch?.stop();
    await s3?.stop();
    await dynamo?.close();
});

const { find, change, index } = pipelineCalls(() => ({ notes, indexer, search, stream }));

const ids = (reply: { body: { notes: { noteId: string }[] } }) => reply.body.notes.map((n) => n.noteId);

test("before anything is indexed, search answers zero results", async () => {
    expect(opensearch.indices()).toEqual([]);
    const empty = await find(alice, { q: "anything" });
    expect(empty).toMatchObject({ statusCode: 200, body: { success: true, found: 0, notes: [], nextCursor: null } });
});

test("the indexer creates the index with its mapping once; notes are searchable by their owner only; edits and deletes reach the index", async () => {
    const photo = `uploads/${alice}/beach.jpg`;
    const inserts = [
        await change({ method: "POST", resource: "/notes", identityId: alice, body: { noteId: "beach", headline: "Beach day", text: "Sand and sun", mediaKey: photo } }, "beach"),
        await change({ method: "POST", resource: "/notes", identityId: alice, body: { noteId: "shop", headline: "Groceries", text: "milk, eggs" } }, "shop"),
        await change({ method: "POST", resource: "/notes", identityId: bob, body: { noteId: "bob-beach", headline: "Beach volleyball", text: "Sunday" } }, "bob-beach"),
    ];
    expect(await index(...inserts)).toEqual({ batchItemFailures: [] });
    expect(opensearch.requests.filter((r) => r.path !== "/notes/_search").map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
        "PUT /notes 200",
        "POST /_bulk 200",
    ]);
    const mapping = JSON.parse(opensearch.requests[1].body).mappings;
    expect(mapping.properties).toMatchObject({ user_id: { type: "keyword" }, headline: { type: "text" }, note_text: { type: "text" }, doc_id: { type: "keyword" } });
    expect(opensearch.documents("notes").get(`${alice}/beach`)).toEqual({
        doc_id: `${alice}/beach`,
        headline: "Beach day",
        note_text: "Sand and sun",
        user_id: alice,
        s3_url: `${mediaBaseUrl}/uploads/${encodeURIComponent(alice)}/beach.jpg`,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    const found = await find(alice, { q: "beach" });
    expect(found.statusCode).toBe(200);
    expect(found.body).toMatchObject({ success: true, found: 1, nextCursor: null });
    expect(found.body.notes).toEqual([
        {
            noteId: "beach",
            headline: "Beach day",
            text: "Sand and sun",
            mediaUrl: `${mediaBaseUrl}/uploads/${encodeURIComponent(alice)}/beach.jpg`,
            createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
            score: expect.any(Number),
        },
    ]);
    expect(ids(await find(bob, { q: "beach" }))).toEqual(["bob-beach"]);

    const edit = await change(
        { method: "PUT", resource: "/notes/{noteId}", pathParameters: { noteId: "shop" }, identityId: alice, body: { text: "milk, eggs, beach towel" } },
        "shop",
    );
    expect(await index(edit)).toEqual({ batchItemFailures: [] });
    expect(ids(await find(alice, { q: "towel" }))).toEqual(["shop"]);

    const removal = await change({ method: "DELETE", resource: "/notes/{noteId}", pathParameters: { noteId: "beach" }, identityId: alice }, "beach");
    expect(await index(removal)).toEqual({ batchItemFailures: [] });
    expect(ids(await find(alice, { q: "beach" }))).toEqual(["shop"]);
    expect(opensearch.documents("notes").has(`${alice}/beach`)).toBe(false);
    // Deleting again (a replayed record) is not a failure.
    expect(await index(removal)).toEqual({ batchItemFailures: [] });
    // The index was created once, by the first invocation of this process.
    expect(opensearch.requests.filter((r) => r.method === "PUT")).toHaveLength(1);
});

test("a document OpenSearch rejects fails alone, by its stream record; the rest of the request is indexed", async () => {
    // Written around the API, as another writer might: a creation date the date mapping cannot parse.
    await dynamo.client.send(
        new PutItemCommand({
            TableName: tableName,
            Item: { ownerId: { S: alice }, noteId: { S: "poison" }, headline: { S: "Poison" }, text: { S: "x" }, createdAt: { S: "yesterday" } },
        }),
    );
    const poison = await stream.takeOne({ ownerId: alice, noteId: "poison" });
    expect(poison.eventName).toBe("INSERT");
    const good = await change({ method: "POST", resource: "/notes", identityId: alice, body: { noteId: "kite", headline: "Kite festival" } }, "kite");
    const bulks = opensearch.requests.filter((r) => r.path === "/_bulk").length;

    expect(await index(poison, good)).toEqual({ batchItemFailures: [{ itemIdentifier: poison.dynamodb?.SequenceNumber }] });
    // One request: the per-item answer says which document failed.
    expect(opensearch.requests.filter((r) => r.path === "/_bulk").length).toBe(bulks + 1);
    expect(ids(await find(alice, { q: "kite" }))).toEqual(["kite"]);
    expect(opensearch.documents("notes").has(`${alice}/poison`)).toBe(false);
    expect(indexer.logs()).toMatch(/search document rejected.*mapper_parsing_exception/);
});

test("throttled items are retried in the invocation; an outage fails the whole batch for Lambda to retry", async () => {
    const a = await change({ method: "POST", resource: "/notes", identityId: bob, body: { noteId: "throttled", headline: "Throttled once" } }, "throttled");
    const b = await change({ method: "POST", resource: "/notes", identityId: bob, body: { noteId: "calm", headline: "Calm" } }, "calm");
    opensearch.throttleNextItems(1);
    expect(await index(a, b)).toEqual({ batchItemFailures: [] });
    expect(opensearch.documents("notes").has(`${bob}/throttled`)).toBe(true);

    const record = await change({ method: "POST", resource: "/notes", identityId: bob, body: { noteId: "retry", headline: "Retry me" } }, "retry");
    opensearch.failNextRequests("/_bulk", 1, 503);
    expect(await index(record)).toEqual({ batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber }] });
    expect(await index(record)).toEqual({ batchItemFailures: [] });
    expect(ids(await find(bob, { q: "retry" }))).toEqual(["retry"]);
});

test("search pages stably with search_after in an opaque cursor and answers bad parameters with 400", async () => {
    const records = [];
    for (let i = 0; i < 5; i++) {
        records.push(await change({ method: "POST", resource: "/notes", identityId: bob, body: { noteId: `page-${i}`, headline: `Paging note ${i}` } }, `page-${i}`));
    }
    expect(await index(...records)).toEqual({ batchItemFailures: [] });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
        const page = await find(bob, { q: "paging", limit: "2", ...(cursor ? { cursor } : {}) });
        expect(page.statusCode).toBe(200);
        expect(page.body.found).toBe(5);
        seen.push(...ids(page));
        cursor = page.body.nextCursor ?? undefined;
        pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect([...seen].sort()).toEqual(["page-0", "page-1", "page-2", "page-3", "page-4"]);
    const searches = opensearch.requests.filter((r) => r.path === "/notes/_search").slice(-2).map((r) => JSON.parse(r.body));
    expect(searches[1].search_after).toEqual([expect.any(Number), expect.stringMatching(/^us-east-1:2222.*\/page-\d$/)]);

    expect(await find(bob, { q: "" })).toMatchObject({ statusCode: 400, body: { success: false, error: { code: "BadRequest" } } });
    expect(await find(bob, { q: "x", limit: "51" })).toMatchObject({ statusCode: 400 });
    expect(await find(bob, { q: "x", cursor: "not-ours" })).toMatchObject({ statusCode: 400 });
    // The owner filter comes from the caller only; field syntax in the text is just text.
    for (const q of [`paging user_id:${alice}`, `paging' OR user_id:'${alice}`, `(paging) | kite`, `*`]) {
        const injected = await find(bob, { q });
        expect(injected.statusCode).toBe(200);
        for (const n of injected.body.notes) expect(n.noteId).not.toBe("kite");
    }
    expect(search.logs()).not.toMatch(/unhandled error/);
});
