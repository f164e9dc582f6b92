/**
 * The uploads handler (functions/uploads.ts) and the notes handler's mediaKey check, with the real S3
 * client and the real presigned-POST library against the local S3 endpoint (local/s3.ts), and the notes
 * table in dynalite. The presigned POSTs are used the way an app uses them: fetch + FormData.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import type { APIGatewayProxyResult } from "aws-lambda";
import { handleNotesRequest } from "../functions/notes";
import { ALL_UPLOAD_CONTENT_TYPES, handleUploadsRequest, ownKey, type UploadsSettings } from "../functions/uploads";
import { NOTES_TABLE_KEYS } from "../infra/data";
import { startS3, type LocalS3 } from "../local/s3";
import { freshTable, startDynamo, type LocalDynamo } from "./support/dynamodb";
import { apiEvent, reply, type ApiCall } from "./support/events";

const BUCKET = "uploads-bucket";
const MEDIA = "https://d1234abcd.cloudfront.net";
const alice = "us-east-1:11111111-1111-4111-8111-111111111111";
const bob = "us-east-1:22222222-2222-4222-8222-222222222222";

let s3: LocalS3;
let client: S3Client;
let dynamo: LocalDynamo;
let ids = 0;
const settings: UploadsSettings = {
    bucketName: BUCKET,
    mediaBaseUrl: MEDIA,
    contentTypes: ["image/jpeg", "image/png", "video/mp4"],
    maxImageBytes: 100,
    maxVideoBytes: 1000,
    expirySeconds: 600,
    newId: () => `id-${++ids}`,
    now: () => new Date("2026-12-01T00:00:00.000Z"),
};

beforeAll(async () => {
    s3 = await startS3({ buckets: [{ name: BUCKET }], credentials: { function: "function-secret" } });
    client = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", credentials: { accessKeyId: "function", secretAccessKey: "function-secret" } });
    dynamo = await startDynamo();
});

afterAll(async () => {
    client?.destroy();
    await s3?.stop();
    await dynamo?.close();
});

async function call(request: ApiCall) {
    const result: APIGatewayProxyResult = await handleUploadsRequest(apiEvent(request), { s3: client, presignPost: createPresignedPost }, settings);
    return reply(result);
}

async function post(identityId: string, body: unknown) {
    return call({ method: "POST", resource: "/uploads", identityId, body });
}

async function send(upload: { url: string; fields: Record<string, string> }, bytes: Buffer, contentType?: string): Promise<Response> {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, contentType && name === "Content-Type" ? contentType : value);
    form.append("file", new Blob([bytes]), "IMG_0001.JPG");
    return fetch(upload.url, { method: "POST", body: form });
}

describe("POST /uploads", () => {
    test("answers a presigned POST for a server-chosen key under the caller's prefix, which uploads the declared file", async () => {
        const res = await post(alice, { contentType: "image/jpeg", contentLength: 5 });
        expect(res.statusCode).toBe(201);
        const upload = res.body.upload;
        const key = `uploads/${alice}/id-${ids}.jpg`;
        expect(upload).toMatchObject({
            key,
            url: `${s3.endpoint}/${BUCKET}`,
            contentType: "image/jpeg",
            contentLength: 5,
            expiresAt: "2026-12-01T00:10:00.000Z",
            mediaUrl: `${MEDIA}/uploads/${encodeURIComponent(alice)}/id-${ids}.jpg`,
        });
        expect(upload.fields).toMatchObject({ key, "Content-Type": "image/jpeg", bucket: BUCKET, "X-Amz-Algorithm": "AWS4-HMAC-SHA256" });
        const policy = JSON.parse(Buffer.from(upload.fields.Policy, "base64").toString("utf8"));
        expect(policy.conditions).toContainEqual(["content-length-range", 5, 5]);

        expect((await send(upload, Buffer.from("12345"))).status).toBe(204);
        expect(s3.object(BUCKET, key)).toMatchObject({ contentType: "image/jpeg" });
    });

    test("the presigned POST refuses another size, another type and another key", async () => {
        const { upload } = (await post(alice, { contentType: "image/png", contentLength: 4 })).body;
        expect((await send(upload, Buffer.from("12345"))).status).toBe(400);
        expect((await send(upload, Buffer.from("123"))).status).toBe(400);
        expect((await send(upload, Buffer.from("1234"), "text/html")).status).toBe(403);
        const moved = await send({ ...upload, fields: { ...upload.fields, key: `uploads/${bob}/x.png` } }, Buffer.from("1234"));
        expect(moved.status).toBe(403);
        expect(s3.keys(BUCKET).filter((k) => k.includes("png"))).toEqual([]);
    });

    test.each([
        ["a type the stage does not allow", { contentType: "image/webp", contentLength: 1 }, 400, /^contentType must be one of "image\/jpeg", "image\/png", "video\/mp4"\.$/],
        ["text/html", { contentType: "text/html", contentLength: 1 }, 400, /^contentType must be one of/],
        ["no size", { contentType: "image/jpeg" }, 400, /^contentLength is required\.$/],
        ["a fractional size", { contentType: "image/jpeg", contentLength: 1.5 }, 400, /^contentLength must be an integer/],
        ["a size of 0", { contentType: "image/jpeg", contentLength: 0 }, 400, /^contentLength must be at least 1/],
        ["a chosen key", { contentType: "image/jpeg", contentLength: 1, key: "uploads/x.html" }, 400, /^key is not a known field\.$/],
        ["an image over the image limit", { contentType: "image/jpeg", contentLength: 101 }, 413, /^An upload of type image\/jpeg may be at most 100 bytes/],
        ["a video over the video limit", { contentType: "video/mp4", contentLength: 1001 }, 400, /^contentLength must be at most 1000/],
    ])("refuses %s", async (_what, body, status, message) => {
        const res = await post(alice, body);
        expect(res.statusCode).toBe(status);
        expect(res.body.success).toBe(false);
        expect(res.body.error.message).toMatch(message);
    });

    test("a video may be larger than an image", async () => {
        const res = await post(alice, { contentType: "video/mp4", contentLength: 1000 });
        expect(res.statusCode).toBe(201);
        expect(res.body.upload.key).toMatch(/\.mp4$/);
    });

    test("every known type has an extension, and a caller without Cognito credentials is refused", async () => {
        expect(ALL_UPLOAD_CONTENT_TYPES).toEqual(["image/jpeg", "image/png", "image/heic", "image/heif", "image/webp", "video/mp4", "video/quicktime"]);
        const res = await call({ method: "POST", resource: "/uploads", identityId: null, body: { contentType: "image/jpeg", contentLength: 1 } });
        expect(res).toMatchObject({ statusCode: 403, body: { success: false, error: { code: "Forbidden" } } });
    });
});

describe("GET /uploads and DELETE /uploads/{key}", () => {
    const carol = "us-east-1:33333333-3333-4333-8333-333333333333";
    beforeAll(() => {
        for (const name of ["a.jpg", "b.png", "c.mp4", "photos/legacy.jpg"]) s3.put(BUCKET, `uploads/${carol}/${name}`, "xx", "image/jpeg");
        s3.put(BUCKET, `uploads/${bob}/bobs.jpg`, "x", "image/jpeg");
    });

    test("lists only the caller's uploads, page by page", async () => {
        const first = await call({ method: "GET", resource: "/uploads", identityId: carol, query: { limit: "3" } });
        expect(first.statusCode).toBe(200);
        expect(first.body.uploads.map((u: { key: string }) => u.key)).toEqual(["a.jpg", "b.png", "c.mp4"].map((n) => `uploads/${carol}/${n}`));
        expect(first.body.uploads[0]).toEqual({
            key: `uploads/${carol}/a.jpg`,
            size: 2,
            lastModified: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
            mediaUrl: `${MEDIA}/uploads/${encodeURIComponent(carol)}/a.jpg`,
        });
        const second = await call({ method: "GET", resource: "/uploads", identityId: carol, query: { limit: "3", cursor: first.body.nextCursor } });
        expect(second.body).toMatchObject({ uploads: [{ key: `uploads/${carol}/photos/legacy.jpg` }], nextCursor: null });

        const bad = await call({ method: "GET", resource: "/uploads", identityId: carol, query: { cursor: "bm90LWEtY3Vyc29y" } });
        expect(bad).toMatchObject({ statusCode: 400, body: { error: { code: "BadRequest" } } });
        const forged = await call({ method: "GET", resource: "/uploads", identityId: carol, query: { cursor: Buffer.from('{"t":"garbage"}').toString("base64url") } });
        expect(forged).toMatchObject({ statusCode: 400, body: { error: { message: "cursor is not a cursor this API returned." } } });
    });

    test("deletes the caller's upload by name or full key, and nothing outside the caller's prefix", async () => {
        const del = (key: string, identityId = carol) => call({ method: "DELETE", resource: "/uploads/{key}", pathParameters: { key }, identityId });
        expect(await del("a.jpg")).toMatchObject({ statusCode: 200, body: { success: true, key: `uploads/${carol}/a.jpg` } });
        expect(s3.object(BUCKET, `uploads/${carol}/a.jpg`)).toBeUndefined();
        expect((await del(`uploads/${carol}/photos/legacy.jpg`)).statusCode).toBe(200);
        expect(s3.object(BUCKET, `uploads/${carol}/photos/legacy.jpg`)).toBeUndefined();
        expect((await del("never-existed.jpg")).statusCode).toBe(200);

        expect(await del(`uploads/${bob}/bobs.jpg`)).toMatchObject({ statusCode: 403, body: { error: { code: "Forbidden" } } });
        for (const sneaky of [`../${bob}/bobs.jpg`, "photos/../../x", "./b.png", "a//b", "", "x\\..\\y", "x\u0000"]) {
            expect({ sneaky, status: (await del(sneaky)).statusCode }).toEqual({ sneaky, status: 400 });
        }
        expect(s3.object(BUCKET, `uploads/${bob}/bobs.jpg`)).toBeDefined();
        expect(s3.object(BUCKET, `uploads/${carol}/b.png`)).toBeDefined();
        expect(() => ownKey(carol, "x".repeat(1024))).toThrow(/key must name one of your uploads/);
    });
});

describe("a note's mediaKey must name an existing upload of the caller", () => {
    const table = freshTable(() => dynamo, NOTES_TABLE_KEYS);
    const notes = (identityId: string, method: string, body: unknown, noteId?: string) =>
        handleNotesRequest(
            apiEvent({ method, resource: noteId ? "/notes/{noteId}" : "/notes", pathParameters: noteId ? { noteId } : undefined, identityId, body }),
            DynamoDBDocumentClient.from(dynamo.client),
            { tableName: table.name, mediaBaseUrl: MEDIA },
            { s3: client, bucketName: BUCKET },
        ).then(reply);

    test("an uploaded key is accepted on create and update; a missing or foreign one is a 400", async () => {
        const { upload } = (await post(alice, { contentType: "image/jpeg", contentLength: 2 })).body;
        const before = await notes(alice, "POST", { noteId: "n1", headline: "Beach", mediaKey: upload.key });
        expect(before).toMatchObject({ statusCode: 400, body: { error: { code: "BadRequest", message: `mediaKey ${upload.key} is not an upload of yours: upload it first (POST /uploads).` } } });
        expect((await send(upload, Buffer.from("ok"))).status).toBe(204);
        const created = await notes(alice, "POST", { noteId: "n1", headline: "Beach", mediaKey: upload.key });
        expect(created).toMatchObject({ statusCode: 201, body: { note: { mediaKey: upload.key, mediaUrl: upload.mediaUrl } } });

        s3.put(BUCKET, `uploads/${bob}/bobs.jpg`, "x", "image/jpeg");
        expect((await notes(alice, "PUT", { mediaKey: `uploads/${bob}/bobs.jpg` }, "n1")).statusCode).toBe(400);
        expect((await notes(alice, "PUT", { mediaKey: `uploads/${alice}/gone.jpg` }, "n1")).statusCode).toBe(400);
        // An upload of the original iOS client (direct PutObject, any name under the prefix) still counts.
        s3.put(BUCKET, `uploads/${alice}/photos/beach.jpg`, "x", "image/jpeg");
        expect((await notes(alice, "PUT", { mediaKey: `uploads/${alice}/photos/beach.jpg` }, "n1")).statusCode).toBe(200);
        // Notes without media are untouched by the check.
        expect((await notes(alice, "POST", { noteId: "n2", headline: "Plain", text: "" })).statusCode).toBe(201);
        expect((await notes(alice, "PUT", { mediaKey: null }, "n1")).statusCode).toBe(200);
    });
});
