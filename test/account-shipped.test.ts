/**
 * `DELETE /me` exactly as `pulumi up` would ship it: the account-deletion archive runs in a fresh Node process
 * against dynalite (the tables as declared), the local S3 endpoint (a versioned bucket; each request allowed
 * only if the function's role policy allows it), the local SNS endpoint, and a small recording stand-in for the
 * two Cognito services (JSON 1.1: `X-Amz-Target`), reached through the SDK's service endpoint variables. The
 * event is the deployed document's mapping template rendered as VTL (local/apigateway.ts).
 */
import { PutItemCommand, QueryCommand } from "@aws-sdk/client-dynamodb";
import * as http from "node:http";
import { renderMappingTemplate } from "../local/apigateway";
import { startS3, type LocalS3, type S3AccessRequest } from "../local/s3";
import { CREDENTIALS, CREDENTIAL_SECRET_KEYS } from "./support/credentials";
import { createDeclaredTable, startDynamo, type LocalDynamo } from "./support/dynamodb";
import { startFunction, type LocalFunction } from "./support/lambda";
import { listenOnLoopback } from "./support/net";
import { loadProgram, type LoadedProgram } from "./support/program";
import { startSns, type LocalSns } from "../local/sns";
import { policyAllows, type PolicyStatement } from "./support/iam";

const alice = { id: "us-east-1:11111111-1111-4111-8111-111111111111", sub: "aaaaaaaa-1111-4111-8111-111111111111" };
const bob = { id: "us-east-1:22222222-2222-4222-8222-222222222222", sub: "bbbbbbbb-2222-4222-8222-222222222222" };

/** The Cognito stand-in: users by sub (username = sub), identities, every request, and failures to inject. */
interface LocalCognito {
    endpoint: string;
    users: Set<string>;
    identities: Set<string>;
    calls: { target: string; body: Record<string, unknown> }[];
    failNext: Map<string, number>;
    close(): Promise<void>;
}

async function startCognito(): Promise<LocalCognito> {
    const state = { users: new Set<string>(), identities: new Set<string>(), calls: [] as LocalCognito["calls"], failNext: new Map<string, number>() };
    const server = http.createServer((req, res) => {
        let raw = "";
        req.on("data", (c) => (raw += c));
        req.on("end", () => {
            const target = String(req.headers["x-amz-target"] ?? "");
            const body = JSON.parse(raw || "{}") as Record<string, unknown>;
            state.calls.push({ target, body });
            const reply = (status: number, value: unknown, type?: string) => {
                res.writeHead(status, { "content-type": "application/x-amz-json-1.1", ...(type ? { "x-amzn-errortype": type } : {}) });
                res.end(JSON.stringify(value));
            };
            const failures = state.failNext.get(target) ?? 0;
            if (failures > 0) {
                state.failNext.set(target, failures - 1);
                return reply(400, { __type: "NotAuthorizedException", message: "Injected failure" }, "NotAuthorizedException");
            }
            if (!/^AWS4-HMAC-SHA256 Credential=local\//.test(String(req.headers.authorization))) return reply(400, { __type: "UnrecognizedClientException" });
            switch (target) {
                case "AWSCognitoIdentityProviderService.ListUsers": {
                    const sub = /^sub = "([0-9a-f-]{36})"$/.exec(String(body.Filter))?.[1];
                    if (sub === undefined) return reply(400, { __type: "InvalidParameterException", message: "bad filter" });
                    return reply(200, { Users: state.users.has(sub) ? [{ Username: sub, Attributes: [{ Name: "sub", Value: sub }] }] : [] });
                }
                case "AWSCognitoIdentityProviderService.AdminDeleteUser":
                    if (!state.users.delete(String(body.Username))) return reply(400, { __type: "UserNotFoundException", message: "User does not exist." });
                    return reply(200, {});
                case "AWSCognitoIdentityService.DeleteIdentities":
                    for (const id of body.IdentityIdsToDelete as string[]) state.identities.delete(id);
                    return reply(200, { UnprocessedIdentityIds: [] });
                default:
                    return reply(400, { __type: "UnknownOperationException" });
            }
        });
    });
    const endpoint = await listenOnLoopback(server);
    return { endpoint, ...state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:account-failures-abc1234";
/** A user pool id of the real shape (`<region>_<id>`) in place of the mocks' placeholder id. */
const USER_POOL_ID = "us-east-1_Stage1234";

let program: LoadedProgram;
let dynamo: LocalDynamo;
let s3: LocalS3;
let sns: LocalSns;
let cognito: LocalCognito;
let fn: LocalFunction;
let env: Record<string, string>;
let statements: PolicyStatement[];
const denied: S3AccessRequest[] = [];

beforeAll(async () => {
    program = await loadProgram("dev", CREDENTIALS, CREDENTIAL_SECRET_KEYS);
    env = program.archives["account-deletion"].environment;
    statements = JSON.parse(program.recorder.one("aws:iam/rolePolicy:RolePolicy", "account-deletion-policy").inputs.policy).Statement;
    dynamo = await startDynamo();
    for (const [table, name] of [
        ["data-notes", env.NOTES_TABLE],
        ["notifications-devices", env.DEVICES_TABLE],
        ["notifications-blocks", env.BLOCKS_TABLE],
        ["data-limits", env.LIMITS_TABLE],
    ]) {
        await createDeclaredTable(dynamo, program.recorder.one("aws:dynamodb/table:Table", table), name);
    }
    s3 = await startS3({
        buckets: [{ name: env.UPLOADS_BUCKET, versioned: true }],
        authorize: (request) => {
            const ok = policyAllows(statements, request);
            if (!ok) denied.push(request);
            return ok;
        },
    });
    sns = await startSns({ verifySignature: { secretAccessKey: "local" } });
    cognito = await startCognito();
    fn = await startFunction(program.archives["account-deletion"], {
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_SNS: sns.endpoint,
        AWS_ENDPOINT_URL_COGNITO_IDENTITY: cognito.endpoint,
        AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: cognito.endpoint,
        USER_POOL_ID,
        // The local runner reports 10 s left on every invocation; the deployed function keeps 20 s of its 300.
        TIME_RESERVE_MS: "1000",
        // The deployed default (3 days of minute windows) works the same way with far more keys.
        LIMITS_LOOKBACK_SECONDS: "7200",
    });
}, 600_000);

afterAll(async () => {
    await fn?.stop();
    await cognito?.close();
    await sns?.close();
    await s3?.stop();
    await dynamo?.close();
});

describe("what the program declares", () => {
    test("DELETE /me is an asynchronous Lambda invocation with the caller from the credentials, answered 202", () => {
        const doc = JSON.parse(program.recorder.one("aws:apigateway/restApi:RestApi").inputs.body);
        const operation = doc.paths["/me"].delete;
        expect(operation.requestBody).toBeUndefined();
        expect(operation.security).toEqual([{ sigv4: [], api_key: [] }]);
        const integration = operation["x-amazon-apigateway-integration"];
        expect(integration).toMatchObject({
            type: "aws",
            httpMethod: "POST",
            passthroughBehavior: "never",
            requestParameters: { "integration.request.header.X-Amz-Invocation-Type": "'Event'" },
            responses: { default: { statusCode: "202" } },
        });
        expect(integration.uri).toContain("account-deletion");
    });

    test("its role may do only what it calls, on this stage's tables, bucket prefix, endpoints and pools", () => {
        const table = (name: string) => `arn:aws:dynamodb:us-east-1:123456789012:table/${name}`;
        const byAction = Object.fromEntries(statements.slice(1).map((s) => [s.Action.join(","), s]));
        expect(byAction["dynamodb:Query,dynamodb:BatchWriteItem"].Resource).toEqual([table(env.NOTES_TABLE), table(env.BLOCKS_TABLE)]);
        expect(byAction["dynamodb:Query,dynamodb:DeleteItem"].Resource).toEqual([table(env.DEVICES_TABLE)]);
        expect(byAction["dynamodb:Query"].Resource).toEqual([`${table(env.DEVICES_TABLE)}/index/byEndpoint`]);
        expect(byAction["dynamodb:BatchWriteItem"].Resource).toEqual([table(env.LIMITS_TABLE)]);
        expect(byAction["sns:DeleteEndpoint"].Resource).toHaveLength(2);
        for (const r of byAction["sns:DeleteEndpoint"].Resource) expect(r).toMatch(/^arn:aws:sns:us-east-1:123456789012:endpoint\/(APNS_SANDBOX|GCM)\/[^/*]+\/\*$/);
        expect(byAction["s3:ListBucketVersions"]).toMatchObject({ Resource: [`arn:aws:s3:::${env.UPLOADS_BUCKET}`], Condition: { StringLike: { "s3:prefix": "uploads/*" } } });
        expect(byAction["s3:DeleteObjectVersion"].Resource).toEqual([`arn:aws:s3:::${env.UPLOADS_BUCKET}/uploads/*`]);
        expect(byAction["cognito-idp:ListUsers,cognito-idp:AdminDeleteUser"].Resource).toEqual([
            "arn:aws:cognito-idp:us-east-1:123456789012:userpool/identity-users-id",
        ]);
        expect(byAction["cognito-identity:DeleteIdentities"].Resource).toEqual([
            // The mocks' ARN of the identity pool (a real one is arn:aws:cognito-identity:<region>:<account>:identitypool/<id>).
            "arn:aws:cognito:us-east-1:123456789012:identity-identities",
        ]);
        expect(byAction["sqs:SendMessage"].Resource).toEqual([QUEUE_ARN]);
    });

    test("failed runs are retried twice within six hours, then kept in a queue with an alarm", () => {
        const config = program.recorder.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "account-deletion-async").inputs;
        expect(config).toMatchObject({ maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21600, destinationConfig: { onFailure: { destination: QUEUE_ARN } } });
        const fnInputs = program.recorder.one("aws:lambda/function:Function", "account-deletion").inputs;
        expect(fnInputs.timeout).toBe(300);
        const alarm = program.recorder.one("aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring-account-deletion-failures-queue-not-empty").inputs;
        expect(alarm).toMatchObject({ namespace: "AWS/SQS", threshold: 0, dimensions: { QueueName: "account-failures-abc1234" } });
        expect(program.recorder.all("aws:cloudwatch/metricAlarm:MetricAlarm").some((a) => a.name.startsWith("monitoring-account-deletion-") && a.name !== "monitoring-account-deletion-failures-queue-not-empty")).toBe(true);
    });

    test("the archive is only the serialized closure, within 64 KiB", () => {
        const archive = program.archives["account-deletion"];
        expect(Object.keys(archive.files)).toEqual(["__index.js"]);
        expect(archive.bytes).toBeLessThanOrEqual(64 * 1024);
    });
});

/** Puts one user's data in place: notes, two devices with endpoints, uploads in several versions, a block. */
async function seed(user: { id: string; sub: string }): Promise<string[]> {
    cognito.users.add(user.sub);
    cognito.identities.add(user.id);
    const put = (table: string, item: Record<string, string>) =>
        dynamo.client.send(new PutItemCommand({ TableName: table, Item: Object.fromEntries(Object.entries(item).map(([k, v]) => [k, { S: v }])) }));
    for (let i = 0; i < 30; i++) await put(env.NOTES_TABLE, { ownerId: user.id, noteId: `n${i}`, createdAt: "2026-12-01T00:00:00Z", text: `note ${i}` });
    const endpoints: string[] = [];
    // The stage's platform applications, under the names the program gave them.
    const pushEnv = program.archives["notifications-sender"].environment;
    for (const [platform, token, arn] of [
        ["APNS_SANDBOX", user.sub.replace(/-/g, "").repeat(2), pushEnv.APNS_APPLICATION_ARN],
        ["GCM", `fcm:${user.sub}`, pushEnv.FCM_APPLICATION_ARN],
    ] as const) {
        const application = sns.createApplication(platform, arn.split("/").pop() ?? "");
        expect(application).toBe(arn);
        const { CreatePlatformEndpointCommand, SNSClient } = await import("@aws-sdk/client-sns");
        const client = new SNSClient({ endpoint: sns.endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
        const { EndpointArn = "" } = await client.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: application, Token: token }));
        endpoints.push(EndpointArn);
        await put(env.DEVICES_TABLE, { ownerId: user.id, deviceId: platform, platform: platform === "GCM" ? "android" : "ios", token, endpointArn: EndpointArn });
    }
    const prefix = `uploads/${user.id}/`;
    s3.put(env.UPLOADS_BUCKET, `${prefix}a.jpg`, "one", "image/jpeg");
    s3.put(env.UPLOADS_BUCKET, `${prefix}a.jpg`, "two", "image/jpeg");
    s3.put(env.UPLOADS_BUCKET, `${prefix}b.mp4`, "video", "video/mp4");
    const other = user.id === alice.id ? bob.id : alice.id;
    await put(env.BLOCKS_TABLE, { recipientId: user.id, senderId: other });
    return endpoints;
}

async function holdings(user: { id: string; sub: string }, endpoints: string[]) {
    const count = async (table: string, key: string) =>
        (await dynamo.client.send(new QueryCommand({ TableName: table, KeyConditionExpression: "#k = :v", ExpressionAttributeNames: { "#k": key }, ExpressionAttributeValues: { ":v": { S: user.id } } }))).Count;
    const keys = [`uploads/${user.id}/a.jpg`, `uploads/${user.id}/b.mp4`];
    return {
        notes: await count(env.NOTES_TABLE, "ownerId"),
        devices: await count(env.DEVICES_TABLE, "ownerId"),
        blocks: await count(env.BLOCKS_TABLE, "recipientId"),
        endpoints: endpoints.filter((e) => sns.endpoints().has(e)).length,
        objectVersions: keys.reduce((n, k) => n + s3.versions(env.UPLOADS_BUCKET, k).length, 0),
        user: cognito.users.has(user.sub),
        identity: cognito.identities.has(user.id),
    };
}

let requestCount = 0;

/** The event API Gateway makes of `DELETE /me` signed with a user's credentials. */
function deleteMeEvent(user: { id: string; sub: string }): unknown {
    const doc = JSON.parse(program.recorder.one("aws:apigateway/restApi:RestApi").inputs.body);
    const template: string = doc.paths["/me"].delete["x-amazon-apigateway-integration"].requestTemplates["application/json"];
    const issuer = `cognito-idp.us-east-1.amazonaws.com/${USER_POOL_ID}`;
    const rendered = renderMappingTemplate(
        template,
        { body: "" },
        {
            context: {
                requestId: `request-${++requestCount}`,
                identity: {
                    cognitoIdentityId: user.id,
                    cognitoAuthenticationType: "authenticated",
                    cognitoAuthenticationProvider: `${issuer},${issuer}:CognitoSignIn:${user.sub}`,
                },
            },
        },
    );
    return JSON.parse(rendered);
}

test("the shipped function deletes a user's complete data set; another user's stays; a retry after a failure finishes", async () => {
    const aliceEndpoints = await seed(alice);
    const bobEndpoints = await seed(bob);
    const full = { notes: 30, devices: 2, blocks: 1, endpoints: 2, objectVersions: 3, user: true, identity: true };
    expect(await holdings(alice, aliceEndpoints)).toEqual(full);

    // The user pool refuses once (after the data is gone): the run fails, as Lambda's retry needs.
    cognito.failNext.set("AWSCognitoIdentityProviderService.AdminDeleteUser", 1);
    await expect(fn.invoke(deleteMeEvent(alice))).rejects.toThrow(/Injected failure/);
    expect(await holdings(alice, aliceEndpoints)).toEqual({ ...full, notes: 0, devices: 0, blocks: 0, endpoints: 0, objectVersions: 0 });

    // Lambda's retry: the same event again.
    const summary = await fn.invoke(deleteMeEvent(alice));
    expect(summary).toMatchObject({ identityId: alice.id, notes: 0, user: "deleted" });
    expect(await holdings(alice, aliceEndpoints)).toEqual({ notes: 0, devices: 0, blocks: 0, endpoints: 0, objectVersions: 0, user: false, identity: false });
    expect(await holdings(bob, bobEndpoints)).toEqual(full);

    expect(cognito.calls.map((c) => c.target).filter((t) => t.endsWith("DeleteIdentities"))).toHaveLength(1);
    expect(cognito.calls.find((c) => c.target.endsWith("ListUsers"))?.body).toEqual({ UserPoolId: USER_POOL_ID, Filter: `sub = "${alice.sub}"`, Limit: 2 });
    expect(cognito.calls.find((c) => c.target.endsWith("DeleteIdentities"))?.body).toEqual({ IdentityIdsToDelete: [alice.id] });
    // Nothing was asked of S3 that the role does not allow.
    expect(denied).toEqual([]);

    // A second DELETE /me finds nothing and succeeds.
    await expect(fn.invoke(deleteMeEvent(alice))).resolves.toMatchObject({ notes: 0, objectVersions: 0, user: "absent" });
});
