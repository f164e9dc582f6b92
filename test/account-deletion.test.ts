/**
 * functions/account.ts against dynalite (notes, devices, blocks and limits tables as declared), the local S3
 * endpoint (a versioned bucket), the local SNS endpoint (platform endpoints) and mocked Cognito clients
 * (aws-sdk-client-mock: no local Cognito endpoint yet). Alice deletes her account; Bob's data must be intact.
 */
import {
    AdminDeleteUserCommand,
    CognitoIdentityProviderClient,
    ListUsersCommand,
    UserNotFoundException,
} from "@aws-sdk/client-cognito-identity-provider";
import { CognitoIdentityClient, DeleteIdentitiesCommand } from "@aws-sdk/client-cognito-identity";
import { DeleteObjectCommand, ListObjectVersionsCommand, S3Client } from "@aws-sdk/client-s3";
import { CreatePlatformEndpointCommand, SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { deleteAccount, parseAccountDeletionEvent, userPoolSub, type AccountDeletionEvent, type AccountSettings } from "../functions/account";
import { counterKey, consume, receivedRule, sentRule, writeRule, LIMITS_KEY, type LimitSettings } from "../functions/rate-limit";
import { LIMITS_TABLE_KEYS, NOTES_TABLE_KEYS } from "../infra/data";
import { BLOCKS_TABLE_KEYS, DEVICES_TABLE_KEYS } from "../infra/notifications";
import { startS3, type LocalS3 } from "../local/s3";
import { createTable, startDynamo, type LocalDynamo } from "./support/dynamodb";
import { startSns, type LocalSns } from "../local/sns";

const POOL = "us-east-1_AbCdEf123";
const ISSUER = `cognito-idp.us-east-1.amazonaws.com/${POOL}`;
const alice = { id: "us-east-1:11111111-1111-4111-8111-111111111111", sub: "aaaaaaaa-1111-4111-8111-111111111111" };
const bob = { id: "us-east-1:22222222-2222-4222-8222-222222222222", sub: "bbbbbbbb-2222-4222-8222-222222222222" };
const carol = { id: "us-east-1:33333333-3333-4333-8333-333333333333", sub: "cccccccc-3333-4333-8333-333333333333" };
const provider = (sub: string) => `${ISSUER},${ISSUER}:CognitoSignIn:${sub}`;
const NOW = new Date("2026-12-01T03:00:30Z");
const EARLIER = new Date(NOW.getTime() - 70 * 60 * 1000);
const BUCKET = "uploads-bucket";
const credentials = { accessKeyId: "local", secretAccessKey: "local" };

let dynamo: LocalDynamo;
let s3: LocalS3;
let sns: LocalSns;
let db: DynamoDBDocumentClient;
let s3Client: S3Client;
let snsClient: SNSClient;
let apns: string;
let fcm: string;
const identityMock = mockClient(CognitoIdentityClient);
const usersMock = mockClient(CognitoIdentityProviderClient);
/** Users of the mocked pool by sub (username = sub, as in a pool whose sign-in attribute is the email). */
const users = new Set<string>();
const identities = new Set<string>();
const s3Failures = new Set<string>();
/** The endpoints each seeded user's devices got. */
const seededEndpoints = new Map<string, string[]>();

const limits: LimitSettings = { tableName: "limits", writesPerMinute: 100, notificationsSentPerHour: 100, notificationsReceivedPerHour: 100 };
let settings: AccountSettings;

beforeAll(async () => {
    dynamo = await startDynamo();
    await Promise.all([
        createTable(dynamo.client, "notes", NOTES_TABLE_KEYS),
        createTable(dynamo.client, "devices", DEVICES_TABLE_KEYS),
        createTable(dynamo.client, "blocks", BLOCKS_TABLE_KEYS),
        createTable(dynamo.client, "limits", LIMITS_TABLE_KEYS),
    ]);
    s3 = await startS3({
        buckets: [{ name: BUCKET, versioned: true }],
        // A key named in s3Failures refuses its next version delete: a partial failure.
        authorize: (request) => !(request.action === "s3:DeleteObjectVersion" && s3Failures.delete(request.key)),
    });
    sns = await startSns();
    apns = sns.createApplication("APNS", "app-apns");
    fcm = sns.createApplication("GCM", "app-fcm");
    db = DynamoDBDocumentClient.from(dynamo.client);
    s3Client = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", credentials, forcePathStyle: true });
    snsClient = new SNSClient({ endpoint: sns.endpoint, region: "us-east-1", credentials });
    settings = {
        notesTable: "notes",
        devicesTable: "devices",
        blocksTable: "blocks",
        uploadsBucket: BUCKET,
        userPoolId: POOL,
        limits,
        now: () => NOW,
        // Two hours rather than the default 3 days: the same derivation, 30 times fewer keys to delete here.
        limitsLookbackSeconds: 2 * 3600,
        backoffMs: 1,
        log: () => undefined,
    };
});

beforeEach(() => {
    identityMock.reset();
    usersMock.reset();
    identityMock.on(DeleteIdentitiesCommand).callsFake((input: { IdentityIdsToDelete: string[] }) => {
        for (const id of input.IdentityIdsToDelete) identities.delete(id);
        return { UnprocessedIdentityIds: [] };
    });
    usersMock.on(ListUsersCommand).callsFake((input: { Filter: string }) => {
        const sub = /^sub = "([^"]+)"$/.exec(input.Filter)?.[1] ?? "";
        return { Users: users.has(sub) ? [{ Username: sub, Attributes: [{ Name: "sub", Value: sub }] }] : [] };
    });
    usersMock.on(AdminDeleteUserCommand).callsFake((input: { Username: string }) => {
        if (!users.delete(input.Username)) throw new UserNotFoundException({ message: "User does not exist.", $metadata: {} });
        return {};
    });
});

afterAll(async () => {
    await s3?.stop();
    await sns?.close();
    await dynamo?.close();
});

/** Everything one user has: 130 notes (two pages), two devices, uploads in several versions, blocks, counters. */
async function seed(user: { id: string; sub: string }): Promise<void> {
    users.add(user.sub);
    identities.add(user.id);
    await Promise.all(
        Array.from({ length: 130 }, (_, i) =>
            db.send(new PutCommand({ TableName: "notes", Item: { ownerId: user.id, noteId: `n${i}`, createdAt: NOW.toISOString(), text: `note ${i}` } })),
        ),
    );
    for (const [platform, application] of [["ios", apns], ["android", fcm]] as const) {
        // APNs tokens are hexadecimal.
        const token = platform === "ios" ? user.sub.replace(/-/g, "").repeat(2) : `fcm-token:${user.sub}`;
        const { EndpointArn } = await snsClient.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: application, Token: token }));
        seededEndpoints.set(user.id, [...(seededEndpoints.get(user.id) ?? []), EndpointArn ?? ""]);
        await db.send(
            new PutCommand({
                TableName: "devices",
                Item: { ownerId: user.id, deviceId: `${platform}-1`, platform, token, endpointArn: EndpointArn, createdAt: NOW.toISOString(), updatedAt: NOW.toISOString() },
            }),
        );
    }
    const prefix = `uploads/${user.id}/`;
    s3.put(BUCKET, `${prefix}photo.jpg`, "v1", "image/jpeg");
    s3.put(BUCKET, `${prefix}photo.jpg`, "v2", "image/jpeg");
    s3.put(BUCKET, `${prefix}clip.mp4`, "video", "video/mp4");
    s3.put(BUCKET, `${prefix}gone.png`, "old", "image/png");
    await s3Client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${prefix}gone.png` }));
    for (const other of [alice, bob, carol].filter((u) => u.id !== user.id)) {
        await db.send(new PutCommand({ TableName: "blocks", Item: { recipientId: user.id, senderId: other.id, createdAt: NOW.toISOString() } }));
    }
    // Now, and 70 minutes ago: past its expiry (TTL), but DynamoDB deletes expired items days later.
    for (const when of [NOW, EARLIER]) {
        for (const rule of [writeRule(limits), sentRule(limits), receivedRule(limits)]) await consume(db, "limits", user.id, rule, when);
    }
}

/** A count of everything of one identity that the deletion must remove. */
async function holdings(user: { id: string; sub: string }) {
    const identityId = user.id;
    const count = async (table: string, key: string) =>
        (await db.send(new QueryCommand({ TableName: table, KeyConditionExpression: "#k = :v", ExpressionAttributeNames: { "#k": key }, ExpressionAttributeValues: { ":v": identityId } }))).Count ?? 0;
    const versions = await s3Client.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: `uploads/${identityId}/` }));
    const counters = [];
    for (const when of [NOW, EARLIER]) {
        for (const rule of [writeRule(limits), sentRule(limits), receivedRule(limits)]) {
            const start = Math.floor(when.getTime() / 1000 / rule.windowSeconds) * rule.windowSeconds;
            const { Item } = await db.send(new GetCommand({ TableName: "limits", Key: { [LIMITS_KEY]: counterKey(rule, identityId, start) } }));
            if (Item) counters.push(Item);
        }
    }
    const endpoints = sns.endpoints();
    const tokens = (seededEndpoints.get(identityId) ?? []).filter((arn) => endpoints.has(arn));
    return {
        notes: await count("notes", "ownerId"),
        devices: await count("devices", "ownerId"),
        endpoints: tokens.length,
        objectVersions: (versions.Versions ?? []).length + (versions.DeleteMarkers ?? []).length,
        blocks: await count("blocks", "recipientId"),
        counters: counters.length,
    };
}

const FULL = { notes: 130, devices: 2, endpoints: 2, objectVersions: 5, blocks: 2, counters: 6 };
const NOTHING = { notes: 0, devices: 0, endpoints: 0, objectVersions: 0, blocks: 0, counters: 0 };

function event(user: { id: string; sub: string }): AccountDeletionEvent {
    return { identityId: user.id, authenticationType: "authenticated", authenticationProvider: provider(user.sub), requestId: "r-1" };
}

const clients = () => ({ db, sns: snsClient, s3: s3Client, identity: new CognitoIdentityClient({ region: "us-east-1" }), users: new CognitoIdentityProviderClient({ region: "us-east-1" }) });

test("a user's complete data set is gone after DELETE /me, while another user's is intact", async () => {
    await seed(alice);
    await seed(bob);
    expect(await holdings(alice)).toEqual(FULL);
    expect(await holdings(bob)).toEqual(FULL);

    const summary = await deleteAccount(event(alice), clients(), settings);
    expect(summary).toMatchObject({ identityId: alice.id, notes: 130, devices: 2, endpointsKeptForOthers: 0, objectVersions: 5, blocks: 2, user: "deleted" });
    // Every window of the three rules that ended less than 2 h ago, to one window ahead (now is 03:00:30): the
    // minutes 01:00–03:01 (122) and the hours 01:00–04:00 (4) of each hourly rule.
    expect(summary.counterKeys).toBe(122 + 2 * 4);

    expect(await holdings(alice)).toEqual(NOTHING);
    expect(await holdings(bob)).toEqual(FULL);
    expect(users.has(alice.sub)).toBe(false);
    expect(identities.has(alice.id)).toBe(false);
    expect(users.has(bob.sub) && identities.has(bob.id)).toBe(true);
    // The user was found by the sub of the credentials, in this pool only, and the identity was deleted last.
    expect(usersMock.commandCalls(ListUsersCommand)[0].args[0].input).toEqual({ UserPoolId: POOL, Filter: `sub = "${alice.sub}"`, Limit: 2 });
    expect(usersMock.commandCalls(AdminDeleteUserCommand)[0].args[0].input).toEqual({ UserPoolId: POOL, Username: alice.sub });
    expect(identityMock.commandCalls(DeleteIdentitiesCommand)[0].args[0].input).toEqual({ IdentityIdsToDelete: [alice.id] });

    // A second call finds nothing left and succeeds.
    const again = await deleteAccount(event(alice), clients(), settings);
    expect(again).toMatchObject({ notes: 0, devices: 0, objectVersions: 0, blocks: 0, user: "absent" });
    // Bob's blocks of Alice are Bob's data: kept.
    const bobsBlocks = await db.send(new QueryCommand({ TableName: "blocks", KeyConditionExpression: "recipientId = :b", ExpressionAttributeValues: { ":b": bob.id } }));
    expect(bobsBlocks.Items?.map((i) => i.senderId)).toContain(alice.id);
});

test("a partial failure fails the run; the retry finishes the job", async () => {
    await seed(carol);
    // One upload version refuses its delete; then the user-pool deletion fails once.
    s3Failures.add(`uploads/${carol.id}/photo.jpg`);
    await expect(deleteAccount(event(carol), clients(), settings)).rejects.toThrow();
    const partial = await holdings(carol);
    expect(partial).toMatchObject({ notes: 0, devices: 0, endpoints: 0 });
    expect(partial.objectVersions).toBeGreaterThan(0);
    expect(identities.has(carol.id)).toBe(true);
    expect(identityMock.commandCalls(DeleteIdentitiesCommand)).toHaveLength(0);

    usersMock.on(AdminDeleteUserCommand).rejectsOnce(Object.assign(new Error("Rate exceeded"), { name: "TooManyRequestsException" }));
    await expect(deleteAccount(event(carol), clients(), settings)).rejects.toThrow(/Rate exceeded/);
    expect(await holdings(carol)).toEqual(NOTHING);
    expect(users.has(carol.sub) && identities.has(carol.id)).toBe(true);

    usersMock.on(AdminDeleteUserCommand).callsFake((input: { Username: string }) => (users.delete(input.Username), {}));
    await expect(deleteAccount(event(carol), clients(), settings)).resolves.toMatchObject({ user: "deleted" });
    expect(users.has(carol.sub) || identities.has(carol.id)).toBe(false);
    expect(await holdings(bob)).toEqual(FULL);
});

test("a run about to time out stops between pages, and the retry continues", async () => {
    const dave = { id: "us-east-1:44444444-4444-4444-8444-444444444444", sub: "dddddddd-4444-4444-8444-444444444444" };
    await seed(dave);
    let left = 3;
    // Time for three pages, then the function is about to time out.
    const short = { ...settings, remainingMs: () => (left-- > 0 ? 60_000 : 1_000) };
    await expect(deleteAccount(event(dave), clients(), short)).rejects.toThrow(/ran out of time/);
    expect((await holdings(dave)).notes).toBe(0);
    expect(identities.has(dave.id)).toBe(true);
    await deleteAccount(event(dave), clients(), settings);
    expect(await holdings(dave)).toEqual(NOTHING);
});

test("an endpoint another identity's device now holds is kept; its record of the deleted user is not", async () => {
    const erin = { id: "us-east-1:55555555-5555-4555-8555-555555555555", sub: "eeeeeeee-5555-4555-8555-555555555555" };
    users.add(erin.sub);
    identities.add(erin.id);
    const { EndpointArn } = await snsClient.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: fcm, Token: "shared-phone-token" }));
    for (const owner of [erin.id, bob.id]) {
        await db.send(new PutCommand({ TableName: "devices", Item: { ownerId: owner, deviceId: "phone", platform: "android", token: "shared-phone-token", endpointArn: EndpointArn } }));
    }
    const summary = await deleteAccount(event(erin), clients(), settings);
    expect(summary).toMatchObject({ devices: 1, endpointsKeptForOthers: 1 });
    expect(sns.endpoints().has(EndpointArn ?? "")).toBe(true);
    const { Item } = await db.send(new GetCommand({ TableName: "devices", Key: { ownerId: bob.id, deviceId: "phone" } }));
    expect(Item?.endpointArn).toBe(EndpointArn);
});

test("a guest's data goes too, with no user-pool lookup", async () => {
    const guest = { id: "us-east-1:66666666-6666-4666-8666-666666666666", sub: "" };
    identities.add(guest.id);
    await db.send(new PutCommand({ TableName: "notes", Item: { ownerId: guest.id, noteId: "n1", createdAt: NOW.toISOString() } }));
    const summary = await deleteAccount({ identityId: guest.id, authenticationType: "unauthenticated", authenticationProvider: "", requestId: "r" }, clients(), settings);
    expect(summary).toMatchObject({ notes: 1, user: "guest" });
    expect(usersMock.commandCalls(ListUsersCommand)).toHaveLength(0);
    expect(identities.has(guest.id)).toBe(false);
});

describe("the caller comes only from the credentials, strictly", () => {
    test("the sub of this pool's sign-in is found; guests have none", () => {
        expect(userPoolSub(provider(alice.sub), POOL)).toBe(alice.sub);
        expect(userPoolSub("", POOL)).toBeUndefined();
        expect(parseAccountDeletionEvent(event(alice), POOL)).toEqual({ identityId: alice.id, sub: alice.sub });
    });

    test.each([
        ["another pool", `cognito-idp.us-east-1.amazonaws.com/us-east-1_Other,cognito-idp.us-east-1.amazonaws.com/us-east-1_Other:CognitoSignIn:${alice.sub}`],
        ["another region's issuer", `cognito-idp.eu-west-1.amazonaws.com/${POOL},cognito-idp.eu-west-1.amazonaws.com/${POOL}:CognitoSignIn:${alice.sub}`],
        ["two subs", `${ISSUER},${ISSUER}:CognitoSignIn:${alice.sub},${ISSUER}:CognitoSignIn:${bob.sub}`],
        ["no sub", ISSUER],
        ["a sub that is not a UUID", `${ISSUER},${ISSUER}:CognitoSignIn:${alice.sub}" or sub = "x`],
        ["a suffix", `${provider(alice.sub)}x`],
        ["a prefix", `x${provider(alice.sub)}`],
        ["another provider", `${provider(alice.sub)},accounts.google.com`],
        ["the template's text (a variable without a value)", "$context.identity.cognitoAuthenticationProvider"],
        ["null as text", "null"],
    ])("%s is refused, before anything is deleted", async (_, hostile) => {
        expect(() => userPoolSub(hostile, POOL)).toThrow();
        const before = await holdings(bob);
        await expect(deleteAccount({ ...event(bob), authenticationProvider: hostile }, clients(), settings)).rejects.toThrow();
        expect(await holdings(bob)).toEqual(before);
    });

    test.each([
        ["no identity id", { authenticationType: "unauthenticated", authenticationProvider: "" }],
        ["an identity id with a slash", { identityId: `${bob.id}/../x`, authenticationType: "unauthenticated", authenticationProvider: "" }],
        ["an empty identity id", { identityId: "", authenticationType: "unauthenticated", authenticationProvider: "" }],
        ["an unknown authentication type", { identityId: bob.id, authenticationType: "", authenticationProvider: provider(bob.sub) }],
        ["a signed-in caller without a provider", { identityId: bob.id, authenticationType: "authenticated", authenticationProvider: "" }],
        ["a body-like event", { senderId: bob.id, body: { identityId: bob.id } }],
    ])("%s is refused, before anything is deleted", async (_, hostile) => {
        const before = await holdings(bob);
        await expect(deleteAccount({ requestId: "r", ...hostile } as unknown as AccountDeletionEvent, clients(), settings)).rejects.toThrow();
        expect(await holdings(bob)).toEqual(before);
        expect(identityMock.commandCalls(DeleteIdentitiesCommand)).toHaveLength(0);
    });
});
