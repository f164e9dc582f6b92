/**
 * Tests of the asynchronous notification function's logic (`functions/notifications.ts`): the platform
 * payloads and their byte limits, fan-out to a recipient's endpoints and the stage topic, clean-up of dead
 * endpoints and failing for a retry. SNS is mocked; the devices table is dynalite. Nothing talks to AWS.
 */
import { randomUUID } from "node:crypto";
import {
    DeleteEndpointCommand,
    EndpointDisabledException,
    InvalidParameterException,
    NotFoundException,
    PublishCommand,
    SNSClient,
    ThrottledException,
    type DeleteEndpointCommandInput,
    type PublishCommandInput,
} from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import {
    ELLIPSIS,
    FCM_SENDER_KEY,
    platformMessage,
    sendNotification,
    type NotificationContent,
    type PushResult,
} from "../functions/notifications";
import {
    NOTIFICATION_LIMITS,
    type DeviceItem,
    type NotificationRequestEvent,
    type PushPlatform,
    type PushSettings,
} from "../functions/notification-schema";
import { DEVICES_TABLE_KEYS } from "../infra/notifications";
import { createTable, startDynamo, type LocalDynamo } from "./support/dynamodb";

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const SENDER = "us-east-1:7d3b1f5e-52c4-4a8e-9d5e-0c9f3a1b2c4d";
const TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:mobile-backend-dev-notifications";
const APNS_APP = "arn:aws:sns:us-east-1:123456789012:app/APNS/mobile-backend-dev";
const FCM_APP = "arn:aws:sns:us-east-1:123456789012:app/GCM/mobile-backend-dev";
const APNS_LIMIT = NOTIFICATION_LIMITS.apnsPayloadBytes;
const FCM_LIMIT = NOTIFICATION_LIMITS.fcmPayloadBytes;

/** A fresh Cognito identity id, so every test has its own users. */
function identity(): string {
    return `us-east-1:${randomUUID()}`;
}

function bytes(text: string): number {
    return Buffer.byteLength(text, "utf8");
}

/** True when `text` has no unpaired surrogate (so it encodes to UTF-8 and back unchanged). */
function wellFormed(text: string): boolean {
    return Buffer.from(text, "utf8").toString("utf8") === text;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

function firstGrapheme(text: string): string {
    for (const { segment } of graphemes.segment(text)) return segment;
    return "";
}

// ---------------------------------------------------------------------------------------------
// The payload formats, written out independently of the implementation
// ---------------------------------------------------------------------------------------------

interface Parts {
    title?: string;
    body: string;
    data?: Record<string, string>;
}

function expectedApns(parts: Parts, from = SENDER): unknown {
    return {
        aps: {
            alert: parts.title === undefined ? { body: parts.body } : { title: parts.title, body: parts.body },
            sound: "default",
        },
        from,
        data: parts.data ?? {},
    };
}

function expectedFcm(parts: Parts, from = SENDER): unknown {
    return {
        fcmV1Message: {
            message: {
                notification:
                    parts.title === undefined ? { body: parts.body } : { title: parts.title, body: parts.body },
                data: { [FCM_SENDER_KEY]: from, ...(parts.data ?? {}) },
            },
        },
    };
}

type PlatformKey = "APNS" | "GCM";

const PLATFORMS: { key: PlatformKey; limit: number; expected: (parts: Parts) => unknown }[] = [
    { key: "APNS", limit: APNS_LIMIT, expected: (parts) => expectedApns(parts) },
    { key: "GCM", limit: FCM_LIMIT, expected: (parts) => expectedFcm(parts) },
];

/** The platform JSON string of an SNS message, checked to be valid before it is returned. */
function platformJson(snsMessage: string, key: string): string {
    const envelope = JSON.parse(snsMessage) as Record<string, unknown>;
    const text = envelope[key];
    if (typeof text !== "string") throw new Error(`no ${key} in ${Object.keys(envelope).join(", ")}`);
    expect(wellFormed(text)).toBe(true);
    // JSON.stringify writes an unpaired surrogate as an escape; none may appear.
    expect(text).not.toMatch(/\\ud[89a-f][0-9a-f]{2}/i);
    return text;
}

/** Builds one platform's payload for a note and returns its JSON text and parsed value. */
function payloadOf(key: PlatformKey, note: NotificationContent, log: Log["fn"] = () => undefined) {
    const platforms = key === "APNS" ? { apns: "APNS" as const } : { gcm: true };
    const text = platformJson(platformMessage(note, platforms, log), key);
    return { text, size: bytes(text), value: JSON.parse(text) as Record<string, any> };
}

/** The alert/notification fields and data of a parsed platform payload. */
function partsOf(key: PlatformKey, value: Record<string, any>): { title?: string; body: string; data: Record<string, string> } {
    if (key === "APNS") return { ...value.aps.alert, data: value.data };
    const { [FCM_SENDER_KEY]: sender, ...data } = value.fcmV1Message.message.data;
    expect(sender).toBe(SENDER);
    return { ...value.fcmV1Message.message.notification, data };
}

interface Log {
    fn: (message: string, details: Record<string, unknown>) => void;
    lines: { message: string; details: Record<string, unknown> }[];
}

function newLog(): Log {
    const lines: Log["lines"] = [];
    return { lines, fn: (message, details) => lines.push({ message, details }) };
}

// ---------------------------------------------------------------------------------------------
// platformMessage: formats
// ---------------------------------------------------------------------------------------------

describe("platformMessage formats", () => {
    const note: NotificationContent = {
        title: "New comment",
        message: "Ada commented on your note",
        data: { noteId: "n-42", kind: "comment" },
        from: SENDER,
    };

    it("builds the APNs payload: alert title and body, default sound, sender and data outside aps", () => {
        const message = JSON.parse(platformMessage(note, { apns: "APNS" }));
        expect(Object.keys(message)).toEqual(["default", "APNS"]);
        expect(message.default).toBe(note.message);
        expect(JSON.parse(message.APNS)).toEqual({
            aps: { alert: { title: "New comment", body: "Ada commented on your note" }, sound: "default" },
            from: SENDER,
            data: { noteId: "n-42", kind: "comment" },
        });
    });

    it("puts the same APNs payload under APNS_SANDBOX for a sandbox application", () => {
        const production = JSON.parse(platformMessage(note, { apns: "APNS" }));
        const sandbox = JSON.parse(platformMessage(note, { apns: "APNS_SANDBOX" }));
        expect(Object.keys(sandbox)).toEqual(["default", "APNS_SANDBOX"]);
        expect(sandbox.APNS_SANDBOX).toBe(production.APNS);
    });

    it("builds the FCM HTTP v1 payload under GCM: notification, and string data with the sender", () => {
        const message = JSON.parse(platformMessage(note, { gcm: true }));
        expect(Object.keys(message)).toEqual(["default", "GCM"]);
        expect(message.default).toBe(note.message);
        const payload = JSON.parse(message.GCM);
        expect(payload).toEqual({
            fcmV1Message: {
                message: {
                    notification: { title: "New comment", body: "Ada commented on your note" },
                    data: { senderId: SENDER, noteId: "n-42", kind: "comment" },
                },
            },
        });
        for (const value of Object.values(payload.fcmV1Message.message.data)) expect(typeof value).toBe("string");
    });

    it("has a key only for the platforms asked for", () => {
        expect(Object.keys(JSON.parse(platformMessage(note, {})))).toEqual(["default"]);
        expect(Object.keys(JSON.parse(platformMessage(note, { gcm: false })))).toEqual(["default"]);
        const both = JSON.parse(platformMessage(note, { apns: "APNS_SANDBOX", gcm: true }));
        expect(Object.keys(both)).toEqual(["default", "APNS_SANDBOX", "GCM"]);
        expect(JSON.parse(both.APNS_SANDBOX)).toEqual(expectedApns({ title: note.title, body: note.message, data: note.data }));
        expect(JSON.parse(both.GCM)).toEqual(expectedFcm({ title: note.title, body: note.message, data: note.data }));
    });

    it("leaves the title out when there is none, and sends empty data", () => {
        const bare: NotificationContent = { message: "Hi", from: SENDER };
        expect(JSON.parse(payloadOf("APNS", bare).text)).toEqual({
            aps: { alert: { body: "Hi" }, sound: "default" },
            from: SENDER,
            data: {},
        });
        expect(JSON.parse(payloadOf("GCM", bare).text)).toEqual({
            fcmV1Message: { message: { notification: { body: "Hi" }, data: { senderId: SENDER } } },
        });
    });

    it("never lets data override the sender, and keeps FCM's reserved data keys out of the FCM payload", () => {
        const log = newLog();
        const spoofing: NotificationContent = {
            message: "Hi",
            data: {
                from: "spoofed",
                senderId: "spoofed",
                message_type: "x",
                "google.c.a.e": "1",
                gcm_thing: "x",
                ok: "kept",
            },
            from: SENDER,
        };
        const apns = payloadOf("APNS", spoofing, log.fn).value;
        expect(apns.from).toBe(SENDER);
        expect(apns.data).toEqual(spoofing.data); // APNs has no reserved custom keys: data goes as sent
        const fcm = payloadOf("GCM", spoofing, log.fn).value;
        expect(fcm.fcmV1Message.message.data).toEqual({ senderId: SENDER, ok: "kept" });
        const dropped = log.lines.find((l) => l.message.includes("reserved"));
        expect(dropped?.details.fields).toEqual(["from", "senderId", "message_type", "google.c.a.e", "gcm_thing"]);
    });

    it("escapes quotes, backslashes and control characters so the payloads stay valid JSON", () => {
        const tricky: NotificationContent = {
            title: 'He said "hi"',
            message: "line 1\nline 2\t\\ \u0001 </script>",
            data: { 'k"ey': "v\\al\u2028ue" },
            from: SENDER,
        };
        for (const { key, expected } of PLATFORMS) {
            const { value } = payloadOf(key, tricky);
            expect(value).toEqual(expected({ title: tricky.title, body: tricky.message, data: tricky.data }));
        }
    });
});

// ---------------------------------------------------------------------------------------------
// platformMessage: byte limits
// ---------------------------------------------------------------------------------------------

describe("platformMessage byte limits", () => {
    const CJK = "漢"; // 3 UTF-8 bytes
    const EMOJI = "😀"; // 4 UTF-8 bytes, a surrogate pair
    const FAMILY = "👨‍👩‍👧"; // one grapheme: 3 emoji joined by 2 ZWJs, 8 UTF-16 units, 18 bytes

    /** Bytes a payload takes with an empty body (nothing else changed). */
    function overhead(key: PlatformKey, note: Omit<NotificationContent, "message">): number {
        return payloadOf(key, { ...note, message: "" }).size;
    }

    /**
     * Checks a cut text: a prefix of the original on a grapheme boundary plus "…", and maximal — the next
     * grapheme would not have fit in `room` bytes.
     */
    function expectMaximalCut(original: string, cut: string, room: number): void {
        expect(cut.endsWith(ELLIPSIS)).toBe(true);
        const prefix = cut.slice(0, -ELLIPSIS.length);
        expect(original.startsWith(prefix)).toBe(true);
        expect(prefix.length).toBeLessThan(original.length);
        expect(wellFormed(cut)).toBe(true);
        expect(bytes(cut)).toBeLessThanOrEqual(room);
        expect(bytes(prefix + firstGrapheme(original.slice(prefix.length)) + ELLIPSIS)).toBeGreaterThan(room);
    }

    describe.each(PLATFORMS)("$key", ({ key, limit, expected }) => {
        it("sends a payload of exactly the limit unchanged, and cuts one a byte over", () => {
            const base = overhead(key, { title: "Hello", from: SENDER });
            const room = limit - base;
            const cjk = Math.floor(room / 3);
            const exact = "a".repeat(room - 3 * cjk) + CJK.repeat(cjk);
            const atLimit = payloadOf(key, { title: "Hello", message: exact, from: SENDER });
            expect(atLimit.size).toBe(limit);
            expect(atLimit.value).toEqual(expected({ title: "Hello", body: exact }));

            const over = exact + "b";
            const log = newLog();
            const cut = payloadOf(key, { title: "Hello", message: over, from: SENDER }, log.fn);
            // The "b" and one CJK character (3 bytes) make room for the ellipsis (3 bytes): exactly the limit again.
            expect(cut.size).toBe(limit);
            const body = exact.slice(0, -1) + ELLIPSIS;
            expect(cut.value).toEqual(expected({ title: "Hello", body }));
            expect(log.lines).toEqual([
                {
                    message: "push payload cut to fit",
                    details: expect.objectContaining({
                        platform: key,
                        originalBytes: limit + 1,
                        finalBytes: limit,
                        limitBytes: limit,
                        truncated: ["body"],
                        droppedDataFields: [],
                    }),
                },
            ]);
            expect(JSON.stringify(log.lines)).not.toContain(CJK);
        });

        it.each([
            ["CJK", CJK, 2000],
            ["emoji (surrogate pairs)", EMOJI, 1500],
            ["ZWJ emoji sequences", FAMILY, 300],
            ["combining marks", "漢\u0301", 1000],
            ["flags (regional indicator pairs)", "🇯🇵", 1000],
            ["emoji with skin tones", "👍🏽", 1000],
        ])("cuts %s bodies within the limit on a character boundary, at every alignment", (_name, unit, count) => {
            for (let pad = 0; pad < 4; pad++) {
                const message = "x".repeat(pad) + unit.repeat(count);
                const note = { title: "T", message, data: { noteId: "n1" }, from: SENDER };
                const { text, size, value } = payloadOf(key, note);
                expect(size).toBeLessThanOrEqual(limit);
                const parts = partsOf(key, value);
                expect(parts.title).toBe("T");
                expect(parts.data).toEqual({ noteId: "n1" });
                const room = limit - overhead(key, { title: "T", data: { noteId: "n1" }, from: SENDER });
                expectMaximalCut(message, parts.body, room);
                // Whole graphemes only: what remains of the repeated unit is a whole number of units.
                expect((parts.body.length - ELLIPSIS.length - pad) % unit.length).toBe(0);
                expect(JSON.parse(text)).toEqual(value);
            }
        });

        it("cuts the title when even an ellipsis body leaves too little room, keeping all data", () => {
            const title = CJK.repeat(NOTIFICATION_LIMITS.titleLength); // 300 bytes
            const message = CJK.repeat(NOTIFICATION_LIMITS.messageLength);
            // Data that leaves about 60 bytes for the title.
            const filler = (n: number) => "d".repeat(n);
            const data: Record<string, string> = { a: filler(1000), b: filler(1000), c: filler(1000) };
            const fixed = overhead(key, { data: { ...data, z: "" }, from: SENDER }) + bytes(ELLIPSIS);
            data.z = filler(limit - fixed - 60);
            const log = newLog();
            const { size, value } = payloadOf(key, { title, message, data, from: SENDER }, log.fn);
            expect(size).toBeLessThanOrEqual(limit);
            const parts = partsOf(key, value);
            expect(parts.body).toBe(ELLIPSIS);
            expect(parts.data).toEqual(data);
            expect(parts.title).toBeDefined();
            const titleRoom = limit - payloadOf(key, { title: "", message: ELLIPSIS, data, from: SENDER }).size;
            expectMaximalCut(title, parts.title ?? "", titleRoom);
            expect(log.lines.at(-1)?.details).toEqual(
                expect.objectContaining({ truncated: ["body", "title"], droppedDataFields: [] }),
            );
        });

        it("drops the largest data fields, then cuts the title, when nothing else makes room", () => {
            const title = CJK.repeat(NOTIFICATION_LIMITS.titleLength);
            const message = EMOJI.repeat(NOTIFICATION_LIMITS.messageLength);
            const data: Record<string, string> = {
                a: CJK.repeat(1000), // 3000 bytes
                big: EMOJI.repeat(1000), // 4000 bytes: cannot fit with anything
                c: "", // sized below to leave about 40 bytes for the title
            };
            const fixed = overhead(key, { data: { a: data.a, c: "" }, from: SENDER }) + bytes(ELLIPSIS);
            data.c = "c".repeat(limit - fixed - 40);
            const log = newLog();
            const { size, value } = payloadOf(key, { title, message, data, from: SENDER }, log.fn);
            expect(size).toBeLessThanOrEqual(limit);
            const parts = partsOf(key, value);
            expect(parts.data).toEqual({ a: data.a, c: data.c });
            expect(parts.body).toBe(ELLIPSIS);
            expect(parts.title?.endsWith(ELLIPSIS)).toBe(true);
            expect(title.startsWith((parts.title ?? "").slice(0, -1))).toBe(true);
            expect(log.lines.at(-1)).toEqual({
                message: "push payload cut to fit",
                details: expect.objectContaining({
                    level: "warn",
                    truncated: ["body", "title"],
                    droppedDataFields: ["big"],
                }),
            });
        });

        it("drops every data field that cannot fit even alone, and keeps the whole title then", () => {
            const data: Record<string, string> = {};
            for (let i = 0; i < NOTIFICATION_LIMITS.dataFields; i++) data[`f${i}`] = EMOJI.repeat(1000);
            const title = CJK.repeat(NOTIFICATION_LIMITS.titleLength);
            const message = CJK.repeat(NOTIFICATION_LIMITS.messageLength);
            const log = newLog();
            const { size, value } = payloadOf(key, { title, message, data, from: SENDER }, log.fn);
            expect(size).toBeLessThanOrEqual(limit);
            const parts = partsOf(key, value);
            expect(parts.data).toEqual({});
            expect(parts.title).toBe(title);
            expectMaximalCut(message, parts.body, limit - overhead(key, { title, from: SENDER }));
            expect([...(log.lines.at(-1)?.details.droppedDataFields as string[])].sort()).toEqual(Object.keys(data).sort());
            expect(log.lines.at(-1)?.details.truncated).toEqual(["body"]);
        });
    });

    it("cuts each platform against its own payload, independently", () => {
        const message = CJK.repeat(2000);
        const both = JSON.parse(platformMessage({ message, from: SENDER }, { apns: "APNS", gcm: true }, () => undefined));
        expect(both.default).toBe(message); // the default text is not a push payload
        expect(bytes(both.APNS)).toBeLessThanOrEqual(APNS_LIMIT);
        expect(bytes(both.GCM)).toBeLessThanOrEqual(FCM_LIMIT);
        const apnsBody: string = JSON.parse(both.APNS).aps.alert.body;
        const fcmBody: string = JSON.parse(both.GCM).fcmV1Message.message.notification.body;
        expect(apnsBody.endsWith(ELLIPSIS) && fcmBody.endsWith(ELLIPSIS)).toBe(true);
        // The FCM wrapper is larger than the APNs one, so its body is shorter.
        expect(fcmBody.length).toBeLessThan(apnsBody.length);
    });
});

// ---------------------------------------------------------------------------------------------
// sendNotification: against dynalite and a mocked SNS
// ---------------------------------------------------------------------------------------------

let dynamo: LocalDynamo;
let db: DynamoDBDocumentClient;
let snsMock: AwsClientStub<SNSClient>;
const sns = new SNSClient({ region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
const DEVICES_TABLE = "devices-notifications-test";

beforeAll(async () => {
    dynamo = await startDynamo();
    db = DynamoDBDocumentClient.from(dynamo.client);
    await createTable(dynamo.client, DEVICES_TABLE, DEVICES_TABLE_KEYS);
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
    snsMock.on(DeleteEndpointCommand).resolves({});
});

function endpointArn(platform: PushPlatform): string {
    return `arn:aws:sns:us-east-1:123456789012:endpoint/${platform === "ios" ? "APNS" : "GCM"}/mobile-backend-dev/${randomUUID()}`;
}

async function putDevice(ownerId: string, platform: PushPlatform, extra: Record<string, unknown> = {}): Promise<DeviceItem> {
    const device: DeviceItem = {
        ownerId,
        deviceId: randomUUID(),
        platform,
        token: `token-${randomUUID()}`,
        endpointArn: endpointArn(platform),
        createdAt: "2024-05-01T10:00:00.000Z",
        updatedAt: "2024-05-01T10:00:00.000Z",
    };
    await db.send(new PutCommand({ TableName: DEVICES_TABLE, Item: { ...device, ...extra } }));
    return device;
}

async function storedDevice(device: DeviceItem): Promise<Record<string, unknown> | undefined> {
    const { Item } = await db.send(
        new GetCommand({ TableName: DEVICES_TABLE, Key: { ownerId: device.ownerId, deviceId: device.deviceId } }),
    );
    return Item;
}

type Applications = PushSettings["applications"];
const BOTH: Applications = { ios: { arn: APNS_APP, sandbox: false }, android: { arn: FCM_APP } };

function settingsWith(applications: Applications, log: Log) {
    return { devicesTable: DEVICES_TABLE, topicArn: TOPIC_ARN, applications, log: log.fn };
}

function requestEvent(body: unknown, senderId: unknown = SENDER): NotificationRequestEvent {
    return { senderId: senderId as string, requestId: "req-0001", body };
}

const NO_SENDER = Symbol("no senderId");

async function send(body: unknown, applications: Applications = BOTH, log = newLog()): Promise<PushResult | undefined> {
    return sendNotification(requestEvent(body), { db, sns }, settingsWith(applications, log));
}

function publishes(): PublishCommandInput[] {
    return snsMock.commandCalls(PublishCommand).map((call) => call.args[0].input);
}

function endpointPublishes(): PublishCommandInput[] {
    return publishes().filter((p) => p.TargetArn !== undefined);
}

function topicPublishes(): PublishCommandInput[] {
    return publishes().filter((p) => p.TopicArn !== undefined);
}

function publishTo(arn: string): PublishCommandInput {
    const found = endpointPublishes().filter((p) => p.TargetArn === arn);
    expect(found).toHaveLength(1);
    return found[0];
}

function deletedEndpoints(): (string | undefined)[] {
    return snsMock.commandCalls(DeleteEndpointCommand).map((call) => (call.args[0].input as DeleteEndpointCommandInput).EndpointArn);
}

function snsError<T extends Error>(
    Type: new (opts: { message: string; $metadata: object }) => T,
    message: string,
): T {
    return new Type({ message, $metadata: { httpStatusCode: 400 } });
}

describe("sendNotification delivery", () => {
    it("pushes to every endpoint of the recipient, never another user's, and publishes to the topic", async () => {
        const recipient = identity();
        const other = identity();
        const phone = await putDevice(recipient, "ios");
        const tablet = await putDevice(recipient, "ios");
        const android = await putDevice(recipient, "android");
        const othersPhone = await putDevice(other, "ios");
        const body = { recipientId: recipient, title: "Hello", message: "Lunch?", data: { noteId: "n-1" } };

        const result = await send(body);

        expect(result).toEqual({
            recipientId: recipient,
            endpoints: 3,
            delivered: 3,
            removedDevices: [],
            topicMessageId: expect.stringMatching(/^msg-/),
        });
        expect(endpointPublishes().map((p) => p.TargetArn).sort()).toEqual(
            [phone.endpointArn, tablet.endpointArn, android.endpointArn].sort(),
        );
        expect(publishes().some((p) => p.TargetArn === othersPhone.endpointArn)).toBe(false);
        for (const device of [phone, tablet]) {
            const publish = publishTo(device.endpointArn);
            expect(publish.MessageStructure).toBe("json");
            const message = JSON.parse(publish.Message ?? "");
            expect(Object.keys(message)).toEqual(["default", "APNS"]);
            expect(JSON.parse(message.APNS)).toEqual(expectedApns({ title: "Hello", body: "Lunch?", data: { noteId: "n-1" } }));
        }
        const fcm = JSON.parse(publishTo(android.endpointArn).Message ?? "");
        expect(Object.keys(fcm)).toEqual(["default", "GCM"]);
        expect(JSON.parse(fcm.GCM)).toEqual(expectedFcm({ title: "Hello", body: "Lunch?", data: { noteId: "n-1" } }));
        expect(topicPublishes()).toHaveLength(1);
        expect(topicPublishes()[0].MessageAttributes?.recipientId).toEqual({ DataType: "String", StringValue: recipient });
    });

    it("uses the APNS_SANDBOX key for a sandbox iOS application", async () => {
        const recipient = identity();
        const phone = await putDevice(recipient, "ios");
        await send({ recipientId: recipient, message: "Hi" }, { ios: { arn: APNS_APP, sandbox: true } });
        const message = JSON.parse(publishTo(phone.endpointArn).Message ?? "");
        expect(Object.keys(message)).toEqual(["default", "APNS_SANDBOX"]);
        expect(JSON.parse(message.APNS_SANDBOX)).toEqual(expectedApns({ body: "Hi" }));
    });

    it("pushes only to devices whose platform has an application on the stage", async () => {
        const recipient = identity();
        await putDevice(recipient, "ios");
        const android = await putDevice(recipient, "android");
        const log = newLog();
        const result = await send({ recipientId: recipient, message: "Hi" }, { android: { arn: FCM_APP } }, log);
        expect(result).toMatchObject({ endpoints: 1, delivered: 1 });
        expect(endpointPublishes().map((p) => p.TargetArn)).toEqual([android.endpointArn]);
        expect(log.lines.at(-1)?.details).toMatchObject({ devices: 2, skippedDevices: 1, endpoints: 1 });
    });

    it("publishes only to the topic when no platform application is configured", async () => {
        const recipient = identity();
        await putDevice(recipient, "ios");
        await putDevice(recipient, "android");
        const body = { recipientId: recipient, title: "Hi", message: "Hello there", data: { noteId: "n-9" } };
        const result = await send(body, {});
        expect(result).toEqual({ recipientId: recipient, endpoints: 0, delivered: 0, removedDevices: [], topicMessageId: "msg-" + messageIds });
        expect(publishes()).toHaveLength(1);
        const [topic] = topicPublishes();
        expect(topic.TopicArn).toBe(TOPIC_ARN);
        expect(topic.TargetArn).toBeUndefined();
        expect(topic.MessageStructure).toBe("json");
        expect(topic.MessageAttributes).toEqual({
            recipientId: { DataType: "String", StringValue: recipient },
            from: { DataType: "String", StringValue: SENDER },
        });
        const message = JSON.parse(topic.Message ?? "");
        expect(Object.keys(message)).toEqual(["default"]);
        expect(JSON.parse(message.default)).toEqual({
            recipientId: recipient,
            from: SENDER,
            title: "Hi",
            message: "Hello there",
            data: { noteId: "n-9" },
        });
    });

    it("publishes to the topic also for a recipient with no devices, without title or data", async () => {
        const recipient = identity();
        const result = await send({ recipientId: recipient, message: "Hi" });
        expect(result).toMatchObject({ endpoints: 0, delivered: 0 });
        const [topic] = topicPublishes();
        expect(JSON.parse(JSON.parse(topic.Message ?? "").default)).toEqual({ recipientId: recipient, from: SENDER, message: "Hi" });
    });

    it("reads every page of the recipient's devices", async () => {
        const recipient = identity();
        // 12 items of ~100 KB: more than one 1 MB query page.
        const devices: DeviceItem[] = [];
        for (let i = 0; i < 12; i++) devices.push(await putDevice(recipient, "android", { padding: "p".repeat(100_000) }));
        const querySpy = jest.spyOn(db, "send");
        try {
            const settings = { ...settingsWith(BOTH, newLog()), maxDevicesPerIdentity: 20 };
            const result = await sendNotification(requestEvent({ recipientId: recipient, message: "Hi" }), { db, sns }, settings);
            expect(result).toMatchObject({ endpoints: 12, delivered: 12 });
            expect(querySpy.mock.calls.length).toBeGreaterThan(1);
        } finally {
            querySpy.mockRestore();
        }
        expect(endpointPublishes().map((p) => p.TargetArn).sort()).toEqual(devices.map((d) => d.endpointArn).sort());
    });

    it("sends a long multi-byte message cut to each platform's limit", async () => {
        const recipient = identity();
        const phone = await putDevice(recipient, "ios");
        const android = await putDevice(recipient, "android");
        await send({ recipientId: recipient, title: "😀".repeat(100), message: "😀".repeat(2000) });
        const apns = platformJson(publishTo(phone.endpointArn).Message ?? "", "APNS");
        const fcm = platformJson(publishTo(android.endpointArn).Message ?? "", "GCM");
        expect(bytes(apns)).toBeLessThanOrEqual(APNS_LIMIT);
        expect(bytes(fcm)).toBeLessThanOrEqual(FCM_LIMIT);
        expect(JSON.parse(apns).aps.alert.body).toMatch(/^(😀)+…$/u);
        expect(JSON.parse(fcm).fcmV1Message.message.notification.body).toMatch(/^(😀)+…$/u);
    });

    it("logs a summary with counts only, never the message text", async () => {
        const recipient = identity();
        await putDevice(recipient, "ios");
        const log = newLog();
        const secret = "MEET-AT-THE-OLD-MILL";
        await send({ recipientId: recipient, title: secret, message: secret, data: { k: secret } }, BOTH, log);
        expect(JSON.stringify(log.lines)).not.toContain(secret);
        expect(log.lines.at(-1)).toEqual({
            message: "notification sent",
            details: {
                level: "info",
                requestId: "req-0001",
                devices: 1,
                ignoredDevices: 0,
                skippedDevices: 0,
                alreadyDelivered: 0,
                endpoints: 1,
                delivered: 1,
                removedDevices: 0,
                refused: 0,
                failed: 0,
                topicPublished: true,
            },
        });
    });
});

describe("sendNotification dead endpoints", () => {
    function failFor(arn: string, error: () => Error): void {
        snsMock.on(PublishCommand).callsFake((input: PublishCommandInput) => {
            if (input.TargetArn === arn) throw error();
            return { MessageId: `msg-${++messageIds}` };
        });
    }

    it("deletes a disabled endpoint and its device record, and still delivers to the other devices", async () => {
        const recipient = identity();
        const disabled = await putDevice(recipient, "ios");
        const phone = await putDevice(recipient, "ios");
        const android = await putDevice(recipient, "android");
        failFor(disabled.endpointArn, () => snsError(EndpointDisabledException, "Endpoint is disabled"));
        const log = newLog();

        const result = await send({ recipientId: recipient, message: "Hi" }, BOTH, log);

        expect(result).toMatchObject({ endpoints: 3, delivered: 2, removedDevices: [disabled.deviceId] });
        expect(deletedEndpoints()).toEqual([disabled.endpointArn]);
        expect(await storedDevice(disabled)).toBeUndefined();
        expect(await storedDevice(phone)).toBeDefined();
        expect(endpointPublishes().map((p) => p.TargetArn).sort()).toEqual(
            [disabled.endpointArn, phone.endpointArn, android.endpointArn].sort(),
        );
        expect(topicPublishes()).toHaveLength(1);
        expect(log.lines).toContainEqual({
            message: "removed device with a dead push endpoint",
            details: expect.objectContaining({ deviceId: disabled.deviceId }),
        });
    });

    it("cleans up an endpoint SNS no longer knows, even if deleting it answers NotFound", async () => {
        const recipient = identity();
        const gone = await putDevice(recipient, "android");
        const other = await putDevice(recipient, "android");
        failFor(gone.endpointArn, () => snsError(NotFoundException, "Endpoint does not exist"));
        snsMock.on(DeleteEndpointCommand).rejects(snsError(NotFoundException, "Endpoint does not exist"));

        const result = await send({ recipientId: recipient, message: "Hi" });

        expect(result).toMatchObject({ endpoints: 2, delivered: 1, removedDevices: [gone.deviceId] });
        expect(deletedEndpoints()).toEqual([gone.endpointArn]);
        expect(await storedDevice(gone)).toBeUndefined();
        expect(await storedDevice(other)).toBeDefined();
    });

    it("treats InvalidParameter naming the target endpoint as a dead endpoint", async () => {
        const recipient = identity();
        const invalid = await putDevice(recipient, "ios");
        failFor(invalid.endpointArn, () =>
            snsError(InvalidParameterException, "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified"),
        );
        const result = await send({ recipientId: recipient, message: "Hi" });
        expect(result).toMatchObject({ removedDevices: [invalid.deviceId] });
        expect(await storedDevice(invalid)).toBeUndefined();
    });

    it("keeps a record that was registered again with a new endpoint meanwhile", async () => {
        const recipient = identity();
        const device = await putDevice(recipient, "ios");
        const fresh = endpointArn("ios");
        snsMock.on(PublishCommand).callsFake(async (input: PublishCommandInput) => {
            if (input.TargetArn === device.endpointArn) {
                await db.send(new PutCommand({ TableName: DEVICES_TABLE, Item: { ...device, endpointArn: fresh } }));
                throw snsError(EndpointDisabledException, "Endpoint is disabled");
            }
            return { MessageId: "m" };
        });
        const result = await send({ recipientId: recipient, message: "Hi" });
        expect(result).toMatchObject({ removedDevices: [] });
        expect(await storedDevice(device)).toMatchObject({ endpointArn: fresh });
    });
});

describe("sendNotification failures to retry", () => {
    it("delivers to the other endpoints when one is throttled, then throws so Lambda retries", async () => {
        const recipient = identity();
        const first = await putDevice(recipient, "ios");
        const throttled = await putDevice(recipient, "android");
        const third = await putDevice(recipient, "android");
        snsMock.on(PublishCommand).callsFake((input: PublishCommandInput) => {
            if (input.TargetArn === throttled.endpointArn) throw snsError(ThrottledException, "Rate exceeded");
            return { MessageId: "m" };
        });
        const log = newLog();

        await expect(send({ recipientId: recipient, message: "Hi" }, BOTH, log)).rejects.toThrow(
            /^1 of 4 notification deliveries failed \(request req-0001\)/,
        );

        expect(endpointPublishes().map((p) => p.TargetArn).sort()).toEqual(
            [first.endpointArn, throttled.endpointArn, third.endpointArn].sort(),
        );
        expect(topicPublishes()).toHaveLength(1);
        expect(deletedEndpoints()).toEqual([]);
        expect(await storedDevice(throttled)).toBeDefined();
        expect(log.lines).toContainEqual({
            message: "push to endpoint failed",
            details: expect.objectContaining({
                level: "error",
                deviceId: throttled.deviceId,
                error: expect.objectContaining({ name: "ThrottledException" }),
            }),
        });
        expect(log.lines.at(-1)?.details).toMatchObject({ delivered: 2, failed: 1 });
    });

    it("throws when the topic publish fails, after pushing to the endpoints", async () => {
        const recipient = identity();
        const phone = await putDevice(recipient, "ios");
        snsMock.on(PublishCommand).callsFake((input: PublishCommandInput) => {
            if (input.TopicArn !== undefined) {
                const err = new Error("Service Unavailable");
                err.name = "InternalErrorException";
                throw err;
            }
            return { MessageId: "m" };
        });
        await expect(send({ recipientId: recipient, message: "Hi" })).rejects.toThrow(/1 of 2 notification deliveries failed/);
        expect(publishTo(phone.endpointArn)).toBeDefined();
    });

    it("neither removes the device nor retries for an InvalidParameter about something other than the endpoint", async () => {
        const recipient = identity();
        const phone = await putDevice(recipient, "ios");
        snsMock.on(PublishCommand).callsFake((input: PublishCommandInput) => {
            if (input.TargetArn !== undefined) throw snsError(InvalidParameterException, "Invalid parameter: Message too long");
            return { MessageId: "m" };
        });
        const log = newLog();
        // Permanent: a retry could only repeat the deliveries that succeeded.
        await expect(send({ recipientId: recipient, message: "Hi" }, BOTH, log)).resolves.toMatchObject({ endpoints: 1, delivered: 0 });
        expect(deletedEndpoints()).toEqual([]);
        expect(await storedDevice(phone)).toBeDefined();
        expect(log.lines).toContainEqual({
            message: "push refused by SNS for good; not retried",
            details: expect.objectContaining({ level: "error", deviceId: phone.deviceId }),
        });
        expect(log.lines.at(-1)?.details).toMatchObject({ refused: 1, failed: 0 });
    });

    it("throws, having published nothing, when the devices cannot be read", async () => {
        const log = newLog();
        const settings = { ...settingsWith(BOTH, log), devicesTable: "no-such-table" };
        await expect(
            sendNotification(requestEvent({ recipientId: identity(), message: "Hi" }), { db, sns }, settings),
        ).rejects.toThrow();
        expect(snsMock.calls()).toHaveLength(0);
        expect(log.lines[0]?.details).toMatchObject({ level: "error", requestId: "req-0001" });
    });
});

describe("sendNotification invalid events", () => {
    const SECRET = "PLEASE-NEVER-LOG-THIS";
    const recipient = "us-east-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

    it.each<[string, unknown, unknown, RegExp]>([
        ["a senderId that is not an identity id", "not-an-identity", { recipientId: recipient, message: SECRET }, /senderId/],
        ["no senderId", NO_SENDER, { recipientId: recipient, message: SECRET }, /senderId/],
        ["a missing message", SENDER, { recipientId: recipient, title: SECRET }, /message is required/],
        ["a blank message", SENDER, { recipientId: recipient, message: "   " }, /message must not be blank/],
        ["an unknown field", SENDER, { recipientId: recipient, message: SECRET, urgent: true }, /urgent is not a known field/],
        ["a recipientId that is not an identity id", SENDER, { recipientId: "bob", message: SECRET }, /recipientId/],
        ["a data value that is not a string", SENDER, { recipientId: recipient, message: SECRET, data: { n: 1 } }, /data\.n/],
        ["a body that is not an object", SENDER, JSON.stringify({ recipientId: recipient, message: SECRET }), /request body/],
    ])("answers undefined for %s, publishes nothing and logs an error", async (_case, senderId, body, problem) => {
        const log = newLog();
        const event = requestEvent(body, senderId);
        if (senderId === NO_SENDER) delete (event as Partial<NotificationRequestEvent>).senderId;
        await expect(sendNotification(event, { db, sns }, settingsWith(BOTH, log))).resolves.toBeUndefined();
        expect(snsMock.calls()).toHaveLength(0);
        expect(log.lines).toEqual([
            {
                message: "invalid notification request; dropped",
                details: { level: "error", requestId: "req-0001", problem: expect.stringMatching(problem) },
            },
        ]);
        expect(JSON.stringify(log.lines)).not.toContain(SECRET);
    });

    it("answers undefined for an event that is not an object at all", async () => {
        const log = newLog();
        const event = null as unknown as NotificationRequestEvent;
        await expect(sendNotification(event, { db, sns }, settingsWith(BOTH, log))).resolves.toBeUndefined();
        expect(log.lines[0]?.details).toMatchObject({ level: "error", requestId: null });
        expect(snsMock.calls()).toHaveLength(0);
    });
});
