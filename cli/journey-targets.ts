/**
 * Where `npm run journey` runs: a local backend (`npm start`, read from its client-config.json) or a deployed
 * stage (read from its stack outputs, with the operator's AWS credentials). A target does what the app cannot:
 * create the throwaway users, watch a recipient's notifications, look at the stage's data from outside to check
 * that a deleted account left nothing, and remove users and identities afterwards.
 */
import * as fs from "node:fs";
import * as path from "node:path";
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
import { uploadPrefix } from "../functions/media";
import type { OperatorCredentials } from "../local/operator";
import { NOTES_TABLE_KEYS } from "../infra/data";
import { BLOCKS_TABLE_KEYS, DEVICES_TABLE_KEYS } from "../infra/notifications";
import { signUp, type AppConfig, type AppEndpoints } from "./journey-client";

/** Notifications that reached a recipient's channel (device inbox or topic subscription). */
export interface NotificationWatch {
    /** What the channel is, for the step lines. */
    description: string;
    /** Every message received for the recipient so far (the raw text of each). */
    received(): Promise<string[]>;
    /** Removes what watching needed (subscription, queue). */
    stop(): Promise<void>;
}

/** The stage's tables the checks read. */
export interface JourneyTables {
    notes: string;
    devices: string;
    blocks: string;
}

/** What the journey runs against. */
export interface JourneyTarget {
    /** "local backend (.data)" or "stage dev", for the first line. */
    description: string;
    app: AppConfig;
    endpoints: AppEndpoints;
    /**
     * Creates a user who can sign in with SRP at once. Locally the app's own SignUp (the local pool confirms
     * at once); on a stage AdminCreateUser (no invitation) and AdminSetUserPassword (permanent). `created` is
     * called as soon as the user exists, so that a failure after it still removes the user.
     */
    createUser(email: string, password: string, created: (username: string) => void): Promise<string>;
    /** Starts watching what arrives for `recipientId`. */
    watch(recipientId: string): Promise<NotificationWatch>;
    /** What is left of an identity's data and account, one line per kind; empty when everything is gone. */
    remains(identityId: string, username: string): Promise<string[]>;
    /** Removes every version and delete marker under an identity's uploads prefix; answers how many. */
    removeUploads(identityId: string): Promise<number>;
    /** Removes an identity (DeleteIdentities); already gone is fine. */
    removeIdentity(identityId: string): Promise<void>;
    /** Removes a user-pool user (AdminDeleteUser); already gone is fine. */
    removeUser(username: string): Promise<void>;
    /** Releases the target's clients. */
    close(): void;
}

/** The AWS clients a target uses with the operator's (or, locally, any) credentials. Tests inject mocked ones. */
export interface TargetClients {
    cognitoIdentityProvider: CognitoIdentityProviderClient;
    cognitoIdentity: CognitoIdentityClient;
    dynamodb: DynamoDBClient;
    s3: S3Client;
    sns?: SNSClient;
    sqs?: SQSClient;
}

const errorName = (err: unknown) => (err as { name?: string }).name ?? "";

/** Counts an identity's items in a table (strongly consistent Query on the partition key). */
async function countItems(db: DynamoDBClient, table: string, hashKey: string, identityId: string): Promise<number> {
    let count = 0;
    let start: Record<string, import("@aws-sdk/client-dynamodb").AttributeValue> | undefined;
    do {
        const page = await db.send(
            new QueryCommand({
                TableName: table,
                KeyConditionExpression: "#k = :k",
                ExpressionAttributeNames: { "#k": hashKey },
                ExpressionAttributeValues: { ":k": { S: identityId } },
                Select: "COUNT",
                ConsistentRead: true,
                ExclusiveStartKey: start,
            }),
        );
        count += page.Count ?? 0;
        start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return count;
}

/** Object versions and delete markers under a prefix (all pages). */
async function countVersions(s3: S3Client, bucket: string, prefix: string): Promise<number> {
    let count = 0;
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
        const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionMarker }));
        count += (page.Versions?.length ?? 0) + (page.DeleteMarkers?.length ?? 0);
        if (!page.IsTruncated) return count;
        keyMarker = page.NextKeyMarker;
        versionMarker = page.NextVersionIdMarker;
    }
}

/**
 * The checks and removals both targets make the same way, through the clients they are given: the operator's on a
 * stage, the local operator's (local/operator.ts) locally.
 */
function accountChecks(app: AppConfig, tables: JourneyTables, clients: TargetClients) {
    return {
        async remains(identityId: string, username: string): Promise<string[]> {
            const left: string[] = [];
            const counted: [string, string, string][] = [
                ["notes", tables.notes, NOTES_TABLE_KEYS.hashKey],
                ["devices", tables.devices, DEVICES_TABLE_KEYS.hashKey],
                ["blocks", tables.blocks, BLOCKS_TABLE_KEYS.hashKey],
            ];
            for (const [label, table, key] of counted) {
                const n = await countItems(clients.dynamodb, table, key, identityId);
                if (n > 0) left.push(`${n} ${label}`);
            }
            const versions = await countVersions(clients.s3, app.uploadsBucket, uploadPrefix(identityId));
            if (versions > 0) left.push(`${versions} upload versions`);
            try {
                await clients.cognitoIdentity.send(new DescribeIdentityCommand({ IdentityId: identityId }));
                left.push("the identity");
            } catch (err) {
                if (errorName(err) !== "ResourceNotFoundException") throw err;
            }
            try {
                await clients.cognitoIdentityProvider.send(new AdminGetUserCommand({ UserPoolId: app.userPoolId, Username: username }));
                left.push("the user-pool user");
            } catch (err) {
                if (errorName(err) !== "UserNotFoundException") throw err;
            }
            return left;
        },
        async removeUploads(identityId: string): Promise<number> {
            // Every version and delete marker: on a versioned bucket (stages that retain their data) DELETE /uploads
            // leaves the photo as a noncurrent version for the lifecycle rule's days.
            let removed = 0;
            for (;;) {
                const page = await clients.s3.send(new ListObjectVersionsCommand({ Bucket: app.uploadsBucket, Prefix: uploadPrefix(identityId) }));
                const versions = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])];
                if (versions.length === 0) return removed;
                for (const v of versions) {
                    await clients.s3.send(new DeleteObjectCommand({ Bucket: app.uploadsBucket, Key: v.Key, VersionId: v.VersionId }));
                    removed += 1;
                }
            }
        },
        async removeIdentity(identityId: string): Promise<void> {
            const { UnprocessedIdentityIds } = await clients.cognitoIdentity.send(new DeleteIdentitiesCommand({ IdentityIdsToDelete: [identityId] }));
            const failed = (UnprocessedIdentityIds ?? []).filter((u) => u.ErrorCode !== undefined);
            if (failed.length > 0) throw new Error(`DeleteIdentities left ${identityId}: ${failed.map((f) => f.ErrorCode).join(", ")}`);
        },
        async removeUser(username: string): Promise<void> {
            try {
                await clients.cognitoIdentityProvider.send(new AdminDeleteUserCommand({ UserPoolId: app.userPoolId, Username: username }));
            } catch (err) {
                if (errorName(err) !== "UserNotFoundException") throw err;
            }
        },
    };
}

// ---------------------------------------------------------------------------------------------------------------
// Local: a running `npm start`.

/** `<data dir>/client-config.json` as the local backend writes it (the keys the journey reads). */
export interface LocalClientConfigFile extends AppConfig {
    endpoints: AppEndpoints & { s3?: string; dynamodb?: string; sns?: string; sqs?: string };
    inbox?: string;
    tables?: Partial<JourneyTables> & { limits?: string };
}


/** Reads `<dataDir>/client-config.json` of a running `npm start`. */
export function readLocalClientConfig(dataDir: string): LocalClientConfigFile {
    const file = path.join(dataDir, "client-config.json");
    if (!fs.existsSync(file)) throw new Error(`${file} does not exist: start the local backend first (npm start${dataDir === ".data" ? "" : ` -- --data ${dataDir}`})`);
    return JSON.parse(fs.readFileSync(file, "utf8")) as LocalClientConfigFile;
}

/** A target for the local backend whose client config is `config` (what `npm start` wrote), looked at with its operator's credentials. */
export function localTarget(config: LocalClientConfigFile, operator: OperatorCredentials, description = "local backend"): JourneyTarget {
    const missing = [
        ["endpoints.cognitoIdentityProvider", config.endpoints?.cognitoIdentityProvider],
        ["endpoints.cognitoIdentity", config.endpoints?.cognitoIdentity],
        ["endpoints.dynamodb", config.endpoints?.dynamodb],
        ["endpoints.s3", config.endpoints?.s3],
        ["inbox", config.inbox],
        ["tables.notes", config.tables?.notes],
        ["tables.devices", config.tables?.devices],
        ["tables.blocks", config.tables?.blocks],
    ]
        .filter(([, value]) => !value)
        .map(([key]) => key);
    if (missing.length > 0) throw new Error(`the local client config has no ${missing.join(", ")}: start the current local backend (npm start)`);
    const region = config.region;
    const local = { region, credentials: operator };
    const clients: TargetClients = {
        cognitoIdentityProvider: new CognitoIdentityProviderClient({ ...local, endpoint: config.endpoints.cognitoIdentityProvider }),
        cognitoIdentity: new CognitoIdentityClient({ ...local, endpoint: config.endpoints.cognitoIdentity }),
        dynamodb: new DynamoDBClient({ ...local, endpoint: config.endpoints.dynamodb }),
        s3: new S3Client({ ...local, endpoint: config.endpoints.s3, forcePathStyle: true }),
    };
    const endpoints: AppEndpoints = {
        cognitoIdentityProvider: config.endpoints.cognitoIdentityProvider,
        cognitoIdentity: config.endpoints.cognitoIdentity,
        // The local Cognito answers STS's AssumeRoleWithWebIdentity on its own URL.
        sts: config.endpoints.sts ?? config.endpoints.cognitoIdentity,
    };
    const inbox = config.inbox as string;
    const checks = accountChecks(config, config.tables as JourneyTables, clients);
    return {
        description,
        app: config,
        endpoints,
        async createUser(email, password, created) {
            const { username, confirmed } = await signUp(config, endpoints, email, password);
            created(username);
            if (!confirmed) throw new Error("the local user pool did not confirm the user at sign-up");
            return username;
        },
        async watch(recipientId) {
            const url = `${inbox}${inbox.includes("?") ? "&" : "?"}recipientId=${encodeURIComponent(recipientId)}`;
            // Everything seen is kept: the inbox may forget a device's pushes once the device is deleted.
            const seen = new Set<string>();
            return {
                description: "the device inbox",
                async received() {
                    const response = await fetch(url);
                    if (response.status !== 200) throw new Error(`the inbox answered ${response.status}`);
                    for (const message of inboxMessages(await response.json())) seen.add(message);
                    return [...seen];
                },
                stop: async () => undefined,
            };
        },
        ...checks,
        close() {
            for (const client of Object.values(clients)) (client as { destroy(): void }).destroy();
        },
    };
}

/** The messages of an inbox answer: each element of the first array found (`[...]`, `{messages: [...]}`, ...), as JSON text. */
export function inboxMessages(answer: unknown): string[] {
    if (Array.isArray(answer)) return answer.map((m) => (typeof m === "string" ? m : JSON.stringify(m)));
    if (answer !== null && typeof answer === "object") {
        for (const value of Object.values(answer)) if (Array.isArray(value)) return inboxMessages(value);
    }
    return [];
}

// ---------------------------------------------------------------------------------------------------------------
// Deployed: a stage's stack outputs and the operator's credentials.

/** The stack outputs the journey needs on a deployed stage. */
export interface JourneyOutputs {
    region: string;
    clientConfig: AppConfig;
    notificationsTopicArn: string;
    notesTable: string;
    devicesTable: string;
    blocksTable: string;
}

/** Checks the outputs (`pulumi stack output --json --show-secrets`); throws naming what is missing. */
export function journeyOutputs(outputs: Record<string, unknown>): JourneyOutputs {
    const missing = ["region", "clientConfig", "notificationsTopicArn", "notesTable", "devicesTable", "blocksTable"].filter((k) => outputs[k] === undefined);
    if (missing.length > 0) throw new Error(`the stack outputs have no ${missing.join(", ")}: deploy the current program first (and read them with --show-secrets)`);
    const clientConfig = outputs.clientConfig as Partial<AppConfig>;
    const absent = (["apiUrl", "apiKey", "region", "identityPoolId", "userPoolId", "userPoolClientId", "uploadsBucket", "mediaBaseUrl"] as const).filter(
        (k) => typeof clientConfig[k] !== "string",
    );
    if (absent.length > 0) throw new Error(`the clientConfig output has no ${absent.join(", ")} (was it read with --show-secrets?)`);
    return outputs as unknown as JourneyOutputs;
}

/** Makes the operator's clients for a stage (the default credential chain). */
export function operatorClients(region: string): Required<TargetClients> {
    return {
        cognitoIdentityProvider: new CognitoIdentityProviderClient({ region }),
        cognitoIdentity: new CognitoIdentityClient({ region }),
        dynamodb: new DynamoDBClient({ region }),
        s3: new S3Client({ region }),
        sns: new SNSClient({ region }),
        sqs: new SQSClient({ region }),
    };
}

/**
 * A target for a deployed stage. `suffix` names the temporary queue; `endpoints` (tests only) sends the app's
 * identity clients elsewhere.
 */
export function deployedTarget(
    outputs: JourneyOutputs,
    clients: Required<TargetClients>,
    description: string,
    suffix: string,
    endpoints: AppEndpoints = {},
): JourneyTarget {
    const app = outputs.clientConfig;
    const tables = { notes: outputs.notesTable, devices: outputs.devicesTable, blocks: outputs.blocksTable };
    const checks = accountChecks(app, tables, clients);
    return {
        description,
        app,
        endpoints,
        async createUser(email, password, created) {
            const { User } = await clients.cognitoIdentityProvider.send(
                new AdminCreateUserCommand({
                    UserPoolId: app.userPoolId,
                    Username: email,
                    UserAttributes: [
                        { Name: "email", Value: email },
                        { Name: "email_verified", Value: "true" },
                    ],
                    // No invitation email: the address is not real (.invalid, RFC 2606).
                    MessageAction: "SUPPRESS",
                }),
            );
            const username = User?.Username;
            if (!username) throw new Error("AdminCreateUser answered no username");
            created(username);
            await clients.cognitoIdentityProvider.send(
                new AdminSetUserPasswordCommand({ UserPoolId: app.userPoolId, Username: username, Password: password, Permanent: true }),
            );
            return username;
        },
        async watch(recipientId) {
            return watchTopic(clients, outputs.notificationsTopicArn, recipientId, `journey-${suffix}`);
        },
        ...checks,
        close() {
            for (const client of Object.values(clients)) (client as { destroy(): void }).destroy();
        },
    };
}

/**
 * A temporary SQS queue subscribed to the stage's topic with a filter policy on the `recipientId` attribute the
 * sender sets, and raw delivery (the body is the topic message: `{recipientId, from, title, message, data}`). The
 * queue policy lets only this topic send to it ("Subscribing an Amazon SQS queue to an Amazon SNS topic", SNS
 * developer guide). A subscription's filter policy may take minutes to take effect everywhere (SNS "subscription
 * filter policies": eventually consistent), so messages are also filtered here on the body's `recipientId`.
 * Whatever was created is removed by `stop`, also when a later part of the setup failed.
 */
export async function watchTopic(clients: Pick<Required<TargetClients>, "sns" | "sqs">, topicArn: string, recipientId: string, queueName: string): Promise<NotificationWatch> {
    const { sqs, sns } = clients;
    let queueUrl: string | undefined;
    let subscriptionArn: string | undefined;
    const stop = async () => {
        const problems: string[] = [];
        if (subscriptionArn) {
            await sns.send(new UnsubscribeCommand({ SubscriptionArn: subscriptionArn })).catch((err: Error) => problems.push(`Unsubscribe: ${err.message}`));
        }
        if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch((err: Error) => problems.push(`DeleteQueue: ${err.message}`));
        if (problems.length > 0) throw new Error(problems.join("; "));
    };
    try {
        queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: queueName, Attributes: { MessageRetentionPeriod: "3600" } }))).QueueUrl;
        if (!queueUrl) throw new Error("CreateQueue answered no QueueUrl");
        const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }));
        const queueArn = Attributes?.QueueArn;
        if (!queueArn) throw new Error("GetQueueAttributes answered no QueueArn");
        await sqs.send(
            new SetQueueAttributesCommand({
                QueueUrl: queueUrl,
                Attributes: {
                    Policy: JSON.stringify({
                        Version: "2012-10-17",
                        Statement: [
                            {
                                Effect: "Allow",
                                Principal: { Service: "sns.amazonaws.com" },
                                Action: "sqs:SendMessage",
                                Resource: queueArn,
                                Condition: { ArnEquals: { "aws:SourceArn": topicArn } },
                            },
                        ],
                    }),
                },
            }),
        );
        subscriptionArn = (
            await sns.send(
                new SubscribeCommand({
                    TopicArn: topicArn,
                    Protocol: "sqs",
                    Endpoint: queueArn,
                    Attributes: { FilterPolicy: JSON.stringify({ recipientId: [recipientId] }), RawMessageDelivery: "true" },
                    ReturnSubscriptionArn: true,
                }),
            )
        ).SubscriptionArn;
    } catch (err) {
        await stop().catch(() => undefined);
        throw err;
    }
    const seen: string[] = [];
    const url = queueUrl;
    return {
        description: "the stage topic (temporary SQS subscription)",
        async received() {
            // Long polling answers as soon as a message is there (at most 2 s of waiting per call).
            const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 2, VisibilityTimeout: 600 }));
            for (const m of Messages ?? []) {
                let recipient: unknown;
                try {
                    recipient = (JSON.parse(m.Body ?? "") as { recipientId?: unknown }).recipientId;
                } catch {
                    recipient = undefined;
                }
                if (recipient === recipientId) seen.push(m.Body ?? "");
            }
            return [...seen];
        },
        stop,
    };
}
