/** The typed stage config: defaults, both stack files, and errors that name the key and the value. */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CREDENTIAL_KEYS, MAX_STAGE_NAME_LENGTH, parseStageConfig, StageConfigError } from "../infra/config";
import { searchDomainName } from "../infra/search";
import { APNS_KEY, FCM_KEY } from "./support/credentials";
import { REPLACED_PLACEHOLDERS, stackFileConfig } from "./support/mocks";
import { loadProgram } from "./support/program";
import { StackConfig } from "./support/pulumi-config";

/**
 * The `mobile-backend:` settings of a stack file, as the program receives them: as written, or with its
 * documented placeholders replaced as the README tells the operator to.
 */
function stackSettings(stage: string, asWritten = false): Record<string, unknown> {
    const config = asWritten
        ? (parse(fs.readFileSync(path.join(__dirname, "..", `Pulumi.${stage}.yaml`), "utf8")).config as Record<string, unknown>)
        : stackFileConfig(stage);
    const settings: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
        if (key.startsWith("mobile-backend:")) settings[key.slice("mobile-backend:".length)] = value;
    }
    return settings;
}

test("an empty stack file gives a destroyable stage with documented defaults", () => {
    expect(parseStageConfig("dev", {})).toEqual({
        stage: "dev",
        retainStatefulResources: false,
        logRetentionDays: 7,
        identity: { allowGuests: false, email: undefined },
        monitoring: {
            alarmEmails: [],
            tracing: false,
            functionErrors: 1,
            functionThrottles: 1,
            api5xxRatePercent: 1,
            apiP99LatencyMs: 3000,
            iteratorAgeSeconds: 300,
            freeStorageMb: 2048,
        },
        api: {
            throttleRateLimit: 50,
            throttleBurstLimit: 100,
            quotaLimit: 100000,
            quotaPeriod: "DAY",
            manageAccountLogging: true,
        },
        media: {
            corsOrigins: ["*"],
            priceClass: "PriceClass_100",
            contentTypes: ["image/jpeg", "image/png", "image/heic", "image/heif", "image/webp", "video/mp4", "video/quicktime"],
            maxImageBytes: 10 * 1024 * 1024,
            maxVideoBytes: 100 * 1024 * 1024,
            uploadExpirySeconds: 600,
            cacheSeconds: 3600,
        },
        search: {
            engine: "opensearch",
            domainName: undefined,
            instanceType: "search.small",
            multiAz: false,
            replicationCount: 1,
            opensearch: { instanceType: "t3.small.search", instanceCount: 1, availabilityZoneCount: 1, volumeSizeGb: 10, reindexPrincipals: [] },
            batchSize: 100,
            batchWindowSeconds: 1,
            maxRetryAttempts: 10,
            maxRecordAgeSeconds: 86400,
        },
        notifications: { apns: undefined, fcm: undefined, retryAttempts: 2, maxEventAgeSeconds: 3600, maxDevicesPerIdentity: 10 },
        limits: { writesPerMinute: 60, notificationsSentPerHour: 100, notificationsReceivedPerHour: 200 },
        functions: { memoryMb: 256, timeoutSeconds: 10 },
    });
});

test("the fair-use limits and the devices cap are read per stage", () => {
    const config = parseStageConfig("dev", {
        notifications: { maxDevicesPerIdentity: 3 },
        limits: { writesPerMinute: 10, notificationsSentPerHour: 20, notificationsReceivedPerHour: 30 },
    });
    expect(config.notifications.maxDevicesPerIdentity).toBe(3);
    expect(config.limits).toEqual({ writesPerMinute: 10, notificationsSentPerHour: 20, notificationsReceivedPerHour: 30 });
    expect(parseStageConfig("prod", stackSettings("prod")).limits).toEqual({
        writesPerMinute: 60,
        notificationsSentPerHour: 100,
        notificationsReceivedPerHour: 200,
    });
});

test("both stack files are valid, and differ where a production stage must", () => {
    const dev = parseStageConfig("dev", stackSettings("dev"));
    const prod = parseStageConfig("prod", stackSettings("prod"));
    expect(dev.retainStatefulResources).toBe(false);
    expect(prod.retainStatefulResources).toBe(true);
    expect(prod.logRetentionDays).toBeGreaterThan(dev.logRetentionDays);
    expect(prod.api.throttleRateLimit).toBeGreaterThan(dev.api.throttleRateLimit);
    // OpenSearch on both (CloudSearch is closed to new accounts): dev one small node, prod over zones.
    expect([dev.search.engine, prod.search.engine]).toEqual(["opensearch", "opensearch"]);
    expect(dev.search.opensearch).toMatchObject({ instanceType: "t3.small.search", instanceCount: 1, availabilityZoneCount: 1 });
    expect(prod.search.opensearch.availabilityZoneCount).toBeGreaterThan(1);
    expect(prod.search.opensearch.instanceCount % prod.search.opensearch.availabilityZoneCount).toBe(0);
    expect(prod.monitoring.tracing).toBe(true);
    expect(dev.monitoring.tracing).toBe(false);
    expect(prod.identity.email).toEqual(REPLACED_PLACEHOLDERS.email);
    expect(dev.identity.email).toBeUndefined();
    expect(prod.monitoring.alarmEmails).toEqual(REPLACED_PLACEHOLDERS.alarmEmails);
});

test("the prod stack file as shipped is refused until its placeholders are replaced", () => {
    const shipped = stackSettings("prod", true);
    expect(() => parseStageConfig("prod", shipped, new Set(), { region: "us-east-1" })).toThrow(
        'mobile-backend:identity.email.fromAddress is the stack file\'s placeholder, got "no-reply@example.com": replace it with your verified SES identity',
    );
    const identity = shipped.identity as Record<string, unknown>;
    const onlyAlarms = { ...shipped, identity: { ...identity, email: REPLACED_PLACEHOLDERS.email } };
    expect(() => parseStageConfig("prod", onlyAlarms, new Set(), { region: "us-east-1" })).toThrow(
        'mobile-backend:monitoring.alarmEmails holds the stack file\'s placeholder, got "oncall@example.com"',
    );
});

test("an SES identity must be in the stack's region and match the from address", () => {
    const email = (e: Record<string, unknown>) => ({ identity: { email: e } });
    const arn = "arn:aws:ses:us-east-1:123456789012:identity/notes-app.test";
    expect(parseStageConfig("prod", email({ fromAddress: "no-reply@mail.notes-app.test", sesIdentityArn: arn }), new Set(), { region: "us-east-1" }).identity.email).toEqual({
        fromAddress: "no-reply@mail.notes-app.test",
        sesIdentityArn: arn,
        configurationSet: undefined,
        replyTo: undefined,
    });
    // An address identity covers exactly that address.
    expect(
        parseStageConfig("prod", email({ fromAddress: "No-Reply@notes-app.test", sesIdentityArn: "arn:aws:ses:us-east-1:123456789012:identity/no-reply@notes-app.test" }), new Set(), { region: "us-east-1" })
            .identity.email?.fromAddress,
    ).toBe("No-Reply@notes-app.test");
    expect(() => parseStageConfig("prod", email({ fromAddress: "no-reply@notes-app.test", sesIdentityArn: arn }), new Set(), { region: "eu-west-1" })).toThrow(
        `mobile-backend:identity.email.sesIdentityArn must be an identity in the stack's region (eu-west-1), got "${arn}"`,
    );
    expect(() => parseStageConfig("prod", email({ fromAddress: "no-reply@other.test", sesIdentityArn: arn }), new Set(), { region: "us-east-1" })).toThrow(
        `mobile-backend:identity.email.sesIdentityArn must be the identity of identity.email.fromAddress (no-reply@other.test) or of its domain, got "${arn}"`,
    );
});

test.each([
    [{ logRetentionDays: 8 }, "mobile-backend:logRetentionDays must be one of 1, 3, 5, 7, 14", "got 8"],
    [{ retainStatefulResources: "yes" }, "mobile-backend:retainStatefulResources must be true or false", 'got "yes"'],
    [{ identity: { allowGuests: 1 } }, "mobile-backend:identity.allowGuests must be true or false", "got 1"],
    [{ api: { throttle: { rateLimit: "fast" } } }, "mobile-backend:api.throttle.rateLimit must be a number", 'got "fast"'],
    [{ api: { throttle: { burstLimit: 2.5 } } }, "mobile-backend:api.throttle.burstLimit must be a whole number", "got 2.5"],
    [{ api: { quota: { period: "YEAR" } } }, "mobile-backend:api.quota.period must be one of DAY, WEEK, MONTH", 'got "YEAR"'],
    [{ api: { throttle: { rateLimit: 100, burstLimit: 10 } } }, "mobile-backend:api.throttle.burstLimit must be at least", "got 10"],
    [{ media: { corsOrigins: "*" } }, "mobile-backend:media.corsOrigins must be a non-empty list of strings", 'got "*"'],
    [{ media: { contentTypes: ["image/jpeg", "text/html"] } }, "mobile-backend:media.contentTypes must list content types from image/jpeg, image/png", '["image/jpeg","text/html"]'],
    [{ media: { contentTypes: ["image/png", "image/png"] } }, "mobile-backend:media.contentTypes must list content types from", "each once"],
    [{ media: { maxImageBytes: 6 * 1024 ** 3 } }, "mobile-backend:media.maxImageBytes must be a whole number from 1 to 5368709120", "got 6442450944"],
    [{ media: { maxVideoBytes: 0 } }, "mobile-backend:media.maxVideoBytes must be a whole number from 1 to", "got 0"],
    [{ media: { uploadExpirySeconds: 7200 } }, "mobile-backend:media.uploadExpirySeconds must be a whole number from 60 to 3600", "got 7200"],
    [{ media: { cacheSeconds: -1 } }, "mobile-backend:media.cacheSeconds must be a whole number from 0 to 86400", "got -1"],
    [{ functions: { timeoutSeconds: 30 } }, "mobile-backend:functions.timeoutSeconds must be a whole number from 1 to 29", "got 30"],
    [{ api: { throttle: { ratelimit: 5 } } }, "mobile-backend:api.throttle.ratelimit is not a setting of this program", "got 5"],
    [{ identity: true }, "mobile-backend:identity is not a setting of this program", "got true"],
    [{ search: { engine: "elastic" } }, "mobile-backend:search.engine must be one of opensearch, cloudsearch, none", 'got "elastic"'],
    [{ search: { engine: "none", domainName: "team-notes" } }, "mobile-backend:search.domainName names an existing CloudSearch domain to use, but search.engine is none", 'got "team-notes"'],
    [{ search: { domainName: "team-notes" } }, "but search.engine is opensearch", 'got "team-notes"'],
    [{ search: { opensearch: { instanceType: "t3.small" } } }, "mobile-backend:search.opensearch.instanceType must be an OpenSearch Service instance type", 'got "t3.small"'],
    [{ search: { opensearch: { instanceCount: 3, availabilityZoneCount: 2 } } }, "search.opensearch.instanceCount must be a multiple of search.opensearch.availabilityZoneCount (2)", "got 3"],
    [{ search: { opensearch: { reindexPrincipals: ["admin"] } } }, "mobile-backend:search.opensearch.reindexPrincipals must list IAM role or user ARNs", 'got "admin"'],
    [{ search: { opensearch: { availabilityZoneCount: 4 } } }, "mobile-backend:search.opensearch.availabilityZoneCount must be one of 1, 2, 3", "got 4"],
    [{ search: { engine: "cloudsearch", domainName: "Team_Notes" } }, "mobile-backend:search.domainName must be a CloudSearch domain name", 'got "Team_Notes"'],
    [{ search: { stream: { maxRecordAgeSeconds: 604800 } } }, "mobile-backend:search.stream.maxRecordAgeSeconds must be a whole number from 60 to 86400", "got 604800"],
    [{ notifications: { retryAttempts: 3 } }, "mobile-backend:notifications.retryAttempts must be a whole number from 0 to 2", "got 3"],
    [{ api: { waf: { enabled: true, ipRateLimit: 5 } } }, "mobile-backend:api.waf.ipRateLimit must be a whole number from 10 to 2000000000", "got 5"],
    [{ api: { waf: { ipRateWindowSeconds: 100 } } }, "mobile-backend:api.waf.ipRateWindowSeconds must be one of 60, 120, 300, 600", "got 100"],
    [{ notifications: { maxDevicesPerIdentity: 0 } }, "mobile-backend:notifications.maxDevicesPerIdentity must be a whole number from 1 to 100", "got 0"],
    [{ limits: { writesPerMinute: 0.5 } }, "mobile-backend:limits.writesPerMinute must be a whole number from 1 to 10000", "got 0.5"],
    [{ limits: { notificationsSentPerHour: "lots" } }, "mobile-backend:limits.notificationsSentPerHour must be a whole number", 'got "lots"'],
    [{ limits: { notificationsReceivedPerHour: 100_001 } }, "mobile-backend:limits.notificationsReceivedPerHour must be a whole number from 1 to 100000", "got 100001"],
    [{ limits: { writesPerHour: 5 } }, "mobile-backend:limits.writesPerHour is not a setting of this program", "got 5"],
    [{ monitoring: { alarmEmails: ["ops@notes-app.test", "pager"] } }, "mobile-backend:monitoring.alarmEmails must be a list of email addresses", 'got "pager"'],
    [{ monitoring: { alarmEmails: "ops@notes-app.test" } }, "mobile-backend:monitoring.alarmEmails must be a non-empty list of strings", 'got "ops@notes-app.test"'],
    [{ monitoring: { tracing: "on" } }, "mobile-backend:monitoring.tracing must be true or false", 'got "on"'],
    [{ monitoring: { api5xxRatePercent: 0 } }, "mobile-backend:monitoring.api5xxRatePercent must be a number from 0.1 to 100", "got 0"],
    [{ monitoring: { apiP99LatencyMs: 30000 } }, "mobile-backend:monitoring.apiP99LatencyMs must be a whole number from 50 to 29000", "got 30000"],
    [{ monitoring: { iteratorAgeSeconds: 5 } }, "mobile-backend:monitoring.iteratorAgeSeconds must be a whole number from 10 to 86400", "got 5"],
    [{ monitoring: { freeStorageMb: "lots" } }, "mobile-backend:monitoring.freeStorageMb must be a whole number from 1 to 10000000", 'got "lots"'],
    [{ monitoring: { functionErrors: 0 } }, "mobile-backend:monitoring.functionErrors must be a whole number from 1 to 10000", "got 0"],
    [{ monitoring: { alarmEmail: ["ops@notes-app.test"] } }, "mobile-backend:monitoring.alarmEmail is not a setting of this program", '["ops@notes-app.test"]'],
    [{ identity: { email: { fromAddress: "no-reply" } } }, "mobile-backend:identity.email.fromAddress must be an email address", 'got "no-reply"'],
    [{ identity: { email: { fromAddress: "no-reply@notes-app.test" } } }, "mobile-backend:identity.email.sesIdentityArn is needed with identity.email.fromAddress", 'got only fromAddress "no-reply@notes-app.test"'],
    [{ identity: { email: { sesIdentityArn: "arn:aws:ses:us-east-1:123456789012:notes-app.test" } } }, "mobile-backend:identity.email.sesIdentityArn must be the ARN of an SES identity", 'got "arn:aws:ses:us-east-1:123456789012:notes-app.test"'],
    [{ identity: { email: { configurationSet: "notes-mail" } } }, "mobile-backend:identity.email.configurationSet needs identity.email.fromAddress and identity.email.sesIdentityArn", 'got "notes-mail"'],
    [{ identity: { email: { ...REPLACED_PLACEHOLDERS.email, configurationSet: "notes mail" } } }, "mobile-backend:identity.email.configurationSet must be an SES configuration set name", 'got "notes mail"'],
    [{ identity: { email: { ...REPLACED_PLACEHOLDERS.email, replyTo: "support" } } }, "mobile-backend:identity.email.replyTo must be an email address", 'got "support"'],
    [{ identity: { email: { ...REPLACED_PLACEHOLDERS.email, from: "x@notes-app.test" } } }, "mobile-backend:identity.email.from is not a setting of this program", 'got "x@notes-app.test"'],
])("rejects %j naming the key and the value", (raw, rule, got) => {
    const attempt = () => parseStageConfig("dev", raw);
    expect(attempt).toThrow(StageConfigError);
    expect(attempt).toThrow(rule);
    expect(attempt).toThrow(got);
});

test("a misspelled credential is refused without showing its value", () => {
    const raw = { notifications: { apns: { signingkey: "-----BEGIN PRIVATE KEY-----hunter2" } } };
    const attempt = () => parseStageConfig("dev", raw, new Set(["notifications"]));
    expect(attempt).toThrow("mobile-backend:notifications.apns.signingkey is not a setting of this program (got a secret value, not shown)");
    expect(attempt).not.toThrow("hunter2");
});

describe("settings as `pulumi config set` stores them, through the program's loader", () => {
    const devFile = () => new StackConfig(parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.dev.yaml"), "utf8")).config);

    test.each([
        ["mobile-backend:search.engine", "none"],
        ["mobile-backend:functions.memoryMb", "1024"],
        ["mobile-backend:api.throttle.rateLimit", "5"],
    ])("%s set without --path is refused, naming the fix, instead of silently ignored", (key, value) => {
        const flat = devFile().set(key, value);
        expect(() => flat.load("dev")).toThrow(
            `${key} is stored as one flat key, so the program would never read it: a nested setting needs --path. ` +
                `Run: pulumi config rm ${key} && pulumi config set --path ${key} <value>`,
        );
        // The fix the message names works.
        const fixed = flat.rm(key).set(key, value, { path: true }).load("dev");
        const [, section, ...setting] = key.split(/[:.]/);
        const expected = { engine: "none", memoryMb: 1024, rateLimit: 5 }[setting[setting.length - 1]];
        const loaded = JSON.stringify(fixed[section as keyof typeof fixed]);
        expect(loaded).toContain(JSON.stringify(expected));
    });

    /** APNs settings as the README's commands set them, with the ids given. */
    const apns = (teamId: string, flags: { type?: "string" } = {}) =>
        devFile()
            .set(`mobile-backend:${CREDENTIAL_KEYS.apnsSigningKey}`, APNS_KEY, { path: true, secret: true })
            .set("mobile-backend:notifications.apns.keyId", "ABC123DEFG", { path: true })
            .set("mobile-backend:notifications.apns.teamId", teamId, { path: true, ...flags })
            .set("mobile-backend:notifications.apns.bundleId", "com.example.notes", { path: true });

    test("a digit-only id that --path stored as a number is taken when its digits survive", () => {
        const stored = apns("1234567890");
        expect((stored.values["mobile-backend:notifications"] as { apns: { teamId: unknown } }).apns.teamId).toBe(1234567890);
        expect(stored.load("dev").notifications.apns).toMatchObject({ teamId: "1234567890", keyId: "ABC123DEFG", sandbox: true });
    });

    test("an id with a leading zero stays a string, as --path stores it", () => {
        const stored = apns("0123456789");
        expect((stored.values["mobile-backend:notifications"] as { apns: { teamId: unknown } }).apns.teamId).toBe("0123456789");
        expect(stored.load("dev").notifications.apns?.teamId).toBe("0123456789");
    });

    test("digits a number cannot hold are refused, naming --type string, which keeps them", () => {
        // 17 digits: --path stores a 64-bit integer, and the program receives a double that has lost the last digit.
        expect(() => apns("98765432109876543").load("dev")).toThrow(
            "mobile-backend:notifications.apns.teamId must be a 10-character Apple team id; it was stored as a number, which cannot " +
                "hold all of its digits, so set it as a string: pulumi config set --path --type string mobile-backend:notifications.apns.teamId <value>",
        );
        expect(() => apns("98765432109876543", { type: "string" }).load("dev")).toThrow(
            'mobile-backend:notifications.apns.teamId must be a 10-character Apple team id, got "98765432109876543"',
        );
    });

    test("the push credentials live under notifications, are read only as secrets, and stay out of errors", () => {
        const fcm = devFile().set(`mobile-backend:${CREDENTIAL_KEYS.fcmServiceAccount}`, FCM_KEY, { path: true, secret: true });
        expect(fcm.load("dev").notifications.fcm).toEqual({ serviceAccountJson: FCM_KEY });
        const plain = devFile().set(`mobile-backend:${CREDENTIAL_KEYS.fcmServiceAccount}`, FCM_KEY, { path: true });
        expect(() => plain.load("dev")).toThrow(
            "mobile-backend:notifications.fcm.serviceAccount must be set as a secret: pulumi config set --secret --path mobile-backend:notifications.fcm.serviceAccount",
        );
        expect(() => plain.load("dev")).not.toThrow("LOCALTESTKEY");
    });

    test("a plain-text credential is refused even when another value under notifications is a secret", () => {
        // Pulumi reports only that the `notifications` key holds a secret; the stack file says which value is.
        const mixed = apns("TEAM123456").set(`mobile-backend:${CREDENTIAL_KEYS.fcmServiceAccount}`, FCM_KEY, { path: true });
        expect(mixed.secretKeys.has("mobile-backend:notifications")).toBe(true);
        expect(() => mixed.load("dev")).toThrow("mobile-backend:notifications.fcm.serviceAccount must be set as a secret");
        expect(() => mixed.load("dev")).not.toThrow("LOCALTESTKEY");
    });

    test("a flat key set as a secret is told to come back with --secret --path", () => {
        const flat = devFile().set("mobile-backend:notifications.fcm.serviceAccount", FCM_KEY, { secret: true });
        expect(() => flat.load("dev")).toThrow(
            "pulumi config set --secret --path mobile-backend:notifications.fcm.serviceAccount <value>",
        );
    });

    test.each([["mobile-backend:api", "5"], ["mobile-backend:search", "none"]])("%s given a single value is refused as not an object", (key, value) => {
        expect(() => devFile().set(key, value).load("dev")).toThrow(`${key} must be an object of settings, got`);
    });

    test("top-level settings arrive as text and are read as the numbers and booleans they name", () => {
        const loaded = devFile().set("mobile-backend:logRetentionDays", "30").set("mobile-backend:retainStatefulResources", "true").load("dev");
        expect(loaded).toMatchObject({ logRetentionDays: 30, retainStatefulResources: true });
    });
});

describe("stage names", () => {
    test.each(["dev", "prod", "dev-alice", "dev-bob2", "qa-2026-11", "s".repeat(MAX_STAGE_NAME_LENGTH)])(
        "%s names every resource the stage derives from it",
        (stage) => {
            expect(parseStageConfig(stage, {}).stage).toBe(stage);
            // The names the program derives from the stage, at their services' limits.
            expect(`mobile-backend-${stage}-identity`.length).toBeLessThanOrEqual(128);
            expect(`mobile-backend ${stage} notifications`.length).toBeLessThanOrEqual(100);
            expect(searchDomainName("mobile-backend", stage)).toMatch(/^[a-z][a-z0-9-]{2,27}$/);
        },
    );

    test.each([
        ["Prod_1", "start with a lower-case letter, use only lower-case letters, digits and hyphens"],
        ["dev_alice", "use only lower-case letters, digits and hyphens"],
        ["dev.alice", "use only lower-case letters, digits and hyphens"],
        ["1dev", "start with a lower-case letter"],
        ["dev-", "not end with a hyphen or repeat one"],
        ["dev--alice", "not end with a hyphen or repeat one"],
        ["s".repeat(MAX_STAGE_NAME_LENGTH + 1), `be at most ${MAX_STAGE_NAME_LENGTH} characters (it has ${MAX_STAGE_NAME_LENGTH + 1})`],
    ])("refuses %j, saying why", (stage, why) => {
        const attempt = () => parseStageConfig(stage, {});
        expect(attempt).toThrow(StageConfigError);
        expect(attempt).toThrow(`the stack name ${JSON.stringify(stage)} cannot name this stage's resources`);
        expect(attempt).toThrow(why);
    });
});

test("the program refuses a misspelled setting instead of ignoring it", async () => {
    await expect(loadProgram("dev", { "mobile-backend:logRetentionDay": 30 })).rejects.toThrow(
        "mobile-backend:logRetentionDay is not a setting of this program",
    );
});

test("the program refuses to run with a bad value in its stack file", async () => {
    await expect(loadProgram("dev", { "mobile-backend:logRetentionDays": 8 })).rejects.toThrow(
        "mobile-backend:logRetentionDays must be one of",
    );
});
