/**
 * The OpenSearch indexer's logic (functions/opensearch.ts) in this process, against the local endpoint:
 * `_bulk` packing under the payload limit, splitting a refused request, per-item outcomes mapped back to
 * every stream record of a document, bounded retries, and the index created idempotently.
 */
import type { DynamoDBRecord } from "aws-lambda";
import { start, type LocalOpenSearch } from "../local/opensearch";
import { bulkLines, createOpenSearchIndexer, packBulk, type OpenSearchIndexerSettings } from "../functions/opensearch";
import { createOpenSearchClient, type OpenSearchClient } from "../functions/opensearch-client";

const OWNER = "us-east-1:7d3b1f5e-52c4-4a8e-9d5e-0c9f3a1b2c4d";
const CREDENTIALS = { accessKeyId: "AKIDLOCAL", secretAccessKey: "local-secret" };
let sequence = 1000;

function record(eventName: "INSERT" | "MODIFY" | "REMOVE", noteId: string, fields: { headline?: string; text?: string; createdAt?: string } = {}): DynamoDBRecord {
    const keys = { ownerId: { S: OWNER }, noteId: { S: noteId } };
    const image = {
        ...keys,
        headline: { S: fields.headline ?? `Headline ${noteId}` },
        text: { S: fields.text ?? `Text of ${noteId}` },
        createdAt: { S: fields.createdAt ?? "2026-01-01T00:00:00.000Z" },
    };
    return {
        eventName,
        eventSource: "aws:dynamodb",
        dynamodb: {
            Keys: keys,
            ...(eventName === "REMOVE" ? { OldImage: image } : { NewImage: image }),
            SequenceNumber: String(sequence++),
            StreamViewType: "NEW_AND_OLD_IMAGES",
        },
    };
}

const seq = (r: DynamoDBRecord) => r.dynamodb?.SequenceNumber as string;

describe("packBulk", () => {
    const op = (i: number, text = "x".repeat(100)) => ({
        operation: { type: "add" as const, id: `${OWNER}/n${String(i).padStart(2, "0")}`, fields: { headline: `h${String(i).padStart(2, "0")}`, note_text: text, user_id: OWNER } },
    });

    test("packs in order, greedily, with every body at most the limit, and a delete as one action line", () => {
        const items = Array.from({ length: 50 }, (_, i) => op(i));
        const one = Buffer.byteLength(bulkLines(items[0].operation, "notes"));
        const requests = packBulk(items, "notes", one * 7 + 3);
        expect(requests.map((r) => r.items.length)).toEqual([7, 7, 7, 7, 7, 7, 7, 1]);
        for (const r of requests) {
            expect(r.bytes).toBe(Buffer.byteLength(r.body));
            expect(r.bytes).toBeLessThanOrEqual(one * 7 + 3);
            expect(r.body.endsWith("\n")).toBe(true);
        }
        expect(requests.flatMap((r) => r.items)).toEqual(items);
        expect(bulkLines({ type: "delete", id: "a/b" }, "notes")).toBe('{"delete":{"_index":"notes","_id":"a/b"}}\n');
        expect(bulkLines(items[0].operation, "notes").split("\n").map((l) => (l ? JSON.parse(l) : l))).toEqual([
            { index: { _index: "notes", _id: `${OWNER}/n00` } },
            { doc_id: `${OWNER}/n00`, headline: "h00", note_text: "x".repeat(100), user_id: OWNER },
            "",
        ]);
    });

    test("an operation larger than the limit goes alone", () => {
        const requests = packBulk([op(1), op(2, "y".repeat(5000)), op(3)], "notes", 1000);
        expect(requests.map((r) => r.items.length)).toEqual([1, 1, 1]);
    });
});

describe("createOpenSearchIndexer", () => {
    let local: LocalOpenSearch;
    let client: OpenSearchClient;
    const logs: Array<[string, Record<string, unknown>]> = [];
    const settings = (extra: Partial<OpenSearchIndexerSettings> = {}): OpenSearchIndexerSettings => ({
        mediaBaseUrl: "https://d1.cloudfront.net",
        index: "notes",
        replicas: 0,
        retryDelayMs: 1,
        log: (message, details) => logs.push([message, details]),
        ...extra,
    });

    beforeAll(async () => {
        local = await start({ verifySignature: { secretAccessKey: CREDENTIALS.secretAccessKey }, maxRequestBytes: 16 * 1024 });
        client = createOpenSearchClient({ endpoint: local.endpoint, region: "us-east-1", credentials: () => CREDENTIALS });
    });
    afterAll(() => local?.stop());
    beforeEach(() => {
        logs.length = 0;
    });

    test("creates the index once, even when the first attempt fails (that batch fails whole, for Lambda to retry)", async () => {
        const index = createOpenSearchIndexer(client, settings());
        local.failNextRequests("/notes", 1, 503);
        const first = record("INSERT", "first");
        expect(await index({ Records: [first] })).toEqual({ batchItemFailures: [{ itemIdentifier: seq(first) }] });
        expect(local.indices()).toEqual([]);
        expect(await index({ Records: [first] })).toEqual({ batchItemFailures: [] });
        expect(await index({ Records: [record("INSERT", "second")] })).toEqual({ batchItemFailures: [] });
        expect(local.requests.filter((r) => r.method === "PUT").map((r) => r.status)).toEqual([503, 200]);
        // Another cold start finds it there: idempotent.
        expect(await createOpenSearchIndexer(client, settings())({ Records: [record("INSERT", "third")] })).toEqual({ batchItemFailures: [] });
        expect(local.documents("notes").size).toBe(3);
    });

    test("packs under the payload limit: no request is refused for its size", async () => {
        const records = Array.from({ length: 40 }, (_, i) => record("INSERT", `bulk-${i}`, { text: "word ".repeat(200) }));
        const before = local.requests.length;
        expect(await index40(records, settings({ maxBulkBytes: 16 * 1024 }))).toEqual({ batchItemFailures: [] });
        const sent = local.requests.slice(before).filter((r) => r.path === "/_bulk");
        expect(sent.every((r) => r.status === 200 && Buffer.byteLength(r.body) <= 16 * 1024)).toBe(true);
        // Greedy: each request is closed only because the next document would not have fitted.
        for (let i = 0; i + 1 < sent.length; i++) {
            const next = sent[i + 1].body.split("\n").slice(0, 2).join("\n") + "\n";
            expect(Buffer.byteLength(sent[i].body) + Buffer.byteLength(next)).toBeGreaterThan(16 * 1024);
        }
        expect(sent.length).toBeGreaterThan(1);
    });

    test("a request refused as too large (413) is split in halves until it fits", async () => {
        const records = Array.from({ length: 8 }, (_, i) => record("INSERT", `big-${i}`, { text: "word ".repeat(600) }));
        const before = local.requests.length;
        // Told the limit is larger than the domain's: the domain answers 413, the indexer splits.
        expect(await index40(records, settings({ maxBulkBytes: 1024 * 1024 }))).toEqual({ batchItemFailures: [] });
        const statuses = local.requests.slice(before).filter((r) => r.path === "/_bulk").map((r) => r.status);
        expect(statuses[0]).toBe(413);
        expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
        for (let i = 0; i < 8; i++) expect(local.documents("notes").has(`${OWNER}/big-${i}`)).toBe(true);
    });

    test("every stream record of a rejected document is reported, and only those", async () => {
        const insert = record("INSERT", "poison", { createdAt: "2026-01-01T00:00:00.000Z" });
        const edit = record("MODIFY", "poison", { createdAt: "not a date" });
        const good = record("INSERT", "good");
        const answer = await index40([insert, good, edit], settings());
        expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: seq(insert) }, { itemIdentifier: seq(edit) }] });
        expect(local.documents("notes").has(`${OWNER}/good`)).toBe(true);
        expect(logs.find(([m]) => m === "search document rejected")?.[1]).toMatchObject({
            documentId: `${OWNER}/poison`,
            status: 400,
            sequenceNumbers: [seq(insert), seq(edit)],
        });
    });

    test("throttled items are retried a bounded number of times, then reported", async () => {
        const a = record("INSERT", "t-a");
        const b = record("INSERT", "t-b");
        local.throttleNextItems(1);
        expect(await index40([a, b], settings({ itemRetries: 1 }))).toEqual({ batchItemFailures: [] });
        local.throttleNextItems(3);
        const c = record("INSERT", "t-c");
        expect(await index40([c], settings({ itemRetries: 2 }))).toEqual({ batchItemFailures: [{ itemIdentifier: seq(c) }] });
        expect(logs.map(([m]) => m)).toContain("search documents still throttled or failing after retries");
        // A delete of a document that is not there is not a failure.
        expect(await index40([record("REMOVE", "never-indexed")], settings())).toEqual({ batchItemFailures: [] });
    });

    /** One invocation of a fresh indexer (the index exists by now). */
    function index40(records: DynamoDBRecord[], s: OpenSearchIndexerSettings) {
        return createOpenSearchIndexer(client, s)({ Records: records });
    }
});
