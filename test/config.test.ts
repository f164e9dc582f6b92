/** The typed stage config: defaults, both stack files, and errors that name the key and the value. */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { parseStageConfig, StageConfigError } from "../infra/config";
import { REPLACED_PLACEHOLDERS, stackFileConfig } from "./support/mocks";
import { loadProgram } from "./support/program";

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
        media: { corsOrigins: ["*"], priceClass: "PriceClass_100" },
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
    expect(prod.monitoring.tracing).toBe(true);
    expect(dev.monitoring.tracing).toBe(false);
    expect(prod.identity.email).toEqual(REPLACED_PLACEHOLDERS.email);
    expect(dev.identity.email).toBeUndefined();
    expect(prod.monitoring.alarmEmails).toEqual(REPLACED_PLACEHOLDERS.alarmEmails);
});

test("the prod stack file as shipped is refused until its placeholders are replaced", () => {
    const shipped = stackSettings("prod", true);
    expect(() => parseStageConfig("prod", shipped, new Set(), "us-east-1")).toThrow(
        'mobile-backend:identity.email.fromAddress is the stack file\'s placeholder, got "no-reply@example.com": replace it with your verified SES identity',
    );
    const identity = shipped.identity as Record<string, unknown>;
    const onlyAlarms = { ...shipped, identity: { ...identity, email: REPLACED_PLACEHOLDERS.email } };
    expect(() => parseStageConfig("prod", onlyAlarms, new Set(), "us-east-1")).toThrow(
        'mobile-backend:monitoring.alarmEmails holds the stack file\'s placeholder, got "oncall@example.com"',
    );
});

test("an SES identity must be in the stack's region and match the from address", () => {
    const email = (e: Record<string, unknown>) => ({ identity: { email: e } });
    const arn = "arn:aws:ses:us-east-1:123456789012:identity/notes-app.test";
    expect(parseStageConfig("prod", email({ fromAddress: "no-reply@mail.notes-app.test", sesIdentityArn: arn }), new Set(), "us-east-1").identity.email).toEqual({
        fromAddress: "no-reply@mail.notes-app.test",
        sesIdentityArn: arn,
        configurationSet: undefined,
        replyTo: undefined,
    });
    // An address identity covers exactly that address.
    expect(
        parseStageConfig("prod", email({ fromAddress: "No-Reply@notes-app.test", sesIdentityArn: "arn:aws:ses:us-east-1:123456789012:identity/no-reply@notes-app.test" }), new Set(), "us-east-1")
            .identity.email?.fromAddress,
    ).toBe("No-Reply@notes-app.test");
    expect(() => parseStageConfig("prod", email({ fromAddress: "no-reply@notes-app.test", sesIdentityArn: arn }), new Set(), "eu-west-1")).toThrow(
        `mobile-backend:identity.email.sesIdentityArn must be an identity in the stack's region (eu-west-1), got "${arn}"`,
    );
    expect(() => parseStageConfig("prod", email({ fromAddress: "no-reply@other.test", sesIdentityArn: arn }), new Set(), "us-east-1")).toThrow(
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
    [{ functions: { timeoutSeconds: 30 } }, "mobile-backend:functions.timeoutSeconds must be a whole number from 1 to 29", "got 30"],
    [{ api: { throttle: { ratelimit: 5 } } }, "mobile-backend:api.throttle.ratelimit is not a setting of this program", "got 5"],
    [{ identity: true }, "mobile-backend:identity is not a setting of this program", "got true"],
    [{ search: { engine: "elastic" } }, "mobile-backend:search.engine must be one of cloudsearch, none", 'got "elastic"'],
    [{ search: { engine: "none", domainName: "team-notes" } }, "mobile-backend:search.domainName names a domain to use, but search.engine is none", 'got "team-notes"'],
    [{ search: { domainName: "Team_Notes" } }, "mobile-backend:search.domainName must be a CloudSearch domain name", 'got "Team_Notes"'],
    [{ search: { stream: { maxRecordAgeSeconds: 604800 } } }, "mobile-backend:search.stream.maxRecordAgeSeconds must be a whole number from 60 to 86400", "got 604800"],
    [{ notifications: { retryAttempts: 3 } }, "mobile-backend:notifications.retryAttempts must be a whole number from 0 to 2", "got 3"],
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
    const attempt = () => parseStageConfig("dev", { apnsSigningkey: "-----BEGIN PRIVATE KEY-----hunter2" }, new Set(["apnsSigningkey"]));
    expect(attempt).toThrow("mobile-backend:apnsSigningkey is not a setting of this program (got a secret value, not shown)");
    expect(attempt).not.toThrow("hunter2");
});

test("rejects a stack name that cannot name an API stage", () => {
    expect(() => parseStageConfig("Prod_1", {})).toThrow('got "Prod_1"');
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
