/**
 * The notification tier's code exactly as `pulumi up` would ship it: the devices and sender functions'
 * serialized archives run in fresh Node processes with AWS_ENDPOINT_URL_SNS and
 * AWS_ENDPOINT_URL_DYNAMODB pointing at a local SNS-compatible endpoint (which checks the requests the
 * real SDK sends) and at dynalite. The sender is driven with the event the API's mapping template
 * makes of a `POST /notifications` request.
 */
import type { APIGatewayProxyResult } from "aws-lambda";
import { CREDENTIAL_KEYS } from "../infra/config";
import { renderMappingTemplate } from "../local/apigateway";
import { CREDENTIALS, CREDENTIAL_SECRET_KEYS } from "./support/credentials";
import { createDeclaredTable, startDynamo, type LocalDynamo } from "./support/dynamodb";
import { apiEvent, reply, type ApiCall } from "./support/events";
import { startFunction, type LocalFunction } from "./support/lambda";
import { loadProgram, type LoadedProgram } from "./support/program";
import { createPlatformApplicationsAndTopic, startSns, type LocalSns } from "../local/sns";

const alice = "us-east-1:11111111-1111-4111-8111-111111111111";
const bob = "us-east-1:22222222-2222-4222-8222-222222222222";
const IPHONE = "a".repeat(64);
const PIXEL = "fcm-token:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx";

let dynamo: LocalDynamo;
let sns: LocalSns;
let configured: LoadedProgram;
let unconfigured: LoadedProgram;
const running: LocalFunction[] = [];

beforeAll(async () => {
    configured = await loadProgram("dev", CREDENTIALS, CREDENTIAL_SECRET_KEYS);
    unconfigured = await loadProgram("dev");
    dynamo = await startDynamo();
    sns = await startSns({ verifySignature: { secretAccessKey: "local" } });
    // The platform applications and topic the program would have created, under the names it gave them.
    const env = configured.archives["notifications-sender"].environment;
    createPlatformApplicationsAndTopic(sns, env);
    expect([...Object.keys(env)].filter((k) => /_(APPLICATION|TOPIC)_ARN$/.test(k)).sort()).toEqual(["APNS_APPLICATION_ARN", "FCM_APPLICATION_ARN", "NOTIFICATIONS_TOPIC_ARN"]);
    await createDeclaredTable(dynamo, configured.recorder.one("aws:dynamodb/table:Table", "notifications-devices"), env.DEVICES_TABLE);
    await createDeclaredTable(dynamo, configured.recorder.one("aws:dynamodb/table:Table", "notifications-blocks"), env.BLOCKS_TABLE);
    await createDeclaredTable(dynamo, configured.recorder.one("aws:dynamodb/table:Table", "data-limits"), env.LIMITS_TABLE);
}, 600_000);

afterAll(async () => {
    await Promise.all(running.map((f) => f.stop()));
    await sns?.close();
    await dynamo?.close();
});

async function start(program: LoadedProgram, name: string): Promise<LocalFunction> {
    const fn = await startFunction(program.archives[name], {
        AWS_ENDPOINT_URL_SNS: sns.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    });
    running.push(fn);
    return fn;
}

let requestCount = 0;

/** The event API Gateway's mapping template makes of a request, rendered as VTL (local/apigateway.ts). */
function asyncEvent(program: LoadedProgram, senderId: string, body: unknown): unknown {
    const doc = JSON.parse(program.recorder.one("aws:apigateway/restApi:RestApi").inputs.body);
    const template: string = doc.paths["/notifications"].post["x-amazon-apigateway-integration"].requestTemplates["application/json"];
    const rendered = renderMappingTemplate(
        template,
        { body: JSON.stringify(body) },
        { context: { requestId: `local-request-${++requestCount}`, identity: { cognitoIdentityId: senderId } } },
    );
    return JSON.parse(rendered);
}

async function devices(fn: LocalFunction, request: ApiCall) {
    return reply(await fn.invoke<APIGatewayProxyResult>(apiEvent(request)));
}

test("devices register, and a notification reaches every device of the recipient and the stage topic", async () => {
    const registrar = await start(configured, "notifications-devices");
    const sender = await start(configured, "notifications-sender");

    const ios = await devices(registrar, { method: "POST", resource: "/devices", identityId: bob, body: { platform: "ios", token: IPHONE } });
    expect(ios).toMatchObject({ statusCode: 201, body: { success: true, deviceId: expect.any(String) } });
    const again = await devices(registrar, { method: "POST", resource: "/devices", identityId: bob, body: { platform: "ios", token: IPHONE } });
    expect(again.body.deviceId).toBe(ios.body.deviceId);
    const android = await devices(registrar, { method: "POST", resource: "/devices", identityId: bob, body: { platform: "android", token: PIXEL } });
    expect(android.statusCode).toBe(201);
    expect(sns.endpoints().size).toBe(2);
    const listed = await devices(registrar, { method: "GET", resource: "/devices", identityId: bob });
    expect(listed.body.devices.map((d: { platform: string }) => d.platform).sort()).toEqual(["android", "ios"]);

    const before = sns.publishes().length;
    const result = await sender.invoke(
        asyncEvent(configured, alice, { recipientId: bob, title: "New comment", message: "Alice commented on your note", data: { noteId: "n-42" } }),
    );
    expect(result).toMatchObject({ recipientId: bob, endpoints: 2, delivered: 2, removedDevices: [] });
    const sent = sns.publishes().slice(before);
    const apns = sent.find((p) => p.delivery?.platform === "APNS_SANDBOX");
    const fcm = sent.find((p) => p.delivery?.platform === "GCM");
    const topic = sent.find((p) => p.targetType === "topic");
    expect(apns?.delivery?.token).toBe(IPHONE);
    expect(JSON.parse(apns?.delivery?.payload ?? "")).toEqual({
        aps: { alert: { title: "New comment", body: "Alice commented on your note" }, sound: "default" },
        from: alice,
        data: { noteId: "n-42" },
    });
    expect(fcm?.delivery?.token).toBe(PIXEL);
    expect(JSON.parse(fcm?.delivery?.payload ?? "").fcmV1Message.message).toEqual({
        notification: { title: "New comment", body: "Alice commented on your note" },
        data: { senderId: alice, noteId: "n-42" },
    });
    expect(topic?.messageAttributes.recipientId).toEqual({ DataType: "String", StringValue: bob });
    expect(JSON.parse(JSON.parse(topic?.message ?? "").default)).toMatchObject({ recipientId: bob, from: alice, message: "Alice commented on your note" });
});

test("a long message is cut to the APNs limit, never the JSON", async () => {
    const sender = await start(configured, "notifications-sender");
    const before = sns.publishes().length;
    await sender.invoke(asyncEvent(configured, alice, { recipientId: bob, message: "通知".repeat(1000) }));
    const apns = sns.publishes().slice(before).find((p) => p.delivery?.platform === "APNS_SANDBOX");
    const payload = apns?.delivery?.payload ?? "";
    expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(4096);
    expect(JSON.parse(payload).aps.alert.body).toMatch(/…$/);
});

test("a disabled endpoint is deleted with its device; a token moves to whoever registers it last", async () => {
    const registrar = await start(configured, "notifications-devices");
    const sender = await start(configured, "notifications-sender");
    const listed = await devices(registrar, { method: "GET", resource: "/devices", identityId: bob });
    const iosDevice = listed.body.devices.find((d: { platform: string }) => d.platform === "ios");
    const iosEndpoint = [...sns.endpoints()].find(([, state]) => state.token === IPHONE)?.[0] ?? "";
    sns.disableEndpoint(iosEndpoint);

    const result = await sender.invoke(asyncEvent(configured, alice, { recipientId: bob, message: "Still there?" }));
    expect(result).toMatchObject({ endpoints: 2, delivered: 1, removedDevices: [iosDevice.deviceId] });
    expect(sns.endpoints().has(iosEndpoint)).toBe(false);
    const after = await devices(registrar, { method: "GET", resource: "/devices", identityId: bob });
    expect(after.body.devices.map((d: { platform: string }) => d.platform)).toEqual(["android"]);

    // Bob's phone is handed to Alice: her registration takes the token over.
    const moved = await devices(registrar, { method: "POST", resource: "/devices", identityId: alice, body: { platform: "android", token: PIXEL } });
    expect(moved.statusCode).toBe(201);
    expect((await devices(registrar, { method: "GET", resource: "/devices", identityId: bob })).body.devices).toEqual([]);
    expect((await devices(registrar, { method: "GET", resource: "/devices", identityId: alice })).body.devices).toHaveLength(1);
});

test("a delivery that fails for now makes the invocation fail, so Lambda retries it and then keeps it", async () => {
    const sender = await start(configured, "notifications-sender");
    sns.failNextPublishes(20, "throttle");
    await expect(sender.invoke(asyncEvent(configured, bob, { recipientId: alice, message: "Retry me" }))).rejects.toThrow(
        /notification deliveries failed/,
    );
    sns.failNextPublishes(0, "throttle");
});

test("without credentials: registration answers 409 naming the config, and pushes still reach the topic", async () => {
    const registrar = await start(unconfigured, "notifications-devices");
    const sender = await start(unconfigured, "notifications-sender");
    const refused = await devices(registrar, { method: "POST", resource: "/devices", identityId: bob, body: { platform: "ios", token: IPHONE } });
    expect(refused).toMatchObject({ statusCode: 409, body: { success: false, error: { code: "Conflict" } } });
    // The message names the settings the stage config loader reads.
    expect(refused.body.error.message).toContain(`mobile-backend:${CREDENTIAL_KEYS.apnsSigningKey}`);
    const refusedAndroid = await devices(registrar, { method: "POST", resource: "/devices", identityId: bob, body: { platform: "android", token: PIXEL } });
    expect(refusedAndroid).toMatchObject({ statusCode: 409 });
    expect(refusedAndroid.body.error.message).toContain(`mobile-backend:${CREDENTIAL_KEYS.fcmServiceAccount}`);

    const before = sns.publishes().length;
    await sender.invoke(asyncEvent(unconfigured, alice, { recipientId: bob, message: "Topic only" }));
    const sent = sns.publishes().slice(before);
    expect(sent.map((p) => p.targetType)).toEqual(["topic"]);
    expect(sent[0].messageAttributes.recipientId.StringValue).toBe(bob);
});

test("bad input is refused: 400 from the devices route; the sender drops and logs an invalid event", async () => {
    const registrar = await start(configured, "notifications-devices");
    const bad = await devices(registrar, { method: "POST", resource: "/devices", identityId: bob, body: { platform: "windows", token: "x" } });
    expect(bad).toMatchObject({ statusCode: 400, body: { success: false, error: { code: "BadRequest" } } });
    const sender = await start(configured, "notifications-sender");
    const before = sns.publishes().length;
    expect(await sender.invoke(asyncEvent(configured, alice, { recipientId: "someone", message: "hi" }))).toBeNull();
    expect(sns.publishes().length).toBe(before);
    expect(sender.logs()).toMatch(/recipientId/);
});

/** Whether the function's output (which arrives through a pipe, after the invocation's answer) comes to contain `text`. */
async function logged(fn: LocalFunction, text: string): Promise<boolean> {
    for (let attempt = 0; attempt < 100; attempt++) {
        if (fn.logs().includes(text)) return true;
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return fn.logs().includes(text);
}

describe("issue 8 in the shipped code", () => {
    const carol = "us-east-1:33333333-3333-4333-8333-333333333333";
    const dave = "us-east-1:44444444-4444-4444-8444-444444444444";
    const erin = "us-east-1:55555555-5555-4555-8555-555555555555";

    test("a blocked sender's notification is dropped, the block listed and lifted through the blocks function", async () => {
        const blocks = await start(configured, "notifications-blocks");
        const sender = await start(configured, "notifications-sender");
        const put = await devices(blocks, { method: "PUT", resource: "/blocks/{identityId}", pathParameters: { identityId: dave }, identityId: carol });
        expect(put).toMatchObject({ statusCode: 200, body: { success: true, identityId: dave, blocked: true } });
        expect((await devices(blocks, { method: "GET", resource: "/blocks", identityId: carol })).body.blocked).toEqual([
            { identityId: dave, createdAt: expect.any(String) },
        ]);
        const before = sns.publishes().length;
        expect(await sender.invoke(asyncEvent(configured, dave, { recipientId: carol, message: "Hi" }))).toMatchObject({ dropped: "blocked" });
        expect(sns.publishes().length).toBe(before);

        await devices(blocks, { method: "DELETE", resource: "/blocks/{identityId}", pathParameters: { identityId: dave }, identityId: carol });
        expect(await sender.invoke(asyncEvent(configured, dave, { recipientId: carol, message: "Hi" }))).not.toHaveProperty("dropped");
        expect(sns.publishes().length).toBe(before + 1);
    });

    test("the oversized notification of reproduction 2 is dropped without a publish or a retry", async () => {
        const sender = await start(configured, "notifications-sender");
        const before = sns.publishes().length;
        const body = { recipientId: carol, message: "Hello", data: { ['"'.repeat(66_000)]: "v" } };
        expect(await sender.invoke(asyncEvent(configured, erin, body))).toBeNull();
        expect(sns.publishes().length).toBe(before);
        expect(await logged(sender, "data keys must be 1–64 characters")).toBe(true);
    });

    test("text that hides or reverses itself is dropped: a zero-width message, a right-to-left override", async () => {
        const sender = await start(configured, "notifications-sender");
        const before = sns.publishes().length;
        expect(await sender.invoke(asyncEvent(configured, erin, { recipientId: carol, message: "\u200B" }))).toBeNull();
        expect(await sender.invoke(asyncEvent(configured, erin, { recipientId: carol, title: "\u202Eevil", message: "x" }))).toBeNull();
        expect(sns.publishes().length).toBe(before);
        expect(await logged(sender, "message must contain a visible character.")).toBe(true);
        expect(await logged(sender, "title must not contain the bidirectional formatting character U+202E")).toBe(true);
    });

    test("the 11th device replaces the least recently registered, and its endpoint is deleted", async () => {
        const registrar = await start(configured, "notifications-devices");
        const owner = "us-east-1:66666666-6666-4666-8666-666666666666";
        const ids: string[] = [];
        for (let i = 0; i < 11; i++) {
            const res = await devices(registrar, { method: "POST", resource: "/devices", identityId: owner, body: { platform: "android", token: `cap-token-${i}` } });
            expect(res.statusCode).toBe(201);
            ids.push(res.body.deviceId);
        }
        const listed = (await devices(registrar, { method: "GET", resource: "/devices", identityId: owner })).body.devices;
        expect(listed.map((d: { deviceId: string }) => d.deviceId).sort()).toEqual(ids.slice(1).sort());
        expect([...sns.endpoints().keys()].some((arn) => arn.endsWith(`/${ids[0]}`))).toBe(false);
    });

    test("writes over limits.writesPerMinute answer 429 with Retry-After", async () => {
        const blocks = await start(configured, "notifications-blocks");
        const writer = "us-east-1:77777777-7777-4777-8777-777777777777";
        // Pulumi.dev.yaml: 60 a minute. Up to 121 writes, so that a minute boundary cannot hide the limit.
        let refused: Awaited<ReturnType<typeof devices>> | undefined;
        for (let i = 0; i < 121 && refused === undefined; i++) {
            const res = await devices(blocks, { method: "PUT", resource: "/blocks/{identityId}", pathParameters: { identityId: dave }, identityId: writer });
            if (res.statusCode === 429) refused = res;
            else expect(res.statusCode).toBe(200);
        }
        expect(refused).toMatchObject({ statusCode: 429, body: { success: false, error: { code: "TooManyRequests" } } });
        expect(Number(refused?.headers?.["retry-after"])).toBeGreaterThanOrEqual(1);
    });
});
