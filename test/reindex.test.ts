/**
 * Rebuilding the search index from the notes table (functions/reindex.ts, cli/reindex.ts) against
 * dynalite and the local OpenSearch endpoint: parallel paginated scan, resume after an interruption and
 * after an outage, idempotence, a refused note listed without blocking the rest, and the command itself.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BatchWriteItemCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { NOTES_TABLE_KEYS } from "../infra/data";
import { start, type LocalOpenSearch } from "../local/opensearch";
import { createOpenSearchIndexer } from "../functions/opensearch";
import { createOpenSearchClient } from "../functions/opensearch-client";
import { reindexTable, type ReindexCheckpoint } from "../functions/reindex";
import { createTable, startDynamo, type LocalDynamo } from "./support/dynamodb";

const ROOT = path.resolve(__dirname, "..");
const CREDENTIALS = { accessKeyId: "AKIDREINDEX", secretAccessKey: "reindex-secret" };
const MEDIA = "https://d1234abcd.cloudfront.net";
const owners = ["us-east-1:aaaaaaaa-0000-4000-8000-000000000001", "us-east-1:aaaaaaaa-0000-4000-8000-000000000002", "us-east-1:aaaaaaaa-0000-4000-8000-000000000003"];

let dynamo: LocalDynamo;
let opensearch: LocalOpenSearch;
let tmp: string;

function note(i: number, createdAt = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString()): Record<string, AttributeValue> {
    return {
        ownerId: { S: owners[i % owners.length] },
        noteId: { S: `note-${String(i).padStart(4, "0")}` },
        headline: { S: `Headline ${i}` },
        text: { S: `Text of note ${i}` },
        createdAt: { S: createdAt },
        updatedAt: { S: createdAt },
        ...(i % 10 === 0 ? { mediaKey: { S: `uploads/${owners[i % owners.length]}/photo-${i}.jpg` } } : {}),
    };
}

async function fill(table: string, items: Record<string, AttributeValue>[]) {
    await createTable(dynamo.client, table, NOTES_TABLE_KEYS);
    for (let i = 0; i < items.length; i += 25) {
        await dynamo.client.send(new BatchWriteItemCommand({ RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
    }
}

function memoryCheckpoint() {
    let saved: string | undefined;
    return {
        load: () => (saved === undefined ? undefined : (JSON.parse(saved) as ReindexCheckpoint)),
        save: (c: ReindexCheckpoint) => {
            saved = JSON.stringify(c);
        },
        current: () => (saved === undefined ? undefined : (JSON.parse(saved) as ReindexCheckpoint)),
    };
}

const indexer = (index: string) =>
    createOpenSearchIndexer(createOpenSearchClient({ endpoint: opensearch.endpoint, region: "us-east-1", credentials: () => CREDENTIALS }), {
        mediaBaseUrl: MEDIA,
        index,
        replicas: 0,
        retryDelayMs: 1,
        log: () => undefined,
    });

beforeAll(async () => {
    dynamo = await startDynamo();
    opensearch = await start({ verifySignature: { secretAccessKey: CREDENTIALS.secretAccessKey, region: "us-east-1" } });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "reindex-"));
});

afterAll(async () => {
    await opensearch?.stop();
    await dynamo?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
});

test("an interrupted run resumes where each segment stopped; every note ends up indexed once, a refused one is listed", async () => {
    const items = Array.from({ length: 250 }, (_, i) => note(i));
    // Written around the API: a date the index mapping refuses.
    const poison = { ...note(999), createdAt: { S: "yesterday" } };
    await fill("notes-a", [...items, poison]);
    const checkpoint = memoryCheckpoint();
    const abort = new AbortController();
    let pages = 0;

    const first = await reindexTable({
        dynamo: dynamo.client,
        tableName: "notes-a",
        totalSegments: 3,
        pageSize: 20,
        index: indexer("notes-a"),
        checkpoint,
        signal: abort.signal,
        retryDelayMs: 1,
        progress: () => {
            if (++pages === 4) abort.abort();
        },
    });
    expect(first).toMatchObject({ resumed: false, complete: false });
    expect(first.scanned).toBeGreaterThanOrEqual(4 * 20);
    expect(first.scanned).toBeLessThan(251);
    const saved = checkpoint.current() as ReindexCheckpoint;
    expect(saved.segments).toHaveLength(3);
    expect(saved.segments.some((s) => s.lastKey !== undefined && !s.done)).toBe(true);
    expect(opensearch.documents("notes-a").size).toBeLessThan(250);

    const bulksBefore = opensearch.requests.filter((r) => r.path === "/_bulk").length;
    const second = await reindexTable({ dynamo: dynamo.client, tableName: "notes-a", totalSegments: 3, pageSize: 20, index: indexer("notes-a"), checkpoint, retryDelayMs: 1 });
    expect(second).toMatchObject({ resumed: true, complete: true, totalScanned: 251 });
    // Nothing was scanned twice: the second run read only what the first had not.
    expect(first.scanned + second.scanned).toBe(251);
    expect(second.failedNotes).toEqual([`${owners[999 % 3]}/note-0999`]);
    const docs = opensearch.documents("notes-a");
    expect(docs.size).toBe(250);
    expect(docs.get(`${owners[0]}/note-0000`)).toEqual({
        doc_id: `${owners[0]}/note-0000`,
        headline: "Headline 0",
        note_text: "Text of note 0",
        user_id: owners[0],
        s3_url: `${MEDIA}/uploads/${encodeURIComponent(owners[0])}/photo-0.jpg`,
        created_at: "2026-01-01T00:00:00.000Z",
    });
    expect(opensearch.requests.filter((r) => r.path === "/_bulk").length).toBeGreaterThan(bulksBefore);

    // Idempotent: running it all again changes nothing but versions.
    const again = await reindexTable({ dynamo: dynamo.client, tableName: "notes-a", totalSegments: 3, pageSize: 50, index: indexer("notes-a"), checkpoint: memoryCheckpoint(), retryDelayMs: 1 });
    expect(again).toMatchObject({ complete: true, totalScanned: 251 });
    expect(opensearch.documents("notes-a")).toEqual(docs);
    // A checkpoint of other settings is refused rather than misread.
    await expect(
        reindexTable({ dynamo: dynamo.client, tableName: "notes-a", totalSegments: 4, index: indexer("notes-a"), checkpoint }),
    ).rejects.toThrow("the checkpoint is for table notes-a in 3 segments");
});

test("an outage stops the segment at the failing page; the next run retries exactly that page", async () => {
    await fill("notes-b", Array.from({ length: 30 }, (_, i) => note(i)));
    const checkpoint = memoryCheckpoint();
    opensearch.failNextRequests("/_bulk", 2, 503);
    const first = await reindexTable({ dynamo: dynamo.client, tableName: "notes-b", totalSegments: 1, pageSize: 100, index: indexer("notes-b"), checkpoint, maxAttempts: 2, retryDelayMs: 1 });
    expect(first).toMatchObject({ complete: false, scanned: 0, failedNotes: [] });
    expect(checkpoint.current()?.segments[0]).toMatchObject({ done: false, scanned: 0 });
    const second = await reindexTable({ dynamo: dynamo.client, tableName: "notes-b", totalSegments: 1, pageSize: 100, index: indexer("notes-b"), checkpoint, retryDelayMs: 1 });
    expect(second).toMatchObject({ resumed: true, complete: true, scanned: 30 });
    expect(opensearch.documents("notes-b").size).toBe(30);
});

/** Runs `npm run reindex -- ...args` as a user would (the TypeScript entry point), with local endpoints. */
function runCommand(args: string[]): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ["-r", path.join(ROOT, "local/register-ts.js"), path.join(ROOT, "cli/reindex.ts"), ...args], {
            cwd: tmp,
            env: {
                PATH: process.env.PATH ?? "",
                AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
                AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
                AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
                AWS_EC2_METADATA_DISABLED: "true",
            },
        });
        let output = "";
        child.stdout.on("data", (c) => (output += c));
        child.stderr.on("data", (c) => (output += c));
        child.on("close", (code) => resolve({ code, output }));
    });
}

test("npm run reindex: reads the stack outputs, prints progress and counts, and removes its checkpoint when done", async () => {
    await fill("notes-c", Array.from({ length: 120 }, (_, i) => note(i)));
    const outputs = path.join(tmp, "outputs.json");
    const stackOutputs = {
        region: "us-east-1",
        notesTable: "notes-c",
        mediaBaseUrl: MEDIA,
        searchEngine: { engine: "opensearch", domainName: "mobile-backend-dev", endpoint: opensearch.endpoint, index: "notes-c", indexReplicas: 0 },
    };
    fs.writeFileSync(outputs, JSON.stringify(stackOutputs));

    const run = await runCommand(["--stack", "dev", "--outputs", outputs, "--segments", "2", "--page-size", "25"]);
    expect(run.output).toMatch(/reindex: table notes-c -> opensearch notes-c \(2 segments, pages of 25; checkpoint \.reindex-dev\.json\)/);
    expect(run.output).toMatch(/reindex: segment [12]\/2: \d+ notes; \d+ in all/);
    expect(run.output).toMatch(/reindex: done: 120 notes uploaded in this run, 120 in all, 0 refused/);
    expect(run.code).toBe(0);
    expect(opensearch.documents("notes-c").size).toBe(120);
    expect(fs.existsSync(path.join(tmp, ".reindex-dev.json"))).toBe(false);

    fs.writeFileSync(outputs, JSON.stringify({ ...stackOutputs, searchEngine: { engine: "none" } }));
    const none = await runCommand(["--outputs", outputs]);
    expect(none.code).toBe(2);
    expect(none.output).toMatch(/search.engine is none on this stage/);
    expect((await runCommand([])).output).toMatch(/--stack \(or --outputs\) is required\nusage: npm run reindex/);
});
