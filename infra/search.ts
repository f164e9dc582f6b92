import { createHash } from "node:crypto";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { SEARCH_INDEX_FIELDS } from "../functions/search-index";
import type { ApiService } from "./api";
import type { CloudSearchInstanceType, SearchEngine } from "./config";
import { ExistingSearchDomain } from "./existing-search-domain";
import { AppFunction, type PolicyStatement } from "./function";
import { cloudSearchIndexerEnvironment, cloudSearchIndexerFunction, cloudSearchSearchEnvironment, cloudSearchSearchFunction } from "./handlers/cloudsearch";
import { openSearchIndexerEnvironment, openSearchIndexerFunction, openSearchSearchEnvironment, openSearchSearchFunction } from "./handlers/opensearch";
import { searchRoutes } from "./routes";

/** Arguments of {@link Search}. */
export interface SearchArgs {
    /**
     * `opensearch`: an OpenSearch Service domain created by the stack backs `/search`; `cloudsearch`: a
     * CloudSearch domain (created or adopted); `none`: `/search` answers 501.
     */
    engine: SearchEngine;
    /** CloudSearch: use this existing domain instead of creating one. Default: create `searchDomainName(project, stack)`. */
    existingDomainName?: string;
    /** CloudSearch: instance type of a created domain. Default `search.small`. */
    instanceType?: CloudSearchInstanceType;
    /** CloudSearch: spread a created domain over two Availability Zones. Default `false`. */
    multiAz?: boolean;
    /** CloudSearch: replicas of a created domain's index. Default `1`. */
    replicationCount?: number;
    /** OpenSearch: the domain's size. Default one `t3.small.search` node with a 10 GiB volume, one zone. */
    opensearch?: Partial<OpenSearchSize>;
    /** The notes table, whose stream feeds the index. */
    table: aws.dynamodb.Table;
    /** Base URL that serves uploads, for the documents' `s3_url`. */
    mediaBaseUrl: pulumi.Input<string>;
    /** How the indexer reads the stream. */
    stream: { batchSize: number; batchWindowSeconds: number; maxRetryAttempts: number; maxRecordAgeSeconds: number };
    /** Memory of both functions, in MB. */
    memoryMb: number;
    /** Timeout of the search function (behind API Gateway), in seconds. */
    timeoutSeconds: number;
    /** Retention of the functions' logs, in days. */
    logRetentionDays: number;
    /** X-Ray active tracing of the functions. Default `false`. */
    tracing?: boolean;
}

/** The size of an OpenSearch domain. */
export interface OpenSearchSize {
    instanceType: string;
    instanceCount: number;
    /** 1: no zone awareness; 2 or 3: nodes (and the index's replicas) spread over that many zones. */
    availabilityZoneCount: number;
    volumeSizeGb: number;
    /** IAM principals (ARNs) the domain also lets write, for `npm run reindex`. */
    reindexPrincipals: string[];
}

const DEFAULT_OPENSEARCH_SIZE: OpenSearchSize = {
    instanceType: "t3.small.search",
    instanceCount: 1,
    availabilityZoneCount: 1,
    volumeSizeGb: 10,
    reindexPrincipals: [],
};

/** A current OpenSearch 2.x release offered by Amazon OpenSearch Service. */
export const OPENSEARCH_ENGINE_VERSION = "OpenSearch_2.19";

/** The stage's index on its own domain (one domain per stage). */
export const OPENSEARCH_INDEX = "notes";

/** Lambda gives a stream batch this long; uploads of up to 5 MB per call need more than an API call does. */
const INDEXER_TIMEOUT_SECONDS = 60;
/**
 * SQS's longest retention. The queue gets the failed batch's stream coordinates (shard, sequence numbers),
 * not the records: they identify what to re-index from the table, for two weeks.
 */
const FAILED_RECORD_RETENTION_SECONDS = 14 * 24 * 60 * 60;

/**
 * A CloudSearch domain name for a project and stack that is always valid: 3–28 characters, lowercase
 * letters, digits and hyphens, starting with a letter. Names that must be shortened keep a hash of the
 * full name, so two long stack names do not collide.
 */
export function searchDomainName(project: string, stack: string): string {
    const full = `${project}-${stack}`;
    let name = full
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, "-")
        .replace(/-+/g, "-")
        .replace(/^[^a-z]+/, "")
        .replace(/-+$/, "");
    if (name.length > 28 || name !== full) {
        const hash = createHash("sha256").update(full).digest("hex").slice(0, 6);
        name = `${name.slice(0, 21).replace(/-+$/, "")}-${hash}`;
    }
    return /^[a-z]/.test(name) ? name : `s${name}`.slice(0, 28);
}

/**
 * The search tier: an OpenSearch Service domain (the default) or a CloudSearch domain (created, or an
 * existing one adopted), the stream function that keeps it in sync with the notes table, its failure
 * queue, and the search function behind `GET /search`. With engine `none` there are no search resources
 * and `/search` answers 501 from API Gateway itself.
 */
export class Search extends pulumi.ComponentResource {
    /** The `/search` route, for the API tier. */
    public readonly api: ApiService;
    /** Name of the domain in use, if any. */
    public readonly domainName: pulumi.Output<string> | undefined;
    /** The queue that keeps stream records the indexer could not index, if search is on. */
    public readonly failedRecords: aws.sqs.Queue | undefined;
    /** The stream function that keeps the index in sync, if search is on (for monitoring). */
    public readonly indexer: aws.lambda.Function | undefined;
    /** The function behind `GET /search`, if search is on (for monitoring). */
    public readonly searchFunction: aws.lambda.Function | undefined;
    /** What backs search on this stage, for the stack outputs (an adopted domain lists the fields it got). */
    public readonly summary: pulumi.Output<SearchSummary>;

    constructor(name: string, args: SearchArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:Search", name, {}, opts);

        if (args.engine === "none") {
            this.api = searchRoutes("none");
            this.summary = pulumi.output<SearchSummary>({ engine: "none" });
            this.registerOutputs({ summary: this.summary });
            return;
        }

        this.failedRecords = new aws.sqs.Queue(
            `${name}-failed-records`,
            { messageRetentionSeconds: FAILED_RECORD_RETENTION_SECONDS, sqsManagedSseEnabled: true },
            { parent: this },
        );
        if (args.engine === "opensearch") {
            const { domain, summary, api, indexer, searcher } = this.createOpenSearch(name, args, this.failedRecords);
            this.domainName = domain.domainName;
            this.indexer = indexer;
            this.searchFunction = searcher;
            this.summary = summary;
            this.api = api;
            this.registerOutputs({ domainName: this.domainName, failedRecords: this.failedRecords, summary: this.summary });
            return;
        }

        const domain = args.existingDomainName ? this.adoptDomain(name, args.existingDomainName) : this.createDomain(name, args);
        this.domainName = domain.name;
        const indexer = this.createIndexer(name, args, domain, this.failedRecords);
        const searcher = this.createSearchFunction(name, args, domain);
        this.indexer = indexer.function;
        this.searchFunction = searcher.function;
        if (domain.owned) {
            this.restrictDomainAccess(name, domain, indexer.role, searcher.role);
        }
        this.api = { ...searchRoutes(args.engine), function: searcher.function };

        const adopted = domain.adopted;
        this.summary = adopted
            ? pulumi.all([domain.name, adopted.definedFields, adopted.verifiedFields, domain.documentEndpoint]).apply(
                  ([domainName, defined, present, documentEndpoint]): SearchSummary => ({
                      engine: "cloudsearch",
                      domainName,
                      documentEndpoint,
                      domain: "existing (left in place by pulumi destroy)",
                      fieldsDefinedByThisStack: defined,
                      fieldsAlreadyPresent: present,
                  }),
              )
            : pulumi.all([domain.name, domain.documentEndpoint]).apply(
                  ([domainName, documentEndpoint]): SearchSummary => ({ engine: "cloudsearch", domainName, domain: "created by this stack", documentEndpoint }),
              );

        this.registerOutputs({ domainName: this.domainName, failedRecords: this.failedRecords, summary: this.summary });
    }

    /**
     * An OpenSearch Service domain: encrypted at rest and between nodes, HTTPS only (TLS 1.2 or newer, with
     * forward secrecy), no anonymous access (only the two functions' roles, each for the HTTP methods it
     * sends), error logs in a log group the stack owns; and the two functions.
     */
    private createOpenSearch(
        name: string,
        args: SearchArgs,
        failedRecords: aws.sqs.Queue,
    ): {
        domain: aws.opensearch.Domain;
        summary: pulumi.Output<SearchSummary>;
        api: ApiService;
        indexer: aws.lambda.Function;
        searcher: aws.lambda.Function;
    } {
        const size: OpenSearchSize = { ...DEFAULT_OPENSEARCH_SIZE, ...args.opensearch };
        if (size.instanceCount % size.availabilityZoneCount !== 0) {
            throw new Error(`instanceCount (${size.instanceCount}) must be a multiple of availabilityZoneCount (${size.availabilityZoneCount})`);
        }
        const domainName = searchDomainName(pulumi.getProject(), pulumi.getStack());
        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-domain-logs`,
            { name: `/aws/opensearch/${pulumi.getProject()}/${pulumi.getStack()}/${domainName}`, retentionInDays: args.logRetentionDays },
            { parent: this },
        );
        // OpenSearch Service writes the logs itself, so the log group needs a resource policy that lets the
        // service principal do it for this account's domain only ("Monitoring OpenSearch logs with Amazon
        // CloudWatch Logs", OpenSearch Service developer guide). The domain's ARN is built from the log group's.
        const logPolicy = new aws.cloudwatch.LogResourcePolicy(
            `${name}-domain-logs-policy`,
            {
                policyName: `${domainName}-opensearch-logs`,
                policyDocument: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Principal: { Service: "es.amazonaws.com" },
                            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
                            Resource: pulumi.interpolate`${logGroup.arn}:*`,
                            Condition: {
                                StringEquals: { "aws:SourceAccount": logGroup.arn.apply((arn) => arn.split(":")[4]) },
                                ArnLike: {
                                    "aws:SourceArn": logGroup.arn.apply((arn) => {
                                        const [, partition, , region, account] = arn.split(":");
                                        return `arn:${partition}:es:${region}:${account}:domain/${domainName}`;
                                    }),
                                },
                            },
                        },
                    ],
                }),
            },
            { parent: this },
        );
        const zones = size.availabilityZoneCount;
        const domain = new aws.opensearch.Domain(
            `${name}-domain`,
            {
                domainName,
                engineVersion: OPENSEARCH_ENGINE_VERSION,
                clusterConfig: {
                    instanceType: size.instanceType,
                    instanceCount: size.instanceCount,
                    zoneAwarenessEnabled: zones > 1,
                    ...(zones > 1 ? { zoneAwarenessConfig: { availabilityZoneCount: zones } } : {}),
                },
                ebsOptions: { ebsEnabled: true, volumeType: "gp3", volumeSize: size.volumeSizeGb },
                encryptAtRest: { enabled: true },
                nodeToNodeEncryption: { enabled: true },
                domainEndpointOptions: { enforceHttps: true, tlsSecurityPolicy: "Policy-Min-TLS-1-2-PFS-2023-10" },
                logPublishingOptions: [{ logType: "ES_APPLICATION_LOGS", cloudwatchLogGroupArn: logGroup.arn, enabled: true }],
            },
            { parent: this, dependsOn: [logPolicy] },
        );
        // A replica needs a second node; with zone awareness it lands in the other zone.
        const replicas = Math.min(1, size.instanceCount - 1);
        const endpoint = pulumi.interpolate`https://${domain.endpoint}`;
        const domainPaths = pulumi.interpolate`${domain.arn}/*`;

        const indexer = new AppFunction<DynamoDBStreamEvent, DynamoDBBatchResponse>(
            `${name}-indexer`,
            {
                description: "Turns changes of the notes table into OpenSearch _bulk requests",
                callbackFactory: openSearchIndexerFunction,
                environment: openSearchIndexerEnvironment({ endpoint, index: OPENSEARCH_INDEX, replicas, mediaBaseUrl: args.mediaBaseUrl }),
                statements: [
                    streamReadStatement(args.table),
                    // PUT creates the index (once), POST sends _bulk.
                    { Action: [...OPENSEARCH_INDEXER_ACTIONS], Resource: [domainPaths] },
                    { Action: ["sqs:SendMessage"], Resource: [failedRecords.arn] },
                ],
                bundledPackages: ["aws4"],
                tracing: args.tracing,
                memoryMb: args.memoryMb,
                timeoutSeconds: INDEXER_TIMEOUT_SECONDS,
                logRetentionDays: args.logRetentionDays,
            },
            { parent: this },
        );
        this.subscribe(name, args, indexer, failedRecords);

        const searcher = new AppFunction<APIGatewayProxyEvent, APIGatewayProxyResult>(
            `${name}-function`,
            {
                description: "Searches the notes of the calling Cognito identity",
                callbackFactory: openSearchSearchFunction,
                environment: openSearchSearchEnvironment({ endpoint, index: OPENSEARCH_INDEX }),
                statements: [{ Action: [...OPENSEARCH_SEARCH_ACTIONS], Resource: [domainPaths] }],
                bundledPackages: ["aws4"],
                tracing: args.tracing,
                memoryMb: args.memoryMb,
                timeoutSeconds: args.timeoutSeconds,
                logRetentionDays: args.logRetentionDays,
            },
            { parent: this },
        );

        // The domain's own policy: these two roles, each for what it sends; nobody else, no anonymous access.
        new aws.opensearch.DomainPolicy(
            `${name}-access`,
            {
                domainName: domain.domainName,
                accessPolicies: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "IndexerWrites",
                            Effect: "Allow",
                            Principal: { AWS: [indexer.role.arn] },
                            Action: [...OPENSEARCH_INDEXER_ACTIONS],
                            Resource: domainPaths,
                        },
                        {
                            Sid: "SearchFunctionQueries",
                            Effect: "Allow",
                            Principal: { AWS: [searcher.role.arn] },
                            Action: [...OPENSEARCH_SEARCH_ACTIONS],
                            Resource: domainPaths,
                        },
                        ...(size.reindexPrincipals.length > 0
                            ? [
                                  {
                                      Sid: "ReindexWrites",
                                      Effect: "Allow",
                                      Principal: { AWS: [...size.reindexPrincipals] },
                                      Action: [...OPENSEARCH_INDEXER_ACTIONS],
                                      Resource: domainPaths,
                                  },
                              ]
                            : []),
                    ],
                }),
            },
            { parent: this },
        );

        const summary = pulumi.all([domain.domainName, endpoint]).apply(
            ([domainName, url]): SearchSummary => ({
                engine: "opensearch",
                domainName,
                domain: "created by this stack",
                endpoint: url,
                index: OPENSEARCH_INDEX,
                indexReplicas: replicas,
            }),
        );
        const api: ApiService = { ...searchRoutes(args.engine), function: searcher.function };
        return { domain, summary, api, indexer: indexer.function, searcher: searcher.function };
    }

    /** Feeds the notes stream to the indexer: bisection, partial batch responses, bounded retries, a failure queue. */
    private subscribe(name: string, args: SearchArgs, indexer: AppFunction<DynamoDBStreamEvent, DynamoDBBatchResponse>, failedRecords: aws.sqs.Queue): void {
        args.table.onEvent(
            `${name}-changes`,
            indexer.function,
            {
                // From the oldest record the stream still holds, so nothing written before the mapping is missed.
                startingPosition: "TRIM_HORIZON",
                batchSize: args.stream.batchSize,
                maximumBatchingWindowInSeconds: args.stream.batchWindowSeconds,
                bisectBatchOnFunctionError: true,
                functionResponseTypes: ["ReportBatchItemFailures"],
                maximumRetryAttempts: args.stream.maxRetryAttempts,
                maximumRecordAgeInSeconds: args.stream.maxRecordAgeSeconds,
                destinationConfig: { onFailure: { destinationArn: failedRecords.arn } },
            },
            // The role must be able to read the stream before the mapping is enabled.
            { parent: this, dependsOn: [indexer] },
        );
    }

    private createDomain(name: string, args: SearchArgs): DomainInUse {
        const domain = new aws.cloudsearch.Domain(
            `${name}-domain`,
            {
                name: searchDomainName(pulumi.getProject(), pulumi.getStack()),
                indexFields: SEARCH_INDEX_FIELDS.map((field) => ({ ...field })),
                endpointOptions: { enforceHttps: true, tlsSecurityPolicy: "Policy-Min-TLS-1-2-2019-07" },
                multiAz: args.multiAz ?? false,
                scalingParameters: {
                    desiredInstanceType: args.instanceType ?? "search.small",
                    desiredReplicationCount: args.replicationCount ?? 1,
                },
            },
            { parent: this },
        );
        return {
            owned: domain,
            name: domain.name,
            arn: domain.arn,
            documentEndpoint: domain.documentServiceEndpoint,
            searchEndpoint: domain.searchServiceEndpoint,
        };
    }

    private adoptDomain(name: string, domainName: string): DomainInUse {
        const existing = new ExistingSearchDomain(
            `${name}-existing-domain`,
            { domainName, region: aws.config.requireRegion(), fields: SEARCH_INDEX_FIELDS },
            { parent: this },
        );
        return {
            name: pulumi.output(domainName),
            arn: existing.arn,
            documentEndpoint: existing.documentEndpoint,
            searchEndpoint: existing.searchEndpoint,
            adopted: existing,
        };
    }

    /** The stream function: every change of a note reaches the index; what cannot, waits in a queue. */
    private createIndexer(
        name: string,
        args: SearchArgs,
        domain: DomainInUse,
        failedRecords: aws.sqs.Queue,
    ): AppFunction<DynamoDBStreamEvent, DynamoDBBatchResponse> {
        const indexer = new AppFunction<DynamoDBStreamEvent, DynamoDBBatchResponse>(
            `${name}-indexer`,
            {
                description: "Turns changes of the notes table into CloudSearch document uploads",
                callbackFactory: cloudSearchIndexerFunction,
                environment: cloudSearchIndexerEnvironment({
                    documentEndpoint: pulumi.interpolate`https://${domain.documentEndpoint}`,
                    mediaBaseUrl: args.mediaBaseUrl,
                }),
                statements: [
                    streamReadStatement(args.table),
                    { Action: ["cloudsearch:document"], Resource: [domain.arn] },
                    { Action: ["sqs:SendMessage"], Resource: [failedRecords.arn] },
                ],
                memoryMb: args.memoryMb,
                timeoutSeconds: INDEXER_TIMEOUT_SECONDS,
                logRetentionDays: args.logRetentionDays,
                tracing: args.tracing,
            },
            { parent: this },
        );
        this.subscribe(name, args, indexer, failedRecords);
        return indexer;
    }

    private createSearchFunction(
        name: string,
        args: SearchArgs,
        domain: DomainInUse,
    ): AppFunction<APIGatewayProxyEvent, APIGatewayProxyResult> {
        return new AppFunction<APIGatewayProxyEvent, APIGatewayProxyResult>(
            `${name}-function`,
            {
                description: "Searches the notes of the calling Cognito identity",
                callbackFactory: cloudSearchSearchFunction,
                environment: cloudSearchSearchEnvironment({ searchEndpoint: pulumi.interpolate`https://${domain.searchEndpoint}` }),
                statements: [{ Action: ["cloudsearch:search"], Resource: [domain.arn] }],
                memoryMb: args.memoryMb,
                timeoutSeconds: args.timeoutSeconds,
                logRetentionDays: args.logRetentionDays,
                tracing: args.tracing,
            },
            { parent: this },
        );
    }

    /** Only the indexer may upload documents and only the search function may search. */
    private restrictDomainAccess(name: string, domain: DomainInUse, indexerRole: aws.iam.Role, searchRole: aws.iam.Role): void {
        new aws.cloudsearch.DomainServiceAccessPolicy(
            `${name}-access`,
            {
                domainName: domain.name,
                accessPolicy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "IndexerUploads",
                            Effect: "Allow",
                            Principal: { AWS: [indexerRole.arn] },
                            Action: ["cloudsearch:document"],
                        },
                        {
                            Sid: "SearchFunctionQueries",
                            Effect: "Allow",
                            Principal: { AWS: [searchRole.arn] },
                            Action: ["cloudsearch:search"],
                        },
                    ],
                }),
            },
            { parent: this },
        );
    }
}

/** What the OpenSearch indexer sends: PUT (create the index, once) and POST (`_bulk`). */
export const OPENSEARCH_INDEXER_ACTIONS = ["es:ESHttpPost", "es:ESHttpPut"] as const;
/** What the OpenSearch search function sends: POST (`_search`). */
export const OPENSEARCH_SEARCH_ACTIONS = ["es:ESHttpPost"] as const;

/** The role statement that lets Lambda read the notes table's stream for a function. */
function streamReadStatement(table: aws.dynamodb.Table): PolicyStatement {
    return {
        Action: ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
        Resource: [pulumi.interpolate`${table.arn}/stream/*`],
    };
}

/** What backs search on a stage, as the stack output `searchEngine` shows it (the reindex command reads it too). */
export interface SearchSummary {
    engine: SearchEngine;
    domainName?: string;
    domain?: string;
    /** OpenSearch: `https://` endpoint of the domain. */
    endpoint?: string;
    /** OpenSearch: the stage's index. */
    index?: string;
    /** OpenSearch: replicas the index is created with. */
    indexReplicas?: number;
    /** CloudSearch: host name of the document service. */
    documentEndpoint?: string;
    fieldsDefinedByThisStack?: string[];
    fieldsAlreadyPresent?: string[];
}

/** The domain the tier uses, created or adopted. */
interface DomainInUse {
    name: pulumi.Output<string>;
    arn: pulumi.Output<string>;
    /** Host names. */
    documentEndpoint: pulumi.Output<string>;
    searchEndpoint: pulumi.Output<string>;
    /** Set when this stack created the domain (and so may set its access policy). */
    owned?: aws.cloudsearch.Domain;
    /** Set when the domain existed already. */
    adopted?: ExistingSearchDomain;
}
