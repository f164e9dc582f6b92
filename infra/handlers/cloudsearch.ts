/** Search on CloudSearch: the stream indexer and `GET /search` (see ./types.ts). */
import type { APIGatewayProxyEvent, DynamoDBStreamEvent } from "aws-lambda";
import { indexStreamRecords } from "../../functions/indexer";
import { handleSearchRequest } from "../../functions/search";
import type { ApiHandler, Environment, StreamHandler } from "./types";

export function cloudSearchIndexerEnvironment<S>(args: { documentEndpoint: S; mediaBaseUrl: S }): Environment<S> {
    return { CLOUDSEARCH_ENDPOINT: args.documentEndpoint, MEDIA_BASE_URL: args.mediaBaseUrl };
}

export function cloudSearchIndexerFunction(): StreamHandler {
    const { CloudSearchDomainClient } = require("@aws-sdk/client-cloudsearch-domain");
    const search = new CloudSearchDomainClient({ endpoint: process.env.CLOUDSEARCH_ENDPOINT });
    const settings = { mediaBaseUrl: process.env.MEDIA_BASE_URL ?? "" };
    return (event: DynamoDBStreamEvent) => indexStreamRecords(event, search, settings);
}

export function cloudSearchSearchEnvironment<S>(args: { searchEndpoint: S }): Environment<S> {
    return { CLOUDSEARCH_ENDPOINT: args.searchEndpoint };
}

export function cloudSearchSearchFunction(): ApiHandler {
    const { CloudSearchDomainClient } = require("@aws-sdk/client-cloudsearch-domain");
    const search = new CloudSearchDomainClient({ endpoint: process.env.CLOUDSEARCH_ENDPOINT });
    return (event: APIGatewayProxyEvent) => handleSearchRequest(event, search);
}
