/** The typed stage config: defaults, both stack files, and errors that name the key and the value. */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CREDENTIAL_KEYS, MAX_STAGE_NAME_LENGTH, parseStageConfig, StageConfigError } from "../infra/config";
import { searchDomainName } from "../infra/search";
import { APNS_KEY, FCM_KEY } from "./support/credentials";
import { loadProgram } from "./support/program";
import { StackConfig } from "./support/pulumi-config";

/** The `mobile-backend:` settings of a stack file, as the program receives them. */
function stackSettings(stage: string): Record<string, unknown> {
    const file = parse(fs.readFileSync(path.join(__dirname, "..", `Pulumi.${stage}.yaml`), "utf8"));
    const settings: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(file.config as Record<string, unknown>)) {
        if (key.startsWith("mobile-backend:")) settings[key.slice("mobile-backend:".length)] = value;
    }
    return settings;
}

test("an empty stack file gives a destroyable stage with documented defaults", () => {
    expect(parseStageConfig("dev", {})).toEqual({
        stage: "dev",
        retainStatefulResources: false,
        logRetentionDays: 7,
        identity: { allowGuests: false },
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
            engine: "cloudsearch",
            domainName: undefined,
            instanceType: "search.small",
            multiAz: false,
            replicationCount: 1,
            batchSize: 100,
            batchWindowSeconds: 1,
            maxRetryAttempts: 10,
            maxRecordAgeSeconds: 86400,
        },
        notifications: { apns: undefined, fcm: undefined, retryAttempts: 2, maxEventAgeSeconds: 3600 },
        functions: { memoryMb: 256, timeoutSeconds: 10 },
    });
});

test("both stack files are valid, and differ where a production stage must", () => {
    const dev = parseStageConfig("dev", stackSettings("dev"));
    const prod = parseStageConfig("prod", stackSettings("prod"));
    expect(dev.retainStatefulResources).toBe(false);
    expect(prod.retainStatefulResources).toBe(true);
    expect(prod.logRetentionDays).toBeGreaterThan(dev.logRetentionDays);
    expect(prod.api.throttleRateLimit).toBeGreaterThan(dev.api.throttleRateLimit);
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
    [{ search: { engine: "elastic" } }, "mobile-backend:search.engine must be one of cloudsearch, none", 'got "elastic"'],
    [{ search: { engine: "none", domainName: "team-notes" } }, "mobile-backend:search.domainName names a domain to use, but search.engine is none", 'got "team-notes"'],
    [{ search: { domainName: "Team_Notes" } }, "mobile-backend:search.domainName must be a CloudSearch domain name", 'got "Team_Notes"'],
    [{ search: { stream: { maxRecordAgeSeconds: 604800 } } }, "mobile-backend:search.stream.maxRecordAgeSeconds must be a whole number from 60 to 86400", "got 604800"],
    [{ notifications: { retryAttempts: 3 } }, "mobile-backend:notifications.retryAttempts must be a whole number from 0 to 2", "got 3"],
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

    test("a digit-only id that lost its leading zero is refused, and --type string keeps it", () => {
        expect(() => apns("0123456789").load("dev")).toThrow(
            "mobile-backend:notifications.apns.teamId must be a 10-character Apple team id; it was stored as the number 123456789, " +
                "which loses leading zeros and long digit strings, so set it as a string: " +
                "pulumi config set --path --type string mobile-backend:notifications.apns.teamId <value>, got 123456789",
        );
        expect(apns("0123456789", { type: "string" }).load("dev").notifications.apns?.teamId).toBe("0123456789");
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
