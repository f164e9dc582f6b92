import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { adoptionImportFile } from "./infra/adopt";
import { Api } from "./infra/api";
import { loadStageConfig } from "./infra/config";
import { Data } from "./infra/data";
import { Identity } from "./infra/identity";
import { Media, UPLOADS_PREFIX } from "./infra/media";
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
};

const media = new Media("media", {
    corsOrigins: config.media.corsOrigins,
    priceClass: config.media.priceClass,
    cacheSeconds: config.media.cacheSeconds,
    retain,
});
const data = new Data("data", { retain });
const notes = new NotesService("notes", {
    table: data.notesTable,
    uploadsBucket: media.bucket,
    mediaBaseUrl: media.baseUrl,
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
    retain,
    ...functionSettings,
});
const api = new Api("api", {
    services: [notes.api, uploads.api, search.api, ...notifications.api],
    stageName: config.stage,
    throttle: { rateLimit: config.api.throttleRateLimit, burstLimit: config.api.throttleBurstLimit },
    quota: { limit: config.api.quotaLimit, period: config.api.quotaPeriod },
    logRetentionDays: config.logRetentionDays,
    manageAccountLogging: config.api.manageAccountLogging,
});
const identity = new Identity("identity", {
    apiInvokeArn: api.invokeArn,
    uploadsBucketArn: media.bucket.arn,
    allowGuests: config.identity.allowGuests,
    retain,
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
/** What backs `/search` on this stage: a created domain, an adopted one (and the fields it got), or none. */
export const searchEngine = search.summary;
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
