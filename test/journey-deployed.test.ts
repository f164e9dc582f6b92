/**
 * The deployed target of `npm run journey` (cli/journey-targets.ts) with its AWS clients mocked
 * (aws-sdk-client-mock): the throwaway users and the temporary SQS subscription are created as documented, and
 * whatever was created is removed, exactly that, also when a step or the setup fails.
 * The whole journey runs against a local backend in test/journey.test.ts.
 */
import * as http from "node:http";
import { CognitoIdentityClient, DeleteIdentitiesCommand, DescribeIdentityCommand } from "@aws-sdk/client-cognito-identity";
import {
    AdminCreateUserCommand,
    AdminDeleteUserCommand,
    AdminGetUserCommand,
    AdminSetUserPasswordCommand,
    CognitoIdentityProviderClient,
} from "@aws-sdk/client-cognito-identity-provider";
import { DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { DeleteObjectCommand, ListObjectVersionsCommand, S3Client } from "@aws-sdk/client-s3";
import { SNSClient, SubscribeCommand, UnsubscribeCommand } from "@aws-sdk/client-sns";
import {
    CreateQueueCommand,
    DeleteQueueCommand,
    GetQueueAttributesCommand,
    ReceiveMessageCommand,
    SQSClient,
    SetQueueAttributesCommand,
} from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { parseArguments, runJourney } from "../cli/journey";
import { deployedTarget, inboxMessages, journeyOutputs, watchTopic, type JourneyOutputs } from "../cli/journey-targets";
import { listenOnLoopback } from "./support/net";

const TOPIC = "arn:aws:sns:us-east-1:123456789012:mobile-backend-dev-notifications";
const BOB = "us-east-1:11111111-2222-3333-4444-555555555555";

const outputs: JourneyOutputs = journeyOutputs({
    region: "us-east-1",
    clientConfig: {
        apiUrl: "https://abc123.execute-api.us-east-1.amazonaws.com/dev",
        apiKey: "key",
        region: "us-east-1",
        identityPoolId: "us-east-1:99999999-8888-7777-6666-555555555555",
        userPoolId: "us-east-1_AbCdEf",
        userPoolClientId: "client",
        uploadsBucket: "uploads",
        uploadsPrefix: "uploads/",
        mediaBaseUrl: "https://d111.cloudfront.net",
        allowGuests: true,
        guestRoleArn: "arn:aws:iam::123456789012:role/guest",
    },
    notificationsTopicArn: TOPIC,
    notesTable: "notes",
    devicesTable: "devices",
    blocksTable: "blocks",
});

function mockedClients() {
    const clients = {
        cognitoIdentityProvider: new CognitoIdentityProviderClient({ region: "us-east-1" }),
        cognitoIdentity: new CognitoIdentityClient({ region: "us-east-1" }),
        dynamodb: new DynamoDBClient({ region: "us-east-1" }),
        s3: new S3Client({ region: "us-east-1" }),
        sns: new SNSClient({ region: "us-east-1" }),
        sqs: new SQSClient({ region: "us-east-1" }),
    };
    const mocks = {
        idp: mockClient(clients.cognitoIdentityProvider),
        identity: mockClient(clients.cognitoIdentity),
        dynamodb: mockClient(clients.dynamodb),
        s3: mockClient(clients.s3),
        sns: mockClient(clients.sns),
        sqs: mockClient(clients.sqs),
    };
    return { clients, mocks };
}

/** A user pool endpoint that refuses every sign-in as Cognito does for a wrong password. */
let refusingPool: http.Server;
let refusingPoolUrl: string;
beforeAll(async () => {
    refusingPool = http.createServer((req, res) => {
        req.resume();
        req.on("end", () => {
            res.writeHead(400, { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": "NotAuthorizedException" });
            res.end(JSON.stringify({ __type: "NotAuthorizedException", message: "Incorrect username or password." }));
        });
    });
    refusingPoolUrl = await listenOnLoopback(refusingPool);
});
afterAll(() => new Promise<void>((resolve) => refusingPool.close(() => resolve())));

describe("the deployed target", () => {
    it("creates throwaway users with admin calls (no invitation, permanent password) and removes exactly those when a step fails", async () => {
        const { clients, mocks } = mockedClients();
        let n = 0;
        mocks.idp.on(AdminCreateUserCommand).callsFake(() => ({ User: { Username: `sub-${++n}` } }));
        mocks.idp.on(AdminSetUserPasswordCommand).resolves({});
        mocks.idp.on(AdminDeleteUserCommand).resolves({});
        const lines: string[] = [];
        const target = deployedTarget(outputs, clients, "stage test", "t1", { cognitoIdentityProvider: refusingPoolUrl });

        const result = await runJourney(target, { suffix: "t1", log: (line) => lines.push(line) });

        expect(result.ok).toBe(false);
        expect(result.steps.map((s) => [s.name, s.status])).toEqual([
            ["alice signs up", "passed"],
            ["bob signs up", "passed"],
            ["alice signs in (SRP)", "failed"],
        ]);
        expect(result.steps[2].detail).toContain("Incorrect username or password.");
        expect(lines).toContainEqual(expect.stringMatching(/^✗ alice signs in \(SRP\) \(\d+ ms\): NotAuthorizedException: Incorrect username or password\.$/));
        const created = mocks.idp.commandCalls(AdminCreateUserCommand).map((c) => c.args[0].input);
        expect(created).toEqual([
            expect.objectContaining({ UserPoolId: "us-east-1_AbCdEf", Username: "journey-t1-alice@example.invalid", MessageAction: "SUPPRESS" }),
            expect.objectContaining({ UserPoolId: "us-east-1_AbCdEf", Username: "journey-t1-bob@example.invalid", MessageAction: "SUPPRESS" }),
        ]);
        expect(mocks.idp.commandCalls(AdminSetUserPasswordCommand).map((c) => [c.args[0].input.Username, c.args[0].input.Permanent])).toEqual([
            ["sub-1", true],
            ["sub-2", true],
        ]);
        // Exactly what was created: the two users; no identity, queue or subscription existed.
        expect(mocks.idp.commandCalls(AdminDeleteUserCommand).map((c) => c.args[0].input)).toEqual([
            { UserPoolId: "us-east-1_AbCdEf", Username: "sub-1" },
            { UserPoolId: "us-east-1_AbCdEf", Username: "sub-2" },
        ]);
        expect(result.cleanup.map((s) => s.status)).toEqual(["passed", "passed"]);
        expect(mocks.identity.commandCalls(DeleteIdentitiesCommand)).toHaveLength(0);
        expect(mocks.sqs.calls()).toHaveLength(0);
        expect(mocks.sns.calls()).toHaveLength(0);
    });

    it("removes a user whose setup failed half-way", async () => {
        const { clients, mocks } = mockedClients();
        let n = 0;
        mocks.idp.on(AdminCreateUserCommand).callsFake(() => ({ User: { Username: `sub-${++n}` } }));
        mocks.idp.on(AdminSetUserPasswordCommand, { Username: "sub-2" }).rejects(Object.assign(new Error("Password does not conform"), { name: "InvalidPasswordException" }));
        mocks.idp.on(AdminSetUserPasswordCommand, { Username: "sub-1" }).resolves({});
        mocks.idp.on(AdminDeleteUserCommand, { Username: "sub-2" }).rejects(Object.assign(new Error("gone"), { name: "UserNotFoundException" }));
        mocks.idp.on(AdminDeleteUserCommand, { Username: "sub-1" }).resolves({});

        const result = await runJourney(deployedTarget(outputs, clients, "stage test", "t2"), { suffix: "t2", log: () => undefined });

        expect(result.steps.map((s) => s.status)).toEqual(["passed", "failed"]);
        expect(mocks.idp.commandCalls(AdminDeleteUserCommand).map((c) => c.args[0].input.Username)).toEqual(["sub-1", "sub-2"]);
        // A user already gone counts as removed.
        expect(result.cleanup.every((s) => s.status === "passed")).toBe(true);
    });

    it("looks for what is left of an account in the stage's tables, bucket and pools", async () => {
        const { clients, mocks } = mockedClients();
        mocks.dynamodb.on(QueryCommand, { TableName: "notes" }).resolves({ Count: 2 });
        mocks.dynamodb.on(QueryCommand, { TableName: "devices" }).resolves({ Count: 0 });
        mocks.dynamodb.on(QueryCommand, { TableName: "blocks" }).resolves({ Count: 1 });
        mocks.s3.on(ListObjectVersionsCommand).resolves({ Versions: [{ Key: "k", VersionId: "1" }], DeleteMarkers: [{ Key: "k", VersionId: "2" }], IsTruncated: false });
        mocks.identity.on(DescribeIdentityCommand).resolves({ IdentityId: BOB });
        mocks.idp.on(AdminGetUserCommand).rejects(Object.assign(new Error("User does not exist."), { name: "UserNotFoundException" }));
        const target = deployedTarget(outputs, clients, "stage test", "t6");

        expect(await target.remains(BOB, "sub-b")).toEqual(["2 notes", "1 blocks", "2 upload versions", "the identity"]);
        expect(mocks.dynamodb.commandCalls(QueryCommand).map((c) => [c.args[0].input.TableName, c.args[0].input.ExpressionAttributeNames, c.args[0].input.ExpressionAttributeValues])).toEqual([
            ["notes", { "#k": "ownerId" }, { ":k": { S: BOB } }],
            ["devices", { "#k": "ownerId" }, { ":k": { S: BOB } }],
            ["blocks", { "#k": "recipientId" }, { ":k": { S: BOB } }],
        ]);
        expect(mocks.dynamodb.commandCalls(QueryCommand).every((c) => c.args[0].input.ConsistentRead === true)).toBe(true);
        expect(mocks.s3.commandCalls(ListObjectVersionsCommand)[0].args[0].input).toMatchObject({ Bucket: "uploads", Prefix: `uploads/${BOB}/` });
        expect(mocks.idp.commandCalls(AdminGetUserCommand)[0].args[0].input).toEqual({ UserPoolId: "us-east-1_AbCdEf", Username: "sub-b" });
    });

    it("removes every version and delete marker under an identity's uploads prefix, page after page", async () => {
        const { clients, mocks } = mockedClients();
        mocks.s3
            .on(ListObjectVersionsCommand)
            .resolvesOnce({ Versions: [{ Key: `uploads/${BOB}/a.jpg`, VersionId: "v1" }, { Key: `uploads/${BOB}/a.jpg`, VersionId: "v2" }], DeleteMarkers: [{ Key: `uploads/${BOB}/a.jpg`, VersionId: "m1" }], IsTruncated: true })
            .resolvesOnce({ Versions: [{ Key: `uploads/${BOB}/b.jpg`, VersionId: "v3" }], IsTruncated: false })
            .resolves({ IsTruncated: false });
        mocks.s3.on(DeleteObjectCommand).resolves({});
        const target = deployedTarget(outputs, clients, "stage test", "t7");
        expect(await target.removeUploads(BOB)).toBe(4);
        expect(mocks.s3.commandCalls(DeleteObjectCommand).map((c) => [c.args[0].input.Bucket, c.args[0].input.Key, c.args[0].input.VersionId])).toEqual([
            ["uploads", `uploads/${BOB}/a.jpg`, "v1"],
            ["uploads", `uploads/${BOB}/a.jpg`, "v2"],
            ["uploads", `uploads/${BOB}/a.jpg`, "m1"],
            ["uploads", `uploads/${BOB}/b.jpg`, "v3"],
        ]);
        expect(mocks.s3.commandCalls(ListObjectVersionsCommand).every((c) => c.args[0].input.Prefix === `uploads/${BOB}/`)).toBe(true);
    });

    it("reports an identity that DeleteIdentities could not delete", async () => {
        const { clients, mocks } = mockedClients();
        mocks.identity.on(DeleteIdentitiesCommand).resolves({ UnprocessedIdentityIds: [{ IdentityId: BOB, ErrorCode: "InternalServerError" }] });
        const target = deployedTarget(outputs, clients, "stage test", "t3");
        await expect(target.removeIdentity(BOB)).rejects.toThrow("InternalServerError");
    });
});

describe("the temporary topic subscription", () => {
    it("subscribes a new queue to the stage topic, filtered on the recipient, that only the topic may send to; stop removes both", async () => {
        const { clients, mocks } = mockedClients();
        mocks.sqs.on(CreateQueueCommand).resolves({ QueueUrl: "https://sqs/q" });
        mocks.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { QueueArn: "arn:aws:sqs:us-east-1:123456789012:journey-t4" } });
        mocks.sqs.on(SetQueueAttributesCommand).resolves({});
        mocks.sns.on(SubscribeCommand).resolves({ SubscriptionArn: `${TOPIC}:sub` });
        mocks.sns.on(UnsubscribeCommand).resolves({});
        mocks.sqs.on(DeleteQueueCommand).resolves({});
        mocks.sqs.on(ReceiveMessageCommand).resolvesOnce({
            Messages: [
                { Body: JSON.stringify({ recipientId: BOB, from: "x", message: "for bob" }) },
                // Before the filter policy has taken effect everywhere, another recipient's message may come through.
                { Body: JSON.stringify({ recipientId: "us-east-1:00000000-0000-0000-0000-000000000000", message: "not for bob" }) },
            ],
        });

        const watch = await watchTopic(clients, TOPIC, BOB, "journey-t4");

        expect(mocks.sqs.commandCalls(CreateQueueCommand)[0].args[0].input.QueueName).toBe("journey-t4");
        const policy = JSON.parse(mocks.sqs.commandCalls(SetQueueAttributesCommand)[0].args[0].input.Attributes!.Policy!);
        expect(policy.Statement).toEqual([
            {
                Effect: "Allow",
                Principal: { Service: "sns.amazonaws.com" },
                Action: "sqs:SendMessage",
                Resource: "arn:aws:sqs:us-east-1:123456789012:journey-t4",
                Condition: { ArnEquals: { "aws:SourceArn": TOPIC } },
            },
        ]);
        const subscribe = mocks.sns.commandCalls(SubscribeCommand)[0].args[0].input;
        expect(subscribe).toMatchObject({ TopicArn: TOPIC, Protocol: "sqs", Endpoint: "arn:aws:sqs:us-east-1:123456789012:journey-t4", ReturnSubscriptionArn: true });
        expect(JSON.parse(subscribe.Attributes!.FilterPolicy!)).toEqual({ recipientId: [BOB] });
        expect(subscribe.Attributes!.RawMessageDelivery).toBe("true");

        const received = await watch.received();
        expect(received).toHaveLength(1);
        expect(received[0]).toContain("for bob");

        await watch.stop();
        expect(mocks.sns.commandCalls(UnsubscribeCommand)[0].args[0].input).toEqual({ SubscriptionArn: `${TOPIC}:sub` });
        expect(mocks.sqs.commandCalls(DeleteQueueCommand)[0].args[0].input).toEqual({ QueueUrl: "https://sqs/q" });
    });

    it("deletes the queue when the subscription cannot be made", async () => {
        const { clients, mocks } = mockedClients();
        mocks.sqs.on(CreateQueueCommand).resolves({ QueueUrl: "https://sqs/q" });
        mocks.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { QueueArn: "arn:aws:sqs:us-east-1:123456789012:journey-t5" } });
        mocks.sqs.on(SetQueueAttributesCommand).resolves({});
        mocks.sns.on(SubscribeCommand).rejects(Object.assign(new Error("not allowed"), { name: "AuthorizationErrorException" }));
        mocks.sqs.on(DeleteQueueCommand).resolves({});

        await expect(watchTopic(clients, TOPIC, BOB, "journey-t5")).rejects.toThrow("not allowed");
        expect(mocks.sqs.commandCalls(DeleteQueueCommand)).toHaveLength(1);
        expect(mocks.sns.commandCalls(UnsubscribeCommand)).toHaveLength(0);
    });
});

describe("the command line", () => {
    it("takes --local [--data DIR] or --stack/--outputs, not both", () => {
        expect(parseArguments(["--local"])).toEqual({ local: true, data: ".data" });
        expect(parseArguments(["--local", "--data", "/tmp/x"])).toEqual({ local: true, data: "/tmp/x" });
        expect(parseArguments(["--stack", "dev"])).toMatchObject({ local: false, stack: "dev" });
        expect(() => parseArguments([])).toThrow("either --local or --stack");
        expect(() => parseArguments(["--local", "--stack", "dev"])).toThrow("either --local or --stack");
        expect(() => parseArguments(["--stack"])).toThrow("--stack needs a value");
    });

    it("names the stack outputs a deployed journey needs", () => {
        expect(() => journeyOutputs({ region: "us-east-1", notesTable: "n" })).toThrow("clientConfig, notificationsTopicArn, devicesTable, blocksTable");
    });

    it("reads the local inbox's messages whatever array holds them", () => {
        expect(inboxMessages([{ message: "a" }])).toEqual(['{"message":"a"}']);
        expect(inboxMessages({ recipientId: BOB, messages: ["x", { m: 1 }] })).toEqual(["x", '{"m":1}']);
        expect(inboxMessages({})).toEqual([]);
    });
});
