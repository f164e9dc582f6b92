/** The typed stage config: defaults, both stack files, and errors that name the key and the value. */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { parseStageConfig, StageConfigError } from "../infra/config";
import { loadProgram } from "./support/program";

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
        media: { corsOrigins: ["*"], priceClass: "PriceClass_100" },
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
    // OpenSearch on both (CloudSearch is closed to new accounts): dev one small node, prod over zones.
    expect([dev.search.engine, prod.search.engine]).toEqual(["opensearch", "opensearch"]);
    expect(dev.search.opensearch).toMatchObject({ instanceType: "t3.small.search", instanceCount: 1, availabilityZoneCount: 1 });
    expect(prod.search.opensearch.availabilityZoneCount).toBeGreaterThan(1);
    expect(prod.search.opensearch.instanceCount % prod.search.opensearch.availabilityZoneCount).toBe(0);
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
