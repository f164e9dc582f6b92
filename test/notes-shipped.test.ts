/**
 * The notes function's code exactly as `pulumi up` would ship it: its serialized archive, taken from
 * the program under mocks, runs in a fresh Node process against a local DynamoDB (dynalite), driven
 * with API Gateway proxy events through the whole life of a note.
 */
import type { APIGatewayProxyResult } from "aws-lambda";
import { startS3, type LocalS3 } from "../local/s3";
import { createDeclaredTable, startDynamo, type LocalDynamo } from "./support/dynamodb";
import { apiEvent, reply, type ApiCall } from "./support/events";
import { startFunction, type LocalFunction } from "./support/lambda";
import { loadProgram } from "./support/program";

const alice = "us-east-1:11111111-1111-4111-8111-111111111111";
const bob = "us-east-1:22222222-2222-4222-8222-222222222222";

let dynamo: LocalDynamo;
let s3: LocalS3;
let notes: LocalFunction;
let mediaBaseUrl: string;

beforeAll(async () => {
    const program = await loadProgram("dev");
    const archive = program.archives["notes-function"];
    expect(Object.keys(archive.files)).toEqual(["__index.js"]);
    mediaBaseUrl = archive.environment.MEDIA_BASE_URL;
    expect(mediaBaseUrl).toBe(program.outputs.mediaBaseUrl);

    dynamo = await startDynamo();
    await createDeclaredTable(dynamo, program.recorder.one("aws:dynamodb/table:Table", "data-notes"), archive.environment.NOTES_TABLE);
    // The fair-use write counter.
    await createDeclaredTable(dynamo, program.recorder.one("aws:dynamodb/table:Table", "data-limits"), archive.environment.LIMITS_TABLE);
    // A note's mediaKey must be an existing upload: the photo below is in the (local) uploads bucket.
    const bucket = archive.environment.UPLOADS_BUCKET;
    s3 = await startS3({ buckets: [{ name: bucket }] });
    s3.put(bucket, `uploads/${alice}/photos/beach.jpg`, "jpeg", "image/jpeg");
    notes = await startFunction(archive, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: s3.endpoint });
});

afterAll(async () => {
    await notes?.stop();
    await dynamo?.close();
    await s3?.stop();
});

async function call(request: ApiCall) {
    return reply(await notes.invoke<APIGatewayProxyResult>(apiEvent(request)));
}

test("a note goes through create, get, list, update and delete", async () => {
    const photo = `uploads/${alice}/photos/beach.jpg`;
    const created = await call({
        method: "POST",
        resource: "/notes",
        identityId: alice,
        body: { noteId: "note-1", headline: "Beach day", text: "Sand everywhere", mediaKey: photo },
    });
    expect(created.statusCode).toBe(201);
    expect(created.body).toMatchObject({
        success: true,
        note: {
            noteId: "note-1",
            headline: "Beach day",
            text: "Sand everywhere",
            mediaKey: photo,
            mediaUrl: `${mediaBaseUrl}/uploads/${encodeURIComponent(alice)}/photos/beach.jpg`,
        },
    });

    const second = await call({ method: "POST", resource: "/notes", identityId: alice, body: { headline: "Later", text: "" } });
    expect(second.statusCode).toBe(201);
    expect(second.body.note.noteId).toMatch(/^[0-9a-f-]{36}$/);

    const fetched = await call({ method: "GET", resource: "/notes/{noteId}", pathParameters: { noteId: "note-1" }, identityId: alice });
    expect(fetched.statusCode).toBe(200);
    expect(fetched.body.note).toEqual(created.body.note);

    const listed = await call({ method: "GET", resource: "/notes", identityId: alice });
    expect(listed.statusCode).toBe(200);
    expect(listed.body.notes.map((n: { noteId: string }) => n.noteId)).toEqual([second.body.note.noteId, "note-1"]);
    expect(listed.body.nextCursor).toBeNull();

    const othersView = await call({ method: "GET", resource: "/notes", identityId: bob });
    expect(othersView.body).toEqual({ success: true, notes: [], nextCursor: null });

    const updated = await call({
        method: "PUT",
        resource: "/notes/{noteId}",
        pathParameters: { noteId: "note-1" },
        identityId: alice,
        body: { text: "Sand everywhere, still", mediaKey: null },
    });
    expect(updated.statusCode).toBe(200);
    expect(updated.body.note).toMatchObject({ noteId: "note-1", headline: "Beach day", text: "Sand everywhere, still" });
    expect(updated.body.note.mediaUrl).toBeUndefined();
    expect(updated.body.note.createdAt).toBe(created.body.note.createdAt);

    const removed = await call({ method: "DELETE", resource: "/notes/{noteId}", pathParameters: { noteId: "note-1" }, identityId: alice });
    expect(removed).toMatchObject({ statusCode: 200, body: { success: true, noteId: "note-1" } });
    const gone = await call({ method: "GET", resource: "/notes/{noteId}", pathParameters: { noteId: "note-1" }, identityId: alice });
    expect(gone).toMatchObject({ statusCode: 404, body: { success: false, error: { code: "NotFound" } } });
});

test("the shipped code answers bad input with a JSON 4xx, not a crash", async () => {
    const malformed = await call({ method: "POST", resource: "/notes", identityId: alice, body: "{not json" });
    expect(malformed).toMatchObject({
        statusCode: 400,
        body: { success: false, error: { code: "BadRequest", message: "The request body is not valid JSON." } },
    });

    const conflict = { method: "POST", resource: "/notes", identityId: alice } as const;
    expect((await call({ ...conflict, body: { noteId: "same", headline: "one" } })).statusCode).toBe(201);
    expect((await call({ ...conflict, body: { noteId: "same", headline: "one" } })).statusCode).toBe(201);
    const clash = await call({ ...conflict, body: { noteId: "same", headline: "two" } });
    expect(clash).toMatchObject({ statusCode: 409, body: { error: { code: "Conflict" } } });

    const anonymous = await call({ method: "GET", resource: "/notes", identityId: null });
    expect(anonymous).toMatchObject({ statusCode: 403, body: { error: { code: "Forbidden" } } });
    expect(notes.logs()).not.toMatch(/unhandled error/);
});

test("one identity writing at full speed gets 429 with Retry-After; another identity still writes", async () => {
    const flooder = "us-east-1:33333333-3333-4333-8333-333333333333";
    const bystander = "us-east-1:44444444-4444-4444-8444-444444444444";
    // Pulumi.dev.yaml: limits.writesPerMinute 60. Up to 121 writes: even if a minute boundary falls between
    // them, one of the two windows gets its 61st write.
    let refused: Awaited<ReturnType<typeof call>> | undefined;
    let accepted = 0;
    for (let i = 0; i < 121 && refused === undefined; i++) {
        const res = await call({ method: "POST", resource: "/notes", identityId: flooder, body: { headline: `n${i}` } });
        if (res.statusCode === 429) refused = res;
        else accepted += 1;
    }
    expect(accepted).toBeGreaterThanOrEqual(60);
    expect(refused).toMatchObject({ statusCode: 429, body: { success: false, error: { code: "TooManyRequests" } } });
    expect(Number(refused?.headers?.["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(refused?.body.error.retryAfterSeconds).toBe(Number(refused?.headers?.["retry-after"]));
    expect((await call({ method: "POST", resource: "/notes", identityId: bystander, body: { headline: "mine" } })).statusCode).toBe(201);
});
