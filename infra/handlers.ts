/**
 * Every function of the program as a Pulumi-free declaration: the factory Lambda runs once per cold start
 * (the `callbackFactory` infra/ hands to `AppFunction`, serialized into the archive) and the environment it
 * reads. The deployed stage and the local backend (`npm start`, local/functions.ts) use these same
 * factories, so the local function IS the deployed one.
 *
 * Factories build their SDK clients with `require` inside them: the serialized closure then refers to the
 * runtime's AWS SDK instead of capturing a client object, and the clients follow the environment (region,
 * credentials, and the SDK's standard endpoint settings such as `AWS_ENDPOINT_URL_DYNAMODB` locally).
 * No Pulumi import here: the local runtime loads this module in a worker of its own.
 */
import type { SNSClient } from "@aws-sdk/client-sns";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { handleBlocksRequest } from "../functions/blocks";
import { handleDevicesRequest } from "../functions/devices";
import { indexStreamRecords } from "../functions/indexer";
import { DEFAULT_MAX_DEVICES_PER_IDENTITY, pushSettingsFromEnvironment, type NotificationRequestEvent } from "../functions/notification-schema";
import { handleNotesRequest } from "../functions/notes";
import { sendNotification } from "../functions/notifications";
import { createOpenSearchIndexer } from "../functions/opensearch";
import { createOpenSearchClient } from "../functions/opensearch-client";
import { handleOpenSearchRequest } from "../functions/opensearch-search";
import { limitSettingsFromEnvironment } from "../functions/rate-limit";
import { handleSearchRequest } from "../functions/search";
import { handleUploadsRequest } from "../functions/uploads";

/** An API function's handler (Lambda proxy integration). */
export type ApiHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
/** A stream function's handler (partial batch responses). */
export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
/** The asynchronous notification sender's handler. */
export type SenderHandler = (event: NotificationRequestEvent) => Promise<unknown>;

/** The environment of a function: `S` is `string` locally, `pulumi.Input<string>` in infra/. */
export type Environment<S> = Record<string, S | string>;

/** The fair-use settings of `limits.*` and the table that counts them (its name). */
export interface FairUseEnvironment<S> {
    tableName: S;
    writesPerMinute: number;
    notificationsSentPerHour: number;
    notificationsReceivedPerHour: number;
}

/** The variables `limitSettingsFromEnvironment` (functions/rate-limit.ts) reads. */
export function fairUseEnvironment<S>(limits: FairUseEnvironment<S>): Environment<S> {
    return {
        LIMITS_TABLE: limits.tableName,
        WRITES_PER_MINUTE: String(limits.writesPerMinute),
        NOTIFICATIONS_SENT_PER_HOUR: String(limits.notificationsSentPerHour),
        NOTIFICATIONS_RECEIVED_PER_HOUR: String(limits.notificationsReceivedPerHour),
    };
}

// ---- /notes ----

/** `/notes`: the notes table, the media base URL, the uploads bucket (a note's mediaKey is checked) and fair use. */
export function notesEnvironment<S>(args: { tableName: S; mediaBaseUrl: S; uploadsBucket: S; limits: FairUseEnvironment<S> }): Environment<S> {
    return { NOTES_TABLE: args.tableName, MEDIA_BASE_URL: args.mediaBaseUrl, UPLOADS_BUCKET: args.uploadsBucket, ...fairUseEnvironment(args.limits) };
}

export function notesFunction(): ApiHandler {
    // Built once per cold start from the runtime's AWS SDK, configured by the environment.
    const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
    const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb");
    const { S3Client } = require("@aws-sdk/client-s3");
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const settings = {
        tableName: process.env.NOTES_TABLE ?? "",
        mediaBaseUrl: process.env.MEDIA_BASE_URL ?? "",
        limits: limitSettingsFromEnvironment(process.env),
    };
    const uploads = { s3: new S3Client({}), bucketName: process.env.UPLOADS_BUCKET ?? "" };
    return (event: APIGatewayProxyEvent) => handleNotesRequest(event, db, settings, uploads);
}

// ---- /uploads ----

export interface UploadsEnvironment<S> {
    bucket: S;
    mediaBaseUrl: S;
    contentTypes: string[];
    maxImageBytes: number;
    maxVideoBytes: number;
    expirySeconds: number;
}

export function uploadsEnvironment<S>(args: UploadsEnvironment<S>): Environment<S> {
    return {
        UPLOADS_BUCKET: args.bucket,
        MEDIA_BASE_URL: args.mediaBaseUrl,
        UPLOAD_CONTENT_TYPES: args.contentTypes.join(","),
        UPLOAD_MAX_IMAGE_BYTES: String(args.maxImageBytes),
        UPLOAD_MAX_VIDEO_BYTES: String(args.maxVideoBytes),
        UPLOAD_EXPIRY_SECONDS: String(args.expirySeconds),
    };
}

export function uploadsFunction(): ApiHandler {
    // The runtime's AWS SDK provides both packages (the Node.js 18+ runtimes ship
    // @aws-sdk/s3-presigned-post next to the clients; aws-lambda-base-images issue 115 shows
    // it loaded from /var/runtime/node_modules), so the archive holds only this closure.
    const { S3Client } = require("@aws-sdk/client-s3");
    const { createPresignedPost } = require("@aws-sdk/s3-presigned-post");
    const s3 = new S3Client({});
    const settings = {
        bucketName: process.env.UPLOADS_BUCKET ?? "",
        mediaBaseUrl: process.env.MEDIA_BASE_URL ?? "",
        contentTypes: (process.env.UPLOAD_CONTENT_TYPES ?? "").split(","),
        maxImageBytes: Number(process.env.UPLOAD_MAX_IMAGE_BYTES),
        maxVideoBytes: Number(process.env.UPLOAD_MAX_VIDEO_BYTES),
        expirySeconds: Number(process.env.UPLOAD_EXPIRY_SECONDS),
    };
    return (event: APIGatewayProxyEvent) => handleUploadsRequest(event, { s3, presignPost: createPresignedPost }, settings);
}

// ---- search: OpenSearch ----

/** The OpenSearch indexer: the domain's `https://` endpoint, the stage's index and its replicas, the media base URL. */
export function openSearchIndexerEnvironment<S>(args: { endpoint: S; index: string; replicas: number; mediaBaseUrl: S }): Environment<S> {
    return {
        OPENSEARCH_ENDPOINT: args.endpoint,
        OPENSEARCH_INDEX: args.index,
        OPENSEARCH_REPLICAS: String(args.replicas),
        MEDIA_BASE_URL: args.mediaBaseUrl,
    };
}

export function openSearchIndexerFunction(): StreamHandler {
    const client = createOpenSearchClient({ endpoint: process.env.OPENSEARCH_ENDPOINT ?? "", region: process.env.AWS_REGION ?? "" });
    return createOpenSearchIndexer(client, {
        mediaBaseUrl: process.env.MEDIA_BASE_URL ?? "",
        index: process.env.OPENSEARCH_INDEX ?? "",
        replicas: Number(process.env.OPENSEARCH_REPLICAS ?? "0"),
    });
}

export function openSearchSearchEnvironment<S>(args: { endpoint: S; index: string }): Environment<S> {
    return { OPENSEARCH_ENDPOINT: args.endpoint, OPENSEARCH_INDEX: args.index };
}

export function openSearchSearchFunction(): ApiHandler {
    const client = createOpenSearchClient({ endpoint: process.env.OPENSEARCH_ENDPOINT ?? "", region: process.env.AWS_REGION ?? "" });
    const settings = { index: process.env.OPENSEARCH_INDEX ?? "" };
    return (event: APIGatewayProxyEvent) => handleOpenSearchRequest(event, client, settings);
}

// ---- search: CloudSearch ----

export function cloudSearchIndexerEnvironment<S>(args: { documentEndpoint: S; mediaBaseUrl: S }): Environment<S> {
    return { CLOUDSEARCH_ENDPOINT: args.documentEndpoint, MEDIA_BASE_URL: args.mediaBaseUrl };
}

export function cloudSearchIndexerFunction(): StreamHandler {
    const { CloudSearchDomainClient } = require("@aws-sdk/client-cloudsearch-domain");
    const search = new CloudSearchDomainClient({ endpoint: process.env.CLOUDSEARCH_ENDPOINT });
    const settings = { mediaBaseUrl: process.env.MEDIA_BASE_URL ?? "" };
    return (event: DynamoDBStreamEvent) => indexStreamRecords(event, search, settings);
}

export function cloudSearchSearchEnvironment<S>(args: { searchEndpoint: S }): Environment<S> {
    return { CLOUDSEARCH_ENDPOINT: args.searchEndpoint };
}

export function cloudSearchSearchFunction(): ApiHandler {
    const { CloudSearchDomainClient } = require("@aws-sdk/client-cloudsearch-domain");
    const search = new CloudSearchDomainClient({ endpoint: process.env.CLOUDSEARCH_ENDPOINT });
    return (event: APIGatewayProxyEvent) => handleSearchRequest(event, search);
}

// ---- notifications: /devices, POST /notifications, /blocks ----

export interface PushEnvironment<S> {
    devicesTable: S;
    blocksTable: S;
    maxDevicesPerIdentity?: number;
    limits: FairUseEnvironment<S>;
    topicArn: S;
    /** The APNs platform application, when configured. */
    apns?: { applicationArn: S; sandbox: boolean };
    /** The FCM platform application, when configured. */
    fcm?: { applicationArn: S };
}

/** What the devices function and the sender read (`pushSettingsFromEnvironment`, `limitSettingsFromEnvironment`). */
export function pushEnvironment<S>(args: PushEnvironment<S>): Environment<S> {
    return {
        DEVICES_TABLE: args.devicesTable,
        BLOCKS_TABLE: args.blocksTable,
        MAX_DEVICES_PER_IDENTITY: String(args.maxDevicesPerIdentity ?? DEFAULT_MAX_DEVICES_PER_IDENTITY),
        ...fairUseEnvironment(args.limits),
        NOTIFICATIONS_TOPIC_ARN: args.topicArn,
        ...(args.apns ? { APNS_APPLICATION_ARN: args.apns.applicationArn, APNS_SANDBOX: String(args.apns.sandbox) } : {}),
        ...(args.fcm ? { FCM_APPLICATION_ARN: args.fcm.applicationArn } : {}),
    };
}

/**
 * The SDK clients both push functions use, built once per cold start from the runtime's AWS SDK with its
 * default configuration. Serialized into each function's closure (hence `require` here, not imports).
 */
export function createPushClients(): { db: DynamoDBDocumentClient; sns: SNSClient } {
    const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
    const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb");
    const { SNSClient } = require("@aws-sdk/client-sns");
    return { db: DynamoDBDocumentClient.from(new DynamoDBClient({})), sns: new SNSClient({}) };
}

export function devicesFunction(): ApiHandler {
    const clients = createPushClients();
    const settings = { ...pushSettingsFromEnvironment(process.env), limits: limitSettingsFromEnvironment(process.env) };
    return (event: APIGatewayProxyEvent) => handleDevicesRequest(event, clients, settings);
}

export function senderFunction(): SenderHandler {
    const clients = createPushClients();
    const settings = { ...pushSettingsFromEnvironment(process.env), limits: limitSettingsFromEnvironment(process.env) };
    return (event: NotificationRequestEvent) => sendNotification(event, clients, settings);
}

export function blocksEnvironment<S>(args: { blocksTable: S; limits: FairUseEnvironment<S> }): Environment<S> {
    return { BLOCKS_TABLE: args.blocksTable, ...fairUseEnvironment(args.limits) };
}

export function blocksFunction(): ApiHandler {
    const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
    const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb");
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const settings = { blocksTable: process.env.BLOCKS_TABLE ?? "", limits: limitSettingsFromEnvironment(process.env) };
    return (event: APIGatewayProxyEvent) => handleBlocksRequest(event, db, settings);
}

/** Every factory by name: what the local runtime's workers look up (`local/function-worker.js`). */
export const FUNCTION_FACTORIES = {
    notes: notesFunction,
    uploads: uploadsFunction,
    openSearchIndexer: openSearchIndexerFunction,
    openSearchSearch: openSearchSearchFunction,
    cloudSearchIndexer: cloudSearchIndexerFunction,
    cloudSearchSearch: cloudSearchSearchFunction,
    devices: devicesFunction,
    sender: senderFunction,
    blocks: blocksFunction,
} as const;

export type FunctionFactoryName = keyof typeof FUNCTION_FACTORIES;
