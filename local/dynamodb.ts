/**
 * A local DynamoDB with DynamoDB Streams, on one port: a front HTTP server that forwards the DynamoDB API
 * (JSON 1.0, `X-Amz-Target: DynamoDB_20120810.*`) to an in-process dynalite (LevelDB in `dataDir`, or
 * memory), captures every change to a stream-enabled table as a stream record, and answers the DynamoDB
 * Streams API itself (`X-Amz-Target: DynamoDBStreams_20120810.*`: ListStreams, DescribeStream,
 * GetShardIterator, GetRecords). `mapStream` runs a Lambda event source mapping over a table's stream.
 *
 * What counts as a change, and the record shape (DynamoDB developer guide, "Change data capture for
 * DynamoDB Streams" and the Streams API reference, "Record" / "StreamRecord"):
 *   - a record per item-level modification: INSERT (no item before), MODIFY (an item before and after
 *     that differ), REMOVE (an item before, none after); a PutItem or UpdateItem that leaves the item as it
 *     was writes no record (the behaviour tecracer documented against AWS, "Why I had to update my mental
 *     model of DynamoDB streams", 2021), nor does a failed conditional write or a delete of a missing item;
 *   - `dynamodb.Keys` always; `NewImage` / `OldImage` as the view type says (KEYS_ONLY, NEW_IMAGE,
 *     OLD_IMAGE, NEW_AND_OLD_IMAGES); `SequenceNumber` increasing; `SizeBytes`;
 *     `ApproximateCreationDateTime` in epoch seconds, rounded down; `eventSource: "aws:dynamodb"`,
 *     `eventVersion: "1.1"`, `awsRegion`, a unique `eventID`; the records of one item appear in the order
 *     of its modifications (writes to a stream-enabled table are serialised per table here: a single-item
 *     write answers its old image itself and is followed by a consistent GetItem, a batch is bracketed by
 *     consistent GetItems, so the images are exact). Lambda events add `eventSourceARN`.
 * Streams API (DynamoDB Streams API reference, GetShardIterator / GetRecords): records are kept 24 hours;
 * a position older than the oldest kept record is `TrimmedDataAccessException`; an iterator is valid 15
 * minutes (`ExpiredIteratorException` after); GetRecords returns at most 1000 records (Limit 1-1000)
 * and, on the open shard, always a `NextShardIterator`.
 *
 * Deliberate differences: one open shard per stream that never closes (AWS splits and rotates shards);
 * TransactWriteItems and PartiQL are not available (dynalite does not implement them: it answers
 * UnknownOperationException); UpdateTable cannot turn a stream on or off; signatures are checked for
 * shape only (as dynalite does).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as zlib from "node:zlib";
import type { AttributeValue, CreateTableInput, KeySchemaElement, StreamViewType } from "@aws-sdk/client-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";

export interface LocalDynamoOptions {
    /** dynalite's LevelDB (`<dataDir>/dynamodb`) and the stream logs and checkpoints live here; memory when unset. */
    dataDir?: string;
    /** Port on 127.0.0.1; 0 or undefined: a free port. */
    port?: number;
    /** Region in ARNs and records; default us-east-1. */
    region?: string;
    /** Account in ARNs; default 123456789012. */
    accountId?: string;
    /** Prints one line per notable event (table created, mapping failure, on-failure message). */
    log?: (line: string) => void;
    /** The clock (epoch milliseconds); default `Date.now`. Tests move it to age records and iterators. */
    now?: () => number;
}

/** Lambda's event source mapping settings for a DynamoDB stream (CreateEventSourceMapping's parameters). */
export interface StreamMappingSettings {
    /** Records per invocation, 1-10000. Default 100. */
    batchSize?: number;
    /** MaximumBatchingWindowInSeconds, 0-300. Default 0. */
    batchWindowSeconds?: number;
    /** Retries of a failing batch; -1 = until the record expires. Default -1. */
    maxRetryAttempts?: number;
    /** Records older than this go to onFailure; -1 = the stream's 24 h retention. Default -1. */
    maxRecordAgeSeconds?: number;
    bisectBatchOnFunctionError?: boolean;
    /** FunctionResponseTypes includes ReportBatchItemFailures. */
    reportBatchItemFailures?: boolean;
    /** Where a mapping without a checkpoint starts. Default TRIM_HORIZON. */
    startingPosition?: "TRIM_HORIZON" | "LATEST";
}

export interface StreamMapping extends StreamMappingSettings {
    tableName: string;
    /** Names the checkpoint in dataDir; default the table name. */
    name?: string;
    /** The function's ARN in on-failure messages; default `arn:aws:lambda:<region>:<account>:function:<name>`. */
    functionArn?: string;
    /** First retry delay in ms, doubled per retry up to 30 s. Default 1000. */
    retryDelayMs?: number;
    /** Runs the function; throwing is a function error. */
    invoke(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse | void>;
    /** The on-failure destination: gets the invocation record Lambda sends for stream sources. */
    onFailure(message: StreamFailureMessage): Promise<void>;
}

export interface StreamMappingHandle {
    /** Resolves once every record written so far has been delivered or sent to onFailure. */
    idle(): Promise<void>;
    stop(): Promise<void>;
}

/**
 * What Lambda sends to a stream mapping's on-failure destination (Lambda developer guide, "Retain discarded
 * records for a DynamoDB event source in Lambda", example invocation record). The records are not included:
 * read them from the stream with `DDBStreamBatchInfo`.
 */
export interface StreamFailureMessage {
    requestContext: {
        requestId: string;
        functionArn: string;
        condition: "RetryAttemptsExhausted" | "RecordAgeExceeded";
        approximateInvokeCount: number;
    };
    responseContext: { statusCode: number; executedVersion: string; functionError?: string };
    version: "1.0";
    timestamp: string;
    DDBStreamBatchInfo: {
        shardId: string;
        startSequenceNumber: string;
        endSequenceNumber: string;
        approximateArrivalOfFirstRecord: string;
        approximateArrivalOfLastRecord: string;
        batchSize: number;
        streamArn: string;
    };
}

export interface LocalDynamoDb {
    /** The DynamoDB endpoint and the DynamoDB Streams endpoint (one port). */
    url: string;
    /** Creates the table unless it exists (a restart with the same dataDir), and waits until it is ACTIVE. */
    createTable(input: CreateTableInput): Promise<void>;
    /** Starts an event source mapping on a stream-enabled table. */
    mapStream(mapping: StreamMapping): StreamMappingHandle;
    stop(): Promise<void>;
}

/** DynamoDB Streams keeps records 24 hours. */
export const STREAM_RETENTION_MS = 24 * 60 * 60 * 1000;
/** A shard iterator expires 15 minutes after it is returned. */
export const ITERATOR_LIFETIME_MS = 15 * 60 * 1000;
/** Lambda's synchronous invocation payload limit, which also bounds a batch. */
const MAX_BATCH_BYTES = 6 * 1024 * 1024;
const WRITE_OPERATIONS = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"]);

type Item = Record<string, AttributeValue>;

/** A record as kept in the log (the GetRecords shape, plus the stream ARN and arrival time). */
interface StoredRecord {
    eventID: string;
    eventName: "INSERT" | "MODIFY" | "REMOVE";
    eventVersion: "1.1";
    eventSource: "aws:dynamodb";
    awsRegion: string;
    dynamodb: {
        ApproximateCreationDateTime: number;
        Keys: Item;
        NewImage?: Item;
        OldImage?: Item;
        SequenceNumber: string;
        SizeBytes: number;
        StreamViewType: StreamViewType;
    };
    /** Arrival, epoch ms (not sent). */
    at: number;
}

interface Stream {
    arn: string;
    label: string;
    tableName: string;
    viewType: StreamViewType;
    keySchema: KeySchemaElement[];
    shardId: string;
    createdAt: number;
    enabled: boolean;
    records: StoredRecord[];
    /** The sequence number of the first record ever written, or of the next one while none was. */
    firstSequence: bigint;
    /** Records before this position were trimmed (24 h). */
    trimmedBefore: bigint;
    file?: string;
    /** Wakes mappings waiting for records. */
    listeners: Set<() => void>;
}

/** An error answered in the JSON 1.0 protocol's shape. */
class ApiError extends Error {
    constructor(
        readonly status: number,
        readonly type: string,
        message: string,
    ) {
        super(message);
    }
}

const SEQUENCE_BASE = 100_000_000_000_000_000_000n;

export async function startLocalDynamoDb(options: LocalDynamoOptions = {}): Promise<LocalDynamoDb> {
    const region = options.region ?? "us-east-1";
    const accountId = options.accountId ?? "123456789012";
    const log = options.log ?? (() => undefined);
    const now = options.now ?? Date.now;
    const dataDir = options.dataDir;
    const streamDir = dataDir ? path.join(dataDir, "streams") : undefined;
    if (dataDir && streamDir) fs.mkdirSync(streamDir, { recursive: true });

    // dynalite has no type declarations.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dynalite = require("dynalite") as (options: Record<string, unknown>) => http.Server;
    const backend = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(dataDir ? { path: path.join(dataDir, "dynamodb") } : {}) });
    // dynalite closes its LevelDB store only through `server.close()`, which needs a listening server: it
    // listens on a loopback port that nobody is told of, and every request reaches it through `forward`.
    await listen(backend, 0);
    const dynaliteListener = backend.listeners("request")[0] as (req: unknown, res: unknown) => void;

    /** Streams by ARN; `byTable` holds each table's current (latest) stream. */
    const streams = new Map<string, Stream>();
    const byTable = new Map<string, Stream>();
    let nextSequence = SEQUENCE_BASE;
    const locks = new Map<string, Promise<void>>();

    loadStreams();

    // ---- persistence ---------------------------------------------------------------------------------

    function metaFile(): string | undefined {
        return streamDir ? path.join(streamDir, "streams.json") : undefined;
    }

    function saveMeta(): void {
        const file = metaFile();
        if (!file) return;
        const meta = [...streams.values()].map((s) => ({
            arn: s.arn, label: s.label, tableName: s.tableName, viewType: s.viewType, keySchema: s.keySchema,
            shardId: s.shardId, createdAt: s.createdAt, enabled: s.enabled, firstSequence: String(s.firstSequence), file: s.file,
        }));
        fs.writeFileSync(file, JSON.stringify(meta, null, 2));
    }

    function loadStreams(): void {
        const file = metaFile();
        if (!file || !fs.existsSync(file) || !streamDir) return;
        const meta = JSON.parse(fs.readFileSync(file, "utf8")) as Array<Omit<Stream, "records" | "firstSequence" | "trimmedBefore" | "listeners"> & { firstSequence: string }>;
        const horizon = now() - STREAM_RETENTION_MS;
        for (const m of meta) {
            const all = m.file && fs.existsSync(path.join(streamDir, m.file))
                ? fs.readFileSync(path.join(streamDir, m.file), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as StoredRecord)
                : [];
            const records = all.filter((r) => r.at >= horizon);
            const last = all.at(-1);
            if (last) nextSequence = bigMax(nextSequence, BigInt(last.dynamodb.SequenceNumber) + 1n);
            const firstSequence = BigInt(m.firstSequence);
            const stream: Stream = {
                ...m, firstSequence, records, listeners: new Set(),
                trimmedBefore: records[0] ? BigInt(records[0].dynamodb.SequenceNumber) : last ? BigInt(last.dynamodb.SequenceNumber) + 1n : firstSequence,
            };
            if (m.file && records.length !== all.length) {
                fs.writeFileSync(path.join(streamDir, m.file), records.map((r) => `${JSON.stringify(r)}\n`).join(""));
            }
            nextSequence = bigMax(nextSequence, firstSequence);
            streams.set(stream.arn, stream);
            if (stream.enabled) byTable.set(stream.tableName, stream);
        }
    }

    function append(stream: Stream, records: StoredRecord[]): void {
        if (records.length === 0) return;
        stream.records.push(...records);
        if (streamDir && stream.file) fs.appendFileSync(path.join(streamDir, stream.file), records.map((r) => `${JSON.stringify(r)}\n`).join(""));
        // Trim what is older than the retention period (in memory; the file is compacted at the next start).
        const horizon = now() - STREAM_RETENTION_MS;
        let drop = 0;
        while (drop < stream.records.length && stream.records[drop].at < horizon) drop++;
        if (drop > 0) {
            stream.records.splice(0, drop);
            stream.trimmedBefore = stream.records[0] ? BigInt(stream.records[0].dynamodb.SequenceNumber) : nextSequence;
        }
        for (const wake of [...stream.listeners]) wake();
    }

    // ---- the backend --------------------------------------------------------------------------------

    interface Reply {
        status: number;
        headers: Record<string, string>;
        body: string;
    }

    /**
     * One request to dynalite, in process: its request listener is called with the request's method, URL,
     * headers and body, and the answer is read from what it sets on the response. This is the whole of what
     * dynalite's handler touches (`req.method`, `req.url`, `req.headers`, the `data`/`end` events;
     * `res.statusCode`, `res.setHeader`, `res.end`), so no socket and no HTTP parsing sits between this
     * front and the store: every write on a stream-enabled table makes up to three of these calls.
     */
    function forward(target: string, body: string, headers: http.IncomingHttpHeaders): Promise<Reply> {
        return new Promise((resolve, reject) => {
            const incoming = Object.assign(new EventEmitter(), {
                method: "POST",
                url: "/",
                headers: { ...headers, "x-amz-target": target, "content-length": String(Buffer.byteLength(body)) },
            });
            const out: Record<string, string> = {};
            const outgoing = {
                statusCode: 200,
                contentType: "",
                setHeader(name: string, value: string | number) {
                    out[name.toLowerCase()] = String(value);
                },
                end(text?: string) {
                    resolve({ status: outgoing.statusCode, headers: out, body: text ?? "" });
                },
            };
            try {
                dynaliteListener(incoming, outgoing);
                if (body !== "") incoming.emit("data", Buffer.from(body));
                incoming.emit("end");
            } catch (error) {
                reject(error instanceof Error ? error : new Error(String(error)));
            }
        });
    }

    /** One DynamoDB call of this server's own (consistent reads, table checks). */
    async function call<T>(operation: string, input: unknown): Promise<T> {
        const reply = await forward(`DynamoDB_20120810.${operation}`, JSON.stringify(input), INTERNAL_HEADERS());
        const parsed = JSON.parse(reply.body || "{}") as T & { __type?: string; message?: string };
        if (reply.status !== 200) throw new ApiError(reply.status, (parsed.__type ?? "InternalError").split("#").pop() as string, parsed.message ?? reply.body);
        return parsed;
    }

    function withBody(reply: Reply, value: unknown): Reply {
        const body = JSON.stringify(value);
        return { ...reply, headers: { ...reply.headers, "x-amz-crc32": String(zlib.crc32(body)), "content-length": String(Buffer.byteLength(body)) }, body };
    }

    /** Adds what DynamoDB answers about a table's stream to a TableDescription. */
    function describeStream(table: Record<string, unknown> | undefined): void {
        if (!table || typeof table.TableName !== "string") return;
        const stream = byTable.get(table.TableName);
        if (!stream) return;
        table.StreamSpecification = { StreamEnabled: true, StreamViewType: stream.viewType };
        table.LatestStreamArn = stream.arn;
        table.LatestStreamLabel = stream.label;
    }

    async function lock<T>(tables: string[], work: () => Promise<T>): Promise<T> {
        const names = [...new Set(tables)].sort();
        const previous = names.map((n) => locks.get(n) ?? Promise.resolve());
        let release = () => undefined as void;
        const mine = new Promise<void>((resolve) => (release = resolve));
        for (const n of names) locks.set(n, mine);
        await Promise.all(previous);
        try {
            return await work();
        } finally {
            release();
            for (const n of names) if (locks.get(n) === mine) locks.delete(n);
        }
    }

    function keyOf(stream: Stream, item: Item): Item {
        return Object.fromEntries(stream.keySchema.map((k) => [k.AttributeName as string, item[k.AttributeName as string]]));
    }

    async function read(tableName: string, key: Item): Promise<Item | undefined> {
        const result = await call<{ Item?: Item }>("GetItem", { TableName: tableName, Key: key, ConsistentRead: true });
        return result.Item;
    }

    /** The keys a write touches on stream-enabled tables, or undefined when none (or the input is not understood: dynalite then answers). */
    function touched(operation: string, input: Record<string, unknown>): Array<{ stream: Stream; key: Item }> {
        const found: Array<{ stream: Stream; key: Item }> = [];
        const add = (tableName: unknown, item: unknown) => {
            const stream = typeof tableName === "string" ? byTable.get(tableName) : undefined;
            if (!stream || !isObject(item)) return;
            const key = keyOf(stream, item as Item);
            if (Object.values(key).every((v) => v !== undefined)) found.push({ stream, key });
        };
        if (operation === "PutItem") add(input.TableName, input.Item);
        else if (operation === "UpdateItem" || operation === "DeleteItem") add(input.TableName, input.Key);
        else if (operation === "BatchWriteItem" && isObject(input.RequestItems)) {
            for (const [tableName, requests] of Object.entries(input.RequestItems as Record<string, unknown>)) {
                if (!Array.isArray(requests)) continue;
                for (const r of requests) {
                    if (!isObject(r)) continue;
                    if (isObject(r.PutRequest)) add(tableName, r.PutRequest.Item);
                    if (isObject(r.DeleteRequest)) add(tableName, r.DeleteRequest.Key);
                }
            }
        }
        return found;
    }

    async function write(operation: string, body: string, input: Record<string, unknown>, headers: http.IncomingHttpHeaders): Promise<Reply> {
        const keys = touched(operation, input);
        if (keys.length === 0) return forward(`DynamoDB_20120810.${operation}`, body, headers);
        const asked = input.ReturnValues;
        if (keys.length === 1 && operation !== "BatchWriteItem" && (asked === undefined || asked === "NONE" || asked === "ALL_OLD")) {
            // One item: the write itself answers the old image (ReturnValues ALL_OLD, which PutItem,
            // UpdateItem and DeleteItem all accept), and a delete leaves none; only a put or an update reads the
            // new image back (dynalite stores numbers normalised). The caller's answer is what it asked for.
            const [{ stream, key }] = keys;
            return lock([stream.tableName], async () => {
                const reply = await forward(`DynamoDB_20120810.${operation}`, JSON.stringify({ ...input, ReturnValues: "ALL_OLD" }), headers);
                if (reply.status !== 200) return reply;
                const answer = JSON.parse(reply.body) as { Attributes?: Item };
                const before = answer.Attributes;
                let after: Item | undefined;
                if (operation !== "DeleteItem") {
                    try {
                        after = await read(stream.tableName, key);
                    } catch (error) {
                        // The write went through, so its record must not be lost: a put's new image is its item.
                        const why = error instanceof Error ? error.message : String(error);
                        if (operation !== "PutItem" || !isObject(input.Item)) {
                            log(`dynamodb: ${operation} on ${stream.tableName} was written but its new image could not be read (${why}): no stream record`);
                            return asked === "ALL_OLD" ? reply : withBody(reply, { ...answer, Attributes: undefined });
                        }
                        after = input.Item as Item;
                    }
                }
                const record = changeRecord(stream, key, before, after, now());
                if (record) append(stream, [record]);
                if (asked === "ALL_OLD") return reply;
                delete answer.Attributes;
                return withBody(reply, answer);
            });
        }
        return lock(keys.map((k) => k.stream.tableName), async () => {
            let before: Array<Item | undefined>;
            try {
                before = await Promise.all(keys.map((k) => read(k.stream.tableName, k.key)));
            } catch (error) {
                // A key the table refuses (wrong type, ...): the write itself fails the same way; let dynalite answer it.
                const reply = await forward(`DynamoDB_20120810.${operation}`, body, headers);
                if (reply.status === 200) throw error;
                return reply;
            }
            const reply = await forward(`DynamoDB_20120810.${operation}`, body, headers);
            if (reply.status !== 200) return reply; // a failed (e.g. conditional) write changes nothing
            const after = await Promise.all(keys.map((k) => read(k.stream.tableName, k.key)));
            const at = now();
            const perStream = new Map<Stream, StoredRecord[]>();
            keys.forEach((k, i) => {
                const record = changeRecord(k.stream, k.key, before[i], after[i], at);
                if (record) perStream.set(k.stream, [...(perStream.get(k.stream) ?? []), record]);
            });
            for (const [stream, records] of perStream) append(stream, records);
            return reply;
        });
    }

    function changeRecord(stream: Stream, key: Item, before: Item | undefined, after: Item | undefined, at: number): StoredRecord | undefined {
        if (before === undefined && after === undefined) return undefined;
        if (before !== undefined && after !== undefined && canonical(before) === canonical(after)) return undefined;
        const eventName = before === undefined ? "INSERT" : after === undefined ? "REMOVE" : "MODIFY";
        const view = stream.viewType;
        const images = {
            ...(after && (view === "NEW_IMAGE" || view === "NEW_AND_OLD_IMAGES") ? { NewImage: after } : {}),
            ...(before && (view === "OLD_IMAGE" || view === "NEW_AND_OLD_IMAGES") ? { OldImage: before } : {}),
        };
        const sequence = nextSequence;
        nextSequence += 1n;
        return {
            eventID: randomBytes(16).toString("hex"),
            eventName,
            eventVersion: "1.1",
            eventSource: "aws:dynamodb",
            awsRegion: region,
            dynamodb: {
                ApproximateCreationDateTime: Math.floor(at / 1000),
                Keys: key,
                ...images,
                SequenceNumber: String(sequence),
                SizeBytes: Buffer.byteLength(JSON.stringify({ Keys: key, ...images })),
                StreamViewType: view,
            },
            at,
        };
    }

    async function createTableOperation(body: string, input: Record<string, unknown>, headers: http.IncomingHttpHeaders): Promise<Reply> {
        const reply = await forward("DynamoDB_20120810.CreateTable", body, headers);
        if (reply.status !== 200) return reply;
        const spec = input.StreamSpecification;
        const parsed = JSON.parse(reply.body) as { TableDescription?: Record<string, unknown> };
        if (isObject(spec) && spec.StreamEnabled === true) {
            const tableName = input.TableName as string;
            const at = now();
            const label = new Date(at).toISOString().replace(/Z$/, "");
            const arn = `arn:aws:dynamodb:${region}:${accountId}:table/${tableName}/stream/${label}`;
            const stream: Stream = {
                arn, label, tableName,
                viewType: (spec.StreamViewType as StreamViewType | undefined) ?? "NEW_AND_OLD_IMAGES",
                keySchema: input.KeySchema as KeySchemaElement[],
                shardId: `shardId-${String(at).padStart(20, "0")}-${randomBytes(4).toString("hex")}`,
                createdAt: at, enabled: true, records: [], firstSequence: nextSequence, trimmedBefore: nextSequence, listeners: new Set(),
                ...(streamDir ? { file: `${tableName}-${at}.jsonl` } : {}),
            };
            streams.set(arn, stream);
            byTable.set(tableName, stream);
            saveMeta();
            log(`dynamodb: table ${tableName} created with a ${stream.viewType} stream ${arn}`);
        }
        describeStream(parsed.TableDescription);
        return withBody(reply, parsed);
    }

    async function handleDynamoDb(operation: string, body: string, headers: http.IncomingHttpHeaders): Promise<Reply> {
        let input: Record<string, unknown> = {};
        try {
            const parsed: unknown = JSON.parse(body || "{}");
            if (isObject(parsed)) input = parsed;
        } catch {
            return forward(`DynamoDB_20120810.${operation}`, body, headers); // dynalite answers SerializationException
        }
        if (operation === "CreateTable") return createTableOperation(body, input, headers);
        if (WRITE_OPERATIONS.has(operation)) return write(operation, body, input, headers);
        const reply = await forward(`DynamoDB_20120810.${operation}`, body, headers);
        if (reply.status === 200 && operation === "DescribeTable") {
            const parsed = JSON.parse(reply.body) as { Table?: Record<string, unknown> };
            describeStream(parsed.Table);
            return withBody(reply, parsed);
        }
        if (reply.status === 200 && operation === "DeleteTable" && typeof input.TableName === "string") {
            const stream = byTable.get(input.TableName);
            if (stream) {
                stream.enabled = false; // its records stay readable for 24 h, as a disabled stream's do
                byTable.delete(input.TableName);
                saveMeta();
            }
        }
        return reply;
    }

    // ---- DynamoDB Streams API -------------------------------------------------------------------------

    function streamByArn(arn: unknown): Stream {
        const stream = typeof arn === "string" ? streams.get(arn) : undefined;
        if (!stream) throw new ApiError(400, "ResourceNotFoundException", `Requested resource not found: Stream: ${String(arn)} not found`);
        return stream;
    }

    /** An iterator: the stream, the position of the next record to read, and when it was issued. */
    function iterator(stream: Stream, position: bigint): string {
        const text = JSON.stringify({ a: stream.arn, p: String(position), t: now() });
        return `${stream.arn}|${Buffer.from(text).toString("base64url")}`;
    }

    function parseIterator(value: unknown): { stream: Stream; position: bigint } {
        if (typeof value !== "string" || !value.includes("|")) throw new ApiError(400, "ValidationException", "Invalid ShardIterator");
        let decoded: { a: string; p: string; t: number };
        try {
            decoded = JSON.parse(Buffer.from(value.slice(value.lastIndexOf("|") + 1), "base64url").toString("utf8")) as typeof decoded;
        } catch {
            throw new ApiError(400, "ValidationException", "Invalid ShardIterator");
        }
        const stream = streamByArn(decoded.a);
        if (now() - decoded.t > ITERATOR_LIFETIME_MS) {
            throw new ApiError(400, "ExpiredIteratorException", "Iterator expired. The iterator was created over 15 minutes ago.");
        }
        const position = BigInt(decoded.p);
        if (position < stream.trimmedBefore) {
            throw new ApiError(400, "TrimmedDataAccessException", "The operation attempted to read past the oldest stream record in a shard.");
        }
        return { stream, position };
    }

    function handleStreams(operation: string, input: Record<string, unknown>): unknown {
        switch (operation) {
            case "ListStreams": {
                const all = [...streams.values()].filter((s) => input.TableName === undefined || s.tableName === input.TableName);
                let start = 0;
                if (typeof input.ExclusiveStartStreamArn === "string") start = all.findIndex((s) => s.arn === input.ExclusiveStartStreamArn) + 1;
                const limit = typeof input.Limit === "number" ? input.Limit : 100;
                const page = all.slice(start, start + limit);
                return {
                    Streams: page.map((s) => ({ StreamArn: s.arn, TableName: s.tableName, StreamLabel: s.label })),
                    ...(start + limit < all.length ? { LastEvaluatedStreamArn: page.at(-1)?.arn } : {}),
                };
            }
            case "DescribeStream": {
                const stream = streamByArn(input.StreamArn);
                const start = stream.records[0]?.dynamodb.SequenceNumber ?? String(stream.trimmedBefore);
                return {
                    StreamDescription: {
                        StreamArn: stream.arn,
                        StreamLabel: stream.label,
                        StreamStatus: stream.enabled ? "ENABLED" : "DISABLED",
                        StreamViewType: stream.viewType,
                        CreationRequestDateTime: stream.createdAt / 1000,
                        TableName: stream.tableName,
                        KeySchema: stream.keySchema,
                        Shards: [{ ShardId: stream.shardId, SequenceNumberRange: { StartingSequenceNumber: start } }],
                    },
                };
            }
            case "GetShardIterator": {
                const stream = streamByArn(input.StreamArn);
                if (input.ShardId !== stream.shardId) throw new ApiError(400, "ResourceNotFoundException", `Requested resource not found: Shard: ${String(input.ShardId)} in Stream: ${stream.arn} not found`);
                const type = input.ShardIteratorType;
                if (type === "TRIM_HORIZON") return { ShardIterator: iterator(stream, stream.trimmedBefore) };
                if (type === "LATEST") return { ShardIterator: iterator(stream, nextSequence) };
                if (type !== "AT_SEQUENCE_NUMBER" && type !== "AFTER_SEQUENCE_NUMBER") {
                    throw new ApiError(400, "ValidationException", `1 validation error detected: Value '${String(type)}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]`);
                }
                if (typeof input.SequenceNumber !== "string" || !/^\d{21,40}$/.test(input.SequenceNumber)) {
                    throw new ApiError(400, "ValidationException", `Invalid SequenceNumber for ShardIteratorType ${type}: ${String(input.SequenceNumber)}`);
                }
                const sequence = BigInt(input.SequenceNumber);
                if (sequence < stream.trimmedBefore) {
                    throw new ApiError(400, "TrimmedDataAccessException", "The operation attempted to read past the oldest stream record in a shard.");
                }
                if (sequence >= nextSequence) throw new ApiError(400, "ValidationException", `Invalid SequenceNumber ${input.SequenceNumber}: beyond the end of shard ${stream.shardId}`);
                return { ShardIterator: iterator(stream, type === "AT_SEQUENCE_NUMBER" ? sequence : sequence + 1n) };
            }
            case "GetRecords": {
                const limit = input.Limit === undefined ? 1000 : input.Limit;
                if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
                    throw new ApiError(400, "ValidationException", `1 validation error detected: Value '${String(limit)}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000`);
                }
                const { stream, position } = parseIterator(input.ShardIterator);
                const records = stream.records.filter((r) => BigInt(r.dynamodb.SequenceNumber) >= position).slice(0, limit);
                const last = records.at(-1);
                const next = last ? BigInt(last.dynamodb.SequenceNumber) + 1n : position;
                return {
                    Records: records.map((r) => ({ ...omitAt(r) })),
                    ...(stream.enabled || last ? { NextShardIterator: iterator(stream, next) } : {}),
                };
            }
            default:
                throw new ApiError(400, "UnknownOperationException", `Unknown operation DynamoDBStreams_20120810.${operation}`);
        }
    }

    // ---- the front server ------------------------------------------------------------------------------

    const front = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const body = Buffer.concat(chunks).toString("utf8");
            const target = String(req.headers["x-amz-target"] ?? "");
            const [api, operation] = target.split(".");
            const send = (reply: Reply) => {
                res.writeHead(reply.status, reply.headers);
                res.end(reply.body);
            };
            const fail = (error: unknown) => {
                const e = error instanceof ApiError ? error : new ApiError(500, "InternalServerError", error instanceof Error ? error.message : String(error));
                const payload = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${e.type}`, message: e.message });
                send({ status: e.status, headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": randomUUID(), "x-amz-crc32": String(zlib.crc32(payload)) }, body: payload });
            };
            if (api === "DynamoDBStreams_20120810" && req.method === "POST") {
                try {
                    const auth = req.headers.authorization;
                    if (typeof auth !== "string" || !auth.startsWith("AWS4-")) throw new ApiError(400, "MissingAuthenticationTokenException", "Request is missing Authentication Token");
                    let input: unknown;
                    try {
                        input = JSON.parse(body || "{}");
                    } catch {
                        throw new ApiError(400, "SerializationException", "the body is not JSON");
                    }
                    const result = handleStreams(operation ?? "", isObject(input) ? input : {});
                    const payload = JSON.stringify(result);
                    send({ status: 200, headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": randomUUID(), "x-amz-crc32": String(zlib.crc32(payload)) }, body: payload });
                } catch (error) {
                    fail(error);
                }
                return;
            }
            if (api === "DynamoDB_20120810" && req.method === "POST" && operation) {
                handleDynamoDb(operation, body, req.headers).then(send, fail);
                return;
            }
            forward(target, body, req.headers).then(send, fail); // dynalite answers (health check, unknown operation)
        });
    });
    const url = await listen(front, options.port ?? 0);

    // ---- event source mappings ---------------------------------------------------------------------------

    const mappings = new Set<{ stop(): Promise<void> }>();

    function mapStream(mapping: StreamMapping): StreamMappingHandle {
        const found = byTable.get(mapping.tableName);
        if (!found) throw new Error(`mapStream: table ${mapping.tableName} has no stream (create it with StreamSpecification.StreamEnabled)`);
        const stream: Stream = found;
        const name = mapping.name ?? mapping.tableName;
        const batchSize = mapping.batchSize ?? 100;
        const windowMs = (mapping.batchWindowSeconds ?? 0) * 1000;
        const maxRetries = mapping.maxRetryAttempts ?? -1;
        const maxAgeMs = (mapping.maxRecordAgeSeconds ?? -1) < 0 ? STREAM_RETENTION_MS : (mapping.maxRecordAgeSeconds as number) * 1000;
        const functionArn = mapping.functionArn ?? `arn:aws:lambda:${region}:${accountId}:function:${name}`;
        const baseDelay = mapping.retryDelayMs ?? 1000;
        const checkpointFile = streamDir ? path.join(streamDir, `mapping-${name.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`) : undefined;

        // The checkpoint: the position of the next record to deliver.
        let position: bigint;
        const saved = checkpointFile && fs.existsSync(checkpointFile) ? (JSON.parse(fs.readFileSync(checkpointFile, "utf8")) as { streamArn: string; next: string }) : undefined;
        if (saved && saved.streamArn === stream.arn) position = BigInt(saved.next);
        else position = mapping.startingPosition === "LATEST" ? nextSequence : stream.trimmedBefore;
        const checkpoint = (next: bigint) => {
            position = next;
            if (checkpointFile) fs.writeFileSync(checkpointFile, JSON.stringify({ streamArn: stream.arn, next: String(next) }));
            for (const waiter of [...idleWaiters]) waiter();
        };

        let stopped = false;
        let wake: (() => void) | undefined;
        const idleWaiters = new Set<() => void>();
        /** Waits `ms` (or until stopped; with `onRecords`, also until a record arrives). */
        const sleep = (ms: number, onRecords = false) =>
            new Promise<void>((resolve) => {
                const timer = setTimeout(done, ms);
                function done() {
                    clearTimeout(timer);
                    stream.listeners.delete(done);
                    wake = undefined;
                    resolve();
                }
                if (onRecords) stream.listeners.add(done);
                wake = done;
            });
        const waitForRecords = () =>
            new Promise<void>((resolve) => {
                const done = () => {
                    stream.listeners.delete(done);
                    wake = undefined;
                    resolve();
                };
                stream.listeners.add(done);
                wake = done;
            });
        const pending = () => {
            if (position < stream.trimmedBefore) position = stream.trimmedBefore; // trimmed: lost, as on AWS
            return stream.records.filter((r) => BigInt(r.dynamodb.SequenceNumber) >= position);
        };

        const toEvent = (records: StoredRecord[]): DynamoDBStreamEvent => ({
            Records: records.map((r) => ({ ...omitAt(r), eventSourceARN: stream.arn }) as DynamoDBRecord),
        });

        async function sendFailure(records: StoredRecord[], condition: StreamFailureMessage["requestContext"]["condition"], invokes: number, lastError: "Unhandled" | undefined, requestId: string) {
            const iso = (r: StoredRecord) => new Date(r.dynamodb.ApproximateCreationDateTime * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
            const message: StreamFailureMessage = {
                requestContext: { requestId, functionArn, condition, approximateInvokeCount: invokes },
                responseContext: { statusCode: 200, executedVersion: "$LATEST", ...(lastError ? { functionError: lastError } : {}) },
                version: "1.0",
                timestamp: new Date(now()).toISOString(),
                DDBStreamBatchInfo: {
                    shardId: stream.shardId,
                    startSequenceNumber: records[0].dynamodb.SequenceNumber,
                    endSequenceNumber: (records.at(-1) as StoredRecord).dynamodb.SequenceNumber,
                    approximateArrivalOfFirstRecord: iso(records[0]),
                    approximateArrivalOfLastRecord: iso(records.at(-1) as StoredRecord),
                    batchSize: records.length,
                    streamArn: stream.arn,
                },
            };
            log(`stream ${name}: ${records.length} record(s) ${message.DDBStreamBatchInfo.startSequenceNumber}..${message.DDBStreamBatchInfo.endSequenceNumber} sent to the failure destination (${condition})`);
            // Nothing is dropped silently: the destination is retried until it takes the message.
            for (let attempt = 0; !stopped; attempt++) {
                try {
                    await mapping.onFailure(message);
                    return;
                } catch (error) {
                    log(`stream ${name}: the failure destination refused a message (${error instanceof Error ? error.message : String(error)}); retrying`);
                    await sleep(Math.min(30_000, baseDelay * 2 ** attempt));
                }
            }
        }

        /** Delivers one batch (records in order) until it succeeds or goes to onFailure; bisects on function errors. */
        async function deliver(records: StoredRecord[], attempts: number): Promise<void> {
            let batch = records;
            let tries = attempts;
            let invokes = 0;
            let lastError: "Unhandled" | undefined;
            let requestId = randomUUID();
            while (batch.length > 0 && !stopped) {
                const age = now() - maxAgeMs;
                const expired = batch.filter((r) => r.at < age);
                if (expired.length > 0) {
                    await sendFailure(expired, "RecordAgeExceeded", invokes, lastError, requestId);
                    batch = batch.slice(expired.length);
                    continue;
                }
                requestId = randomUUID();
                invokes++;
                let failedFrom: number | undefined;
                let functionError = false;
                try {
                    const response = await mapping.invoke(toEvent(batch));
                    if (mapping.reportBatchItemFailures && response && Array.isArray(response.batchItemFailures) && response.batchItemFailures.length > 0) {
                        const ids = response.batchItemFailures.map((f) => f?.itemIdentifier);
                        const indexes = ids.map((id) => batch.findIndex((r) => typeof id === "string" && id !== "" && r.dynamodb.SequenceNumber === id));
                        // An empty, null or unknown itemIdentifier fails the whole batch ("Configuring partial batch response with DynamoDB and Lambda").
                        failedFrom = indexes.some((i) => i < 0) ? 0 : Math.min(...indexes);
                        lastError = undefined;
                    }
                } catch (error) {
                    functionError = true;
                    lastError = "Unhandled";
                    log(`stream ${name}: function error on ${batch.length} record(s): ${error instanceof Error ? error.message : String(error)}`);
                }
                if (!functionError && failedFrom === undefined) return; // the whole batch succeeded
                if (functionError && mapping.bisectBatchOnFunctionError && batch.length > 1) {
                    // Bisect: each half is retried on its own; splitting does not consume the retry quota
                    // ("Retain discarded records for a DynamoDB event source in Lambda").
                    const half = Math.ceil(batch.length / 2);
                    await deliver(batch.slice(0, half), tries);
                    await deliver(batch.slice(half), tries);
                    return;
                }
                // Partial batch response: checkpoint before the lowest failed record, retry from there.
                if (failedFrom !== undefined) batch = batch.slice(failedFrom);
                tries++;
                if (maxRetries >= 0 && tries > maxRetries) {
                    await sendFailure(batch, "RetryAttemptsExhausted", invokes, lastError, requestId);
                    return;
                }
                await sleep(Math.min(30_000, baseDelay * 2 ** (tries - 1)));
            }
        }

        const loop = (async () => {
            while (!stopped) {
                let available = pending();
                if (available.length === 0) {
                    await waitForRecords();
                    continue;
                }
                if (available.length < batchSize && windowMs > 0) {
                    // Gather until the batch is full or the window has passed since the first record was seen.
                    const deadline = now() + windowMs;
                    while (!stopped && pending().length < batchSize && now() < deadline) await sleep(deadline - now(), true);
                    available = pending();
                }
                const batch: StoredRecord[] = [];
                let bytes = 0;
                for (const r of available) {
                    if (batch.length >= batchSize || (batch.length > 0 && bytes + r.dynamodb.SizeBytes > MAX_BATCH_BYTES)) break;
                    batch.push(r);
                    bytes += r.dynamodb.SizeBytes;
                }
                try {
                    await deliver(batch, 0);
                } catch (error) {
                    log(`stream ${name}: delivery failed: ${error instanceof Error ? error.stack : String(error)}`);
                }
                if (!stopped) checkpoint(BigInt((batch.at(-1) as StoredRecord).dynamodb.SequenceNumber) + 1n);
            }
        })();

        const handle = {
            idle(): Promise<void> {
                const target = nextSequence;
                return new Promise<void>((resolve, reject) => {
                    const check = () => {
                        if (position >= target || pending().every((r) => BigInt(r.dynamodb.SequenceNumber) >= target)) {
                            idleWaiters.delete(check);
                            resolve();
                        } else if (stopped) {
                            idleWaiters.delete(check);
                            reject(new Error(`stream mapping ${name} stopped before its records were delivered`));
                        }
                    };
                    idleWaiters.add(check);
                    check();
                });
            },
            async stop(): Promise<void> {
                stopped = true;
                wake?.();
                for (const waiter of [...idleWaiters]) waiter();
                await loop;
                mappings.delete(handle);
            },
        };
        mappings.add(handle);
        return handle;
    }

    return {
        url,
        async createTable(input: CreateTableInput): Promise<void> {
            const tableName = input.TableName as string;
            let exists = true;
            try {
                await call("DescribeTable", { TableName: tableName });
            } catch (error) {
                if (!(error instanceof ApiError) || error.type !== "ResourceNotFoundException") throw error;
                exists = false;
            }
            if (!exists) {
                const reply = await handleDynamoDb("CreateTable", JSON.stringify(input), INTERNAL_HEADERS());
                if (reply.status !== 200) throw new Error(`CreateTable ${tableName}: ${reply.body}`);
            }
            for (let attempt = 0; attempt < 200; attempt++) {
                const { Table } = await call<{ Table?: { TableStatus?: string; GlobalSecondaryIndexes?: Array<{ IndexStatus?: string }> } }>("DescribeTable", { TableName: tableName });
                if (Table?.TableStatus === "ACTIVE" && (Table.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === "ACTIVE")) return;
                await new Promise((resolve) => setTimeout(resolve, 5));
            }
            throw new Error(`table ${tableName} did not become ACTIVE`);
        },
        mapStream,
        async stop(): Promise<void> {
            await Promise.all([...mappings].map((m) => m.stop()));
            await new Promise<void>((resolve) => {
                front.close(() => resolve());
                front.closeAllConnections();
            });
            await new Promise<void>((resolve, reject) => backend.close((e?: Error) => (e ? reject(e) : resolve())));
        },
    };
}

/**
 * The mapping settings of an `aws.lambda.EventSourceMapping`'s inputs (what infra/search.ts passes to
 * `table.onEvent`, as recorded when the program runs under mocks), so `npm start` delivers the notes stream
 * with the stage's own settings. Lambda's defaults for what is absent ("Lambda parameters for Amazon
 * DynamoDB event source mappings"): batch 100, window 0, retries and age -1 (until the record expires).
 */
export function streamMappingSettings(inputs: {
    startingPosition?: string;
    batchSize?: number;
    maximumBatchingWindowInSeconds?: number;
    bisectBatchOnFunctionError?: boolean;
    functionResponseTypes?: string[];
    maximumRetryAttempts?: number;
    maximumRecordAgeInSeconds?: number;
}): StreamMappingSettings {
    if (inputs.startingPosition !== undefined && inputs.startingPosition !== "TRIM_HORIZON" && inputs.startingPosition !== "LATEST") {
        throw new Error(`startingPosition ${inputs.startingPosition}: a DynamoDB stream mapping starts at TRIM_HORIZON or LATEST`);
    }
    return {
        batchSize: inputs.batchSize ?? 100,
        batchWindowSeconds: inputs.maximumBatchingWindowInSeconds ?? 0,
        maxRetryAttempts: inputs.maximumRetryAttempts ?? -1,
        maxRecordAgeSeconds: inputs.maximumRecordAgeInSeconds ?? -1,
        bisectBatchOnFunctionError: inputs.bisectBatchOnFunctionError ?? false,
        reportBatchItemFailures: (inputs.functionResponseTypes ?? []).includes("ReportBatchItemFailures"),
        startingPosition: inputs.startingPosition ?? "TRIM_HORIZON",
    };
}

/** The CreateTable input for a table declared with `aws.dynamodb.Table` key arguments (infra/data.ts `TableKeys`). */
export function createTableInput(
    tableName: string,
    keys: {
        hashKey: string;
        rangeKey?: string;
        attributes: { name: string; type: "S" | "N" | "B" }[];
        localSecondaryIndexes?: { name: string; rangeKey: string; projectionType: "ALL" }[];
        globalSecondaryIndexes?: { name: string; hashKey: string; rangeKey?: string; projectionType: "ALL" }[];
        streamEnabled?: boolean;
        streamViewType?: StreamViewType | string;
    },
): CreateTableInput {
    const keySchema = (hash: string, range?: string): KeySchemaElement[] => [
        { AttributeName: hash, KeyType: "HASH" },
        ...(range ? [{ AttributeName: range, KeyType: "RANGE" as const }] : []),
    ];
    return {
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: keys.attributes.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
        KeySchema: keySchema(keys.hashKey, keys.rangeKey),
        ...(keys.streamEnabled ? { StreamSpecification: { StreamEnabled: true, StreamViewType: keys.streamViewType as StreamViewType } } : {}),
        ...(keys.localSecondaryIndexes?.length
            ? { LocalSecondaryIndexes: keys.localSecondaryIndexes.map((i) => ({ IndexName: i.name, KeySchema: keySchema(keys.hashKey, i.rangeKey), Projection: { ProjectionType: i.projectionType } })) }
            : {}),
        ...(keys.globalSecondaryIndexes?.length
            ? { GlobalSecondaryIndexes: keys.globalSecondaryIndexes.map((i) => ({ IndexName: i.name, KeySchema: keySchema(i.hashKey, i.rangeKey), Projection: { ProjectionType: i.projectionType } })) }
            : {}),
    };
}

/** Headers for this server's own calls to dynalite (it checks a SigV4-shaped Authorization header is present). */
function INTERNAL_HEADERS(): http.IncomingHttpHeaders {
    const date = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    return {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-date": date,
        authorization: `AWS4-HMAC-SHA256 Credential=local/${date.slice(0, 8)}/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=${"0".repeat(64)}`,
    };
}

function omitAt(record: StoredRecord): Omit<StoredRecord, "at"> {
    const { at: _at, ...rest } = record;
    return rest;
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function bigMax(a: bigint, b: bigint): bigint {
    return a > b ? a : b;
}

/** An attribute map as canonical text: keys sorted, set members sorted (sets are unordered). */
function canonical(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (isObject(value)) {
        return `{${Object.keys(value)
            .sort()
            .map((k) => {
                const v = value[k];
                const sorted = (k === "SS" || k === "NS" || k === "BS") && Array.isArray(v) ? [...v].map(String).sort() : v;
                return `${JSON.stringify(k)}:${canonical(sorted)}`;
            })
            .join(",")}}`;
    }
    return JSON.stringify(value);
}

function listen(server: http.Server, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    });
}
