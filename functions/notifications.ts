import { DeleteEndpointCommand, PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { isBlocked } from "./blocks";
import {
    DATA_KEY_PATTERN,
    DEFAULT_MAX_DEVICES_PER_IDENTITY,
    IDENTITY_ID_PATTERN,
    NOTIFICATION_LIMITS,
    PUSH_PLATFORMS,
    sendNotificationSchema,
    type DeviceItem,
    type NotificationRequestEvent,
    type PushPlatform,
    type PushSettings,
} from "./notification-schema";
import { LIMITS_KEY, LIMITS_TTL_ATTRIBUTE, consume, receivedRule, sentRule, type LimitSettings } from "./rate-limit";
import { firstSchemaViolation } from "./schema";
import { fieldTextProblem } from "./text";

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
    /** Why nothing was sent, when the notification was dropped. */
    dropped?: DropReason;
}

/** Why a valid notification was dropped (the sender got 202 all the same). */
export type DropReason = "blocked" | "sender over limit" | "recipient over limit";

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

/** What the notification function needs besides its clients. */
export type NotificationSettings = PushSettings & {
    log?: NotificationLog;
    /**
     * Fair-use limits and the limits table, which also keeps the delivery records that make a retry skip
     * what an earlier attempt delivered. Default: none (no limits, and a retry delivers again).
     */
    limits?: LimitSettings;
    /** Clock; tests replace it. */
    now?: () => Date;
};

/**
 * The logic of the asynchronous notification function. API Gateway invokes it with invocation type `Event`
 * and has already answered 202, so nothing returned here reaches the caller:
 *
 * - A malformed event (it is validated again, with the same schema as API Gateway, then the text rules of
 *   `functions/text.ts` and the data limits the schema cannot express) is logged as an error and answered
 *   with `undefined`: retrying it could never succeed, and the log line is the record.
 * - A notification from a sender the recipient blocked, or over the sender's hourly sending limit or the
 *   recipient's hourly receiving limit, is dropped and logged (ids and counts only): the sender got its 202
 *   and cannot tell.
 * - Every device of the recipient (the most recently registered {@link PushSettings.maxDevicesPerIdentity})
 *   whose platform has an application on this stage gets a push, and the stage-wide topic gets one message
 *   with `recipientId` and `from` attributes. Each message's size is checked before it is published.
 * - An endpoint SNS reports disabled or gone is deleted, with its device record.
 * - A push or topic message SNS refuses for good (InvalidParameter, e.g. "Message too long") is logged and
 *   not retried: a retry could only deliver the other copies twice.
 * - Any other failure (throttling, 5xx, network) does not stop the other deliveries, but the function
 *   records what was delivered (the delivery record, keyed by the request id, with a TTL) and throws at the
 *   end, so that Lambda's asynchronous retries and then its on-failure destination keep the event. A retry
 *   publishes only to the endpoints and topic that have not got it yet, and does not count against the
 *   limits again.
 */
export async function sendNotification(
    event: NotificationRequestEvent,
    clients: { db: DynamoDBDocumentClient; sns: SNSClient },
    settings: NotificationSettings,
): Promise<PushResult | undefined> {
    const log = settings.log ?? defaultLog;
    const now = settings.now ?? (() => new Date());
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
    const record = new DeliveryRecord(clients.db, settings.limits?.tableName, requestId, now);

    // Admission and the devices first: if any of it fails nothing has been delivered yet, and the retry starts clean.
    let devices: DeviceItem[];
    let earlier: Set<string>;
    try {
        const previous = await record.read();
        const dropped = await admission(clients.db, settings, event.senderId, recipientId, previous === undefined, now());
        if (dropped !== undefined) {
            log("notification dropped", { level: "warn", requestId, reason: dropped, senderId: event.senderId, recipientId });
            return { recipientId, endpoints: 0, delivered: 0, removedDevices: [], dropped };
        }
        if (previous === undefined) await record.open();
        earlier = previous ?? new Set();
        devices = await recipientDevices(clients.db, settings.devicesTable, recipientId);
    } catch (err) {
        log("could not read the recipient's blocks, limits or devices", { level: "error", requestId, error: describeError(err) });
        throw err;
    }
    const maxDevices = settings.maxDevicesPerIdentity ?? DEFAULT_MAX_DEVICES_PER_IDENTITY;
    const ignoredDevices = Math.max(0, devices.length - maxDevices);
    // Over the cap (records from before it): only the most recently registered devices get the push.
    const current = [...devices].sort((a, b) => String(b.updatedAt).localeCompare(String(a.updatedAt))).slice(0, maxDevices);

    const messages = new PlatformMessages(content, settings.applications, (message, details) =>
        log(message, { requestId, ...details }),
    );
    const targets: { device: DeviceItem; message: string }[] = [];
    let skipped = 0;
    let alreadyDelivered = 0;
    for (const device of current) {
        const message = isDeliverable(device) ? messages.forPlatform(device.platform) : undefined;
        if (message === undefined) skipped += 1;
        else if (earlier.has(device.endpointArn)) alreadyDelivered += 1;
        else targets.push({ device, message });
    }

    let delivered = 0;
    let failed = 0;
    let refused = 0;
    const deliveredTo: string[] = [];
    const removedDevices: string[] = [];
    await forEachConcurrently(targets, ENDPOINT_CONCURRENCY, async ({ device, message }) => {
        const details = { requestId, deviceId: device.deviceId, platform: device.platform };
        try {
            await clients.sns.send(
                new PublishCommand({ TargetArn: device.endpointArn, MessageStructure: "json", Message: message }),
            );
            delivered += 1;
            deliveredTo.push(device.endpointArn);
        } catch (err) {
            if (isGoneEndpoint(err)) {
                log("push endpoint disabled or gone; removing the device", { level: "warn", ...details, error: describeError(err) });
                if (await removeDevice(clients, settings.devicesTable, device, requestId, log)) {
                    removedDevices.push(device.deviceId);
                }
            } else if (isPermanentPublishError(err)) {
                refused += 1;
                log("push refused by SNS for good; not retried", { level: "error", ...details, error: describeError(err) });
            } else {
                failed += 1;
                log("push to endpoint failed", { level: "error", ...details, error: describeError(err) });
            }
        }
    });

    let topicMessageId: string | undefined;
    if (!earlier.has(TOPIC_TARGET)) {
        const attributes = {
            recipientId: { DataType: "String", StringValue: recipientId },
            from: { DataType: "String", StringValue: content.from },
        };
        const message = topicMessage(recipientId, content);
        const size = publishSize(message, attributes);
        if (size > SNS_MAX_MESSAGE_BYTES) {
            refused += 1;
            log("topic message over SNS's size limit; not published", { level: "error", requestId, bytes: size, limitBytes: SNS_MAX_MESSAGE_BYTES });
        } else {
            try {
                const published = await clients.sns.send(
                    new PublishCommand({ TopicArn: settings.topicArn, MessageStructure: "json", Message: message, MessageAttributes: attributes }),
                );
                topicMessageId = published?.MessageId;
                deliveredTo.push(TOPIC_TARGET);
            } catch (err) {
                if (isPermanentPublishError(err)) {
                    refused += 1;
                    log("topic message refused by SNS for good; not retried", { level: "error", requestId, error: describeError(err) });
                } else {
                    failed += 1;
                    log("publish to the notifications topic failed", { level: "error", requestId, error: describeError(err) });
                }
            }
        }
    }

    const summary = {
        requestId,
        devices: devices.length,
        ignoredDevices,
        skippedDevices: skipped,
        alreadyDelivered,
        endpoints: targets.length,
        delivered,
        removedDevices: removedDevices.length,
        refused,
        failed,
        topicPublished: topicMessageId !== undefined,
    };
    if (failed > 0) {
        try {
            await record.add(deliveredTo);
        } catch (err) {
            // The retry will then deliver again to those: at least once rather than never.
            log("could not record the deliveries; a retry may repeat them", { level: "error", requestId, error: describeError(err) });
        }
        log("notification delivery incomplete; failing for a retry", { level: "error", ...summary });
        // Lambda retries the event; the delivery record keeps the retry from repeating what was delivered.
        throw new Error(
            `${failed} of ${targets.length + 1} notification deliveries failed (request ${requestId}); ` +
                "failing so that Lambda retries the event",
        );
    }
    log("notification sent", { level: "info", ...summary });
    return { recipientId, endpoints: targets.length, delivered, removedDevices, ...(topicMessageId ? { topicMessageId } : {}) };
}

/**
 * Why a valid notification is dropped, or `undefined` to deliver it: the recipient blocked the sender, the
 * sender used up its hourly sends, or the recipient its hourly receipts. The limits are counted only on an
 * event's first attempt (`count`); a blocked sender's notification counts against neither identity.
 */
async function admission(
    db: DynamoDBDocumentClient,
    settings: NotificationSettings,
    senderId: string,
    recipientId: string,
    count: boolean,
    now: Date,
): Promise<DropReason | undefined> {
    if (settings.blocksTable !== undefined && (await isBlocked(db, settings.blocksTable, recipientId, senderId))) {
        return "blocked";
    }
    const limits = settings.limits;
    if (!count || limits === undefined) return undefined;
    if (!(await consume(db, limits.tableName, senderId, sentRule(limits), now)).allowed) return "sender over limit";
    if (!(await consume(db, limits.tableName, recipientId, receivedRule(limits), now)).allowed) return "recipient over limit";
    return undefined;
}

/**
 * What the attempts of one notification event delivered: an item `delivery#<requestId>` in the limits table
 * with a TTL, holding the endpoint ARNs (and {@link TOPIC_TARGET}) that accepted it. Created when the event is
 * admitted (so its limits are counted once), filled in before the function fails for a retry.
 */
class DeliveryRecord {
    constructor(
        private readonly db: DynamoDBDocumentClient,
        private readonly tableName: string | undefined,
        private readonly requestId: string | null,
        private readonly now: () => Date,
    ) {}

    /** What earlier attempts delivered; `undefined` on the first attempt (or with no table or request id). */
    async read(): Promise<Set<string> | undefined> {
        if (this.tableName === undefined || this.requestId === null) return undefined;
        const { Item } = await this.db.send(
            new GetCommand({ TableName: this.tableName, Key: { [LIMITS_KEY]: this.key() }, ConsistentRead: true }),
        );
        if (Item === undefined) return undefined;
        const delivered = Item.delivered as Set<string> | undefined;
        return new Set(delivered ?? []);
    }

    /** Marks the event admitted (its limits counted). */
    async open(): Promise<void> {
        await this.add([]);
    }

    /** Adds delivered targets to the record (creating it if needed). */
    async add(targets: string[]): Promise<void> {
        if (this.tableName === undefined || this.requestId === null) return;
        const expiresAt = Math.ceil(this.now().getTime() / 1000) + DELIVERY_RECORD_SECONDS;
        await this.db.send(
            new UpdateCommand({
                TableName: this.tableName,
                Key: { [LIMITS_KEY]: this.key() },
                // A string set cannot be empty: ADD only when there is something to add.
                UpdateExpression: `SET #expiresAt = if_not_exists(#expiresAt, :expiresAt)${targets.length > 0 ? " ADD #delivered :targets" : ""}`,
                ExpressionAttributeNames: { "#expiresAt": LIMITS_TTL_ATTRIBUTE, ...(targets.length > 0 ? { "#delivered": "delivered" } : {}) },
                ExpressionAttributeValues: { ":expiresAt": expiresAt, ...(targets.length > 0 ? { ":targets": new Set(targets) } : {}) },
            }),
        );
    }

    private key(): string {
        return `delivery#${this.requestId}`;
    }
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

/**
 * SNS's largest message: 256 KB, counting the message and every message attribute's name, type and value
 * ("Amazon SNS message size", Publish API reference: "Messages must be UTF-8 encoded strings and at most
 * 256 KB in size (262,144 bytes, not 262,144 characters)").
 */
export const SNS_MAX_MESSAGE_BYTES = 262_144;

/** How long a delivery record is kept: longer than the longest `notifications.maxEventAgeSeconds` (6 h). */
export const DELIVERY_RECORD_SECONDS = 24 * 60 * 60;

/** The delivery record's name for the stage topic. */
const TOPIC_TARGET = "topic";

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
    const problem = firstSchemaViolation(sendNotificationSchema, body) ?? contentProblem(body as SendNotificationBody);
    return problem === undefined ? undefined : clip(problem, 300);
}

/**
 * What the schema cannot say about a body that passed it: the text rules (`functions/text.ts`; title and
 * message are shown on the recipient's device) and the data limits (key pattern, total size).
 */
function contentProblem(body: SendNotificationBody): string | undefined {
    if (body.title !== undefined) {
        const problem = fieldTextProblem("title", body.title, "display");
        if (problem !== undefined) return problem;
    }
    const problem = fieldTextProblem("message", body.message, "display");
    if (problem !== undefined) return problem;
    if (body.data === undefined) return undefined;
    const keyPattern = new RegExp(DATA_KEY_PATTERN);
    let bytes = 0;
    for (const [key, value] of Object.entries(body.data)) {
        if (!keyPattern.test(key)) {
            // Never quoted: the key is user input of any size and content; its length says enough.
            return `data keys must be 1–${NOTIFICATION_LIMITS.dataKeyLength} characters of A–Z a–z 0–9 _ . : -, got a key of ${key.length} characters.`;
        }
        const valueProblem = fieldTextProblem(`data.${key}`, value);
        if (valueProblem !== undefined) return valueProblem;
        bytes += utf8Bytes(key) + utf8Bytes(value);
    }
    if (bytes > NOTIFICATION_LIMITS.dataBytes) {
        return `data must be at most ${NOTIFICATION_LIMITS.dataBytes} bytes of keys and values (UTF-8), got ${bytes}.`;
    }
    return undefined;
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

    /**
     * The message for a device of `platform`, or `undefined` when the stage has no application for it, or
     * when the message is over a limit (its platform payload over 4 KB even when cut, or the whole message
     * over SNS's 256 KB): such a message is logged once and never published.
     */
    forPlatform(platform: PushPlatform): string | undefined {
        if (!this.built.has(platform)) this.built.set(platform, this.checked(this.build(platform), platform));
        return this.built.get(platform);
    }

    private checked(message: string | undefined, platform: PushPlatform): string | undefined {
        if (message === undefined) return undefined;
        const envelope = JSON.parse(message) as Record<string, string>;
        const payloadLimits: Record<string, number> = {
            APNS: NOTIFICATION_LIMITS.apnsPayloadBytes,
            APNS_SANDBOX: NOTIFICATION_LIMITS.apnsPayloadBytes,
            GCM: NOTIFICATION_LIMITS.fcmPayloadBytes,
        };
        for (const [key, payload] of Object.entries(envelope)) {
            const limit = payloadLimits[key];
            if (limit !== undefined && utf8Bytes(payload) > limit) {
                this.log("push payload over its platform's limit; not sent", { level: "error", platform, bytes: utf8Bytes(payload), limitBytes: limit });
                return undefined;
            }
        }
        if (utf8Bytes(message) > SNS_MAX_MESSAGE_BYTES) {
            this.log("push message over SNS's size limit; not sent", { level: "error", platform, bytes: utf8Bytes(message), limitBytes: SNS_MAX_MESSAGE_BYTES });
            return undefined;
        }
        return message;
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

/**
 * SNS refused the message itself, so the same Publish can never succeed: InvalidParameter (which includes
 * "Message too long" and a payload the platform refuses) and InvalidParameterValue. Throttling (including
 * KMS throttling), 5xx, network and authorization errors are not: they may pass on a retry. (Publish API
 * reference, "Errors": InvalidParameter, InvalidParameterValue and EndpointDisabled are client errors, 400;
 * Throttled, KMSThrottling and InternalError are the ones to retry.)
 */
function isPermanentPublishError(err: unknown): boolean {
    const name = errorName(err);
    return (
        name === "InvalidParameterException" ||
        name === "InvalidParameter" ||
        name === "InvalidParameterValueException" ||
        name === "ParameterValueInvalid" ||
        name === "EndpointDisabledException" ||
        name === "EndpointDisabled"
    );
}

/** The bytes SNS counts against its message size: the message and each attribute's name, type and value. */
function publishSize(message: string, attributes: Record<string, { DataType: string; StringValue: string }>): number {
    let size = utf8Bytes(message);
    for (const [name, { DataType, StringValue }] of Object.entries(attributes)) {
        size += utf8Bytes(name) + utf8Bytes(DataType) + utf8Bytes(StringValue);
    }
    return size;
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
