/**
 * Tests of the device-registration routes (`functions/devices.ts`), run in-process against a real
 * DynamoDB-compatible server (dynalite) and an in-test fake of SNS mobile push (aws-sdk-client-mock)
 * that keeps endpoint state the way SNS does. Nothing here talks to AWS.
 */
import { randomUUID } from "node:crypto";
import {
    CreatePlatformEndpointCommand,
    DeleteEndpointCommand,
    GetEndpointAttributesCommand,
    InvalidParameterException,
    NotFoundException,
    SNSClient,
    SetEndpointAttributesCommand,
    ThrottledException,
    type CreatePlatformEndpointCommandInput,
    type DeleteEndpointCommandInput,
    type GetEndpointAttributesCommandInput,
    type SetEndpointAttributesCommandInput,
} from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import type { APIGatewayProxyResult } from "aws-lambda";
import { handleDevicesRequest, type Device, type DevicesSettings } from "../functions/devices";
import {
    DEVICES_BY_ENDPOINT,
    NOTIFICATION_LIMITS,
    PLATFORM_CONFIG_HINT,
    type DeviceItem,
    type PushPlatform,
} from "../functions/notification-schema";
import { apiEvent, type ApiCall } from "./support/events";
import { LIMITS_TABLE_KEYS } from "../infra/data";
import { DEVICES_TABLE_KEYS } from "../infra/notifications";
import { freshTable, startDynamo, type LocalDynamo } from "./support/dynamodb";

// ---------------------------------------------------------------------------------------------
// Local DynamoDB: the devices table with its endpoint index
// ---------------------------------------------------------------------------------------------

let dynamo: LocalDynamo;
let db: DynamoDBDocumentClient;

beforeAll(async () => {
    dynamo = await startDynamo();
    db = DynamoDBDocumentClient.from(dynamo.client);
});

afterAll(async () => {
    await dynamo?.close();
});

/** A devices table, exactly as `infra/notifications.ts` declares it, for the enclosing `describe` block. */
const devicesTable = () => freshTable(() => dynamo, DEVICES_TABLE_KEYS);

async function storedDevices(tableName: string): Promise<DeviceItem[]> {
    const scan = await db.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
    return (scan.Items ?? []) as DeviceItem[];
}

async function storedDevice(tableName: string, ownerId: string, deviceId: string): Promise<DeviceItem | undefined> {
    const { Item } = await db.send(
        new GetCommand({ TableName: tableName, Key: { ownerId, deviceId }, ConsistentRead: true }),
    );
    return Item as DeviceItem | undefined;
}

// ---------------------------------------------------------------------------------------------
// A fake of SNS mobile push
// ---------------------------------------------------------------------------------------------

const ACCOUNT = "123456789012";
const IOS_APP = `arn:aws:sns:us-east-1:${ACCOUNT}:app/APNS/mobile-backend-dev-ios`;
const ANDROID_APP = `arn:aws:sns:us-east-1:${ACCOUNT}:app/GCM/mobile-backend-dev-android`;

interface FakeEndpoint {
    arn: string;
    applicationArn: string;
    /** The token the endpoint delivers to now (the platform may rewrite it, e.g. FCM canonical ids). */
    token: string;
    enabled: boolean;
    customUserData?: string;
}

type SnsCommandName = "CreatePlatformEndpoint" | "GetEndpointAttributes" | "SetEndpointAttributes" | "DeleteEndpoint";

/**
 * SNS as the devices function sees it: one endpoint per (application, token); creating it again
 * returns the same ARN unless its attributes differ; endpoints can be disabled, rewritten or deleted.
 */
class FakeSns {
    readonly endpoints = new Map<string, FakeEndpoint>();
    /** (application, token) → endpoint ARN; a token SNS has seen keeps finding its endpoint. */
    private readonly byToken = new Map<string, string>();
    private readonly failures = new Map<SnsCommandName, Error[]>();
    readonly applications = new Set<string>([IOS_APP, ANDROID_APP]);
    /** Runs before GetEndpointAttributes answers (to delete the endpoint in between, say). */
    beforeGet: ((arn: string) => void) | undefined;

    constructor(mock: AwsClientStub<SNSClient>) {
        mock.on(CreatePlatformEndpointCommand).callsFake((input: CreatePlatformEndpointCommandInput) =>
            this.run("CreatePlatformEndpoint", () => this.create(input)),
        );
        mock.on(GetEndpointAttributesCommand).callsFake((input: GetEndpointAttributesCommandInput) =>
            this.run("GetEndpointAttributes", () => this.getAttributes(input)),
        );
        mock.on(SetEndpointAttributesCommand).callsFake((input: SetEndpointAttributesCommandInput) =>
            this.run("SetEndpointAttributes", () => this.setAttributes(input)),
        );
        mock.on(DeleteEndpointCommand).callsFake((input: DeleteEndpointCommandInput) =>
            this.run("DeleteEndpoint", () => this.deleteEndpoint(input)),
        );
    }

    /** The next call of `command` fails with `error` (once per call of this method). */
    fail(command: SnsCommandName, error: Error): void {
        this.failures.set(command, [...(this.failures.get(command) ?? []), error]);
    }

    /** An endpoint made outside this API (for instance by an older app version, with CustomUserData). */
    seed(applicationArn: string, token: string, extra: Partial<FakeEndpoint> = {}): FakeEndpoint {
        const endpoint: FakeEndpoint = {
            arn: endpointArnFor(applicationArn),
            applicationArn,
            token,
            enabled: true,
            ...extra,
        };
        this.endpoints.set(endpoint.arn, endpoint);
        this.byToken.set(`${applicationArn} ${token}`, endpoint.arn);
        return endpoint;
    }

    /** What SNS does when APNs/FCM report the token as no longer valid. */
    disable(arn: string): void {
        this.endpoint(arn).enabled = false;
    }

    /** What SNS does when FCM answers a publish with a canonical registration id. */
    rewriteToken(arn: string, token: string): void {
        const endpoint = this.endpoint(arn);
        endpoint.token = token;
        this.byToken.set(`${endpoint.applicationArn} ${token}`, arn);
    }

    /** Deletes an endpoint behind the function's back (another tool, the console). */
    remove(arn: string): void {
        this.endpoints.delete(arn);
    }

    endpoint(arn: string): FakeEndpoint {
        const endpoint = this.endpoints.get(arn);
        if (endpoint === undefined) throw new Error(`the fake has no endpoint ${arn}`);
        return endpoint;
    }

    private async run<T>(command: SnsCommandName, action: () => T): Promise<T> {
        const error = this.failures.get(command)?.shift();
        if (error !== undefined) throw error;
        return action();
    }

    private create(input: CreatePlatformEndpointCommandInput): { EndpointArn: string } {
        const applicationArn = input.PlatformApplicationArn ?? "";
        const token = input.Token ?? "";
        if (!this.applications.has(applicationArn)) {
            throw new InvalidParameterException({
                message: "Invalid parameter: PlatformApplicationArn Reason: No such platform application",
                $metadata: { httpStatusCode: 400 },
            });
        }
        if (applicationArn === IOS_APP && !/^[0-9a-fA-F]{1,400}$/.test(token)) {
            throw new InvalidParameterException({
                message: "Invalid parameter: Token Reason: iOS device tokens must be no more than 400 hexadecimal characters",
                $metadata: { httpStatusCode: 400 },
            });
        }
        const known = this.byToken.get(`${applicationArn} ${token}`);
        const existing = known === undefined ? undefined : this.endpoints.get(known);
        if (existing !== undefined) {
            if (existing.customUserData !== input.CustomUserData || input.Attributes !== undefined) {
                throw new InvalidParameterException({
                    message:
                        `Invalid parameter: Token Reason: Endpoint ${existing.arn} already exists ` +
                        "with the same Token, but different attributes.",
                    $metadata: { httpStatusCode: 400 },
                });
            }
            return { EndpointArn: existing.arn };
        }
        const endpoint = this.seed(applicationArn, token, { customUserData: input.CustomUserData });
        return { EndpointArn: endpoint.arn };
    }

    private getAttributes(input: GetEndpointAttributesCommandInput): { Attributes: Record<string, string> } {
        const arn = input.EndpointArn ?? "";
        this.beforeGet?.(arn);
        const endpoint = this.endpoints.get(arn);
        if (endpoint === undefined) throw notFound();
        return {
            Attributes: {
                Token: endpoint.token,
                Enabled: String(endpoint.enabled),
                ...(endpoint.customUserData === undefined ? {} : { CustomUserData: endpoint.customUserData }),
            },
        };
    }

    private setAttributes(input: SetEndpointAttributesCommandInput): Record<string, never> {
        const endpoint = this.endpoints.get(input.EndpointArn ?? "");
        if (endpoint === undefined) throw notFound();
        const attributes = input.Attributes ?? {};
        if (attributes.Token !== undefined) {
            endpoint.token = attributes.Token;
            this.byToken.set(`${endpoint.applicationArn} ${attributes.Token}`, endpoint.arn);
        }
        if (attributes.Enabled !== undefined) endpoint.enabled = attributes.Enabled === "true";
        return {};
    }

    private deleteEndpoint(input: DeleteEndpointCommandInput): Record<string, never> {
        // Idempotent, as in SNS: deleting a missing endpoint succeeds.
        this.endpoints.delete(input.EndpointArn ?? "");
        return {};
    }
}

function endpointArnFor(applicationArn: string): string {
    return `${applicationArn.replace(":app/", ":endpoint/")}/${randomUUID()}`;
}

function notFound(): NotFoundException {
    return new NotFoundException({ message: "Endpoint does not exist", $metadata: { httpStatusCode: 404 } });
}

/** The deviceId the API derives from an endpoint ARN: its last path segment. */
function uuidOf(endpointArn: string): string {
    return endpointArn.split("/").pop() ?? "";
}

const sns = new SNSClient({
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDLOCALTEST", secretAccessKey: "local-test-secret" },
});
let snsMock: AwsClientStub<SNSClient>;
let fake: FakeSns;

beforeEach(() => {
    snsMock = mockClient(SNSClient);
    fake = new FakeSns(snsMock);
});

afterEach(() => {
    snsMock.restore();
});

function snsCalls<TInput extends object>(command: new (input: TInput) => unknown): TInput[] {
    return snsMock
        .calls()
        .filter((call) => call.args[0] instanceof command)
        .map((call) => call.args[0].input as TInput);
}

// ---------------------------------------------------------------------------------------------
// Callers, clocks, tokens
// ---------------------------------------------------------------------------------------------

const T0 = Date.parse("2024-05-01T12:00:00.000Z");

function tick(i: number): string {
    return new Date(T0 + i * 60_000).toISOString();
}

let userCount = 0;

function newUser(): string {
    userCount += 1;
    const n = userCount.toString(16).padStart(4, "0");
    return `us-east-1:${n}aaaa-2222-4bbb-8ccc-${n}dddddddd`;
}

let tokenCount = 0;

/** An APNs device token: 64 hex characters. */
function iosToken(): string {
    tokenCount += 1;
    return tokenCount.toString(16).padStart(8, "0").repeat(8);
}

/** An FCM registration token: `<instance id>:<base64url>`. */
function androidToken(): string {
    tokenCount += 1;
    return `c${tokenCount.toString(36)}Xy9Qk2_:APA91bH-${"Zq7_k3".repeat(25)}${tokenCount}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Calls the handler as one user; its clock advances a minute on each read, from {@link T0}. */
class Caller {
    private ticks = 0;

    constructor(
        readonly identity: string | null,
        readonly tableName: string,
        private readonly applications: DevicesSettings["applications"] = {
            ios: { arn: IOS_APP, sandbox: true },
            android: { arn: ANDROID_APP },
        },
        private readonly extra: Partial<DevicesSettings> = {},
    ) {}

    send(call: Omit<ApiCall, "identityId">): Promise<APIGatewayProxyResult> {
        const settings: DevicesSettings = {
            devicesTable: this.tableName,
            topicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:mobile-backend-dev-notifications`,
            applications: this.applications,
            now: () => new Date(T0 + this.ticks++ * 60_000),
            ...this.extra,
        };
        return handleDevicesRequest(apiEvent({ ...call, identityId: this.identity }), { db, sns }, settings);
    }

    register(body: unknown): Promise<APIGatewayProxyResult> {
        return this.send({ method: "POST", resource: "/devices", body });
    }

    list(): Promise<APIGatewayProxyResult> {
        return this.send({ method: "GET", resource: "/devices" });
    }

    remove(deviceId: string): Promise<APIGatewayProxyResult> {
        return this.send({ method: "DELETE", resource: "/devices/{deviceId}", pathParameters: { deviceId } });
    }
}

// ---------------------------------------------------------------------------------------------
// Response checks
// ---------------------------------------------------------------------------------------------

interface ErrorBody {
    success: false;
    error: { code: string; message: string };
}

function parse<T>(res: APIGatewayProxyResult): T {
    expect(res.headers?.["content-type"]).toBe("application/json; charset=utf-8");
    return JSON.parse(res.body) as T;
}

/** Checks a 201 registration answer; returns its deviceId. */
function expectRegistered(res: APIGatewayProxyResult, platform: PushPlatform): string {
    const body = parse<{ success: boolean; deviceId: string; platform: string }>(res);
    expect({ statusCode: res.statusCode, success: body.success, platform: body.platform }).toEqual({
        statusCode: 201,
        success: true,
        platform,
    });
    expect(Object.keys(body).sort()).toEqual(["deviceId", "platform", "success"]);
    expect(body.deviceId).toMatch(UUID);
    return body.deviceId;
}

function expectDevices(res: APIGatewayProxyResult): Device[] {
    const body = parse<{ success: boolean; devices: Device[] }>(res);
    expect({ statusCode: res.statusCode, success: body.success }).toEqual({ statusCode: 200, success: true });
    expect(Object.keys(body).sort()).toEqual(["devices", "success"]);
    for (const device of body.devices) {
        expect(Object.keys(device).sort()).toEqual(["createdAt", "deviceId", "platform", "updatedAt"]);
    }
    return body.devices;
}

function expectDeleted(res: APIGatewayProxyResult, deviceId: string): void {
    expect({ statusCode: res.statusCode, body: parse(res) }).toEqual({
        statusCode: 200,
        body: { success: true, deviceId },
    });
}

/** Checks an error response's status, code and shape; returns its message. */
function expectError(res: APIGatewayProxyResult, statusCode: number, code: string): string {
    const body = parse<ErrorBody>(res);
    expect({ statusCode: res.statusCode, success: body.success, code: body.error?.code }).toEqual({
        statusCode,
        success: false,
        code,
    });
    expect(Object.keys(body).sort()).toEqual(["error", "success"]);
    expect(Object.keys(body.error).sort()).toEqual(["code", "message"]);
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(res.body).not.toMatch(/\n\s*at |\bat .+\(.*:\d+:\d+\)|Exception|stack|arn:aws/);
    return body.error.message;
}

// =============================================================================================
// POST /devices
// =============================================================================================

describe("POST /devices", () => {
    const table = devicesTable();

    it("registers an iOS device: an endpoint in the APNs application and the caller's record", async () => {
        const alice = new Caller(newUser(), table.name);
        const token = iosToken();
        const deviceId = expectRegistered(await alice.register({ platform: "ios", token }), "ios");

        expect(snsCalls(CreatePlatformEndpointCommand)).toEqual([{ PlatformApplicationArn: IOS_APP, Token: token }]);
        const [endpoint] = [...fake.endpoints.values()];
        expect(fake.endpoints.size).toBe(1);
        expect(endpoint).toMatchObject({ applicationArn: IOS_APP, token, enabled: true });
        expect(endpoint.arn).toBe(`arn:aws:sns:us-east-1:${ACCOUNT}:endpoint/APNS/mobile-backend-dev-ios/${deviceId}`);
        expect(snsCalls(SetEndpointAttributesCommand)).toEqual([]);

        expect(await storedDevice(table.name, alice.identity ?? "", deviceId)).toEqual({
            ownerId: alice.identity,
            deviceId,
            platform: "ios",
            token,
            endpointArn: endpoint.arn,
            createdAt: tick(0),
            updatedAt: tick(0),
        });
    });

    it("registers an Android device in the FCM application", async () => {
        const alice = new Caller(newUser(), table.name);
        const token = androidToken();
        const deviceId = expectRegistered(await alice.register({ platform: "android", token }), "android");

        expect(snsCalls(CreatePlatformEndpointCommand)).toEqual([{ PlatformApplicationArn: ANDROID_APP, Token: token }]);
        const endpointArn = `arn:aws:sns:us-east-1:${ACCOUNT}:endpoint/GCM/mobile-backend-dev-android/${deviceId}`;
        expect(fake.endpoint(endpointArn)).toMatchObject({ token, enabled: true });
        expect(await storedDevice(table.name, alice.identity ?? "", deviceId)).toMatchObject({
            platform: "android",
            token,
            endpointArn,
        });
    });

    it("answers a repeated registration with the same deviceId, one record and the first createdAt", async () => {
        const alice = new Caller(newUser(), table.name);
        const token = iosToken();
        const first = expectRegistered(await alice.register({ platform: "ios", token }), "ios");
        const again = expectRegistered(await alice.register({ platform: "ios", token }), "ios");
        const third = expectRegistered(await alice.send({ method: "POST", resource: "/devices", body: `{"token":"${token}","platform":"ios"}` }), "ios");

        expect(again).toBe(first);
        expect(third).toBe(first);
        expect(fake.endpoints.size).toBe(1);
        expect(snsCalls(SetEndpointAttributesCommand)).toEqual([]);
        const mine = (await storedDevices(table.name)).filter((d) => d.ownerId === alice.identity);
        expect(mine).toHaveLength(1);
        expect(mine[0]).toMatchObject({ deviceId: first, createdAt: tick(0), updatedAt: tick(2) });
        expect(expectDevices(await alice.list())).toEqual([
            { deviceId: first, platform: "ios", createdAt: tick(0), updatedAt: tick(2) },
        ]);
    });

    it("keeps one device per token: two tokens are two devices", async () => {
        const alice = new Caller(newUser(), table.name);
        const phone = expectRegistered(await alice.register({ platform: "ios", token: iosToken() }), "ios");
        const tablet = expectRegistered(await alice.register({ platform: "android", token: androidToken() }), "android");
        expect(phone).not.toBe(tablet);
        expect(expectDevices(await alice.list()).map((d) => d.deviceId).sort()).toEqual([phone, tablet].sort());
    });

    it("re-enables an endpoint SNS disabled", async () => {
        const alice = new Caller(newUser(), table.name);
        const token = iosToken();
        const deviceId = expectRegistered(await alice.register({ platform: "ios", token }), "ios");
        const endpointArn = [...fake.endpoints.keys()][0];
        fake.disable(endpointArn);

        expect(expectRegistered(await alice.register({ platform: "ios", token }), "ios")).toBe(deviceId);
        expect(snsCalls(SetEndpointAttributesCommand)).toEqual([
            { EndpointArn: endpointArn, Attributes: { Token: token, Enabled: "true" } },
        ]);
        expect(fake.endpoint(endpointArn).enabled).toBe(true);
        expect(fake.endpoints.size).toBe(1);
    });

    it("puts the caller's token back on an endpoint whose token changed", async () => {
        const alice = new Caller(newUser(), table.name);
        const token = androidToken();
        const deviceId = expectRegistered(await alice.register({ platform: "android", token }), "android");
        const endpointArn = [...fake.endpoints.keys()][0];
        fake.rewriteToken(endpointArn, "canonical-registration-id");

        expect(expectRegistered(await alice.register({ platform: "android", token }), "android")).toBe(deviceId);
        expect(snsCalls(SetEndpointAttributesCommand)).toEqual([
            { EndpointArn: endpointArn, Attributes: { Token: token, Enabled: "true" } },
        ]);
        expect(fake.endpoint(endpointArn)).toMatchObject({ token, enabled: true });
        expect(await storedDevice(table.name, alice.identity ?? "", deviceId)).toMatchObject({ token, endpointArn });
    });

    it("uses the endpoint SNS names when it already exists with the same token but different attributes", async () => {
        const alice = new Caller(newUser(), table.name);
        const token = iosToken();
        const legacy = fake.seed(IOS_APP, token, { customUserData: "legacy-app-user-42", enabled: false });

        const deviceId = expectRegistered(await alice.register({ platform: "ios", token }), "ios");
        expect(deviceId).toBe(uuidOf(legacy.arn));
        expect(snsCalls(CreatePlatformEndpointCommand)).toHaveLength(1);
        expect(snsCalls(GetEndpointAttributesCommand)).toEqual([{ EndpointArn: legacy.arn }]);
        expect(snsCalls(SetEndpointAttributesCommand)).toEqual([
            { EndpointArn: legacy.arn, Attributes: { Token: token, Enabled: "true" } },
        ]);
        expect(fake.endpoints.size).toBe(1);
        expect(await storedDevice(table.name, alice.identity ?? "", deviceId)).toMatchObject({
            endpointArn: legacy.arn,
            token,
        });
    });

    it("reads the endpoint ARN from the conflict message in other partitions too", async () => {
        const alice = new Caller(newUser(), table.name);
        const token = iosToken();
        const arn = `arn:aws-cn:sns:cn-north-1:${ACCOUNT}:endpoint/APNS/mobile-backend-dev-ios/${randomUUID()}`;
        snsMock.on(CreatePlatformEndpointCommand).rejects(
            new InvalidParameterException({
                message: `Invalid parameter: Token Reason: Endpoint ${arn} already exists with the same Token, but different attributes.`,
                $metadata: {},
            }),
        );
        snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: { Token: token, Enabled: "true" } });
        expect(expectRegistered(await alice.register({ platform: "ios", token }), "ios")).toBe(uuidOf(arn));
        expect(snsCalls(GetEndpointAttributesCommand)).toEqual([{ EndpointArn: arn }]);
    });

    it("creates the endpoint again once when it was deleted between create and read", async () => {
        const alice = new Caller(newUser(), table.name);
        const token = iosToken();
        const first = expectRegistered(await alice.register({ platform: "ios", token }), "ios");
        const oldArn = [...fake.endpoints.keys()][0];
        let deletions = 0;
        fake.beforeGet = (arn) => {
            if (arn === oldArn && deletions++ === 0) fake.remove(arn);
        };

        const second = expectRegistered(await alice.register({ platform: "ios", token }), "ios");
        expect(second).not.toBe(first);
        expect(snsCalls(CreatePlatformEndpointCommand)).toHaveLength(3);
        expect(fake.endpoints.size).toBe(1);
        const newArn = [...fake.endpoints.keys()][0];
        expect(uuidOf(newArn)).toBe(second);
        expect(await storedDevice(table.name, alice.identity ?? "", second)).toMatchObject({ endpointArn: newArn });
    });

    it("answers 500 when the endpoint is not found twice in a row, and stores nothing", async () => {
        const alice = new Caller(newUser(), table.name);
        const consoleError = jest.spyOn(console, "error").mockImplementation(() => undefined);
        try {
            fake.beforeGet = (arn) => fake.remove(arn);
            const res = await alice.register({ platform: "ios", token: iosToken() });
            expectError(res, 500, "InternalError");
            expect(snsCalls(CreatePlatformEndpointCommand)).toHaveLength(2);
            expect(consoleError).toHaveBeenCalledTimes(1);
            expect(expectDevices(await alice.list())).toEqual([]);
        } finally {
            consoleError.mockRestore();
        }
    });

    it("moves a token to the identity that registers it last, keeping the endpoint", async () => {
        const alice = new Caller(newUser(), table.name);
        const bob = new Caller(newUser(), table.name);
        const shared = iosToken();
        const alicesOther = expectRegistered(await alice.register({ platform: "android", token: androidToken() }), "android");
        const deviceId = expectRegistered(await alice.register({ platform: "ios", token: shared }), "ios");
        const endpointArn = fake.endpoints.get(
            [...fake.endpoints.keys()].find((arn) => uuidOf(arn) === deviceId) ?? "",
        )?.arn;

        expect(expectRegistered(await bob.register({ platform: "ios", token: shared }), "ios")).toBe(deviceId);

        expect(await storedDevice(table.name, alice.identity ?? "", deviceId)).toBeUndefined();
        expect(await storedDevice(table.name, bob.identity ?? "", deviceId)).toMatchObject({
            ownerId: bob.identity,
            token: shared,
            endpointArn,
        });
        expect(snsCalls(DeleteEndpointCommand)).toEqual([]);
        expect(fake.endpoint(endpointArn ?? "")).toMatchObject({ token: shared, enabled: true });
        // Alice keeps her other device; the index now names only Bob for the endpoint.
        expect(expectDevices(await alice.list()).map((d) => d.deviceId)).toEqual([alicesOther]);
        expect(expectDevices(await bob.list()).map((d) => d.deviceId)).toEqual([deviceId]);
        const holders = await db.send(
            new QueryCommand({
                TableName: table.name,
                IndexName: DEVICES_BY_ENDPOINT,
                KeyConditionExpression: "endpointArn = :arn",
                ExpressionAttributeValues: { ":arn": endpointArn },
            }),
        );
        expect((holders.Items ?? []).map((item) => item.ownerId)).toEqual([bob.identity]);

        // And back again: Alice gets it, Bob loses it, the record is new (createdAt of this registration).
        expect(expectRegistered(await alice.register({ platform: "ios", token: shared }), "ios")).toBe(deviceId);
        expect(await storedDevice(table.name, bob.identity ?? "", deviceId)).toBeUndefined();
        expect(await storedDevice(table.name, alice.identity ?? "", deviceId)).toMatchObject({ createdAt: tick(2) });
    });

    it.each<[PushPlatform, () => string]>([
        ["ios", iosToken],
        ["android", androidToken],
    ])("answers 409 with the configuration hint when %s has no platform application", async (platform, token) => {
        const alice = new Caller(newUser(), table.name, {});
        const message = expectError(await alice.register({ platform, token: token() }), 409, "Conflict");
        expect(message).toBe(PLATFORM_CONFIG_HINT[platform]);
        expect(snsMock.calls()).toHaveLength(0);
        expect(expectDevices(await alice.list())).toEqual([]);
    });

    it("answers 409 for only the platform that is missing", async () => {
        const iosOnly = new Caller(newUser(), table.name, { ios: { arn: IOS_APP, sandbox: false } });
        expect(expectError(await iosOnly.register({ platform: "android", token: androidToken() }), 409, "Conflict")).toBe(
            PLATFORM_CONFIG_HINT.android,
        );
        expectRegistered(await iosOnly.register({ platform: "ios", token: iosToken() }), "ios");
        const androidOnly = new Caller(newUser(), table.name, { android: { arn: ANDROID_APP } });
        expect(expectError(await androidOnly.register({ platform: "ios", token: iosToken() }), 409, "Conflict")).toBe(
            PLATFORM_CONFIG_HINT.ios,
        );
        expectRegistered(await androidOnly.register({ platform: "android", token: androidToken() }), "android");
    });

    it("validates the body before looking at the platform's configuration", async () => {
        const alice = new Caller(newUser(), table.name, {});
        expectError(await alice.register({ platform: "ios", token: "" }), 400, "BadRequest");
    });

    it("answers 400 when SNS refuses the token for the platform, and stores nothing", async () => {
        const alice = new Caller(newUser(), table.name);
        // Letters APNs tokens never contain: the schema lets them through, SNS does not.
        const res = await alice.register({ platform: "ios", token: "not-an-apns-token" });
        expect(expectError(res, 400, "BadRequest")).toBe("token is not a valid ios device token.");
        expect(fake.endpoints.size).toBe(0);
        expect(expectDevices(await alice.list())).toEqual([]);
    });
});

// =============================================================================================
// GET /devices
// =============================================================================================

describe("GET /devices", () => {
    const table = devicesTable();

    it("lists the caller's devices only, without tokens or endpoint ARNs", async () => {
        const alice = new Caller(newUser(), table.name);
        const bob = new Caller(newUser(), table.name);
        const aliceIos = expectRegistered(await alice.register({ platform: "ios", token: iosToken() }), "ios");
        const bobs = expectRegistered(await bob.register({ platform: "ios", token: iosToken() }), "ios");
        const aliceAndroid = expectRegistered(await alice.register({ platform: "android", token: androidToken() }), "android");

        const devices = expectDevices(await alice.list());
        expect([...devices].sort((a, b) => a.createdAt.localeCompare(b.createdAt))).toEqual([
            { deviceId: aliceIos, platform: "ios", createdAt: tick(0), updatedAt: tick(0) },
            { deviceId: aliceAndroid, platform: "android", createdAt: tick(1), updatedAt: tick(1) },
        ]);
        const res = await alice.list();
        expect(res.body).not.toContain("arn:aws");
        expect(res.body).not.toContain(bobs);
        expect(res.body).not.toContain("token");
        expect(expectDevices(await bob.list()).map((d) => d.deviceId)).toEqual([bobs]);
    });

    it("answers an empty list to a caller with no devices", async () => {
        const carol = new Caller(newUser(), table.name);
        expect(expectDevices(await carol.list())).toEqual([]);
        expect(snsMock.calls()).toHaveLength(0);
    });

    it("lists all of a caller's many devices", async () => {
        const dave = new Caller(newUser(), table.name, undefined, { maxDevicesPerIdentity: 30 });
        const ids: string[] = [];
        for (let i = 0; i < 30; i++) {
            ids.push(expectRegistered(await dave.register({ platform: "android", token: androidToken() }), "android"));
        }
        expect(expectDevices(await dave.list()).map((d) => d.deviceId).sort()).toEqual(ids.sort());
    });
});

// =============================================================================================
// DELETE /devices/{deviceId}
// =============================================================================================

describe("DELETE /devices/{deviceId}", () => {
    const table = devicesTable();

    it("deletes the endpoint and the record, and answers the same to a repeat", async () => {
        const alice = new Caller(newUser(), table.name);
        const deviceId = expectRegistered(await alice.register({ platform: "ios", token: iosToken() }), "ios");
        const endpointArn = [...fake.endpoints.keys()][0];

        expectDeleted(await alice.remove(deviceId), deviceId);
        expect(snsCalls(DeleteEndpointCommand)).toEqual([{ EndpointArn: endpointArn }]);
        expect(fake.endpoints.size).toBe(0);
        expect(await storedDevice(table.name, alice.identity ?? "", deviceId)).toBeUndefined();
        expect(expectDevices(await alice.list())).toEqual([]);

        expectDeleted(await alice.remove(deviceId), deviceId);
        expect(snsCalls(DeleteEndpointCommand)).toHaveLength(1);
    });

    it("answers 200 for a deviceId that never existed, touching nothing", async () => {
        const alice = new Caller(newUser(), table.name);
        const deviceId = randomUUID();
        expectDeleted(await alice.remove(deviceId), deviceId);
        expect(snsMock.calls()).toHaveLength(0);
    });

    it("leaves another user's device alone and answers as if it did not exist", async () => {
        const alice = new Caller(newUser(), table.name);
        const bob = new Caller(newUser(), table.name);
        const token = iosToken();
        const deviceId = expectRegistered(await bob.register({ platform: "ios", token }), "ios");
        const endpointArn = [...fake.endpoints.keys()][0];
        const before = await storedDevice(table.name, bob.identity ?? "", deviceId);

        const res = await alice.remove(deviceId);
        expectDeleted(res, deviceId);
        expect(res.body).toBe(JSON.stringify({ success: true, deviceId }));
        expect(snsCalls(DeleteEndpointCommand)).toEqual([]);
        expect(fake.endpoint(endpointArn)).toMatchObject({ token, enabled: true });
        expect(await storedDevice(table.name, bob.identity ?? "", deviceId)).toEqual(before);
        expect(expectDevices(await bob.list()).map((d) => d.deviceId)).toEqual([deviceId]);
    });

    it("accepts a deviceId registered again after deletion", async () => {
        const alice = new Caller(newUser(), table.name);
        const token = androidToken();
        const first = expectRegistered(await alice.register({ platform: "android", token }), "android");
        expectDeleted(await alice.remove(first), first);
        const second = expectRegistered(await alice.register({ platform: "android", token }), "android");
        expect(second).not.toBe(first); // SNS made a new endpoint for the token
        expect(expectDevices(await alice.list()).map((d) => d.deviceId)).toEqual([second]);
    });

    it.each<[string, string]>([
        ["empty", ""],
        ["with a space", "abc def"],
        ["with an underscore", "abc_def"],
        ["with a slash", "abc/def"],
        ["non-ASCII", "gerät"],
        ["65 characters", "a".repeat(65)],
    ])("answers 400 to a deviceId that is %s", async (_what, deviceId) => {
        const alice = new Caller(newUser(), table.name);
        const message = expectError(await alice.remove(deviceId), 400, "BadRequest");
        expect(message).toMatch(/^deviceId /);
        expect(snsMock.calls()).toHaveLength(0);
    });

    it("answers 400 when the path parameter is missing", async () => {
        const alice = new Caller(newUser(), table.name);
        const res = await alice.send({ method: "DELETE", resource: "/devices/{deviceId}" });
        expect(expectError(res, 400, "BadRequest")).toBe("deviceId must not be empty.");
    });

    it("accepts a 64-character deviceId", async () => {
        const alice = new Caller(newUser(), table.name);
        expectDeleted(await alice.remove("A-".repeat(32)), "A-".repeat(32));
    });
});

// =============================================================================================
// 400 Bad Request, 413 Payload Too Large
// =============================================================================================

describe("request validation", () => {
    const table = devicesTable();

    it.each<[string, unknown, string]>([
        ["an unknown platform", { platform: "windows", token: "abc" }, 'platform must be one of "ios", "android".'],
        ["an upper-case platform", { platform: "iOS", token: "abc" }, 'platform must be one of "ios", "android".'],
        ["a platform that is not a string", { platform: 1, token: "abc" }, "platform must be a string, got an integer."],
        ["no platform", { token: "abc" }, "platform is required."],
        ["no token", { platform: "ios" }, "token is required."],
        ["an empty token", { platform: "ios", token: "" }, "token must not be empty."],
        [
            "a token that is too long",
            { platform: "android", token: "a".repeat(NOTIFICATION_LIMITS.tokenLength + 1) },
            `token must be at most ${NOTIFICATION_LIMITS.tokenLength} characters, got ${NOTIFICATION_LIMITS.tokenLength + 1}.`,
        ],
        [
            "a token with a space",
            { platform: "ios", token: "abc def" },
            "token must be the device token the platform issued (letters, digits and : _ . -).",
        ],
        [
            "a token with a slash",
            { platform: "android", token: "abc/def" },
            "token must be the device token the platform issued (letters, digits and : _ . -).",
        ],
        [
            "a token with a newline at the end",
            { platform: "ios", token: "abcdef\n" },
            "token must be the device token the platform issued (letters, digits and : _ . -).",
        ],
        ["a token that is a number", { platform: "ios", token: 1234 }, "token must be a string, got an integer."],
        ["an unknown field", { platform: "ios", token: "abc", ownerId: "us-east-1:someone-else" }, "ownerId is not a known field."],
        ["an endpointArn field", { platform: "ios", token: "abc", endpointArn: "arn" }, "endpointArn is not a known field."],
        ["an array", [{ platform: "ios", token: "abc" }], "The request body must be a JSON object."],
        ["malformed JSON", '{"platform": "ios", "token": ', "The request body is not valid JSON."],
        ["JSON null", "null", "The request body must be a JSON object."],
        ["an empty body", "", "The request body must be a JSON object."],
    ])("answers 400 to a registration with %s, touching nothing", async (_what, body, message) => {
        const alice = new Caller(newUser(), table.name);
        const res = await alice.send({ method: "POST", resource: "/devices", body });
        expect(expectError(res, 400, "BadRequest")).toBe(message);
        expect(snsMock.calls()).toHaveLength(0);
        expect(expectDevices(await alice.list())).toEqual([]);
    });

    it("accepts a token of exactly the maximum length", async () => {
        const alice = new Caller(newUser(), table.name);
        const token = `${androidToken()}:`.padEnd(NOTIFICATION_LIMITS.tokenLength, "x");
        expectRegistered(await alice.register({ platform: "android", token }), "android");
    });

    /** A valid registration padded with JSON whitespace to exactly `bytes` bytes. */
    function paddedBody(bytes: number, json: Record<string, unknown>): string {
        const compact = JSON.stringify(json);
        return compact.slice(0, -1) + " ".repeat(bytes - Buffer.byteLength(compact)) + "}";
    }

    it("answers 413 to a body over the limit before parsing it, touching nothing", async () => {
        const alice = new Caller(newUser(), table.name);
        const limit = NOTIFICATION_LIMITS.bodyBytes;
        const body = paddedBody(limit + 1, { platform: "ios", token: iosToken() });
        const res = await alice.send({ method: "POST", resource: "/devices", body });
        expect(expectError(res, 413, "PayloadTooLarge")).toBe(`The request body is ${limit + 1} bytes; the limit is ${limit}.`);
        expect(snsMock.calls()).toHaveLength(0);
        expect(expectDevices(await alice.list())).toEqual([]);
    });

    it("accepts a body of exactly the limit", async () => {
        const alice = new Caller(newUser(), table.name);
        const body = paddedBody(NOTIFICATION_LIMITS.bodyBytes, { platform: "ios", token: iosToken() });
        expectRegistered(await alice.send({ method: "POST", resource: "/devices", body }), "ios");
    });
});

// =============================================================================================
// 403, 405
// =============================================================================================

describe("caller identity and routing", () => {
    const table = devicesTable();

    const routes: [string, Omit<ApiCall, "identityId">][] = [
        ["POST /devices", { method: "POST", resource: "/devices", body: { platform: "ios", token: "abcd" } }],
        ["GET /devices", { method: "GET", resource: "/devices" }],
        ["DELETE /devices/{deviceId}", { method: "DELETE", resource: "/devices/{deviceId}", pathParameters: { deviceId: "d1" } }],
        ["PATCH /devices", { method: "PATCH", resource: "/devices" }],
    ];

    it.each(routes)("answers 403 to %s without a Cognito identity", async (_route, call) => {
        for (const identity of [null, ""]) {
            const res = await new Caller(identity, table.name).send(call);
            expect(expectError(res, 403, "Forbidden")).toBe(
                "This API must be called with Amazon Cognito identity credentials.",
            );
        }
        expect(snsMock.calls()).toHaveLength(0);
        expect(await storedDevices(table.name)).toEqual([]);
    });

    it.each<[string, string, Record<string, string> | undefined]>([
        ["PUT", "/devices", undefined],
        ["DELETE", "/devices", undefined],
        ["PATCH", "/devices", undefined],
        ["OPTIONS", "/devices", undefined],
        ["GET", "/devices/{deviceId}", { deviceId: "d1" }],
        ["POST", "/devices/{deviceId}", { deviceId: "d1" }],
        ["PUT", "/devices/{deviceId}", { deviceId: "d1" }],
        ["post", "/devices", undefined],
        ["GET", "/notes", undefined],
    ])("answers 405 to %s %s", async (method, resource, pathParameters) => {
        const alice = new Caller(newUser(), table.name);
        const res = await alice.send({ method, resource, pathParameters, body: { platform: "ios", token: iosToken() } });
        const path = resource.replace("{deviceId}", pathParameters?.deviceId ?? "");
        expect(expectError(res, 405, "MethodNotAllowed")).toBe(`${method} ${path} is not a devices operation.`);
        expect(snsMock.calls()).toHaveLength(0);
        expect(expectDevices(await alice.list())).toEqual([]);
    });
});

// =============================================================================================
// 500: SNS and DynamoDB failures
// =============================================================================================

describe("service failures", () => {
    const table = devicesTable();
    let consoleError: jest.SpyInstance;

    beforeEach(() => {
        consoleError = jest.spyOn(console, "error").mockImplementation(() => undefined);
    });

    afterEach(() => {
        consoleError.mockRestore();
    });

    function throttled(): ThrottledException {
        return new ThrottledException({
            message: `Rate exceeded for ${IOS_APP}`,
            $metadata: { httpStatusCode: 400, requestId: "req-1" },
        });
    }

    function expectInternalError(res: APIGatewayProxyResult, cause: unknown): void {
        expect(expectError(res, 500, "InternalError")).toBe("The request could not be completed. Try again later.");
        expect(res.body).not.toContain("Rate exceeded");
        expect(res.body).not.toContain("mobile-backend-dev");
        expect(res.body).not.toContain("Throttl");
        expect(consoleError).toHaveBeenCalledTimes(1);
        expect(consoleError).toHaveBeenCalledWith("unhandled error", cause);
    }

    it.each<"CreatePlatformEndpoint" | "GetEndpointAttributes">(["CreatePlatformEndpoint", "GetEndpointAttributes"])(
        "answers a generic 500 when SNS throttles %s, and stores nothing",
        async (command) => {
            const alice = new Caller(newUser(), table.name);
            const cause = throttled();
            fake.fail(command, cause);
            expectInternalError(await alice.register({ platform: "ios", token: iosToken() }), cause);
            expect(await storedDevices(table.name)).toEqual([]);
        },
    );

    it("answers a generic 500 when SNS throttles re-enabling an endpoint, and the retry succeeds", async () => {
        const alice = new Caller(newUser(), table.name);
        const token = iosToken();
        const deviceId = expectRegistered(await alice.register({ platform: "ios", token }), "ios");
        const endpointArn = [...fake.endpoints.keys()][0];
        fake.disable(endpointArn);
        const cause = throttled();
        fake.fail("SetEndpointAttributes", cause);
        expectInternalError(await alice.register({ platform: "ios", token }), cause);
        expect(fake.endpoint(endpointArn).enabled).toBe(false);
        expect(expectRegistered(await alice.register({ platform: "ios", token }), "ios")).toBe(deviceId);
        expect(fake.endpoint(endpointArn).enabled).toBe(true);
    });

    it("keeps the record when deleting the endpoint fails, so a retry can finish the job", async () => {
        const alice = new Caller(newUser(), table.name);
        const deviceId = expectRegistered(await alice.register({ platform: "android", token: androidToken() }), "android");
        const cause = throttled();
        fake.fail("DeleteEndpoint", cause);
        expectInternalError(await alice.remove(deviceId), cause);
        expect(expectDevices(await alice.list()).map((d) => d.deviceId)).toEqual([deviceId]);
        expectDeleted(await alice.remove(deviceId), deviceId);
        expect(expectDevices(await alice.list())).toEqual([]);
        expect(fake.endpoints.size).toBe(0);
    });

    it("answers a generic 500 when the platform application ARN is wrong (an operator error)", async () => {
        const alice = new Caller(newUser(), table.name, { ios: { arn: `${IOS_APP}-gone`, sandbox: true } });
        const res = await alice.register({ platform: "ios", token: iosToken() });
        expect(expectError(res, 500, "InternalError")).toBe("The request could not be completed. Try again later.");
        expect(consoleError).toHaveBeenCalledTimes(1);
    });

    it.each<[string, (caller: Caller) => Promise<APIGatewayProxyResult>]>([
        ["POST /devices", (caller) => caller.register({ platform: "ios", token: iosToken() })],
        ["GET /devices", (caller) => caller.list()],
        ["DELETE /devices/{deviceId}", (caller) => caller.remove(randomUUID())],
    ])("answers %s with a generic 500 when the table is missing", async (_route, act) => {
        const res = await act(new Caller(newUser(), "devices-table-that-does-not-exist"));
        expect(expectError(res, 500, "InternalError")).toBe("The request could not be completed. Try again later.");
        expect(res.body).not.toContain("devices-table-that-does-not-exist");
        expect(consoleError).toHaveBeenCalledTimes(1);
    });
});

// =============================================================================================
// Issue 8: the devices cap (reproduction 4), fair use, text hygiene
// =============================================================================================

describe("at most maxDevicesPerIdentity devices", () => {
    const table = devicesTable();

    it("registering the 11th device replaces the least recently registered, deleting its endpoint too", async () => {
        const alice = new Caller(newUser(), table.name);
        const ids: string[] = [];
        const tokens: string[] = [];
        for (let i = 0; i < 10; i++) {
            tokens.push(androidToken());
            ids.push(expectRegistered(await alice.register({ platform: "android", token: tokens[i] }), "android"));
        }
        // Registering the first token again makes it the most recently registered.
        expect(expectRegistered(await alice.register({ platform: "android", token: tokens[0] }), "android")).toBe(ids[0]);
        expect(snsCalls(DeleteEndpointCommand)).toEqual([]);

        const eleventh = expectRegistered(await alice.register({ platform: "ios", token: iosToken() }), "ios");
        const listed = expectDevices(await alice.list()).map((d) => d.deviceId);
        expect(listed).toHaveLength(10);
        expect(listed.sort()).toEqual([...ids.filter((id) => id !== ids[1]), eleventh].sort());
        expect(snsCalls(DeleteEndpointCommand).map((call) => uuidOf(call.EndpointArn ?? ""))).toEqual([ids[1]]);
    });

    it("keeps 60 registrations to 10 devices, so a notification fans out to at most 10 endpoints", async () => {
        const bob = new Caller(newUser(), table.name);
        for (let i = 0; i < 60; i++) expectRegistered(await bob.register({ platform: "android", token: androidToken() }), "android");
        const stored = (await storedDevices(table.name)).filter((d) => d.ownerId === bob.identity);
        expect(stored).toHaveLength(10);
        expect(snsCalls(DeleteEndpointCommand)).toHaveLength(50);
    });

    it("follows the stage's setting", async () => {
        const carol = new Caller(newUser(), table.name, undefined, { maxDevicesPerIdentity: 2 });
        for (let i = 0; i < 3; i++) expectRegistered(await carol.register({ platform: "ios", token: iosToken() }), "ios");
        expect(expectDevices(await carol.list())).toHaveLength(2);
    });
});

describe("fair use: writes per identity", () => {
    const table = devicesTable();
    const limitsTable = freshTable(() => dynamo, LIMITS_TABLE_KEYS);
    const limited = () => ({
        limits: { tableName: limitsTable.name, writesPerMinute: 3, notificationsSentPerHour: 1, notificationsReceivedPerHour: 1 },
        // A clock that stays within one minute.
        now: () => new Date(T0 + 1000),
    });

    it("answers 429 TooManyRequests with Retry-After once an identity used up its writes, touching nothing", async () => {
        const dave = new Caller(newUser(), table.name, undefined, limited());
        const first = expectRegistered(await dave.register({ platform: "ios", token: iosToken() }), "ios");
        expectRegistered(await dave.register({ platform: "ios", token: iosToken() }), "ios");
        expectDeleted(await dave.remove(first), first);
        snsMock.resetHistory();

        const refused = await dave.register({ platform: "ios", token: iosToken() });
        expect(refused.statusCode).toBe(429);
        expect(refused.headers?.["retry-after"]).toBe("59");
        expect(JSON.parse(refused.body)).toEqual({
            success: false,
            error: {
                code: "TooManyRequests",
                message: "You have made 3 changes in the last minute, the most allowed; try again in 59 s.",
                retryAfterSeconds: 59,
            },
        });
        expect((await dave.remove(randomUUID())).statusCode).toBe(429);
        expect(snsMock.calls()).toHaveLength(0);
        // Reading is not a write; and another identity is not affected.
        expect(expectDevices(await dave.list())).toHaveLength(1);
        const erin = new Caller(newUser(), table.name, undefined, limited());
        expectRegistered(await erin.register({ platform: "ios", token: iosToken() }), "ios");
    });
});

describe("text hygiene of the device token", () => {
    const table = devicesTable();

    it.each([
        ["a zero-width space", "abc\u200Bdef"],
        ["a control character", "abc\u0000"],
        ["a lone surrogate", "abc\uD800"],
    ])("answers 400 naming the token for %s, touching nothing", async (_case, token) => {
        const res = await new Caller(newUser(), table.name).register({ platform: "android", token });
        expect(expectError(res, 400, "BadRequest")).toMatch(/^token /);
        expect(snsMock.calls()).toHaveLength(0);
    });
});
