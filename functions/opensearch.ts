/**
 * The OpenSearch engine's indexing side: the index and its mapping, `_bulk` bodies (NDJSON) packed under
 * the domain's payload limit, `_bulk` answers read item by item, and the stream handler that maps every
 * item's outcome back to the stream records it stands for. What a stream record means (the operation, one
 * per document, truncation) is shared with CloudSearch: {@link toOperations} in `./indexer`.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { toOperations, type DocumentOperation, type PlannedOperation } from "./indexer";
import type { OpenSearchClient } from "./opensearch-client";

/**
 * Amazon OpenSearch Service refuses HTTP request payloads over 10 MiB on the small and medium instance
 * types (100 MiB from `xlarge` up): "Amazon OpenSearch Service quotas", Network quotas. Bodies are packed
 * under the smaller limit, with room to spare for the request line and headers.
 */
export const OPENSEARCH_MAX_BULK_BYTES = 10 * 1024 * 1024 - 64 * 1024;

/** Largest document sent (OpenSearch has no per-document limit below the payload one; this keeps batches useful). */
export const OPENSEARCH_MAX_DOCUMENT_BYTES = 1024 * 1024;

/** The source of a note's document in OpenSearch: the shared fields plus the id as a sortable keyword. */
export interface OpenSearchSource {
    doc_id: string;
    headline: string;
    note_text: string;
    user_id: string;
    s3_url?: string;
    created_at?: string;
}

/**
 * The index body: `user_id` a keyword (exact, for the owner filter), the searched fields text, `doc_id` a
 * keyword (the unique paging tiebreaker: `_id` is not sortable by default), `s3_url` stored but not
 * indexed, `created_at` a date. `dynamic: strict` refuses a document with any other field.
 */
export function indexDefinition(replicas: number): Record<string, unknown> {
    return {
        settings: { index: { number_of_shards: 1, number_of_replicas: replicas } },
        mappings: {
            dynamic: "strict",
            properties: {
                doc_id: { type: "keyword" },
                user_id: { type: "keyword" },
                headline: { type: "text", analyzer: "english" },
                note_text: { type: "text", analyzer: "english" },
                s3_url: { type: "keyword", index: false },
                created_at: { type: "date", format: "strict_date_optional_time" },
            },
        },
    };
}

/** An index name this program accepts (lowercase, no path or wildcard characters). */
export const INDEX_NAME = /^[a-z0-9][a-z0-9_-]{0,100}$/;

/**
 * Creates the index with its mapping unless it exists (idempotent: `resource_already_exists_exception`
 * is success). Throws with the domain's answer for anything else.
 */
export async function ensureIndex(client: OpenSearchClient, index: string, replicas: number): Promise<"created" | "exists"> {
    if (!INDEX_NAME.test(index)) throw new Error(`not a valid index name: ${JSON.stringify(index)}`);
    const response = await client.request("PUT", `/${index}`, JSON.stringify(indexDefinition(replicas)));
    if (response.status >= 200 && response.status < 300) return "created";
    if (response.status === 400 && errorType(response.body) === "resource_already_exists_exception") return "exists";
    throw new Error(`creating index ${index} failed with HTTP ${response.status}: ${clip(response.body)}`);
}

/** The NDJSON lines of one operation: an action line, and for an index action its source line. */
export function bulkLines(operation: DocumentOperation, index: string): string {
    if (operation.type === "delete") return `${JSON.stringify({ delete: { _index: index, _id: operation.id } })}\n`;
    const source: OpenSearchSource = { doc_id: operation.id, ...operation.fields };
    return `${JSON.stringify({ index: { _index: index, _id: operation.id } })}\n${JSON.stringify(source)}\n`;
}

/** A `_bulk` request body ready to send. */
export interface BulkRequest<T> {
    items: T[];
    body: string;
    /** UTF-8 bytes of {@link body}. */
    bytes: number;
}

/**
 * Packs operations, in order, greedily into bodies of at most `maxBytes` UTF-8 bytes (pure). An operation
 * that is larger on its own goes alone (the domain then refuses it, and only its records fail).
 */
export function packBulk<T extends { operation: DocumentOperation }>(
    items: readonly T[],
    index: string,
    maxBytes: number = OPENSEARCH_MAX_BULK_BYTES,
): BulkRequest<T>[] {
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new RangeError(`maxBytes must be a positive whole number, not ${maxBytes}`);
    const requests: BulkRequest<T>[] = [];
    let current: BulkRequest<T> = { items: [], body: "", bytes: 0 };
    const parts: string[] = [];
    const close = () => {
        current.body = parts.join("");
        requests.push(current);
        parts.length = 0;
        current = { items: [], body: "", bytes: 0 };
    };
    for (const item of items) {
        const lines = bulkLines(item.operation, index);
        const size = Buffer.byteLength(lines, "utf8");
        if (current.items.length > 0 && current.bytes + size > maxBytes) close();
        current.items.push(item);
        current.bytes += size;
        parts.push(lines);
    }
    if (current.items.length > 0) close();
    return requests;
}

/** The outcome of one `_bulk` item. */
export interface BulkItemOutcome {
    ok: boolean;
    status: number;
    /** Worth retrying (429 or 5xx) rather than a rejection of the document itself (other 4xx). */
    retryable: boolean;
    /** The error type and reason the domain gave, for the log (never the document). */
    error?: string;
}

/**
 * Reads a `_bulk` answer: one outcome per action, in order. A delete of a document that is not there
 * (404, `not_found`) is a success: the document is gone either way. Throws if the answer does not hold
 * exactly `expected` items.
 */
export function parseBulkResponse(text: string, expected: number): BulkItemOutcome[] {
    const parsed = JSON.parse(text) as { items?: unknown };
    if (!Array.isArray(parsed.items) || parsed.items.length !== expected) {
        throw new Error(`a _bulk answer must list ${expected} items, got ${Array.isArray(parsed.items) ? parsed.items.length : "none"}`);
    }
    return parsed.items.map((item: unknown): BulkItemOutcome => {
        const [action, result] = Object.entries((item ?? {}) as Record<string, { status?: unknown; result?: unknown; error?: unknown }>)[0] ?? [];
        const status = typeof result?.status === "number" ? result.status : 0;
        if (status >= 200 && status < 300) return { ok: true, status, retryable: false };
        if (action === "delete" && status === 404) return { ok: true, status, retryable: false };
        const error = result?.error as { type?: unknown; reason?: unknown } | undefined;
        return {
            ok: false,
            status,
            retryable: status === 429 || status >= 500 || status === 0,
            error: clip(`${String(error?.type ?? "unknown")}: ${String(error?.reason ?? "")}`),
        };
    });
}

/** What the OpenSearch indexer needs besides its client. */
export interface OpenSearchIndexerSettings {
    /** CloudFront base URL that serves uploads; fills `s3_url`. */
    mediaBaseUrl: string;
    /** The stage's index. */
    index: string;
    /** Replicas of the index when this function creates it (0 on a one-node domain). */
    replicas: number;
    /** Largest `_bulk` body. Default {@link OPENSEARCH_MAX_BULK_BYTES}. */
    maxBulkBytes?: number;
    /** Largest document. Default {@link OPENSEARCH_MAX_DOCUMENT_BYTES}. */
    maxDocumentBytes?: number;
    /** Retries, within one invocation, of items the domain answered 429/5xx for. Default 2. */
    itemRetries?: number;
    /** Wait before the first retry, doubled for each next one, in ms. Default 200. */
    retryDelayMs?: number;
    /** Structured logger; never given note text. Default: a JSON line on stdout. */
    log?: (message: string, details: Record<string, unknown>) => void;
}

/**
 * The OpenSearch stream handler, built once per cold start: it makes sure the index exists (once, again
 * after a failure), then indexes each batch of stream records with `_bulk` requests and answers with a
 * partial batch response naming exactly the records whose operation did not succeed. Never throws.
 */
export function createOpenSearchIndexer(
    client: OpenSearchClient,
    settings: OpenSearchIndexerSettings,
): (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse> {
    let ready: Promise<unknown> | undefined;
    return async (event) => {
        const log = settings.log ?? defaultLog;
        const records = event.Records ?? [];
        const failed = new Set<string>();
        try {
            ready ??= ensureIndex(client, settings.index, settings.replicas);
            await ready;
        } catch (err) {
            ready = undefined;
            log("search index unavailable; failing the batch", { error: clip(String((err as Error)?.message ?? err)) });
            for (const record of records) {
                const sequenceNumber = record?.dynamodb?.SequenceNumber;
                if (sequenceNumber) failed.add(sequenceNumber);
            }
        }
        if (failed.size === 0) {
            const maxBulkBytes = settings.maxBulkBytes ?? OPENSEARCH_MAX_BULK_BYTES;
            const operations = toOperations(records, {
                mediaBaseUrl: settings.mediaBaseUrl,
                // Each document must fit a body on its own, with room for its action line.
                maxBatchBytes: maxBulkBytes - 512,
                maxDocumentBytes: settings.maxDocumentBytes ?? OPENSEARCH_MAX_DOCUMENT_BYTES,
                log,
            });
            const requests = packBulk(operations, settings.index, maxBulkBytes);
            for (const [i, request] of requests.entries()) {
                const context = { request: i + 1, requests: requests.length };
                for (const sequenceNumber of await sendBulk(client, request, settings, context, log)) failed.add(sequenceNumber);
            }
        }
        const batchItemFailures: DynamoDBBatchResponse["batchItemFailures"] = [];
        for (const record of records) {
            const sequenceNumber = record?.dynamodb?.SequenceNumber;
            if (sequenceNumber !== undefined && failed.delete(sequenceNumber)) batchItemFailures.push({ itemIdentifier: sequenceNumber });
        }
        return { batchItemFailures };
    };
}

/**
 * Sends one `_bulk` request and returns the sequence numbers of the records that were not indexed.
 * Items answered 429/5xx are retried (bounded, with backoff); items rejected (other 4xx) fail alone. A
 * request refused as a whole with a 4xx (413 too large, 400 unparseable) is split in halves, so a poison
 * document fails alone; no answer, 429 or 5xx for the whole request fails all its records (Lambda retries).
 */
async function sendBulk(
    client: OpenSearchClient,
    request: BulkRequest<PlannedOperation>,
    settings: OpenSearchIndexerSettings,
    context: Record<string, unknown>,
    log: NonNullable<OpenSearchIndexerSettings["log"]>,
): Promise<string[]> {
    const all = () => request.items.flatMap((item) => item.sequenceNumbers);
    const details = { ...context, operations: request.items.length, bytes: request.bytes };
    let response;
    try {
        response = await client.request("POST", "/_bulk", request.body, "application/x-ndjson");
    } catch (err) {
        log("search bulk request failed", { ...details, error: clip(String((err as Error)?.message ?? err)) });
        return all();
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 429 && request.items.length > 1) {
        log("search bulk request refused; retrying in halves", { ...details, status: response.status, error: errorType(response.body) ?? null });
        const middle = Math.ceil(request.items.length / 2);
        const failed: string[] = [];
        for (const half of [request.items.slice(0, middle), request.items.slice(middle)]) {
            for (const part of packBulk(half, settings.index, Number.MAX_SAFE_INTEGER)) {
                failed.push(...(await sendBulk(client, part, settings, context, log)));
            }
        }
        return failed;
    }
    let outcomes: BulkItemOutcome[];
    try {
        if (response.status < 200 || response.status >= 300) throw new Error(`HTTP ${response.status}: ${clip(response.body)}`);
        outcomes = parseBulkResponse(response.body, request.items.length);
    } catch (err) {
        log("search bulk request failed", { ...details, status: response.status, error: clip(String((err as Error).message)) });
        return all();
    }
    const retryable = request.items.filter((_, i) => !outcomes[i].ok && outcomes[i].retryable);
    const failed: string[] = [];
    outcomes.forEach((outcome, i) => {
        if (outcome.ok || outcome.retryable) return;
        const item = request.items[i];
        log("search document rejected", { ...context, documentId: item.operation.id, status: outcome.status, error: outcome.error, sequenceNumbers: item.sequenceNumbers });
        failed.push(...item.sequenceNumbers);
    });
    const retries = settings.itemRetries ?? 2;
    const attempt = typeof context.attempt === "number" ? context.attempt : 0;
    if (retryable.length > 0) {
        if (attempt < retries) {
            await new Promise((r) => setTimeout(r, (settings.retryDelayMs ?? 200) * 2 ** attempt));
            for (const part of packBulk(retryable, settings.index, Number.MAX_SAFE_INTEGER)) {
                failed.push(...(await sendBulk(client, part, settings, { ...context, attempt: attempt + 1 }, log)));
            }
        } else {
            log("search documents still throttled or failing after retries", {
                ...context,
                documents: retryable.length,
                firstSequenceNumber: retryable[0].sequenceNumbers[0] ?? null,
            });
            failed.push(...retryable.flatMap((item) => item.sequenceNumbers));
        }
    }
    return failed;
}

/** The `error.type` of an OpenSearch error answer, if it has one. */
export function errorType(body: string): string | undefined {
    try {
        const type = (JSON.parse(body) as { error?: { type?: unknown } })?.error?.type;
        return typeof type === "string" ? type : undefined;
    } catch {
        return undefined;
    }
}

function clip(text: string): string {
    return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

function defaultLog(message: string, details: Record<string, unknown>): void {
    console.log(JSON.stringify({ message, ...details }));
}
