import { createHash } from "node:crypto";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { indexStreamRecords } from "../functions/indexer";
import { handleSearchRequest } from "../functions/search";
import { SEARCH_INDEX_FIELDS } from "../functions/search-index";
import type { ApiService } from "./api";
import type { CloudSearchInstanceType, SearchEngine } from "./config";
import { ExistingSearchDomain } from "./existing-search-domain";
import { AppFunction } from "./function";

/** Arguments of {@link Search}. */
export interface SearchArgs {
    /** `cloudsearch`: a CloudSearch domain backs `/search`; `none`: `/search` answers 501. */
    engine: SearchEngine;
    /** Use this existing domain instead of creating one. Default: create `searchDomainName(project, stack)`. */
    existingDomainName?: string;
    /** Instance type of a created domain. Default `search.small`. */
    instanceType?: CloudSearchInstanceType;
    /** Spread a created domain over two Availability Zones. Default `false`. */
    multiAz?: boolean;
    /** Replicas of a created domain's index. Default `1`. */
    replicationCount?: number;
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
 * The search tier: a CloudSearch domain (created, or an existing one adopted), the stream function
 * that keeps it in sync with the notes table, and the search function behind `GET /search`. With
 * engine `none` there are no search resources and `/search` answers 501 from API Gateway itself.
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
            this.api = {
                name: "search",
                routes: [
                    {
                        method: "GET",
                        path: "/search",
                        fixedResponse: {
                            statusCode: 501,
                            body: {
                                success: false,
                                error: { code: "NotImplemented", message: "Search is disabled on this stage (search.engine: none)." },
                            },
                        },
                    },
                ],
            };
            this.summary = pulumi.output<SearchSummary>({ engine: "none" });
            this.registerOutputs({ summary: this.summary });
            return;
        }

        const domain = args.existingDomainName ? this.adoptDomain(name, args.existingDomainName) : this.createDomain(name, args);
        this.domainName = domain.name;
        this.failedRecords = new aws.sqs.Queue(
            `${name}-failed-records`,
            { messageRetentionSeconds: FAILED_RECORD_RETENTION_SECONDS, sqsManagedSseEnabled: true },
            { parent: this },
        );
        const indexer = this.createIndexer(name, args, domain, this.failedRecords);
        const searcher = this.createSearchFunction(name, args, domain);
        this.indexer = indexer.function;
        this.searchFunction = searcher.function;
        if (domain.owned) {
            this.restrictDomainAccess(name, domain, indexer.role, searcher.role);
        }
        this.api = { name: "search", function: searcher.function, routes: [{ method: "GET", path: "/search" }] };

        const adopted = domain.adopted;
        this.summary = adopted
            ? pulumi.all([domain.name, adopted.definedFields, adopted.verifiedFields]).apply(
                  ([domainName, defined, present]): SearchSummary => ({
                      engine: "cloudsearch",
                      domainName,
                      domain: "existing (left in place by pulumi destroy)",
                      fieldsDefinedByThisStack: defined,
                      fieldsAlreadyPresent: present,
                  }),
              )
            : domain.name.apply((domainName): SearchSummary => ({ engine: "cloudsearch", domainName, domain: "created by this stack" }));

        this.registerOutputs({ domainName: this.domainName, failedRecords: this.failedRecords, summary: this.summary });
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
                callbackFactory: () => {
                    const { CloudSearchDomainClient } = require("@aws-sdk/client-cloudsearch-domain");
                    const search = new CloudSearchDomainClient({ endpoint: process.env.CLOUDSEARCH_ENDPOINT });
                    const settings = { mediaBaseUrl: process.env.MEDIA_BASE_URL ?? "" };
                    return (event: DynamoDBStreamEvent) => indexStreamRecords(event, search, settings);
                },
                environment: {
                    CLOUDSEARCH_ENDPOINT: pulumi.interpolate`https://${domain.documentEndpoint}`,
                    MEDIA_BASE_URL: args.mediaBaseUrl,
                },
                statements: [
                    {
                        Action: [
                            "dynamodb:DescribeStream",
                            "dynamodb:GetRecords",
                            "dynamodb:GetShardIterator",
                            "dynamodb:ListStreams",
                        ],
                        Resource: [pulumi.interpolate`${args.table.arn}/stream/*`],
                    },
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
                callbackFactory: () => {
                    const { CloudSearchDomainClient } = require("@aws-sdk/client-cloudsearch-domain");
                    const search = new CloudSearchDomainClient({ endpoint: process.env.CLOUDSEARCH_ENDPOINT });
                    return (event: APIGatewayProxyEvent) => handleSearchRequest(event, search);
                },
                environment: { CLOUDSEARCH_ENDPOINT: pulumi.interpolate`https://${domain.searchEndpoint}` },
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

/** What backs search on a stage, as the stack output `searchEngine` shows it. */
export interface SearchSummary {
    engine: SearchEngine;
    domainName?: string;
    domain?: string;
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
