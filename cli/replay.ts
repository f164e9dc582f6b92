/**
 * `npm run replay -- --stack <stage> --queue search|push [--dry-run] [--max N]`: re-does the work each message
 * of a failure queue stands for, and deletes a message only once that work succeeded.
 *
 * - `search` (the notes stream's on-failure destination, infra/search.ts): each message is the invocation record
 *   of a stream batch the indexer gave up on. It holds no records, only where they are: `DDBStreamBatchInfo
 *   {shardId, startSequenceNumber, endSequenceNumber, batchSize, streamArn, ...}` ("Retaining discarded records
 *   for a DynamoDB event source in Lambda", services-dynamodb-errors, Lambda developer guide). The records are
 *   read back from the stream (GetShardIterator AT_SEQUENCE_NUMBER, then GetRecords up to endSequenceNumber),
 *   and each note they name is re-indexed from its CURRENT item in the table (consistent read), or its
 *   document deleted when the note is gone, through the engine's own stream handler (as `npm run reindex`
 *   does): a replay never brings back text that was edited or deleted since. When the stream no longer has the
 *   records (a stream keeps 24 hours: TrimmedDataAccessException, or ResourceNotFoundException when the stream
 *   or shard is gone; DynamoDB Streams API reference, GetShardIterator and GetRecords), the whole table is
 *   reindexed instead, once per run however many messages need it.
 * - `push` (the notification sender's asynchronous on-failure destination, infra/notifications.ts): each message
 *   is an invocation record `{version, timestamp, requestContext {requestId, functionArn, condition,
 *   approximateInvokeCount}, requestPayload, responseContext, responsePayload}` ("Capturing records of Lambda
 *   asynchronous invocations", invocation-async-retain-records, Lambda developer guide). The sender is invoked
 *   again (RequestResponse) with `requestPayload`; it succeeded when the answer has no `FunctionError`. The
 *   sender keeps a delivery record per request id (functions/notifications.ts) for 24 hours from the first
 *   attempt, so a replay within that time skips the devices (and the topic) already delivered to and does not
 *   count against the fair-use limits again; an older message may reach those devices twice, and says so.
 *
 * A message whose work failed is left in the queue (it becomes visible again after the visibility timeout),
 * with the reason printed; an unrecognised message is left and reported. `--dry-run` prints what each message
 * stands for and changes nothing: no index write, no invocation, no delete, and the messages are released
 * (visibility timeout 0) at the end. `--max N` stops after N messages.
 *
 * Exit status: 0 every message replayed, 1 some left in the queue (failed or unrecognised), 2 bad usage or
 * configuration.
 */
import { DynamoDBClient, GetItemCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import {
    DynamoDBStreamsClient,
    GetRecordsCommand,
    GetShardIteratorCommand,
    ResourceNotFoundException,
    TrimmedDataAccessException,
    type _Record as StreamRecord,
} from "@aws-sdk/client-dynamodb-streams";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, MessageNotInflight, ReceiveMessageCommand, SQSClient, type Message } from "@aws-sdk/client-sqs";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { DELIVERY_RECORD_SECONDS } from "../functions/notifications";
import { reindexTable, type ReindexCheckpoint } from "../functions/reindex";
import { engineIndexer, readStackOutputs, type StageOutputs } from "./reindex";
import { parseFlags, runCommand, UsageError, wholeNumber } from "./args";

export type ReplayQueue = "search" | "push";

/** What a message came to. */
export type MessageOutcome = "replayed" | "failed" | "unrecognised" | "dry-run";

export interface ReplaySummary {
    received: number;
    /** Work done and message deleted. */
    replayed: number;
    /** Work failed: left in the queue. */
    failed: number;
    /** Not a record this command knows: left in the queue. */
    unrecognised: number;
    /** Whether the full reindex ran (search, records gone from the stream), and whether it succeeded. */
    fullReindex?: "done" | "failed";
}

export interface ReplayClients {
    sqs: SQSClient;
    /** search: the notes table. */
    dynamo?: DynamoDBClient;
    /** search: the notes stream. */
    streams?: DynamoDBStreamsClient;
    /** push: the sender. */
    lambda?: LambdaClient;
}

export interface ReplayOptions {
    queue: ReplayQueue;
    queueUrl: string;
    dryRun?: boolean;
    /** Stop after this many messages. Default: until the queue has no more. */
    max?: number;
    /** search: the notes table, and the engine's stream handler (what the indexer function runs). */
    search?: { tableName: string; index: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>; reindexSegments?: number };
    /** push: the sender function's name. */
    push?: { functionName: string };
    /** One line of output. */
    print: (line: string) => void;
    /**
     * Long-poll wait of each receive, in seconds. Default 1: any wait above 0 is long polling, which asks every
     * SQS server rather than a sample, so an empty answer means the queue has nothing visible ("Amazon SQS short
     * and long polling"); the run ends at the first empty receive.
     */
    waitSeconds?: number;
    /** How long a received message stays invisible while its work runs. Default 900 s. */
    visibilityTimeoutSeconds?: number;
    now?: () => Date;
}

/** Notes named in a message's line; the rest are counted. */
const MAX_NAMED_NOTES = 10;

/**
 * Consecutive empty GetRecords pages after which the batch is taken as read: an open shard answers empty pages
 * (with a next iterator) past its newest record, and "it might take multiple calls to get to a portion of the
 * shard that contains stream records" (GetRecords, DynamoDB Streams API reference).
 */
const MAX_EMPTY_READS = 5;

/** Replays a failure queue; see the file's comment. */
export async function replayQueue(clients: ReplayClients, options: ReplayOptions): Promise<ReplaySummary> {
    const print = options.print;
    const now = options.now ?? (() => new Date());
    const summary: ReplaySummary = { received: 0, replayed: 0, failed: 0, unrecognised: 0 };
    /** Message id → outcome, so that a message seen again in this run is not replayed twice. */
    const seen = new Map<string, MessageOutcome>();
    const toRelease: string[] = [];
    let fullReindex: Promise<boolean> | undefined;

    const replayOne = async (message: Message): Promise<MessageOutcome> => {
        const id = message.MessageId ?? "?";
        let record: unknown;
        try {
            record = JSON.parse(message.Body ?? "");
        } catch {
            record = undefined;
        }
        if (options.queue === "search") {
            const batch = streamBatchInfo(record);
            if (batch === undefined) {
                print(`replay: ${id}: unrecognised (not a stream invocation record with DDBStreamBatchInfo); left in the queue`);
                return "unrecognised";
            }
            const search = options.search;
            if (search === undefined || clients.dynamo === undefined || clients.streams === undefined) throw new UsageError("search replay needs the table, the index and the stream clients");
            const tableOfStream = /:table\/([^/]+)\/stream\//.exec(batch.streamArn)?.[1];
            if (tableOfStream !== search.tableName) {
                print(`replay: ${id}: the batch is from the stream of table ${tableOfStream ?? "?"}, not ${search.tableName}; left in the queue`);
                return "unrecognised";
            }
            const where = `shard ${batch.shardId}, sequence ${batch.startSequenceNumber}..${batch.endSequenceNumber} (${batch.batchSize} records)`;
            const read = await readBatch(clients.streams, batch);
            if (read.kind === "error") {
                print(`replay: ${id}: FAILED reading ${where} from the stream: ${read.message}; left in the queue`);
                return "failed";
            }
            if (read.kind === "gone") {
                if (options.dryRun) {
                    print(`replay: ${id}: ${where}: the records are gone from the stream (${read.reason}); would run the full reindex (once)`);
                    return "dry-run";
                }
                const first = fullReindex === undefined;
                fullReindex ??= runFullReindex(clients.dynamo, search, print);
                const ok = await fullReindex;
                summary.fullReindex = ok ? "done" : "failed";
                print(
                    `replay: ${id}: ${where}: the records are gone from the stream (${read.reason}); ` +
                        (ok ? `covered by the full reindex${first ? "" : " (already run)"}; deleted` : "the full reindex failed; left in the queue"),
                );
                return ok ? "replayed" : "failed";
            }
            const keys = noteKeys(read.records);
            const shown = keys.slice(0, MAX_NAMED_NOTES).map((k) => `${k.ownerId}/${k.noteId}`);
            const names = shown.join(", ") + (keys.length > shown.length ? ` and ${keys.length - shown.length} more` : "");
            if (options.dryRun) {
                print(`replay: ${id}: ${where}: would re-index ${keys.length} note(s) from the table: ${names}`);
                return "dry-run";
            }
            try {
                const { indexed, removed } = await reindexNotes(clients.dynamo, search, keys);
                print(`replay: ${id}: ${where}: re-indexed ${indexed} note(s), removed ${removed} deleted since (${names}); deleted`);
                return "replayed";
            } catch (err) {
                print(`replay: ${id}: FAILED re-indexing ${names}: ${(err as Error).message}; left in the queue`);
                return "failed";
            }
        }

        const invocation = asyncInvocationRecord(record);
        if (invocation === undefined) {
            print(`replay: ${id}: unrecognised (not an asynchronous invocation record with a notification requestPayload); left in the queue`);
            return "unrecognised";
        }
        const push = options.push;
        if (push === undefined || clients.lambda === undefined) throw new UsageError("push replay needs the sender's name and a Lambda client");
        const functionName = invocation.functionArn.split(":")[6];
        if (functionName !== push.functionName) {
            print(`replay: ${id}: the record is of function ${functionName ?? "?"}, not the sender ${push.functionName}; left in the queue`);
            return "unrecognised";
        }
        const payload = invocation.payload;
        const what =
            `notification ${payload.requestId} from ${payload.senderId} to ${payload.recipientId ?? "?"} ` +
            `(${invocation.condition} after ${invocation.attempts} attempt(s), ${invocation.timestamp})`;
        const ageSeconds = (now().getTime() - Date.parse(invocation.timestamp)) / 1000;
        const idempotence =
            ageSeconds < DELIVERY_RECORD_SECONDS
                ? "devices already delivered to are skipped (delivery record)"
                : `WARNING: older than the ${DELIVERY_RECORD_SECONDS / 3600} h delivery record: devices already delivered to may get it again`;
        if (options.dryRun) {
            print(`replay: ${id}: would re-send ${what}; ${idempotence}`);
            return "dry-run";
        }
        try {
            const answer = await clients.lambda.send(
                new InvokeCommand({ FunctionName: push.functionName, InvocationType: "RequestResponse", Payload: Buffer.from(JSON.stringify(invocation.requestPayload)) }),
            );
            const text = answer.Payload === undefined ? "" : Buffer.from(answer.Payload).toString("utf8");
            if (answer.FunctionError !== undefined) {
                const reason = (() => {
                    try {
                        return String((JSON.parse(text) as { errorMessage?: unknown }).errorMessage ?? text);
                    } catch {
                        return text;
                    }
                })();
                print(`replay: ${id}: FAILED re-sending ${what}: the sender failed (${answer.FunctionError}: ${reason}); left in the queue`);
                return "failed";
            }
            print(`replay: ${id}: re-sent ${what}: ${describePushResult(text)}; ${idempotence}; deleted`);
            return "replayed";
        } catch (err) {
            print(`replay: ${id}: FAILED invoking the sender for ${what}: ${(err as Error).message}; left in the queue`);
            return "failed";
        }
    };

    const max = options.max ?? Number.POSITIVE_INFINITY;
    while (summary.received < max) {
        const { Messages = [] } = await clients.sqs.send(
            new ReceiveMessageCommand({
                QueueUrl: options.queueUrl,
                MaxNumberOfMessages: Math.min(10, max - summary.received),
                WaitTimeSeconds: options.waitSeconds ?? 1,
                VisibilityTimeout: options.visibilityTimeoutSeconds ?? 900,
                MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
            }),
        );
        const fresh = Messages.filter((m) => !seen.has(m.MessageId ?? ""));
        // Seen again in this run (its visibility timeout ran out): finish what was done, leave the rest.
        for (const m of Messages.filter((m) => seen.has(m.MessageId ?? ""))) {
            if (seen.get(m.MessageId ?? "") === "replayed") await deleteMessage(clients.sqs, options.queueUrl, m);
            else if (options.dryRun) toRelease.push(m.ReceiptHandle ?? "");
        }
        if (fresh.length === 0) break;
        for (const message of fresh) {
            summary.received += 1;
            const outcome = await replayOne(message);
            seen.set(message.MessageId ?? "", outcome);
            if (outcome === "replayed") {
                await deleteMessage(clients.sqs, options.queueUrl, message);
                summary.replayed += 1;
            } else if (outcome === "failed") summary.failed += 1;
            else if (outcome === "unrecognised") summary.unrecognised += 1;
            if (options.dryRun) toRelease.push(message.ReceiptHandle ?? "");
        }
    }
    // A dry run hands every message back at once (Amazon SQS visibility timeout: 0 makes it visible again).
    for (const handle of toRelease) {
        try {
            await clients.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: options.queueUrl, ReceiptHandle: handle, VisibilityTimeout: 0 }));
        } catch (err) {
            // A message received again in this run has a newer handle (also released); the older one is refused.
            if (!(err instanceof MessageNotInflight)) throw err;
        }
    }
    return summary;
}

async function deleteMessage(sqs: SQSClient, queueUrl: string, message: Message): Promise<void> {
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
}

interface StreamBatchInfo {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    batchSize: number;
    streamArn: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The `DDBStreamBatchInfo` of a stream invocation record, or undefined. */
function streamBatchInfo(record: unknown): StreamBatchInfo | undefined {
    if (!isObject(record) || !isObject(record.DDBStreamBatchInfo)) return undefined;
    const info = record.DDBStreamBatchInfo;
    const { shardId, startSequenceNumber, endSequenceNumber, streamArn, batchSize } = info;
    if (typeof shardId !== "string" || typeof streamArn !== "string") return undefined;
    if (typeof startSequenceNumber !== "string" || !/^\d+$/.test(startSequenceNumber)) return undefined;
    if (typeof endSequenceNumber !== "string" || !/^\d+$/.test(endSequenceNumber)) return undefined;
    return { shardId, startSequenceNumber, endSequenceNumber, streamArn, batchSize: typeof batchSize === "number" ? batchSize : 0 };
}

type BatchRead = { kind: "records"; records: StreamRecord[] } | { kind: "gone"; reason: string } | { kind: "error"; message: string };

/** The records of a batch, read back from the stream; `gone` when the stream no longer has them. */
async function readBatch(streams: DynamoDBStreamsClient, batch: StreamBatchInfo): Promise<BatchRead> {
    const end = BigInt(batch.endSequenceNumber);
    const records: StreamRecord[] = [];
    try {
        let { ShardIterator: iterator } = await streams.send(
            new GetShardIteratorCommand({
                StreamArn: batch.streamArn,
                ShardId: batch.shardId,
                ShardIteratorType: "AT_SEQUENCE_NUMBER",
                SequenceNumber: batch.startSequenceNumber,
            }),
        );
        let empty = 0;
        while (iterator !== undefined) {
            const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
            const got = page.Records ?? [];
            for (const record of got) {
                const sequence = record.dynamodb?.SequenceNumber;
                if (sequence === undefined) continue;
                if (BigInt(sequence) > end) return { kind: "records", records };
                records.push(record);
                if (BigInt(sequence) === end) return { kind: "records", records };
            }
            // An open shard answers empty pages (and a next iterator) past its newest record.
            empty = got.length === 0 ? empty + 1 : 0;
            if (empty >= MAX_EMPTY_READS) break;
            iterator = page.NextShardIterator;
        }
        // The shard ended (or went quiet) before endSequenceNumber: what was read is the batch.
        if (records.length === 0) return { kind: "error", message: "no record of the batch was found in the shard" };
        return { kind: "records", records };
    } catch (err) {
        if (err instanceof TrimmedDataAccessException) return { kind: "gone", reason: "trimmed: older than the stream's 24-hour retention" };
        if (err instanceof ResourceNotFoundException) return { kind: "gone", reason: "the stream or shard no longer exists" };
        return { kind: "error", message: (err as Error).message };
    }
}

interface NoteKey {
    ownerId: string;
    noteId: string;
}

/** The distinct notes the records name, in order. */
function noteKeys(records: StreamRecord[]): NoteKey[] {
    const keys = new Map<string, NoteKey>();
    for (const record of records) {
        const k = record.dynamodb?.Keys;
        const ownerId = k?.ownerId?.S;
        const noteId = k?.noteId?.S;
        if (ownerId !== undefined && noteId !== undefined) keys.set(`${ownerId}/${noteId}`, { ownerId, noteId });
    }
    return [...keys.values()];
}

/**
 * Re-indexes notes from their current items: each present note as an INSERT record of its item, each gone note
 * as a REMOVE record, through the engine's stream handler. Throws when the engine refuses any of them.
 */
async function reindexNotes(
    dynamo: DynamoDBClient,
    search: NonNullable<ReplayOptions["search"]>,
    keys: NoteKey[],
): Promise<{ indexed: number; removed: number }> {
    const records: DynamoDBRecord[] = [];
    let removed = 0;
    for (const [i, key] of keys.entries()) {
        const Key = { ownerId: { S: key.ownerId }, noteId: { S: key.noteId } };
        const { Item } = await dynamo.send(new GetItemCommand({ TableName: search.tableName, Key, ConsistentRead: true }));
        if (Item === undefined) removed += 1;
        records.push(replayRecord(Key, Item, String(i + 1)));
    }
    if (records.length === 0) return { indexed: 0, removed: 0 };
    const answer = await search.index({ Records: records });
    if (answer.batchItemFailures.length > 0) {
        const failing = new Set(answer.batchItemFailures.map((f) => f.itemIdentifier));
        const notes = keys.filter((_, i) => failing.has(String(i + 1))).map((k) => `${k.ownerId}/${k.noteId}`);
        throw new Error(`the search engine refused or could not take ${notes.join(", ") || `${failing.size} operation(s)`} (see the log above)`);
    }
    return { indexed: records.length - removed, removed };
}

/** A stream record standing for a note's current state: INSERT of its item, or REMOVE when it is gone. */
function replayRecord(keys: Record<string, AttributeValue>, item: Record<string, AttributeValue> | undefined, sequenceNumber: string): DynamoDBRecord {
    return {
        eventName: item === undefined ? "REMOVE" : "INSERT",
        eventSource: "aws:dynamodb",
        dynamodb: {
            Keys: keys as never,
            ...(item === undefined ? { OldImage: keys as never } : { NewImage: item as never }),
            SequenceNumber: sequenceNumber,
            StreamViewType: "NEW_AND_OLD_IMAGES",
        },
    };
}

async function runFullReindex(dynamo: DynamoDBClient, search: NonNullable<ReplayOptions["search"]>, print: (line: string) => void): Promise<boolean> {
    print(`replay: records gone from the stream: running the full reindex of ${search.tableName} (once for this run)`);
    let saved: ReindexCheckpoint | undefined;
    try {
        const result = await reindexTable({
            dynamo,
            tableName: search.tableName,
            totalSegments: search.reindexSegments ?? 4,
            index: search.index,
            // A fresh scan every run: the replay keeps its messages until one completes.
            checkpoint: { load: () => saved, save: (c) => (saved = c) },
        });
        print(`replay: full reindex ${result.complete ? "done" : "stopped"}: ${result.totalScanned} notes, ${result.failedNotes.length} refused`);
        for (const note of result.failedNotes) print(`replay: refused by the engine: ${note}`);
        return result.complete && result.failedNotes.length === 0;
    } catch (err) {
        print(`replay: full reindex failed: ${(err as Error).message}`);
        return false;
    }
}

interface AsyncInvocation {
    functionArn: string;
    condition: string;
    attempts: number;
    timestamp: string;
    requestPayload: Record<string, unknown>;
    payload: { requestId: string; senderId: string; recipientId?: string };
}

/** An asynchronous invocation record whose payload is a notification request (functions/notification-schema.ts). */
function asyncInvocationRecord(record: unknown): AsyncInvocation | undefined {
    if (!isObject(record) || !isObject(record.requestContext) || !isObject(record.requestPayload)) return undefined;
    const context = record.requestContext;
    const payload = record.requestPayload;
    if (typeof context.functionArn !== "string" || typeof payload.requestId !== "string" || typeof payload.senderId !== "string") return undefined;
    const body = isObject(payload.body) ? payload.body : {};
    return {
        functionArn: context.functionArn,
        condition: typeof context.condition === "string" ? context.condition : "?",
        attempts: typeof context.approximateInvokeCount === "number" ? context.approximateInvokeCount : 0,
        timestamp: typeof record.timestamp === "string" ? record.timestamp : "?",
        requestPayload: payload,
        payload: {
            requestId: payload.requestId,
            senderId: payload.senderId,
            ...(typeof body.recipientId === "string" ? { recipientId: body.recipientId } : {}),
        },
    };
}

/** The sender's answer (a PushResult, or null for an invalid event it dropped), in words. */
function describePushResult(text: string): string {
    let result: unknown;
    try {
        result = text === "" ? null : JSON.parse(text);
    } catch {
        return "the sender answered";
    }
    if (!isObject(result)) return "the sender dropped it as invalid (see its log)";
    if (typeof result.dropped === "string") return `dropped by the sender (${result.dropped})`;
    return `${String(result.delivered)} of ${String(result.endpoints)} device push(es) delivered now${result.topicMessageId ? ", topic published" : ""}`;
}

// ---------------------------------------------------------------------------------------------------------
// The command.

interface Arguments {
    stack?: string;
    outputs?: string;
    queue?: ReplayQueue;
    dryRun: boolean;
    max?: number;
}

const USAGE = "usage: npm run replay -- --stack <stage> [--outputs FILE] --queue search|push [--dry-run] [--max N]";

export function parseArguments(argv: string[]): Arguments {
    const args = parseFlags<Arguments>(argv, { dryRun: false }, {
        "--stack": "stack",
        "--outputs": "outputs",
        "--queue": (args, value) => {
            const q = value();
            if (q !== "search" && q !== "push") throw new UsageError("--queue must be search or push");
            args.queue = q;
        },
        "--dry-run": { on: "dryRun" },
        "--max": (args, value, flag) => (args.max = wholeNumber(flag, value())),
    });
    if (args.stack === undefined && args.outputs === undefined) throw new UsageError("--stack (or --outputs) is required");
    if (args.queue === undefined) throw new UsageError("--queue search|push is required");
    return args;
}

export async function main(argv: string[]): Promise<number> {
    let args: Arguments;
    let clients: ReplayClients;
    let options: ReplayOptions;
    try {
        args = parseArguments(argv);
        const outputs = readStackOutputs(args);
        const region = outputs.region;
        const urls = outputs.failureQueueUrls;
        if (typeof region !== "string" || !isObject(urls)) throw new UsageError("the stack outputs have no region or failureQueueUrls: deploy the current program first");
        const queueUrl = urls[args.queue as ReplayQueue];
        if (typeof queueUrl !== "string") {
            throw new UsageError(args.queue === "search" ? "this stage has no search failure queue (search.engine is none)" : "the stack outputs have no push failure queue");
        }
        clients = { sqs: new SQSClient({ region }) };
        options = { queue: args.queue as ReplayQueue, queueUrl, dryRun: args.dryRun, max: args.max, print: (line) => console.log(line) };
        if (args.queue === "search") {
            for (const key of ["notesTable", "mediaBaseUrl", "searchEngine"]) {
                if (outputs[key] === undefined) throw new UsageError(`the stack outputs have no ${key}: deploy the current program first`);
            }
            const stage = outputs as unknown as StageOutputs;
            options.search = { tableName: stage.notesTable, index: engineIndexer(stage) };
            clients.dynamo = new DynamoDBClient({ region });
            clients.streams = new DynamoDBStreamsClient({ region });
        } else {
            if (typeof outputs.notificationsSender !== "string") throw new UsageError("the stack outputs have no notificationsSender: deploy the current program first");
            options.push = { functionName: outputs.notificationsSender };
            clients.lambda = new LambdaClient({ region });
        }
    } catch (err) {
        if (err instanceof UsageError) {
            console.error(`replay: ${err.message}\n${USAGE}`);
            return 2;
        }
        throw err;
    }
    console.log(`replay: ${options.queue} failure queue ${options.queueUrl}${options.dryRun ? " (dry run: nothing is changed)" : ""}`);
    try {
        const s = await replayQueue(clients, options);
        console.log(
            `replay: ${s.received} message(s): ${options.dryRun ? `${s.received - s.unrecognised} described, ` : `${s.replayed} replayed and deleted, ${s.failed} failed (left in the queue), `}` +
                `${s.unrecognised} unrecognised (left in the queue)${s.fullReindex ? `; full reindex ${s.fullReindex}` : ""}`,
        );
        return s.failed + s.unrecognised > 0 ? 1 : 0;
    } catch (err) {
        if (err instanceof UsageError) {
            console.error(`replay: ${err.message}`);
            return 2;
        }
        console.error(`replay: failed: ${(err as Error).message}`);
        return 1;
    }
}

if (require.main === module) runCommand(main);
