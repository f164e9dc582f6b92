/**
 * The notification sender under issue 8's reproductions (`functions/notifications.ts`): text hygiene and data
 * limits, permanent SNS errors that must not be retried, retries that do not deliver twice, blocked senders,
 * per-sender and per-recipient hourly limits, and the devices cap on fan-out. SNS is mocked; the devices,
 * blocks and limits tables are dynalite tables declared as the program declares them.
 */
import { randomUUID } from "node:crypto";
import {
    InvalidParameterException,
    PublishCommand,
    SNSClient,
    ThrottledException,
    type PublishCommandInput,
} from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import { sendNotification, type NotificationSettings, type PushResult } from "../functions/notifications";
import type { DeviceItem, NotificationRequestEvent, PushPlatform } from "../functions/notification-schema";
import { LIMITS_TABLE_KEYS } from "../infra/data";
import { BLOCKS_TABLE_KEYS, DEVICES_TABLE_KEYS } from "../infra/notifications";
import { createTable, startDynamo, type LocalDynamo } from "./support/dynamodb";

const TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:mobile-backend-dev-notifications";
const APNS_APP = "arn:aws:sns:us-east-1:123456789012:app/APNS/mobile-backend-dev";
const FCM_APP = "arn:aws:sns:us-east-1:123456789012:app/GCM/mobile-backend-dev";
const TABLES = { devices: "fair-devices", blocks: "fair-blocks", limits: "fair-limits" };
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

let dynamo: LocalDynamo;
let db: DynamoDBDocumentClient;
let snsMock: AwsClientStub<SNSClient>;
const sns = new SNSClient({ region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });

beforeAll(async () => {
    dynamo = await startDynamo();
    db = DynamoDBDocumentClient.from(dynamo.client);
    await createTable(dynamo.client, TABLES.devices, DEVICES_TABLE_KEYS);
    await createTable(dynamo.client, TABLES.blocks, BLOCKS_TABLE_KEYS);
    await createTable(dynamo.client, TABLES.limits, LIMITS_TABLE_KEYS);
});

afterAll(async () => {
    snsMock?.restore();
    sns.destroy();
    await dynamo?.close();
});

let messageIds = 0;
beforeEach(() => {
    snsMock?.restore();
    snsMock = mockClient(SNSClient);
    snsMock.on(PublishCommand).callsFake(() => ({ MessageId: `msg-${++messageIds}` }));
});

function identity(): string {
    return `us-east-1:${randomUUID()}`;
}

interface Log {
    lines: { message: string; details: Record<string, unknown> }[];
    fn: (message: string, details: Record<string, unknown>) => void;
}

function newLog(): Log {
    const lines: Log["lines"] = [];
    return { lines, fn: (message, details) => lines.push({ message, details }) };
}

function settings(log: Log, extra: Partial<NotificationSettings> = {}): NotificationSettings {
    return {
        devicesTable: TABLES.devices,
        blocksTable: TABLES.blocks,
        topicArn: TOPIC_ARN,
        applications: { ios: { arn: APNS_APP, sandbox: false }, android: { arn: FCM_APP } },
        limits: { tableName: TABLES.limits, writesPerMinute: 60, notificationsSentPerHour: 100, notificationsReceivedPerHour: 200 },
        now: () => new Date(T0),
        log: log.fn,
        ...extra,
    };
}

let requests = 0;
function event(senderId: string, body: unknown, requestId = `req-${++requests}`): NotificationRequestEvent {
    return { senderId, requestId, body };
}

async function putDevice(ownerId: string, platform: PushPlatform, updatedAt = "2024-05-01T10:00:00.000Z"): Promise<DeviceItem> {
    const deviceId = randomUUID();
    const device: DeviceItem = {
        ownerId,
        deviceId,
        platform,
        token: `token-${deviceId}`,
        endpointArn: `arn:aws:sns:us-east-1:123456789012:endpoint/${platform === "ios" ? "APNS" : "GCM"}/mobile-backend-dev/${deviceId}`,
        createdAt: updatedAt,
        updatedAt,
    };
    await db.send(new PutCommand({ TableName: TABLES.devices, Item: device }));
    return device;
}

function publishes(): PublishCommandInput[] {
    return snsMock.commandCalls(PublishCommand).map((call) => call.args[0].input);
}

function snsError<T extends Error>(Type: new (opts: { message: string; $metadata: object }) => T, message: string): T {
    return new Type({ message, $metadata: { httpStatusCode: 400 } });
}

describe("issue 8, reproduction 2: one oversized notification", () => {
    it("drops a data key of 66,000 quotes as invalid: nothing published, nothing thrown, nothing retried", async () => {
        const [sender, recipient] = [identity(), identity()];
        await putDevice(recipient, "ios");
        const log = newLog();
        const body = { recipientId: recipient, message: "Hello", data: { ['"'.repeat(66_000)]: "v" } };
        await expect(sendNotification(event(sender, body), { db, sns }, settings(log))).resolves.toBeUndefined();
        expect(publishes()).toEqual([]);
        expect(log.lines).toEqual([
            {
                message: "invalid notification request; dropped",
                details: {
                    level: "error",
                    requestId: expect.any(String),
                    problem: "data keys must be 1–64 characters of A–Z a–z 0–9 _ . : -, got a key of 66000 characters.",
                },
            },
        ]);
    });

    it("drops data over the total size the schema cannot express (3072 bytes of keys and values)", async () => {
        const [sender, recipient] = [identity(), identity()];
        const log = newLog();
        const data = { a: "x".repeat(1000), b: "x".repeat(1000), c: "é".repeat(536) }; // 1 + 1000 + 1 + 1000 + 1 + 1072 = 3075
        await expect(sendNotification(event(sender, { recipientId: recipient, message: "Hi", data }), { db, sns }, settings(log))).resolves.toBeUndefined();
        expect(log.lines[0].details.problem).toBe("data must be at most 3072 bytes of keys and values (UTF-8), got 3075.");
        const fits = { a: "x".repeat(1000), b: "x".repeat(1000), c: "é".repeat(534) }; // 3071
        await expect(sendNotification(event(sender, { recipientId: recipient, message: "Hi", data: fits }), { db, sns }, settings(newLog()))).resolves.toMatchObject({ recipientId: recipient });
    });

    it("logs SNS's 'Message too long' on the topic and does not throw, so the devices are not pushed again", async () => {
        const [sender, recipient] = [identity(), identity()];
        const phone = await putDevice(recipient, "ios");
        snsMock.on(PublishCommand).callsFake((input: PublishCommandInput) => {
            if (input.TopicArn !== undefined) throw snsError(InvalidParameterException, "Invalid parameter: Message too long");
            return { MessageId: "m" };
        });
        const log = newLog();
        const result = await sendNotification(event(sender, { recipientId: recipient, message: "Hello" }), { db, sns }, settings(log));
        expect(result).toMatchObject({ endpoints: 1, delivered: 1 });
        expect(publishes().filter((p) => p.TargetArn === phone.endpointArn)).toHaveLength(1);
        expect(log.lines).toContainEqual({
            message: "topic message refused by SNS for good; not retried",
            details: expect.objectContaining({ level: "error", error: expect.objectContaining({ name: "InvalidParameterException" }) }),
        });
    });

    it.each([
        ["a control character in the message", { message: "Hi\u0007" }, "message must not contain the control character U+0007 (at position 3)."],
        ["a zero-width message", { message: "\u200B\u200B" }, "message must contain a visible character."],
        ["a right-to-left override in the title", { title: "Invoice\u202Etxt.exe", message: "Hi" }, "title must not contain the bidirectional formatting character U+202E (at position 8)."],
        ["an isolate in the message", { message: "\u2067abc" }, "message must not contain the bidirectional formatting character U+2067 (at position 1)."],
        ["a lone surrogate in a data value", { message: "Hi", data: { k: "\uD800" } }, "data.k must not contain a lone surrogate (U+D800 at position 1)."],
        ["a noncharacter in a data value", { message: "Hi", data: { k: "\uFFFF" } }, "data.k must not contain the noncharacter U+FFFF (at position 1)."],
        ["a data key with a space", { message: "Hi", data: { "note id": "1" } }, "data keys must be 1–64 characters of A–Z a–z 0–9 _ . : -, got a key of 7 characters."],
    ])("drops %s, naming the field", async (_case, fields, problem) => {
        const log = newLog();
        const body = { recipientId: identity(), ...fields };
        await expect(sendNotification(event(identity(), body), { db, sns }, settings(log))).resolves.toBeUndefined();
        expect(log.lines[0].details.problem).toBe(problem);
        expect(publishes()).toEqual([]);
    });

    it("still accepts the original iOS client's notification, with right-to-left text and emoji", async () => {
        const recipient = identity();
        await putDevice(recipient, "ios");
        const body = { recipientId: recipient, title: "New comment", message: "Alice commented: שלום 👍🏽", data: { noteId: "n-42" } };
        await expect(sendNotification(event(identity(), body), { db, sns }, settings(newLog()))).resolves.toMatchObject({ delivered: 1 });
    });
});

describe("retries never deliver twice", () => {
    it("after a throttled push, the retry publishes only to that endpoint, and counts against no limit again", async () => {
        const [sender, recipient] = [identity(), identity()];
        const phone = await putDevice(recipient, "ios");
        const throttled = await putDevice(recipient, "android");
        let throttle = true;
        snsMock.on(PublishCommand).callsFake((input: PublishCommandInput) => {
            if (throttle && input.TargetArn === throttled.endpointArn) throw snsError(ThrottledException, "Rate exceeded");
            return { MessageId: `msg-${++messageIds}` };
        });
        const limited = (log: Log) =>
            settings(log, {
                limits: { tableName: TABLES.limits, writesPerMinute: 60, notificationsSentPerHour: 1, notificationsReceivedPerHour: 1 },
            });
        const retried = event(sender, { recipientId: recipient, message: "Hi" });

        await expect(sendNotification(retried, { db, sns }, limited(newLog()))).rejects.toThrow(/1 of 3 notification deliveries failed/);
        expect(publishes().map((p) => p.TargetArn ?? "topic").sort()).toEqual([phone.endpointArn, throttled.endpointArn, "topic"].sort());

        snsMock.resetHistory();
        throttle = false;
        const log = newLog();
        // The same event again, as Lambda retries it: the sender's and recipient's hourly limit of 1 is not hit.
        await expect(sendNotification(retried, { db, sns }, limited(log))).resolves.toMatchObject({ endpoints: 1, delivered: 1 });
        expect(publishes().map((p) => p.TargetArn)).toEqual([throttled.endpointArn]);
        expect(log.lines.at(-1)?.details).toMatchObject({ alreadyDelivered: 1, topicPublished: false });

        // A new notification from the same sender is over the limit of 1 per hour.
        snsMock.resetHistory();
        await expect(
            sendNotification(event(sender, { recipientId: recipient, message: "Again" }), { db, sns }, limited(newLog())),
        ).resolves.toMatchObject({ dropped: "sender over limit" });
        expect(publishes()).toEqual([]);
    });
});

describe("issue 8, reproduction 3: blocks and limits per sender and recipient", () => {
    it("drops a blocked sender's notifications silently, and delivers again once unblocked", async () => {
        const [sender, recipient] = [identity(), identity()];
        await putDevice(recipient, "ios");
        await db.send(new PutCommand({ TableName: TABLES.blocks, Item: { recipientId: recipient, senderId: sender, createdAt: "2024-05-01T09:00:00.000Z" } }));
        const log = newLog();
        await expect(sendNotification(event(sender, { recipientId: recipient, message: "Hi" }), { db, sns }, settings(log))).resolves.toMatchObject({
            dropped: "blocked",
            delivered: 0,
        });
        expect(publishes()).toEqual([]);
        expect(log.lines).toEqual([
            { message: "notification dropped", details: expect.objectContaining({ level: "warn", reason: "blocked", senderId: sender, recipientId: recipient }) },
        ]);
        // Someone else still reaches the recipient.
        await expect(sendNotification(event(identity(), { recipientId: recipient, message: "Hi" }), { db, sns }, settings(newLog()))).resolves.toMatchObject({
            delivered: 1,
        });
    });

    it("lets one sender send notificationsSentPerHour an hour, to anyone, then drops the rest until the next hour", async () => {
        const sender = identity();
        const limits = { tableName: TABLES.limits, writesPerMinute: 60, notificationsSentPerHour: 3, notificationsReceivedPerHour: 200 };
        const results: (PushResult | undefined)[] = [];
        for (let i = 0; i < 5; i++) {
            results.push(await sendNotification(event(sender, { recipientId: identity(), message: `#${i}` }), { db, sns }, settings(newLog(), { limits })));
        }
        expect(results.map((r) => r?.dropped ?? "sent")).toEqual(["sent", "sent", "sent", "sender over limit", "sender over limit"]);
        expect(publishes()).toHaveLength(3);
        const nextHour = settings(newLog(), { limits, now: () => new Date(T0 + 3600_000) });
        await expect(sendNotification(event(sender, { recipientId: identity(), message: "later" }), { db, sns }, nextHour)).resolves.not.toHaveProperty("dropped");
    });

    it("lets one recipient receive notificationsReceivedPerHour an hour, from everyone together", async () => {
        const recipient = identity();
        const limits = { tableName: TABLES.limits, writesPerMinute: 60, notificationsSentPerHour: 100, notificationsReceivedPerHour: 2 };
        const results: (PushResult | undefined)[] = [];
        for (let i = 0; i < 4; i++) {
            results.push(await sendNotification(event(identity(), { recipientId: recipient, message: "Hi" }), { db, sns }, settings(newLog(), { limits })));
        }
        expect(results.map((r) => r?.dropped ?? "sent")).toEqual(["sent", "sent", "recipient over limit", "recipient over limit"]);
        // Another recipient is not affected.
        await expect(sendNotification(event(identity(), { recipientId: identity(), message: "Hi" }), { db, sns }, settings(newLog(), { limits }))).resolves.not.toHaveProperty("dropped");
    });

    it("does not count a blocked sender's notifications against the recipient", async () => {
        const [spammer, recipient] = [identity(), identity()];
        await db.send(new PutCommand({ TableName: TABLES.blocks, Item: { recipientId: recipient, senderId: spammer, createdAt: "2024-05-01T09:00:00.000Z" } }));
        const limits = { tableName: TABLES.limits, writesPerMinute: 60, notificationsSentPerHour: 100, notificationsReceivedPerHour: 1 };
        for (let i = 0; i < 3; i++) {
            await sendNotification(event(spammer, { recipientId: recipient, message: "spam" }), { db, sns }, settings(newLog(), { limits }));
        }
        await expect(sendNotification(event(identity(), { recipientId: recipient, message: "Hi" }), { db, sns }, settings(newLog(), { limits }))).resolves.not.toHaveProperty("dropped");
    });
});

describe("issue 8, reproduction 4: fan-out is capped", () => {
    it("pushes to the 10 most recently registered of 60 devices (records from before the cap), plus the topic", async () => {
        const recipient = identity();
        const devices: DeviceItem[] = [];
        for (let i = 0; i < 60; i++) {
            devices.push(await putDevice(recipient, "android", new Date(T0 - (60 - i) * 60_000).toISOString()));
        }
        const log = newLog();
        const result = await sendNotification(event(identity(), { recipientId: recipient, message: "Hi" }), { db, sns }, settings(log));
        expect(result).toMatchObject({ endpoints: 10, delivered: 10 });
        expect(publishes()).toHaveLength(11);
        expect(publishes().filter((p) => p.TargetArn).map((p) => p.TargetArn).sort()).toEqual(devices.slice(50).map((d) => d.endpointArn).sort());
        expect(log.lines.at(-1)?.details).toMatchObject({ devices: 60, ignoredDevices: 50 });
    });
});
