import type { APIGatewayProxyResult, DynamoDBBatchResponse } from "aws-lambda";
import { apiEvent, reply, type ApiCall } from "./events";
import type { LocalFunction } from "./lambda";
import { ChangeCapture, streamEvent } from "./streams";

/** The shipped functions a search test drives: notes (writes), the indexer (stream batches) and search. */
export interface SearchPipeline {
    notes: LocalFunction;
    indexer: LocalFunction;
    search: LocalFunction;
    changes: ChangeCapture;
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
        /** Runs a notes API call and returns the stream record of the change it made. */
        change: async (request: ApiCall & { identityId: string }, noteId: string) => {
            const key = { ownerId: request.identityId, noteId };
            const before = await get().changes.read(key);
            const response = await callNotes(request);
            expect(response.statusCode).toBeLessThan(300);
            return get().changes.record(before, await get().changes.read(key));
        },
        /** Hands stream records to the indexer as one batch. */
        index: (...records: Parameters<typeof streamEvent>) => get().indexer.invoke<DynamoDBBatchResponse>(streamEvent(...records)),
    };
}
