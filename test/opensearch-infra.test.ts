/**
 * The OpenSearch engine under mocks (the default on both stages): the domain's security and size per
 * stage, its log group and the log resource policy, the domain access policy, the functions' roles,
 * and archives that bundle only the signer.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import type { RecordedResource } from "./support/mocks";
import { loadProgram, type LoadedProgram } from "./support/program";

let dev: LoadedProgram;
let prod: LoadedProgram;

beforeAll(async () => {
    // dev as its stack file says, plus a principal allowed to run the reindex.
    const file = parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.dev.yaml"), "utf8"));
    const search = file.config["mobile-backend:search"];
    dev = await loadProgram("dev", {
        "mobile-backend:search": { ...search, opensearch: { ...search.opensearch, reindexPrincipals: [OPERATOR] } },
    });
    prod = await loadProgram("prod");
    // Loading the program under mocks is slow on a busy machine.
}, 300_000);

const DOMAIN_ARN = "arn:aws:es:us-east-1:123456789012:domain/mobile-backend-dev";
const OPERATOR = "arn:aws:iam::123456789012:role/search-operator";
const INDEXER_ROLE = "arn:aws:iam::123456789012:role/search-indexer-role-abc1234";
const SEARCH_ROLE = "arn:aws:iam::123456789012:role/search-function-role-abc1234";
const statements = (r: RecordedResource, key = "policy") => JSON.parse(r.inputs[key]).Statement;

test("the domain is encrypted, HTTPS-only with TLS 1.2+, and logs errors to a log group the stack owns", () => {
    const domain = dev.recorder.one("aws:opensearch/domain:Domain");
    const logs = dev.recorder.one("aws:cloudwatch/logGroup:LogGroup", "search-domain-logs");
    expect(domain.inputs).toMatchObject({
        domainName: "mobile-backend-dev",
        engineVersion: expect.stringMatching(/^OpenSearch_2\.\d+$/),
        encryptAtRest: { enabled: true },
        nodeToNodeEncryption: { enabled: true },
        domainEndpointOptions: { enforceHttps: true, tlsSecurityPolicy: "Policy-Min-TLS-1-2-PFS-2023-10" },
        ebsOptions: { ebsEnabled: true, volumeType: "gp3", volumeSize: 10 },
        logPublishingOptions: [
            { logType: "ES_APPLICATION_LOGS", enabled: true, cloudwatchLogGroupArn: `arn:aws:logs:us-east-1:123456789012:log-group:${logs.inputs.name}` },
        ],
    });
    // No anonymous access: the domain itself carries no open policy and no fine-grained master user.
    expect(domain.inputs.accessPolicies).toBeUndefined();
    expect(domain.inputs.advancedSecurityOptions).toBeUndefined();
    expect(logs.inputs).toMatchObject({ name: "/aws/opensearch/mobile-backend/dev/mobile-backend-dev", retentionInDays: 7 });

    // The service may write to that group only for this account's domain, and the policy exists first.
    const logPolicy = dev.recorder.one("aws:cloudwatch/logResourcePolicy:LogResourcePolicy");
    expect(statements(logPolicy, "policyDocument")).toEqual([
        {
            Effect: "Allow",
            Principal: { Service: "es.amazonaws.com" },
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: `arn:aws:logs:us-east-1:123456789012:log-group:${logs.inputs.name}:*`,
            Condition: { StringEquals: { "aws:SourceAccount": "123456789012" }, ArnLike: { "aws:SourceArn": DOMAIN_ARN } },
        },
    ]);
    expect(domain.dependencies).toContain(logPolicy.urn);
});

test("dev is one small node; prod is spread over two Availability Zones", () => {
    expect(dev.recorder.one("aws:opensearch/domain:Domain").inputs.clusterConfig).toEqual({
        instanceType: "t3.small.search",
        instanceCount: 1,
        zoneAwarenessEnabled: false,
    });
    const prodDomain = prod.recorder.one("aws:opensearch/domain:Domain").inputs;
    expect(prodDomain.clusterConfig).toMatchObject({ instanceCount: 2, zoneAwarenessEnabled: true, zoneAwarenessConfig: { availabilityZoneCount: 2 } });
    expect(prodDomain.domainName).toBe("mobile-backend-prod");
    // A replica only where there is a second node to hold it.
    expect(dev.archives["search-indexer"].environment.OPENSEARCH_REPLICAS).toBe("0");
    expect(prod.archives["search-indexer"].environment.OPENSEARCH_REPLICAS).toBe("1");
    // Nothing of CloudSearch is created any more by default.
    for (const p of [dev, prod]) expect(p.recorder.all("aws:cloudsearch/domain:Domain")).toHaveLength(0);
});

test("the domain policy lets only the two roles in, each for the HTTP methods it sends", () => {
    const access = dev.recorder.one("aws:opensearch/domainPolicy:DomainPolicy").inputs;
    expect(access.domainName).toBe("mobile-backend-dev");
    expect(JSON.parse(access.accessPolicies).Statement).toEqual([
        { Sid: "IndexerWrites", Effect: "Allow", Principal: { AWS: [INDEXER_ROLE] }, Action: ["es:ESHttpPost", "es:ESHttpPut"], Resource: `${DOMAIN_ARN}/*` },
        { Sid: "SearchFunctionQueries", Effect: "Allow", Principal: { AWS: [SEARCH_ROLE] }, Action: ["es:ESHttpPost"], Resource: `${DOMAIN_ARN}/*` },
        // search.opensearch.reindexPrincipals, for npm run reindex; without it (prod), only the two roles.
        { Sid: "ReindexWrites", Effect: "Allow", Principal: { AWS: [OPERATOR] }, Action: ["es:ESHttpPost", "es:ESHttpPut"], Resource: `${DOMAIN_ARN}/*` },
    ]);
    const prodAccess = JSON.parse(prod.recorder.one("aws:opensearch/domainPolicy:DomainPolicy").inputs.accessPolicies).Statement;
    expect(prodAccess.map((s: { Sid: string }) => s.Sid)).toEqual(["IndexerWrites", "SearchFunctionQueries"]);
});

test("each role may call only this domain, with the same methods", () => {
    expect(statements(dev.recorder.one("aws:iam/rolePolicy:RolePolicy", "search-indexer-policy")).slice(1)).toEqual([
        {
            Effect: "Allow",
            Action: ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
            Resource: ["arn:aws:dynamodb:us-east-1:123456789012:table/data-notes-abc1234/stream/*"],
        },
        { Effect: "Allow", Action: ["es:ESHttpPost", "es:ESHttpPut"], Resource: [`${DOMAIN_ARN}/*`] },
        { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: ["arn:aws:sqs:us-east-1:123456789012:search-failed-records-abc1234"] },
    ]);
    expect(statements(dev.recorder.one("aws:iam/rolePolicy:RolePolicy", "search-function-policy")).slice(1)).toEqual([
        { Effect: "Allow", Action: ["es:ESHttpPost"], Resource: [`${DOMAIN_ARN}/*`] },
    ]);
});

test("the functions point at the domain's HTTPS endpoint and the stage's index", () => {
    const endpoint = "https://search-mobile-backend-dev-abc123xyz.us-east-1.es.amazonaws.com";
    expect(dev.archives["search-indexer"].environment).toEqual({
        OPENSEARCH_ENDPOINT: endpoint,
        OPENSEARCH_INDEX: "notes",
        OPENSEARCH_REPLICAS: "0",
        MEDIA_BASE_URL: "https://d1234abcd.cloudfront.net",
    });
    expect(dev.archives["search-function"].environment).toEqual({ OPENSEARCH_ENDPOINT: endpoint, OPENSEARCH_INDEX: "notes" });
    expect(dev.outputs.searchEngine).toEqual({
        engine: "opensearch",
        domainName: "mobile-backend-dev",
        domain: "created by this stack",
        endpoint,
        index: "notes",
        indexReplicas: 0,
    });
    expect(dev.outputs.notesTable).toBe("data-notes-abc1234");
    // The stream still feeds the indexer exactly as with CloudSearch.
    expect(dev.recorder.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs).toMatchObject({
        functionName: "search-indexer-abc1234",
        bisectBatchOnFunctionError: true,
        functionResponseTypes: ["ReportBatchItemFailures"],
    });
    expect(prod.recorder.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs).toMatchObject({
        batchSize: 500,
        maximumBatchingWindowInSeconds: 2,
        maximumRetryAttempts: 20,
    });
});

test("only the two OpenSearch archives bundle the signer (≤ 96 KiB); every other archive is its closure alone (≤ 64 KiB)", () => {
    for (const [name, archive] of Object.entries(dev.archives)) {
        if (name === "search-indexer" || name === "search-function") {
            expect(Object.keys(archive.files).sort()).toEqual(
                ["__index.js", "node_modules/aws4/LICENSE", "node_modules/aws4/README.md", "node_modules/aws4/aws4.js", "node_modules/aws4/lru.js", "node_modules/aws4/package.json"],
            );
            expect(archive.files["__index.js"]).toMatch(/require\("aws4(\/aws4\.js)?"\)/);
            expect(archive.files["__index.js"]).not.toMatch(/client-cloudsearch-domain/);
            expect(archive.bytes).toBeLessThanOrEqual(96 * 1024);
        } else {
            expect({ name, files: Object.keys(archive.files) }).toEqual({ name, files: ["__index.js"] });
            expect(archive.bytes).toBeLessThanOrEqual(64 * 1024);
        }
    }
});
