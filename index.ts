import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AccountDeletion } from "./infra/account";
import { adoptionImportFile } from "./infra/adopt";
import { Api } from "./infra/api";
import { loadStageConfig } from "./infra/config";
import { Data } from "./infra/data";
import { Firewall } from "./infra/firewall";
import { Identity } from "./infra/identity";
import { Media, UPLOADS_PREFIX } from "./infra/media";
import { Monitoring, type MonitoredFunction, type MonitoredQueue } from "./infra/monitoring";
import { NotesService } from "./infra/notes";
import { Notifications } from "./infra/notifications";
import { Search } from "./infra/search";
import { UploadsService } from "./infra/uploads";

// Every difference between stages comes from Pulumi.<stage>.yaml.
const config = loadStageConfig();
const retain = config.retainStatefulResources;
const functionSettings = {
    memoryMb: config.functions.memoryMb,
    timeoutSeconds: config.functions.timeoutSeconds,
    logRetentionDays: config.logRetentionDays,
    tracing: config.monitoring.tracing,
};

const media = new Media("media", {
    corsOrigins: config.media.corsOrigins,
    priceClass: config.media.priceClass,
    cacheSeconds: config.media.cacheSeconds,
    retain,
});
const data = new Data("data", { retain });
// Fair use per identity, counted in the limits table; the usage plan stays the app-wide ceiling.
const limits = { table: data.limitsTable, ...config.limits };
const notes = new NotesService("notes", {
    table: data.notesTable,
    uploadsBucket: media.bucket,
    mediaBaseUrl: media.baseUrl,
    limits,
    ...functionSettings,
});
const uploads = new UploadsService("uploads", {
    bucket: media.bucket,
    mediaBaseUrl: media.baseUrl,
    contentTypes: config.media.contentTypes,
    maxImageBytes: config.media.maxImageBytes,
    maxVideoBytes: config.media.maxVideoBytes,
    expirySeconds: config.media.uploadExpirySeconds,
    ...functionSettings,
});
const search = new Search("search", {
    engine: config.search.engine,
    existingDomainName: config.search.domainName,
    instanceType: config.search.instanceType,
    multiAz: config.search.multiAz,
    replicationCount: config.search.replicationCount,
    opensearch: config.search.opensearch,
    table: data.notesTable,
    mediaBaseUrl: media.baseUrl,
    stream: {
        batchSize: config.search.batchSize,
        batchWindowSeconds: config.search.batchWindowSeconds,
        maxRetryAttempts: config.search.maxRetryAttempts,
        maxRecordAgeSeconds: config.search.maxRecordAgeSeconds,
    },
    ...functionSettings,
});
const notifications = new Notifications("notifications", {
    // Credentials are secrets in the stack file; they stay secret in the state.
    apns: config.notifications.apns && {
        ...config.notifications.apns,
        signingKey: pulumi.secret(config.notifications.apns.signingKey),
    },
    fcm: config.notifications.fcm && { serviceAccountJson: pulumi.secret(config.notifications.fcm.serviceAccountJson) },
    retryAttempts: config.notifications.retryAttempts,
    maxEventAgeSeconds: config.notifications.maxEventAgeSeconds,
    maxDevicesPerIdentity: config.notifications.maxDevicesPerIdentity,
    limits,
    retain,
    ...functionSettings,
});
// Before the API: DELETE /me's function deletes its users and identities, and the API's document names that
// function. The identities' permission to call the API is granted once the API exists (allowApiCalls below).
const identity = new Identity("identity", {
    uploadsBucketArn: media.bucket.arn,
    allowGuests: config.identity.allowGuests,
    email: config.identity.email,
    retain,
});
const account = new AccountDeletion("account", {
    notesTable: data.notesTable,
    devicesTable: notifications.devicesTable,
    blocksTable: notifications.blocksTable,
    uploadsBucket: media.bucket,
    platformApplications: notifications.platformApplications,
    limits,
    userPool: identity.userPool,
    identityPool: identity.identityPool,
    memoryMb: config.functions.memoryMb,
    logRetentionDays: config.logRetentionDays,
    tracing: config.monitoring.tracing,
});
const api = new Api("api", {
    services: [notes.api, uploads.api, search.api, ...notifications.api, account.api],
    stageName: config.stage,
    throttle: { rateLimit: config.api.throttleRateLimit, burstLimit: config.api.throttleBurstLimit },
    quota: { limit: config.api.quotaLimit, period: config.api.quotaPeriod },
    logRetentionDays: config.logRetentionDays,
    manageAccountLogging: config.api.manageAccountLogging,
    tracing: config.monitoring.tracing,
});
if (config.api.waf) {
    new Firewall("waf", { stageArn: api.stage.arn, ...config.api.waf });
}
identity.allowApiCalls(api.invokeArn);

// Every function and failure queue of the stage: a new one is one more line here.
const functions: (MonitoredFunction | false)[] = [
    { label: "notes", function: notes.function },
    { label: "uploads", function: uploads.function },
    !!search.searchFunction && { label: "search", function: search.searchFunction },
    !!search.indexer && { label: "search-indexer", function: search.indexer, invocation: "stream" },
    { label: "devices", function: notifications.devicesFunction },
    { label: "notifications-sender", function: notifications.senderFunction, invocation: "async" },
    { label: "blocks", function: notifications.blocksFunction },
    { label: "account-deletion", function: account.function, invocation: "async" },
];
const failureQueues: (MonitoredQueue | false)[] = [
    !!search.failedRecords && { label: "search-failed-records", queue: search.failedRecords },
    { label: "notifications-failed-pushes", queue: notifications.failedPushes },
    { label: "account-deletion-failures", queue: account.failures },
];
const monitoring = new Monitoring("monitoring", {
    alarmEmails: config.monitoring.alarmEmails,
    api: { restApiName: api.restApi.name, stageName: api.stage.stageName },
    functions: functions.filter((f): f is MonitoredFunction => f !== false),
    failureQueues: failureQueues.filter((q): q is MonitoredQueue => q !== false),
    // The OpenSearch domain's health (a CloudSearch domain has no such metrics). Its index has a replica only
    // when the domain has a second node, so a one-node domain is green, not yellow.
    searchDomain: config.search.engine === "opensearch" && search.domainName ? { domainName: search.domainName } : undefined,
    push: {
        topicName: notifications.topic.name,
        applicationArns: notifications.platformApplications.map((a) => a.arn),
    },
    thresholds: {
        functionErrors: config.monitoring.functionErrors,
        functionThrottles: config.monitoring.functionThrottles,
        api5xxRatePercent: config.monitoring.api5xxRatePercent,
        apiP99LatencyMs: config.monitoring.apiP99LatencyMs,
        iteratorAgeSeconds: config.monitoring.iteratorAgeSeconds,
        freeStorageMb: config.monitoring.freeStorageMb,
    },
});

export const apiUrl = api.url;
export const apiKey = api.apiKey;
export const region = aws.config.requireRegion();
export const identityPoolId = identity.identityPool.id;
export const userPoolId = identity.userPool.id;
export const userPoolClientId = identity.userPoolClient.id;
export const uploadsBucket = media.bucket.bucket;
export const mediaBaseUrl = media.baseUrl;
/** The stage-wide topic every notification is published to (subscribers filter on `recipientId`). */
export const notificationsTopicArn = notifications.topic.arn;
/** What backs `/search` on this stage: the engine, its domain (created, or adopted with the fields it got), or none. */
export const searchEngine = search.summary;
/** The notes table, for `npm run reindex` (which scans it to rebuild the search index). */
export const notesTable = data.notesTable.name;
/** The devices and blocks tables, for `npm run journey -- --stack` (which checks a deleted account left nothing). */
export const devicesTable = notifications.devicesTable.name;
export const blocksTable = notifications.blocksTable.name;
/** For `npm run replay`: the failure queues (URLs) and the function a failed push is replayed through. */
export const failureQueueUrls = { search: search.failedRecords?.url, push: notifications.failedPushes.url };
export const notificationsSender = notifications.senderFunction.name;
/** The stage's CloudWatch dashboard, and the topic its alarms notify. */
export const dashboardUrl = monitoring.dashboardUrl;
export const alarmTopicArn = monitoring.alarmTopic.arn;
/** Everything the mobile app needs, in one object (`pulumi stack output clientConfig --show-secrets`). */
export const clientConfig = pulumi.secret({
    apiUrl,
    apiKey,
    region,
    identityPoolId,
    userPoolId,
    userPoolClientId,
    uploadsBucket,
    uploadsPrefix: UPLOADS_PREFIX,
    mediaBaseUrl,
    allowGuests: config.identity.allowGuests,
    // Guests use the classic flow, which names the role to assume.
    ...(identity.guestRoleArn ? { guestRoleArn: identity.guestRoleArn } : {}),
});
/**
 * On a retaining stage: the `pulumi import --file` document that adopts the kept user pool, app client,
 * identity pool, tables and bucket after `pulumi destroy`, under the URNs this program gives them. Save it
 * before destroying (`pulumi stack output adoptAfterDestroy --json > adopt-<stage>.json`); see the README.
 */
export const adoptAfterDestroy = retain ? adoptionImportFile([identity, data, media, notifications]) : undefined;
