/**
 * The search tier under mocks: the domain, its fields and access policy, the stream subscription,
 * least privilege, the three engine modes and the dev/prod differences. Also the adoption of an
 * existing domain, against a mocked CloudSearch configuration API.
 */
import {
    CloudSearchClient,
    DefineIndexFieldCommand,
    DescribeDomainsCommand,
    DescribeIndexFieldsCommand,
    IndexDocumentsCommand,
} from "@aws-sdk/client-cloudsearch";
import { mockClient } from "aws-sdk-client-mock";
import { SEARCH_INDEX_FIELDS } from "../functions/search-index";
import { adoptSearchDomain } from "../infra/existing-search-domain";
import { searchDomainName } from "../infra/search";
import type { RecordedResource } from "./support/mocks";
import { loadProgram, type LoadedProgram } from "./support/program";

let dev: LoadedProgram;
let prod: LoadedProgram;
let disabled: LoadedProgram;
let adopted: LoadedProgram;

beforeAll(async () => {
    dev = await loadProgram("dev");
    prod = await loadProgram("prod");
    disabled = await loadProgram("dev", { "mobile-backend:search": { engine: "none" } });
    adopted = await loadProgram("dev", { "mobile-backend:search": { engine: "cloudsearch", domainName: "team-notes" } });
    // Four program loads (each serializes every function's closure): more than the default 60 s on a busy machine.
}, 180_000);

const policy = (r: RecordedResource, key = "policy") => JSON.parse(r.inputs[key]).Statement;
const searchRoute = (p: LoadedProgram) =>
    JSON.parse(p.recorder.one("aws:apigateway/restApi:RestApi").inputs.body).paths["/search"].get;

describe("domain name", () => {
    test.each([
        ["mobile-backend", "dev"],
        ["mobile-backend", "production-eu-west-1-blue"],
        ["Mobile_Backend", "Prod"],
        ["9lives", "dev"],
        ["a", "b"],
        ["---", "___"],
        ["x".repeat(60), "y".repeat(60)],
        ["mobile-backend", "feature/ünïcode branch"],
    ])("%s / %s gives a valid CloudSearch domain name", (project, stack) => {
        const name = searchDomainName(project, stack);
        expect(name).toMatch(/^[a-z][a-z0-9-]{2,27}$/);
    });

    test("a short valid name is kept readable; long ones stay distinct", () => {
        expect(searchDomainName("mobile-backend", "dev")).toBe("mobile-backend-dev");
        const a = searchDomainName("mobile-backend", "production-eu-west-1-blue");
        const b = searchDomainName("mobile-backend", "production-eu-west-1-green");
        expect(a).not.toBe(b);
    });
});

describe("created domain", () => {
    test("has the note fields, HTTPS with TLS 1.2, and the stage's scaling", () => {
        const domain = dev.recorder.one("aws:cloudsearch/domain:Domain").inputs;
        expect(domain.name).toBe("mobile-backend-dev");
        expect(domain.indexFields).toEqual([
            { name: "headline", type: "text", return: true, analysisScheme: "_en_default_" },
            { name: "note_text", type: "text", return: true, analysisScheme: "_en_default_" },
            { name: "user_id", type: "literal", search: true, return: true },
            { name: "s3_url", type: "literal", return: true },
            { name: "created_at", type: "date", sort: true, return: true },
        ]);
        expect(domain.endpointOptions).toEqual({ enforceHttps: true, tlsSecurityPolicy: "Policy-Min-TLS-1-2-2019-07" });
        expect(domain).toMatchObject({ multiAz: false, scalingParameters: { desiredInstanceType: "search.small", desiredReplicationCount: 1 } });
        expect(prod.recorder.one("aws:cloudsearch/domain:Domain").inputs).toMatchObject({
            name: "mobile-backend-prod",
            multiAz: true,
            scalingParameters: { desiredInstanceType: "search.medium", desiredReplicationCount: 2 },
        });
    });

    test("lets only the indexer upload and only the search function search", () => {
        const access = dev.recorder.one("aws:cloudsearch/domainServiceAccessPolicy:DomainServiceAccessPolicy").inputs;
        expect(access.domainName).toBe("mobile-backend-dev");
        expect(JSON.parse(access.accessPolicy).Statement).toEqual([
            {
                Sid: "IndexerUploads",
                Effect: "Allow",
                Principal: { AWS: ["arn:aws:iam::123456789012:role/search-indexer-role-abc1234"] },
                Action: ["cloudsearch:document"],
            },
            {
                Sid: "SearchFunctionQueries",
                Effect: "Allow",
                Principal: { AWS: ["arn:aws:iam::123456789012:role/search-function-role-abc1234"] },
                Action: ["cloudsearch:search"],
            },
        ]);
    });
});

describe("stream function", () => {
    test("reads the notes stream with bisection, partial batch responses, bounded retries and a failure queue", () => {
        const mapping = dev.recorder.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs;
        expect(mapping).toMatchObject({
            eventSourceArn: "arn:aws:dynamodb:us-east-1:123456789012:table/data-notes-abc1234/stream/2026-01-01T00:00:00.000",
            functionName: "search-indexer-abc1234",
            startingPosition: "TRIM_HORIZON",
            batchSize: 100,
            maximumBatchingWindowInSeconds: 1,
            bisectBatchOnFunctionError: true,
            functionResponseTypes: ["ReportBatchItemFailures"],
            maximumRetryAttempts: 10,
            maximumRecordAgeInSeconds: 86400,
            destinationConfig: { onFailure: { destinationArn: "arn:aws:sqs:us-east-1:123456789012:search-failed-records-abc1234" } },
        });
        expect(prod.recorder.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs).toMatchObject({
            batchSize: 500,
            maximumBatchingWindowInSeconds: 2,
            maximumRetryAttempts: 20,
        });
        // Two weeks to look at and replay what could not be indexed.
        expect(dev.recorder.one("aws:sqs/queue:Queue", "search-failed-records").inputs.messageRetentionSeconds).toBe(1209600);
    });

    test("its role reads only this table's stream, uploads to this domain and sends to its own queue", () => {
        expect(policy(dev.recorder.one("aws:iam/rolePolicy:RolePolicy", "search-indexer-policy")).slice(1)).toEqual([
            {
                Effect: "Allow",
                Action: ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
                Resource: ["arn:aws:dynamodb:us-east-1:123456789012:table/data-notes-abc1234/stream/*"],
            },
            {
                Effect: "Allow",
                Action: ["cloudsearch:document"],
                Resource: ["arn:aws:cloudsearch:us-east-1:123456789012:domain/mobile-backend-dev"],
            },
            {
                Effect: "Allow",
                Action: ["sqs:SendMessage"],
                Resource: ["arn:aws:sqs:us-east-1:123456789012:search-failed-records-abc1234"],
            },
        ]);
    });

    test("its archive is only the serialized closure, at most 64 KiB, pointed at the domain's document endpoint", () => {
        const archive = dev.archives["search-indexer"];
        expect(Object.keys(archive.files)).toEqual(["__index.js"]);
        expect(archive.bytes).toBeLessThanOrEqual(64 * 1024);
        // Only the SDK client it uses: nothing of the notes function's DynamoDB code comes along.
        expect(archive.files["__index.js"]).toMatch(/require\("@aws-sdk\/client-cloudsearch-domain/);
        expect(archive.files["__index.js"]).not.toMatch(/lib-dynamodb|handleNotesRequest/);
        expect(archive.environment).toEqual({
            CLOUDSEARCH_ENDPOINT: "https://doc-mobile-backend-dev-abc123.us-east-1.cloudsearch.amazonaws.com",
            MEDIA_BASE_URL: "https://d1234abcd.cloudfront.net",
        });
    });
});

describe("search function", () => {
    test("may only search this domain", () => {
        expect(policy(dev.recorder.one("aws:iam/rolePolicy:RolePolicy", "search-function-policy")).slice(1)).toEqual([
            {
                Effect: "Allow",
                Action: ["cloudsearch:search"],
                Resource: ["arn:aws:cloudsearch:us-east-1:123456789012:domain/mobile-backend-dev"],
            },
        ]);
    });

    test("serves GET /search with the notes API's auth, invoked only by this API", () => {
        const route = searchRoute(dev);
        expect(route.security).toEqual([{ sigv4: [], api_key: [] }]);
        expect(route["x-amazon-apigateway-integration"]).toMatchObject({
            type: "aws_proxy",
            uri: expect.stringContaining("function:search-function-abc1234/invocations"),
        });
        expect(dev.recorder.one("aws:lambda/permission:Permission", "api-search-invoke").inputs).toMatchObject({
            function: "search-function-abc1234",
            sourceArn: "arn:aws:execute-api:us-east-1:123456789012:api-api-id/dev/*",
        });
        const archive = dev.archives["search-function"];
        expect(Object.keys(archive.files)).toEqual(["__index.js"]);
        expect(archive.bytes).toBeLessThanOrEqual(64 * 1024);
        expect(archive.environment).toEqual({
            CLOUDSEARCH_ENDPOINT: "https://search-mobile-backend-dev-abc123.us-east-1.cloudsearch.amazonaws.com",
        });
    });
});

describe("engine modes", () => {
    test("none: no search resources, and /search answers 501 from API Gateway", () => {
        const types = disabled.recorder.resources.map((r) => r.type);
        expect(types).not.toContain("aws:cloudsearch/domain:Domain");
        expect(types).not.toContain("aws:lambda/eventSourceMapping:EventSourceMapping");
        expect(disabled.recorder.all("aws:sqs/queue:Queue", "search-failed-records")).toHaveLength(0);
        expect(Object.keys(disabled.archives)).not.toContain("search-indexer");
        expect(Object.keys(disabled.archives)).not.toContain("search-function");
        const route = searchRoute(disabled);
        expect(route.security).toEqual([{ sigv4: [], api_key: [] }]);
        const integration = route["x-amazon-apigateway-integration"];
        expect(integration.type).toBe("mock");
        expect(integration.responses.default.statusCode).toBe("501");
        expect(JSON.parse(integration.responses.default.responseTemplates["application/json"])).toEqual({
            success: false,
            error: { code: "NotImplemented", message: "Search is disabled on this stage (search.engine: none)." },
        });
        expect(disabled.outputs.searchEngine).toEqual({ engine: "none" });
    });

    test("existing domain: adopted, not created, not re-policed, and the functions point at it", () => {
        expect(adopted.recorder.all("aws:cloudsearch/domain:Domain")).toHaveLength(0);
        expect(adopted.recorder.all("aws:cloudsearch/domainServiceAccessPolicy:DomainServiceAccessPolicy")).toHaveLength(0);
        const existing = adopted.recorder.one("pulumi-nodejs:dynamic:Resource", "search-existing-domain").inputs;
        expect(existing).toMatchObject({ domainName: "team-notes", region: "us-east-1", fields: [...SEARCH_INDEX_FIELDS] });
        expect(adopted.archives["search-indexer"].environment.CLOUDSEARCH_ENDPOINT).toBe(
            "https://doc-team-notes-xyz789.us-east-1.cloudsearch.amazonaws.com",
        );
        expect(policy(adopted.recorder.one("aws:iam/rolePolicy:RolePolicy", "search-function-policy"))[1].Resource).toEqual([
            "arn:aws:cloudsearch:us-east-1:123456789012:domain/team-notes",
        ]);
        expect(adopted.outputs.searchEngine).toEqual({
            engine: "cloudsearch",
            domainName: "team-notes",
            domain: "existing (left in place by pulumi destroy)",
            fieldsDefinedByThisStack: ["headline", "note_text", "user_id", "s3_url", "created_at"],
            fieldsAlreadyPresent: [],
        });
    });

    test("created: the stack says so", () => {
        expect(dev.outputs.searchEngine).toEqual({ engine: "cloudsearch", domainName: "mobile-backend-dev", domain: "created by this stack" });
    });
});

describe("adopting an existing domain", () => {
    const cloudsearch = mockClient(CloudSearchClient);
    const client = new CloudSearchClient({ region: "us-east-1" });
    const found = {
        DomainStatusList: [
            {
                DomainName: "team-notes",
                DomainId: "1",
                ARN: "arn:aws:cloudsearch:us-east-1:123456789012:domain/team-notes",
                Created: true,
                Deleted: false,
                RequiresIndexDocuments: false,
                DocService: { Endpoint: "doc-team-notes.us-east-1.cloudsearch.amazonaws.com" },
                SearchService: { Endpoint: "search-team-notes.us-east-1.cloudsearch.amazonaws.com" },
            },
        ],
    };
    beforeEach(() => cloudsearch.reset());

    test("defines the missing fields, keeps the ones present, and starts indexing", async () => {
        cloudsearch.on(DescribeDomainsCommand).resolves(found);
        cloudsearch.on(DescribeIndexFieldsCommand).resolves({
            IndexFields: [
                { Options: { IndexFieldName: "headline", IndexFieldType: "text", TextOptions: { ReturnEnabled: true } }, Status: undefined },
                // Present, but not searchable: redefined with search on, keeping its other options.
                { Options: { IndexFieldName: "user_id", IndexFieldType: "literal", LiteralOptions: { SearchEnabled: false, FacetEnabled: true } }, Status: undefined },
            ] as never,
        });
        cloudsearch.on(DefineIndexFieldCommand).resolves({});
        cloudsearch.on(IndexDocumentsCommand).resolves({});
        const result = await adoptSearchDomain(client, "team-notes", SEARCH_INDEX_FIELDS);
        expect(result).toEqual({
            arn: "arn:aws:cloudsearch:us-east-1:123456789012:domain/team-notes",
            documentEndpoint: "doc-team-notes.us-east-1.cloudsearch.amazonaws.com",
            searchEndpoint: "search-team-notes.us-east-1.cloudsearch.amazonaws.com",
            definedFields: ["note_text", "user_id", "s3_url", "created_at"],
            verifiedFields: ["headline"],
        });
        const defined = cloudsearch.commandCalls(DefineIndexFieldCommand).map((c) => c.args[0].input.IndexField);
        expect(defined).toContainEqual({
            IndexFieldName: "user_id",
            IndexFieldType: "literal",
            LiteralOptions: { SearchEnabled: true, FacetEnabled: true, ReturnEnabled: true },
        });
        expect(defined).toContainEqual({
            IndexFieldName: "created_at",
            IndexFieldType: "date",
            DateOptions: { ReturnEnabled: true, SortEnabled: true },
        });
        expect(cloudsearch.commandCalls(IndexDocumentsCommand)).toHaveLength(1);
    });

    test("changes nothing when every field is already there", async () => {
        cloudsearch.on(DescribeDomainsCommand).resolves(found);
        cloudsearch.on(DescribeIndexFieldsCommand).resolves({
            IndexFields: SEARCH_INDEX_FIELDS.map((f) => ({ Options: { IndexFieldName: f.name, IndexFieldType: f.type } })) as never,
        });
        const result = await adoptSearchDomain(client, "team-notes", SEARCH_INDEX_FIELDS);
        expect(result.definedFields).toEqual([]);
        expect(result.verifiedFields).toEqual(["headline", "note_text", "user_id", "s3_url", "created_at"]);
        expect(cloudsearch.commandCalls(DefineIndexFieldCommand)).toHaveLength(0);
        expect(cloudsearch.commandCalls(IndexDocumentsCommand)).toHaveLength(0);
    });

    test("refuses a field of another type, naming it", async () => {
        cloudsearch.on(DescribeDomainsCommand).resolves(found);
        cloudsearch.on(DescribeIndexFieldsCommand).resolves({
            IndexFields: [{ Options: { IndexFieldName: "created_at", IndexFieldType: "text" } }] as never,
        });
        await expect(adoptSearchDomain(client, "team-notes", SEARCH_INDEX_FIELDS)).rejects.toThrow(
            'already has an index field "created_at" of type text; this program needs type date',
        );
        expect(cloudsearch.commandCalls(DefineIndexFieldCommand)).toHaveLength(0);
    });

    test("says clearly when the domain does not exist", async () => {
        cloudsearch.on(DescribeDomainsCommand).resolves({ DomainStatusList: [] });
        await expect(adoptSearchDomain(client, "team-notes", SEARCH_INDEX_FIELDS)).rejects.toThrow(
            'mobile-backend:search.domainName names the CloudSearch domain "team-notes", which does not exist',
        );
    });
});
