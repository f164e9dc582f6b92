/**
 * The whole backend on one machine (`npm start`, and the tests that drive it): the stage's settings read
 * from its stack file (`Pulumi.<stage>.yaml`, through the same `parseStageConfig` the program uses), the
 * tables created from the program's key declarations, the functions of infra/handlers/ in workers of
 * their own (local/functions.ts), the API the program deploys (infra/routes.ts → infra/openapi.ts, served
 * by local/api.ts), S3 and the media URL (local/s3.ts), search (local/opensearch.ts), push (SNS), the
 * failure queues and the identity pools.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { parse as parseYaml } from "yaml";
import { DEVICES_BY_ENDPOINT } from "../functions/notification-schema";
import { reindexTable, type ReindexCheckpoint } from "../functions/reindex";
import { parseStageConfig, type StageConfig } from "../infra/config";
import {
    ACCOUNT_FUNCTION_UPLOADS_ACCESS,
    BLOCKS_TABLE_KEYS,
    DEVICES_TABLE_KEYS,
    IDENTITY_ID,
    IDENTITY_UPLOADS_ACCESS,
    LIMITS_TABLE_KEYS,
    NOTES_FUNCTION_UPLOADS_ACCESS,
    NOTES_STREAM_VIEW_TYPE,
    NOTES_TABLE_KEYS,
    OPENSEARCH_INDEX,
    UPLOADS_FUNCTION_UPLOADS_ACCESS,
    UPLOADS_PREFIX,
    uploadsCorsRules,
    type UploadsBucketStatement,
} from "../infra/declarations";
import { accountEnvironment } from "../infra/handlers/account";
import { blocksEnvironment } from "../infra/handlers/blocks";
import { notesEnvironment } from "../infra/handlers/notes";
import { openSearchIndexerEnvironment, openSearchSearchEnvironment } from "../infra/handlers/opensearch";
import { pushEnvironment } from "../infra/handlers/push";
import type { FairUseEnvironment } from "../infra/handlers/types";
import { uploadsEnvironment } from "../infra/handlers/uploads";
import { PASSWORD_POLICY } from "../infra/identity-settings";
import { openApiDocument } from "../infra/openapi";
import { stageRoutes } from "../infra/routes";
import { localIntegrationUri, startApi, type CallerCredentials, type LocalApi, type UsagePlan } from "./api";
import { startFunctions, type FunctionRuntime, type FunctionSpec } from "./functions";
import { start as startOpenSearch, type LocalOpenSearch } from "./opensearch";
import { startCognito, type LocalCognito } from "./cognito";
import type { ClientConfig } from "../infra/declarations";
import { operatorCredentials } from "./operator";
import { startS3, statementsAllow, type LocalS3 } from "./s3";
import { createTableInput, startLocalDynamoDb } from "./dynamodb";
import { createPlatformApplicationsAndTopic, startSns, type LocalSns } from "./sns";
import { start as startSqs } from "./sqs";

/** The module of infra/handlers/ that exports each factory. */
const FACTORY_MODULES: Record<string, string> = {
    notesFunction: "notes",
    uploadsFunction: "uploads",
    devicesFunction: "push",
    senderFunction: "push",
    blocksFunction: "blocks",
    openSearchSearchFunction: "opensearch",
    openSearchIndexerFunction: "opensearch",
    accountFunction: "account",
};

/** The account id of every local ARN. */
export const LOCAL_ACCOUNT_ID = "123456789012";

export interface BackendOptions {
    /** Project root (Pulumi.yaml, the stack files, functions/). Default: this repository. */
    root?: string;
    /** Stage whose stack file is read. Default `dev`. */
    stage?: string;
    /** The first of the consecutive ports used (API, then the services, see {@link SERVICE_ORDER}). Default 0: ephemeral ports. */
    port?: number;
    /** State kept between runs. Default `<root>/.data`. */
    dataDir?: string;
    /** Reload the functions when a file under functions/ (or infra/handlers/) changes. Default `true`. */
    hotReload?: boolean;
    /** Waits between the retries of an asynchronous invocation, in ms. Default Lambda's 1 and 2 minutes. */
    asyncRetryDelaysMs?: number[];
    /** One line per event (requests, function logs). Default: nothing. */
    log?: (line: string) => void;
    /** Replaces settings of the stage's usage plan (e.g. the bench lifts the throttle). Default: the stack file's. */
    usagePlan?: Partial<UsagePlan>;
}

/** The services in port order: `--port N` gives the API N, Cognito N+1, and so on. */
export const SERVICE_ORDER = ["api", "cognito", "s3", "dynamodb", "opensearch", "sns", "sqs"] as const;
export type ServiceName = (typeof SERVICE_ORDER)[number];

/** `<data dir>/client-config.json`: the deployed `clientConfig` output's keys, and the local endpoints. */
export interface LocalClientConfig extends ClientConfig {
    /** Where each AWS client goes instead of AWS (the SDK's `endpoint`, or `AWS_ENDPOINT_URL_<SERVICE>`). */
    endpoints: {
        cognitoIdentityProvider: string;
        cognitoIdentity: string;
        s3: string;
        dynamodb: string;
        sns: string;
        sqs: string;
        opensearch: string;
    };
    /** The device inbox: `GET <inbox>?recipientId=…` lists what a recipient's devices (and topic subscribers) received. */
    inbox: string;
    /** The stage's tables. */
    tables: { notes: string; devices: string; blocks: string; limits: string };
    /** The failure queues' URLs by purpose (asynchronous pushes, account deletions, search stream records). */
    failureQueues: { notifications: string; account: string; search?: string };
    /** The OpenAPI document the API serves. */
    openApiUrl: string;
}

export interface LocalBackend {
    clientConfig: LocalClientConfig;
    /** Where client-config.json was written. */
    clientConfigPath: string;
    dataDir: string;
    config: StageConfig;
    /** Every service's base URL, for the startup table. */
    services: Record<string, string>;
    functions: FunctionRuntime;
    /**
     * Temporary credentials of the signed-in role for an identity, without a sign-in (the bench and tests that
     * need many identities); apps get theirs from the local identity pool.
     */
    issueCredentials(identityId: string, authenticated?: boolean): { accessKeyId: string; secretAccessKey: string; sessionToken: string };
    /** Messages of a failure queue by purpose (oldest first). */
    failedMessages(queue: "notifications" | "account" | "search"): string[];
    /** Resolves once the asynchronous invocations and the stream records so far have been handled (retries included). */
    idle(): Promise<void>;
    /** Resolves once every function is up and the search index is rebuilt from the table. */
    warm(): Promise<void>;
    stop(): Promise<void>;
}

/** Ids that stay the same between runs on one data dir (an app keeps its client-config.json). */
interface PersistentIds {
    apiId: string;
    apiKey: string;
    apiKeyId: string;
    userPoolId: string;
    userPoolClientId: string;
    identityPoolId: string;
}

/** Reads `Pulumi.<stage>.yaml` as the program would get it, without Pulumi: `parseStageConfig` with its region. */
export function readStageConfig(root: string, stage: string): { config: StageConfig; region: string; project: string } {
    const project = (parseYaml(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as { name: string }).name;
    const text = fs.readFileSync(path.join(root, `Pulumi.${stage}.yaml`), "utf8");
    const file = (parseYaml(text) as { config?: Record<string, unknown> } | null)?.config ?? {};
    const raw: Record<string, unknown> = {};
    // Encrypted values (`secure:`) need the Pulumi CLI to decrypt: locally they are left out, as if unset.
    const withoutSecrets = (value: unknown): unknown => {
        if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
            if (v !== null && typeof v === "object" && !Array.isArray(v) && "secure" in v) continue;
            out[k] = withoutSecrets(v);
        }
        return out;
    };
    for (const [key, value] of Object.entries(file)) {
        if (!key.startsWith(`${project}:`)) continue;
        // Pulumi hands top-level scalars over as text (see parseConfigText in infra/config.ts).
        raw[key.slice(project.length + 1)] = value !== null && typeof value === "object" ? withoutSecrets(value) : String(value);
    }
    const region = String(file["aws:region"] ?? "us-east-1");
    const config = parseStageConfig(stage, raw, new Set(), { plainInStackFile: new Set(), region });
    return { config, region, project };
}

function loadIds(file: string, region: string, stage: string): PersistentIds {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as PersistentIds;
    } catch {
        const hex = (n: number) => randomBytes(n).toString("hex");
        const alnum = (n: number) =>
            Array.from(randomBytes(n), (b) => "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36]).join("");
        const uuid = createHash("sha256").update(hex(16)).digest("hex");
        const ids: PersistentIds = {
            apiId: alnum(10),
            apiKey: randomBytes(30).toString("base64url").slice(0, 40),
            apiKeyId: alnum(10),
            userPoolId: `${region}_local${stage.replace(/[^A-Za-z0-9]/g, "")}${alnum(4)}`,
            userPoolClientId: alnum(26),
            identityPoolId: `${region}:${uuid.slice(0, 8)}-${uuid.slice(8, 12)}-${uuid.slice(12, 16)}-${uuid.slice(16, 20)}-${uuid.slice(20, 32)}`,
        };
        fs.writeFileSync(file, JSON.stringify(ids, null, 2));
        return ids;
    }
}

/**
 * Data dirs written before the endpoint kept every version kept only the current objects, saved on stop
 * (`index.json`): they become the bucket's objects, written through in the endpoint's own format.
 */
export function adoptSavedObjects(s3: LocalS3, bucket: string, dir: string): void {
    const index = path.join(dir, "index.json");
    if (!fs.existsSync(index) || fs.existsSync(path.join(dir, "versions.json"))) return;
    // Every body is read before the first put (the new format writes through to the same folder); the old body
    // files go once the list that replaces them is written.
    const entries = (JSON.parse(fs.readFileSync(index, "utf8")) as { key: string; file: string; contentType: string }[]).map((e) => ({
        ...e,
        body: fs.readFileSync(path.join(dir, e.file)),
    }));
    for (const e of entries) s3.put(bucket, e.key, e.body, e.contentType);
    fs.rmSync(index);
    for (const e of entries) fs.rmSync(path.join(dir, e.file), { force: true });
}

/** Starts everything; resolves when the API answers and every function has built its handler. */
export async function startBackend(options: BackendOptions = {}): Promise<LocalBackend> {
    const root = options.root ?? path.resolve(__dirname, "..");
    const stageName = options.stage ?? "dev";
    const dataDir = path.resolve(options.dataDir ?? path.join(root, ".data"));
    const log = options.log ?? (() => undefined);
    fs.mkdirSync(dataDir, { recursive: true });
    const portOf = (service: ServiceName) => (options.port ? options.port + SERVICE_ORDER.indexOf(service) : 0);

    const { config, region, project } = readStageConfig(root, stageName);
    const ids = loadIds(path.join(dataDir, "ids.json"), region, stageName);
    const prefix = `${project}-${stageName}`;
    const names = {
        notesTable: `${prefix}-notes`,
        limitsTable: `${prefix}-limits`,
        devicesTable: `${prefix}-devices`,
        blocksTable: `${prefix}-blocks`,
        bucket: `${prefix}-uploads`,
        topic: `${prefix}-notifications`,
        failedPushes: `${prefix}-failed-pushes`,
        failedRecords: `${prefix}-failed-records`,
        failedDeletions: `${prefix}-account-failures`,
        signedInRole: `${prefix}-signed-in`,
        guestRole: `${prefix}-guest`,
    };
    const functionArn = (name: string) => `arn:aws:lambda:${region}:${LOCAL_ACCOUNT_ID}:function:${name}`;

    const stops: (() => Promise<void>)[] = [];
    const stopAll = async () => {
        for (const stop of stops.reverse()) await stop().catch((err) => log(`stopping: ${String(err)}`));
        stops.length = 0;
    };
    try {
        // Credentials: the operator's (local/operator.ts), the functions' (one per function, as its role's) and the identities'.
        const operator = operatorCredentials(dataDir, true);
        const functionSecrets = new Map<string, { name: string; secret: string }>();
        const identityCredentials = new Map<string, CallerCredentials>();
        const functionCredentials = (name: string) => {
            const accessKeyId = `AKIALOCAL${createHash("sha256").update(name).digest("hex").slice(0, 11).toUpperCase()}`;
            const secret = createHash("sha256").update(`${ids.apiKey}:${name}`).digest("base64").slice(0, 40);
            functionSecrets.set(accessKeyId, { name, secret });
            return { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secret };
        };

        // Identities: the user pool and identity pool (local/cognito.ts), whose credentials the API and S3 verify.
        const cognito: LocalCognito = await startCognito({
            region,
            userPoolId: ids.userPoolId,
            userPoolClientId: ids.userPoolClientId,
            identityPoolId: ids.identityPoolId,
            allowGuests: config.identity.allowGuests,
            passwordPolicy: PASSWORD_POLICY,
            accountId: LOCAL_ACCOUNT_ID,
            dataDir: path.join(dataDir, "cognito"),
            port: portOf("cognito"),
            log: (line) => log(`[cognito] ${line}`),
        });
        stops.push(() => cognito.stop());
        const signedInRoleArn = cognito.signedInRoleArn;
        const guestRoleArn = cognito.guestRoleArn;
        const callerCredentials = (accessKeyId: string): CallerCredentials | undefined => {
            const issued = cognito.credentials(accessKeyId);
            if (!issued) return identityCredentials.get(accessKeyId);
            return {
                secretAccessKey: issued.secretAccessKey,
                sessionToken: issued.sessionToken,
                expiration: issued.expiration,
                identityId: issued.identityId,
                authenticated: issued.authenticated,
                authenticationProvider: issued.authenticationProvider,
                roleArn: issued.roleArn,
                sessionPolicyDeniesAll: issued.guestSessionPolicy,
            };
        };

        /** Credentials of one of the pool's two roles, not cut down by the guests' session policy (infra/identity.ts). */
        const mayUseRole = (caller: CallerCredentials) =>
            !caller.sessionPolicyDeniesAll && (caller.roleArn === signedInRoleArn || (guestRoleArn !== undefined && caller.roleArn === guestRoleArn));

        // Data.
        // DynamoDB and DynamoDB Streams (local/dynamodb.ts), persisted in the data dir.
        const dynamo = await startLocalDynamoDb({ dataDir: path.join(dataDir, "dynamodb"), port: portOf("dynamodb"), region, accountId: LOCAL_ACCOUNT_ID, log });
        stops.push(() => dynamo.stop());
        const db = new DynamoDBClient({ endpoint: dynamo.url, region, credentials: { accessKeyId: "local", secretAccessKey: "local" } });
        stops.push(async () => db.destroy());
        const { ttlAttribute: _ttl, ...limitsKeys } = LIMITS_TABLE_KEYS;
        for (const input of [
            createTableInput(names.notesTable, { ...NOTES_TABLE_KEYS, streamEnabled: true, streamViewType: NOTES_STREAM_VIEW_TYPE }),
            createTableInput(names.limitsTable, limitsKeys),
            createTableInput(names.devicesTable, DEVICES_TABLE_KEYS),
            createTableInput(names.blocksTable, BLOCKS_TABLE_KEYS),
        ]) {
            await dynamo.createTable(input);
        }

        // Media: the uploads bucket (with the stage's CORS rules, infra/media.ts), its media URL, and what the
        // functions' roles and the identity roles may do in it: the statements their policies are built from.
        const functionAccess: Record<string, readonly UploadsBucketStatement[]> = {
            [`${prefix}-uploads`]: UPLOADS_FUNCTION_UPLOADS_ACCESS,
            [`${prefix}-notes`]: NOTES_FUNCTION_UPLOADS_ACCESS,
            [`${prefix}-account-deletion`]: ACCOUNT_FUNCTION_UPLOADS_ACCESS,
        };
        // The policy variable's name (`cognito-identity.amazonaws.com:sub`), whose value is the caller's identity id.
        const identityVariable = IDENTITY_ID.slice(2, -1);
        const s3 = await startS3({
            buckets: [{ name: names.bucket, versioned: config.retainStatefulResources, cors: uploadsCorsRules(config.media.corsOrigins) }],
            region,
            port: portOf("s3"),
            mediaCacheControl: `max-age=${config.media.cacheSeconds}`,
            dataDir: path.join(dataDir, "s3"),
            // The identities' credentials are temporary: S3 wants their session token and refuses them once expired.
            credentials: (accessKeyId) => {
                if (accessKeyId === operator.accessKeyId) return operator.secretAccessKey;
                const fn = functionSecrets.get(accessKeyId);
                if (fn) return fn.secret;
                const caller = callerCredentials(accessKeyId);
                return caller && { secretAccessKey: caller.secretAccessKey, sessionToken: caller.sessionToken, expiration: caller.expiration };
            },
            authorize: (request) => {
                if (request.accessKeyId === operator.accessKeyId) return true;
                const fn = functionSecrets.get(request.accessKeyId)?.name;
                if (fn !== undefined) return statementsAllow(functionAccess[fn] ?? [], request);
                const caller = callerCredentials(request.accessKeyId);
                // Both identity roles (infra/identity.ts), unless the guests' session policy cuts them down.
                return !!caller && mayUseRole(caller) && statementsAllow([IDENTITY_UPLOADS_ACCESS], request, { [identityVariable]: caller.identityId });
            },
        });
        adoptSavedObjects(s3, names.bucket, path.join(dataDir, "s3", names.bucket));
        stops.push(() => s3.stop());
        const mediaBaseUrl = s3.mediaBaseUrl(names.bucket);

        // Search (engine opensearch; rebuilt from the notes table at start, below).
        let search: LocalOpenSearch | undefined;
        if (config.search.engine === "opensearch") {
            search = await startOpenSearch({ port: portOf("opensearch") });
            stops.push(() => search!.stop());
        } else if (config.search.engine === "cloudsearch") {
            throw new Error("search.engine cloudsearch is not emulated locally: use opensearch or none in the stack file");
        }

        // Push (local/sns.ts): the topic and, locally without credentials, both platform applications; every push
        // a device would receive lands in the inbox, by the identity that registered the device.
        const sns: LocalSns = await startSns({
            port: portOf("sns"),
            dataDir: path.join(dataDir, "sns"),
            recipientOf: async (endpoint) => {
                const { Items } = await db.send(
                    new QueryCommand({
                        TableName: names.devicesTable,
                        IndexName: DEVICES_BY_ENDPOINT,
                        KeyConditionExpression: "endpointArn = :arn",
                        ExpressionAttributeValues: { ":arn": { S: endpoint.arn } },
                    }),
                );
                return Items?.[0]?.ownerId?.S;
            },
            log: (line) => log(`[push] ${line}`),
        });
        stops.push(() => sns.close());
        const platform = config.notifications.apns?.sandbox === false ? "APNS" : "APNS_SANDBOX";
        const snsArn = (kind: string) => `arn:aws:sns:${region}:${LOCAL_ACCOUNT_ID}:${kind}`;
        const apnsArn = snsArn(`app/${platform}/${prefix}-apns`);
        const fcmArn = snsArn(`app/GCM/${prefix}-fcm`);
        const topicArn = snsArn(names.topic);
        createPlatformApplicationsAndTopic(sns, { APNS_APPLICATION_ARN: apnsArn, FCM_APPLICATION_ARN: fcmArn, NOTIFICATIONS_TOPIC_ARN: topicArn });

        // The failure queues (local/sqs.ts, persisted in the data dir): what Lambda sends to an on-failure destination.
        const sqs = await startSqs({ port: portOf("sqs"), dataDir: path.join(dataDir, "sqs"), region, accountId: LOCAL_ACCOUNT_ID });
        stops.push(() => sqs.stop());
        for (const queue of [names.failedPushes, names.failedRecords, names.failedDeletions]) sqs.createQueue(queue);
        let streamIdle = async (): Promise<void> => undefined;
        const queueUrl = (name: string) => sqs.queueUrl(name);

        // Functions: each with the environment the program sets, pointing at the local services.
        const limits: FairUseEnvironment<string> = { tableName: names.limitsTable, ...config.limits };
        const common = {
            PATH: process.env.PATH ?? "",
            AWS_REGION: region,
            AWS_DEFAULT_REGION: region,
            AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
            AWS_ENDPOINT_URL_S3: s3.endpoint,
            AWS_ENDPOINT_URL_SNS: sns.endpoint,
            AWS_ENDPOINT_URL_COGNITO_IDENTITY: cognito.url,
            AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: cognito.url,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.functions.memoryMb),
            // Local endpoints speak plain HTTP on loopback: no TLS session to keep alive.
            AWS_NODEJS_CONNECTION_REUSE_ENABLED: "1",
            // Lambda runs these functions on Node.js 22; only this machine's Node would make the SDK warn.
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        };
        const handlers = path.join(root, "infra", "handlers");
        /** A function: its name, the module of infra/handlers/ and the factory it exports, its environment. */
        const fn = (name: string, factory: string, environment: Record<string, string>, extra: Partial<FunctionSpec> = {}): FunctionSpec => ({
            name: `${prefix}-${name}`,
            module: path.join(handlers, `${FACTORY_MODULES[factory]}.ts`),
            factory,
            environment: { ...common, ...functionCredentials(`${prefix}-${name}`), ...environment },
            timeoutSeconds: config.functions.timeoutSeconds,
            ...extra,
        });
        const push = pushEnvironment<string>({
            devicesTable: names.devicesTable,
            blocksTable: names.blocksTable,
            maxDevicesPerIdentity: config.notifications.maxDevicesPerIdentity,
            limits,
            topicArn,
            apns: { applicationArn: apnsArn, sandbox: config.notifications.apns?.sandbox ?? true },
            fcm: { applicationArn: fcmArn },
        });
        const specs: FunctionSpec[] = [
            fn("notes", "notesFunction", notesEnvironment({ tableName: names.notesTable, mediaBaseUrl, uploadsBucket: names.bucket, limits })),
            fn(
                "uploads",
                "uploadsFunction",
                uploadsEnvironment({
                    bucket: names.bucket,
                    mediaBaseUrl,
                    contentTypes: config.media.contentTypes,
                    maxImageBytes: config.media.maxImageBytes,
                    maxVideoBytes: config.media.maxVideoBytes,
                    expirySeconds: config.media.uploadExpirySeconds,
                }),
            ),
            fn("devices", "devicesFunction", push),
            fn("notifications-sender", "senderFunction", push, {
                async: {
                    retryAttempts: config.notifications.retryAttempts,
                    maxEventAgeSeconds: config.notifications.maxEventAgeSeconds,
                    onFailure: (record) => void sqs.send(names.failedPushes, JSON.stringify(record)),
                },
            }),
            fn("blocks", "blocksFunction", blocksEnvironment({ blocksTable: names.blocksTable, limits })),
            fn(
                "account-deletion",
                "accountFunction",
                accountEnvironment({
                    notesTable: names.notesTable,
                    devicesTable: names.devicesTable,
                    blocksTable: names.blocksTable,
                    uploadsBucket: names.bucket,
                    userPoolId: ids.userPoolId,
                    limits,
                }),
                {
                    // infra/account.ts: 300 s, 2 retries within 6 hours, then the failure queue.
                    timeoutSeconds: 300,
                    async: { retryAttempts: 2, maxEventAgeSeconds: 21_600, onFailure: (record) => void sqs.send(names.failedDeletions, JSON.stringify(record)) },
                },
            ),
        ];
        if (search) {
            specs.push(
                fn("search-function", "openSearchSearchFunction", openSearchSearchEnvironment({ endpoint: search.endpoint, index: OPENSEARCH_INDEX })),
                // One node locally: no replica (what the program computes for a one-node domain).
                fn("search-indexer", "openSearchIndexerFunction", openSearchIndexerEnvironment({ endpoint: search.endpoint, index: OPENSEARCH_INDEX, replicas: 0, mediaBaseUrl }), {
                    timeoutSeconds: 60,
                }),
            );
        }
        const hotReload = options.hotReload ?? true;
        const functions = await startFunctions({
            root,
            functions: specs,
            watch: hotReload ? [path.join(root, "functions"), handlers] : [],
            retryDelaysMs: options.asyncRetryDelaysMs,
            functionArn,
            log,
            // Ready before the workers are: a request that comes first waits for its function (a cold start).
            waitUntilWarm: false,
        });
        stops.push(() => functions.stop());

        // The notes stream feeds the indexer with the event source mapping the program declares (infra/search.ts:
        // bisection, partial batch responses, bounded retries and record age, the failure queue).
        if (search) {
            const indexer = `${prefix}-search-indexer`;
            const mapping = dynamo.mapStream({
                tableName: names.notesTable,
                name: "search-indexer",
                functionArn: functionArn(indexer),
                batchSize: config.search.batchSize,
                batchWindowSeconds: config.search.batchWindowSeconds,
                maxRetryAttempts: config.search.maxRetryAttempts,
                maxRecordAgeSeconds: config.search.maxRecordAgeSeconds,
                bisectBatchOnFunctionError: true,
                reportBatchItemFailures: true,
                startingPosition: "TRIM_HORIZON",
                invoke: (event) => functions.invoke(indexer, event),
                onFailure: async (message) => void sqs.send(names.failedRecords, JSON.stringify(message)),
            });
            stops.push(() => mapping.stop());
            streamIdle = () => mapping.idle();
        }

        // Search starts from what the table holds, through the indexer itself (functions/reindex.ts), in the background.
        let searchRebuilt: Promise<void> = Promise.resolve();
        if (search) {
            let checkpoint: ReindexCheckpoint | undefined;
            const indexer = `${prefix}-search-indexer`;
            searchRebuilt = reindexTable({
                dynamo: db,
                tableName: names.notesTable,
                totalSegments: 1,
                index: (event) => functions.invoke(indexer, event),
                checkpoint: { load: () => checkpoint, save: (c) => void (checkpoint = c) },
                retryDelayMs: 100,
            }).then(
                (result) => log(`search: index rebuilt from ${names.notesTable} (${result.scanned} notes${result.failedNotes.length ? `, ${result.failedNotes.length} refused` : ""})`),
                (err) => log(`search: rebuilding the index failed: ${String(err)}`),
            );
            stops.push(() => searchRebuilt);
        }

        // The API: the document the program deploys, with local integration URIs.
        const services = [
            ...stageRoutes(config).map((routes) => {
                const functionName = {
                    notes: `${prefix}-notes`,
                    uploads: `${prefix}-uploads`,
                    search: `${prefix}-search-function`,
                    devices: `${prefix}-devices`,
                    notifications: `${prefix}-notifications-sender`,
                    blocks: `${prefix}-blocks`,
                    account: `${prefix}-account-deletion`,
                }[routes.name];
                const answersItself = routes.routes.every((r) => r.fixedResponse);
                return { routes, integrationUri: answersItself || !functionName ? undefined : localIntegrationUri(region, LOCAL_ACCOUNT_ID, functionName) };
            }),
        ];
        const document = openApiDocument(prefix, services);
        const api: LocalApi = await startApi({
            document,
            stage: stageName,
            region,
            accountId: LOCAL_ACCOUNT_ID,
            apiId: ids.apiId,
            identityPoolId: ids.identityPoolId,
            apiKey: { id: ids.apiKeyId, value: ids.apiKey },
            usagePlan: {
                rateLimit: config.api.throttleRateLimit,
                burstLimit: config.api.throttleBurstLimit,
                quotaLimit: config.api.quotaLimit,
                quotaPeriod: config.api.quotaPeriod,
                ...options.usagePlan,
            },
            credentials: callerCredentials,
            // Both identity roles allow execute-api:Invoke on every method of the stage (infra/identity.ts).
            authorize: mayUseRole,
            invoke: (name, event) => functions.invoke(name, event),
            invokeAsync: (name, event) => functions.invokeAsync(name, event),
            port: portOf("api"),
            log,
        });
        stops.push(() => api.stop());

        const clientConfig: LocalClientConfig = {
            apiUrl: api.url,
            apiKey: ids.apiKey,
            region,
            identityPoolId: ids.identityPoolId,
            userPoolId: ids.userPoolId,
            userPoolClientId: ids.userPoolClientId,
            uploadsBucket: names.bucket,
            uploadsPrefix: UPLOADS_PREFIX,
            mediaBaseUrl,
            allowGuests: config.identity.allowGuests,
            ...(guestRoleArn ? { guestRoleArn } : {}),
            endpoints: {
                cognitoIdentityProvider: cognito.url,
                cognitoIdentity: cognito.url,
                s3: s3.endpoint,
                dynamodb: dynamo.url,
                sns: sns.endpoint,
                sqs: sqs.url,
                opensearch: search?.endpoint ?? "",
            },
            inbox: `${sns.endpoint}/inbox`,
            tables: { notes: names.notesTable, devices: names.devicesTable, blocks: names.blocksTable, limits: names.limitsTable },
            failureQueues: {
                notifications: queueUrl(names.failedPushes),
                account: queueUrl(names.failedDeletions),
                ...(search ? { search: queueUrl(names.failedRecords) } : {}),
            },
            openApiUrl: api.documentUrl,
        };
        const clientConfigPath = path.join(dataDir, "client-config.json");
        fs.writeFileSync(clientConfigPath, `${JSON.stringify(clientConfig, null, 2)}\n`);

        let issued = 0;
        return {
            clientConfig,
            clientConfigPath,
            dataDir,
            config,
            services: {
                api: api.url,
                openapi: api.documentUrl,
                cognito: cognito.url,
                s3: s3.endpoint,
                media: mediaBaseUrl,
                dynamodb: dynamo.url,
                ...(search ? { opensearch: search.endpoint } : {}),
                sns: sns.endpoint,
                inbox: `${sns.endpoint}/inbox`,
                sqs: sqs.url,
            },
            functions,
            issueCredentials(identityId, authenticated = true) {
                issued += 1;
                const accessKeyId = `ASIALOCAL${String(issued).padStart(4, "0")}${randomBytes(4).toString("hex").toUpperCase()}`;
                const secretAccessKey = randomBytes(30).toString("base64").slice(0, 40);
                const sessionToken = randomBytes(64).toString("base64");
                identityCredentials.set(accessKeyId, {
                    secretAccessKey,
                    sessionToken,
                    expiration: new Date(Date.now() + 60 * 60 * 1000),
                    identityId,
                    authenticated,
                    roleArn: authenticated ? signedInRoleArn : (guestRoleArn ?? `${signedInRoleArn}-no-guests`),
                });
                return { accessKeyId, secretAccessKey, sessionToken };
            },
            failedMessages: (queue) => sqs.messages({ notifications: names.failedPushes, account: names.failedDeletions, search: names.failedRecords }[queue]).map((m) => m.body),
            idle: async () => {
                await functions.idle();
                await streamIdle();
            },
            warm: async () => {
                await functions.warm();
                await searchRebuilt;
            },
            stop: stopAll,
        };
    } catch (err) {
        await stopAll();
        throw err;
    }
}
