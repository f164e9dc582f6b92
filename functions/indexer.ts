import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { UploadDocumentsCommand, type CloudSearchDomainClient } from "@aws-sdk/client-cloudsearch-domain";
import { mediaUrl } from "./media";
import { documentId, type SearchDocumentFields } from "./search-index";

/** CloudSearch's limit on one `uploadDocuments` batch: 5 MB. */
export const DEFAULT_MAX_BATCH_BYTES = 5 * 1024 * 1024;

/** CloudSearch's limit on one document: 1 MB. */
export const DEFAULT_MAX_DOCUMENT_BYTES = 1024 * 1024;

/** What the indexer needs besides its CloudSearch document client. */
export interface IndexerSettings {
    /** CloudFront base URL (`https://dxxxx.cloudfront.net`) that serves the uploads bucket; fills `s3_url`. */
    mediaBaseUrl: string;
    /** Largest serialized batch (a JSON array of operations), in UTF-8 bytes. Default {@link DEFAULT_MAX_BATCH_BYTES}. */
    maxBatchBytes?: number;
    /**
     * Largest serialized operation (`{"type":"add","id":…,"fields":{…}}`), in UTF-8 bytes; larger notes have
     * their text (then headline) truncated to fit. Default {@link DEFAULT_MAX_DOCUMENT_BYTES}.
     */
    maxDocumentBytes?: number;
    /** Structured logger; never given note text. Default: one JSON line on stdout per message. */
    log?: (message: string, details: Record<string, unknown>) => void;
}

/** One operation of a CloudSearch JSON document batch. */
export type DocumentOperation =
    | { type: "add"; id: string; fields: SearchDocumentFields }
    | { type: "delete"; id: string };

/** An operation and the stream records (by sequence number, in stream order) it stands for. */
export interface PlannedOperation {
    operation: DocumentOperation;
    sequenceNumbers: string[];
}

/** A batch ready to upload. */
export interface DocumentBatch<T> {
    /** The items whose operations the batch holds, in order. */
    items: T[];
    /** The request body: a JSON array of the items' operations. */
    documents: string;
    /** The exact UTF-8 byte length of {@link documents}. */
    bytes: number;
}

/**
 * A DynamoDB attribute value as a stream record carries it (the `aws-lambda` `AttributeValue` shape), also
 * accepting binaries as bytes, as the AWS SDK represents them.
 */
export interface StreamAttributeValue {
    S?: string;
    N?: string;
    B?: string | Uint8Array;
    BOOL?: boolean;
    NULL?: boolean;
    M?: Record<string, StreamAttributeValue>;
    L?: StreamAttributeValue[];
    SS?: string[];
    NS?: string[];
    BS?: (string | Uint8Array)[];
}

/**
 * An unmarshalled attribute value. Numbers (N, NS) stay their exact decimal strings and binaries (B, BS) are
 * base64 strings, so nothing is rounded; sets are `Set`s, lists arrays, maps plain objects, NULL `null`.
 */
export type AttributeData =
    | string
    | boolean
    | null
    | AttributeData[]
    | ReadonlySet<string>
    | { readonly [name: string]: AttributeData };

/**
 * Turns a stream attribute value into plain data (see {@link AttributeData}). Throws a `TypeError` for
 * anything that is not exactly one well-formed DynamoDB type.
 */
export function unmarshalValue(value: StreamAttributeValue): AttributeData {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new TypeError("an attribute value must be an object");
    }
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length !== 1) {
        throw new TypeError(`an attribute value has exactly one type, not ${entries.length}`);
    }
    const [type, raw] = entries[0] as [string, unknown];
    switch (type) {
        case "S":
            if (typeof raw !== "string") throw new TypeError("S must be a string");
            return raw;
        case "N":
            return decimal(raw);
        case "B":
            return base64(raw);
        case "BOOL":
            if (typeof raw !== "boolean") throw new TypeError("BOOL must be a boolean");
            return raw;
        case "NULL":
            return null;
        case "M":
            if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
                throw new TypeError("M must be an object");
            }
            // fromEntries defines own properties, so even a "__proto__" attribute stays plain data.
            return Object.fromEntries(
                Object.entries(raw as Record<string, StreamAttributeValue>).map(([k, v]) => [k, unmarshalValue(v)]),
            );
        case "L":
            return arrayOf(raw, "L").map((item) => unmarshalValue(item as StreamAttributeValue));
        case "SS":
            return new Set(
                arrayOf(raw, "SS").map((item) => {
                    if (typeof item !== "string") throw new TypeError("SS must hold strings");
                    return item;
                }),
            );
        case "NS":
            return new Set(arrayOf(raw, "NS").map(decimal));
        case "BS":
            return new Set(arrayOf(raw, "BS").map(base64));
        default:
            throw new TypeError(`unknown attribute type ${JSON.stringify(type.slice(0, 16))}`);
    }
}

/** Unmarshals every attribute of an item image (see {@link unmarshalValue}). */
export function unmarshalImage(image: Record<string, StreamAttributeValue>): Record<string, AttributeData> {
    return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, unmarshalValue(value)]));
}

/**
 * The text of an attribute for a string field of a search document: strings as they are, numbers as their
 * decimal strings, binaries as base64, booleans as `true`/`false`, lists and sets as their elements' texts
 * joined by single spaces; `undefined` (no text) for a missing attribute, NULL or a map.
 */
export function fieldText(value: AttributeData | undefined): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return value;
    if (typeof value === "boolean") return String(value);
    if (Array.isArray(value) || value instanceof Set) {
        return [...(value as Iterable<AttributeData>)]
            .map(fieldText)
            .filter((part): part is string => part !== undefined && part !== "")
            .join(" ");
    }
    return undefined;
}

/** The JSON text of one batch operation, as it appears in an uploaded batch. */
export function serializeOperation(operation: DocumentOperation): string {
    return operation.type === "add"
        ? JSON.stringify({ type: "add", id: operation.id, fields: operation.fields })
        : JSON.stringify({ type: "delete", id: operation.id });
}

/**
 * Turns stream records into document operations (pure but for logging through `settings.log`).
 *
 * INSERT and MODIFY add the note's full document from `NewImage`; REMOVE deletes it. Of several records
 * for one document only the last one's operation is kept, and every one of those records is attributed to
 * it. Operations come in the order their documents first appear. A record that cannot become an operation
 * is logged (by sequence number, never with note text) and skipped. An `add` larger than the document limit
 * has its text, then its headline, truncated to fit; one that cannot fit even then is logged and skipped.
 */
export function toOperations(records: DynamoDBRecord[], settings: IndexerSettings): PlannedOperation[] {
    const log = settings.log ?? defaultLog;
    const limits = resolveLimits(settings);
    const byId = new Map<string, PlannedOperation>();
    for (const record of records) {
        const read = readRecord(record, settings.mediaBaseUrl);
        if (typeof read === "string") {
            log("skipping stream record", {
                sequenceNumber: record?.dynamodb?.SequenceNumber ?? null,
                eventID: record?.eventID ?? null,
                eventName: record?.eventName ?? null,
                reason: read,
            });
            continue;
        }
        const planned = byId.get(read.operation.id);
        if (planned === undefined) {
            byId.set(read.operation.id, { operation: read.operation, sequenceNumbers: [read.sequenceNumber] });
        } else {
            planned.operation = read.operation;
            planned.sequenceNumbers.push(read.sequenceNumber);
        }
    }
    const result: PlannedOperation[] = [];
    for (const planned of byId.values()) {
        const operation = fitOperation(planned, limits.maxOperationBytes, log);
        if (operation !== undefined) result.push({ operation, sequenceNumbers: planned.sequenceNumbers });
    }
    return result;
}

/**
 * Packs operations, in order, into as few batches as possible (greedily; for an ordered sequence that is
 * optimal) with each batch's JSON text at most `maxBatchBytes` UTF-8 bytes (pure). Throws a `RangeError` for
 * an operation that cannot fit a batch on its own ({@link toOperations} never yields one).
 */
export function packBatches<T extends { operation: DocumentOperation }>(
    items: readonly T[],
    maxBatchBytes: number = DEFAULT_MAX_BATCH_BYTES,
): DocumentBatch<T>[] {
    positiveInteger("maxBatchBytes", maxBatchBytes);
    const batches: DocumentBatch<T>[] = [];
    let members: T[] = [];
    let parts: string[] = [];
    let bytes = 0;
    const close = () => {
        batches.push({ items: members, documents: `[${parts.join(",")}]`, bytes });
        members = [];
        parts = [];
        bytes = 0;
    };
    for (const item of items) {
        const json = serializeOperation(item.operation);
        const size = Buffer.byteLength(json, "utf8");
        if (size + 2 > maxBatchBytes) {
            throw new RangeError(`a ${size}-byte operation cannot fit a batch of at most ${maxBatchBytes} bytes`);
        }
        // Brackets for the first member, a comma before each further one.
        if (members.length > 0 && bytes + 1 + size > maxBatchBytes) close();
        bytes += members.length === 0 ? 2 + size : 1 + size;
        members.push(item);
        parts.push(json);
    }
    if (members.length > 0) close();
    return batches;
}

/**
 * The stream handler's logic: indexes every record's note, uploading batch after batch, and answers with a
 * partial batch response naming (in stream order, each once) exactly the records whose batch failed — it
 * threw, or answered with a status other than `success`. Per-batch failures never throw.
 */
export async function indexStreamRecords(
    event: DynamoDBStreamEvent,
    search: CloudSearchDomainClient,
    settings: IndexerSettings,
): Promise<DynamoDBBatchResponse> {
    const log = settings.log ?? defaultLog;
    const limits = resolveLimits(settings);
    const records = event.Records ?? [];
    const batches = packBatches(toOperations(records, settings), limits.maxBatchBytes);
    const failed = new Set<string>();
    for (const [index, batch] of batches.entries()) {
        const context = { batch: index + 1, batches: batches.length };
        for (const sequenceNumber of await uploadBatch(search, batch, context, log)) failed.add(sequenceNumber);
    }
    const batchItemFailures: DynamoDBBatchResponse["batchItemFailures"] = [];
    for (const record of records) {
        const sequenceNumber = record?.dynamodb?.SequenceNumber;
        if (sequenceNumber !== undefined && failed.delete(sequenceNumber)) {
            batchItemFailures.push({ itemIdentifier: sequenceNumber });
        }
    }
    return { batchItemFailures };
}

/**
 * Uploads one batch; returns the sequence numbers of the records it could not index. When CloudSearch
 * rejects a batch as invalid (a 4xx), the batch is split and retried in halves, so that one poison
 * document fails alone and the others are indexed now. Any other failure (throttling, 5xx, network)
 * fails the whole batch, to be retried by Lambda.
 */
async function uploadBatch<T extends PlannedOperation>(
    search: CloudSearchDomainClient,
    batch: DocumentBatch<T>,
    context: Record<string, unknown>,
    log: NonNullable<IndexerSettings["log"]>,
): Promise<string[]> {
    const sequenceNumbers = batch.items.flatMap((item) => item.sequenceNumbers);
    const details = { ...context, operations: batch.items.length, bytes: batch.bytes, records: sequenceNumbers.length };
    let failure: Record<string, unknown>;
    let rejected: boolean;
    try {
        const result = await search.send(
            new UploadDocumentsCommand({ contentType: "application/json", documents: batch.documents }),
        );
        const warnings = (result?.warnings ?? []).map((w) => clip(String(w?.message ?? "")));
        if (result?.status === "success") {
            if (warnings.length > 0) {
                log("search upload warnings", { ...details, adds: result.adds, deletes: result.deletes, warnings });
            }
            return [];
        }
        failure = { status: result?.status ?? null, warnings };
        rejected = true;
    } catch (err) {
        failure = { error: describeError(err) };
        const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
        rejected = status !== undefined && status >= 400 && status < 500 && status !== 429;
    }
    if (rejected && batch.items.length > 1) {
        log("search upload rejected; retrying in halves", { ...details, ...failure });
        const middle = Math.ceil(batch.items.length / 2);
        const halves = [batch.items.slice(0, middle), batch.items.slice(middle)];
        const failed: string[] = [];
        for (const half of halves) {
            // Each half is a subset of a batch that fit, so it fits in one batch.
            const [packed] = packBatches(half, Number.MAX_SAFE_INTEGER);
            failed.push(...(await uploadBatch(search, packed, context, log)));
        }
        return failed;
    }
    log("search upload failed", { ...details, ...failure, firstSequenceNumber: sequenceNumbers[0] ?? null });
    return sequenceNumbers;
}

// ---------------------------------------------------------------------------------------------------------

interface Limits {
    maxBatchBytes: number;
    /** The most one operation may take: a document within its limit that also fits a batch alone. */
    maxOperationBytes: number;
}

function resolveLimits(settings: IndexerSettings): Limits {
    const maxBatchBytes = settings.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    const maxDocumentBytes = settings.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
    positiveInteger("maxBatchBytes", maxBatchBytes);
    positiveInteger("maxDocumentBytes", maxDocumentBytes);
    return { maxBatchBytes, maxOperationBytes: Math.min(maxDocumentBytes, maxBatchBytes - 2) };
}

function positiveInteger(name: string, value: number): void {
    if (!Number.isSafeInteger(value) || value <= 0) {
        throw new RangeError(`${name} must be a positive whole number of bytes, not ${value}`);
    }
}

type StreamImage = Record<string, StreamAttributeValue>;

/** A record's operation, or why it has none. */
function readRecord(
    record: DynamoDBRecord,
    mediaBaseUrl: string,
): { operation: DocumentOperation; sequenceNumber: string } | string {
    const stream = record?.dynamodb;
    const sequenceNumber = stream?.SequenceNumber;
    if (typeof sequenceNumber !== "string" || sequenceNumber === "") return "the record has no SequenceNumber";
    const keys = stream?.Keys as StreamImage | undefined;
    switch (record.eventName) {
        case "INSERT":
        case "MODIFY": {
            const image = stream?.NewImage as StreamImage | undefined;
            if (!isObject(image)) return `a ${record.eventName} record needs a NewImage`;
            const ownerId = keyText(keys, image, "ownerId");
            const noteId = keyText(keys, image, "noteId");
            if (ownerId === undefined || noteId === undefined) return "the record has no valid ownerId and noteId key";
            const fields = documentFields(ownerId, image, mediaBaseUrl);
            if (typeof fields === "string") return fields;
            return { operation: { type: "add", id: documentId(ownerId, noteId), fields }, sequenceNumber };
        }
        case "REMOVE": {
            const image = stream?.OldImage as StreamImage | undefined;
            const ownerId = keyText(keys, image, "ownerId");
            const noteId = keyText(keys, image, "noteId");
            if (ownerId === undefined || noteId === undefined) return "the record has no valid ownerId and noteId key";
            return { operation: { type: "delete", id: documentId(ownerId, noteId) }, sequenceNumber };
        }
        default:
            return "the record's eventName is not INSERT, MODIFY or REMOVE";
    }
}

function isObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

function attribute(image: StreamImage | undefined, name: string): StreamAttributeValue | undefined {
    return isObject(image) && Object.hasOwn(image, name) ? image[name] : undefined;
}

/** A key attribute (S, N or B: a non-empty string once unmarshalled), from `Keys` or else the image. */
function keyText(keys: StreamImage | undefined, image: StreamImage | undefined, name: string): string | undefined {
    const value = attribute(keys, name) ?? attribute(image, name);
    if (value === undefined) return undefined;
    try {
        const data = unmarshalValue(value);
        return typeof data === "string" && data !== "" ? data : undefined;
    } catch {
        return undefined;
    }
}

/** The search document of a note image, or why it has none (an attribute it reads is malformed). */
function documentFields(ownerId: string, image: StreamImage, mediaBaseUrl: string): SearchDocumentFields | string {
    const text: Record<string, string | undefined> = {};
    for (const name of ["headline", "text", "mediaKey", "createdAt"]) {
        const value = attribute(image, name);
        try {
            text[name] = value === undefined ? undefined : fieldText(unmarshalValue(value));
        } catch (err) {
            return `attribute ${name} is not a valid DynamoDB attribute value (${(err as Error).message})`;
        }
    }
    const mediaKey = text.mediaKey;
    return {
        headline: cleanText(text.headline ?? ""),
        note_text: cleanText(text.text ?? ""),
        user_id: ownerId,
        ...(mediaKey === undefined || mediaKey === "" ? {} : { s3_url: mediaUrl(mediaBaseUrl, mediaKey) }),
        // An empty date would make CloudSearch reject the whole batch.
        ...(text.createdAt ? { created_at: text.createdAt } : {}),
    };
}

/**
 * Characters a search engine refuses in a field value: C0 and C1 controls other than tab, line feed and
 * carriage return (and DEL), noncharacters (U+FDD0–U+FDEF and U+xFFFE/U+xFFFF in every plane), and lone
 * surrogates. CloudSearch rejects a whole batch over one of them (XML 1.0's character rules); replacing
 * them keeps an item already in the table from poisoning a batch.
 */
const REJECTED_CHARACTERS =
    /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFDD0-\uFDEF\uFFFE\uFFFF]|[\uD83F\uD87F\uD8BF\uD8FF\uD93F\uD97F\uD9BF\uD9FF\uDA3F\uDA7F\uDABF\uDAFF\uDB3F\uDB7F\uDBBF\uDBFF][\uDFFE\uDFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `text` with every character an engine would refuse ({@link REJECTED_CHARACTERS}) replaced by U+FFFD. */
export function cleanText(text: string): string {
    return text.replace(REJECTED_CHARACTERS, "\uFFFD");
}

function utf8Bytes(text: string): number {
    return Buffer.byteLength(text, "utf8");
}

/**
 * The operation made to fit `limit` bytes: an `add` too large has `note_text`, then `headline`, cut to the
 * longest prefix that fits, on a code point boundary. Logs any truncation; `undefined` (logged) if even
 * empty texts do not fit.
 */
function fitOperation(
    planned: PlannedOperation,
    limit: number,
    log: NonNullable<IndexerSettings["log"]>,
): DocumentOperation | undefined {
    const { operation } = planned;
    const originalBytes = utf8Bytes(serializeOperation(operation));
    if (originalBytes <= limit) return operation;
    const tooLarge = () => {
        log("search document too large to index", {
            documentId: operation.id,
            originalBytes,
            limitBytes: limit,
            sequenceNumbers: planned.sequenceNumbers,
        });
        return undefined;
    };
    if (operation.type === "delete") return tooLarge();
    const sizeWith = (fields: SearchDocumentFields) => utf8Bytes(serializeOperation({ ...operation, fields }));
    const original = operation.fields;
    let fields: SearchDocumentFields;
    const truncated = original.note_text === "" ? [] : ["note_text"];
    const withoutText = { ...original, note_text: "" };
    const textRoom = limit - sizeWith(withoutText);
    if (textRoom >= 0) {
        fields = { ...original, note_text: longestPrefix(original.note_text, textRoom) };
    } else {
        const bare = { ...withoutText, headline: "" };
        const headlineRoom = limit - sizeWith(bare);
        if (headlineRoom < 0) return tooLarge();
        fields = { ...bare, headline: longestPrefix(original.headline, headlineRoom) };
        truncated.push("headline");
    }
    const fitted: DocumentOperation = { type: "add", id: operation.id, fields };
    log("truncated search document", {
        documentId: operation.id,
        originalBytes,
        finalBytes: utf8Bytes(serializeOperation(fitted)),
        limitBytes: limit,
        truncated,
        sequenceNumbers: planned.sequenceNumbers,
    });
    return fitted;
}

/** Bytes a string adds inside JSON text: its serialization less the two quotes. */
function jsonStringBytes(text: string): number {
    return utf8Bytes(JSON.stringify(text)) - 2;
}

/**
 * The longest prefix of `text`, ending on a code point boundary (a surrogate pair is never split), whose
 * JSON string serialization (less quotes) takes at most `room` bytes.
 */
function longestPrefix(text: string, room: number): string {
    const cut = (k: number) =>
        k > 0 && k < text.length && isHighSurrogate(text.charCodeAt(k - 1)) && isLowSurrogate(text.charCodeAt(k))
            ? k - 1
            : k;
    // Each UTF-16 unit costs at least one byte, so no fitting prefix is longer than `room` units.
    let lo = 0;
    let hi = Math.min(text.length, room);
    while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (jsonStringBytes(text.slice(0, cut(mid))) <= room) lo = mid;
        else hi = mid - 1;
    }
    return text.slice(0, cut(lo));
}

function isHighSurrogate(unit: number): boolean {
    return unit >= 0xd800 && unit <= 0xdbff;
}

function isLowSurrogate(unit: number): boolean {
    return unit >= 0xdc00 && unit <= 0xdfff;
}

function decimal(raw: unknown): string {
    if (typeof raw !== "string" || !/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(raw)) {
        throw new TypeError("N must be a decimal number string");
    }
    return raw;
}

function base64(raw: unknown): string {
    if (typeof raw === "string") return raw;
    if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64");
    throw new TypeError("B must be a base64 string or bytes");
}

function arrayOf(raw: unknown, type: string): unknown[] {
    if (!Array.isArray(raw)) throw new TypeError(`${type} must be an array`);
    return raw;
}

/** An error as log details: what it is and what the service said, never a request body. */
function describeError(err: unknown): Record<string, unknown> {
    if (err instanceof Error) {
        const metadata = (err as { $metadata?: { httpStatusCode?: number; requestId?: string } }).$metadata;
        return {
            name: err.name,
            message: clip(err.message),
            httpStatusCode: metadata?.httpStatusCode ?? null,
            requestId: metadata?.requestId ?? null,
        };
    }
    return { message: clip(String(err)) };
}

function clip(text: string): string {
    return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

function defaultLog(message: string, details: Record<string, unknown>): void {
    console.log(JSON.stringify({ message, ...details }));
}
