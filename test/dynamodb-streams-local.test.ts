/**
 * Proves local/dynamodb.ts: writes through the real `@aws-sdk/client-dynamodb` / lib-dynamodb produce the
 * stream records DynamoDB Streams would (read back with the real `@aws-sdk/client-dynamodb-streams`), and
 * `mapStream` delivers them with the event source mapping's semantics.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DeleteItemCommand, DescribeTableCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import {
    DescribeStreamCommand,
    DynamoDBStreamsClient,
    GetRecordsCommand,
    GetShardIteratorCommand,
    ListStreamsCommand,
    type _Record,
} from "@aws-sdk/client-dynamodb-streams";
import { BatchWriteCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { createTableInput, startLocalDynamoDb, streamMappingSettings, type LocalDynamoDb, type StreamFailureMessage, type StreamMapping } from "../local/dynamodb";
import { NOTES_TABLE_KEYS } from "../infra/data";

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const clients = (url: string) => {
    const raw = new DynamoDBClient({ endpoint: url, region: "us-east-1", credentials });
    return { raw, doc: DynamoDBDocumentClient.from(raw), streams: new DynamoDBStreamsClient({ endpoint: url, region: "us-east-1", credentials }) };
};

/** Every record of a table's stream, from TRIM_HORIZON, through the Streams API. */
async function readStream(streams: DynamoDBStreamsClient, tableName: string, limit?: number): Promise<_Record[]> {
    const { Streams } = await streams.send(new ListStreamsCommand({ TableName: tableName }));
    const streamArn = Streams?.[0]?.StreamArn as string;
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const shardId = StreamDescription?.Shards?.[0]?.ShardId as string;
    let iterator = (await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }))).ShardIterator;
    const records: _Record[] = [];
    for (;;) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }));
        records.push(...(page.Records ?? []));
        if (!page.Records?.length) return records;
        iterator = page.NextShardIterator;
    }
}

const notes = (table: string, view = "NEW_AND_OLD_IMAGES") => createTableInput(table, { ...NOTES_TABLE_KEYS, streamEnabled: true, streamViewType: view });

describe("local DynamoDB streams: records and the Streams API", () => {
    let db: LocalDynamoDb;
    let c: ReturnType<typeof clients>;
    beforeAll(async () => {
        db = await startLocalDynamoDb();
        c = clients(db.url);
        await db.createTable(notes("notes"));
        await db.createTable(notes("keys", "KEYS_ONLY"));
        await db.createTable(notes("old", "OLD_IMAGE"));
        await db.createTable(notes("returns"));
        await db.createTable(createTableInput("plain", { hashKey: "id", attributes: [{ name: "id", type: "S" }] }));
    });
    afterAll(async () => {
        c.raw.destroy();
        c.streams.destroy();
        await db.stop();
    });

    test("DescribeTable answers the stream as DynamoDB does; createTable is idempotent", async () => {
        await db.createTable(notes("notes"));
        const { Table } = await c.raw.send(new DescribeTableCommand({ TableName: "notes" }));
        expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" });
        expect(Table?.LatestStreamArn).toMatch(/^arn:aws:dynamodb:us-east-1:123456789012:table\/notes\/stream\/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/);
        expect(Table?.LatestStreamArn?.endsWith(`/stream/${Table?.LatestStreamLabel}`)).toBe(true);
        const plain = await c.raw.send(new DescribeTableCommand({ TableName: "plain" }));
        expect(plain.Table?.LatestStreamArn).toBeUndefined();
    });

    test("writes produce INSERT, MODIFY, REMOVE with the images, in order; no-op and failed writes none", async () => {
        const key = { ownerId: "o1", noteId: "n1" };
        await c.doc.send(new PutCommand({ TableName: "notes", Item: { ...key, createdAt: "2026-01-01", body: "a" } }));
        await c.doc.send(new PutCommand({ TableName: "notes", Item: { ...key, createdAt: "2026-01-01", body: "a" } })); // unchanged
        await expect(
            c.doc.send(new PutCommand({ TableName: "notes", Item: { ...key, createdAt: "x" }, ConditionExpression: "attribute_not_exists(ownerId)" })),
        ).rejects.toThrow(expect.objectContaining({ name: "ConditionalCheckFailedException" }));
        const updated = await c.doc.send(
            new UpdateCommand({ TableName: "notes", Key: key, UpdateExpression: "SET body = :b", ExpressionAttributeValues: { ":b": "b" }, ReturnValues: "ALL_OLD" }),
        );
        expect(updated.Attributes?.body).toBe("a"); // the client's own ReturnValues, untouched
        await c.doc.send(new DeleteCommand({ TableName: "notes", Key: key }));
        await c.doc.send(new DeleteCommand({ TableName: "notes", Key: key })); // nothing to delete
        await c.doc.send(
            new BatchWriteCommand({
                RequestItems: {
                    notes: [{ PutRequest: { Item: { ownerId: "o2", noteId: "a", createdAt: "t" } } }, { PutRequest: { Item: { ownerId: "o2", noteId: "b", createdAt: "t" } } }],
                    plain: [{ PutRequest: { Item: { id: "p" } } }],
                },
            }),
        );
        const records = await readStream(c.streams, "notes", 2);
        expect(records.map((r) => r.eventName)).toEqual(["INSERT", "MODIFY", "REMOVE", "INSERT", "INSERT"]);
        const [insert, modify, remove] = records;
        expect(insert.dynamodb?.Keys).toEqual({ ownerId: { S: "o1" }, noteId: { S: "n1" } });
        expect(insert.dynamodb?.OldImage).toBeUndefined();
        expect(insert.dynamodb?.NewImage?.body).toEqual({ S: "a" });
        expect(modify.dynamodb?.OldImage?.body).toEqual({ S: "a" });
        expect(modify.dynamodb?.NewImage?.body).toEqual({ S: "b" });
        expect(remove.dynamodb?.NewImage).toBeUndefined();
        expect(remove.dynamodb?.OldImage?.body).toEqual({ S: "b" });
        for (const r of records) {
            expect(r).toMatchObject({ eventSource: "aws:dynamodb", eventVersion: "1.1", awsRegion: "us-east-1" });
            expect(r.eventID).toMatch(/^[0-9a-f]{32}$/);
            expect(r.dynamodb?.StreamViewType).toBe("NEW_AND_OLD_IMAGES");
            expect(r.dynamodb?.SizeBytes).toBeGreaterThan(0);
            expect(r.dynamodb?.ApproximateCreationDateTime).toBeInstanceOf(Date); // epoch seconds on the wire
        }
        const sequences = records.map((r) => BigInt(r.dynamodb?.SequenceNumber as string));
        expect([...sequences].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequences);
        expect(new Set(sequences).size).toBe(sequences.length);
    });

    test("the caller gets only the ReturnValues it asked for; images carry the item as stored", async () => {
        const key = { ownerId: { S: "returns" }, noteId: { S: "1" } };
        const put = (n: string, extra: Record<string, unknown> = {}) =>
            c.raw.send(new PutItemCommand({ TableName: "returns", Item: { ...key, createdAt: { S: "t" }, n: { N: n } }, ...extra }));
        expect((await put("1.50")).Attributes).toBeUndefined(); // nothing was there
        expect((await put("2")).Attributes).toBeUndefined(); // an item was there, but NONE was asked
        expect((await put("3", { ReturnValues: "ALL_OLD" })).Attributes?.n).toEqual({ N: "2" });
        const updated = await c.raw.send(
            new UpdateItemCommand({ TableName: "returns", Key: key, UpdateExpression: "SET n = :n", ExpressionAttributeValues: { ":n": { N: "4" } }, ReturnValues: "UPDATED_NEW" }),
        );
        expect(updated.Attributes).toEqual({ n: { N: "4" } });
        expect((await c.raw.send(new DeleteItemCommand({ TableName: "returns", Key: key }))).Attributes).toBeUndefined();
        const records = await readStream(c.streams, "returns");
        expect(records.map((r) => [r.eventName, r.dynamodb?.OldImage?.n?.N, r.dynamodb?.NewImage?.n?.N])).toEqual([
            ["INSERT", undefined, "1.5"], // DynamoDB keeps numbers normalised: 1.50 is stored and streamed as 1.5
            ["MODIFY", "1.5", "2"],
            ["MODIFY", "2", "3"],
            ["MODIFY", "3", "4"],
            ["REMOVE", "4", undefined],
        ]);
    });

    test("view types: KEYS_ONLY carries keys only, OLD_IMAGE the item before", async () => {
        const item = { ownerId: "k", noteId: "1", createdAt: "t", body: "x" };
        for (const table of ["keys", "old"]) {
            await c.doc.send(new PutCommand({ TableName: table, Item: item }));
            await c.doc.send(new PutCommand({ TableName: table, Item: { ...item, body: "y" } }));
        }
        const keys = await readStream(c.streams, "keys");
        expect(keys.map((r) => [r.eventName, r.dynamodb?.NewImage, r.dynamodb?.OldImage])).toEqual([["INSERT", undefined, undefined], ["MODIFY", undefined, undefined]]);
        const old = await readStream(c.streams, "old");
        expect(old.map((r) => [r.dynamodb?.NewImage, r.dynamodb?.OldImage?.body])).toEqual([[undefined, undefined], [undefined, { S: "x" }]]);
    });

    test("shard iterators: AT/AFTER_SEQUENCE_NUMBER, LATEST, unknown streams", async () => {
        const { Streams } = await c.streams.send(new ListStreamsCommand({}));
        expect(Streams?.map((s) => s.TableName).sort()).toEqual(["keys", "notes", "old", "returns"]);
        const streamArn = Streams?.find((s) => s.TableName === "keys")?.StreamArn as string;
        const { StreamDescription } = await c.streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
        expect(StreamDescription).toMatchObject({ StreamStatus: "ENABLED", StreamViewType: "KEYS_ONLY", TableName: "keys" });
        expect(StreamDescription?.Shards).toHaveLength(1);
        expect(StreamDescription?.Shards?.[0].SequenceNumberRange?.EndingSequenceNumber).toBeUndefined(); // open
        const ShardId = StreamDescription?.Shards?.[0].ShardId as string;
        const all = await readStream(c.streams, "keys");
        const first = all[0].dynamodb?.SequenceNumber as string;
        const at = await c.streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId, ShardIteratorType: "AT_SEQUENCE_NUMBER", SequenceNumber: first }));
        expect((await c.streams.send(new GetRecordsCommand({ ShardIterator: at.ShardIterator }))).Records?.map((r) => r.eventName)).toEqual(["INSERT", "MODIFY"]);
        const after = await c.streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId, ShardIteratorType: "AFTER_SEQUENCE_NUMBER", SequenceNumber: first }));
        expect((await c.streams.send(new GetRecordsCommand({ ShardIterator: after.ShardIterator }))).Records?.map((r) => r.eventName)).toEqual(["MODIFY"]);
        const latest = await c.streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId, ShardIteratorType: "LATEST" }));
        const empty = await c.streams.send(new GetRecordsCommand({ ShardIterator: latest.ShardIterator }));
        expect(empty.Records).toEqual([]);
        await c.doc.send(new DeleteCommand({ TableName: "keys", Key: { ownerId: "k", noteId: "1" } }));
        expect((await c.streams.send(new GetRecordsCommand({ ShardIterator: empty.NextShardIterator }))).Records?.map((r) => r.eventName)).toEqual(["REMOVE"]);
        await expect(c.streams.send(new GetRecordsCommand({ ShardIterator: latest.ShardIterator, Limit: 1001 }))).rejects.toThrow(expect.objectContaining({ name: "ValidationException" }));
        await expect(c.streams.send(new DescribeStreamCommand({ StreamArn: `${streamArn}x` }))).rejects.toThrow(expect.objectContaining({ name: "ResourceNotFoundException" }));
    });
});

describe("local DynamoDB streams: retention and iterator expiry", () => {
    test("TrimmedDataAccessException past 24 h, ExpiredIteratorException after 15 minutes", async () => {
        let offset = 0;
        const db = await startLocalDynamoDb({ now: () => Date.now() + offset });
        const c = clients(db.url);
        try {
            await db.createTable(notes("trimmed"));
            await c.doc.send(new PutCommand({ TableName: "trimmed", Item: { ownerId: "a", noteId: "1", createdAt: "t" } }));
            const [old] = await readStream(c.streams, "trimmed");
            const { Streams } = await c.streams.send(new ListStreamsCommand({ TableName: "trimmed" }));
            const StreamArn = Streams?.[0].StreamArn as string;
            const ShardId = (await c.streams.send(new DescribeStreamCommand({ StreamArn }))).StreamDescription?.Shards?.[0].ShardId as string;
            const iterator = (await c.streams.send(new GetShardIteratorCommand({ StreamArn, ShardId, ShardIteratorType: "TRIM_HORIZON" }))).ShardIterator;
            offset = 16 * 60 * 1000;
            await expect(c.streams.send(new GetRecordsCommand({ ShardIterator: iterator }))).rejects.toThrow(expect.objectContaining({ name: "ExpiredIteratorException" }));
            offset = 25 * 60 * 60 * 1000;
            await c.doc.send(new PutCommand({ TableName: "trimmed", Item: { ownerId: "a", noteId: "2", createdAt: "t" } }));
            await expect(
                c.streams.send(new GetShardIteratorCommand({ StreamArn, ShardId, ShardIteratorType: "AT_SEQUENCE_NUMBER", SequenceNumber: old.dynamodb?.SequenceNumber })),
            ).rejects.toThrow(expect.objectContaining({ name: "TrimmedDataAccessException" }));
            expect((await readStream(c.streams, "trimmed")).map((r) => r.dynamodb?.Keys?.noteId)).toEqual([{ S: "2" }]);
        } finally {
            c.raw.destroy();
            c.streams.destroy();
            await db.stop();
        }
    });
});

describe("local DynamoDB streams: the event source mapping", () => {
    let db: LocalDynamoDb;
    let c: ReturnType<typeof clients>;
    let tables = 0;
    beforeAll(async () => {
        db = await startLocalDynamoDb();
        c = clients(db.url);
    });
    afterAll(async () => {
        c.raw.destroy();
        c.streams.destroy();
        await db.stop();
    });

    /** A fresh stream-enabled table with `n` notes written, and a mapping on it; `handler` sees each event. */
    async function mapped(n: number, settings: Partial<StreamMapping>, handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>) {
        const table = `mapped-${++tables}`;
        await db.createTable(notes(table));
        const events: string[][] = [];
        const failures: StreamFailureMessage[] = [];
        for (let i = 0; i < n; i++) await c.doc.send(new PutCommand({ TableName: table, Item: { ownerId: "o", noteId: `n${i}`, createdAt: "t" } }));
        const mapping = db.mapStream({
            tableName: table,
            retryDelayMs: 0,
            ...settings,
            invoke: async (event) => {
                events.push(event.Records.map((r) => (r.dynamodb?.Keys?.noteId as { S: string }).S));
                return handler(event);
            },
            onFailure: async (message) => {
                failures.push(message);
            },
        });
        return { table, events, failures, mapping };
    }

    test("settings come from the event source mapping's inputs, with Lambda's defaults", () => {
        expect(
            streamMappingSettings({
                startingPosition: "TRIM_HORIZON", batchSize: 50, maximumBatchingWindowInSeconds: 2, bisectBatchOnFunctionError: true,
                functionResponseTypes: ["ReportBatchItemFailures"], maximumRetryAttempts: 3, maximumRecordAgeInSeconds: 600,
            }),
        ).toEqual({ batchSize: 50, batchWindowSeconds: 2, maxRetryAttempts: 3, maxRecordAgeSeconds: 600, bisectBatchOnFunctionError: true, reportBatchItemFailures: true, startingPosition: "TRIM_HORIZON" });
        expect(streamMappingSettings({})).toEqual({
            batchSize: 100, batchWindowSeconds: 0, maxRetryAttempts: -1, maxRecordAgeSeconds: -1, bisectBatchOnFunctionError: false, reportBatchItemFailures: false, startingPosition: "TRIM_HORIZON",
        });
        expect(() => streamMappingSettings({ startingPosition: "AT_TIMESTAMP" })).toThrow(/TRIM_HORIZON or LATEST/);
    });

    test("batches in order up to batchSize, with the Lambda event shape", async () => {
        let seen: DynamoDBStreamEvent | undefined;
        const { events, mapping } = await mapped(5, { batchSize: 2 }, async (event) => {
            seen ??= event;
        });
        await mapping.idle();
        await mapping.stop();
        expect(events).toEqual([["n0", "n1"], ["n2", "n3"], ["n4"]]);
        expect(seen?.Records[0]).toMatchObject({ eventName: "INSERT", eventSource: "aws:dynamodb", eventSourceARN: expect.stringMatching(/:table\/mapped-1\/stream\//) });
        expect(typeof seen?.Records[0].dynamodb?.ApproximateCreationDateTime).toBe("number");
    });

    test("a partial batch response is retried from the lowest failed record", async () => {
        let first = true;
        const { events, failures, mapping } = await mapped(4, { batchSize: 4, reportBatchItemFailures: true }, async (event) => {
            if (!first) return { batchItemFailures: [] };
            first = false;
            return { batchItemFailures: [3, 1].map((i) => ({ itemIdentifier: event.Records[i].dynamodb?.SequenceNumber as string })) };
        });
        await mapping.idle();
        await mapping.stop();
        expect(events).toEqual([["n0", "n1", "n2", "n3"], ["n1", "n2", "n3"]]);
        expect(failures).toEqual([]);
    });

    test("function errors bisect the batch down to the bad record, which goes to onFailure after its retries", async () => {
        const { events, failures, mapping } = await mapped(4, { batchSize: 4, bisectBatchOnFunctionError: true, maxRetryAttempts: 1 }, async (event) => {
            if (event.Records.some((r) => (r.dynamodb?.Keys?.noteId as { S: string }).S === "n2")) throw new Error("bad record");
        });
        await mapping.idle();
        await mapping.stop();
        expect(events).toEqual([["n0", "n1", "n2", "n3"], ["n0", "n1"], ["n2", "n3"], ["n2"], ["n2"], ["n3"]]);
        expect(failures).toHaveLength(1);
        const [failure] = failures;
        expect(failure).toEqual({
            requestContext: { requestId: expect.any(String), functionArn: expect.stringMatching(/^arn:aws:lambda:us-east-1:123456789012:function:/), condition: "RetryAttemptsExhausted", approximateInvokeCount: 2 },
            responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
            version: "1.0",
            timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
            DDBStreamBatchInfo: {
                shardId: expect.stringMatching(/^shardId-\d{20}-[0-9a-f]{8}$/),
                startSequenceNumber: expect.any(String),
                endSequenceNumber: expect.any(String),
                approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
                approximateArrivalOfLastRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
                batchSize: 1,
                streamArn: expect.stringMatching(/:table\/mapped-\d+\/stream\//),
            },
        });
        // The message points at the record on the stream (the replay reads it back from there).
        const records = await readStream(c.streams, `mapped-${tables}`);
        expect(records.find((r) => r.dynamodb?.SequenceNumber === failure.DDBStreamBatchInfo.startSequenceNumber)?.dynamodb?.Keys?.noteId).toEqual({ S: "n2" });
    });

    test("without bisection the whole batch is retried, then sent to onFailure, and processing continues", async () => {
        const { table, events, failures, mapping } = await mapped(2, { batchSize: 10, maxRetryAttempts: 2 }, async (event) => {
            if (event.Records.length === 2) throw new Error("always");
        });
        await mapping.idle();
        expect(events).toEqual([["n0", "n1"], ["n0", "n1"], ["n0", "n1"]]);
        expect(failures.map((f) => [f.requestContext.approximateInvokeCount, f.DDBStreamBatchInfo.batchSize])).toEqual([[3, 2]]);
        await c.doc.send(new PutCommand({ TableName: table, Item: { ownerId: "o", noteId: "later", createdAt: "t" } }));
        await mapping.idle();
        await mapping.stop();
        expect(events.at(-1)).toEqual(["later"]);
    });

    test("the batch window gathers records written within it into one batch; LATEST skips older records", async () => {
        const { table, events, mapping } = await mapped(1, { batchSize: 10, batchWindowSeconds: 1, startingPosition: "LATEST" }, async () => undefined);
        await c.doc.send(new PutCommand({ TableName: table, Item: { ownerId: "o", noteId: "w1", createdAt: "t" } }));
        await c.doc.send(new PutCommand({ TableName: table, Item: { ownerId: "o", noteId: "w2", createdAt: "t" } }));
        await mapping.idle();
        await mapping.stop();
        expect(events).toEqual([["w1", "w2"]]);
    });
});

describe("local DynamoDB streams: record age", () => {
    test("records older than maxRecordAgeSeconds go to onFailure (RecordAgeExceeded) without an invocation", async () => {
        let offset = 0;
        const db = await startLocalDynamoDb({ now: () => Date.now() + offset });
        const c = clients(db.url);
        try {
            await db.createTable(notes("aged"));
            for (const noteId of ["1", "2"]) await c.doc.send(new PutCommand({ TableName: "aged", Item: { ownerId: "a", noteId, createdAt: "t" } }));
            offset = 2 * 60 * 60 * 1000;
            const invoked: number[] = [];
            const failures: StreamFailureMessage[] = [];
            const mapping = db.mapStream({
                tableName: "aged",
                maxRecordAgeSeconds: 3600,
                invoke: async (event) => {
                    invoked.push(event.Records.length);
                },
                onFailure: async (message) => {
                    failures.push(message);
                },
            });
            await mapping.idle();
            await mapping.stop();
            expect(invoked).toEqual([]);
            expect(failures.map((f) => [f.requestContext.condition, f.requestContext.approximateInvokeCount, f.DDBStreamBatchInfo.batchSize])).toEqual([["RecordAgeExceeded", 0, 2]]);
        } finally {
            c.raw.destroy();
            c.streams.destroy();
            await db.stop();
        }
    });
});

describe("local DynamoDB: a restart with the same dataDir", () => {
    test("keeps tables, items, the stream and the mapping's checkpoint", async () => {
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "local-dynamodb-"));
        const delivered: string[] = [];
        const mapping = (db: LocalDynamoDb) =>
            db.mapStream({
                tableName: "notes",
                invoke: async (event) => {
                    delivered.push(...event.Records.map((r) => r.eventName as string));
                },
                onFailure: async () => undefined,
            });
        try {
            let db = await startLocalDynamoDb({ dataDir });
            let c = clients(db.url);
            await db.createTable(notes("notes"));
            await c.raw.send(new PutItemCommand({ TableName: "notes", Item: { ownerId: { S: "o" }, noteId: { S: "1" }, createdAt: { S: "t" } } }));
            let m = mapping(db);
            await m.idle();
            const before = await readStream(c.streams, "notes");
            c.raw.destroy();
            c.streams.destroy();
            await db.stop();

            db = await startLocalDynamoDb({ dataDir });
            c = clients(db.url);
            await db.createTable(notes("notes")); // exists: no-op
            expect((await c.doc.send(new GetCommand({ TableName: "notes", Key: { ownerId: "o", noteId: "1" } }))).Item?.createdAt).toBe("t");
            await c.doc.send(new DeleteCommand({ TableName: "notes", Key: { ownerId: "o", noteId: "1" } }));
            const after = await readStream(c.streams, "notes");
            expect(after.slice(0, 1)).toEqual(before);
            expect(after.map((r) => r.eventName)).toEqual(["INSERT", "REMOVE"]);
            expect(BigInt(after[1].dynamodb?.SequenceNumber as string)).toBeGreaterThan(BigInt(after[0].dynamodb?.SequenceNumber as string));
            m = mapping(db);
            await m.idle();
            expect(delivered).toEqual(["INSERT", "REMOVE"]); // from the checkpoint: the INSERT is not delivered twice
            c.raw.destroy();
            c.streams.destroy();
            await db.stop();
        } finally {
            fs.rmSync(dataDir, { recursive: true, force: true });
        }
    });
});
