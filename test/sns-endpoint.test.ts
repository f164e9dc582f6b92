/**
 * Proves the local SNS endpoint (local/sns.ts) against the real `@aws-sdk/client-sns` client:
 * what the SDK sends is accepted (and its SigV4 signature verifies), what the server answers
 * deserializes into the SDK's outputs and named exceptions.
 */
import {
    CreatePlatformEndpointCommand,
    DeleteEndpointCommand,
    GetEndpointAttributesCommand,
    PublishCommand,
    SetEndpointAttributesCommand,
    SNSClient,
    type PublishCommandInput,
} from "@aws-sdk/client-sns";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createPlatformApplicationsAndTopic, MAX_MESSAGE_BYTES, startSns, type InboxDelivery, type LocalSns } from "../local/sns";

type SdkError = Error & { $fault?: string; $metadata: { httpStatusCode?: number; attempts?: number; requestId?: string } };

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const clientFor = (server: LocalSns, extra: Record<string, unknown> = {}) =>
    new SNSClient({ endpoint: server.endpoint, region: "us-east-1", credentials, ...extra });

const APNS_TOKEN = "a1b2c3d4".repeat(8);
const APNS_TOKEN_2 = "0f".repeat(32);
const ENDPOINT_ARN = /^arn:aws:sns:us-east-1:123456789012:endpoint\/(APNS|APNS_SANDBOX|GCM)\/[A-Za-z0-9_.-]+\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let sns: LocalSns;
let client: SNSClient;
let ios: string;
let android: string;
let topic: string;

beforeAll(async () => {
    // Every SDK request in this file must carry a signature that verifies.
    sns = await startSns({ verifySignature: { secretAccessKey: "local" } });
    client = clientFor(sns);
    ios = sns.createApplication("APNS", "notes-ios");
    android = sns.createApplication("GCM", "notes-android");
    topic = sns.createTopic("notes-notifications");
});

afterAll(async () => {
    client.destroy();
    await sns.close();
});

async function rejection(promise: Promise<unknown>): Promise<SdkError> {
    try {
        await promise;
    } catch (e) {
        return e as SdkError;
    }
    throw new Error("expected the call to fail");
}

async function createEndpoint(applicationArn: string, token: string, extra: { CustomUserData?: string; Attributes?: Record<string, string> } = {}) {
    const { EndpointArn } = await client.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: applicationArn, Token: token, ...extra }));
    return EndpointArn as string;
}

let tokenCounter = 0;
/** A fresh APNs-shaped (hex) token. */
const freshToken = () => (++tokenCounter).toString(16).padStart(64, "0");

const apnsPayload = (alert: string) => JSON.stringify({ aps: { alert } });
const publish = (input: Partial<PublishCommandInput>, on = client) => on.send(new PublishCommand(input as PublishCommandInput));

describe("platform endpoints", () => {
    test("CreatePlatformEndpoint, GetEndpointAttributes, SetEndpointAttributes, DeleteEndpoint round trip", async () => {
        const before = sns.requests.length;
        const arn = await createEndpoint(ios, APNS_TOKEN, { CustomUserData: "user-1" });
        expect(arn).toMatch(ENDPOINT_ARN);
        expect(arn.startsWith("arn:aws:sns:us-east-1:123456789012:endpoint/APNS/notes-ios/")).toBe(true);
        expect(sns.endpoints().get(arn)).toEqual({ applicationArn: ios, token: APNS_TOKEN, enabled: true, customUserData: "user-1" });

        const got = await client.send(new GetEndpointAttributesCommand({ EndpointArn: arn }));
        expect(got.Attributes).toEqual({ Enabled: "true", Token: APNS_TOKEN, CustomUserData: "user-1" });
        expect(got.$metadata.httpStatusCode).toBe(200);
        expect(got.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);

        await client.send(new SetEndpointAttributesCommand({ EndpointArn: arn, Attributes: { Token: APNS_TOKEN_2, Enabled: "false" } }));
        expect(sns.endpoints().get(arn)).toEqual({ applicationArn: ios, token: APNS_TOKEN_2, enabled: false, customUserData: "user-1" });
        const after = await client.send(new GetEndpointAttributesCommand({ EndpointArn: arn }));
        expect(after.Attributes).toEqual({ Enabled: "false", Token: APNS_TOKEN_2, CustomUserData: "user-1" });

        await client.send(new DeleteEndpointCommand({ EndpointArn: arn }));
        expect(sns.endpoints().has(arn)).toBe(false);

        // What went over the wire: form fields as the SDK's query serializer names them.
        const sent = sns.requests.slice(before);
        expect(sent.map((r) => [r.action, r.status])).toEqual([
            ["CreatePlatformEndpoint", 200],
            ["GetEndpointAttributes", 200],
            ["SetEndpointAttributes", 200],
            ["GetEndpointAttributes", 200],
            ["DeleteEndpoint", 200],
        ]);
        expect(sent[0]).toMatchObject({ method: "POST", path: "/" });
        expect(sent[0].params).toEqual({
            Action: "CreatePlatformEndpoint",
            Version: "2010-03-31",
            PlatformApplicationArn: ios,
            Token: APNS_TOKEN,
            CustomUserData: "user-1",
        });
        expect(sent[2].params).toEqual({
            Action: "SetEndpointAttributes",
            Version: "2010-03-31",
            EndpointArn: arn,
            "Attributes.entry.1.key": "Token",
            "Attributes.entry.1.value": APNS_TOKEN_2,
            "Attributes.entry.2.key": "Enabled",
            "Attributes.entry.2.value": "false",
        });
        expect(sent[0].headers["content-type"]).toBe("application/x-www-form-urlencoded");
        expect(sent[0].headers.authorization).toMatch(
            /^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/us-east-1\/sns\/aws4_request, SignedHeaders=[a-z0-9;-]*\bhost\b[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
        );
    });

    test("CreatePlatformEndpoint is idempotent per application and token", async () => {
        const token = freshToken();
        const arn = await createEndpoint(ios, token);
        expect(await createEndpoint(ios, token)).toBe(arn);
        // Given attributes that match are fine too.
        expect(await createEndpoint(ios, token, { Attributes: { Enabled: "true" } })).toBe(arn);
        // The same token under another application is another endpoint.
        const sandbox = sns.createApplication("APNS_SANDBOX", "notes-ios-dev");
        const other = await createEndpoint(sandbox, token);
        expect(other).not.toBe(arn);
        expect(other).toContain(":endpoint/APNS_SANDBOX/notes-ios-dev/");

        // With CustomUserData: the same value again finds it; leaving it out finds it too.
        const withData = freshToken();
        const dataArn = await createEndpoint(ios, withData, { CustomUserData: "owner=u1" });
        expect(await createEndpoint(ios, withData, { CustomUserData: "owner=u1" })).toBe(dataArn);
        expect(await createEndpoint(ios, withData)).toBe(dataArn);

        // A disabled endpoint comes back as it is (AWS's token-management flow: create, get, re-enable).
        sns.disableEndpoint(arn);
        expect(await createEndpoint(ios, token)).toBe(arn);
        expect(sns.endpoints().get(arn)?.enabled).toBe(false);
        expect([...sns.endpoints().values()].filter((e) => e.token === token && e.applicationArn === ios)).toHaveLength(1);
    });

    test("the same token with different attributes is SNS's InvalidParameter naming the existing endpoint", async () => {
        const token = freshToken();
        const arn = await createEndpoint(ios, token, { CustomUserData: "owner=u1" });
        const expected = `Invalid parameter: Token Reason: Endpoint ${arn} already exists with the same Token, but different attributes.`;

        const differentData = await rejection(createEndpoint(ios, token, { CustomUserData: "owner=u2" }));
        expect(differentData.name).toBe("InvalidParameterException");
        expect(differentData.message).toBe(expected);
        expect(differentData.$fault).toBe("client");
        expect(differentData.$metadata.httpStatusCode).toBe(400);
        expect(differentData.$metadata.attempts).toBe(1); // 4xx: not retried

        const viaAttribute = await rejection(createEndpoint(ios, token, { Attributes: { CustomUserData: "owner=u3" } }));
        expect(viaAttribute.message).toBe(expected);
        const disabled = await rejection(createEndpoint(ios, token, { Attributes: { Enabled: "false" } }));
        expect(disabled.message).toBe(expected);
        // An endpoint without CustomUserData differs from one asked for with it.
        const bare = freshToken();
        const bareArn = await createEndpoint(ios, bare);
        expect((await rejection(createEndpoint(ios, bare, { CustomUserData: "x" }))).message).toContain(`Endpoint ${bareArn} already exists`);

        // The pattern functions/devices.ts reads the endpoint back with.
        expect(/Endpoint (arn:aws[a-z-]*:sns:\S+?) already exists with the same [Tt]oken/.exec(differentData.message)?.[1]).toBe(arn);
        expect(sns.endpoints().get(arn)?.customUserData).toBe("owner=u1");
    });

    test("an unknown or malformed application", async () => {
        const unknown = await rejection(createEndpoint("arn:aws:sns:us-east-1:123456789012:app/APNS/nope", freshToken()));
        expect(unknown.name).toBe("NotFoundException");
        expect(unknown.message).toBe("PlatformApplication does not exist");
        expect(unknown.$metadata.httpStatusCode).toBe(404);

        const malformed = await rejection(createEndpoint("nope", freshToken()));
        expect(malformed.name).toBe("InvalidParameterException");
        expect(malformed.message).toBe("Invalid parameter: PlatformApplicationArn Reason: An ARN must have at least 6 elements, not 1");
    });

    test("tokens: APNs tokens must be hex; FCM tokens are opaque", async () => {
        const notHex = await rejection(createEndpoint(ios, "fcm-looking:token"));
        expect(notHex.name).toBe("InvalidParameterException");
        expect(notHex.message).toBe("Invalid parameter: Token Reason: iOS device tokens must be no more than 400 hexadecimal characters");
        expect((await rejection(createEndpoint(ios, "ab".repeat(201)))).message).toMatch(/^Invalid parameter: Token Reason: iOS device tokens/);
        expect((await rejection(createEndpoint(android, "x".repeat(8193)))).message).toBe(
            "Invalid parameter: Token Reason: must be at most 8192 bytes long in UTF-8 encoding",
        );
        expect((await rejection(createEndpoint(android, ""))).message).toMatch(/^Invalid parameter: Token Reason: cannot be empty/);
        const fcm = await createEndpoint(android, "dGVzdA:APA91b-opaque_token");
        expect(sns.endpoints().get(fcm)?.token).toBe("dGVzdA:APA91b-opaque_token");
        // A missing required member: SNS's ValidationError (not modelled, so the SDK names it by its code).
        const noToken = await rejection(client.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: ios } as never)));
        expect(noToken.name).toBe("ValidationError");
        expect(noToken.message).toBe("1 validation error detected: Value null at 'token' failed to satisfy constraint: Member must not be null");
    });

    test("unknown endpoints: Get/Set are NotFound, Delete is idempotent, malformed ARNs are InvalidParameter", async () => {
        const arn = await createEndpoint(ios, freshToken());
        await client.send(new DeleteEndpointCommand({ EndpointArn: arn }));
        await client.send(new DeleteEndpointCommand({ EndpointArn: arn })); // again: no error

        const get = await rejection(client.send(new GetEndpointAttributesCommand({ EndpointArn: arn })));
        expect(get.name).toBe("NotFoundException");
        expect(get.message).toBe("Endpoint does not exist");
        expect(get.$metadata.httpStatusCode).toBe(404);
        const set = await rejection(client.send(new SetEndpointAttributesCommand({ EndpointArn: arn, Attributes: { Enabled: "true" } })));
        expect(set.name).toBe("NotFoundException");

        const slashes = await rejection(
            client.send(new GetEndpointAttributesCommand({ EndpointArn: "arn:aws:sns:us-east-1:123456789012:endpoint/APNS/notes-ios" })),
        );
        expect(slashes.name).toBe("InvalidParameterException");
        expect(slashes.message).toBe("Invalid parameter: EndpointArn Reason: Wrong number of slashes in relative portion of the ARN.");
        expect((await rejection(client.send(new DeleteEndpointCommand({ EndpointArn: "nope" })))).message).toBe(
            "Invalid parameter: EndpointArn Reason: An ARN must have at least 6 elements, not 1",
        );
    });

    test("SetEndpointAttributes validates names and values", async () => {
        const arn = await createEndpoint(ios, freshToken());
        const set = (Attributes: Record<string, string>) => rejection(client.send(new SetEndpointAttributesCommand({ EndpointArn: arn, Attributes })));

        expect((await set({ Foo: "bar" })).message).toBe("Invalid parameter: Attributes Reason: Invalid attribute name: Foo");
        expect((await set({ Enabled: "yes" })).name).toBe("InvalidParameterException");
        expect((await set({ CustomUserData: "x".repeat(2049) })).message).toBe(
            "Invalid parameter: Attributes Reason: Invalid value for attribute: CustomUserData: must be at most 2048 bytes long in UTF-8 encoding",
        );
        expect((await set({ Token: "not hex" })).message).toMatch(/^Invalid parameter: Token Reason: iOS device tokens/);
        // An empty map is not sent at all by the SDK: SNS then misses the required member.
        const empty = await set({});
        expect(empty.name).toBe("ValidationError");
        expect(empty.message).toBe("1 validation error detected: Value null at 'attributes' failed to satisfy constraint: Member must not be null");
        // Nothing changed.
        expect(sns.endpoints().get(arn)).toMatchObject({ enabled: true });
        expect(sns.endpoints().get(arn)?.customUserData).toBeUndefined();

        await client.send(new SetEndpointAttributesCommand({ EndpointArn: arn, Attributes: { CustomUserData: "x".repeat(2048) } }));
        expect(sns.endpoints().get(arn)?.customUserData).toHaveLength(2048);
    });

    test("attribute values survive the XML round trip", async () => {
        const data = `{"owner":"<u&1>","note":"it's \\"quoted\\""}\r\nline two – ünïcødé 🚀 ]]>`;
        const arn = await createEndpoint(android, "token-xml", { CustomUserData: data });
        const got = await client.send(new GetEndpointAttributesCommand({ EndpointArn: arn }));
        expect(got.Attributes?.CustomUserData).toBe(data);
        expect(sns.endpoints().get(arn)?.customUserData).toBe(data);
    });

    test("state accessors are copies", async () => {
        const arn = await createEndpoint(ios, freshToken());
        const copy = sns.endpoints();
        copy.get(arn)!.enabled = false;
        copy.delete(arn);
        expect(sns.endpoints().get(arn)?.enabled).toBe(true);
        expect(() => sns.disableEndpoint("arn:aws:sns:us-east-1:123456789012:endpoint/APNS/notes-ios/nope")).toThrow(/no endpoint/);
        expect(sns.createApplication("APNS", "notes-ios")).toBe(ios);
        expect(sns.createTopic("notes-notifications")).toBe(topic);
        expect(topic).toBe("arn:aws:sns:us-east-1:123456789012:notes-notifications");
        expect(ios).toBe("arn:aws:sns:us-east-1:123456789012:app/APNS/notes-ios");
    });
});

describe("publish", () => {
    test("MessageStructure json to an endpoint, with message attributes", async () => {
        const arn = await createEndpoint(ios, freshToken());
        const token = sns.endpoints().get(arn)?.token;
        const before = sns.requests.length;
        const count = sns.publishes().length;
        const message = JSON.stringify({ default: "You have a new note", APNS: apnsPayload("You have a new note"), GCM: JSON.stringify({ data: { n: 1 } }) });
        const result = await publish({
            TargetArn: arn,
            Message: message,
            MessageStructure: "json",
            MessageAttributes: {
                recipientId: { DataType: "String", StringValue: "us-east-1:user 1+2" },
                "AWS.SNS.MOBILE.APNS.TTL": { DataType: "String", StringValue: "3600" },
            },
        });
        expect(result.MessageId).toMatch(/^[0-9a-f-]{36}$/);

        const recorded = sns.publishes().slice(count);
        expect(recorded).toEqual([
            {
                messageId: result.MessageId,
                target: arn,
                targetType: "endpoint",
                message,
                messageStructure: "json",
                messageAttributes: {
                    recipientId: { DataType: "String", StringValue: "us-east-1:user 1+2" },
                    "AWS.SNS.MOBILE.APNS.TTL": { DataType: "String", StringValue: "3600" },
                },
                delivery: { platform: "APNS", token, payload: apnsPayload("You have a new note"), fromDefault: false },
            },
        ]);
        expect(sns.requests.slice(before)[0].params).toEqual({
            Action: "Publish",
            Version: "2010-03-31",
            Message: message,
            TargetArn: arn,
            MessageStructure: "json",
            "MessageAttributes.entry.1.Name": "recipientId",
            "MessageAttributes.entry.1.Value.DataType": "String",
            "MessageAttributes.entry.1.Value.StringValue": "us-east-1:user 1+2",
            "MessageAttributes.entry.2.Name": "AWS.SNS.MOBILE.APNS.TTL",
            "MessageAttributes.entry.2.Value.DataType": "String",
            "MessageAttributes.entry.2.Value.StringValue": "3600",
        });
    });

    test("the platform's key is used, else default; a direct endpoint publish needs no default", async () => {
        const gcm = await createEndpoint(android, "fcm-token-1");
        const count = sns.publishes().length;
        const fcmPayload = JSON.stringify({ fcmV1Message: { message: { notification: { title: "t", body: "b" } } } });
        await publish({ TargetArn: gcm, MessageStructure: "json", Message: JSON.stringify({ GCM: fcmPayload }) });
        await publish({ TargetArn: gcm, MessageStructure: "json", Message: JSON.stringify({ default: "plain", APNS: apnsPayload("x") }) });
        await publish({ TargetArn: gcm, Message: "raw text" });
        expect(sns.publishes().slice(count).map((p) => p.delivery)).toEqual([
            { platform: "GCM", token: "fcm-token-1", payload: fcmPayload, fromDefault: false },
            { platform: "GCM", token: "fcm-token-1", payload: "plain", fromDefault: true },
            { platform: "GCM", token: "fcm-token-1", payload: "raw text", fromDefault: true },
        ]);
        expect(sns.publishes()[count + 2].messageStructure).toBeUndefined();

        const neither = await rejection(publish({ TargetArn: gcm, MessageStructure: "json", Message: JSON.stringify({ APNS: apnsPayload("x") }) }));
        expect(neither.name).toBe("InvalidParameterException");
        expect(neither.message).toBe("Invalid parameter: Message Structure - No default entry in JSON message body");
    });

    test("to a topic, with a subject and attributes (TopicArn, or TargetArn naming the topic)", async () => {
        const count = sns.publishes().length;
        const message = JSON.stringify({ default: "hello", APNS: apnsPayload("hello"), sqs: "{\"k\":1}" });
        const { MessageId } = await publish({
            TopicArn: topic,
            Message: message,
            MessageStructure: "json",
            Subject: "New note",
            MessageAttributes: { recipientId: { DataType: "String", StringValue: "u1" }, count: { DataType: "Number", StringValue: "3" } },
        });
        await publish({ TargetArn: topic, Message: "plain" });
        expect(sns.publishes().slice(count)).toEqual([
            {
                messageId: MessageId,
                target: topic,
                targetType: "topic",
                message,
                messageStructure: "json",
                subject: "New note",
                messageAttributes: { recipientId: { DataType: "String", StringValue: "u1" }, count: { DataType: "Number", StringValue: "3" } },
            },
            { messageId: expect.any(String), target: topic, targetType: "topic", message: "plain", messageAttributes: {} },
        ]);

        const noDefault = await rejection(publish({ TopicArn: topic, MessageStructure: "json", Message: JSON.stringify({ APNS: apnsPayload("x") }) }));
        expect(noDefault.name).toBe("InvalidParameterException");
        expect(noDefault.message).toBe("Invalid parameter: Message Structure - No default entry in JSON message body");

        const unknown = await rejection(publish({ TopicArn: "arn:aws:sns:us-east-1:123456789012:no-such-topic", Message: "x" }));
        expect(unknown.name).toBe("NotFoundException");
        expect(unknown.message).toBe("Topic does not exist");
        expect(unknown.$metadata.httpStatusCode).toBe(404);
        expect(sns.publishes()).toHaveLength(count + 2);
    });

    test("a disabled endpoint is EndpointDisabledException until re-enabled", async () => {
        const arn = await createEndpoint(ios, freshToken());
        sns.disableEndpoint(arn);
        const count = sns.publishes().length;
        const error = await rejection(publish({ TargetArn: arn, MessageStructure: "json", Message: JSON.stringify({ default: "x", APNS: apnsPayload("x") }) }));
        expect(error.name).toBe("EndpointDisabledException");
        expect(error.message).toBe("Endpoint is disabled");
        expect(error.$metadata.httpStatusCode).toBe(400);
        expect(error.$metadata.attempts).toBe(1);
        expect(sns.publishes()).toHaveLength(count);

        await client.send(new SetEndpointAttributesCommand({ EndpointArn: arn, Attributes: { Enabled: "true" } }));
        await publish({ TargetArn: arn, Message: "back" });
        expect(sns.publishes()).toHaveLength(count + 1);
    });

    test("a deleted endpoint: NotFoundException on its attributes, SNS's InvalidParameter on Publish", async () => {
        const arn = await createEndpoint(ios, freshToken());
        await client.send(new DeleteEndpointCommand({ EndpointArn: arn }));
        const attributes = await rejection(client.send(new GetEndpointAttributesCommand({ EndpointArn: arn })));
        expect(attributes.name).toBe("NotFoundException");
        expect(attributes.message).toBe("Endpoint does not exist");

        // SNS answers a publish to an endpoint that does not exist with 400 InvalidParameter, not NotFound.
        const published = await rejection(publish({ TargetArn: arn, Message: "x" }));
        expect(published.name).toBe("InvalidParameterException");
        expect(published.message).toBe("Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified");
        expect(published.$metadata.httpStatusCode).toBe(400);
    });

    test("platform payload limits: APNS and GCM 4096 bytes, the whole message 256 KB", async () => {
        const apns = await createEndpoint(ios, freshToken());
        const gcm = await createEndpoint(android, "fcm-token-limits");
        const sized = (bytes: number) => {
            const shell = apnsPayload("");
            return apnsPayload("x".repeat(bytes - Buffer.byteLength(shell)));
        };
        expect(Buffer.byteLength(sized(4096))).toBe(4096);
        await publish({ TargetArn: apns, MessageStructure: "json", Message: JSON.stringify({ default: "d", APNS: sized(4096) }) });

        const tooLong = await rejection(publish({ TargetArn: apns, MessageStructure: "json", Message: JSON.stringify({ default: "d", APNS: sized(4097) }) }));
        expect(tooLong.name).toBe("InvalidParameterException");
        expect(tooLong.message).toBe("Invalid parameter: Message Reason: Invalid notification for protocol APNS: Notification is too long");
        // Multi-byte characters count as bytes.
        const wide = apnsPayload("é".repeat(2040));
        expect(wide.length).toBeLessThan(4096);
        expect((await rejection(publish({ TargetArn: apns, MessageStructure: "json", Message: JSON.stringify({ default: "d", APNS: wide }) }))).name).toBe(
            "InvalidParameterException",
        );
        // The default text, when it is what the platform gets, is held to the same limit.
        expect((await rejection(publish({ TargetArn: apns, Message: "x".repeat(4097) }))).message).toMatch(/protocol APNS: Notification is too long$/);
        // ... but not the APNS value when publishing to a GCM endpoint.
        await publish({ TargetArn: gcm, MessageStructure: "json", Message: JSON.stringify({ default: "d", APNS: sized(5000) }) });
        const gcmTooLong = await rejection(
            publish({ TargetArn: gcm, MessageStructure: "json", Message: JSON.stringify({ default: "d", GCM: JSON.stringify({ data: { x: "y".repeat(4100) } }) }) }),
        );
        expect(gcmTooLong.message).toBe("Invalid parameter: Message Reason: Invalid notification for protocol GCM: Notification data is larger than allowed limit");

        // SNS counts the message and each attribute's name, type and value against 262144 bytes.
        const attributes = { attr1: { DataType: "Number", StringValue: "1" } };
        const attributeBytes = "attr1".length + "Number".length + "1".length;
        await publish({ TopicArn: topic, Message: "a".repeat(MAX_MESSAGE_BYTES - attributeBytes), MessageAttributes: attributes });
        const overall = await rejection(publish({ TopicArn: topic, Message: "a".repeat(MAX_MESSAGE_BYTES - attributeBytes + 1), MessageAttributes: attributes }));
        expect(overall.name).toBe("InvalidParameterException");
        expect(overall.message).toBe("Invalid parameter: Message too long");
    });

    test("MessageStructure json shape checks", async () => {
        const arn = await createEndpoint(ios, freshToken());
        const fail = async (Message: string) => (await rejection(publish({ TargetArn: arn, MessageStructure: "json", Message }))).message;
        expect(await fail("{not json")).toBe("Invalid parameter: Message Structure - JSON message body failed to parse");
        expect(await fail("[1,2]")).toBe("Invalid parameter: Message Structure - JSON message body failed to parse");
        expect(await fail(JSON.stringify({ default: "x", APNS: { aps: { alert: "not a string" } } }))).toMatch(/the value of 'APNS' must be a JSON string/);
        expect(await fail(JSON.stringify({ default: "x", apns: apnsPayload("lowercase key") }))).toMatch(/unknown key 'apns'/);
        expect(await fail(JSON.stringify({ default: "x", APNS: "alert text, not JSON" }))).toMatch(/^Invalid parameter: Message Reason: Invalid notification for protocol APNS/);
        expect(await fail(JSON.stringify({ default: 42 }))).toMatch(/the value of 'default' must be a JSON string/);
        const structure = await rejection(publish({ TargetArn: arn, MessageStructure: "raw", Message: "x" }));
        expect(structure.message).toBe("Invalid parameter: MessageStructure");
    });

    test("target, message and subject checks", async () => {
        const arn = await createEndpoint(ios, freshToken());
        const both = await rejection(publish({ TargetArn: arn, TopicArn: topic, Message: "x" }));
        expect(both.name).toBe("InvalidParameterException");
        expect(both.message).toMatch(/^Invalid parameter: TopicArn or TargetArn Reason: both were given/);
        expect((await rejection(publish({ Message: "x" }))).message).toMatch(/^Invalid parameter: TopicArn or TargetArn Reason: no value/);
        expect((await rejection(publish({ TopicArn: arn, Message: "x" }))).message).toBe("Invalid parameter: TopicArn");
        expect((await rejection(publish({ TargetArn: "nope", Message: "x" }))).message).toBe("Invalid parameter: TargetArn Reason: An ARN must have at least 6 elements, not 1");

        const noMessage = await rejection(publish({ TargetArn: arn }));
        expect(noMessage.name).toBe("ValidationError");
        expect(noMessage.message).toBe("1 validation error detected: Value null at 'message' failed to satisfy constraint: Member must not be null");
        expect((await rejection(publish({ TargetArn: arn, Message: "" }))).message).toBe("Invalid parameter: Empty message");
        expect((await rejection(publish({ TopicArn: topic, Message: "x", Subject: "" }))).message).toBe("Invalid parameter: Subject");
        expect((await rejection(publish({ TopicArn: topic, Message: "x", Subject: "line\nbreak" }))).message).toBe("Invalid parameter: Subject");
        expect((await rejection(publish({ TopicArn: topic, Message: "x", Subject: "s".repeat(101) }))).message).toBe("Invalid parameter: Subject");
        expect((await rejection(publish({ TopicArn: topic, Message: "x", Subject: " leading space" }))).message).toBe("Invalid parameter: Subject");
        await publish({ TopicArn: topic, Message: "x", Subject: "s".repeat(100) });
        const phone = await rejection(publish({ PhoneNumber: "+15555550100", Message: "x" }));
        expect(phone.name).toBe("MalformedQueryString");
        expect(phone.message).toMatch(/'PhoneNumber' is not supported/);
    });

    test("message attributes are validated as SNS does", async () => {
        const count = sns.publishes().length;
        const fail = async (MessageAttributes: Record<string, unknown>) => rejection(publish({ TopicArn: topic, Message: "x", MessageAttributes } as never));

        const noValue = await fail({ recipientId: { DataType: "String" } });
        expect(noValue.name).toBe("InvalidParameterValueException");
        expect(noValue.message).toBe("The message attribute 'recipientId' must contain non-empty message attribute value for message attribute type 'String'.");
        expect(noValue.$metadata.httpStatusCode).toBe(400);
        expect((await fail({ recipientId: { DataType: "String", StringValue: "" } })).message).toBe(
            "The message attribute 'recipientId' must contain non-empty message attribute value for message attribute type 'String'.",
        );
        expect((await fail({ recipientId: { DataType: "String", BinaryValue: Buffer.from("x") } })).message).toBe(
            "The message attribute 'recipientId' with type 'String' must use field 'String'.",
        );
        expect((await fail({ recipientId: { DataType: "Text", StringValue: "u1" } })).message).toBe(
            "The message attribute 'recipientId' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.",
        );
        expect((await fail({ n: { DataType: "Number", StringValue: "three" } })).message).toBe("Could not cast message attribute 'n' value to number.");
        expect((await fail({ "bad name": { DataType: "String", StringValue: "u1" } })).message).toBe(
            "Invalid non-alphanumeric character '#x20' was found in the message attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots.",
        );
        expect((await fail({ "a..b": { DataType: "String", StringValue: "u1" } })).message).toBe("Message attribute name can not have successive '.' character.");
        const noType = await fail({ recipientId: { StringValue: "u1" } });
        expect(noType.name).toBe("ValidationError");
        expect(noType.message).toBe(
            "1 validation error detected: Value null at 'messageAttributes.recipientId.member.dataType' failed to satisfy constraint: Member must not be null",
        );
        expect(sns.publishes()).toHaveLength(count);

        // Binary values travel base64-encoded and are recorded as bytes; custom type suffixes are allowed.
        await publish({
            TopicArn: topic,
            Message: "x",
            MessageAttributes: {
                blob: { DataType: "Binary", BinaryValue: Uint8Array.from([0, 1, 254, 255]) },
                kind: { DataType: "String.NoteKind", StringValue: "shared" },
            },
        });
        const [last] = sns.publishes().slice(-1);
        expect(last.messageAttributes.blob).toEqual({ DataType: "Binary", BinaryValue: Buffer.from([0, 1, 254, 255]) });
        expect(last.messageAttributes.kind).toEqual({ DataType: "String.NoteKind", StringValue: "shared" });
        expect(sns.requests.slice(-1)[0].params["MessageAttributes.entry.1.Value.BinaryValue"]).toBe("AAH+/w==");
    });
});

describe("injected failures", () => {
    const endpointMessage = () => JSON.stringify({ default: "x", APNS: apnsPayload("x") });

    test("throttle: HTTP 429 Throttled → ThrottledException (maxAttempts 1: one request)", async () => {
        const arn = await createEndpoint(ios, freshToken());
        const single = clientFor(sns, { maxAttempts: 1 });
        const before = sns.requests.length;
        const count = sns.publishes().length;
        sns.failNextPublishes(1, "throttle");
        const error = await rejection(publish({ TargetArn: arn, MessageStructure: "json", Message: endpointMessage() }, single));
        expect(error.name).toBe("ThrottledException");
        expect(error.message).toBe("Rate exceeded");
        expect(error.$fault).toBe("client");
        expect(error.$metadata).toMatchObject({ httpStatusCode: 429, attempts: 1 });
        expect(sns.requests.slice(before).map((r) => [r.action, r.status, r.errorCode])).toEqual([["Publish", 429, "Throttled"]]);
        expect(sns.publishes()).toHaveLength(count);
        // The failure was used up: the next publish goes through.
        await publish({ TargetArn: arn, MessageStructure: "json", Message: endpointMessage() }, single);
        expect(sns.publishes()).toHaveLength(count + 1);
        single.destroy();
    });

    test("http500: HTTP 500 InternalError → InternalErrorException (maxAttempts 1)", async () => {
        const arn = await createEndpoint(ios, freshToken());
        const single = clientFor(sns, { maxAttempts: 1 });
        sns.failNextPublishes(1, "http500");
        const error = await rejection(publish({ TargetArn: arn, Message: "x" }, single));
        expect(error.name).toBe("InternalErrorException");
        expect(error.$fault).toBe("server");
        expect(error.$metadata).toMatchObject({ httpStatusCode: 500, attempts: 1 });
        single.destroy();
    });

    test("a default client retries: two 500s are absorbed, three throttles are thrown after 3 attempts", async () => {
        const arn = await createEndpoint(ios, freshToken());
        const count = sns.publishes().length;
        let before = sns.requests.length;
        sns.failNextPublishes(2, "http500");
        const ok = await publish({ TargetArn: arn, Message: "after retries" });
        expect(ok.$metadata.attempts).toBe(3);
        expect(sns.requests.slice(before).map((r) => r.status)).toEqual([500, 500, 200]);
        expect(sns.publishes().slice(count).map((p) => p.message)).toEqual(["after retries"]);

        before = sns.requests.length;
        sns.failNextPublishes(3, "throttle");
        const error = await rejection(publish({ TargetArn: arn, Message: "never" }));
        expect(error.name).toBe("ThrottledException");
        expect(error.$metadata.attempts).toBe(3);
        expect(sns.requests.slice(before).map((r) => r.status)).toEqual([429, 429, 429]);
        expect(sns.publishes()).toHaveLength(count + 1);
    });

    test("only Publish requests consume injected failures", async () => {
        sns.failNextPublishes(1, "throttle");
        const arn = await createEndpoint(ios, freshToken()); // not a publish: unaffected
        const single = clientFor(sns, { maxAttempts: 1 });
        expect((await rejection(publish({ TargetArn: arn, Message: "x" }, single))).name).toBe("ThrottledException");
        await publish({ TargetArn: arn, Message: "x" }, single);
        single.destroy();
        expect(() => sns.failNextPublishes(-1, "throttle")).toThrow(/non-negative integer/);
    });
});

describe("request shape", () => {
    let plain: LocalSns;
    beforeAll(async () => {
        plain = await startSns(); // no signature verification: hand-made requests below
    });
    afterAll(() => plain.close());

    const date = "20240101T000000Z";
    const auth = (service = "sns", region = "us-east-1") =>
        `AWS4-HMAC-SHA256 Credential=local/20240101/${region}/${service}/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=${"0".repeat(64)}`;
    async function send(body: string, headers: Record<string, string> = {}, method = "POST", path = "/") {
        const res = await fetch(plain.endpoint + path, {
            method,
            headers: { "content-type": "application/x-www-form-urlencoded", "x-amz-date": date, authorization: auth(), ...headers },
            ...(method === "GET" ? {} : { body }),
        });
        return { status: res.status, text: await res.text(), requestId: res.headers.get("x-amzn-requestid") };
    }
    const code = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

    test("a well-formed request, and the XML shapes of success and error", async () => {
        const app = plain.createApplication("GCM", "raw");
        const ok = await send(`Action=CreatePlatformEndpoint&Version=2010-03-31&PlatformApplicationArn=${encodeURIComponent(app)}&Token=t%201`);
        expect(ok.status).toBe(200);
        expect(ok.text).toMatch(
            /^<CreatePlatformEndpointResponse xmlns="http:\/\/sns\.amazonaws\.com\/doc\/2010-03-31\/"><CreatePlatformEndpointResult><EndpointArn>arn:aws:sns:us-east-1:123456789012:endpoint\/GCM\/raw\/[0-9a-f-]{36}<\/EndpointArn><\/CreatePlatformEndpointResult><ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/CreatePlatformEndpointResponse>$/,
        );
        expect(ok.text).toContain(`<RequestId>${ok.requestId}</RequestId>`);
        expect([...plain.endpoints().values()][0].token).toBe("t 1");

        const error = await send("Action=GetEndpointAttributes&Version=2010-03-31&EndpointArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Aendpoint%2FGCM%2Fraw%2Fx");
        expect(error.status).toBe(404);
        expect(error.text).toBe(
            `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>NotFound</Code><Message>Endpoint does not exist</Message></Error><RequestId>${error.requestId}</RequestId></ErrorResponse>`,
        );
    });

    test("rejects what is not a signed form-encoded SNS request, with a descriptive message", async () => {
        const body = "Action=GetEndpointAttributes&Version=2010-03-31&EndpointArn=x";
        const cases: Array<[() => Promise<{ status: number; text: string }>, number, string, RegExp]> = [
            [() => send(body, { authorization: "" }), 400, "IncompleteSignature", /not a SigV4/],
            [() => fetch(plain.endpoint, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body }).then(async (r) => ({ status: r.status, text: await r.text() })), 400, "MissingAuthenticationToken", /missing the SigV4 Authorization header/],
            [() => send(body, { authorization: auth("sqs") }), 400, "IncompleteSignature", /service 'sqs', expected 'sns'/],
            [() => send(body, { authorization: auth("sns", "eu-west-1") }), 403, "SignatureDoesNotMatch", /scoped to a valid region, not 'eu-west-1'/],
            [() => send(body, { "x-amz-date": "yesterday" }), 400, "IncompleteSignature", /x-amz-date/],
            [() => send(body, { "x-amz-content-sha256": "0".repeat(64) }), 400, "XAmzContentSHA256Mismatch", /does not match the request body/],
            [() => send(body, { "content-type": "application/json" }), 400, "MalformedQueryString", /Content-Type must be application\/x-www-form-urlencoded.*application\/json/],
            [() => send(body, {}, "GET", "/?Action=GetEndpointAttributes"), 400, "MalformedQueryString", /takes POST/],
            [() => send(body, {}, "POST", "/other"), 400, "MalformedQueryString", /POST \/ without a query string/],
            [() => send("Version=2010-03-31"), 400, "MissingAction", /Action/],
            [() => send("Action=ListTopics&Version=2010-03-31"), 400, "InvalidAction", /ListTopics is not valid.*serves CreatePlatformEndpoint/],
            [() => send("Action=GetEndpointAttributes&Version=2012-01-01&EndpointArn=x"), 400, "NoSuchVersion", /2012-01-01/],
            [() => send(`${body}&EndpointArn=y`), 400, "MalformedQueryString", /'EndpointArn' given more than once/],
            [() => send(`${body}&Endpoint=y`), 400, "MalformedQueryString", /unexpected form field 'Endpoint' for GetEndpointAttributes/],
            [() => send("Action=SetEndpointAttributes&Version=2010-03-31&EndpointArn=x&Attributes.entry.2.key=Enabled&Attributes.entry.2.value=true"), 400, "MalformedQueryString", /numbered 1\.\.1/],
            [() => send("Action=SetEndpointAttributes&Version=2010-03-31&EndpointArn=x&Attributes.entry.1.key=Enabled"), 400, "MalformedQueryString", /has no value/],
            [() => send("Action=SetEndpointAttributes&Version=2010-03-31&EndpointArn=x&Attributes.entry.1.Name=Enabled"), 400, "MalformedQueryString", /unexpected form field 'Attributes\.entry\.1\.Name'/],
            [() => send(`${body}%ZZ`), 400, "MalformedQueryString", /percent-encoding/],
        ];
        for (const [response, status, errorCode, message] of cases) {
            const { status: got, text } = await response();
            expect([got, code(text)]).toEqual([status, errorCode]);
            expect(text).toMatch(message);
        }
        expect(plain.requests.filter((r) => r.errorCode !== undefined).length).toBeGreaterThanOrEqual(cases.length);
    });

    test("a wrong secret fails signature verification with SignatureDoesNotMatch", async () => {
        const wrong = new SNSClient({ endpoint: sns.endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "other" } });
        const error = await rejection(wrong.send(new GetEndpointAttributesCommand({ EndpointArn: "arn:aws:sns:us-east-1:123456789012:endpoint/APNS/a/b" })));
        expect(error.name).toBe("SignatureDoesNotMatch");
        expect(error.$metadata.httpStatusCode).toBe(403);
        wrong.destroy();
    });

    test("a client configured only by AWS_ENDPOINT_URL_SNS (as the functions are) reaches the server", async () => {
        const saved = process.env.AWS_ENDPOINT_URL_SNS;
        process.env.AWS_ENDPOINT_URL_SNS = sns.endpoint;
        try {
            const fromEnv = new SNSClient({ region: "us-east-1", credentials });
            const arn = await createEndpointWith(fromEnv);
            expect(sns.endpoints().has(arn)).toBe(true);
            fromEnv.destroy();
        } finally {
            if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SNS;
            else process.env.AWS_ENDPOINT_URL_SNS = saved;
        }
    });

    async function createEndpointWith(on: SNSClient): Promise<string> {
        const { EndpointArn } = await on.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: ios, Token: freshToken() }));
        return EndpointArn as string;
    }
});

describe("device inbox", () => {
    let inboxSns: LocalSns;
    let inboxClient: SNSClient;
    const lines: string[] = [];
    const owners = new Map<string, string>();
    const arns = {
        APNS_APPLICATION_ARN: "arn:aws:sns:us-east-1:123456789012:app/APNS_SANDBOX/notes-apns",
        FCM_APPLICATION_ARN: "arn:aws:sns:us-east-1:123456789012:app/GCM/notes-fcm",
        NOTIFICATIONS_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:notes-topic",
    };
    beforeAll(async () => {
        // As npm start wires it: the endpoint's owner comes from a lookup (the devices table there).
        inboxSns = await startSns({ recipientOf: async ({ arn }) => owners.get(arn), log: (line) => lines.push(line) });
        inboxClient = clientFor(inboxSns);
        createPlatformApplicationsAndTopic(inboxSns, arns);
    });
    afterAll(async () => {
        inboxClient.destroy();
        await inboxSns.close();
    });

    const read = async (recipientId: string) => {
        const response = await fetch(`${inboxSns.endpoint}/inbox?recipientId=${encodeURIComponent(recipientId)}`);
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toBe("application/json");
        return (await response.json()) as { recipientId: string; deliveries: InboxDelivery[] };
    };

    test("endpoint pushes and topic deliveries are listed per recipient, as delivered", async () => {
        const { EndpointArn: phone } = await inboxClient.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: arns.APNS_APPLICATION_ARN, Token: APNS_TOKEN }));
        const { EndpointArn: pixel } = await inboxClient.send(
            new CreatePlatformEndpointCommand({ PlatformApplicationArn: arns.FCM_APPLICATION_ARN, Token: "fcm-token-1", CustomUserData: "ignored-by-lookup" }),
        );
        owners.set(phone as string, "us-east-1:alice");
        owners.set(pixel as string, "us-east-1:bob");
        const apns = apnsPayload("hello alice");
        await inboxClient.send(new PublishCommand({ TargetArn: phone, MessageStructure: "json", Message: JSON.stringify({ APNS_SANDBOX: apns, default: "hello" }) }));
        await inboxClient.send(new PublishCommand({ TargetArn: pixel, Message: "plain text" }));
        await inboxClient.send(
            new PublishCommand({
                TopicArn: arns.NOTIFICATIONS_TOPIC_ARN,
                MessageStructure: "json",
                Message: JSON.stringify({ default: '{"title":"hi"}' }),
                MessageAttributes: { recipientId: { DataType: "String", StringValue: "us-east-1:alice" } },
            }),
        );
        // A disabled endpoint receives nothing (the publish fails).
        inboxSns.disableEndpoint(pixel as string);
        await expect(inboxClient.send(new PublishCommand({ TargetArn: pixel, Message: "lost" }))).rejects.toThrow(expect.objectContaining({ name: "EndpointDisabledException" }));

        const alice = await read("us-east-1:alice");
        expect(alice.recipientId).toBe("us-east-1:alice");
        expect(alice.deliveries).toEqual([
            { messageId: expect.any(String), at: expect.any(String), via: "endpoint", target: phone, recipientId: "us-east-1:alice", platform: "APNS_SANDBOX", token: APNS_TOKEN, payload: apns },
            { messageId: expect.any(String), at: expect.any(String), via: "topic", target: arns.NOTIFICATIONS_TOPIC_ARN, recipientId: "us-east-1:alice", payload: '{"title":"hi"}' },
        ]);
        expect(Number.isNaN(Date.parse(alice.deliveries[0].at))).toBe(false);
        const bob = await read("us-east-1:bob");
        expect(bob.deliveries.map((d) => [d.platform, d.token, d.payload, d.customUserData])).toEqual([["GCM", "fcm-token-1", "plain text", "ignored-by-lookup"]]);
        expect((await read("us-east-1:nobody")).deliveries).toEqual([]);
        expect(await inboxSns.inbox()).toHaveLength(3);
        expect(lines).toHaveLength(3);
        expect(lines[0]).toContain("us-east-1:alice");
    });

    test("without a lookup, an endpoint's CustomUserData names the recipient", async () => {
        const plain = await startSns();
        const c = clientFor(plain);
        try {
            const app = plain.createApplication("GCM", "raw");
            const { EndpointArn } = await c.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: app, Token: "t-1", CustomUserData: "us-east-1:carol" }));
            await c.send(new PublishCommand({ TargetArn: EndpointArn, Message: "hi" }));
            expect((await plain.inbox("us-east-1:carol")).map((d) => d.payload)).toEqual(["hi"]);
        } finally {
            c.destroy();
            await plain.close();
        }
    });

    test("with a data dir, endpoints and the inbox survive a restart", async () => {
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sns-endpoint-"));
        const start = async () => {
            const server = await startSns({ dataDir });
            createPlatformApplicationsAndTopic(server, arns);
            return { server, c: clientFor(server) };
        };
        let { server, c } = await start();
        try {
            const { EndpointArn: phone } = await c.send(
                new CreatePlatformEndpointCommand({ PlatformApplicationArn: arns.APNS_APPLICATION_ARN, Token: APNS_TOKEN_2, CustomUserData: "us-east-1:dave" }),
            );
            const { EndpointArn: old } = await c.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: arns.FCM_APPLICATION_ARN, Token: "fcm-old" }));
            await c.send(new SetEndpointAttributesCommand({ EndpointArn: phone, Attributes: { Enabled: "false" } }));
            await c.send(new DeleteEndpointCommand({ EndpointArn: old }));
            await c.send(new SetEndpointAttributesCommand({ EndpointArn: phone, Attributes: { Enabled: "true" } }));
            await c.send(new PublishCommand({ TargetArn: phone, Message: "before the restart" }));
            await server.inbox(); // the recipient is resolved and written
            c.destroy();
            await server.close();

            ({ server, c } = await start());
            const attributes = await c.send(new GetEndpointAttributesCommand({ EndpointArn: phone }));
            expect(attributes.Attributes).toEqual({ Enabled: "true", Token: APNS_TOKEN_2, CustomUserData: "us-east-1:dave" });
            await expect(c.send(new GetEndpointAttributesCommand({ EndpointArn: old }))).rejects.toThrow(expect.objectContaining({ name: "NotFoundException" }));
            // The same token still maps to the same endpoint, and it still receives pushes.
            const again = await c.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: arns.APNS_APPLICATION_ARN, Token: APNS_TOKEN_2 }));
            expect(again.EndpointArn).toBe(phone);
            await c.send(new PublishCommand({ TargetArn: phone, Message: "after the restart" }));
            expect((await server.inbox("us-east-1:dave")).map((d) => d.payload)).toEqual(["before the restart", "after the restart"]);
        } finally {
            c.destroy();
            await server.close();
            fs.rmSync(dataDir, { recursive: true, force: true });
        }
    });

    test("createPlatformApplicationsAndTopic refuses ARNs this SNS cannot hold", () => {
        expect(() => createPlatformApplicationsAndTopic(inboxSns, { APNS_APPLICATION_ARN: "arn:aws:sns:eu-west-1:123456789012:app/APNS/x" })).toThrow(/cannot create/);
        expect(() => createPlatformApplicationsAndTopic(inboxSns, { FCM_APPLICATION_ARN: "arn:aws:sns:us-east-1:123456789012:topic" })).toThrow(/not a platform application ARN/);
    });
});
