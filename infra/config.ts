import * as fs from "node:fs";
import * as path from "node:path";
import type * as Pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { ALL_UPLOAD_CONTENT_TYPES, type UploadContentType } from "../functions/uploads";

/** Periods an API Gateway usage-plan quota can be counted over. */
export type QuotaPeriod = "DAY" | "WEEK" | "MONTH";

/** CloudFront price classes: which edge locations serve the media. */
export type PriceClass = "PriceClass_100" | "PriceClass_200" | "PriceClass_All";

/** Which search engine backs `/search`. */
export type SearchEngine = "opensearch" | "cloudsearch" | "none";

/** The engines, the default first. */
export const SEARCH_ENGINES = ["opensearch", "cloudsearch", "none"] as const;

/** An OpenSearch Service instance type: `<family>.<size>.search`, e.g. `t3.small.search`. */
const OPENSEARCH_INSTANCE_TYPE = /^[a-z][a-z0-9]*\.[a-z0-9]+\.search$/;

/** CloudSearch instance types, smallest first. */
export const CLOUDSEARCH_INSTANCE_TYPES = [
    "search.small",
    "search.medium",
    "search.large",
    "search.xlarge",
    "search.2xlarge",
] as const;
export type CloudSearchInstanceType = (typeof CLOUDSEARCH_INSTANCE_TYPES)[number];

/**
 * Everything that differs between stages, read from the stack file (`Pulumi.<stage>.yaml`) under the
 * `mobile-backend:` namespace. Every field has a default, so an empty stack file deploys a dev-like stage.
 */
export interface StageConfig {
    /** The stage name: the Pulumi stack name. Names the API stage and prefixes log groups. */
    stage: string;
    /**
     * `retainStatefulResources` — keep the user pool, uploads bucket, notes table and devices table when
     * the stack is destroyed, and turn on their deletion/recovery protections. Default `false`.
     */
    retainStatefulResources: boolean;
    /** `logRetentionDays` — retention of every log group of the stage (a CloudWatch-supported value). Default `7`. */
    logRetentionDays: number;
    identity: {
        /**
         * `identity.allowGuests` — give signed-out users (Cognito unauthenticated identities) the same
         * narrow permissions as signed-in users, through Cognito's classic flow. Default `false`.
         */
        allowGuests: boolean;
        /**
         * `identity.email.*` — send the user pool's verification and recovery emails through an Amazon SES
         * verified identity (`fromAddress`, `sesIdentityArn`, optional `configurationSet` and `replyTo`)
         * instead of Cognito's default sender, which sends only a few emails a day. Undefined (the
         * default): Cognito's default sender.
         */
        email?: IdentityEmailConfig;
    };
    monitoring: MonitoringConfig;
    api: {
        /** `api.throttle.rateLimit` — steady-state requests per second per API key. Default `50`. */
        throttleRateLimit: number;
        /** `api.throttle.burstLimit` — burst of requests per API key. Default `100`. */
        throttleBurstLimit: number;
        /** `api.quota.limit` — requests per API key per quota period. Default `100000`. */
        quotaLimit: number;
        /** `api.quota.period` — `DAY`, `WEEK` or `MONTH`. Default `DAY`. */
        quotaPeriod: QuotaPeriod;
        /**
         * `api.manageAccountLogging` — set the account-wide (per region) API Gateway CloudWatch role that
         * access and execution logs need. The setting and the role are retained on destroy, so several
         * stages may all set it. Turn off when another stack (not this program) manages it. Default `true`.
         */
        manageAccountLogging: boolean;
        /**
         * `api.waf.*` — an AWS WAF web ACL on the stage (see `infra/firewall.ts`): `enabled` (default `false`),
         * `ipRateLimit` (requests per IP per window, 10–2000000000, default `1000`) and `ipRateWindowSeconds`
         * (60, 120, 300 or 600, default `300`). Undefined when off.
         */
        waf?: { ipRateLimit: number; ipRateWindowSeconds: 60 | 120 | 300 | 600 };
    };
    media: {
        /** `media.corsOrigins` — origins allowed to POST uploads to and GET them from the bucket in a browser. Default `["*"]`. */
        corsOrigins: string[];
        /** `media.priceClass` — CloudFront price class. Default `PriceClass_100`. */
        priceClass: PriceClass;
        /**
         * `media.contentTypes` — the content types `POST /uploads` accepts, a subset of image/jpeg, image/png,
         * image/heic, image/heif, image/webp, video/mp4, video/quicktime. Default: all of them.
         */
        contentTypes: UploadContentType[];
        /** `media.maxImageBytes` — largest image upload, 1 byte to 5 GiB. Default `10485760` (10 MiB). */
        maxImageBytes: number;
        /** `media.maxVideoBytes` — largest video upload, 1 byte to 5 GiB. Default `104857600` (100 MiB). */
        maxVideoBytes: number;
        /** `media.uploadExpirySeconds` — how long the presigned POST of `POST /uploads` stays usable, 60–3600 s. Default `600`. */
        uploadExpirySeconds: number;
        /**
         * `media.cacheSeconds` — longest time CloudFront caches a media object (the cache policy's maximum and
         * default TTL), so the longest a deleted upload stays reachable, 0–86400 s. Default `3600`.
         */
        cacheSeconds: number;
    };
    search: {
        /**
         * `search.engine` — `opensearch` (an Amazon OpenSearch Service domain created by the stack),
         * `cloudsearch` (a CloudSearch domain, created or adopted: only for accounts that still have
         * CloudSearch) or `none` (no search resources; `/search` answers 501). Default `opensearch`.
         */
        engine: SearchEngine;
        /**
         * `search.domainName` — engine `cloudsearch` only: use this existing CloudSearch domain instead of
         * creating one. The program defines the index fields it needs on it. Default: none.
         */
        domainName?: string;
        /** `search.instanceType` — engine `cloudsearch`: instance type of a created domain. Default `search.small`. */
        instanceType: CloudSearchInstanceType;
        /** `search.multiAz` — engine `cloudsearch`: spread a created domain over two Availability Zones. Default `false`. */
        multiAz: boolean;
        /** `search.replicationCount` — engine `cloudsearch`: replicas of a created domain's index, 1–5. Default `1`. */
        replicationCount: number;
        /** Engine `opensearch`: the managed domain's size. */
        opensearch: {
            /** `search.opensearch.instanceType` — data node type. Default `t3.small.search` (the smallest that works). */
            instanceType: string;
            /** `search.opensearch.instanceCount` — data nodes, 1–80, a multiple of the zone count. Default `1`. */
            instanceCount: number;
            /** `search.opensearch.availabilityZoneCount` — 1 (no zone awareness), 2 or 3. Default `1`. */
            availabilityZoneCount: number;
            /** `search.opensearch.volumeSizeGb` — gp3 EBS volume per node, 10–1024 GiB. Default `10`. */
            volumeSizeGb: number;
            /**
             * `search.opensearch.reindexPrincipals` — IAM role or user ARNs the domain also lets write (PUT,
             * POST), for `npm run reindex`. Default: none (only the two functions' roles).
             */
            reindexPrincipals: string[];
        };
        /** `search.stream.batchSize` — stream records per indexer invocation, 1–10000. Default `100`. */
        batchSize: number;
        /** `search.stream.batchWindowSeconds` — how long to gather a batch, 0–300 s. Default `1`. */
        batchWindowSeconds: number;
        /** `search.stream.maxRetryAttempts` — retries of a failing batch before it goes to the queue, 0–10000. Default `10`. */
        maxRetryAttempts: number;
        /** `search.stream.maxRecordAgeSeconds` — age after which a record goes to the queue, 60–86400 s (a stream keeps records 24 h). Default `86400`. */
        maxRecordAgeSeconds: number;
    };
    notifications: {
        /**
         * APNs token-based credentials: `notifications.apns.signingKey` (secret: the `.p8` key) with
         * `notifications.apns.keyId`, `.teamId` and `.bundleId`. Undefined when not configured: no
         * APNs platform application, and iOS registrations answer 409.
         */
        apns?: { signingKey: string; keyId: string; teamId: string; bundleId: string; sandbox: boolean };
        /**
         * FCM credentials: `notifications.fcm.serviceAccount` (secret: the service-account JSON). Undefined
         * when not configured: no FCM platform application, and Android registrations answer 409.
         */
        fcm?: { serviceAccountJson: string };
        /** `notifications.retryAttempts` — retries of a failed asynchronous push, 0–2. Default `2`. */
        retryAttempts: number;
        /** `notifications.maxEventAgeSeconds` — how long a push may wait for a retry, 60–21600 s. Default `3600`. */
        maxEventAgeSeconds: number;
        /**
         * `notifications.maxDevicesPerIdentity` — devices one identity may register, 1–100. Default `10`;
         * registering one more replaces the least recently registered.
         */
        maxDevicesPerIdentity: number;
    };
    /** Fair use per identity (Cognito identity id), on top of the usage plan's stage-wide throttle and quota. */
    limits: {
        /** `limits.writesPerMinute` — notes, devices and blocks changes per identity and minute, 1–10000. Default `60`. */
        writesPerMinute: number;
        /** `limits.notificationsSentPerHour` — notifications one identity may send per hour, 1–100000. Default `100`. */
        notificationsSentPerHour: number;
        /** `limits.notificationsReceivedPerHour` — notifications one identity may receive per hour, 1–100000. Default `200`. */
        notificationsReceivedPerHour: number;
    };
    functions: {
        /** `functions.memoryMb` — memory of every function, 128–10240 MB. Default `256`. */
        memoryMb: number;
        /** `functions.timeoutSeconds` — timeout of the API functions, 1–29 s (API Gateway waits 29 s). Default `10`. */
        timeoutSeconds: number;
    };
}

/** How the user pool sends email through Amazon SES (`identity.email.*`). */
export interface IdentityEmailConfig {
    /** `identity.email.fromAddress` — the sender: the SES identity's address, or an address of its domain. */
    fromAddress: string;
    /** `identity.email.sesIdentityArn` — ARN of the verified SES identity, in the stack's region. */
    sesIdentityArn: string;
    /** `identity.email.configurationSet` — SES configuration set applied to the emails. Default: none. */
    configurationSet?: string;
    /** `identity.email.replyTo` — where replies go. Default: none (replies go to the sender). */
    replyTo?: string;
}

/** Alarms, dashboard and tracing of the stage (`monitoring.*`). */
export interface MonitoringConfig {
    /** `monitoring.alarmEmails` — addresses subscribed to the stage's alarm topic. Default: none. */
    alarmEmails: string[];
    /** `monitoring.tracing` — X-Ray active tracing of the API stage and every function. Default `false`. */
    tracing: boolean;
    /** `monitoring.functionErrors` — function errors in 5 minutes that raise a function's alarm, 1–10000. Default `1`. */
    functionErrors: number;
    /** `monitoring.functionThrottles` — throttled invocations in 5 minutes that raise a function's alarm, 1–10000. Default `1`. */
    functionThrottles: number;
    /** `monitoring.api5xxRatePercent` — share of API requests answered 5XX (per 5 minutes, twice in a row), 0.1–100. Default `1`. */
    api5xxRatePercent: number;
    /** `monitoring.apiP99LatencyMs` — p99 API latency (per 5 minutes, twice in a row), 50–29000 ms. Default `3000`. */
    apiP99LatencyMs: number;
    /** `monitoring.iteratorAgeSeconds` — how far the indexer may fall behind the table (5 minutes in a row), 10–86400 s. Default `300`. */
    iteratorAgeSeconds: number;
    /** `monitoring.freeStorageMb` — lowest free storage of a search domain node, in MiB, 1–10000000. Default `2048`. */
    freeStorageMb: number;
}

/** The domain of the placeholder addresses in the prod stack file (reserved by RFC 2606): never deployed. */
export const PLACEHOLDER_DOMAIN = "example.com";

/** Placeholder values the prod stack file ships with; the program refuses to deploy them. */
export const EMAIL_PLACEHOLDERS = {
    fromAddress: "no-reply@example.com",
    sesIdentityArn: "arn:aws:ses:us-east-1:111122223333:identity/example.com",
} as const;

/** Retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Thrown for a stack-file value that cannot be used; the message names the key and the value. */
export class StageConfigError extends Error {}

const NAMESPACE = "mobile-backend";
/** Settings that are objects in the stack file. */
const OBJECT_KEYS = ["identity", "monitoring", "api", "media", "search", "notifications", "limits", "functions"];
/** The push credentials: accepted only when set with `pulumi config set --secret --path`. */
export const CREDENTIAL_KEYS = {
    apnsSigningKey: "notifications.apns.signingKey",
    fcmServiceAccount: "notifications.fcm.serviceAccount",
} as const;

/**
 * Reads the stage's settings from the Pulumi config of the running stack.
 * Throws {@link StageConfigError} naming the key and the bad value.
 */
export function loadStageConfig(options: LoadOptions = {}): StageConfig {
    // Loaded here, not at the top: parseStageConfig (the local backend's reader) needs no Pulumi.
    const pulumi = require("@pulumi/pulumi") as typeof Pulumi;
    const raw: Record<string, unknown> = {};
    const secrets = new Set<string>();
    // Not in the SDK's declarations, but how the runtime tells a `--secret` value from a plain one.
    const runtime = pulumi.runtime as unknown as { isConfigSecret?(key: string): boolean };
    // Every key of the namespace, so that a misspelled one is reported rather than ignored.
    for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(`${NAMESPACE}:`)) continue;
        const key = fullKey.slice(NAMESPACE.length + 1);
        raw[key] = parseConfigText(key, text);
        if (runtime.isConfigSecret?.(fullKey)) secrets.add(key);
    }
    const stage = pulumi.getStack();
    const stackFile = options.stackFileText ?? readStackFile(stage);
    return parseStageConfig(stage, raw, secrets, {
        plainInStackFile: stackFile === undefined ? undefined : plainCredentials(stackFile),
        trace: options.trace,
        region: new pulumi.Config("aws").get("region"),
    });
}

/** Options of {@link loadStageConfig}. */
export interface LoadOptions {
    /** The stack file's text. Default: `Pulumi.<stack>.yaml` of the working directory (the project's), if any. */
    stackFileText?: string;
    /** Filled with every setting the program read and the raw value it found (tests check commands with it). */
    trace?: Map<string, unknown>;
}

/** Options of {@link parseStageConfig}. */
export interface ParseOptions {
    /** Credential settings the stack file stores in plain text (see {@link plainCredentials}). */
    plainInStackFile?: ReadonlySet<string>;
    /** Filled with every setting read and the raw value found. */
    trace?: Map<string, unknown>;
    /** The stack's `aws:region`, when known: an SES identity must be in it. */
    region?: string;
}

function readStackFile(stage: string): string | undefined {
    try {
        return fs.readFileSync(path.join(process.cwd(), `Pulumi.${stage}.yaml`), "utf8");
    } catch {
        return undefined;
    }
}

/**
 * The credential settings a stack file holds in plain text. Pulumi tells the program only which top-level
 * keys hold a secret somewhere inside them, so with the APNs key set as a secret a plain-text FCM key under
 * the same `notifications` key would pass that check; the stack file says exactly which values are
 * `secure:`. (Config that comes from elsewhere, such as an ESC environment, falls back to the top-level check.)
 */
export function plainCredentials(stackFileText: string): Set<string> {
    const file = parseYaml(stackFileText) as { config?: Record<string, unknown> } | null;
    const plain = new Set<string>();
    for (const key of Object.values(CREDENTIAL_KEYS)) {
        const [top, ...rest] = key.split(".");
        let value: unknown = file?.config?.[`${NAMESPACE}:${top}`];
        for (const part of rest) value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
        const secure = value !== null && typeof value === "object" && "secure" in value;
        if (value !== undefined && value !== null && !secure) plain.add(key);
    }
    return plain;
}

/**
 * Pulumi hands structured values over as JSON text and top-level scalars as plain text ("Top level entries
 * are always treated as strings", `pulumi config set` reference): only the objects are parsed here, and the
 * readers turn a top-level text into the number or boolean a setting needs.
 */
function parseConfigText(key: string, text: string): unknown {
    if (!OBJECT_KEYS.includes(key)) return text;
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch {
        value = text;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new StageConfigError(`${NAMESPACE}:${key} must be an object of settings, got ${JSON.stringify(value)}`);
    }
    return value;
}

/** Validates raw stack-file values (already parsed) and fills in defaults. Pure: used by tests directly. */
export function parseStageConfig(
    stage: string,
    raw: Record<string, unknown>,
    secrets: ReadonlySet<string> = new Set(),
    options: ParseOptions = {},
): StageConfig {
    rejectFlatKeys(raw, secrets);
    const read = new Reader(raw, options);
    const config: StageConfig = {
        stage,
        retainStatefulResources: read.boolean("retainStatefulResources", false),
        logRetentionDays: read.oneOf("logRetentionDays", LOG_RETENTION_DAYS, 7),
        identity: {
            allowGuests: read.boolean("identity.allowGuests", false),
            email: readIdentityEmail(read, options.region),
        },
        monitoring: {
            alarmEmails: readEmailList(read, "monitoring.alarmEmails"),
            tracing: read.boolean("monitoring.tracing", false),
            functionErrors: read.integer("monitoring.functionErrors", 1, { min: 1, max: 10_000 }),
            functionThrottles: read.integer("monitoring.functionThrottles", 1, { min: 1, max: 10_000 }),
            api5xxRatePercent: read.number("monitoring.api5xxRatePercent", 1, { min: 0.1, max: 100 }),
            apiP99LatencyMs: read.integer("monitoring.apiP99LatencyMs", 3000, { min: 50, max: 29_000 }),
            iteratorAgeSeconds: read.integer("monitoring.iteratorAgeSeconds", 300, { min: 10, max: 86_400 }),
            freeStorageMb: read.integer("monitoring.freeStorageMb", 2048, { min: 1, max: 10_000_000 }),
        },
        api: {
            throttleRateLimit: read.number("api.throttle.rateLimit", 50, { min: 1, max: 10_000 }),
            throttleBurstLimit: read.integer("api.throttle.burstLimit", 100, { min: 1, max: 5_000 }),
            quotaLimit: read.integer("api.quota.limit", 100_000, { min: 1, max: 1_000_000_000 }),
            quotaPeriod: read.oneOf("api.quota.period", ["DAY", "WEEK", "MONTH"] as const, "DAY"),
            manageAccountLogging: read.boolean("api.manageAccountLogging", true),
            waf: readWaf(read),
        },
        media: {
            corsOrigins: read.stringList("media.corsOrigins", ["*"]),
            priceClass: read.oneOf(
                "media.priceClass",
                ["PriceClass_100", "PriceClass_200", "PriceClass_All"] as const,
                "PriceClass_100",
            ),
            contentTypes: readContentTypes(read),
            // A presigned POST uploads at most 5 GB (Amazon S3 user guide, "Uploading objects").
            maxImageBytes: read.integer("media.maxImageBytes", 10 * 1024 * 1024, { min: 1, max: MAX_POST_UPLOAD_BYTES }),
            maxVideoBytes: read.integer("media.maxVideoBytes", 100 * 1024 * 1024, { min: 1, max: MAX_POST_UPLOAD_BYTES }),
            uploadExpirySeconds: read.integer("media.uploadExpirySeconds", 600, { min: 60, max: 3600 }),
            cacheSeconds: read.integer("media.cacheSeconds", 3600, { min: 0, max: 86400 }),
        },
        search: {
            engine: read.oneOf("search.engine", SEARCH_ENGINES, "opensearch"),
            domainName: read.optionalString("search.domainName", /^[a-z][a-z0-9-]{2,27}$/, "a CloudSearch domain name (3–28 lowercase letters, digits and hyphens, starting with a letter)"),
            instanceType: read.oneOf("search.instanceType", CLOUDSEARCH_INSTANCE_TYPES, "search.small"),
            multiAz: read.boolean("search.multiAz", false),
            replicationCount: read.integer("search.replicationCount", 1, { min: 1, max: 5 }),
            opensearch: {
                instanceType: read.optionalString("search.opensearch.instanceType", OPENSEARCH_INSTANCE_TYPE, "an OpenSearch Service instance type such as t3.small.search") ?? "t3.small.search",
                instanceCount: read.integer("search.opensearch.instanceCount", 1, { min: 1, max: 80 }),
                availabilityZoneCount: read.oneOf("search.opensearch.availabilityZoneCount", [1, 2, 3] as const, 1),
                volumeSizeGb: read.integer("search.opensearch.volumeSizeGb", 10, { min: 10, max: 1024 }),
                reindexPrincipals: read.stringList("search.opensearch.reindexPrincipals", []),
            },
            batchSize: read.integer("search.stream.batchSize", 100, { min: 1, max: 10_000 }),
            batchWindowSeconds: read.integer("search.stream.batchWindowSeconds", 1, { min: 0, max: 300 }),
            maxRetryAttempts: read.integer("search.stream.maxRetryAttempts", 10, { min: 0, max: 10_000 }),
            maxRecordAgeSeconds: read.integer("search.stream.maxRecordAgeSeconds", 86_400, { min: 60, max: 86_400 }),
        },
        notifications: {
            apns: readApns(read, secrets),
            fcm: readFcm(read, secrets),
            retryAttempts: read.integer("notifications.retryAttempts", 2, { min: 0, max: 2 }),
            maxEventAgeSeconds: read.integer("notifications.maxEventAgeSeconds", 3600, { min: 60, max: 21_600 }),
            maxDevicesPerIdentity: read.integer("notifications.maxDevicesPerIdentity", 10, { min: 1, max: 100 }),
        },
        limits: {
            writesPerMinute: read.integer("limits.writesPerMinute", 60, { min: 1, max: 10_000 }),
            notificationsSentPerHour: read.integer("limits.notificationsSentPerHour", 100, { min: 1, max: 100_000 }),
            notificationsReceivedPerHour: read.integer("limits.notificationsReceivedPerHour", 200, { min: 1, max: 100_000 }),
        },
        functions: {
            memoryMb: read.integer("functions.memoryMb", 256, { min: 128, max: 10_240 }),
            timeoutSeconds: read.integer("functions.timeoutSeconds", 10, { min: 1, max: 29 }),
        },
    };
    checkStageName(stage);
    if (config.search.engine !== "cloudsearch" && config.search.domainName !== undefined) {
        throw new StageConfigError(
            `${NAMESPACE}:search.domainName names an existing CloudSearch domain to use, but search.engine is ${config.search.engine}, got ${JSON.stringify(config.search.domainName)}`,
        );
    }
    const os = config.search.opensearch;
    const notArn = os.reindexPrincipals.find((arn) => !/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/.test(arn));
    if (notArn !== undefined) {
        throw new StageConfigError(`${NAMESPACE}:search.opensearch.reindexPrincipals must list IAM role or user ARNs, got ${JSON.stringify(notArn)}`);
    }
    if (os.instanceCount % os.availabilityZoneCount !== 0) {
        throw new StageConfigError(
            `${NAMESPACE}:search.opensearch.instanceCount must be a multiple of search.opensearch.availabilityZoneCount (${os.availabilityZoneCount}), got ${os.instanceCount}`,
        );
    }
    if (config.api.throttleBurstLimit < config.api.throttleRateLimit) {
        throw new StageConfigError(
            `${NAMESPACE}:api.throttle.burstLimit must be at least api.throttle.rateLimit (${config.api.throttleRateLimit}), got ${config.api.throttleBurstLimit}`,
        );
    }
    read.rejectUnknown(secrets);
    return config;
}

/** WAF rate-based rules refuse limits below this ("Rate-based rule high-level settings", AWS WAF developer guide). */
export const MIN_IP_RATE_LIMIT = 10;

/** The web ACL settings, read (and so known) whether or not it is enabled; undefined when off. */
function readWaf(read: Reader): StageConfig["api"]["waf"] {
    const enabled = read.boolean("api.waf.enabled", false);
    const ipRateLimit = read.integer("api.waf.ipRateLimit", 1000, { min: MIN_IP_RATE_LIMIT, max: 2_000_000_000 });
    const ipRateWindowSeconds = read.oneOf("api.waf.ipRateWindowSeconds", [60, 120, 300, 600] as const, 300);
    return enabled ? { ipRateLimit, ipRateWindowSeconds } : undefined;
}

/** An email address as SES and SNS take it (no display name). */
const EMAIL_ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** A list of email addresses; none when unset. */
function readEmailList(read: Reader, key: string): string[] {
    const list = read.stringList(key, []);
    const bad = list.find((address) => !EMAIL_ADDRESS.test(address));
    if (bad !== undefined) {
        throw new StageConfigError(`${NAMESPACE}:${key} must be a list of email addresses, got ${JSON.stringify(bad)} in ${JSON.stringify(list)}`);
    }
    const placeholder = list.find((address) => address.toLowerCase().endsWith(`@${PLACEHOLDER_DOMAIN}`));
    if (placeholder !== undefined) {
        throw new StageConfigError(
            `${NAMESPACE}:${key} holds the stack file's placeholder, got ${JSON.stringify(placeholder)}: replace it with the addresses that should get the alarms`,
        );
    }
    return list;
}

/**
 * SES sending for the user pool: the from address and the SES identity ARN together or neither. The
 * identity must be the address itself or its domain, in the stack's region (the user pool's region is
 * always one Cognito can send from; see "Email settings for Amazon Cognito user pools").
 */
function readIdentityEmail(read: Reader, region: string | undefined): IdentityEmailConfig | undefined {
    const fromAddress = read.optionalString("identity.email.fromAddress", EMAIL_ADDRESS, "an email address");
    const sesIdentityArn = read.optionalString(
        "identity.email.sesIdentityArn",
        /^arn:aws[a-z-]*:ses:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:identity\/[^\s/]+$/,
        "the ARN of an SES identity (arn:aws:ses:<region>:<account>:identity/<address or domain>)",
    );
    const configurationSet = read.optionalString("identity.email.configurationSet", /^[A-Za-z0-9_-]{1,64}$/, "an SES configuration set name (1–64 letters, digits, _ and -)");
    const replyTo = read.optionalString("identity.email.replyTo", EMAIL_ADDRESS, "an email address");
    if (fromAddress === undefined && sesIdentityArn === undefined) {
        const extra = configurationSet !== undefined ? "configurationSet" : replyTo !== undefined ? "replyTo" : undefined;
        if (extra) {
            throw new StageConfigError(
                `${NAMESPACE}:identity.email.${extra} needs identity.email.fromAddress and identity.email.sesIdentityArn, got ${JSON.stringify(configurationSet ?? replyTo)}`,
            );
        }
        return undefined;
    }
    if (fromAddress === undefined || sesIdentityArn === undefined) {
        const [missing, present, value] =
            fromAddress === undefined ? ["fromAddress", "sesIdentityArn", sesIdentityArn] : ["sesIdentityArn", "fromAddress", fromAddress];
        throw new StageConfigError(`${NAMESPACE}:identity.email.${missing} is needed with identity.email.${present}, got only ${present} ${JSON.stringify(value)}`);
    }
    for (const [key, placeholder] of Object.entries(EMAIL_PLACEHOLDERS)) {
        const value = key === "fromAddress" ? fromAddress : sesIdentityArn;
        if (value === placeholder) {
            throw new StageConfigError(
                `${NAMESPACE}:identity.email.${key} is the stack file's placeholder, got ${JSON.stringify(value)}: replace it with your verified SES identity (README, "Email (SES)"), or remove identity.email to use Cognito's default sender`,
            );
        }
    }
    const [, , , identityRegion, , resource] = sesIdentityArn.split(":");
    const identity = resource.slice("identity/".length).toLowerCase();
    const [, domain] = fromAddress.toLowerCase().split("@");
    if (identity !== fromAddress.toLowerCase() && identity !== domain && !domain.endsWith(`.${identity}`)) {
        throw new StageConfigError(
            `${NAMESPACE}:identity.email.sesIdentityArn must be the identity of identity.email.fromAddress (${fromAddress}) or of its domain, got ${JSON.stringify(sesIdentityArn)}`,
        );
    }
    if (region !== undefined && identityRegion !== region) {
        throw new StageConfigError(
            `${NAMESPACE}:identity.email.sesIdentityArn must be an identity in the stack's region (${region}), got ${JSON.stringify(sesIdentityArn)}`,
        );
    }
    return { fromAddress, sesIdentityArn, configurationSet, replyTo };
}

/** APNs credentials: all four settings or none; the signing key only as a secret. */
function readApns(read: Reader, secrets: ReadonlySet<string>): StageConfig["notifications"]["apns"] {
    const signingKey = read.secret(CREDENTIAL_KEYS.apnsSigningKey, secrets, /-----BEGIN PRIVATE KEY-----[\s\S]+-----END PRIVATE KEY-----/, "an APNs .p8 signing key (PEM)");
    const keyId = read.optionalString("notifications.apns.keyId", /^[A-Z0-9]{10}$/, "a 10-character APNs key id");
    const teamId = read.optionalString("notifications.apns.teamId", /^[A-Z0-9]{10}$/, "a 10-character Apple team id");
    const bundleId = read.optionalString("notifications.apns.bundleId", /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, "an app bundle id (reverse DNS)");
    const sandbox = read.boolean("notifications.apns.sandbox", false);
    const parts = { [CREDENTIAL_KEYS.apnsSigningKey]: signingKey, "notifications.apns.keyId": keyId, "notifications.apns.teamId": teamId, "notifications.apns.bundleId": bundleId };
    const missing = Object.entries(parts).filter(([, v]) => v === undefined).map(([k]) => `${NAMESPACE}:${k}`);
    if (missing.length === 4) return undefined;
    if (missing.length > 0 || !signingKey || !keyId || !teamId || !bundleId) {
        throw new StageConfigError(`APNs is partly configured: also set ${missing.join(", ")}`);
    }
    return { signingKey, keyId, teamId, bundleId, sandbox };
}

/** FCM credentials: a service-account key, only as a secret. */
function readFcm(read: Reader, secrets: ReadonlySet<string>): StageConfig["notifications"]["fcm"] {
    const text = read.secret(CREDENTIAL_KEYS.fcmServiceAccount, secrets, /^\s*\{[\s\S]*\}\s*$/, "a service-account JSON key");
    if (text === undefined) return undefined;
    let key: Record<string, unknown>;
    try {
        key = JSON.parse(text);
    } catch {
        throw new StageConfigError(`${NAMESPACE}:${CREDENTIAL_KEYS.fcmServiceAccount} must be a service-account JSON key, got text that is not JSON`);
    }
    const missing = ["project_id", "private_key", "client_email"].filter((k) => typeof key[k] !== "string");
    if (key.type !== "service_account" || missing.length > 0) {
        throw new StageConfigError(
            `${NAMESPACE}:${CREDENTIAL_KEYS.fcmServiceAccount} must be a service-account JSON key (type "service_account" with project_id, private_key and client_email), got one without ${missing.join(", ") || "type service_account"}`,
        );
    }
    return { serviceAccountJson: text };
}

/** Largest object a single POST upload can create: 5 GiB. */
export const MAX_POST_UPLOAD_BYTES = 5 * 1024 * 1024 * 1024;

/** `media.contentTypes`: a non-empty list of known upload types, without repeats. */
function readContentTypes(read: Reader): UploadContentType[] {
    const types = read.stringList("media.contentTypes", [...ALL_UPLOAD_CONTENT_TYPES]);
    const unknown = types.filter((t) => !(ALL_UPLOAD_CONTENT_TYPES as string[]).includes(t));
    if (unknown.length > 0 || new Set(types).size !== types.length) {
        throw new StageConfigError(
            `${NAMESPACE}:media.contentTypes must list content types from ${ALL_UPLOAD_CONTENT_TYPES.join(", ")}, each once, got ${JSON.stringify(types)}`,
        );
    }
    return types as UploadContentType[];
}

/** The stack-file key a dotted setting lives under (`notifications` for `notifications.apns.keyId`). */
function topLevel(key: string): string {
    return key.split(".")[0];
}

/**
 * `pulumi config set mobile-backend:search.engine none` (without `--path`) stores one flat key named
 * `search.engine`, which no reader asks for: refuse it, naming the fix, instead of deploying with the default.
 */
function rejectFlatKeys(raw: Record<string, unknown>, secrets: ReadonlySet<string>): void {
    for (const key of Object.keys(raw)) {
        if (!key.includes(".")) continue;
        const flags = secrets.has(key) ? "--secret --path" : "--path";
        throw new StageConfigError(
            `${NAMESPACE}:${key} is stored as one flat key, so the program would never read it: a nested setting needs --path. ` +
                `Run: pulumi config rm ${NAMESPACE}:${key} && pulumi config set ${flags} ${NAMESPACE}:${key} <value>`,
        );
    }
}

/**
 * Longest stage name. The stage names the API stage and is part of the names of log groups, the identity
 * pool (`mobile-backend-<stage>-identity`, at most 128 characters), the search domain (shortened with a
 * hash when needed) and the topic's display name (`mobile-backend <stage> notifications`, at most 100).
 */
export const MAX_STAGE_NAME_LENGTH = 64;

/**
 * Refuses a stack name that would make an invalid resource name: lower-case letters, digits and single
 * hyphens, starting with a letter and not ending with a hyphen (valid in every name derived from it).
 */
export function checkStageName(stage: string): void {
    const problems: string[] = [];
    if (!/^[a-z]/.test(stage)) problems.push("start with a lower-case letter");
    if (/[^a-z0-9-]/.test(stage)) problems.push("use only lower-case letters, digits and hyphens");
    if (/--|-$/.test(stage)) problems.push("not end with a hyphen or repeat one");
    if (stage.length > MAX_STAGE_NAME_LENGTH) problems.push(`be at most ${MAX_STAGE_NAME_LENGTH} characters (it has ${stage.length})`);
    if (problems.length === 0) return;
    throw new StageConfigError(
        `the stack name ${JSON.stringify(stage)} cannot name this stage's resources (API stage, log groups, identity pool, ` +
            `search domain): it must ${problems.join(", ")}. Per-developer stages look like dev-alice.`,
    );
}

/** Reads dotted keys out of the raw config, remembering which keys it knows so typos are reported. */
class Reader {
    private readonly known = new Set<string>();

    constructor(
        private readonly raw: Record<string, unknown>,
        private readonly options: ParseOptions = {},
    ) {}

    boolean(key: string, fallback: boolean): boolean {
        const value = this.lookup(key);
        if (value === undefined) return fallback;
        if (value === true || value === "true") return true;
        if (value === false || value === "false") return false;
        throw this.error(key, "must be true or false", value);
    }

    number(key: string, fallback: number, range: { min: number; max: number }, rule = "a number"): number {
        const value = this.lookup(key);
        if (value === undefined) return fallback;
        const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
        if (typeof n !== "number" || !Number.isFinite(n) || n < range.min || n > range.max) {
            throw this.error(key, `must be ${rule} from ${range.min} to ${range.max}`, value);
        }
        return n;
    }

    integer(key: string, fallback: number, range: { min: number; max: number }): number {
        const n = this.number(key, fallback, range, "a whole number");
        if (!Number.isInteger(n)) {
            throw this.error(key, `must be a whole number from ${range.min} to ${range.max}`, this.lookup(key));
        }
        return n;
    }

    oneOf<T extends string | number>(key: string, allowed: readonly T[], fallback: T): T {
        const value = this.lookup(key);
        if (value === undefined) return fallback;
        const match = allowed.find((a) => a === value || String(a) === value);
        if (match === undefined) {
            throw this.error(key, `must be one of ${allowed.join(", ")}`, value);
        }
        return match;
    }

    /**
     * A credential: must be set as a secret, and its value is never echoed in an error. Pulumi marks a whole
     * top-level key secret when any value inside it was set with `--secret`, so that is what is checked.
     */
    secret(key: string, secrets: ReadonlySet<string>, pattern: RegExp, rule: string): string | undefined {
        const value = this.lookup(key);
        if (value === undefined) return undefined;
        if (!secrets.has(topLevel(key)) || this.options.plainInStackFile?.has(key)) {
            throw new StageConfigError(
                `${NAMESPACE}:${key} must be set as a secret: pulumi config set --secret --path ${NAMESPACE}:${key} ... (it is stored in plain text now)`,
            );
        }
        if (typeof value !== "string" || !pattern.test(value)) {
            throw new StageConfigError(`${NAMESPACE}:${key} must be ${rule}, got a value that is not (not shown: it is a secret)`);
        }
        return value;
    }

    /**
     * An optional string matching `pattern`. `pulumi config set --path` stores a value made only of digits (without
     * a leading zero, within 64 bits) as a number; such a value is taken as its decimal text when that text is
     * exact (a safe integer). A longer one has lost digits already, and the error says how to keep it a string.
     */
    optionalString(key: string, pattern: RegExp, rule: string): string | undefined {
        const raw = this.lookup(key);
        if (raw === undefined) return undefined;
        if (typeof raw === "number" && !Number.isSafeInteger(raw)) {
            throw this.error(
                key,
                `must be ${rule}; it was stored as a number, which cannot hold all of its digits, so set it as a ` +
                    `string: pulumi config set --path --type string ${NAMESPACE}:${key} <value>`,
                raw,
            );
        }
        const value = typeof raw === "number" && raw >= 0 ? String(raw) : raw;
        if (typeof value !== "string" || !pattern.test(value)) throw this.error(key, `must be ${rule}`, raw);
        return value;
    }

    stringList(key: string, fallback: string[]): string[] {
        const value = this.lookup(key);
        if (value === undefined) return fallback;
        if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "string" && v !== "")) {
            throw this.error(key, "must be a non-empty list of strings", value);
        }
        return value as string[];
    }

    /**
     * Every key present in the stack file that no reader asked for is a typo or a removed setting.
     * The value of a secret is never echoed (a misspelled credential is still a credential).
     */
    rejectUnknown(secrets: ReadonlySet<string>): void {
        const walk = (value: unknown, path: string): void => {
            if (this.known.has(path)) return;
            if (value !== null && typeof value === "object" && !Array.isArray(value)) {
                for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
                return;
            }
            const shown = secrets.has(topLevel(path)) ? "a secret value, not shown" : JSON.stringify(value);
            throw new StageConfigError(`${NAMESPACE}:${path} is not a setting of this program (got ${shown})`);
        };
        walk(this.raw, "");
    }

    private lookup(key: string): unknown {
        this.known.add(key);
        let value: unknown = this.raw;
        for (const part of key.split(".")) {
            if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
            value = (value as Record<string, unknown>)[part];
        }
        if (value !== undefined && value !== null && typeof value === "object" && !Array.isArray(value)) {
            throw this.error(key, "must be a single value, not an object", value);
        }
        if (value !== undefined && value !== null) this.options.trace?.set(key, value);
        return value === null ? undefined : value;
    }

    private error(key: string, rule: string, value: unknown): StageConfigError {
        return new StageConfigError(`${NAMESPACE}:${key} ${rule}, got ${JSON.stringify(value)}`);
    }
}
