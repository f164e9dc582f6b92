import type { APIGatewayProxyResult, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { apiEvent, reply, type ApiCall } from "./events";
import type { LocalFunction } from "./lambda";
import type { StreamTap } from "./streams";

/** The shipped functions a search test drives: notes (writes), the indexer (stream batches) and search. */
export interface SearchPipeline {
    notes: LocalFunction;
    indexer: LocalFunction;
    search: LocalFunction;
    /** The notes table's stream, as the local DynamoDB captured it. */
    stream: StreamTap;
}

/**
 * Calls into a pipeline whatever its engine. `get` is read at each call, because the functions start in
 * `beforeAll`, after the test module has been loaded.
 */
export function pipelineCalls(get: () => SearchPipeline) {
    const callNotes = async (request: ApiCall) => reply(await get().notes.invoke<APIGatewayProxyResult>(apiEvent(request)));
    return {
        callNotes,
        /** `GET /search` as `identityId`. */
        find: async (identityId: string, query: Record<string, string>) =>
            reply(await get().search.invoke<APIGatewayProxyResult>(apiEvent({ method: "GET", resource: "/search", query, identityId }))),
        /** Runs a notes API call and returns the stream record of the change it made (it must make exactly one). */
        change: async (request: ApiCall & { identityId: string }, noteId: string) => {
            const response = await callNotes(request);
            expect(response.statusCode).toBeLessThan(300);
            return get().stream.takeOne({ ownerId: request.identityId, noteId });
        },
        /** Hands stream records to the indexer as one batch, in the event shape the mapping invokes it with. */
        index: (...records: DynamoDBRecord[]) => get().indexer.invoke<DynamoDBBatchResponse>({ Records: records } satisfies DynamoDBStreamEvent),
    };
}
