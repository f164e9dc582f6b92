/**
 * Rebuilds a search index from the notes table: a parallel, paginated, resumable scan whose pages go
 * through the engine's own stream handler as INSERT records, so documents are built exactly as the
 * indexer builds them (same ids: re-running is idempotent). A stream keeps 24 hours of changes; this is
 * how an index catches up after an engine switch, a new domain or a long outage.
 */
import { ScanCommand, type AttributeValue, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";

/** Where each scan segment stands; saved after every page so that a re-run resumes. */
export interface ReindexCheckpoint {
    version: 1;
    table: string;
    totalSegments: number;
    segments: SegmentState[];
}

export interface SegmentState {
    /** The key to resume after; absent before the first page. */
    lastKey?: Record<string, AttributeValue>;
    done: boolean;
    scanned: number;
    /** Notes (`ownerId/noteId`) the engine kept refusing; the rest of their page was indexed. */
    failedNotes: string[];
}

export interface ReindexProgress {
    segment: number;
    totalSegments: number;
    /** Items scanned by this segment so far (this run and the runs it resumes). */
    scanned: number;
    /** Items scanned by all segments so far. */
    totalScanned: number;
}

export interface ReindexOptions {
    dynamo: DynamoDBClient;
    tableName: string;
    /** Parallel scan segments. Default 4. */
    totalSegments?: number;
    /** Items per page (`Limit`). Default 100. */
    pageSize?: number;
    /** The engine's stream handler (what the indexer function runs). */
    index: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
    /** Load and save the checkpoint (e.g. a file). */
    checkpoint: { load(): ReindexCheckpoint | undefined; save(checkpoint: ReindexCheckpoint): void };
    /** Attempts for a page whose records failed (throttling, outage) before the run gives up. Default 3. */
    maxAttempts?: number;
    /** Wait before the second attempt, doubled for each next one, in ms. Default 1000. */
    retryDelayMs?: number;
    /** Stop after the pages in flight (the checkpoint keeps the place). */
    signal?: AbortSignal;
    progress?: (progress: ReindexProgress) => void;
}

export interface ReindexResult {
    /** Items scanned in this run. */
    scanned: number;
    /** Notes the engine kept refusing (`ownerId/noteId`, in this run and the runs it resumed). */
    failedNotes: string[];
    /** Whether this run continued an earlier one. */
    resumed: boolean;
    /** Whether every segment reached the end of the table. */
    complete: boolean;
    /** Items scanned by this run and the runs it resumed. */
    totalScanned: number;
}

/**
 * Runs (or resumes) the reindex. A page that still fails as a whole after `maxAttempts` (an outage)
 * stops its segment without moving its checkpoint, so a later run retries exactly that page; other
 * segments go on. Notes that still fail alone (refused documents) are listed and the segment goes on.
 */
export async function reindexTable(options: ReindexOptions): Promise<ReindexResult> {
    const totalSegments = options.totalSegments ?? 4;
    const pageSize = options.pageSize ?? 100;
    const maxAttempts = options.maxAttempts ?? 3;
    if (!Number.isSafeInteger(totalSegments) || totalSegments < 1 || totalSegments > 1_000_000) throw new RangeError("totalSegments must be 1 to 1000000");
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError("pageSize must be a positive whole number");

    const saved = options.checkpoint.load();
    if (saved && (saved.table !== options.tableName || saved.totalSegments !== totalSegments)) {
        throw new Error(
            `the checkpoint is for table ${saved.table} in ${saved.totalSegments} segments, not ${options.tableName} in ${totalSegments}: ` +
                "resume with the same settings, or start over without the checkpoint",
        );
    }
    const checkpoint: ReindexCheckpoint = saved ?? {
        version: 1,
        table: options.tableName,
        totalSegments,
        segments: Array.from({ length: totalSegments }, () => ({ done: false, scanned: 0, failedNotes: [] })),
    };
    const resumed = saved !== undefined;
    options.checkpoint.save(checkpoint);
    let scanned = 0;
    const totalScanned = () => checkpoint.segments.reduce((sum, s) => sum + s.scanned, 0);

    const runSegment = async (segment: number) => {
        const state = checkpoint.segments[segment];
        let page = 0;
        while (!state.done && !options.signal?.aborted) {
            const result = await options.dynamo.send(
                new ScanCommand({
                    TableName: options.tableName,
                    Segment: segment,
                    TotalSegments: totalSegments,
                    Limit: pageSize,
                    ConsistentRead: true,
                    ...(state.lastKey ? { ExclusiveStartKey: state.lastKey } : {}),
                }),
            );
            const items = result.Items ?? [];
            let records = items.map((item, i) => insertRecord(item, `${segment}-${page}-${i}`));
            for (let attempt = 1; records.length > 0; attempt++) {
                const answer = await options.index({ Records: records });
                const failing = new Set(answer.batchItemFailures.map((f) => f.itemIdentifier));
                records = records.filter((r) => failing.has(r.dynamodb?.SequenceNumber ?? ""));
                if (records.length === 0) break;
                if (attempt >= maxAttempts) {
                    // The whole page failing is an outage: stop here, a later run retries this page.
                    if (records.length === items.length) return;
                    state.failedNotes.push(...records.map((r) => `${noteText(r, "ownerId")}/${noteText(r, "noteId")}`));
                    break;
                }
                await new Promise((r) => setTimeout(r, (options.retryDelayMs ?? 1000) * 2 ** (attempt - 1)));
            }
            page++;
            scanned += items.length;
            state.scanned += items.length;
            state.lastKey = result.LastEvaluatedKey;
            state.done = result.LastEvaluatedKey === undefined;
            options.checkpoint.save(checkpoint);
            options.progress?.({ segment, totalSegments, scanned: state.scanned, totalScanned: totalScanned() });
        }
    };
    await Promise.all(checkpoint.segments.map((_, segment) => runSegment(segment)));
    return {
        scanned,
        failedNotes: checkpoint.segments.flatMap((s) => s.failedNotes),
        resumed,
        complete: checkpoint.segments.every((s) => s.done),
        totalScanned: totalScanned(),
    };
}

function noteText(record: DynamoDBRecord, key: string): string {
    const value = (record.dynamodb?.NewImage as Record<string, AttributeValue> | undefined)?.[key];
    return value && "S" in value && typeof value.S === "string" ? value.S : "?";
}

/** A table item as the INSERT stream record the indexer would have received for it. */
function insertRecord(item: Record<string, AttributeValue>, sequenceNumber: string): DynamoDBRecord {
    return {
        eventName: "INSERT",
        eventSource: "aws:dynamodb",
        dynamodb: {
            Keys: { ownerId: item.ownerId, noteId: item.noteId } as never,
            NewImage: item as never,
            SequenceNumber: sequenceNumber,
            StreamViewType: "NEW_AND_OLD_IMAGES",
        },
    };
}
