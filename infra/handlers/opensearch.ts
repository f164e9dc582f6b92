/** Search on OpenSearch: the stream indexer and `GET /search` (see ./types.ts). */
import type { APIGatewayProxyEvent } from "aws-lambda";
import { createOpenSearchIndexer } from "../../functions/opensearch";
import { createOpenSearchClient } from "../../functions/opensearch-client";
import { handleOpenSearchRequest } from "../../functions/opensearch-search";
import type { ApiHandler, Environment, StreamHandler } from "./types";

/** The OpenSearch indexer: the domain's `https://` endpoint, the stage's index and its replicas, the media base URL. */
export function openSearchIndexerEnvironment<S>(args: { endpoint: S; index: string; replicas: number; mediaBaseUrl: S }): Environment<S> {
    return {
        OPENSEARCH_ENDPOINT: args.endpoint,
        OPENSEARCH_INDEX: args.index,
        OPENSEARCH_REPLICAS: String(args.replicas),
        MEDIA_BASE_URL: args.mediaBaseUrl,
    };
}

export function openSearchIndexerFunction(): StreamHandler {
    const client = createOpenSearchClient({ endpoint: process.env.OPENSEARCH_ENDPOINT ?? "", region: process.env.AWS_REGION ?? "" });
    return createOpenSearchIndexer(client, {
        mediaBaseUrl: process.env.MEDIA_BASE_URL ?? "",
        index: process.env.OPENSEARCH_INDEX ?? "",
        replicas: Number(process.env.OPENSEARCH_REPLICAS ?? "0"),
    });
}

export function openSearchSearchEnvironment<S>(args: { endpoint: S; index: string }): Environment<S> {
    return { OPENSEARCH_ENDPOINT: args.endpoint, OPENSEARCH_INDEX: args.index };
}

export function openSearchSearchFunction(): ApiHandler {
    const client = createOpenSearchClient({ endpoint: process.env.OPENSEARCH_ENDPOINT ?? "", region: process.env.AWS_REGION ?? "" });
    const settings = { index: process.env.OPENSEARCH_INDEX ?? "" };
    return (event: APIGatewayProxyEvent) => handleOpenSearchRequest(event, client, settings);
}
