/**
 * Tests of the notes function's request handling (`functions/notes.ts`), run in-process against a
 * real DynamoDB-compatible server (dynalite) on an ephemeral local port. Nothing here talks to AWS.
 */
import { DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import type { APIGatewayEventIdentity, APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { handleNotesRequest, type Note, type NotesSettings } from "../functions/notes";
import { NOTE_BODY_BYTES, NOTE_LIMITS } from "../functions/notes-schema";
import { LIMITS_TABLE_KEYS, NOTES_TABLE_KEYS } from "../infra/data";
import { freshTable, startDynamo, type LocalDynamo } from "./support/dynamodb";

// ---------------------------------------------------------------------------------------------
// Local DynamoDB
// ---------------------------------------------------------------------------------------------

let dynamo: LocalDynamo;
let db: DynamoDBDocumentClient;

beforeAll(async () => {
    dynamo = await startDynamo();
    db = DynamoDBDocumentClient.from(dynamo.client);
});

afterAll(async () => {
    await dynamo?.close();
});

/** A notes table, exactly as `infra/data.ts` declares it, for the enclosing `describe` block. */
const notesTable = () => freshTable(() => dynamo, NOTES_TABLE_KEYS);

// ---------------------------------------------------------------------------------------------
// Callers, clocks and settings
// ---------------------------------------------------------------------------------------------

const MEDIA_BASE_URL = "https://d111111abcdef8.cloudfront.net";
const T0 = Date.parse("2024-05-01T12:00:00.000Z");

let userCount = 0;

/** A new, unique Cognito identity id such as `us-east-1:0001aaaa-2222-4bbb-8ccc-0001dddddddd`. */
function newUser(): string {
    userCount += 1;
    const n = userCount.toString(16).padStart(4, "0");
    return `us-east-1:${n}aaaa-2222-4bbb-8ccc-${n}dddddddd`;
}

/** The ISO timestamp of the `i`th tick of a {@link clock}. */
function tick(i: number, stepMs = 60_000): string {
    return new Date(T0 + i * stepMs).toISOString();
}

/** A clock that advances by `stepMs` each time it is read, starting at {@link T0}. */
function clock(stepMs = 60_000): () => Date {
    let i = 0;
    return () => new Date(T0 + i++ * stepMs);
}

function settingsFor(tableName: string, overrides: Partial<NotesSettings> = {}): NotesSettings {
    return { tableName, mediaBaseUrl: MEDIA_BASE_URL, now: clock(), ...overrides };
}

// ---------------------------------------------------------------------------------------------
// API Gateway REST proxy events
// ---------------------------------------------------------------------------------------------

interface EventOptions {
    method: string;
    /** Sets resource `/notes/{noteId}` and the path parameter; omitted means `/notes`. */
    noteId?: string;
    /** Overrides the resource derived from `noteId`. */
    resource?: string;
    /** Overrides the path derived from `noteId`. */
    path?: string;
    /** The caller; `null` is an unauthenticated request. */
    identity: string | null;
    query?: Record<string, string>;
    /** Serialized with JSON.stringify. */
    json?: unknown;
    /** The raw body, used as is (wins over `json`). */
    body?: string | null;
    isBase64Encoded?: boolean;
}

/** A realistic REST API (v1) proxy event as API Gateway sends it with AWS_IAM authorization. */
function apiEvent(options: EventOptions): APIGatewayProxyEvent {
    const hasNoteId = options.noteId !== undefined;
    const resource = options.resource ?? (hasNoteId ? "/notes/{noteId}" : "/notes");
    const path = options.path ?? (hasNoteId ? `/notes/${encodeURIComponent(options.noteId ?? "")}` : "/notes");
    const body =
        options.body !== undefined ? options.body : options.json === undefined ? null : JSON.stringify(options.json);
    const identity: APIGatewayEventIdentity = {
        accessKey: "ASIAEXAMPLEACCESSKEY",
        accountId: "123456789012",
        apiKey: null,
        apiKeyId: null,
        caller: "AROAEXAMPLEROLEID:CognitoIdentityCredentials",
        clientCert: null,
        cognitoAuthenticationProvider: "cognito-identity.amazonaws.com",
        cognitoAuthenticationType: options.identity === null ? null : "authenticated",
        cognitoIdentityId: options.identity,
        cognitoIdentityPoolId: "us-east-1:00000000-1111-2222-3333-444444444444",
        principalOrgId: null,
        sourceIp: "203.0.113.10",
        user: "AROAEXAMPLEROLEID:CognitoIdentityCredentials",
        userAgent: "Notes/1.0 CFNetwork/1490.0.4 Darwin/23.2.0",
        userArn: "arn:aws:sts::123456789012:assumed-role/mobile-backend-authenticated/CognitoIdentityCredentials",
    };
    const headers: Record<string, string> = { Host: "api.example.com", "User-Agent": identity.userAgent ?? "" };
    if (body !== null) headers["Content-Type"] = "application/json";
    return {
        httpMethod: options.method,
        resource,
        path,
        pathParameters: hasNoteId ? { noteId: options.noteId ?? "" } : null,
        queryStringParameters: options.query ?? null,
        multiValueQueryStringParameters:
            options.query === undefined
                ? null
                : Object.fromEntries(Object.entries(options.query).map(([k, v]) => [k, [v]])),
        headers,
        multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
        stageVariables: null,
        body,
        isBase64Encoded: options.isBase64Encoded ?? false,
        requestContext: {
            accountId: "123456789012",
            apiId: "a1b2c3d4e5",
            authorizer: null,
            protocol: "HTTP/1.1",
            httpMethod: options.method,
            identity,
            path: `/dev${path}`,
            stage: "dev",
            requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            requestTimeEpoch: T0,
            resourceId: "abc123",
            resourcePath: resource,
        },
    };
}

/** Calls the handler as one user, with one settings object (and so one clock). */
class Caller {
    constructor(
        readonly identity: string,
        readonly settings: NotesSettings,
    ) {}

    send(options: Omit<EventOptions, "identity">): Promise<APIGatewayProxyResult> {
        return handleNotesRequest(apiEvent({ ...options, identity: this.identity }), db, this.settings);
    }

    create(json: unknown): Promise<APIGatewayProxyResult> {
        return this.send({ method: "POST", json });
    }

    list(query?: Record<string, string>): Promise<APIGatewayProxyResult> {
        return this.send({ method: "GET", query });
    }

    get(noteId: string): Promise<APIGatewayProxyResult> {
        return this.send({ method: "GET", noteId });
    }

    update(noteId: string, json: unknown): Promise<APIGatewayProxyResult> {
        return this.send({ method: "PUT", noteId, json });
    }

    remove(noteId: string): Promise<APIGatewayProxyResult> {
        return this.send({ method: "DELETE", noteId });
    }
}

/** A new user on `tableName`; pass `settings` to share a clock between users. */
function newCaller(tableName: string, settings?: NotesSettings): Caller {
    return new Caller(newUser(), settings ?? settingsFor(tableName));
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

interface ErrorBody {
    success: false;
    error: { code: string; message: string };
}
interface NoteBody {
    success: true;
    note: Note;
}
interface ListBody {
    success: true;
    notes: Note[];
    nextCursor: string | null;
}
interface DeleteBody {
    success: true;
    noteId: string;
}

/** Parses a response body after checking it is JSON; `T` is what the caller expects it to be. */
function parse<T>(res: APIGatewayProxyResult): T {
    expect(res.headers?.["content-type"]).toBe("application/json; charset=utf-8");
    return JSON.parse(res.body) as T;
}

function expectNote(res: APIGatewayProxyResult, statusCode: 200 | 201): Note {
    const body = parse<NoteBody>(res);
    expect({ statusCode: res.statusCode, success: body.success }).toEqual({ statusCode, success: true });
    expect(Object.keys(body).sort()).toEqual(["note", "success"]);
    return body.note;
}

function expectList(res: APIGatewayProxyResult): ListBody {
    const body = parse<ListBody>(res);
    expect({ statusCode: res.statusCode, success: body.success }).toEqual({ statusCode: 200, success: true });
    expect(Object.keys(body).sort()).toEqual(["nextCursor", "notes", "success"]);
    return body;
}

/** Checks an error response's status, code and shape; returns its message. */
function expectError(res: APIGatewayProxyResult, statusCode: number, code: string): string {
    const body = parse<ErrorBody>(res);
    expect({ statusCode: res.statusCode, success: body.success, code: body.error?.code }).toEqual({
        statusCode,
        success: false,
        code,
    });
    expect(Object.keys(body).sort()).toEqual(["error", "success"]);
    expect(Object.keys(body.error).sort()).toEqual(["code", "message"]);
    expect(typeof body.error.message).toBe("string");
    expect(body.error.message.length).toBeGreaterThan(0);
    // Never a stack trace or an internal error class.
    expect(res.body).not.toMatch(/\n\s*at |\bat .+\(.*:\d+:\d+\)|Exception|stack/);
    return body.error.message;
}

/** GETs every page of the caller's listing with `limit`; returns the pages. */
async function allPages(caller: Caller, limit: number): Promise<ListBody[]> {
    const pages: ListBody[] = [];
    let cursor: string | null = null;
    do {
        const query: Record<string, string> = { limit: String(limit) };
        if (cursor !== null) query.cursor = cursor;
        const page = expectList(await caller.list(query));
        pages.push(page);
        cursor = page.nextCursor;
        if (pages.length > 100) throw new Error("pagination does not end");
    } while (cursor !== null);
    return pages;
}

/** A cursor with arbitrary content, encoded the way the API encodes its cursors. */
function forgedCursor(value: unknown): string {
    return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

function uploads(identity: string, rest: string): string {
    return `uploads/${identity}/${rest}`;
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// =============================================================================================
// POST /notes
// =============================================================================================

describe("POST /notes", () => {
    const table = notesTable();

    it("creates a note and answers 201 with it", async () => {
        const alice = newCaller(table.name);
        const res = await alice.create({ noteId: "note-1", headline: "Groceries", text: "Milk, eggs" });
        expect(expectNote(res, 201)).toEqual({
            noteId: "note-1",
            headline: "Groceries",
            text: "Milk, eggs",
            createdAt: tick(0),
            updatedAt: tick(0),
        });
        expect(res.headers?.["cache-control"]).toBe("no-store");
        // It is really stored, under the caller's identity.
        expect(expectNote(await alice.get("note-1"), 200)).toEqual(expectNote(res, 201));
        const stored = await db.send(
            new GetCommand({ TableName: table.name, Key: { ownerId: alice.identity, noteId: "note-1" } }),
        );
        expect(stored.Item).toEqual({
            ownerId: alice.identity,
            noteId: "note-1",
            headline: "Groceries",
            text: "Milk, eggs",
            createdAt: tick(0),
            updatedAt: tick(0),
        });
    });

    it("generates a UUID noteId on the server when the body has none", async () => {
        const alice = newCaller(table.name);
        const first = expectNote(await alice.create({ headline: "First" }), 201);
        const second = expectNote(await alice.create({ headline: "Second" }), 201);
        expect(first.noteId).toMatch(UUID_V4);
        expect(second.noteId).toMatch(UUID_V4);
        expect(second.noteId).not.toBe(first.noteId);
        expect(expectNote(await alice.get(first.noteId), 200).headline).toBe("First");
    });

    it("uses settings.newId for server-generated ids", async () => {
        const ids = ["generated-a", "generated-b"];
        const alice = new Caller(newUser(), settingsFor(table.name, { newId: () => ids.shift() ?? "exhausted" }));
        expect(expectNote(await alice.create({ headline: "A" }), 201).noteId).toBe("generated-a");
        expect(expectNote(await alice.create({ headline: "B" }), 201).noteId).toBe("generated-b");
    });

    it("defaults text to an empty string", async () => {
        const alice = newCaller(table.name);
        expect(expectNote(await alice.create({ noteId: "no-text", headline: "Only a headline" }), 201)).toEqual({
            noteId: "no-text",
            headline: "Only a headline",
            text: "",
            createdAt: tick(0),
            updatedAt: tick(0),
        });
    });

    it("accepts the original iOS client's body", async () => {
        const alice = newCaller(table.name);
        // NSUUID().uuidString is upper case.
        const body = '{"noteId":"6F9619FF-8B86-D011-B42D-00C04FC964FF","headline":"Trip","text":"Pack the tent"}';
        const note = expectNote(await alice.send({ method: "POST", body }), 201);
        expect(note).toEqual({
            noteId: "6F9619FF-8B86-D011-B42D-00C04FC964FF",
            headline: "Trip",
            text: "Pack the tent",
            createdAt: tick(0),
            updatedAt: tick(0),
        });
    });

    it("attaches the caller's upload and answers with its percent-encoded CloudFront URL", async () => {
        const alice = newCaller(table.name);
        const mediaKey = uploads(alice.identity, "photos/beach day #1.jpg");
        const note = expectNote(await alice.create({ noteId: "with-photo", headline: "Beach", mediaKey }), 201);
        expect(note.mediaKey).toBe(mediaKey);
        expect(note.mediaUrl).toBe(
            `${MEDIA_BASE_URL}/uploads/${alice.identity.replace(":", "%3A")}/photos/beach%20day%20%231.jpg`,
        );
        expect(note.mediaUrl).toContain("us-east-1%3A");
        expect(expectNote(await alice.get("with-photo"), 200)).toEqual(note);
    });

    it("does not double the slash when mediaBaseUrl ends with one", async () => {
        const alice = new Caller(newUser(), settingsFor(table.name, { mediaBaseUrl: `${MEDIA_BASE_URL}/` }));
        const mediaKey = uploads(alice.identity, "a.png");
        const note = expectNote(await alice.create({ headline: "Slash", mediaKey }), 201);
        expect(note.mediaUrl).toBe(`${MEDIA_BASE_URL}/uploads/${encodeURIComponent(alice.identity)}/a.png`);
    });

    it("answers a retry of the same note with 201 and the note as first stored", async () => {
        const alice = newCaller(table.name); // its clock moves on between the calls
        const body = {
            noteId: "retried",
            headline: "Same",
            text: "Same text",
            mediaKey: uploads(alice.identity, "x.jpg"),
        };
        const first = expectNote(await alice.create(body), 201);
        const again = expectNote(await alice.create(body), 201);
        expect(again).toEqual(first);
        expect(again.createdAt).toBe(tick(0));
        expect(again.updatedAt).toBe(tick(0));
        expect(expectList(await alice.list()).notes).toEqual([first]);
    });

    it("treats an omitted text and an empty text as the same content on retry", async () => {
        const alice = newCaller(table.name);
        const first = expectNote(await alice.create({ noteId: "retry-text", headline: "H" }), 201);
        expect(expectNote(await alice.create({ noteId: "retry-text", headline: "H", text: "" }), 201)).toEqual(first);
    });

    it.each<[string, (me: string) => Record<string, unknown>]>([
        ["a different headline", () => ({ headline: "Other" })],
        ["a different text", () => ({ text: "Other text" })],
        ["no text", () => ({ text: undefined })],
        ["an added mediaKey", (me) => ({ mediaKey: uploads(me, "m.jpg") })],
    ])("answers 409 when the noteId is taken by a note with %s", async (_what, change) => {
        const alice = newCaller(table.name);
        const original = { noteId: "taken", headline: "Original", text: "Original text" };
        const stored = expectNote(await alice.create(original), 201);
        const changed = { ...original, ...change(alice.identity) };
        const message = expectError(await alice.create(changed), 409, "Conflict");
        expect(message).toContain("taken");
        expect(expectNote(await alice.get("taken"), 200)).toEqual(stored);
    });

    it("answers 409 when the retry drops the stored mediaKey", async () => {
        const alice = newCaller(table.name);
        const mediaKey = uploads(alice.identity, "m.jpg");
        const stored = expectNote(await alice.create({ noteId: "had-media", headline: "H", mediaKey }), 201);
        expectError(await alice.create({ noteId: "had-media", headline: "H" }), 409, "Conflict");
        expect(expectNote(await alice.get("had-media"), 200)).toEqual(stored);
    });

    it("lets another user use the same noteId independently", async () => {
        const settings = settingsFor(table.name);
        const alice = new Caller(newUser(), settings);
        const bob = new Caller(newUser(), settings);
        const alicesNote = expectNote(await alice.create({ noteId: "shared-id", headline: "Alice's" }), 201);
        const bobsNote = expectNote(await bob.create({ noteId: "shared-id", headline: "Bob's", text: "b" }), 201);
        expect(bobsNote).toEqual({
            noteId: "shared-id",
            headline: "Bob's",
            text: "b",
            createdAt: tick(1),
            updatedAt: tick(1),
        });
        expect(expectNote(await alice.get("shared-id"), 200)).toEqual(alicesNote);
        expect(expectNote(await bob.get("shared-id"), 200)).toEqual(bobsNote);
    });

    it("accepts a base64-encoded body", async () => {
        const alice = newCaller(table.name);
        const json = { noteId: "b64", headline: "Café ☕", text: "naïve 🚀" };
        const body = Buffer.from(JSON.stringify(json), "utf8").toString("base64");
        const note = expectNote(await alice.send({ method: "POST", body, isBase64Encoded: true }), 201);
        expect(note).toEqual({ ...json, createdAt: tick(0), updatedAt: tick(0) });
    });
});

// =============================================================================================
// GET /notes
// =============================================================================================

describe("GET /notes", () => {
    const table = notesTable();

    /** Creates `count` notes for `caller`, one clock tick apart; returns them newest first. */
    async function createNotes(caller: Caller, count: number, prefix = "n"): Promise<Note[]> {
        const created: Note[] = [];
        for (let i = 0; i < count; i++) {
            const noteId = `${prefix}-${String(i).padStart(2, "0")}`;
            created.push(expectNote(await caller.create({ noteId, headline: `${prefix} ${i}` }), 201));
        }
        return created.reverse();
    }

    it("answers an empty list and a null cursor for a user without notes", async () => {
        const alice = newCaller(table.name);
        expect(expectList(await alice.list())).toEqual({ success: true, notes: [], nextCursor: null });
    });

    it("lists only the caller's notes, newest first", async () => {
        const settings = settingsFor(table.name); // one clock: the users' notes interleave in time
        const alice = new Caller(newUser(), settings);
        const bob = new Caller(newUser(), settings);
        const alicesNotes: Note[] = [];
        const bobsNotes: Note[] = [];
        for (let i = 0; i < 4; i++) {
            // Bob's ids sort before Alice's, so ordering by noteId would put them first.
            alicesNotes.push(expectNote(await alice.create({ noteId: `z-alice-${i}`, headline: `A${i}` }), 201));
            bobsNotes.push(expectNote(await bob.create({ noteId: `a-bob-${9 - i}`, headline: `B${i}` }), 201));
        }
        const aliceList = expectList(await alice.list());
        expect(aliceList.notes).toEqual([...alicesNotes].reverse());
        expect(aliceList.nextCursor).toBeNull();
        expect(aliceList.notes.map((n) => n.createdAt)).toEqual([tick(6), tick(4), tick(2), tick(0)]);
        expect(expectList(await bob.list()).notes).toEqual([...bobsNotes].reverse());
    });

    it("orders by creation time, not by the last update", async () => {
        const alice = newCaller(table.name);
        const [newer, older] = await createNotes(alice, 2);
        const updated = expectNote(await alice.update(older.noteId, { text: "edited later" }), 200);
        expect(expectList(await alice.list()).notes).toEqual([newer, updated]);
    });

    it("includes mediaUrl for notes with media", async () => {
        const alice = newCaller(table.name);
        const mediaKey = uploads(alice.identity, "p.jpg");
        const note = expectNote(await alice.create({ headline: "Photo", mediaKey }), 201);
        expect(expectList(await alice.list()).notes).toEqual([note]);
        expect(note.mediaUrl).toBe(`${MEDIA_BASE_URL}/${mediaKey.replace(":", "%3A")}`);
    });

    it("returns 20 notes per page by default", async () => {
        const alice = newCaller(table.name);
        const notes = await createNotes(alice, 23);
        const first = expectList(await alice.list());
        expect(first.notes).toEqual(notes.slice(0, 20));
        expect(first.nextCursor).toEqual(expect.any(String));
        const second = expectList(await alice.list({ cursor: first.nextCursor ?? "" }));
        expect(second).toEqual({ success: true, notes: notes.slice(20), nextCursor: null });
    });

    it.each([1, 2, 3, 4, 6, 7, 100])("walks all pages with limit=%i without duplicates or gaps", async (limit) => {
        const alice = newCaller(table.name);
        const bob = newCaller(table.name);
        const notes = await createNotes(alice, 7);
        await createNotes(bob, 3);
        const pages = await allPages(alice, limit);
        for (const page of pages) expect(page.notes.length).toBeLessThanOrEqual(limit);
        // DynamoDB may end with one empty page when the last full page exactly used up the notes.
        expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(7 / limit));
        expect(pages.length).toBeLessThanOrEqual(Math.ceil(7 / limit) + 1);
        expect(pages.flatMap((p) => p.notes)).toEqual(notes);
        expect(pages[pages.length - 1].nextCursor).toBeNull();
        for (const page of pages.slice(0, -1)) expect(page.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    });

    it("pages through notes created at the same instant without duplicates or gaps", async () => {
        const alice = new Caller(newUser(), settingsFor(table.name, { now: () => new Date(T0) }));
        const notes = await createNotes(alice, 5);
        const pages = await allPages(alice, 2);
        const seen = pages.flatMap((p) => p.notes.map((n) => n.noteId));
        expect(new Set(seen).size).toBe(seen.length);
        expect([...seen].sort()).toEqual(notes.map((n) => n.noteId).sort());
    });

    it.each(["1", "100", "007"])("accepts limit=%s", async (limit) => {
        const alice = newCaller(table.name);
        await createNotes(alice, 2);
        const page = expectList(await alice.list({ limit }));
        expect(page.notes).toHaveLength(Math.min(2, Number(limit)));
    });

    it.each(["0", "101", "abc", "1.5", "-1", "1e2", " 5", "5 ", "0x10", "99999999999999999999"])(
        "answers 400 for limit=%j",
        async (limit) => {
            const alice = newCaller(table.name);
            const message = expectError(await alice.list({ limit }), 400, "BadRequest");
            expect(message).toBe("limit must be a whole number from 1 to 100.");
        },
    );

    it.each<[string, string]>([
        ["text with spaces", "not a cursor"],
        ["characters outside base64url", "abc+/="],
        ["base64url that is not JSON", "abc"],
        ["a JSON array", forgedCursor([1, 2])],
        ["a JSON string", forgedCursor("cursor")],
        ["JSON null", forgedCursor(null)],
        ["an object without keys", forgedCursor({})],
        ["numbers instead of strings", forgedCursor({ n: 1, c: 2 })],
        ["an empty noteId and createdAt", forgedCursor({ n: "", c: "" })],
        ["an empty createdAt", forgedCursor({ n: "n-01", c: "" })],
        ["a createdAt that is not a timestamp", forgedCursor({ n: "n-01", c: "yesterday" })],
        ["a noteId that is not a noteId", forgedCursor({ n: "../x", c: tick(0) })],
        ["an oversized noteId", forgedCursor({ n: "x".repeat(1100), c: tick(0) })],
        ["an over-long cursor", "A".repeat(3000)],
    ])("answers 400 for a cursor that is %s", async (_what, cursor) => {
        const alice = newCaller(table.name);
        await createNotes(alice, 3);
        const message = expectError(await alice.list({ cursor }), 400, "BadRequest");
        expect(message).toBe("cursor is not a cursor this API returned.");
    });

    it("does not reveal another user's notes through their cursor", async () => {
        const settings = settingsFor(table.name); // one clock: distinct times across both users
        const alice = new Caller(newUser(), settings);
        const bob = new Caller(newUser(), settings);
        const bobsOlder = await createNotes(bob, 2, "bob-old");
        const alicesNotes = await createNotes(alice, 4, "alice-secret");
        const bobsNewer = await createNotes(bob, 2, "bob-new");
        const alicesPage = expectList(await alice.list({ limit: "2" }));
        expect(alicesPage.notes).toEqual(alicesNotes.slice(0, 2));
        const cursor = alicesPage.nextCursor;
        expect(cursor).not.toBeNull();

        const res = await bob.list({ cursor: cursor ?? "" });
        const bobsPage = expectList(res);
        // Bob continues his own listing from that point in time: only his notes older than it.
        expect(bobsPage.notes).toEqual(bobsOlder);
        expect(bobsPage.nextCursor).toBeNull();
        expect(res.body).not.toContain("alice-secret");
        expect(bobsNewer).toHaveLength(2); // newer than the cursor, so rightly not on this page
    });
});

// =============================================================================================
// GET /notes/{noteId}
// =============================================================================================

describe("GET /notes/{noteId}", () => {
    const table = notesTable();

    it("answers 200 with the note", async () => {
        const alice = newCaller(table.name);
        const created = expectNote(await alice.create({ noteId: "read-me", headline: "Read", text: "me" }), 201);
        expect(expectNote(await alice.get("read-me"), 200)).toEqual({
            noteId: "read-me",
            headline: "Read",
            text: "me",
            createdAt: tick(0),
            updatedAt: tick(0),
        });
        expect(expectNote(await alice.get("read-me"), 200)).toEqual(created);
    });

    it("answers 404 for a note that does not exist", async () => {
        const alice = newCaller(table.name);
        expect(expectError(await alice.get("missing-note"), 404, "NotFound")).toBe(
            "No note with noteId missing-note.",
        );
    });

    it("answers 404 for another user's note, exactly as for a missing note", async () => {
        const alice = newCaller(table.name);
        const bob = newCaller(table.name);
        const carol = newCaller(table.name);
        expectNote(await alice.create({ noteId: "private-note", headline: "Diary", text: "secret" }), 201);
        const bobsAnswer = await bob.get("private-note");
        const carolsAnswer = await carol.get("private-note"); // Carol has never seen the id either
        expectError(bobsAnswer, 404, "NotFound");
        expect(bobsAnswer).toEqual(carolsAnswer);
        expect(bobsAnswer.body).not.toContain("Diary");
        expect(bobsAnswer.body).not.toContain("secret");
        // And the same answer as for an id nobody has.
        const neverAnswer = await bob.get("never-created");
        expect(bobsAnswer.body.replace("private-note", "ID")).toBe(neverAnswer.body.replace("never-created", "ID"));
    });

    it.each([
        ["a space", "has space"],
        ["a slash", "a/b"],
        ["a dot", "file.txt"],
        ["a non-ASCII letter", "ünïcode"],
        ["an emoji", "note😀"],
        ["65 characters", "x".repeat(65)],
        ["nothing", ""],
    ])("answers 400 for a path noteId with %s", async (_what, noteId) => {
        const alice = newCaller(table.name);
        const message = expectError(await alice.get(noteId), 400, "BadRequest");
        expect(message).toMatch(/^noteId /);
    });

    it("answers 400 when the path parameter is absent", async () => {
        const alice = newCaller(table.name);
        const res = await handleNotesRequest(
            { ...apiEvent({ method: "GET", noteId: "x", identity: alice.identity }), pathParameters: null },
            db,
            alice.settings,
        );
        expect(expectError(res, 400, "BadRequest")).toBe("noteId must not be empty.");
    });

    it("accepts a 64-character noteId", async () => {
        const alice = newCaller(table.name);
        const noteId = "A1_-".repeat(16);
        expectNote(await alice.create({ noteId, headline: "Long id" }), 201);
        expect(expectNote(await alice.get(noteId), 200).noteId).toBe(noteId);
    });
});

// =============================================================================================
// PUT /notes/{noteId}
// =============================================================================================

describe("PUT /notes/{noteId}", () => {
    const table = notesTable();

    it("updates all fields, sets a new updatedAt and keeps createdAt", async () => {
        const alice = newCaller(table.name);
        expectNote(await alice.create({ noteId: "edit", headline: "Old", text: "old text" }), 201);
        const mediaKey = uploads(alice.identity, "new.png");
        const res = await alice.update("edit", { headline: "New", text: "new text", mediaKey });
        const expected: Note = {
            noteId: "edit",
            headline: "New",
            text: "new text",
            mediaKey,
            mediaUrl: `${MEDIA_BASE_URL}/${mediaKey.replace(":", "%3A")}`,
            createdAt: tick(0),
            updatedAt: tick(1),
        };
        expect(expectNote(res, 200)).toEqual(expected);
        expect(expectNote(await alice.get("edit"), 200)).toEqual(expected);
    });

    it("changes only the fields in the body", async () => {
        const alice = newCaller(table.name);
        const mediaKey = uploads(alice.identity, "keep.jpg");
        const created = expectNote(
            await alice.create({ noteId: "partial", headline: "Keep me", text: "old", mediaKey }),
            201,
        );
        const updated = expectNote(await alice.update("partial", { text: "only the text" }), 200);
        expect(updated).toEqual({ ...created, text: "only the text", updatedAt: tick(1) });
        const again = expectNote(await alice.update("partial", { headline: "New headline" }), 200);
        expect(again).toEqual({ ...updated, headline: "New headline", updatedAt: tick(2) });
        expect(expectNote(await alice.get("partial"), 200)).toEqual(again);
    });

    it("accepts an empty text", async () => {
        const alice = newCaller(table.name);
        expectNote(await alice.create({ noteId: "clear", headline: "H", text: "something" }), 201);
        expect(expectNote(await alice.update("clear", { text: "" }), 200).text).toBe("");
    });

    it("removes the media with mediaKey: null", async () => {
        const alice = newCaller(table.name);
        const mediaKey = uploads(alice.identity, "gone.jpg");
        const created = expectNote(await alice.create({ noteId: "detach", headline: "H", mediaKey }), 201);
        expect(created.mediaUrl).toBeDefined();
        const updated = expectNote(await alice.update("detach", { mediaKey: null }), 200);
        expect(updated).toEqual({
            noteId: "detach",
            headline: "H",
            text: "",
            createdAt: tick(0),
            updatedAt: tick(1),
        });
        expect(Object.keys(updated)).not.toContain("mediaKey");
        expect(Object.keys(updated)).not.toContain("mediaUrl");
        expect(expectNote(await alice.get("detach"), 200)).toEqual(updated);
        const stored = await db.send(
            new GetCommand({ TableName: table.name, Key: { ownerId: alice.identity, noteId: "detach" } }),
        );
        expect(stored.Item).not.toHaveProperty("mediaKey");
    });

    it("accepts mediaKey: null on a note without media", async () => {
        const alice = newCaller(table.name);
        expectNote(await alice.create({ noteId: "plain", headline: "H" }), 201);
        const updated = expectNote(await alice.update("plain", { mediaKey: null, text: "t" }), 200);
        expect(updated).toEqual({ noteId: "plain", headline: "H", text: "t", createdAt: tick(0), updatedAt: tick(1) });
    });

    it("answers 404 for a missing note and does not create it", async () => {
        const alice = newCaller(table.name);
        expect(expectError(await alice.update("nope", { headline: "Ghost" }), 404, "NotFound")).toBe(
            "No note with noteId nope.",
        );
        expectError(await alice.get("nope"), 404, "NotFound");
        expect(expectList(await alice.list()).notes).toEqual([]);
    });

    it("answers 404 for another user's note and leaves it unchanged", async () => {
        const alice = newCaller(table.name);
        const mallory = newCaller(table.name);
        const mediaKey = uploads(alice.identity, "a.jpg");
        const original = expectNote(
            await alice.create({ noteId: "alices", headline: "Mine", text: "mine", mediaKey }),
            201,
        );
        const attempts: Record<string, unknown>[] = [
            { headline: "Hacked" },
            { text: "hacked" },
            { mediaKey: null },
            { mediaKey: uploads(mallory.identity, "evil.jpg") },
        ];
        for (const body of attempts) {
            const res = await mallory.update("alices", body);
            expect(expectError(res, 404, "NotFound")).toBe("No note with noteId alices.");
        }
        expect(expectNote(await alice.get("alices"), 200)).toEqual(original);
        // Nor did the attempts create a note in Mallory's own partition.
        expectError(await mallory.get("alices"), 404, "NotFound");
    });

    it("answers 400 for an empty body object", async () => {
        const alice = newCaller(table.name);
        const created = expectNote(await alice.create({ noteId: "empty-put", headline: "H" }), 201);
        expect(expectError(await alice.update("empty-put", {}), 400, "BadRequest")).toBe(
            "the request body must set at least one of headline, text, mediaKey.",
        );
        expect(expectNote(await alice.get("empty-put"), 200)).toEqual(created);
    });

    it.each<[string, Record<string, unknown>, RegExp]>([
        ["an unknown field", { headline: "H", colour: "red" }, /^colour is not a known field\.$/],
        ["a noteId (ids cannot change)", { noteId: "other" }, /^noteId is not a known field\.$/],
        ["createdAt", { createdAt: "2000-01-01T00:00:00.000Z" }, /^createdAt is not a known field\.$/],
        ["ownerId", { ownerId: "us-east-1:someone-else" }, /^ownerId is not a known field\.$/],
        ["constructor (an Object.prototype name)", { constructor: "x" }, /^constructor is not a known field\.$/],
        ["headline null", { headline: null }, /^headline must be a string, got a null\.$/],
        ["text null", { text: null }, /^text must be a string, got a null\.$/],
        ["a blank headline", { headline: "  " }, /^headline must not be blank\.$/],
        ["a number mediaKey", { mediaKey: 5 }, /^mediaKey must be a string or a null, got an integer\.$/],
        ["an empty mediaKey", { mediaKey: "" }, /^mediaKey must not be empty\.$/],
        ["a mediaKey outside the caller's uploads", { mediaKey: "uploads/elsewhere/x.jpg" }, /^mediaKey must name/],
    ])("answers 400 for %s and leaves the note unchanged", async (_what, body, message) => {
        const alice = newCaller(table.name);
        const created = expectNote(await alice.create({ noteId: "guarded", headline: "H", text: "t" }), 201);
        expect(expectError(await alice.update("guarded", body), 400, "BadRequest")).toMatch(message);
        expect(expectNote(await alice.get("guarded"), 200)).toEqual(created);
    });

    it("answers 400 for an invalid path noteId", async () => {
        const alice = newCaller(table.name);
        expectError(await alice.update("bad id!", { headline: "H" }), 400, "BadRequest");
    });
});

// =============================================================================================
// DELETE /notes/{noteId}
// =============================================================================================

describe("DELETE /notes/{noteId}", () => {
    const table = notesTable();

    it("deletes the note: 200, then GET answers 404 and the list no longer has it", async () => {
        const alice = newCaller(table.name);
        const keep = expectNote(await alice.create({ noteId: "keep", headline: "Keep" }), 201);
        expectNote(await alice.create({ noteId: "doomed", headline: "Bye" }), 201);
        const res = await alice.remove("doomed");
        expect(res.statusCode).toBe(200);
        expect(parse<DeleteBody>(res)).toEqual({ success: true, noteId: "doomed" });
        expectError(await alice.get("doomed"), 404, "NotFound");
        expect(expectList(await alice.list()).notes).toEqual([keep]);
    });

    it("is idempotent: deleting again (or a note that never existed) answers 200", async () => {
        const alice = newCaller(table.name);
        expectNote(await alice.create({ noteId: "twice", headline: "H" }), 201);
        for (const noteId of ["twice", "twice", "never-existed"]) {
            const res = await alice.remove(noteId);
            expect(res.statusCode).toBe(200);
            expect(parse<DeleteBody>(res)).toEqual({ success: true, noteId });
        }
    });

    it("lets the id be reused after a delete", async () => {
        const alice = newCaller(table.name);
        expectNote(await alice.create({ noteId: "reuse", headline: "First" }), 201);
        expect((await alice.remove("reuse")).statusCode).toBe(200);
        const again = expectNote(await alice.create({ noteId: "reuse", headline: "Second" }), 201);
        expect(again).toEqual({
            noteId: "reuse",
            headline: "Second",
            text: "",
            createdAt: tick(1),
            updatedAt: tick(1),
        });
    });

    it("answers 200 for another user's note but does not delete it", async () => {
        const alice = newCaller(table.name);
        const mallory = newCaller(table.name);
        const note = expectNote(await alice.create({ noteId: "survivor", headline: "Still here" }), 201);
        const res = await mallory.remove("survivor");
        expect(res.statusCode).toBe(200);
        expect(parse<DeleteBody>(res)).toEqual({ success: true, noteId: "survivor" });
        expect(expectNote(await alice.get("survivor"), 200)).toEqual(note);
        expect(expectList(await alice.list()).notes).toEqual([note]);
    });

    it("answers 400 for an invalid path noteId", async () => {
        const alice = newCaller(table.name);
        expectError(await alice.remove("a/b"), 400, "BadRequest");
    });
});

// =============================================================================================
// Request bodies
// =============================================================================================

describe("request body validation", () => {
    const table = notesTable();

    /** POSTs a raw body and expects a 400 without storing anything; returns the message. */
    async function rejectedCreate(caller: Caller, body: string | null): Promise<string> {
        const message = expectError(await caller.send({ method: "POST", body }), 400, "BadRequest");
        expect(expectList(await caller.list()).notes).toEqual([]);
        return message;
    }

    it.each(["{", '{"headline": "x",}', "{headline: 'x'}", "undefined", "{'headline':'x'}", '{"headline":"x"}}'])(
        "answers 400 for malformed JSON %j",
        async (body) => {
            const alice = newCaller(table.name);
            expect(await rejectedCreate(alice, body)).toBe("The request body is not valid JSON.");
        },
    );

    it.each([
        ["an array", "[]"],
        ["an array of a note", '[{"headline":"x"}]'],
        ["a string", '"headline"'],
        ["null", "null"],
        ["a number", "42"],
        ["a boolean", "true"],
    ])("answers 400 for a body that is %s", async (_what, body) => {
        const alice = newCaller(table.name);
        expect(await rejectedCreate(alice, body)).toBe("The request body must be a JSON object.");
    });

    it.each<[string, string | null]>([
        ["absent", null],
        ["empty", ""],
    ])("answers 400 when the body is %s", async (_what, body) => {
        const alice = newCaller(table.name);
        expect(await rejectedCreate(alice, body)).toBe("The request body must be a JSON object.");
        expectError(await alice.send({ method: "PUT", noteId: "x", body }), 400, "BadRequest");
    });

    it.each<[string, Record<string, unknown>, string]>([
        ["headline missing", { text: "t" }, "headline is required."],
        ["headline a number", { headline: 5 }, "headline must be a string, got an integer."],
        ["headline a decimal", { headline: 1.5 }, "headline must be a string, got a number."],
        ["headline null", { headline: null }, "headline must be a string, got a null."],
        ["headline an object", { headline: { en: "x" } }, "headline must be a string, got an object."],
        ["text an array", { headline: "h", text: ["a"] }, "text must be a string, got an array."],
        ["text a boolean", { headline: "h", text: true }, "text must be a string, got a boolean."],
        ["text null", { headline: "h", text: null }, "text must be a string, got a null."],
        ["noteId a number", { noteId: 7, headline: "h" }, "noteId must be a string, got an integer."],
        ["mediaKey a boolean", { headline: "h", mediaKey: true }, "mediaKey must be a string, got a boolean."],
        ["mediaKey null on create", { headline: "h", mediaKey: null }, "mediaKey must be a string, got a null."],
        ["headline empty", { headline: "" }, "headline must not be empty."],
        ["headline only whitespace", { headline: " \t\n " }, "headline must not be blank."],
        ["headline 201 characters", { headline: "h".repeat(201) }, "headline must be at most 200 characters, got 201."],
        [
            "headline 201 emoji",
            { headline: "😀".repeat(201) },
            "headline must be at most 200 characters, got 201.",
        ],
        [
            "text 10,001 characters",
            { headline: "h", text: "t".repeat(10_001) },
            "text must be at most 10000 characters, got 10001.",
        ],
    ])("answers 400 for %s", async (_what, json, message) => {
        const alice = newCaller(table.name);
        expect(await rejectedCreate(alice, JSON.stringify(json))).toBe(message);
    });

    it.each<[string, Record<string, unknown>]>([
        ["a 200-character headline", { headline: "h".repeat(200) }],
        ["a 200-emoji headline (counted in characters, not UTF-16 units)", { headline: "😀".repeat(200) }],
        ["200 CJK characters", { headline: "字".repeat(200) }],
        ["a 10,000-character text", { headline: "h", text: "t".repeat(10_000) }],
        ["a 10,000-emoji text", { headline: "h", text: "🚀".repeat(10_000) }],
        ["an empty text", { headline: "h", text: "" }],
        ["a headline with surrounding whitespace", { headline: "  padded  " }],
    ])("accepts %s, stored as sent", async (_what, json) => {
        const alice = newCaller(table.name);
        const note = expectNote(await alice.create(json), 201);
        expect(note.headline).toBe(json.headline);
        expect(note.text).toBe(json.text ?? "");
        expect(expectNote(await alice.get(note.noteId), 200)).toEqual(note);
    });

    const unknownFields = ["title", "ownerId", "createdAt", "updatedAt", "mediaUrl"];
    const prototypeNames = ["constructor", "__proto__", "toString", "hasOwnProperty"];
    it.each([...unknownFields, ...prototypeNames])(
        "answers 400 for the unknown field %s",
        async (field) => {
            const alice = newCaller(table.name);
            // Written by hand: JSON.stringify cannot produce an own "__proto__" key from an object literal.
            const body = `{"headline":"h",${JSON.stringify(field)}:"x"}`;
            expect(await rejectedCreate(alice, body)).toBe(`${field} is not a known field.`);
        },
    );

    it.each([
        ["a space", "has space"],
        ["a slash", "a/b"],
        ["a dot", "a.b"],
        ["a colon", "us-east-1:x"],
        ["a non-ASCII letter", "ünïcode"],
        ["an emoji", "note😀"],
        ["65 characters", "x".repeat(65)],
        ["nothing", ""],
    ])("answers 400 for a body noteId with %s", async (_what, noteId) => {
        const alice = newCaller(table.name);
        const message = await rejectedCreate(alice, JSON.stringify({ noteId, headline: "h" }));
        expect(message).toMatch(/^noteId /);
    });

    describe("mediaKey", () => {
        it.each<[string, (me: string, other: string) => string]>([
            ["another user's upload", (_me, other) => uploads(other, "photo.jpg")],
            ["outside uploads/", () => "public/photo.jpg"],
            ["a leading slash", (me) => `/${uploads(me, "photo.jpg")}`],
            ["only the prefix", (me) => `uploads/${me}/`],
            ["the prefix without its slash", (me) => `uploads/${me}`],
            ["a longer identity that starts with the caller's", (me) => `uploads/${me}0/photo.jpg`],
            ["a '..' escaping into another user's uploads", (me, other) => uploads(me, `../${other}/x.jpg`)],
            ["a '..' back to another user's prefix", (me, other) => uploads(me, `../../uploads/${other}/x.jpg`)],
            ["a trailing '..'", (me) => uploads(me, "photos/..")],
            ["a '.' segment", (me) => uploads(me, "./photo.jpg")],
            ["an empty segment", (me) => uploads(me, "photos//photo.jpg")],
            ["a trailing slash", (me) => uploads(me, "photos/")],
            ["the prefix in a different case", (me) => `Uploads/${me}/photo.jpg`],
        ])("answers 400 for a mediaKey with %s", async (_what, key) => {
            const alice = newCaller(table.name);
            const mediaKey = key(alice.identity, newUser());
            const message = await rejectedCreate(alice, JSON.stringify({ headline: "h", mediaKey }));
            expect(message).toBe(`mediaKey must name one of your uploads, under uploads/${alice.identity}/.`);
            // The same rule applies on update.
            expectNote(await alice.create({ noteId: "m", headline: "h" }), 201);
            expectError(await alice.update("m", { mediaKey }), 400, "BadRequest");
        });

        it("answers 400 for a mediaKey longer than 1024 characters", async () => {
            const alice = newCaller(table.name);
            const mediaKey = uploads(alice.identity, "x".repeat(1024));
            expect(await rejectedCreate(alice, JSON.stringify({ headline: "h", mediaKey }))).toBe(
                `mediaKey must be at most 1024 characters, got ${mediaKey.length}.`,
            );
        });

        it("accepts nested keys with dots inside names", async () => {
            const alice = newCaller(table.name);
            const mediaKey = uploads(alice.identity, "2024/05/..hidden/photo.v2.jpg");
            expect(expectNote(await alice.create({ headline: "h", mediaKey }), 201).mediaKey).toBe(mediaKey);
        });
    });

    describe("base64-encoded bodies", () => {
        it("decodes and accepts a base64 body on create and update", async () => {
            const alice = newCaller(table.name);
            const encode = (value: unknown): string => Buffer.from(JSON.stringify(value), "utf8").toString("base64");
            const created = expectNote(
                await alice.send({
                    method: "POST",
                    body: encode({ noteId: "enc", headline: "Ünïcödé 🎉", text: "line1\nline2" }),
                    isBase64Encoded: true,
                }),
                201,
            );
            expect(created).toEqual({
                noteId: "enc",
                headline: "Ünïcödé 🎉",
                text: "line1\nline2",
                createdAt: tick(0),
                updatedAt: tick(0),
            });
            const updated = expectNote(
                await alice.send({
                    method: "PUT",
                    noteId: "enc",
                    body: encode({ text: "b64" }),
                    isBase64Encoded: true,
                }),
                200,
            );
            expect(updated.text).toBe("b64");
        });

        it("answers 400 when the decoded body is not JSON", async () => {
            const alice = newCaller(table.name);
            const body = Buffer.from("headline=x", "utf8").toString("base64");
            const res = await alice.send({ method: "POST", body, isBase64Encoded: true });
            expect(expectError(res, 400, "BadRequest")).toBe("The request body is not valid JSON.");
        });

        it("does not decode a body that is not flagged as base64", async () => {
            const alice = newCaller(table.name);
            const body = Buffer.from('{"headline":"x"}', "utf8").toString("base64");
            expect(await rejectedCreate(alice, body)).toBe("The request body is not valid JSON.");
        });
    });
});

// =============================================================================================
// 413 Payload Too Large
// =============================================================================================

describe("text hygiene (issue 8, reproduction 1)", () => {
    const table = notesTable();

    it.each<[string, Record<string, unknown>, string]>([
        ["a vertical tab in the text", { text: "removed\u000bsee paper" }, "text must not contain the control character U+000B (at position 8)."],
        ["a lone surrogate in the text", { text: "x\ud83d" }, "text must not contain a lone surrogate (U+D83D at position 2)."],
        ["a C1 control in the headline", { headline: "H\u0085" }, "headline must not contain the control character U+0085 (at position 2)."],
        ["a noncharacter in the headline", { headline: "H\uFFFE" }, "headline must not contain the noncharacter U+FFFE (at position 2)."],
    ])("PUT with %s answers 400 naming the field, and the note keeps its text", async (_what, change, message) => {
        const alice = newCaller(table.name);
        const created = expectNote(await alice.create({ noteId: "paper", headline: "Paper", text: "see paper" }), 201);
        expect(expectError(await alice.send({ method: "PUT", noteId: "paper", body: JSON.stringify(change) }), 400, "BadRequest")).toBe(message);
        expect(expectNote(await alice.get("paper"), 200)).toEqual(created);
    });

    it("POST refuses the same characters; tab, newline and carriage return stay allowed", async () => {
        const alice = newCaller(table.name);
        expectError(await alice.send({ method: "POST", body: JSON.stringify({ headline: "H", text: "a\u0000b" }) }), 400, "BadRequest");
        const ok = expectNote(await alice.create({ noteId: "ws", headline: "Tabs\tand lines", text: "one\r\ntwo\tthree" }), 201);
        expect(ok.text).toBe("one\r\ntwo\tthree");
    });
});

describe("body size limit", () => {
    const table = notesTable();
    const limit = NOTE_BODY_BYTES;

    /** A valid note body padded with JSON whitespace to exactly `bytes` bytes. */
    function paddedBody(bytes: number, json: Record<string, unknown> = { headline: "padded" }): string {
        const compact = JSON.stringify(json);
        return compact.slice(0, -1) + " ".repeat(bytes - Buffer.byteLength(compact)) + "}";
    }

    it("answers 413 for a valid note padded beyond the limit, and stores nothing", async () => {
        const alice = newCaller(table.name);
        const body = paddedBody(limit + 1, { noteId: "too-big", headline: "padded" });
        expect(Buffer.byteLength(body)).toBe(limit + 1);
        const message = expectError(await alice.send({ method: "POST", body }), 413, "PayloadTooLarge");
        expect(message).toBe(`The request body is ${limit + 1} bytes; the limit is ${limit}.`);
        expectError(await alice.get("too-big"), 404, "NotFound");
    });

    it("accepts a body of exactly the limit", async () => {
        const alice = newCaller(table.name);
        const body = paddedBody(limit);
        expect(Buffer.byteLength(body)).toBe(limit);
        expect(expectNote(await alice.send({ method: "POST", body }), 201).headline).toBe("padded");
    });

    it("counts bytes, not characters, and checks the size before the content", async () => {
        const alice = newCaller(table.name);
        // Fewer characters than the limit has bytes (so also too long a text), but more bytes in UTF-8: the size wins.
        const body = JSON.stringify({ headline: "h", text: "é".repeat(Math.ceil(limit / 2) + 1) });
        expect(body.length).toBeLessThan(limit);
        expect(Buffer.byteLength(body)).toBeGreaterThan(limit);
        expectError(await alice.send({ method: "POST", body }), 413, "PayloadTooLarge");
    });

    it("answers 413 for an oversized PUT and leaves the note unchanged", async () => {
        const alice = newCaller(table.name);
        const created = expectNote(await alice.create({ noteId: "big-put", headline: "H" }), 201);
        const body = paddedBody(limit + 100, { text: "new" });
        expectError(await alice.send({ method: "PUT", noteId: "big-put", body }), 413, "PayloadTooLarge");
        expect(expectNote(await alice.get("big-put"), 200)).toEqual(created);
    });

    it("accepts the longest valid note however its encoder escapes it (10,000 emoji as \\uXXXX pairs)", async () => {
        const alice = newCaller(table.name);
        const text = "😀".repeat(NOTE_LIMITS.textLength);
        const headline = "😀".repeat(NOTE_LIMITS.headlineLength);
        // What Python's json.dumps sends by default: every non-ASCII character escaped, astral ones as pairs.
        const asciiOnly = (value: unknown) => JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
        const body = asciiOnly({ noteId: "emoji", headline, text });
        expect(Buffer.byteLength(body)).toBeGreaterThan(120_000);
        const note = expectNote(await alice.send({ method: "POST", body }), 201);
        expect([note.text, note.headline]).toEqual([text, headline]);
        // The same note pretty-printed with escapes still fits the cap; so does an update of it.
        const pretty = asciiOnly({ text }).replace("{", "{\n    ").replace(/}$/, "\n}");
        expect(expectNote(await alice.send({ method: "PUT", noteId: "emoji", body: pretty }), 200).text).toBe(text);
    });

    it("the cap is the largest valid body: every field at its limit, every character escaped as a pair", () => {
        const longest = {
            noteId: NOTE_LIMITS.noteIdLength,
            headline: NOTE_LIMITS.headlineLength,
            text: NOTE_LIMITS.textLength,
            mediaKey: NOTE_LIMITS.mediaKeyLength,
        };
        const fields = Object.entries(longest).reduce((sum, [key, chars]) => sum + 12 * key.length + 2 + 1 + 12 * chars + 2 + 1, 2);
        expect(NOTE_BODY_BYTES).toBe(fields + 4096);
    });

    it("measures a base64 body after decoding it", async () => {
        const alice = newCaller(table.name);
        const small = Buffer.from(paddedBody(limit - 10), "utf8").toString("base64"); // longer than limit encoded
        expect(small.length).toBeGreaterThan(limit);
        expectNote(await alice.send({ method: "POST", body: small, isBase64Encoded: true }), 201);
        const big = Buffer.from(paddedBody(limit + 1), "utf8").toString("base64");
        expectError(await alice.send({ method: "POST", body: big, isBase64Encoded: true }), 413, "PayloadTooLarge");
    });
});

// =============================================================================================
// Caller identity and routing
// =============================================================================================

describe("caller identity", () => {
    const table = notesTable();

    const routes: [string, Omit<EventOptions, "identity">][] = [
        ["POST /notes", { method: "POST", json: { noteId: "anon", headline: "h" } }],
        ["GET /notes", { method: "GET" }],
        ["GET /notes/{noteId}", { method: "GET", noteId: "anon" }],
        ["PUT /notes/{noteId}", { method: "PUT", noteId: "anon", json: { headline: "h" } }],
        ["DELETE /notes/{noteId}", { method: "DELETE", noteId: "anon" }],
        ["PATCH /notes", { method: "PATCH" }],
    ];

    it.each(routes)("answers 403 to %s without a Cognito identity (null)", async (_route, options) => {
        const res = await handleNotesRequest(apiEvent({ ...options, identity: null }), db, settingsFor(table.name));
        expect(expectError(res, 403, "Forbidden")).toBe(
            "This API must be called with Amazon Cognito identity credentials.",
        );
    });

    it.each(routes)("answers 403 to %s with an empty Cognito identity", async (_route, options) => {
        const res = await handleNotesRequest(apiEvent({ ...options, identity: "" }), db, settingsFor(table.name));
        expectError(res, 403, "Forbidden");
    });

    it("answers 403 when cognitoIdentityId is missing from the identity", async () => {
        const event = apiEvent({ method: "GET", identity: "us-east-1:ignored" });
        const { cognitoIdentityId: _dropped, ...identity } = event.requestContext.identity;
        const withoutId = {
            ...event,
            requestContext: { ...event.requestContext, identity: identity as APIGatewayEventIdentity },
        };
        expectError(await handleNotesRequest(withoutId, db, settingsFor(table.name)), 403, "Forbidden");
    });

    it("answers 403 when the request context has no identity at all", async () => {
        const event = apiEvent({ method: "GET", identity: "us-east-1:ignored" });
        const { identity: _dropped, ...requestContext } = event.requestContext;
        const withoutIdentity = { ...event, requestContext } as unknown as APIGatewayProxyEvent;
        expectError(await handleNotesRequest(withoutIdentity, db, settingsFor(table.name)), 403, "Forbidden");
    });

    it("stores nothing for an anonymous POST", async () => {
        const event = apiEvent({ method: "POST", identity: null, json: { noteId: "anon", headline: "h" } });
        expectError(await handleNotesRequest(event, db, settingsFor(table.name)), 403, "Forbidden");
        const scan = await db.send(new ScanCommand({ TableName: table.name }));
        expect(scan.Items).toEqual([]);
    });

    it("takes the owner from the identity, never from the body", async () => {
        const alice = newCaller(table.name);
        const bob = newCaller(table.name);
        expectError(await alice.create({ headline: "h", ownerId: bob.identity }), 400, "BadRequest");
        expect(expectList(await bob.list()).notes).toEqual([]);
    });
});

describe("routing", () => {
    const table = notesTable();

    it.each<[string, string, string | undefined]>([
        ["PATCH", "/notes", undefined],
        ["PUT", "/notes", undefined],
        ["DELETE", "/notes", undefined],
        ["HEAD", "/notes", undefined],
        ["POST", "/notes/{noteId}", "n1"],
        ["PATCH", "/notes/{noteId}", "n1"],
        ["OPTIONS", "/notes/{noteId}", "n1"],
        ["GET", "/users", undefined],
        ["get", "/notes", undefined],
    ])("answers 405 to %s %s", async (method, resource, noteId) => {
        const alice = newCaller(table.name);
        const path = noteId === undefined ? resource : `/notes/${noteId}`;
        const res = await alice.send({ method, resource, path, noteId, json: { headline: "h" } });
        expect(expectError(res, 405, "MethodNotAllowed")).toBe(`${method} ${path} is not a notes operation.`);
    });

    it("does not create a note through an unsupported method", async () => {
        const alice = newCaller(table.name);
        await alice.send({ method: "POST", noteId: "via-post", json: { headline: "h" } });
        expectError(await alice.get("via-post"), 404, "NotFound");
    });
});

// =============================================================================================
// DynamoDB failures
// =============================================================================================

describe("DynamoDB failures", () => {
    const SECRET =
        "Throughput exceeds the current capacity of table arn:aws:dynamodb:us-east-1:123456789012:table/notes-prod";
    let ddbMock: AwsClientStub<DynamoDBDocumentClient>;
    let consoleError: jest.SpyInstance;

    function throttled(): Error {
        const err = new Error(SECRET);
        err.name = "ProvisionedThroughputExceededException";
        return err;
    }

    function conditionFailed(): Error {
        const err = new Error("The conditional request failed");
        err.name = "ConditionalCheckFailedException";
        return err;
    }

    beforeEach(() => {
        ddbMock = mockClient(DynamoDBDocumentClient);
        consoleError = jest.spyOn(console, "error").mockImplementation(() => undefined);
    });

    afterEach(() => {
        ddbMock.restore();
        consoleError.mockRestore();
    });

    function expectInternalError(res: APIGatewayProxyResult, cause: Error): void {
        expect(expectError(res, 500, "InternalError")).toBe("The request could not be completed. Try again later.");
        expect(res.body).not.toContain("Throughput");
        expect(res.body).not.toContain("notes-prod");
        expect(res.body).not.toContain("ProvisionedThroughputExceededException");
        expect(res.body).not.toContain(".ts:");
        // The operator still gets the real error in the logs.
        expect(consoleError).toHaveBeenCalledTimes(1);
        expect(consoleError).toHaveBeenCalledWith("unhandled error", cause);
    }

    const routes: [string, Omit<EventOptions, "identity">][] = [
        ["POST /notes", { method: "POST", json: { noteId: "n1", headline: "h" } }],
        ["GET /notes", { method: "GET" }],
        [
            "GET /notes with a cursor",
            { method: "GET", query: { limit: "5", cursor: forgedCursor({ n: "n1", c: tick(0) }) } },
        ],
        ["GET /notes/{noteId}", { method: "GET", noteId: "n1" }],
        ["PUT /notes/{noteId}", { method: "PUT", noteId: "n1", json: { headline: "h" } }],
        ["DELETE /notes/{noteId}", { method: "DELETE", noteId: "n1" }],
    ];

    it.each(routes)("answers %s with a generic 500 when DynamoDB throttles", async (_route, options) => {
        const cause = throttled();
        ddbMock.onAnyCommand().rejects(cause);
        const alice = newCaller("unused-table");
        expectInternalError(await alice.send(options), cause);
        expect(ddbMock.calls()).toHaveLength(1);
    });

    it("answers 500 when re-reading a taken noteId fails", async () => {
        const cause = throttled();
        ddbMock.on(PutCommand).rejects(conditionFailed()).on(GetCommand).rejects(cause);
        const alice = newCaller("unused-table");
        expectInternalError(await alice.create({ noteId: "n1", headline: "h" }), cause);
        expect(ddbMock.commandCalls(PutCommand)).toHaveLength(1);
        expect(ddbMock.commandCalls(GetCommand)).toHaveLength(1);
    });

    it("answers a generic 500 for any other failure, such as a dropped connection", async () => {
        ddbMock.onAnyCommand().rejects("socket hang up");
        const alice = newCaller("unused-table");
        const res = await alice.get("n1");
        expect(expectError(res, 500, "InternalError")).toBe("The request could not be completed. Try again later.");
        expect(res.body).not.toContain("socket hang up");
        expect(consoleError).toHaveBeenCalledTimes(1);
    });
});

// =============================================================================================
// Fair use (issue 8, reproduction 6): one identity cannot use up everyone's writes
// =============================================================================================

describe("writes per identity", () => {
    const table = notesTable();
    const limits = freshTable(() => dynamo, LIMITS_TABLE_KEYS);
    const limited = (tableName: string): NotesSettings =>
        settingsFor(tableName, {
            limits: { tableName: limits.name, writesPerMinute: 5, notificationsSentPerHour: 1, notificationsReceivedPerHour: 1 },
            // Every request within the same minute, 20 s into it.
            now: () => new Date(T0 + 20_000),
        });

    it("answers 429 with Retry-After to the identity at full speed, while another identity still writes", async () => {
        const flooder = newCaller(table.name, limited(table.name));
        const statuses: number[] = [];
        const created = await flooder.create({ headline: "first" });
        statuses.push(created.statusCode);
        const noteId = (JSON.parse(created.body) as NoteBody).note.noteId;
        statuses.push((await flooder.update(noteId, { text: "more" })).statusCode);
        statuses.push((await flooder.remove(noteId)).statusCode);
        for (let i = 0; i < 4; i++) statuses.push((await flooder.create({ headline: `n${i}` })).statusCode);
        expect(statuses).toEqual([201, 200, 200, 201, 201, 429, 429]);

        const refused = await flooder.update(noteId, { text: "again" });
        expect(refused.statusCode).toBe(429);
        expect(refused.headers?.["retry-after"]).toBe("40");
        expect(JSON.parse(refused.body)).toEqual({
            success: false,
            error: {
                code: "TooManyRequests",
                message: "You have made 5 changes in the last minute, the most allowed; try again in 40 s.",
                retryAfterSeconds: 40,
            },
        });
        // Reads are not writes: the flooder can still read, and a refused write stored nothing.
        const listed = JSON.parse((await flooder.list()).body) as ListBody;
        expect(listed.notes.map((n) => n.headline).sort()).toEqual(["n0", "n1"]);

        const bystander = newCaller(table.name, limited(table.name));
        expect((await bystander.create({ headline: "mine" })).statusCode).toBe(201);
    });

    it("lets the identity write again in the next minute", async () => {
        const settings = limited(table.name);
        const writer = newCaller(table.name, settings);
        for (let i = 0; i < 5; i++) expect((await writer.create({ headline: `n${i}` })).statusCode).toBe(201);
        expect((await writer.create({ headline: "over" })).statusCode).toBe(429);
        const later = new Caller(writer.identity, { ...settings, now: () => new Date(T0 + 60_000) });
        expect((await later.create({ headline: "next minute" })).statusCode).toBe(201);
    });
});
