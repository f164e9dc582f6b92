/**
 * `npm run replay` (cli/replay.ts) against the local DynamoDB (local/dynamodb.ts), the local OpenSearch endpoint
 * and the local SQS endpoint. The notes table's stream is the one that server captured: the command reads the
 * failed batches back through the real DynamoDB Streams client, and a batch older than the stream's retention
 * is trimmed by moving the server's clock. The Lambda client is mocked as a tiny local invoke of the sender's
 * logic (functions/notifications.ts, SNS mocked): a message is deleted only when its work succeeded.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DeleteItemCommand, PutItemCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { DescribeStreamCommand, DynamoDBStreamsClient, type GetShardIteratorCommandInput } from "@aws-sdk/client-dynamodb-streams";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { PublishCommand, SNSClient, ThrottledException, type PublishCommandInput } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { main, replayQueue, type ReplayOptions } from "../cli/replay";
import { sendNotification, type NotificationSettings } from "../functions/notifications";
import type { NotificationRequestEvent } from "../functions/notification-schema";
import { createOpenSearchIndexer } from "../functions/opensearch";
import { createOpenSearchClient } from "../functions/opensearch-client";
import { LIMITS_TABLE_KEYS, NOTES_TABLE_KEYS } from "../infra/data";
import { NOTES_STREAM_VIEW_TYPE } from "../infra/declarations";
import { BLOCKS_TABLE_KEYS, DEVICES_TABLE_KEYS } from "../infra/notifications";
import { STREAM_RETENTION_MS, type StreamFailureMessage } from "../local/dynamodb";
import { start as startOpenSearch, type LocalOpenSearch } from "../local/opensearch";
import { start as startSqs, type LocalSqs } from "../local/sqs";
import { createTable, startDynamo, type LocalDynamo } from "./support/dynamodb";
import { tapStream, type StreamTap } from "./support/streams";

const CREDENTIALS = { accessKeyId: "AKIDREPLAY", secretAccessKey: "replay-secret" };
const MEDIA = "https://d1234abcd.cloudfront.net";
const TABLE = "replay-notes";
/** The notes table as the program declares it: its stream carries old and new images. */
const NOTES_TABLE = { ...NOTES_TABLE_KEYS, streamEnabled: true, streamViewType: NOTES_STREAM_VIEW_TYPE } as const;
const PUSH_TABLES = { devices: "replay-devices", blocks: "replay-blocks", limits: "replay-limits" };
const SENDER_NAME = "mobile-backend-dev-notifications-sender-1a2b3c";
const SENDER_ARN = `arn:aws:lambda:us-east-1:123456789012:function:${SENDER_NAME}:$LATEST`;
const TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:mobile-backend-dev-notifications";
const owner = "us-east-1:aaaaaaaa-0000-4000-8000-00000000000a";

let dynamo: LocalDynamo;
let opensearch: LocalOpenSearch;
let sqs: LocalSqs;
let sqsClient: SQSClient;
let streams: DynamoDBStreamsClient;
let tap: StreamTap;
let tmp: string;
/** Added to the local DynamoDB's clock: a test ages records past the stream's retention with it. */
let clockOffset = 0;
const lambdaMock = mockClient(LambdaClient);
const snsMock = mockClient(SNSClient);
const lambda = new LambdaClient({ region: "us-east-1", credentials: CREDENTIALS });
/** The notes table's stream: every change's record, oldest first, as the local DynamoDB delivered it. */
const shard: DynamoDBRecord[] = [];
/** Every GetShardIterator request `streams` sent (the replay reads the stream with it). */
const iteratorRequests: GetShardIteratorCommandInput[] = [];
const savedEnv = { ...process.env };

const indexer = (index: string, endpoint = opensearch.endpoint) =>
    createOpenSearchIndexer(createOpenSearchClient({ endpoint, region: "us-east-1", credentials: () => CREDENTIALS }), {
        mediaBaseUrl: MEDIA,
        index,
        replicas: 0,
        retryDelayMs: 1,
        log: () => undefined,
    });

function note(noteId: string, text: string): Record<string, AttributeValue> {
    return {
        ownerId: { S: owner },
        noteId: { S: noteId },
        headline: { S: `Headline ${noteId}` },
        text: { S: text },
        createdAt: { S: "2026-01-01T00:00:00.000Z" },
        updatedAt: { S: "2026-01-01T00:00:00.000Z" },
    };
}

/** Writes (or, with `text` null, deletes) a note in a table. */
async function write(table: string, noteId: string, text: string | null): Promise<void> {
    if (text !== null) await dynamo.client.send(new PutItemCommand({ TableName: table, Item: note(noteId, text) }));
    else await dynamo.client.send(new DeleteItemCommand({ TableName: table, Key: { ownerId: { S: owner }, noteId: { S: noteId } } }));
}

/** Changes a note in the notes table and returns the stream record the local DynamoDB captured of it (also kept in {@link shard}). */
async function change(noteId: string, text: string | null): Promise<DynamoDBRecord> {
    await write(TABLE, noteId, text);
    const record = await tap.takeOne({ ownerId: owner, noteId });
    shard.push(record);
    return record;
}

/**
 * The on-failure invocation record of a stream batch, as the event source mapping sends it to SQS: where the
 * records are on the stream (its ARN, its shard, the sequence numbers), never the records themselves. Built
 * here from the records the local stream holds, rather than by a failing mapping, so that a test chooses
 * which records make up the batch.
 */
async function batchMessage(records: DynamoDBRecord[]): Promise<StreamFailureMessage> {
    const first = records[0];
    const last = records[records.length - 1];
    const streamArn = first.eventSourceARN as string;
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const arrival = (r: DynamoDBRecord) => new Date((r.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    return {
        requestContext: { requestId: "316aa6d0-8154-4ad1-9af7-85d5f4a6bc81", functionArn: "arn:aws:lambda:us-east-1:123456789012:function:indexer", condition: "RetryAttemptsExhausted", approximateInvokeCount: 3 },
        responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
        version: "1.0",
        timestamp: "2026-01-01T00:00:05.000Z",
        DDBStreamBatchInfo: {
            shardId: StreamDescription?.Shards?.[0]?.ShardId as string,
            startSequenceNumber: first.dynamodb?.SequenceNumber as string,
            endSequenceNumber: last.dynamodb?.SequenceNumber as string,
            approximateArrivalOfFirstRecord: arrival(first),
            approximateArrivalOfLastRecord: arrival(last),
            batchSize: records.length,
            streamArn,
        },
    };
}

beforeAll(async () => {
    for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
    dynamo = await startDynamo({ now: () => Date.now() + clockOffset });
    opensearch = await startOpenSearch({ verifySignature: { secretAccessKey: CREDENTIALS.secretAccessKey, region: "us-east-1" } });
    sqs = await startSqs({ accountId: "123456789012" });
    sqsClient = new SQSClient({ endpoint: sqs.url, region: "us-east-1", credentials: CREDENTIALS });
    // The local DynamoDB answers the DynamoDB Streams API on the same port.
    streams = new DynamoDBStreamsClient({ endpoint: dynamo.endpoint, region: "us-east-1", credentials: CREDENTIALS });
    streams.middlewareStack.add(
        (next, context) => async (args) => {
            if (context.commandName === "GetShardIteratorCommand") iteratorRequests.push(args.input as GetShardIteratorCommandInput);
            return next(args);
        },
        { step: "initialize", name: "recordShardIteratorRequests" },
    );
    await createTable(dynamo.client, TABLE, NOTES_TABLE);
    await createTable(dynamo.client, PUSH_TABLES.devices, DEVICES_TABLE_KEYS);
    await createTable(dynamo.client, PUSH_TABLES.blocks, BLOCKS_TABLE_KEYS);
    await createTable(dynamo.client, PUSH_TABLES.limits, LIMITS_TABLE_KEYS);
    tap = tapStream(dynamo, TABLE);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "replay-"));
    // The command builds its own clients from the environment, as it would in a shell ("Service-specific
    // endpoints", AWS SDKs and Tools reference guide: AWS_ENDPOINT_URL_<SERVICE>).
    Object.assign(process.env, {
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS: dynamo.endpoint,
        AWS_ENDPOINT_URL_SQS: sqs.url,
        AWS_EC2_METADATA_DISABLED: "true",
    });
});

afterAll(async () => {
    process.env = savedEnv;
    lambdaMock.restore();
    snsMock.restore();
    sqsClient?.destroy();
    streams?.destroy();
    await sqs?.stop();
    await opensearch?.stop();
    await dynamo?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
});

async function replay(options: Partial<ReplayOptions> & Pick<ReplayOptions, "queue" | "queueUrl">) {
    const lines: string[] = [];
    const summary = await replayQueue({ sqs: sqsClient, dynamo: dynamo.client, streams, lambda }, { waitSeconds: 0, print: (l) => lines.push(l), ...options });
    return { summary, lines };
}

/** Runs the command in process (its own clients: the local endpoints through AWS_ENDPOINT_URL_*); output and status. */
async function command(outputs: Record<string, unknown>, args: string[]): Promise<{ code: number; output: string }> {
    const file = path.join(tmp, `outputs-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(file, JSON.stringify(outputs));
    const lines: string[] = [];
    const log = jest.spyOn(console, "log").mockImplementation((l: string) => void lines.push(l));
    const error = jest.spyOn(console, "error").mockImplementation((l: string) => void lines.push(l));
    try {
        const code = await main(["--outputs", file, ...args]);
        return { code, output: lines.join("\n") };
    } finally {
        log.mockRestore();
        error.mockRestore();
    }
}

const stackOutputs = (over: Record<string, unknown> = {}) => ({
    region: "us-east-1",
    notesTable: TABLE,
    mediaBaseUrl: MEDIA,
    searchEngine: { engine: "opensearch", domainName: "mobile-backend-dev", endpoint: opensearch.endpoint, index: "notes-cli", indexReplicas: 0 },
    failureQueueUrls: { search: sqs.queueUrl("cli-search"), push: sqs.queueUrl("cli-push") },
    notificationsSender: SENDER_NAME,
    ...over,
});

describe("search", () => {
    test("a batch whose notes were edited or deleted since: the index gets the table's current state; the message is deleted", async () => {
        const index = "notes-edited";
        // The batch the indexer gave up on: three new notes. The index already had a stale copy of note b.
        const batch = [await change("a", "first text of a"), await change("b", "first text of b"), await change("c", "text of c")];
        expect(batch.map((r) => r.eventName)).toEqual(["INSERT", "INSERT", "INSERT"]);
        await indexer(index)({ Records: [batch[1]] });
        // Since then: a was edited, b deleted (the records of those changes come after the batch).
        await change("a", "edited text of a");
        await change("b", null);
        const queueUrl = sqs.createQueue("search-edited");
        const failure = await batchMessage(batch);
        expect(failure.DDBStreamBatchInfo.streamArn).toMatch(new RegExp(`^arn:aws:dynamodb:us-east-1:123456789012:table/${TABLE}/stream/`));
        sqs.send("search-edited", JSON.stringify(failure));
        iteratorRequests.length = 0;

        const { summary, lines } = await replay({ queue: "search", queueUrl, search: { tableName: TABLE, index: indexer(index) } });
        expect(summary).toEqual({ received: 1, replayed: 1, failed: 0, unrecognised: 0 });
        expect(lines).toEqual([expect.stringMatching(/: shard shardId-\S+, sequence \d+\.\.\d+ \(3 records\): re-indexed 2 note\(s\), removed 1 deleted since .*; deleted$/)]);
        const docs = opensearch.documents(index);
        expect([...docs.keys()].sort()).toEqual([`${owner}/a`, `${owner}/c`]);
        // The current text, never the batch's stale one.
        expect(docs.get(`${owner}/a`)).toMatchObject({ note_text: "edited text of a" });
        expect(sqs.messages("search-edited")).toEqual([]);
        // The batch is read from where the message says it starts.
        expect(iteratorRequests).toEqual([
            {
                StreamArn: failure.DDBStreamBatchInfo.streamArn,
                ShardId: failure.DDBStreamBatchInfo.shardId,
                ShardIteratorType: "AT_SEQUENCE_NUMBER",
                SequenceNumber: batch[0].dynamodb?.SequenceNumber,
            },
        ]);
    });

    test("records trimmed from the stream: one full reindex for all such messages, then they are deleted", async () => {
        // A notes table of its own, so that the records the other tests replay stay on the notes table's stream.
        const table = `${TABLE}-trimmed`;
        await createTable(dynamo.client, table, NOTES_TABLE);
        const trimmedTap = tapStream(dynamo, table);
        // Two batches the indexer gave up on: notes a and b, then c.
        for (const [noteId, text] of [["a", "first text of a"], ["b", "first text of b"], ["c", "text of c"]]) await write(table, noteId, text);
        const failed = await trimmedTap.take();
        expect(failed.map((r) => r.eventName)).toEqual(["INSERT", "INSERT", "INSERT"]);
        const index = "notes-trimmed";
        const queueUrl = sqs.createQueue("search-trimmed");
        sqs.send("search-trimmed", JSON.stringify(await batchMessage(failed.slice(0, 2))));
        sqs.send("search-trimmed", JSON.stringify(await batchMessage(failed.slice(2, 3))));
        const bulks = () => opensearch.requests.filter((r) => r.path === "/_bulk").length;
        const before = bulks();

        // More than the stream's 24-hour retention later, a is edited and b deleted: those changes' records
        // trim the day-old ones, and the batches can no longer be read (TrimmedDataAccessException).
        clockOffset = STREAM_RETENTION_MS + 60 * 60 * 1000;
        try {
            await write(table, "a", "edited text of a");
            await write(table, "b", null);
            expect((await trimmedTap.take()).map((r) => r.eventName)).toEqual(["MODIFY", "REMOVE"]);

            const { summary, lines } = await replay({ queue: "search", queueUrl, search: { tableName: table, index: indexer(index), reindexSegments: 1 } });
            expect(summary).toEqual({ received: 2, replayed: 2, failed: 0, unrecognised: 0, fullReindex: "done" });
            expect(lines.filter((l) => l.includes("running the full reindex"))).toHaveLength(1);
            expect(lines.filter((l) => l.includes("covered by the full reindex"))).toHaveLength(2);
            expect(lines.filter((l) => l.includes("the records are gone from the stream (trimmed: older than the stream's 24-hour retention)"))).toHaveLength(2);
            // The table now holds a (edited) and c: both indexed, by one scan.
            expect([...opensearch.documents(index).keys()].sort()).toEqual([`${owner}/a`, `${owner}/c`]);
            expect(opensearch.documents(index).get(`${owner}/a`)).toMatchObject({ note_text: "edited text of a" });
            expect(bulks() - before).toBe(1);
            expect(sqs.messages("search-trimmed")).toEqual([]);
        } finally {
            clockOffset = 0;
        }
    });

    test("npm run replay: the engine failing leaves the message in the queue and exits 1", async () => {
        sqs.createQueue("cli-search");
        sqs.createQueue("cli-push");
        // The command reads the batch from the local stream (AWS_ENDPOINT_URL_DYNAMODB_STREAMS), then fails on the engine.
        sqs.send("cli-search", JSON.stringify(await batchMessage(shard.slice(0, 1))));
        // Nothing listens on port 9: the engine is down.
        const down = stackOutputs({ searchEngine: { engine: "opensearch", endpoint: "http://127.0.0.1:9", index: "notes-cli", indexReplicas: 0 } });
        const run = await command(down, ["--queue", "search"]);
        expect(run.output).toMatch(/FAILED re-indexing .*\/a: the search engine refused or could not take .*; left in the queue/);
        expect(run.output).toMatch(/replay: 1 message\(s\): 0 replayed and deleted, 1 failed \(left in the queue\), 0 unrecognised/);
        expect(run.code).toBe(1);
        expect(sqs.messages("cli-search")).toEqual([expect.objectContaining({ receiveCount: 1, visible: false })]);
    });
});

describe("push", () => {
    const recipient = "us-east-1:bbbbbbbb-0000-4000-8000-00000000000b";
    const sender = "us-east-1:cccccccc-0000-4000-8000-00000000000c";
    const phone = `arn:aws:sns:us-east-1:123456789012:endpoint/APNS/mobile-backend-dev/phone`;
    const tablet = `arn:aws:sns:us-east-1:123456789012:endpoint/GCM/mobile-backend-dev/tablet`;
    const settings: NotificationSettings = {
        devicesTable: PUSH_TABLES.devices,
        blocksTable: PUSH_TABLES.blocks,
        topicArn: TOPIC_ARN,
        applications: { ios: { arn: "arn:aws:sns:us-east-1:123456789012:app/APNS/mobile-backend-dev", sandbox: false }, android: { arn: "arn:aws:sns:us-east-1:123456789012:app/GCM/mobile-backend-dev" } },
        limits: { tableName: PUSH_TABLES.limits, writesPerMinute: 60, notificationsSentPerHour: 100, notificationsReceivedPerHour: 200 },
        log: () => undefined,
    };
    let tabletDown = true;
    const publishes = () => snsMock.commandCalls(PublishCommand).map((c) => (c.args[0].input as PublishCommandInput).TargetArn ?? "topic");

    beforeAll(async () => {
        const db = DynamoDBDocumentClient.from(dynamo.client);
        for (const [deviceId, platform, endpointArn] of [["phone", "ios", phone], ["tablet", "android", tablet]]) {
            await db.send(
                new PutCommand({
                    TableName: PUSH_TABLES.devices,
                    Item: { ownerId: recipient, deviceId, platform, token: `token-${deviceId}`, endpointArn, createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z" },
                }),
            );
        }
        const sns = new SNSClient({ region: "us-east-1", credentials: CREDENTIALS });
        snsMock.on(PublishCommand).callsFake((input: PublishCommandInput) => {
            if (tabletDown && input.TargetArn === tablet) throw new ThrottledException({ message: "Rate exceeded", $metadata: {} });
            return { MessageId: "m" };
        });
        // The sender, invoked synchronously: its logic with these clients, an error as Lambda reports an unhandled one.
        lambdaMock.on(InvokeCommand).callsFake(async (input: { Payload?: Uint8Array }) => {
            const event = JSON.parse(Buffer.from(input.Payload as Uint8Array).toString("utf8")) as NotificationRequestEvent;
            try {
                const result = await sendNotification(event, { db, sns }, settings);
                return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(result ?? null)) };
            } catch (err) {
                return { StatusCode: 200, FunctionError: "Unhandled", Payload: Buffer.from(JSON.stringify({ errorType: "Error", errorMessage: (err as Error).message })) };
            }
        });
    });

    /** A notification whose asynchronous attempts failed (the tablet throttled), and its invocation record. */
    async function failedNotification(requestId: string): Promise<{ payload: NotificationRequestEvent; message: string }> {
        const payload: NotificationRequestEvent = { senderId: sender, requestId, body: { recipientId: recipient, message: "Hello" } };
        await expect(sendNotification(payload, { db: DynamoDBDocumentClient.from(dynamo.client), sns: new SNSClient({ region: "us-east-1", credentials: CREDENTIALS }) }, settings)).rejects.toThrow(/deliveries failed/);
        const message = JSON.stringify({
            version: "1.0",
            timestamp: new Date().toISOString(),
            requestContext: { requestId: "e4b46cbf-b738-4ad1-8880-a18cdf61200e", functionArn: SENDER_ARN, condition: "RetriesExhausted", approximateInvokeCount: 3 },
            requestPayload: payload,
            responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
            responsePayload: { errorType: "Error", errorMessage: "1 of 3 notification deliveries failed" },
        });
        return { payload, message };
    }

    test("npm run replay --queue push: the sender is invoked with the original payload, delivers only what was missing, and the message is deleted", async () => {
        tabletDown = true;
        const { payload, message } = await failedNotification("req-replay-1");
        expect(publishes().sort()).toEqual([phone, tablet, "topic"].sort());
        sqs.send("cli-push", message);
        snsMock.resetHistory();
        lambdaMock.resetHistory();
        tabletDown = false;

        const run = await command(stackOutputs(), ["--queue", "push"]);
        expect(run.output).toMatch(/re-sent notification req-replay-1 .* \(RetriesExhausted after 3 attempt\(s\), .*\): 1 of 1 device push\(es\) delivered now; devices already delivered to are skipped \(delivery record\); deleted/);
        expect(run.code).toBe(0);
        const invoke = lambdaMock.commandCalls(InvokeCommand)[0].args[0].input;
        expect(invoke).toMatchObject({ FunctionName: SENDER_NAME, InvocationType: "RequestResponse" });
        expect(JSON.parse(Buffer.from(invoke.Payload as Uint8Array).toString("utf8"))).toEqual(payload);
        // Only the tablet: the phone and the topic had it already.
        expect(publishes()).toEqual([tablet]);
        expect(sqs.messages("cli-push")).toEqual([]);
    });

    test("the sender failing again leaves the message; an unrecognised message is left and reported", async () => {
        tabletDown = true;
        const { message } = await failedNotification("req-replay-2");
        const queueUrl = sqs.createQueue("push-failing");
        sqs.send("push-failing", message);
        sqs.send("push-failing", "not json at all");
        sqs.send("push-failing", JSON.stringify({ requestContext: { functionArn: SENDER_ARN }, requestPayload: { hello: 1 } }));

        const { summary, lines } = await replay({ queue: "push", queueUrl, push: { functionName: SENDER_NAME } });
        expect(summary).toEqual({ received: 3, replayed: 0, failed: 1, unrecognised: 2 });
        expect(lines).toContainEqual(expect.stringMatching(/FAILED re-sending notification req-replay-2 .*: the sender failed \(Unhandled: 1 of 2 notification deliveries failed .*\); left in the queue/));
        expect(lines.filter((l) => l.includes("unrecognised"))).toHaveLength(2);
        expect(sqs.messages("push-failing")).toHaveLength(3);
    });
});

test("a dry run describes every message and changes nothing: no index write, no invocation, no delete; the messages are released", async () => {
    lambdaMock.resetHistory();
    const searchUrl = sqs.createQueue("dry-search");
    const pushUrl = sqs.createQueue("dry-push");
    sqs.send("dry-search", JSON.stringify(await batchMessage(shard.slice(0, 3))));
    sqs.send("dry-search", "{}");
    sqs.send(
        "dry-push",
        JSON.stringify({
            version: "1.0",
            timestamp: "2020-01-01T00:00:00.000Z",
            requestContext: { requestId: "r", functionArn: SENDER_ARN, condition: "EventAgeExceeded", approximateInvokeCount: 1 },
            requestPayload: { senderId: "s", requestId: "req-old", body: { recipientId: "r1", message: "Hi" } },
            responseContext: { statusCode: 200, executedVersion: "$LATEST" },
        }),
    );
    const requests = opensearch.requests.length;

    const search = await replay({ queue: "search", queueUrl: searchUrl, dryRun: true, search: { tableName: TABLE, index: indexer("notes-dry") } });
    expect(search.summary).toEqual({ received: 2, replayed: 0, failed: 0, unrecognised: 1 });
    expect(search.lines).toContainEqual(expect.stringMatching(/would re-index 3 note\(s\) from the table: .*\/a, .*\/b, .*\/c$/));
    const push = await replay({ queue: "push", queueUrl: pushUrl, dryRun: true, push: { functionName: SENDER_NAME } });
    expect(push.lines).toEqual([expect.stringMatching(/would re-send notification req-old from s to r1 .*WARNING: older than the 24 h delivery record/)]);

    expect(opensearch.requests.length).toBe(requests);
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(0);
    for (const queue of ["dry-search", "dry-push"]) {
        expect(sqs.messages(queue).every((m) => m.visible && m.receiveCount === 1)).toBe(true);
    }
    expect(sqs.messages("dry-search")).toHaveLength(2);
    expect(sqs.messages("dry-push")).toHaveLength(1);
});

test("npm run replay: usage and configuration errors exit 2", async () => {
    expect((await command(stackOutputs(), [])).output).toMatch(/--queue search\|push is required\nusage: npm run replay/);
    const none = await command(stackOutputs({ failureQueueUrls: { push: sqs.queueUrl("cli-push") } }), ["--queue", "search"]);
    expect(none).toMatchObject({ code: 2, output: expect.stringMatching(/no search failure queue \(search.engine is none\)/) });
    expect((await command(stackOutputs(), ["--queue", "mail"])).code).toBe(2);
});
