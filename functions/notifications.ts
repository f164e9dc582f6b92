import { DeleteEndpointCommand, PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { DeleteCommand, QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import {
    IDENTITY_ID_PATTERN,
    NOTIFICATION_LIMITS,
    PUSH_PLATFORMS,
    sendNotificationSchema,
    type DeviceItem,
    type NotificationRequestEvent,
    type PushPlatform,
    type PushSettings,
} from "./notification-schema";
import { firstSchemaViolation } from "./schema";

/** Structured logger; never given message, title or data text. Default: one JSON line per message. */
export type NotificationLog = (message: string, details: Record<string, unknown>) => void;

/** What one notification request came to. */
export interface PushResult {
    recipientId: string;
    /** Platform endpoints of the recipient that a push was attempted to. */
    endpoints: number;
    /** Of those, the pushes SNS accepted. */
    delivered: number;
    /** Device ids whose endpoint was disabled or gone, now deleted with their SNS endpoint. */
    removedDevices: string[];
    /** The message id of the stage-wide topic publish. */
    topicMessageId?: string;
}

/** A notification as the platform payloads are built from it. `from` is the sender's identity id. */
export interface NotificationContent {
    title?: string;
    message: string;
    data?: Record<string, string>;
    from: string;
}

/**
 * The key of the sender's identity id in the FCM `data` map. Not `from`: FCM HTTP v1 reserves the data keys
 * `from` and `message_type` and every key starting with `google` or `gcm`, and rejects a message that uses one
 * (see {@link FCM_RESERVED_DATA_KEY}). APNs has no such rule, so there the sender stays the top-level `from`.
 */
export const FCM_SENDER_KEY = "senderId";

/** Data keys FCM HTTP v1 refuses (`Message.data`: "should not be a reserved word"). */
export const FCM_RESERVED_DATA_KEY = /^(from|message_type)$|^(google|gcm)/i;

/** Appended to a truncated title or body. */
export const ELLIPSIS = "…";

/**
 * The logic of the asynchronous notification function. API Gateway invokes it with invocation type `Event`
 * and has already answered 202, so nothing returned here reaches the caller:
 *
 * - A malformed event (it is validated again, with the same schema as API Gateway) is logged as an error and
 *   answered with `undefined`: retrying it could never succeed, and the log line is the record.
 * - Every device of the recipient whose platform has an application on this stage gets a push, and the
 *   stage-wide topic gets one message with `recipientId` and `from` attributes (for email, SQS or HTTPS
 *   subscribers filtering per user; with no platform applications that is the whole delivery).
 * - An endpoint SNS reports disabled or gone is deleted, with its device record.
 * - Any other failure (throttling, 5xx, network) does not stop the other deliveries, but the function throws
 *   at the end, so that Lambda's asynchronous retries and then its on-failure destination keep the event.
 *   Delivery is therefore AT LEAST ONCE: a retry publishes again to every endpoint and to the topic,
 *   including those that already got the notification on the failed attempt.
 */
export async function sendNotification(
    event: NotificationRequestEvent,
    clients: { db: DynamoDBDocumentClient; sns: SNSClient },
    settings: PushSettings & { log?: NotificationLog },
): Promise<PushResult | undefined> {
    const log = settings.log ?? defaultLog;
    const requestId = describeRequestId(event);
    const problem = invalidEventProblem(event);
    if (problem !== undefined) {
        log("invalid notification request; dropped", { level: "error", requestId, problem });
        return undefined;
    }
    const body = event.body as SendNotificationBody;
    const recipientId = body.recipientId;
    const content: NotificationContent = {
        ...(body.title === undefined ? {} : { title: body.title }),
        message: body.message,
        ...(body.data === undefined ? {} : { data: body.data }),
        from: event.senderId,
    };

    // Read every device first: if that fails nothing has been delivered yet, and the retry starts clean.
    let devices: DeviceItem[];
    try {
        devices = await recipientDevices(clients.db, settings.devicesTable, recipientId);
    } catch (err) {
        log("could not read the recipient's devices", { level: "error", requestId, error: describeError(err) });
        throw err;
    }

    const messages = new PlatformMessages(content, settings.applications, (message, details) =>
        log(message, { requestId, ...details }),
    );
    const targets: { device: DeviceItem; message: string }[] = [];
    let skipped = 0;
    for (const device of devices) {
        const message = isDeliverable(device) ? messages.forPlatform(device.platform) : undefined;
        if (message === undefined) skipped += 1;
        else targets.push({ device, message });
    }

    let delivered = 0;
    let failed = 0;
    const removedDevices: string[] = [];
    await forEachConcurrently(targets, ENDPOINT_CONCURRENCY, async ({ device, message }) => {
        try {
            await clients.sns.send(
                new PublishCommand({ TargetArn: device.endpointArn, MessageStructure: "json", Message: message }),
            );
            delivered += 1;
        } catch (err) {
            const details = { requestId, deviceId: device.deviceId, platform: device.platform, error: describeError(err) };
            if (isGoneEndpoint(err)) {
                log("push endpoint disabled or gone; removing the device", { level: "warn", ...details });
                if (await removeDevice(clients, settings.devicesTable, device, requestId, log)) {
                    removedDevices.push(device.deviceId);
                }
            } else {
                failed += 1;
                log("push to endpoint failed", { level: "error", ...details });
            }
        }
    });

    let topicMessageId: string | undefined;
    try {
        const published = await clients.sns.send(
            new PublishCommand({
                TopicArn: settings.topicArn,
                MessageStructure: "json",
                Message: topicMessage(recipientId, content),
                MessageAttributes: {
                    recipientId: { DataType: "String", StringValue: recipientId },
                    from: { DataType: "String", StringValue: content.from },
                },
            }),
        );
        topicMessageId = published?.MessageId;
    } catch (err) {
        failed += 1;
        log("publish to the notifications topic failed", { level: "error", requestId, error: describeError(err) });
    }

    const summary = {
        requestId,
        devices: devices.length,
        skippedDevices: skipped,
        endpoints: targets.length,
        delivered,
        removedDevices: removedDevices.length,
        failed,
        topicPublished: topicMessageId !== undefined,
    };
    if (failed > 0) {
        log("notification delivery incomplete; failing for a retry", { level: "error", ...summary });
        // Lambda retries the whole event (at least once: endpoints that succeeded get it again).
        throw new Error(
            `${failed} of ${targets.length + 1} notification deliveries failed (request ${requestId}); ` +
                "failing so that Lambda retries the event",
        );
    }
    log("notification sent", { level: "info", ...summary });
    return { recipientId, endpoints: targets.length, delivered, removedDevices, ...(topicMessageId ? { topicMessageId } : {}) };
}

/**
 * The SNS message (for `MessageStructure: "json"`) of a notification to mobile endpoints: `default` is the
 * message text; `APNS` or `APNS_SANDBOX` and `GCM` (FCM HTTP v1, `fcmV1Message`) are present only when asked
 * for, each a JSON string within its platform's byte limit ({@link NOTIFICATION_LIMITS}):
 *
 * - APNs: `{"aps":{"alert":{"title","body"},"sound":"default"},"from":<sender>,"data":{...}}`
 * - FCM:  `{"fcmV1Message":{"message":{"notification":{"title","body"},"data":{"senderId":<sender>,...}}}}`
 *
 * A payload over its limit has its body cut (on a grapheme boundary, so never inside a character or a
 * surrogate pair) and `…` appended; if the body alone cannot make room, the title is cut the same way; if
 * even that is not enough, data fields are dropped, largest first. Any such change is logged (field names
 * and byte counts only).
 */
export function platformMessage(
    note: NotificationContent,
    platforms: { apns?: "APNS" | "APNS_SANDBOX"; gcm?: boolean },
    log: NotificationLog = defaultLog,
): string {
    const message: Record<string, string> = { default: note.message };
    if (platforms.apns !== undefined) {
        message[platforms.apns] = fitPayload(
            platforms.apns,
            { title: note.title, body: note.message, data: entriesOf(note.data) },
            (parts) => apnsPayload(parts, note.from),
            NOTIFICATION_LIMITS.apnsPayloadBytes,
            [],
            log,
        );
    }
    if (platforms.gcm === true) {
        const data = entriesOf(note.data);
        const allowed = data.filter(([key]) => !FCM_RESERVED_DATA_KEY.test(key) && key !== FCM_SENDER_KEY);
        const reserved = data.filter((entry) => !allowed.includes(entry)).map(([key]) => key);
        message.GCM = fitPayload(
            "GCM",
            { title: note.title, body: note.message, data: allowed },
            (parts) => fcmPayload(parts, note.from),
            NOTIFICATION_LIMITS.fcmPayloadBytes,
            reserved,
            log,
        );
    }
    return JSON.stringify(message);
}

/** The topic message: the whole notification as JSON, for subscribers that are not mobile endpoints. */
export function topicMessage(recipientId: string, note: NotificationContent): string {
    const { from, title, message, data } = note;
    return JSON.stringify({ default: JSON.stringify({ recipientId, from, title, message, data }) });
}

// ---------------------------------------------------------------------------------------------------------

/** How many endpoint publishes run at once. */
const ENDPOINT_CONCURRENCY = 8;

interface SendNotificationBody {
    recipientId: string;
    title?: string;
    message: string;
    data?: Record<string, string>;
}

/** Why the event cannot be a notification, or `undefined`; never quotes the message text. */
function invalidEventProblem(event: unknown): string | undefined {
    if (event === null || typeof event !== "object" || Array.isArray(event)) return "the event must be an object.";
    const { senderId, body } = event as Partial<NotificationRequestEvent>;
    if (typeof senderId !== "string" || !new RegExp(IDENTITY_ID_PATTERN, "u").test(senderId)) {
        return "senderId must be the sender's Cognito identity id (<region>:<uuid>).";
    }
    const problem = firstSchemaViolation(sendNotificationSchema, body);
    return problem === undefined ? undefined : clip(problem, 300);
}

function describeRequestId(event: unknown): string | null {
    const requestId = (event as Partial<NotificationRequestEvent> | null)?.requestId;
    return typeof requestId === "string" ? clip(requestId, 200) : null;
}

/** Every device item of the recipient, all pages. */
async function recipientDevices(db: DynamoDBDocumentClient, tableName: string, ownerId: string): Promise<DeviceItem[]> {
    const devices: DeviceItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
        const page = await db.send(
            new QueryCommand({
                TableName: tableName,
                KeyConditionExpression: "#ownerId = :ownerId",
                ExpressionAttributeNames: { "#ownerId": "ownerId" },
                ExpressionAttributeValues: { ":ownerId": ownerId },
                ExclusiveStartKey: startKey,
            }),
        );
        devices.push(...((page.Items ?? []) as DeviceItem[]));
        startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return devices;
}

function isDeliverable(device: DeviceItem): boolean {
    return (
        typeof device.deviceId === "string" &&
        typeof device.endpointArn === "string" &&
        device.endpointArn !== "" &&
        (PUSH_PLATFORMS as readonly string[]).includes(device.platform)
    );
}

/** The SNS message per platform, built (and its truncation logged) once per notification. */
class PlatformMessages {
    private readonly built = new Map<PushPlatform, string | undefined>();

    constructor(
        private readonly content: NotificationContent,
        private readonly applications: PushSettings["applications"],
        private readonly log: NotificationLog,
    ) {}

    /** The message for a device of `platform`, or `undefined` when the stage has no application for it. */
    forPlatform(platform: PushPlatform): string | undefined {
        if (!this.built.has(platform)) this.built.set(platform, this.build(platform));
        return this.built.get(platform);
    }

    private build(platform: PushPlatform): string | undefined {
        switch (platform) {
            case "ios": {
                const ios = this.applications.ios;
                if (ios === undefined) return undefined;
                return platformMessage(this.content, { apns: ios.sandbox ? "APNS_SANDBOX" : "APNS" }, this.log);
            }
            case "android":
                return this.applications.android === undefined
                    ? undefined
                    : platformMessage(this.content, { gcm: true }, this.log);
        }
    }
}

/** What a platform payload is built from; `title` undefined means none. */
interface PayloadParts {
    title?: string;
    body: string;
    data: [string, string][];
}

function apnsPayload(parts: PayloadParts, from: string): unknown {
    return {
        aps: { alert: { ...(parts.title === undefined ? {} : { title: parts.title }), body: parts.body }, sound: "default" },
        from,
        data: Object.fromEntries(parts.data),
    };
}

function fcmPayload(parts: PayloadParts, from: string): unknown {
    return {
        fcmV1Message: {
            message: {
                notification: { ...(parts.title === undefined ? {} : { title: parts.title }), body: parts.body },
                data: Object.fromEntries([[FCM_SENDER_KEY, from], ...parts.data]),
            },
        },
    };
}

/** Data fields in order, as own entries (a `__proto__` key stays plain data). */
function entriesOf(data: Record<string, string> | undefined): [string, string][] {
    return data === undefined ? [] : Object.entries(data);
}

/**
 * The JSON text of `build(parts)` within `limit` UTF-8 bytes: the body is cut first, then the title, then
 * data fields are dropped (largest first), as little as needed. Logs any change.
 */
function fitPayload(
    platform: string,
    original: PayloadParts,
    build: (parts: PayloadParts) => unknown,
    limit: number,
    reservedDropped: string[],
    log: NotificationLog,
): string {
    const json = (parts: PayloadParts) => JSON.stringify(build(parts));
    const fits = (parts: PayloadParts) => utf8Bytes(json(parts)) <= limit;
    if (reservedDropped.length > 0) {
        log("dropped reserved data fields from a push payload", { level: "warn", platform, fields: reservedDropped });
    }
    if (fits(original)) return json(original);

    // The smallest payload a title and data allow: the body as it is or cut to just the ellipsis.
    const fitsSomeBody = (title: string | undefined, data: [string, string][]) =>
        fits({ title, body: original.body, data }) || fits({ title, body: ELLIPSIS, data });

    // 1. Data: dropped only when even no title and the shortest body leave no room.
    let data = original.data;
    const droppedFields: string[] = [];
    if (!fitsSomeBody(undefined, data)) {
        const bySize = [...data].sort((a, b) => utf8Bytes(JSON.stringify(b)) - utf8Bytes(JSON.stringify(a)));
        const dropped = new Set<[string, string]>();
        for (const entry of bySize) {
            dropped.add(entry);
            droppedFields.push(entry[0]);
            if (fitsSomeBody(undefined, data.filter((e) => !dropped.has(e)))) break;
        }
        data = data.filter((e) => !dropped.has(e));
    }

    // 2. Title: kept whole if the shortest body allows, else cut; dropped if not even the ellipsis fits.
    let title = original.title;
    if (title !== undefined && !fitsSomeBody(title, data)) {
        const whole = title;
        title = fitsSomeBody(ELLIPSIS, data)
            ? truncated(whole, (prefix) => fitsSomeBody(prefix + ELLIPSIS, data))
            : undefined;
    }

    // 3. Body: whole if it fits, else the longest prefix that fits with the ellipsis.
    let body = original.body;
    if (!fits({ title, body, data })) body = truncated(body, (prefix) => fits({ title, body: prefix + ELLIPSIS, data }));

    const result = { title, body, data };
    const text = json(result);
    const details = {
        platform,
        originalBytes: utf8Bytes(json(original)),
        finalBytes: utf8Bytes(text),
        limitBytes: limit,
        truncated: [
            ...(body !== original.body ? ["body"] : []),
            ...(title !== original.title ? [title === undefined ? "title (dropped)" : "title"] : []),
        ],
        droppedDataFields: droppedFields,
    };
    if (details.finalBytes > limit) {
        // Unreachable with the schema's limits (the sender id and an ellipsis are far below 4 KB).
        log("push payload over its limit even when cut", { level: "error", ...details });
    } else {
        log("push payload cut to fit", { level: droppedFields.length > 0 ? "warn" : "info", ...details });
    }
    return text;
}

/**
 * `text` cut to its longest prefix, ending on a grapheme boundary (so never inside a character, a surrogate
 * pair or a combined emoji), that `fits`, with {@link ELLIPSIS} appended. `fits` must be monotonic (a
 * shorter prefix fits whenever a longer one does) and must accept the empty prefix.
 */
function truncated(text: string, fits: (prefix: string) => boolean): string {
    const boundaries = graphemeBoundaries(text);
    let lo = 0;
    let hi = boundaries.length - 1;
    while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (fits(text.slice(0, boundaries[mid]))) lo = mid;
        else hi = mid - 1;
    }
    return text.slice(0, boundaries[lo]) + ELLIPSIS;
}

/** Offsets (UTF-16 units) where a prefix may end: 0, every grapheme boundary, and the length. */
function graphemeBoundaries(text: string): number[] {
    // Made here, not at module level: a native Segmenter cannot be serialized into the Lambda closure.
    const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });
    const boundaries = [0];
    for (const { index, segment } of graphemes.segment(text)) boundaries.push(index + segment.length);
    return boundaries;
}

/** SNS says the endpoint can never take a push again: disabled by the platform, deleted, or not an endpoint. */
function isGoneEndpoint(err: unknown): boolean {
    const name = errorName(err);
    if (name === "EndpointDisabledException" || name === "EndpointDisabled") return true;
    if (name === "NotFoundException" || name === "NotFound") return true;
    if (name === "InvalidParameterException" || name === "InvalidParameter") {
        const message = err instanceof Error ? err.message : String(err);
        return /endpoint|target\s*arn/i.test(message) && /invalid|disabled|not found|no endpoint|does not exist/i.test(message);
    }
    return false;
}

/**
 * Deletes the SNS endpoint (already gone is fine) and then the device record, unless the record meanwhile
 * points to another endpoint (the app registered again). Failures are logged, not thrown: the device gets
 * cleaned up on a later notification. Returns whether the record is gone.
 */
async function removeDevice(
    clients: { db: DynamoDBDocumentClient; sns: SNSClient },
    tableName: string,
    device: DeviceItem,
    requestId: string | null,
    log: NotificationLog,
): Promise<boolean> {
    const details = { requestId, deviceId: device.deviceId, platform: device.platform };
    try {
        await clients.sns.send(new DeleteEndpointCommand({ EndpointArn: device.endpointArn }));
    } catch (err) {
        const name = errorName(err);
        // NotFound: already deleted. InvalidParameter: not an endpoint ARN at all, so there is nothing to delete.
        if (name !== "NotFoundException" && name !== "InvalidParameterException") {
            log("could not delete the push endpoint; keeping the device for now", {
                level: "error",
                ...details,
                error: describeError(err),
            });
            return false;
        }
    }
    try {
        await clients.db.send(
            new DeleteCommand({
                TableName: tableName,
                Key: { ownerId: device.ownerId, deviceId: device.deviceId },
                ConditionExpression: "#endpointArn = :endpointArn",
                ExpressionAttributeNames: { "#endpointArn": "endpointArn" },
                ExpressionAttributeValues: { ":endpointArn": device.endpointArn },
            }),
        );
    } catch (err) {
        if (errorName(err) === "ConditionalCheckFailedException") {
            log("device registered again meanwhile; record kept", { level: "info", ...details });
            return false;
        }
        log("could not delete the device record", { level: "error", ...details, error: describeError(err) });
        return false;
    }
    log("removed device with a dead push endpoint", { level: "info", ...details });
    return true;
}

/** Runs `task` for every item, at most `limit` at a time; `task` must not throw. */
async function forEachConcurrently<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const item = items[next];
            next += 1;
            await task(item);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function utf8Bytes(text: string): number {
    return Buffer.byteLength(text, "utf8");
}

function errorName(err: unknown): string | undefined {
    return err !== null && typeof err === "object" ? String((err as { name?: unknown }).name ?? "") : undefined;
}

/** An error as log details: what it is and what the service said, never a request body. */
function describeError(err: unknown): Record<string, unknown> {
    if (err instanceof Error) {
        const metadata = (err as { $metadata?: { httpStatusCode?: number; requestId?: string } }).$metadata;
        return {
            name: err.name,
            message: clip(err.message, 1000),
            httpStatusCode: metadata?.httpStatusCode ?? null,
            awsRequestId: metadata?.requestId ?? null,
        };
    }
    return { message: clip(String(err), 1000) };
}

function clip(text: string, max: number): string {
    return text.length > max ? `${text.slice(0, max)}…` : text;
}

function defaultLog(message: string, details: Record<string, unknown>): void {
    const line = JSON.stringify({ message, ...details });
    if (details.level === "error") console.error(line);
    else console.log(line);
}
