/**
 * Tests of the search indexer's logic (`functions/indexer.ts`): DynamoDB stream records in, CloudSearch
 * document batches out. The CloudSearch client is mocked; nothing here talks to AWS.
 */
import {
    CloudSearchDomainClient,
    UploadDocumentsCommand,
    type UploadDocumentsCommandInput,
} from "@aws-sdk/client-cloudsearch-domain";
import { mockClient } from "aws-sdk-client-mock";
import type { AttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import {
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_MAX_DOCUMENT_BYTES,
    fieldText,
    indexStreamRecords,
    packBatches,
    serializeOperation,
    toOperations,
    unmarshalImage,
    unmarshalValue,
    type DocumentOperation,
    type IndexerSettings,
    type StreamAttributeValue,
} from "../functions/indexer";
import { mediaUrl } from "../functions/media";
import { SEARCH_INDEX_FIELDS, documentId, type SearchDocumentFields } from "../functions/search-index";

// ---------------------------------------------------------------------------------------------
// Stream records as DynamoDB Streams delivers them to Lambda
// ---------------------------------------------------------------------------------------------

const MEDIA_BASE = "https://d111111abcdef8.cloudfront.net";
const OWNER = "us-east-1:7d3b1f5e-52c4-4a8e-9d5e-0c9f3a1b2c4d";
const OTHER_OWNER = "us-east-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/notes-dev";

/** A note as the notes function stores it (every attribute optional, to build broken ones too). */
interface NoteAttributes {
    ownerId?: string;
    noteId?: string;
    headline?: string;
    text?: string;
    mediaKey?: string;
    createdAt?: string;
    updatedAt?: string;
}

type Image = Record<string, AttributeValue>;

function note(noteId: string, overrides: NoteAttributes = {}): NoteAttributes {
    return {
        ownerId: OWNER,
        noteId,
        headline: `Headline of ${noteId}`,
        text: `Text of ${noteId}`,
        createdAt: "2024-05-01T10:00:00.000Z",
        updatedAt: "2024-05-01T10:00:00.000Z",
        ...overrides,
    };
}

/** A stored item as a stream image: every attribute a DynamoDB string. */
function image(attributes: NoteAttributes): Image {
    const result: Image = {};
    for (const [name, value] of Object.entries(attributes)) {
        if (value !== undefined) result[name] = { S: value };
    }
    return result;
}

function keysOf(attributes: NoteAttributes): Image {
    return { ownerId: { S: attributes.ownerId ?? "" }, noteId: { S: attributes.noteId ?? "" } };
}

let sequence = 0n;

/** Stream sequence numbers: 21-digit decimal strings that grow within a shard. */
function nextSequenceNumber(): string {
    sequence += 1n;
    return (100000000000000000000n + sequence).toString();
}

interface StreamParts {
    keys?: Image;
    newImage?: Image;
    oldImage?: Image;
    sequenceNumber?: string;
}

function streamRecord(eventName: string, parts: StreamParts): DynamoDBRecord {
    const sequenceNumber = parts.sequenceNumber ?? nextSequenceNumber();
    const dynamodb: NonNullable<DynamoDBRecord["dynamodb"]> = {
        ApproximateCreationDateTime: 1714557600,
        SequenceNumber: sequenceNumber,
        SizeBytes: Buffer.byteLength(JSON.stringify([parts.keys, parts.newImage, parts.oldImage])),
        StreamViewType: "NEW_AND_OLD_IMAGES",
    };
    if (parts.keys !== undefined) dynamodb.Keys = parts.keys;
    if (parts.newImage !== undefined) dynamodb.NewImage = parts.newImage;
    if (parts.oldImage !== undefined) dynamodb.OldImage = parts.oldImage;
    return {
        eventID: `event-${sequenceNumber}`,
        eventName: eventName as DynamoDBRecord["eventName"],
        eventVersion: "1.1",
        eventSource: "aws:dynamodb",
        awsRegion: "us-east-1",
        eventSourceARN: `${TABLE_ARN}/stream/2024-05-01T00:00:00.000`,
        dynamodb,
    };
}

function insert(attributes: NoteAttributes): DynamoDBRecord {
    return streamRecord("INSERT", { keys: keysOf(attributes), newImage: image(attributes) });
}

function modify(before: NoteAttributes, after: NoteAttributes): DynamoDBRecord {
    return streamRecord("MODIFY", { keys: keysOf(after), newImage: image(after), oldImage: image(before) });
}

function remove(before: NoteAttributes): DynamoDBRecord {
    return streamRecord("REMOVE", { keys: keysOf(before), oldImage: image(before) });
}

function streamEvent(...records: DynamoDBRecord[]): DynamoDBStreamEvent {
    return { Records: records };
}

function sequenceNumberOf(record: DynamoDBRecord): string {
    return record.dynamodb!.SequenceNumber!;
}

// ---------------------------------------------------------------------------------------------
// Expected documents
// ---------------------------------------------------------------------------------------------

function expectedFields(attributes: NoteAttributes): SearchDocumentFields {
    return {
        headline: attributes.headline ?? "",
        note_text: attributes.text ?? "",
        user_id: attributes.ownerId!,
        ...(attributes.mediaKey === undefined ? {} : { s3_url: mediaUrl(MEDIA_BASE, attributes.mediaKey) }),
        created_at: attributes.createdAt ?? "",
    };
}

function addOf(attributes: NoteAttributes): DocumentOperation {
    return {
        type: "add",
        id: documentId(attributes.ownerId!, attributes.noteId!),
        fields: expectedFields(attributes),
    };
}

function deleteOf(attributes: NoteAttributes): DocumentOperation {
    return { type: "delete", id: documentId(attributes.ownerId!, attributes.noteId!) };
}

/** The batch body the indexer should send for these operations, spelled out. */
function batchJson(operations: DocumentOperation[]): string {
    return `[${operations.map(serializeOperation).join(",")}]`;
}

// ---------------------------------------------------------------------------------------------
// CloudSearch mock and logs
// ---------------------------------------------------------------------------------------------

const searchMock = mockClient(CloudSearchDomainClient);
const search = new CloudSearchDomainClient({
    endpoint: "https://doc-notes-dev-abcdefghijklmnop.us-east-1.cloudsearch.amazonaws.com",
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDLOCALTEST", secretAccessKey: "local-test-secret" },
    maxAttempts: 1,
});

interface LogEntry {
    message: string;
    details: Record<string, unknown>;
}

let logs: LogEntry[];

function settings(overrides: Partial<IndexerSettings> = {}): IndexerSettings {
    return {
        mediaBaseUrl: MEDIA_BASE,
        log: (message, details) => logs.push({ message, details }),
        ...overrides,
    };
}

function logsNamed(message: string): Record<string, unknown>[] {
    return logs.filter((entry) => entry.message === message).map((entry) => entry.details);
}

beforeEach(() => {
    searchMock.reset();
    searchMock.on(UploadDocumentsCommand).resolves({ status: "success" });
    logs = [];
});

afterAll(() => {
    searchMock.restore();
    search.destroy();
});

function uploads(): UploadDocumentsCommandInput[] {
    return searchMock.commandCalls(UploadDocumentsCommand).map((call) => call.args[0].input);
}

/** The body of each upload as text, whichever of string or bytes the indexer chose. */
function sentDocuments(): string[] {
    return uploads().map((input) => {
        const body = input.documents as unknown;
        if (typeof body === "string") return body;
        if (body instanceof Uint8Array) return new TextDecoder("utf-8", { fatal: true }).decode(body);
        throw new Error(`unexpected documents type ${typeof body}`);
    });
}

function sentOperations(): DocumentOperation[][] {
    return sentDocuments().map((text) => JSON.parse(text) as DocumentOperation[]);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function utf8(text: string): number {
    return Buffer.byteLength(text, "utf8");
}

/** A deterministic PRNG (mulberry32), so property tests are repeatable. */
function random(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

// ---------------------------------------------------------------------------------------------
// INSERT, MODIFY, REMOVE
// ---------------------------------------------------------------------------------------------

describe("stream events become document operations", () => {
    test("an INSERT adds the note's full document, sent as one JSON batch", async () => {
        const created = note("n-1", { mediaKey: `uploads/${OWNER}/photo 1.jpg` });
        const response = await indexStreamRecords(streamEvent(insert(created)), search, settings());

        expect(response).toEqual({ batchItemFailures: [] });
        expect(uploads()).toHaveLength(1);
        expect(uploads()[0].contentType).toBe("application/json");
        expect(sentDocuments()).toEqual([
            "[" +
                '{"type":"add","id":"us-east-1:7d3b1f5e-52c4-4a8e-9d5e-0c9f3a1b2c4d/n-1","fields":{' +
                '"headline":"Headline of n-1",' +
                '"note_text":"Text of n-1",' +
                '"user_id":"us-east-1:7d3b1f5e-52c4-4a8e-9d5e-0c9f3a1b2c4d",' +
                '"s3_url":"https://d111111abcdef8.cloudfront.net/uploads/us-east-1%3A7d3b1f5e-52c4-4a8e-9d5e-0c9f3a1b2c4d/photo%201.jpg",' +
                '"created_at":"2024-05-01T10:00:00.000Z"}}' +
                "]",
        ]);
        expect(sentOperations()[0][0]).toEqual(addOf(created));
        expect(logs).toEqual([]);
    });

    test("every field sent is a field of the search index", async () => {
        const created = note("n-1", { mediaKey: `uploads/${OWNER}/a.png` });
        await indexStreamRecords(streamEvent(insert(created)), search, settings());
        const [[operation]] = sentOperations();
        const indexFields = SEARCH_INDEX_FIELDS.map((field) => field.name);
        expect(operation.type).toBe("add");
        if (operation.type !== "add") return;
        expect(Object.keys(operation.fields).sort()).toEqual([...indexFields].sort());
    });

    test("a MODIFY re-adds the document from the new image, not the old one", async () => {
        const before = note("n-2", { text: "old text", mediaKey: `uploads/${OWNER}/old.jpg` });
        const after = note("n-2", { headline: "New headline", text: undefined, mediaKey: undefined });
        const response = await indexStreamRecords(streamEvent(modify(before, after)), search, settings());

        expect(response).toEqual({ batchItemFailures: [] });
        expect(sentDocuments()).toEqual([
            `[{"type":"add","id":"${OWNER}/n-2","fields":{"headline":"New headline","note_text":"",` +
                `"user_id":"${OWNER}","created_at":"2024-05-01T10:00:00.000Z"}}]`,
        ]);
    });

    test("a REMOVE deletes the document named by the record's keys", async () => {
        const gone = note("n-3");
        const response = await indexStreamRecords(streamEvent(remove(gone)), search, settings());

        expect(response).toEqual({ batchItemFailures: [] });
        expect(sentDocuments()).toEqual([`[{"type":"delete","id":"${OWNER}/n-3"}]`]);
    });

    test("a REMOVE without Keys takes the id from the old image; a TTL removal deletes too", async () => {
        const gone = note("n-4");
        const withoutKeys = streamRecord("REMOVE", { oldImage: image(gone) });
        const ttl = { ...remove(note("n-5")), userIdentity: { type: "Service", principalId: "dynamodb.amazonaws.com" } };
        await indexStreamRecords(streamEvent(withoutKeys, ttl), search, settings());
        expect(sentDocuments()).toEqual([batchJson([deleteOf(gone), deleteOf(note("n-5"))])]);
    });

    test("an INSERT whose keys are only in the new image is still indexed", async () => {
        const created = note("n-6");
        const record = streamRecord("INSERT", { newImage: image(created) });
        await indexStreamRecords(streamEvent(record), search, settings());
        expect(sentOperations()).toEqual([[addOf(created)]]);
    });

    test("a mixed event goes out as one batch, in order, and reports no failures", async () => {
        const a = note("a");
        const b = note("b", { ownerId: OTHER_OWNER });
        const c = note("c");
        const event = streamEvent(insert(a), modify(b, { ...b, text: "changed" }), remove(c));
        const response = await indexStreamRecords(event, search, settings());

        expect(response).toEqual({ batchItemFailures: [] });
        expect(sentDocuments()).toEqual([batchJson([addOf(a), addOf({ ...b, text: "changed" }), deleteOf(c)])]);
    });

    test("note ids CloudSearch cannot take as ids map to the same hashed id for add and delete", async () => {
        const odd = note("not an API id!");
        await indexStreamRecords(streamEvent(insert(odd)), search, settings());
        await indexStreamRecords(streamEvent(remove(odd)), search, settings());
        const [[added], [deleted]] = sentOperations();
        expect(added.id).toMatch(/^h\/[0-9a-f]{64}$/);
        expect(added.id).toBe(documentId(OWNER, "not an API id!"));
        expect(deleted).toEqual({ type: "delete", id: added.id });
    });

    test("an event without records uploads nothing", async () => {
        expect(await indexStreamRecords(streamEvent(), search, settings())).toEqual({ batchItemFailures: [] });
        expect(uploads()).toHaveLength(0);
    });

    test("toOperations pairs each operation with its records' sequence numbers", () => {
        const a = insert(note("a"));
        const b = remove(note("b"));
        expect(toOperations([a, b], settings())).toEqual([
            { operation: addOf(note("a")), sequenceNumbers: [sequenceNumberOf(a)] },
            { operation: deleteOf(note("b")), sequenceNumbers: [sequenceNumberOf(b)] },
        ]);
    });

    test("the default log writes one JSON line per message", () => {
        const spy = jest.spyOn(console, "log").mockImplementation(() => undefined);
        try {
            toOperations([streamRecord("UPDATE", { keys: keysOf(note("x")), sequenceNumber: "123" })], {
                mediaBaseUrl: MEDIA_BASE,
            });
            expect(spy).toHaveBeenCalledTimes(1);
            const line = JSON.parse(spy.mock.calls[0][0] as string) as Record<string, unknown>;
            expect(line).toMatchObject({ message: "skipping stream record", sequenceNumber: "123" });
        } finally {
            spy.mockRestore();
        }
    });

    test("limits that are not positive whole numbers are refused", async () => {
        expect(() => toOperations([], settings({ maxBatchBytes: 0 }))).toThrow(RangeError);
        expect(() => toOperations([], settings({ maxDocumentBytes: 1.5 }))).toThrow(RangeError);
        await expect(indexStreamRecords(streamEvent(), search, settings({ maxBatchBytes: NaN }))).rejects.toThrow(
            RangeError,
        );
        expect(() => packBatches([], -1)).toThrow(RangeError);
    });
});

// ---------------------------------------------------------------------------------------------
// Attribute values
// ---------------------------------------------------------------------------------------------

describe("attribute values", () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);

    test.each<[string, StreamAttributeValue, unknown]>([
        ["S", { S: "héllo 世界 😀" }, "héllo 世界 😀"],
        ["S (empty)", { S: "" }, ""],
        ["N keeps the exact decimal string", { N: "12345678901234567890.123456789012345678" }, "12345678901234567890.123456789012345678"],
        ["N (negative, exponent)", { N: "-1.5E-130" }, "-1.5E-130"],
        ["N (integer past 2^53)", { N: "9007199254740993" }, "9007199254740993"],
        ["B as base64 text", { B: "AAEC+v8=" }, "AAEC+v8="],
        ["B as bytes", { B: bytes }, "AAEC+v8="],
        ["B as a slice of a larger buffer", { B: new Uint8Array([9, 9, 0, 1, 2, 250, 255, 9]).subarray(2, 7) }, "AAEC+v8="],
        ["BOOL true", { BOOL: true }, true],
        ["BOOL false", { BOOL: false }, false],
        ["NULL", { NULL: true }, null],
        ["SS", { SS: ["a", "b", "c"] }, new Set(["a", "b", "c"])],
        ["NS", { NS: ["1", "2.50", "-3e10"] }, new Set(["1", "2.50", "-3e10"])],
        ["BS", { BS: ["AAE=", new Uint8Array([255, 254])] }, new Set(["AAE=", "//4="])],
        ["L", { L: [{ S: "x" }, { N: "1" }, { BOOL: false }, { NULL: true }, { L: [] }] }, ["x", "1", false, null, []]],
        [
            "M (nested)",
            { M: { a: { S: "x" }, b: { M: { c: { NS: ["7"] } } }, d: { L: [{ M: {} }] } } },
            { a: "x", b: { c: new Set(["7"]) }, d: [{}] },
        ],
    ])("unmarshals %s", (_name, value, expected) => {
        expect(unmarshalValue(value)).toEqual(expected);
    });

    test("sets keep their element order", () => {
        expect([...(unmarshalValue({ SS: ["z", "a", "m"] }) as Set<string>)]).toEqual(["z", "a", "m"]);
    });

    test("a map attribute named __proto__ stays plain data", () => {
        const value = unmarshalValue({ M: JSON.parse('{"__proto__":{"S":"x"}}') }) as Record<string, unknown>;
        expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
        expect(Object.keys(value)).toEqual(["__proto__"]);
    });

    test("unmarshalImage unmarshals every attribute", () => {
        expect(
            unmarshalImage({ ownerId: { S: OWNER }, size: { N: "10" }, tags: { SS: ["x"] }, blob: { B: bytes } }),
        ).toEqual({ ownerId: OWNER, size: "10", tags: new Set(["x"]), blob: "AAEC+v8=" });
    });

    test.each<[string, unknown]>([
        ["no type", {}],
        ["two types", { S: "a", N: "1" }],
        ["S that is not a string", { S: 5 }],
        ["N that is not a number", { N: "twelve" }],
        ["N that is a JS number", { N: 12 }],
        ["BOOL that is a string", { BOOL: "true" }],
        ["B that is a number", { B: 7 }],
        ["M that is an array", { M: [] }],
        ["L that is an object", { L: {} }],
        ["SS with a number", { SS: ["a", 1] }],
        ["NS with a word", { NS: ["1", "x"] }],
        ["an unknown type", { X: "a" }],
        ["null", null],
        ["a bare string", "a"],
        ["a bad value deep in a list", { L: [{ M: { a: { N: "NaN" } } }] }],
    ])("refuses %s", (_name, value) => {
        expect(() => unmarshalValue(value as StreamAttributeValue)).toThrow(TypeError);
    });

    test.each<[string, StreamAttributeValue, string | undefined]>([
        ["S", { S: "words" }, "words"],
        ["N", { N: "3.14159265358979323846" }, "3.14159265358979323846"],
        ["B", { B: bytes }, "AAEC+v8="],
        ["BOOL", { BOOL: true }, "true"],
        ["NULL", { NULL: true }, undefined],
        ["M", { M: { a: { S: "x" } } }, undefined],
        ["L", { L: [{ S: "a" }, { N: "2" }, { BOOL: false }, { NULL: true }, { M: {} }, { L: [{ S: "b" }, { S: "" }] }] }, "a 2 false b"],
        ["SS", { SS: ["red", "green"] }, "red green"],
        ["NS", { NS: ["1", "2.5"] }, "1 2.5"],
        ["BS", { BS: [new Uint8Array([1]), "Ag=="] }, "AQ== Ag=="],
        ["empty L", { L: [] }, ""],
    ])("the field text of %s", (_name, value, expected) => {
        expect(fieldText(unmarshalValue(value))).toBe(expected);
    });

    test("the field text of a missing attribute is undefined", () => {
        expect(fieldText(undefined)).toBeUndefined();
    });

    test("documents built from every attribute type", () => {
        const base = { ownerId: { S: OWNER }, noteId: { S: "typed" }, createdAt: { S: "2024-05-01T10:00:00.000Z" } };
        const cases: [Image, Partial<SearchDocumentFields>][] = [
            [{ headline: { N: "42.000" }, text: { BOOL: false } }, { headline: "42.000", note_text: "false" }],
            [{ headline: { B: "aGk=" }, text: { SS: ["one", "two"] } }, { headline: "aGk=", note_text: "one two" }],
            [{ headline: { NULL: true }, text: { M: { a: { S: "x" } } } }, { headline: "", note_text: "" }],
            [{ headline: { L: [{ S: "a" }, { N: "1" }] }, text: { NS: ["1", "2"] } }, { headline: "a 1", note_text: "1 2" }],
            [{ headline: { S: "h" }, text: { BS: ["AQ==", "Ag=="] } }, { headline: "h", note_text: "AQ== Ag==" }],
            [{ headline: { S: "h" }, mediaKey: { NULL: true } }, { headline: "h", note_text: "" }],
            [{ headline: { S: "h" }, mediaKey: { S: "" } }, { headline: "h", note_text: "" }],
            [
                { headline: { S: "h" }, mediaKey: { N: "7" } },
                { headline: "h", note_text: "", s3_url: `${MEDIA_BASE}/7` },
            ],
        ];
        for (const [attributes, expected] of cases) {
            const record = streamRecord("INSERT", {
                keys: { ownerId: base.ownerId, noteId: base.noteId },
                newImage: { ...base, ...attributes },
            });
            const [planned] = toOperations([record], settings());
            expect(planned.operation).toEqual({
                type: "add",
                id: `${OWNER}/typed`,
                fields: { user_id: OWNER, created_at: "2024-05-01T10:00:00.000Z", ...expected },
            });
        }
        expect(logs).toEqual([]);
    });

    test("created_at of a number or a missing attribute", () => {
        const record = streamRecord("INSERT", {
            keys: keysOf(note("t")),
            newImage: { ...image(note("t", { createdAt: undefined })), createdAt: { N: "1714557600" } },
        });
        const missing = insert(note("u", { createdAt: undefined }));
        const [a, b] = toOperations([record, missing], settings()).map((p) => p.operation);
        expect(a.type === "add" && a.fields.created_at).toBe("1714557600");
        // No date rather than an empty one, which CloudSearch would reject with the whole batch.
        expect(b.type === "add" && "created_at" in b.fields).toBe(false);
    });

    test("number and binary keys name documents by their text", () => {
        const numeric = streamRecord("INSERT", {
            keys: { ownerId: { N: "1234" }, noteId: { B: new Uint8Array([1, 2, 3]) } as unknown as AttributeValue },
            newImage: { headline: { S: "h" } },
        });
        const [planned] = toOperations([numeric], settings());
        expect(planned.operation).toEqual({
            type: "add",
            id: documentId("1234", "AQID"),
            fields: { headline: "h", note_text: "", user_id: "1234" },
        });
    });
});

// ---------------------------------------------------------------------------------------------
// Several records for one document
// ---------------------------------------------------------------------------------------------

describe("one operation per document", () => {
    test("INSERT, MODIFY, REMOVE of one note send one delete", async () => {
        const v1 = note("d-1");
        const v2 = note("d-1", { text: "edited" });
        const records = [insert(v1), modify(v1, v2), remove(v2)];
        const response = await indexStreamRecords(streamEvent(...records), search, settings());

        expect(response).toEqual({ batchItemFailures: [] });
        expect(sentDocuments()).toEqual([batchJson([deleteOf(v1)])]);
        expect(toOperations(records, settings())).toEqual([
            { operation: deleteOf(v1), sequenceNumbers: records.map(sequenceNumberOf) },
        ]);
    });

    test("INSERT then MODIFY send the latest version only", async () => {
        const v1 = note("d-2");
        const v2 = note("d-2", { headline: "v2" });
        const v3 = note("d-2", { headline: "v3", mediaKey: `uploads/${OWNER}/x.jpg` });
        await indexStreamRecords(streamEvent(insert(v1), modify(v1, v2), modify(v2, v3)), search, settings());
        expect(sentDocuments()).toEqual([batchJson([addOf(v3)])]);
    });

    test("a note removed and created again is added", async () => {
        const old = note("d-3");
        const again = note("d-3", { headline: "again" });
        await indexStreamRecords(streamEvent(remove(old), insert(again)), search, settings());
        expect(sentDocuments()).toEqual([batchJson([addOf(again)])]);
    });

    test("interleaved notes keep the order they first appear in, each with all its records", () => {
        const a1 = insert(note("a"));
        const b1 = insert(note("b"));
        const a2 = modify(note("a"), note("a", { text: "a2" }));
        const c1 = remove(note("c"));
        const b2 = remove(note("b"));
        expect(toOperations([a1, b1, a2, c1, b2], settings())).toEqual([
            { operation: addOf(note("a", { text: "a2" })), sequenceNumbers: [a1, a2].map(sequenceNumberOf) },
            { operation: deleteOf(note("b")), sequenceNumbers: [b1, b2].map(sequenceNumberOf) },
            { operation: deleteOf(note("c")), sequenceNumbers: [sequenceNumberOf(c1)] },
        ]);
    });

    test("the same note id of two owners is two documents", async () => {
        const mine = note("same");
        const theirs = note("same", { ownerId: OTHER_OWNER });
        await indexStreamRecords(streamEvent(insert(mine), insert(theirs)), search, settings());
        expect(sentDocuments()).toEqual([batchJson([addOf(mine), addOf(theirs)])]);
    });

    test("when the single operation fails, every record it stands for is reported, once, in stream order", async () => {
        searchMock.on(UploadDocumentsCommand).rejects(new Error("Service Unavailable"));
        const v1 = note("d-4");
        const records = [insert(v1), modify(v1, note("d-4", { text: "x" })), remove(v1)];
        const response = await indexStreamRecords(streamEvent(...records), search, settings());
        expect(response).toEqual({
            batchItemFailures: records.map((r) => ({ itemIdentifier: sequenceNumberOf(r) })),
        });
    });
});

// ---------------------------------------------------------------------------------------------
// Records that cannot be indexed
// ---------------------------------------------------------------------------------------------

describe("malformed records", () => {
    const SECRET = "confidential note text that must never be logged";

    test("are skipped and logged by sequence number, never with note text, without failing the batch", async () => {
        const secretNote = note("m-1", { text: SECRET, headline: SECRET });
        const good = note("good");
        const malformed: [string, DynamoDBRecord][] = [
            ["unknown eventName", streamRecord("UPSERT", { keys: keysOf(secretNote), newImage: image(secretNote) })],
            ["no eventName", { ...insert(secretNote), eventName: undefined }],
            ["INSERT without NewImage", streamRecord("INSERT", { keys: keysOf(secretNote), oldImage: image(secretNote) })],
            ["MODIFY without NewImage", streamRecord("MODIFY", { keys: keysOf(secretNote), oldImage: image(secretNote) })],
            [
                "INSERT without noteId",
                streamRecord("INSERT", {
                    keys: { ownerId: { S: OWNER } },
                    newImage: image({ ...secretNote, noteId: undefined }),
                }),
            ],
            ["REMOVE without keys or old image", streamRecord("REMOVE", {})],
            [
                "REMOVE with an empty owner",
                streamRecord("REMOVE", { keys: { ownerId: { S: "" }, noteId: { S: "m-1" } } }),
            ],
            [
                "key of type BOOL",
                streamRecord("REMOVE", { keys: { ownerId: { BOOL: true }, noteId: { S: "m-1" } } }),
            ],
            [
                "malformed key value",
                streamRecord("REMOVE", { keys: { ownerId: {} as AttributeValue, noteId: { S: "m-1" } } }),
            ],
            [
                "malformed headline value",
                streamRecord("INSERT", {
                    keys: keysOf(secretNote),
                    newImage: { ...image(secretNote), headline: { S: SECRET, N: "1" } as unknown as AttributeValue },
                }),
            ],
            [
                "malformed text value",
                streamRecord("INSERT", {
                    keys: keysOf(secretNote),
                    newImage: { ...image(secretNote), text: { L: [{ Q: SECRET }] } as unknown as AttributeValue },
                }),
            ],
            [
                "NewImage that is not an object",
                streamRecord("INSERT", { keys: keysOf(secretNote), newImage: "nope" as unknown as Image }),
            ],
            ["no dynamodb part", { ...insert(secretNote), dynamodb: undefined }],
        ];
        const goodRecord = insert(good);
        const records = [...malformed.map(([, record]) => record), goodRecord];
        const response = await indexStreamRecords(streamEvent(...records), search, settings());

        expect(response).toEqual({ batchItemFailures: [] });
        expect(sentDocuments()).toEqual([batchJson([addOf(good)])]);
        const skipped = logsNamed("skipping stream record");
        expect(skipped).toHaveLength(malformed.length);
        malformed.forEach(([name, record], i) => {
            expect({ name, sequenceNumber: skipped[i].sequenceNumber }).toEqual({
                name,
                sequenceNumber: record.dynamodb?.SequenceNumber ?? null,
            });
            expect(typeof skipped[i].reason).toBe("string");
        });
        expect(JSON.stringify(logs)).not.toContain("confidential");
    });

    test("a record without a sequence number cannot be reported, so it is skipped", () => {
        const record = insert(note("m-2"));
        delete record.dynamodb!.SequenceNumber;
        expect(toOperations([record], settings())).toEqual([]);
        expect(logsNamed("skipping stream record")).toEqual([
            expect.objectContaining({ sequenceNumber: null, reason: expect.stringContaining("SequenceNumber") }),
        ]);
    });

    test("a malformed later record leaves the earlier operation of its document in place", () => {
        const good = insert(note("m-3"));
        const broken = streamRecord("MODIFY", { keys: keysOf(note("m-3")) });
        expect(toOperations([good, broken], settings())).toEqual([
            { operation: addOf(note("m-3")), sequenceNumbers: [sequenceNumberOf(good)] },
        ]);
        expect(logsNamed("skipping stream record")).toHaveLength(1);
    });

    test("an event of only malformed records uploads nothing and fails nothing", async () => {
        const response = await indexStreamRecords(
            streamEvent(streamRecord("INSERT", {}), streamRecord("REMOVE", {})),
            search,
            settings(),
        );
        expect(response).toEqual({ batchItemFailures: [] });
        expect(uploads()).toHaveLength(0);
    });
});

// ---------------------------------------------------------------------------------------------
// Packing batches
// ---------------------------------------------------------------------------------------------

/** An add operation whose JSON takes exactly `bytes` bytes. */
function addOfSize(index: number, bytes: number): { operation: DocumentOperation } {
    const fields: SearchDocumentFields = { headline: `h${index}`, note_text: "", user_id: "u", created_at: "" };
    const id = `u/p${index}`;
    const base = utf8(serializeOperation({ type: "add", id, fields }));
    if (bytes < base) throw new Error(`an add operation takes at least ${base} bytes`);
    return { operation: { type: "add", id, fields: { ...fields, note_text: "x".repeat(bytes - base) } } };
}

function operationBytes(item: { operation: DocumentOperation }): number {
    return utf8(serializeOperation(item.operation));
}

/** The fewest batches an ordered list of operation sizes fits into (dynamic programming). */
function fewestBatches(sizes: number[], max: number): number {
    const best: number[] = [0];
    for (let end = 1; end <= sizes.length; end++) {
        best[end] = Infinity;
        let bytes = 1; // the closing bracket; each member adds its size plus "[" or ","
        for (let start = end - 1; start >= 0; start--) {
            bytes += sizes[start] + 1;
            if (bytes > max) break;
            best[end] = Math.min(best[end], best[start] + 1);
        }
    }
    return best[sizes.length];
}

function expectWellFormedBatches(
    batches: { documents: string; bytes: number; items: { operation: DocumentOperation }[] }[],
    items: { operation: DocumentOperation }[],
    max: number,
): void {
    for (const batch of batches) {
        expect(batch.bytes).toBe(utf8(batch.documents));
        expect(batch.bytes).toBeLessThanOrEqual(max);
        expect(JSON.parse(batch.documents)).toEqual(batch.items.map((item) => JSON.parse(serializeOperation(item.operation))));
    }
    expect(batches.flatMap((batch) => batch.items)).toEqual(items);
}

describe("packing batches", () => {
    test("a batch of exactly maxBatchBytes is one batch; one more byte starts a second", () => {
        const max = 1000;
        // [a,b]: 2 brackets + a + 1 comma + b = max
        const a = addOfSize(1, 400);
        const b = addOfSize(2, max - 3 - 400);
        const exact = packBatches([a, b], max);
        expect(exact).toHaveLength(1);
        expect(exact[0].bytes).toBe(max);
        expect(utf8(exact[0].documents)).toBe(max);

        const bigger = addOfSize(2, max - 3 - 400 + 1);
        const split = packBatches([a, bigger], max);
        expect(split).toHaveLength(2);
        expect(split.map((batch) => batch.items)).toEqual([[a], [bigger]]);
        expectWellFormedBatches(split, [a, bigger], max);
    });

    test("one operation of exactly maxBatchBytes - 2 fits alone; one byte more cannot be sent", () => {
        const max = 600;
        const alone = addOfSize(1, max - 2);
        expect(packBatches([alone], max)).toEqual([
            { items: [alone], documents: `[${serializeOperation(alone.operation)}]`, bytes: max },
        ]);
        expect(() => packBatches([addOfSize(1, max - 1)], max)).toThrow(RangeError);
    });

    test("sizes count UTF-8 bytes, not characters", () => {
        const fields: SearchDocumentFields = { headline: "€", note_text: "😀", user_id: OWNER, created_at: "" };
        const item = { operation: { type: "add", id: `${OWNER}/u`, fields } as DocumentOperation };
        const bytes = utf8(serializeOperation(item.operation));
        expect(bytes).toBe(serializeOperation(item.operation).length + 2 + 2); // € 3 bytes/1 unit, 😀 4/2
        expect(packBatches([item, item], 2 * bytes + 3)).toHaveLength(1);
        expect(packBatches([item, item], 2 * bytes + 2)).toHaveLength(2);
    });

    test.each([
        // [operation size, operations per full batch, operation count]
        [100, 5, 23],
        [100, 5, 25],
        [250, 1, 7],
        [120, 17, 100],
        [1000, 3, 10],
    ])("uniform %i-byte operations, %i per batch: ceil(totalBytes / maxBatchBytes) batches", (size, perBatch, count) => {
        const max = perBatch * (size + 1) + 1; // exactly `perBatch` operations fill a batch
        const items = Array.from({ length: count }, (_, i) => addOfSize(i, size));
        const totalBytes = utf8(`[${items.map((item) => serializeOperation(item.operation)).join(",")}]`);
        const batches = packBatches(items, max);
        expect(batches).toHaveLength(Math.ceil(totalBytes / max));
        expect(batches).toHaveLength(Math.ceil(count / perBatch));
        expect(batches.slice(0, -1).every((batch) => batch.bytes === max)).toBe(true);
        expectWellFormedBatches(batches, items, max);
    });

    test("uniform operations that do not divide the limit: as few batches as whole operations allow", () => {
        for (const [size, max] of [
            [100, 350],
            [120, 1000],
            [110, 4096],
        ]) {
            const items = Array.from({ length: 50 }, (_, i) => addOfSize(i, size));
            const perBatch = Math.floor((max - 1) / (size + 1));
            const batches = packBatches(items, max);
            expect(batches).toHaveLength(Math.ceil(items.length / perBatch));
            expect(batches).toHaveLength(fewestBatches(items.map(operationBytes), max));
            expectWellFormedBatches(batches, items, max);
        }
    });

    test("random sizes: never over the limit, and never more batches than the optimum", () => {
        const next = random(20240501);
        for (let round = 0; round < 40; round++) {
            const max = 600 + Math.floor(next() * 2000);
            const items = Array.from({ length: 1 + Math.floor(next() * 40) }, (_, i) =>
                addOfSize(i, 100 + Math.floor(next() * (max - 102 - 100))),
            );
            const batches = packBatches(items, max);
            expect(batches).toHaveLength(fewestBatches(items.map(operationBytes), max));
            expectWellFormedBatches(batches, items, max);
        }
    });

    test("no operations, no batches", () => {
        expect(packBatches([], 100)).toEqual([]);
    });

    test("the handler sends each batch as packed, and a smaller maxBatchBytes splits the upload", async () => {
        const notes = Array.from({ length: 12 }, (_, i) => note(`s-${i}`));
        const records = notes.map(insert);
        const planned = toOperations(records, settings());
        const max = 3 * Math.max(...planned.map(operationBytes)) + 4;
        const response = await indexStreamRecords(streamEvent(...records), search, settings({ maxBatchBytes: max }));

        expect(response).toEqual({ batchItemFailures: [] });
        const expected = packBatches(planned, max).map((batch) => batch.documents);
        expect(expected).toHaveLength(4);
        expect(sentDocuments()).toEqual(expected);
        expect(sentOperations().flat()).toEqual(notes.map(addOf));
        for (const text of sentDocuments()) expect(utf8(text)).toBeLessThanOrEqual(max);
    });

    describe("at the real 5 MB default", () => {
        const count = 14; // notes near DynamoDB's 400 KB item limit
        const textBytes = 370_000;

        /** Notes whose batch, all together, takes exactly DEFAULT_MAX_BATCH_BYTES plus `extra` bytes. */
        function recordsTotalling(extra: number): { records: DynamoDBRecord[]; notes: NoteAttributes[] } {
            const draft = Array.from({ length: count }, (_, i) => note(`big-${i}`, { text: "a".repeat(textBytes) }));
            const planned = toOperations(draft.map(insert), settings());
            const total = 1 + planned.reduce((sum, p) => sum + operationBytes(p) + 1, 0);
            const missing = DEFAULT_MAX_BATCH_BYTES - total + extra;
            const notes = draft.map((n, i) => (i === count - 1 ? { ...n, text: "a".repeat(textBytes + missing) } : n));
            return { records: notes.map(insert), notes };
        }

        test("exactly 5 MB goes out in one upload", async () => {
            const { records, notes } = recordsTotalling(0);
            const response = await indexStreamRecords(streamEvent(...records), search, settings());
            expect(response).toEqual({ batchItemFailures: [] });
            const sent = sentDocuments();
            expect(sent).toHaveLength(1);
            expect(utf8(sent[0])).toBe(5 * 1024 * 1024);
            expect(sent[0]).toBe(batchJson(notes.map(addOf)));
            expect(logs).toEqual([]);
        });

        test("one byte more goes out in two uploads, neither over 5 MB", async () => {
            const { records, notes } = recordsTotalling(1);
            const response = await indexStreamRecords(streamEvent(...records), search, settings());
            expect(response).toEqual({ batchItemFailures: [] });
            const sent = sentDocuments();
            expect(sent).toHaveLength(2);
            for (const text of sent) expect(utf8(text)).toBeLessThanOrEqual(DEFAULT_MAX_BATCH_BYTES);
            expect(sent).toEqual([batchJson(notes.slice(0, -1).map(addOf)), batchJson([addOf(notes[count - 1])])]);
            expect(DEFAULT_MAX_DOCUMENT_BYTES).toBe(1024 * 1024);
        });
    });
});

// ---------------------------------------------------------------------------------------------
// Oversized documents
// ---------------------------------------------------------------------------------------------

/** Text mixing 1- to 4-byte characters, JSON escapes and surrogate pairs. */
const MIXED = 'ab"\\\n\té€中文😀👩‍👩‍👧🇯🇵 ';

function addFields(operation: DocumentOperation): SearchDocumentFields {
    if (operation.type !== "add") throw new Error("expected an add");
    return operation.fields;
}

describe("documents over the size limit", () => {
    test("emoji and CJK text is cut on a character boundary to fit, and the cut is logged", async () => {
        const text = "😀中文テキスト🎉".repeat(200);
        const big = note("big", { text });
        const limit = 2000;
        const record = insert(big);
        const response = await indexStreamRecords(streamEvent(record), search, settings({ maxDocumentBytes: limit }));

        expect(response).toEqual({ batchItemFailures: [] });
        const [[operation]] = sentOperations();
        const fields = addFields(operation);
        const sentBytes = utf8(serializeOperation(operation));
        expect(sentBytes).toBeLessThanOrEqual(limit);
        expect(text.startsWith(fields.note_text)).toBe(true);
        expect(fields.note_text.length).toBeGreaterThan(0);
        expect(fields.note_text).not.toMatch(LONE_SURROGATE);
        expect(Buffer.from(fields.note_text, "utf8").toString("utf8")).toBe(fields.note_text);
        // As long as it can be: the next character would not fit.
        const nextChar = String.fromCodePoint(text.codePointAt(fields.note_text.length)!);
        const longer = { ...operation, fields: { ...fields, note_text: fields.note_text + nextChar } };
        expect(utf8(serializeOperation(longer))).toBeGreaterThan(limit);
        // Everything else is untouched.
        expect({ ...fields, note_text: text }).toEqual(expectedFields(big));

        expect(logsNamed("truncated search document")).toEqual([
            {
                documentId: `${OWNER}/big`,
                originalBytes: utf8(serializeOperation(addOf(big))),
                finalBytes: sentBytes,
                limitBytes: limit,
                truncated: ["note_text"],
                sequenceNumbers: [sequenceNumberOf(record)],
            },
        ]);
        expect(JSON.stringify(logs)).not.toContain("テキスト");
    });

    test("at every limit, the cut is the longest whole-character prefix that fits", () => {
        const text = MIXED.repeat(8);
        const big = note("cut", { text });
        const fixed = utf8(serializeOperation(addOf({ ...big, text: "" })));
        for (let limit = fixed; limit <= fixed + utf8(JSON.stringify(text)) - 2; limit++) {
            logs = [];
            const [planned] = toOperations([insert(big)], settings({ maxDocumentBytes: limit }));
            const fields = addFields(planned.operation);
            const bytes = utf8(serializeOperation(planned.operation));
            expect(bytes).toBeLessThanOrEqual(limit);
            expect(text.startsWith(fields.note_text)).toBe(true);
            expect(fields.note_text).not.toMatch(LONE_SURROGATE);
            const rest = text.slice(fields.note_text.length);
            if (rest !== "") {
                const next = String.fromCodePoint(rest.codePointAt(0)!);
                const grown = { ...planned.operation, fields: { ...fields, note_text: fields.note_text + next } };
                expect(utf8(serializeOperation(grown))).toBeGreaterThan(limit);
            }
        }
    });

    test("a document that fits exactly is not touched", () => {
        const big = note("fits", { text: MIXED.repeat(3) });
        const exact = utf8(serializeOperation(addOf(big)));
        expect(toOperations([insert(big)], settings({ maxDocumentBytes: exact }))[0].operation).toEqual(addOf(big));
        expect(logs).toEqual([]);
        const [planned] = toOperations([insert(big)], settings({ maxDocumentBytes: exact - 1 }));
        expect(addFields(planned.operation).note_text).not.toBe(big.text);
    });

    test("the headline is cut when an empty text is not enough", () => {
        const headline = "見出し😀".repeat(100);
        const big = note("headline", { headline, text: "some text" });
        const limit = utf8(serializeOperation(addOf({ ...big, headline: "", text: "" }))) + 50;
        const [planned] = toOperations([insert(big)], settings({ maxDocumentBytes: limit }));
        const fields = addFields(planned.operation);
        expect(fields.note_text).toBe("");
        expect(headline.startsWith(fields.headline)).toBe(true);
        expect(fields.headline).not.toMatch(LONE_SURROGATE);
        expect(utf8(serializeOperation(planned.operation))).toBeLessThanOrEqual(limit);
        expect(utf8(serializeOperation(planned.operation))).toBeGreaterThan(limit - 4);
        expect(logsNamed("truncated search document")).toEqual([
            expect.objectContaining({ documentId: `${OWNER}/headline`, truncated: ["note_text", "headline"] }),
        ]);
    });

    test("a note without text whose headline is too long has only the headline cut", () => {
        const big = note("only-headline", { headline: "長".repeat(400), text: undefined });
        const limit = 600;
        const [planned] = toOperations([insert(big)], settings({ maxDocumentBytes: limit }));
        const fields = addFields(planned.operation);
        expect(fields.headline).toBe("長".repeat(fields.headline.length));
        expect(utf8(serializeOperation(planned.operation))).toBeGreaterThan(limit - 3);
        expect(logsNamed("truncated search document")).toEqual([
            expect.objectContaining({ documentId: `${OWNER}/only-headline`, truncated: ["headline"] }),
        ]);
    });

    test("a document that cannot fit even with empty texts is skipped and logged, not failed", async () => {
        const big = note("hopeless", { mediaKey: `uploads/${OWNER}/${"k".repeat(500)}.jpg` });
        const other = note("fine");
        const response = await indexStreamRecords(
            streamEvent(insert(big), insert(other)),
            search,
            settings({ maxDocumentBytes: 400 }),
        );
        expect(response).toEqual({ batchItemFailures: [] });
        expect(sentDocuments()).toEqual([batchJson([addOf(other)])]);
        expect(logsNamed("search document too large to index")).toEqual([
            expect.objectContaining({ documentId: `${OWNER}/hopeless`, limitBytes: 400 }),
        ]);
    });

    test("a small maxBatchBytes also caps each document", () => {
        const big = note("cap", { text: "x".repeat(5000) });
        const [planned] = toOperations([insert(big)], settings({ maxBatchBytes: 1000 }));
        expect(utf8(serializeOperation(planned.operation))).toBe(998);
        expect(packBatches([planned], 1000)[0].bytes).toBe(1000);
    });

    test("over 1 MB of emoji and CJK at the real default: at most 1 MB, valid UTF-8, logged", async () => {
        const text = "😀漢字👩‍💻かな".repeat(60_000); // ~1.6 MB in UTF-8
        expect(utf8(text)).toBeGreaterThan(DEFAULT_MAX_DOCUMENT_BYTES);
        const big = note("huge", { text });
        const response = await indexStreamRecords(streamEvent(insert(big)), search, settings());

        expect(response).toEqual({ batchItemFailures: [] });
        const [documents] = sentDocuments();
        expect(documents).not.toMatch(LONE_SURROGATE);
        const bytes = Buffer.from(documents, "utf8");
        expect(new TextDecoder("utf-8", { fatal: true }).decode(bytes)).toBe(documents);
        const [operation] = JSON.parse(documents) as DocumentOperation[];
        const operationSize = utf8(serializeOperation(operation));
        expect(operationSize).toBeLessThanOrEqual(DEFAULT_MAX_DOCUMENT_BYTES);
        expect(operationSize).toBeGreaterThan(DEFAULT_MAX_DOCUMENT_BYTES - 4);
        expect(text.startsWith(addFields(operation).note_text)).toBe(true);
        expect(logsNamed("truncated search document")).toEqual([
            expect.objectContaining({
                documentId: `${OWNER}/huge`,
                originalBytes: utf8(serializeOperation(addOf(big))),
                finalBytes: operationSize,
            }),
        ]);
    });
});

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

describe("failed uploads", () => {
    /** Twelve notes that pack four to a batch: three batches. */
    function threeBatches(): { records: DynamoDBRecord[]; max: number } {
        const records = Array.from({ length: 12 }, (_, i) => insert(note(`f-${String(i).padStart(2, "0")}`)));
        const sizes = toOperations(records, settings()).map(operationBytes);
        expect(new Set(sizes).size).toBe(1);
        return { records, max: 4 * (sizes[0] + 1) + 1 };
    }

    function documentsOf(index: number) {
        return (input: UploadDocumentsCommandInput) => {
            const text = input.documents as string;
            return JSON.parse(text)[0].id === `${OWNER}/f-${String(index).padStart(2, "0")}`;
        };
    }

    test("when the second of three batches throws, exactly its records are reported", async () => {
        const { records, max } = threeBatches();
        const failure = Object.assign(new Error("Rate exceeded"), {
            name: "DocumentServiceException",
            $metadata: { httpStatusCode: 429, requestId: "req-2" },
        });
        searchMock.on(UploadDocumentsCommand).callsFake((input: UploadDocumentsCommandInput) => {
            if (documentsOf(4)(input)) throw failure;
            return { status: "success", adds: 4, deletes: 0 };
        });
        const response = await indexStreamRecords(streamEvent(...records), search, settings({ maxBatchBytes: max }));

        expect(uploads()).toHaveLength(3);
        expect(response).toEqual({
            batchItemFailures: records.slice(4, 8).map((r) => ({ itemIdentifier: sequenceNumberOf(r) })),
        });
        expect(logsNamed("search upload failed")).toEqual([
            {
                batch: 2,
                batches: 3,
                operations: 4,
                bytes: max,
                records: 4,
                firstSequenceNumber: sequenceNumberOf(records[4]),
                error: {
                    name: "DocumentServiceException",
                    message: "Rate exceeded",
                    httpStatusCode: 429,
                    requestId: "req-2",
                },
            },
        ]);
        expect(JSON.stringify(logs)).not.toContain("Text of");
    });

    /** Whether an upload's documents include the document of note `f-<index>`. */
    function includes(index: number) {
        return (input: UploadDocumentsCommandInput) =>
            (JSON.parse(input.documents as string) as { id: string }[]).some(
                (op) => op.id === `${OWNER}/f-${String(index).padStart(2, "0")}`,
            );
    }

    test("a batch CloudSearch rejects (400) is split until only the poison document fails; the rest is indexed", async () => {
        const { records, max } = threeBatches();
        const rejection = Object.assign(new Error("Validation error for field 'headline'"), {
            name: "DocumentServiceException",
            $metadata: { httpStatusCode: 400 },
        });
        searchMock.on(UploadDocumentsCommand).callsFake((input: UploadDocumentsCommandInput) => {
            if (includes(5)(input)) throw rejection;
            return { status: "success", adds: 1, deletes: 0 };
        });
        const response = await indexStreamRecords(streamEvent(...records), search, settings({ maxBatchBytes: max }));

        expect(response.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumberOf(records[5]) }]);
        // Every other document reached the index, each exactly once in a successful upload.
        const indexed = searchMock
            .commandCalls(UploadDocumentsCommand)
            .filter((call) => !includes(5)(call.args[0].input))
            .flatMap((call) => (JSON.parse(call.args[0].input.documents as string) as { id: string }[]).map((op) => op.id));
        expect(indexed.sort()).toEqual(
            records.filter((_, i) => i !== 5).map((r) => `${OWNER}/${r.dynamodb?.Keys?.noteId?.S}`).sort(),
        );
        expect(logsNamed("search upload failed")).toEqual([
            expect.objectContaining({ operations: 1, records: 1, error: expect.objectContaining({ httpStatusCode: 400 }) }),
        ]);
    });

    test('an answer with status "error" is a rejection too: split until the bad document is alone', async () => {
        const { records, max } = threeBatches();
        searchMock.on(UploadDocumentsCommand).callsFake((input: UploadDocumentsCommandInput) =>
            includes(4)(input)
                ? { status: "error", adds: 0, deletes: 0, warnings: [{ message: "Validation error for field 'x'" }] }
                : { status: "success", adds: 1, deletes: 0 },
        );
        const response = await indexStreamRecords(streamEvent(...records), search, settings({ maxBatchBytes: max }));

        expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([sequenceNumberOf(records[4])]);
        expect(logsNamed("search upload failed")).toEqual([
            expect.objectContaining({ batch: 2, status: "error", operations: 1, warnings: ["Validation error for field 'x'"] }),
        ]);
    });

    test("a service failure (5xx) fails the whole batch without splitting it, to be retried by Lambda", async () => {
        const { records, max } = threeBatches();
        const outage = Object.assign(new Error("Service unavailable"), { name: "DocumentServiceException", $metadata: { httpStatusCode: 503 } });
        searchMock.on(UploadDocumentsCommand).callsFake((input: UploadDocumentsCommandInput) => {
            if (includes(4)(input)) throw outage;
            return { status: "success", adds: 4, deletes: 0 };
        });
        const response = await indexStreamRecords(streamEvent(...records), search, settings({ maxBatchBytes: max }));
        expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.slice(4, 8).map(sequenceNumberOf));
        expect(searchMock.commandCalls(UploadDocumentsCommand)).toHaveLength(3);
    });

    test("an answer without a status, or an unexpected one, is a failure too", async () => {
        const { records, max } = threeBatches();
        searchMock.on(UploadDocumentsCommand).resolves({ status: "SUCCESS" });
        const response = await indexStreamRecords(streamEvent(...records), search, settings({ maxBatchBytes: max }));
        expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.map(sequenceNumberOf));
        searchMock.reset();
        searchMock.on(UploadDocumentsCommand).resolves({});
        const again = await indexStreamRecords(streamEvent(...records), search, settings({ maxBatchBytes: max }));
        expect(again.batchItemFailures).toHaveLength(records.length);
    });

    test("every batch failing reports every indexable record once, in stream order; thrown non-errors too", async () => {
        const { records, max } = threeBatches();
        const malformed = streamRecord("INSERT", {});
        const all = [records[0], malformed, ...records.slice(1)];
        searchMock.on(UploadDocumentsCommand).callsFake(() => Promise.reject("socket hang up"));
        const response = await indexStreamRecords(streamEvent(...all), search, settings({ maxBatchBytes: max }));
        expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.map(sequenceNumberOf));
        expect(logsNamed("search upload failed")).toHaveLength(3);
        expect(logsNamed("search upload failed")[0].error).toEqual({ message: "socket hang up" });
    });

    test("records of one document are reported together, in stream order, when its batch fails", async () => {
        const a = note("f-a");
        const b = note("f-b");
        const records = [insert(a), insert(b), modify(a, { ...a, text: "a2" }), modify(b, { ...b, text: "b2" })];
        const planned = toOperations(records, settings());
        const max = Math.max(...planned.map(operationBytes)) + 2; // one operation per batch: [a], [b]
        searchMock
            .on(UploadDocumentsCommand)
            .rejectsOnce(new Error("first batch failed"))
            .resolves({ status: "success" });
        const response = await indexStreamRecords(streamEvent(...records), search, settings({ maxBatchBytes: max }));

        expect(sentOperations()).toEqual([[addOf({ ...a, text: "a2" })], [addOf({ ...b, text: "b2" })]]);
        expect(response).toEqual({
            batchItemFailures: [records[0], records[2]].map((r) => ({ itemIdentifier: sequenceNumberOf(r) })),
        });
    });

    test("a record delivered twice in one event is still reported once", async () => {
        searchMock.on(UploadDocumentsCommand).resolves({ status: "error" });
        const record = insert(note("twice"));
        const response = await indexStreamRecords(streamEvent(record, record), search, settings());
        expect(sentOperations()).toEqual([[addOf(note("twice"))]]);
        expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumberOf(record) }] });
    });

    test("warnings on a successful upload are logged but fail nothing", async () => {
        searchMock
            .on(UploadDocumentsCommand)
            .resolves({ status: "success", adds: 1, deletes: 0, warnings: [{ message: "Field truncated" }] });
        const response = await indexStreamRecords(streamEvent(insert(note("w"))), search, settings());
        expect(response).toEqual({ batchItemFailures: [] });
        expect(logsNamed("search upload warnings")).toEqual([
            expect.objectContaining({ batch: 1, adds: 1, deletes: 0, warnings: ["Field truncated"] }),
        ]);
    });
});

describe("characters an engine would refuse", () => {
    test("are replaced by U+FFFD in the headline and text, so that a stored item cannot poison a batch", () => {
        const bad = "a\u0000b\u0007c\u007fd\u0085e\ufdd0f\ufffeg\ud800h\udc00i\u{1fffe}j";
        const kept = "tab\tline\ncr\r 😀 é 中文 \u00a0";
        const [planned] = toOperations([insert(note("dirty", { headline: bad, text: kept + bad }))], settings());
        const fields = addFields(planned.operation);
        expect(fields.headline).toBe("a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg\ufffdh\ufffdi\ufffdj");
        expect(fields.note_text).toBe(kept + fields.headline);
    });
});
