/**
 * The search tier's code exactly as `pulumi up` would ship it. The notes, indexer and search
 * functions' serialized archives run in fresh Node processes; notes are written to the local DynamoDB
 * (local/dynamodb.ts) through the notes function, each change's stream record is the one that server
 * captured and its event source mapping delivers, and the indexer and search functions talk to a
 * local CloudSearch endpoint that checks the requests the real SDK sends (signature included).
 */
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { startS3, type LocalS3 } from "../local/s3";
import { startCloudSearch, type LocalCloudSearch } from "../local/cloudsearch";
import { createDeclaredTable, startDynamo, type LocalDynamo } from "./support/dynamodb";
import { startFunction, type LocalFunction } from "./support/lambda";
import { loadProgram } from "./support/program";
import { pipelineCalls } from "./support/search-pipeline";
import { tapStream, type StreamTap } from "./support/streams";

const alice = "us-east-1:11111111-1111-4111-8111-111111111111";
const bob = "us-east-1:22222222-2222-4222-8222-222222222222";

let dynamo: LocalDynamo;
let cloudsearch: LocalCloudSearch;
let s3: LocalS3;
let notes: LocalFunction;
let indexer: LocalFunction;
let search: LocalFunction;
let stream: StreamTap;
let tableName: string;
let mediaBaseUrl: string;

beforeAll(async () => {
    // The CloudSearch engine, for accounts that still have it (OpenSearch: opensearch-shipped.test.ts).
    const program = await loadProgram("dev", { "mobile-backend:search": { engine: "cloudsearch" } });
    const archives = program.archives;
    tableName = archives["notes-function"].environment.NOTES_TABLE;
    mediaBaseUrl = archives["notes-function"].environment.MEDIA_BASE_URL;
    expect(archives["search-indexer"].environment.MEDIA_BASE_URL).toBe(mediaBaseUrl);

    dynamo = await startDynamo();
    await createDeclaredTable(dynamo, program.recorder.one("aws:dynamodb/table:Table", "data-notes"), tableName);
    // The notes function counts writes per identity in the limits table.
    await createDeclaredTable(dynamo, program.recorder.one("aws:dynamodb/table:Table", "data-limits"), archives["notes-function"].environment.LIMITS_TABLE);
    cloudsearch = await startCloudSearch({ verifySignature: { secretAccessKey: "local" } });
    // The notes table is stream-enabled as declared: the local DynamoDB captures each change's record.
    stream = tapStream(dynamo, tableName);

    // A note's mediaKey must be an existing upload: alice's photo is in the (local) uploads bucket.
    const bucket = archives["notes-function"].environment.UPLOADS_BUCKET;
    s3 = await startS3({ buckets: [{ name: bucket }] });
    s3.put(bucket, `uploads/${alice}/beach.jpg`, "jpeg", "image/jpeg");
    notes = await startFunction(archives["notes-function"], { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: s3.endpoint });
    // The program points each function at its domain endpoint; here, at the local one.
    indexer = await startFunction(archives["search-indexer"], { CLOUDSEARCH_ENDPOINT: cloudsearch.endpoint });
    search = await startFunction(archives["search-function"], { CLOUDSEARCH_ENDPOINT: cloudsearch.endpoint });
    // Loading the program under mocks is slow on a busy machine.
}, 300_000);

afterAll(async () => {
    await Promise.all([notes?.stop(), indexer?.stop(), search?.stop()]);
    await cloudsearch?.close();
    await dynamo?.close();
    await s3?.stop();
});

const { find, change, index } = pipelineCalls(() => ({ notes, indexer, search, stream }));

test("a note is searchable by its owner only, edits are reflected and deletes disappear", async () => {
    const photo = `uploads/${alice}/beach.jpg`;
    const inserts = [
        await change(
            { method: "POST", resource: "/notes", identityId: alice, body: { noteId: "beach", headline: "Beach day", text: "Sand and sun", mediaKey: photo } },
            "beach",
        ),
        await change({ method: "POST", resource: "/notes", identityId: alice, body: { noteId: "shop", headline: "Groceries", text: "milk, eggs" } }, "shop"),
        await change({ method: "POST", resource: "/notes", identityId: bob, body: { noteId: "bob-beach", headline: "Beach volleyball", text: "Sunday" } }, "bob-beach"),
    ];
    expect(inserts.map((r) => r.eventName)).toEqual(["INSERT", "INSERT", "INSERT"]);
    expect(await index(...inserts)).toEqual({ batchItemFailures: [] });
    // Three documents in one upload call.
    const uploads = cloudsearch.requests.filter((r) => r.path.endsWith("/documents/batch"));
    expect(uploads).toHaveLength(1);
    expect(cloudsearch.documents().size).toBe(3);

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
    expect((await find(bob, { q: "beach" })).body.notes.map((n: { noteId: string }) => n.noteId)).toEqual(["bob-beach"]);

    const edit = await change(
        { method: "PUT", resource: "/notes/{noteId}", pathParameters: { noteId: "shop" }, identityId: alice, body: { text: "milk, eggs, beach towel" } },
        "shop",
    );
    expect(edit.eventName).toBe("MODIFY");
    expect(await index(edit)).toEqual({ batchItemFailures: [] });
    expect((await find(alice, { q: "towel" })).body.notes.map((n: { noteId: string }) => n.noteId)).toEqual(["shop"]);

    const removal = await change({ method: "DELETE", resource: "/notes/{noteId}", pathParameters: { noteId: "beach" }, identityId: alice }, "beach");
    expect(removal.eventName).toBe("REMOVE");
    expect(await index(removal)).toEqual({ batchItemFailures: [] });
    expect((await find(alice, { q: "beach" })).body.notes.map((n: { noteId: string }) => n.noteId)).toEqual(["shop"]);
    expect(cloudsearch.documents().has(`${alice}/beach`)).toBe(false);
});

test("a record CloudSearch rejects fails alone; the rest of its batch is indexed", async () => {
    // Written around the API, as another writer might: a creation date CloudSearch cannot parse.
    await dynamo.client.send(
        new PutItemCommand({
            TableName: tableName,
            Item: { ownerId: { S: alice }, noteId: { S: "poison" }, headline: { S: "Poison" }, text: { S: "x" }, createdAt: { S: "yesterday" } },
        }),
    );
    const poison = await stream.takeOne({ ownerId: alice, noteId: "poison" });
    expect(poison.eventName).toBe("INSERT");
    const good = await change({ method: "POST", resource: "/notes", identityId: alice, body: { noteId: "kite", headline: "Kite festival" } }, "kite");

    const response = await index(poison, good);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: poison.dynamodb?.SequenceNumber }] });
    expect((await find(alice, { q: "kite" })).body.notes.map((n: { noteId: string }) => n.noteId)).toEqual(["kite"]);
    expect(cloudsearch.documents().has(`${alice}/poison`)).toBe(false);
});

test("an outage fails the whole batch so that Lambda retries it, and nothing is lost on the retry", async () => {
    const record = await change({ method: "POST", resource: "/notes", identityId: bob, body: { noteId: "retry", headline: "Retry me" } }, "retry");
    cloudsearch.failNextUploads(3, "http500");
    expect(await index(record)).toEqual({ batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber }] });
    expect(await index(record)).toEqual({ batchItemFailures: [] });
    expect((await find(bob, { q: "retry" })).body.notes.map((n: { noteId: string }) => n.noteId)).toEqual(["retry"]);
});

test("search pages with an opaque cursor and answers bad parameters with 400", async () => {
    const records = [];
    for (let i = 0; i < 5; i++) {
        records.push(
            await change({ method: "POST", resource: "/notes", identityId: bob, body: { noteId: `page-${i}`, headline: `Paging note ${i}` } }, `page-${i}`),
        );
    }
    expect(await index(...records)).toEqual({ batchItemFailures: [] });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
        const page = await find(bob, { q: "paging", limit: "2", ...(cursor ? { cursor } : {}) });
        expect(page.statusCode).toBe(200);
        seen.push(...page.body.notes.map((n: { noteId: string }) => n.noteId));
        cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    expect(seen.sort()).toEqual(["page-0", "page-1", "page-2", "page-3", "page-4"]);

    expect(await find(bob, { q: "" })).toMatchObject({ statusCode: 400, body: { success: false, error: { code: "BadRequest" } } });
    expect(await find(bob, { q: "x", limit: "51" })).toMatchObject({ statusCode: 400 });
    expect(await find(bob, { q: "x", cursor: "not-ours" })).toMatchObject({ statusCode: 400 });
    // The filter is built from the caller, never from the query.
    const injected = await find(bob, { q: `paging' (or user_id:'${alice}')` });
    expect(injected.statusCode).toBeLessThan(500);
    for (const n of injected.body.notes ?? []) expect(n.noteId).toMatch(/^page-/);
    expect(search.logs()).not.toMatch(/unhandled error/);
});
