/**
 * A local Amazon SQS endpoint (standard queues) in the protocol today's `@aws-sdk/client-sqs` speaks: AWS JSON
 * 1.0, `POST /` with `Content-Type: application/x-amz-json-1.0`, `X-Amz-Target: AmazonSQS.<Operation>` and
 * `x-amzn-query-mode: true` (the client is "awsQueryCompatible": see its dist's `protocolSettings`). The queue
 * URL travels in the body; the client sends each request to the queue URL's host. `npm start` keeps the failure
 * queues here, and in-process producers (the local Lambda failure destinations) use {@link LocalSqs.send}.
 *
 * Operations: CreateQueue, GetQueueUrl, SendMessage, ReceiveMessage (MaxNumberOfMessages 1-10,
 * VisibilityTimeout, WaitTimeSeconds 0-20 long polling, system attributes ApproximateReceiveCount, SentTimestamp,
 * ApproximateFirstReceiveTimestamp, SenderId), DeleteMessage, ChangeMessageVisibility, GetQueueAttributes
 * (ApproximateNumberOfMessages, ...NotVisible, ...Delayed, the queue's settings, QueueArn), PurgeQueue.
 *
 * Behaviour modelled on the Amazon SQS API reference and developer guide:
 * - `MD5OfBody` / `MD5OfMessageBody` are the hex MD5 of the body's UTF-8 bytes (the SDK recomputes both and
 *   throws on a mismatch: `@aws-sdk/middleware-sdk-sqs`).
 * - A received message is invisible for the visibility timeout (the request's, else the queue's, default 30 s),
 *   then visible again with its receive count kept. Each receive issues a new receipt handle. DeleteMessage
 *   with an older handle than the latest "will succeed, but the message might not be deleted" (DeleteMessage,
 *   SQS API reference): here it is never deleted, the strict reading; a message already deleted is success.
 *   ChangeMessageVisibility needs the message in flight under its latest handle (`MessageNotInflight`).
 *   VisibilityTimeout 0 makes the message visible at once ("Amazon SQS visibility timeout").
 * - Messages older than `MessageRetentionPeriod` (default 4 days) are dropped; `DelaySeconds` delays delivery.
 * - A body is 1 byte to 256 KiB of the characters SQS allows (`#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
 *   #x10000-#x10FFFF`), else `InvalidMessageContents` / `InvalidParameterValue`.
 * - PurgeQueue twice within 60 s: `PurgeQueueInProgress` (403).
 * - Errors: JSON `{"__type": "com.amazonaws.sqs#<Shape>", "message"}` with the status and the
 *   `x-amzn-query-error: <query code>;Sender` header of each error shape in the client's model (QueueDoesNotExist
 *   400 `AWS.SimpleQueueService.NonExistentQueue`, QueueNameExists 400 `QueueAlreadyExists`,
 *   ReceiptHandleIsInvalid 404, MessageNotInflight 400, PurgeQueueInProgress 403, InvalidMessageContents 400);
 *   parameter errors are 400 `InvalidParameterValue` / `MissingParameter` (SQS "Common Errors").
 * - SigV4: every request must carry an `Authorization` header for service `sqs` in this endpoint's region, checked
 *   structurally (local/sigv4.ts), not against a secret.
 *
 * Deliberate differences: standard queues only (no FIFO), no message attributes (a request with
 * `MessageAttributes` is refused rather than half-served), no batch operations, no dead-letter redrive, no
 * tags or policies; ordering is first-in first-out on a best-effort basis, as a standard queue's.
 * With `dataDir`, the queues and messages are kept in `<dataDir>/sqs.json` across restarts.
 */
import { createHash, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { SigV4Failure, verifySigV4 } from "./sigv4";

export interface LocalSqsOptions {
    /** Port on 127.0.0.1; default an ephemeral one. */
    port?: number;
    /** Keep queues and messages in `<dataDir>/sqs.json`. Default: in memory only. */
    dataDir?: string;
    /** Region of every signature and of the queue ARNs. Default `us-east-1`. */
    region?: string;
    /** The account id in queue URLs and ARNs. Default `000000000000`. */
    accountId?: string;
}

/** A message as {@link LocalSqs.messages} shows it. */
export interface LocalSqsMessage {
    messageId: string;
    body: string;
    receiveCount: number;
    sentTimestamp: number;
    /** Whether a ReceiveMessage would return it now. */
    visible: boolean;
}

export interface LocalSqs {
    /** `http://127.0.0.1:<port>`: the client's `endpoint`. */
    url: string;
    /** `http://127.0.0.1:<port>/<account>/<name>`. */
    queueUrl(name: string): string;
    /** Creates a queue (as CreateQueue would) and returns its URL. */
    createQueue(name: string, attributes?: Record<string, string>): string;
    /** Sends a message to an existing queue, in process (as SendMessage would); returns its message id. */
    send(name: string, body: string): string;
    /** The messages a queue holds (visible or in flight), oldest first. */
    messages(name: string): LocalSqsMessage[];
    stop(): Promise<void>;
}

/** SQS's limit on a message body: 256 KiB. */
export const MAX_MESSAGE_BYTES = 262_144;

const QUEUE_DEFAULTS: Record<string, string> = {
    VisibilityTimeout: "30",
    MessageRetentionPeriod: "345600",
    DelaySeconds: "0",
    ReceiveMessageWaitTimeSeconds: "0",
    MaximumMessageSize: String(MAX_MESSAGE_BYTES),
};
/** Settable queue attributes and their ranges (CreateQueue "Attributes"). */
const QUEUE_ATTRIBUTE_RANGES: Record<string, [number, number]> = {
    VisibilityTimeout: [0, 43_200],
    MessageRetentionPeriod: [60, 1_209_600],
    DelaySeconds: [0, 900],
    ReceiveMessageWaitTimeSeconds: [0, 20],
    MaximumMessageSize: [1_024, MAX_MESSAGE_BYTES],
};
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const VALID_BODY = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const SYSTEM_ATTRIBUTES = ["ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"];

interface StoredMessage {
    messageId: string;
    body: string;
    md5: string;
    sentTimestamp: number;
    senderId: string;
    /** Not deliverable before this time (delay, or visibility timeout). */
    visibleAt: number;
    receiveCount: number;
    firstReceiveTimestamp?: number;
    /** The latest receipt handle, while in flight. */
    receiptHandle?: string;
}

interface Queue {
    name: string;
    attributes: Record<string, string>;
    created: number;
    lastPurge?: number;
    messages: StoredMessage[];
}

/** An error in SQS's JSON shape. */
class SqsError extends Error {
    constructor(
        readonly status: number,
        readonly shape: string,
        readonly queryCode: string,
        message: string,
    ) {
        super(message);
    }
}

const invalid = (message: string) => new SqsError(400, "InvalidParameterValue", "InvalidParameterValue", message);
const missing = (name: string) => new SqsError(400, "MissingParameter", "MissingParameter", `The request must contain the parameter ${name}.`);
const noQueue = () => new SqsError(400, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.");

type Input = Record<string, unknown>;

export async function start(options: LocalSqsOptions = {}): Promise<LocalSqs> {
    const region = options.region ?? "us-east-1";
    const accountId = options.accountId ?? "000000000000";
    const file = options.dataDir === undefined ? undefined : path.join(options.dataDir, "sqs.json");
    const queues = new Map<string, Queue>();
    if (file !== undefined && fs.existsSync(file)) {
        for (const queue of JSON.parse(fs.readFileSync(file, "utf8")) as Queue[]) queues.set(queue.name, queue);
    }
    const save = () => {
        if (file === undefined) return;
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(`${file}.tmp`, JSON.stringify([...queues.values()]));
        fs.renameSync(`${file}.tmp`, file);
    };
    /** Long polls waiting for a message: woken on every change. */
    let waiters: Array<() => void> = [];
    const wake = () => {
        const woken = waiters;
        waiters = [];
        for (const w of woken) w();
    };
    const timers = new Set<NodeJS.Timeout>();
    let stopped = false;
    let base = "";

    const queueUrl = (name: string) => `${base}/${accountId}/${name}`;

    function queueOf(input: Input): Queue {
        const url = input.QueueUrl;
        if (typeof url !== "string" || url === "") throw missing("QueueUrl");
        let pathname: string;
        try {
            pathname = new URL(url).pathname;
        } catch {
            throw new SqsError(404, "InvalidAddress", "InvalidAddress", `The address ${url} is not valid for this endpoint.`);
        }
        const [account, name, ...rest] = pathname.split("/").filter((p) => p !== "");
        if (account !== accountId || name === undefined || rest.length > 0) throw noQueue();
        const queue = queues.get(name);
        if (queue === undefined) throw noQueue();
        expire(queue, Date.now());
        return queue;
    }

    function expire(queue: Queue, now: number) {
        const retention = Number(queue.attributes.MessageRetentionPeriod) * 1000;
        const kept = queue.messages.filter((m) => now - m.sentTimestamp < retention);
        if (kept.length !== queue.messages.length) {
            queue.messages = kept;
            save();
        }
    }

    function checkedAttributes(attributes: unknown): Record<string, string> {
        if (attributes === undefined) return {};
        if (attributes === null || typeof attributes !== "object" || Array.isArray(attributes)) throw invalid("Attributes must be a map.");
        const result: Record<string, string> = {};
        for (const [name, value] of Object.entries(attributes as Record<string, unknown>)) {
            const range = QUEUE_ATTRIBUTE_RANGES[name];
            if (range === undefined) {
                throw new SqsError(400, "InvalidAttributeName", "InvalidAttributeName", `Unknown or unsupported attribute ${name} (this local endpoint has standard queues only).`);
            }
            const n = Number(value);
            if (typeof value !== "string" || !Number.isInteger(n) || n < range[0] || n > range[1]) {
                throw new SqsError(400, "InvalidAttributeValue", "InvalidAttributeValue", `Invalid value for the parameter ${name}.`);
            }
            result[name] = String(n);
        }
        return result;
    }

    function createQueue(name: unknown, attributes: unknown): string {
        if (typeof name !== "string" || name === "") throw missing("QueueName");
        if (!QUEUE_NAME.test(name)) {
            throw invalid("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length (FIFO queues are not supported here).");
        }
        const wanted = { ...QUEUE_DEFAULTS, ...checkedAttributes(attributes) };
        const existing = queues.get(name);
        if (existing !== undefined) {
            // CreateQueue is idempotent for the same attributes; other values are an error.
            const same = Object.keys(wanted).every((k) => existing.attributes[k] === wanted[k]);
            if (!same) throw new SqsError(400, "QueueNameExists", "QueueAlreadyExists", `A queue already exists with the same name and a different value for attribute(s).`);
            return queueUrl(name);
        }
        queues.set(name, { name, attributes: wanted, created: Date.now(), messages: [] });
        save();
        return queueUrl(name);
    }

    function sendTo(queue: Queue, body: unknown, delaySeconds: unknown, senderId: string) {
        if (typeof body !== "string") throw missing("MessageBody");
        const bytes = Buffer.byteLength(body, "utf8");
        if (bytes === 0) throw invalid("The message body must be at least one character long.");
        if (bytes > Number(queue.attributes.MaximumMessageSize)) {
            throw invalid(`One or more parameters are invalid. Reason: Message must be shorter than ${queue.attributes.MaximumMessageSize} bytes.`);
        }
        if (!VALID_BODY.test(body)) {
            throw new SqsError(400, "InvalidMessageContents", "InvalidMessageContents", "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF");
        }
        const delay = delaySeconds === undefined ? Number(queue.attributes.DelaySeconds) : delaySeconds;
        if (typeof delay !== "number" || !Number.isInteger(delay) || delay < 0 || delay > 900) throw invalid("DelaySeconds must be from 0 to 900.");
        const now = Date.now();
        const message: StoredMessage = {
            messageId: randomUUID(),
            body,
            md5: createHash("md5").update(body, "utf8").digest("hex"),
            sentTimestamp: now,
            senderId,
            visibleAt: now + delay * 1000,
            receiveCount: 0,
        };
        queue.messages.push(message);
        save();
        if (delay > 0) later(delay * 1000);
        wake();
        return message;
    }

    /** Wakes long polls when a delay or visibility timeout ends. */
    function later(ms: number) {
        const timer = setTimeout(() => {
            timers.delete(timer);
            wake();
        }, ms);
        timer.unref();
        timers.add(timer);
    }

    function receiveNow(queue: Queue, max: number, visibilitySeconds: number): StoredMessage[] {
        const now = Date.now();
        const taken: StoredMessage[] = [];
        for (const message of queue.messages) {
            if (taken.length >= max) break;
            if (message.visibleAt > now) continue;
            message.receiveCount += 1;
            message.firstReceiveTimestamp ??= now;
            message.visibleAt = now + visibilitySeconds * 1000;
            message.receiptHandle = Buffer.from(JSON.stringify({ q: queue.name, m: message.messageId, r: randomUUID() })).toString("base64url");
            taken.push(message);
        }
        if (taken.length > 0) {
            save();
            if (visibilitySeconds > 0) later(visibilitySeconds * 1000);
        }
        return taken;
    }

    function integer(input: Input, name: string, min: number, max: number): number | undefined {
        const value = input[name];
        if (value === undefined) return undefined;
        if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
            throw invalid(`Value ${String(value)} for parameter ${name} is invalid. Reason: Must be between ${min} and ${max}.`);
        }
        return value;
    }

    function receipt(queue: Queue, input: Input): { handle: string; message: StoredMessage | undefined } {
        const handle = input.ReceiptHandle;
        if (typeof handle !== "string" || handle === "") throw missing("ReceiptHandle");
        let decoded: { q?: unknown; m?: unknown };
        try {
            decoded = JSON.parse(Buffer.from(handle, "base64url").toString("utf8")) as { q?: unknown; m?: unknown };
        } catch {
            decoded = {};
        }
        if (decoded.q !== queue.name || typeof decoded.m !== "string") {
            throw new SqsError(404, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", `The input receipt handle "${handle}" is not a valid receipt handle.`);
        }
        return { handle, message: queue.messages.find((m) => m.messageId === decoded.m) };
    }

    async function operation(name: string, input: Input, accessKeyId: string): Promise<unknown> {
        switch (name) {
            case "CreateQueue":
                return { QueueUrl: createQueue(input.QueueName, input.Attributes) };
            case "GetQueueUrl": {
                if (typeof input.QueueName !== "string" || input.QueueName === "") throw missing("QueueName");
                if (!queues.has(input.QueueName)) throw noQueue();
                return { QueueUrl: queueUrl(input.QueueName) };
            }
            case "SendMessage": {
                const queue = queueOf(input);
                if (input.MessageAttributes !== undefined || input.MessageSystemAttributes !== undefined) {
                    throw invalid("Message attributes are not supported by this local SQS endpoint.");
                }
                const message = sendTo(queue, input.MessageBody, input.DelaySeconds, accessKeyId);
                return { MessageId: message.messageId, MD5OfMessageBody: message.md5 };
            }
            case "ReceiveMessage": {
                const queue = queueOf(input);
                const max = integer(input, "MaxNumberOfMessages", 1, 10) ?? 1;
                const visibility = integer(input, "VisibilityTimeout", 0, 43_200) ?? Number(queue.attributes.VisibilityTimeout);
                const wait = integer(input, "WaitTimeSeconds", 0, 20) ?? Number(queue.attributes.ReceiveMessageWaitTimeSeconds);
                const names = [
                    ...(Array.isArray(input.AttributeNames) ? input.AttributeNames : []),
                    ...(Array.isArray(input.MessageSystemAttributeNames) ? input.MessageSystemAttributeNames : []),
                ].map(String);
                const wanted = names.includes("All") ? SYSTEM_ATTRIBUTES : SYSTEM_ATTRIBUTES.filter((a) => names.includes(a));
                const deadline = Date.now() + wait * 1000;
                let taken = receiveNow(queue, max, visibility);
                // Long polling: answer as soon as a message is there, or empty when the wait is over.
                while (taken.length === 0 && Date.now() < deadline && !stopped) {
                    await new Promise<void>((resolve) => {
                        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
                        waiters.push(() => {
                            clearTimeout(timer);
                            resolve();
                        });
                    });
                    if (!queues.has(queue.name)) throw noQueue();
                    expire(queue, Date.now());
                    taken = receiveNow(queue, max, visibility);
                }
                if (taken.length === 0) return {};
                return {
                    Messages: taken.map((m) => {
                        const attributes: Record<string, string> = {
                            ApproximateReceiveCount: String(m.receiveCount),
                            SentTimestamp: String(m.sentTimestamp),
                            ApproximateFirstReceiveTimestamp: String(m.firstReceiveTimestamp),
                            SenderId: m.senderId,
                        };
                        return {
                            MessageId: m.messageId,
                            ReceiptHandle: m.receiptHandle,
                            MD5OfBody: m.md5,
                            Body: m.body,
                            ...(wanted.length > 0 ? { Attributes: Object.fromEntries(wanted.map((a) => [a, attributes[a]])) } : {}),
                        };
                    }),
                };
            }
            case "DeleteMessage": {
                const queue = queueOf(input);
                const { handle, message } = receipt(queue, input);
                if (message !== undefined && message.receiptHandle === handle) {
                    queue.messages = queue.messages.filter((m) => m !== message);
                    save();
                }
                return {};
            }
            case "ChangeMessageVisibility": {
                const queue = queueOf(input);
                const { handle, message } = receipt(queue, input);
                const timeout = integer(input, "VisibilityTimeout", 0, 43_200);
                if (timeout === undefined) throw missing("VisibilityTimeout");
                const now = Date.now();
                if (message === undefined || message.receiptHandle !== handle || message.visibleAt <= now) {
                    throw new SqsError(400, "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "The message referred to isn't in flight.");
                }
                message.visibleAt = now + timeout * 1000;
                save();
                if (timeout === 0) wake();
                else later(timeout * 1000);
                return {};
            }
            case "GetQueueAttributes": {
                const queue = queueOf(input);
                const names = Array.isArray(input.AttributeNames) ? input.AttributeNames.map(String) : [];
                const now = Date.now();
                const all: Record<string, string> = {
                    ...queue.attributes,
                    ApproximateNumberOfMessages: String(queue.messages.filter((m) => m.visibleAt <= now).length),
                    ApproximateNumberOfMessagesNotVisible: String(queue.messages.filter((m) => m.visibleAt > now && m.receiveCount > 0).length),
                    ApproximateNumberOfMessagesDelayed: String(queue.messages.filter((m) => m.visibleAt > now && m.receiveCount === 0).length),
                    CreatedTimestamp: String(Math.floor(queue.created / 1000)),
                    LastModifiedTimestamp: String(Math.floor(queue.created / 1000)),
                    QueueArn: `arn:aws:sqs:${region}:${accountId}:${queue.name}`,
                    SqsManagedSseEnabled: "false",
                };
                for (const n of names) {
                    if (n !== "All" && !(n in all)) throw new SqsError(400, "InvalidAttributeName", "InvalidAttributeName", `Unknown Attribute ${n}.`);
                }
                const picked = names.includes("All") ? Object.keys(all) : names;
                return picked.length === 0 ? {} : { Attributes: Object.fromEntries(picked.map((n) => [n, all[n]])) };
            }
            case "PurgeQueue": {
                const queue = queueOf(input);
                const now = Date.now();
                if (queue.lastPurge !== undefined && now - queue.lastPurge < 60_000) {
                    throw new SqsError(403, "PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", `Only one PurgeQueue operation on ${queue.name} is allowed every 60 seconds.`);
                }
                queue.lastPurge = now;
                queue.messages = [];
                save();
                return {};
            }
            default:
                throw new SqsError(400, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", `Operation ${name} is not supported by this local SQS endpoint.`);
        }
    }

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const raw = Buffer.concat(chunks);
            const url = new URL(req.url ?? "/", "http://127.0.0.1");
            const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
                res.writeHead(status, { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": randomUUID(), ...headers });
                res.end(JSON.stringify(body));
            };
            const fail = (err: SqsError) =>
                answer(err.status, { __type: `com.amazonaws.sqs#${err.shape}`, message: err.message }, { "x-amzn-query-error": `${err.queryCode};Sender` });
            (async () => {
                try {
                    verifySigV4(req, url, raw, { service: "sqs", region });
                } catch (err) {
                    if (err instanceof SigV4Failure) throw new SqsError(err.status, err.code, err.code, err.message);
                    throw err;
                }
                const target = req.headers["x-amz-target"];
                if (req.method !== "POST" || typeof target !== "string" || !target.startsWith("AmazonSQS.")) {
                    throw new SqsError(400, "InvalidAction", "InvalidAction", "Expected a POST with X-Amz-Target: AmazonSQS.<Operation> (AWS JSON 1.0).");
                }
                let input: unknown;
                try {
                    input = raw.length === 0 ? {} : JSON.parse(raw.toString("utf8"));
                } catch {
                    throw new SqsError(400, "SerializationException", "SerializationException", "The request body is not valid JSON.");
                }
                if (input === null || typeof input !== "object" || Array.isArray(input)) throw invalid("The request body must be a JSON object.");
                const accessKeyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? "")?.[1] ?? "anonymous";
                return operation(target.slice("AmazonSQS.".length), input as Input, accessKeyId);
            })().then(
                (body) => answer(200, body),
                (err: unknown) => {
                    if (err instanceof SqsError) fail(err);
                    else fail(new SqsError(500, "InternalError", "InternalError", err instanceof Error ? err.message : String(err)));
                },
            );
        });
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const named = (name: string) => {
        const queue = queues.get(name);
        if (queue === undefined) throw new Error(`no queue ${name} on the local SQS endpoint`);
        expire(queue, Date.now());
        return queue;
    };
    return {
        url: base,
        queueUrl,
        createQueue: (name, attributes) => createQueue(name, attributes),
        send: (name, body) => sendTo(named(name), body, undefined, "local").messageId,
        messages: (name) => {
            const now = Date.now();
            return named(name).messages.map((m) => ({
                messageId: m.messageId,
                body: m.body,
                receiveCount: m.receiveCount,
                sentTimestamp: m.sentTimestamp,
                visible: m.visibleAt <= now,
            }));
        },
        stop: () => {
            stopped = true;
            wake();
            for (const timer of timers) clearTimeout(timer);
            server.closeAllConnections();
            return new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
}
