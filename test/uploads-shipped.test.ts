/**
 * What the program declares for uploads (dev stack file): the uploads function and its role, its routes
 * and request model (checked with a real draft-4 validator, as API Gateway validates), and the media
 * distribution's cache and response-headers policies. Then the uploads function and the notes function
 * exactly as `pulumi up` would ship them (their serialized
 * archives, taken from the program under mocks) in fresh Node processes, against the local S3 endpoint
 * and dynalite. The S3 endpoint allows each function only what its role's policy, as the program
 * declares it, allows; the app uploads with fetch + FormData, and reads through the media base URL.
 */
import Ajv from "ajv-draft-04";
import type { APIGatewayProxyResult } from "aws-lambda";
import { startS3, type LocalS3, type S3AccessRequest } from "../local/s3";
import { createDeclaredTable, startDynamo, type LocalDynamo } from "./support/dynamodb";
import { apiEvent, reply, type ApiCall } from "./support/events";
import { startFunction, type LocalFunction } from "./support/lambda";
import { loadProgram, type LoadedProgram } from "./support/program";
import { policyAllows, type PolicyStatement } from "./support/iam";

const alice = "us-east-1:11111111-1111-4111-8111-111111111111";
const bob = "us-east-1:22222222-2222-4222-8222-222222222222";

let program: LoadedProgram;
let s3: LocalS3;
let dynamo: LocalDynamo;
let uploads: LocalFunction;
let notes: LocalFunction;
let bucket: string;
const denied: S3AccessRequest[] = [];

beforeAll(async () => {
    program = await loadProgram("dev");
    const policies: Record<string, PolicyStatement[]> = {};
    for (const name of ["uploads-function", "notes-function"]) {
        policies[name] = JSON.parse(program.recorder.one("aws:iam/rolePolicy:RolePolicy", `${name}-policy`).inputs.policy).Statement;
    }
    const archive = program.archives["uploads-function"];
    expect(Object.keys(archive.files)).toEqual(["__index.js"]);
    bucket = archive.environment.UPLOADS_BUCKET;
    expect(bucket).toBe(program.outputs.uploadsBucket);
    expect(program.archives["notes-function"].environment.UPLOADS_BUCKET).toBe(bucket);

    s3 = await startS3({
        buckets: [{ name: bucket }],
        credentials: { "uploads-function": "secret-1", "notes-function": "secret-2" },
        authorize: (request) => {
            const ok = policyAllows(policies[request.accessKeyId] ?? [], request);
            if (!ok) denied.push(request);
            return ok;
        },
    });
    dynamo = await startDynamo();
    const notesArchive = program.archives["notes-function"];
    await createDeclaredTable(dynamo, program.recorder.one("aws:dynamodb/table:Table", "data-notes"), notesArchive.environment.NOTES_TABLE);
    // The fair-use write counter the notes function counts its writes in.
    await createDeclaredTable(dynamo, program.recorder.one("aws:dynamodb/table:Table", "data-limits"), notesArchive.environment.LIMITS_TABLE);
    const endpoints = { AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint };
    uploads = await startFunction(archive, { ...endpoints, AWS_ACCESS_KEY_ID: "uploads-function", AWS_SECRET_ACCESS_KEY: "secret-1" });
    notes = await startFunction(notesArchive, { ...endpoints, AWS_ACCESS_KEY_ID: "notes-function", AWS_SECRET_ACCESS_KEY: "secret-2" });
});

afterAll(async () => {
    await uploads?.stop();
    await notes?.stop();
    await s3?.stop();
    await dynamo?.close();
});

const statements = (policy: string) => JSON.parse(policy).Statement;

describe("what the program declares", () => {
    test("the uploads function may sign uploads to, delete from and list only uploads/*", () => {
        expect(statements(program.recorder.one("aws:iam/rolePolicy:RolePolicy", "uploads-function-policy").inputs.policy).slice(1)).toEqual([
            { Effect: "Allow", Action: ["s3:PutObject", "s3:DeleteObject"], Resource: ["arn:aws:s3:::media-uploads-abc1234/uploads/*"] },
            {
                Effect: "Allow",
                Action: ["s3:ListBucket"],
                Resource: ["arn:aws:s3:::media-uploads-abc1234"],
                Condition: { StringLike: { "s3:prefix": "uploads/*" } },
            },
        ]);
        const fn = program.recorder.one("aws:lambda/function:Function", "uploads-function").inputs;
        expect(fn.environment.variables).toEqual({
            UPLOADS_BUCKET: "media-uploads-abc1234",
            MEDIA_BASE_URL: "https://d1234abcd.cloudfront.net",
            UPLOAD_CONTENT_TYPES: "image/jpeg,image/png,image/heic,image/heif,image/webp,video/mp4,video/quicktime",
            UPLOAD_MAX_IMAGE_BYTES: "10485760",
            UPLOAD_MAX_VIDEO_BYTES: "104857600",
            UPLOAD_EXPIRY_SECONDS: "600",
        });
        // The presigned-POST library comes from the runtime's AWS SDK, like the client: the archive is the closure only.
        const archive = program.archives["uploads-function"];
        expect(Object.keys(archive.files)).toEqual(["__index.js"]);
        expect(archive.bytes).toBeLessThanOrEqual(64 * 1024);
        expect(archive.files["__index.js"]).toMatch(/require\("@aws-sdk\/s3-presigned-post"\)/);
    });

    test("POST /uploads is validated by API Gateway with the stage's types and largest size", () => {
        const doc = JSON.parse(program.recorder.one("aws:apigateway/restApi:RestApi").inputs.body);
        const op = doc.paths["/uploads"].post;
        expect(op.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/CreateUploadRequest" });
        expect(op["x-amazon-apigateway-integration"].uri).toContain("function:uploads-function-abc1234");
        expect(doc.paths["/uploads/{key}"].delete.parameters).toEqual([{ name: "key", in: "path", required: true, schema: { type: "string" } }]);
        const validate = new Ajv({ strict: false }).compile(doc.components.schemas.CreateUploadRequest);
        expect(validate({ contentType: "image/heic", contentLength: 123 })).toBe(true);
        expect(validate({ contentType: "video/quicktime", contentLength: 104857600 })).toBe(true);
        for (const bad of [
            { contentType: "text/html", contentLength: 1 },
            { contentType: "image/jpeg", contentLength: 0 },
            { contentType: "image/jpeg", contentLength: 104857601 },
            { contentType: "image/jpeg", contentLength: "12" },
            { contentType: "image/jpeg", contentLength: 1, key: "uploads/mine.html" },
            { contentType: "image/jpeg" },
        ]) {
            expect({ bad, valid: validate(bad) }).toEqual({ bad, valid: false });
        }
    });

    test("media is cached at most media.cacheSeconds (dev: 300 s) and served with nosniff and no scripts", () => {
        const cache = program.recorder.one("aws:cloudfront/cachePolicy:CachePolicy", "media-media").inputs;
        expect(cache).toMatchObject({ minTtl: 0, defaultTtl: 300, maxTtl: 300 });
        expect(cache.parametersInCacheKeyAndForwardedToOrigin).toMatchObject({
            queryStringsConfig: { queryStringBehavior: "none" },
            enableAcceptEncodingGzip: true,
        });
        const headers = program.recorder.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy", "media-media").inputs;
        expect(headers.securityHeadersConfig).toMatchObject({
            contentTypeOptions: { override: true },
            contentSecurityPolicy: { contentSecurityPolicy: "default-src 'none'; sandbox", override: true },
            frameOptions: { frameOption: "DENY", override: true },
        });
        expect(headers.customHeadersConfig.items).toEqual([{ header: "Cache-Control", value: "max-age=300", override: true }]);
        const behavior = program.recorder.one("aws:cloudfront/distribution:Distribution").inputs.defaultCacheBehavior;
        expect(behavior).toMatchObject({ cachePolicyId: "media-media-id", responseHeadersPolicyId: "media-media-id" });
    });
});

async function call(fn: LocalFunction, request: ApiCall) {
    return reply(await fn.invoke<APIGatewayProxyResult>(apiEvent(request)));
}

test("an app uploads a photo through the API, attaches it to a note, lists it and deletes it", async () => {
    const asked = await call(uploads, { method: "POST", resource: "/uploads", identityId: alice, body: { contentType: "image/jpeg", contentLength: 11 } });
    expect(asked.statusCode).toBe(201);
    const upload = asked.body.upload;
    expect(upload.key).toMatch(new RegExp(`^uploads/${alice}/[0-9a-f-]{36}\\.jpg$`));
    expect(upload.url).toBe(`${s3.endpoint}/${bucket}`);

    const attachedTooEarly = await call(notes, { method: "POST", resource: "/notes", identityId: alice, body: { headline: "Beach", mediaKey: upload.key } });
    expect(attachedTooEarly).toMatchObject({ statusCode: 400, body: { error: { code: "BadRequest" } } });

    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields as Record<string, string>)) form.append(name, value);
    form.append("file", new Blob([Buffer.from("jpeg bytes!")], { type: "image/jpeg" }), "beach.jpg");
    expect((await fetch(upload.url, { method: "POST", body: form })).status).toBe(204);

    const note = await call(notes, { method: "POST", resource: "/notes", identityId: alice, body: { noteId: "beach", headline: "Beach", mediaKey: upload.key } });
    expect(note).toMatchObject({ statusCode: 201, body: { note: { mediaKey: upload.key, mediaUrl: upload.mediaUrl } } });
    const bobs = await call(notes, { method: "POST", resource: "/notes", identityId: bob, body: { headline: "Mine?", mediaKey: upload.key } });
    expect(bobs.statusCode).toBe(400);

    const served = await fetch(`${s3.mediaBaseUrl(bucket)}${new URL(upload.mediaUrl).pathname}`);
    expect(served.status).toBe(200);
    expect(served.headers.get("x-content-type-options")).toBe("nosniff");

    const listed = await call(uploads, { method: "GET", resource: "/uploads", identityId: alice });
    expect(listed.body).toEqual({ success: true, uploads: [{ key: upload.key, size: 11, lastModified: expect.any(String), mediaUrl: upload.mediaUrl }], nextCursor: null });
    expect((await call(uploads, { method: "GET", resource: "/uploads", identityId: bob })).body.uploads).toEqual([]);

    const name = upload.key.split("/").pop();
    expect((await call(uploads, { method: "DELETE", resource: "/uploads/{key}", pathParameters: { key: name }, identityId: bob })).statusCode).toBe(200);
    expect(s3.object(bucket, upload.key)).toBeDefined();
    const removed = await call(uploads, { method: "DELETE", resource: "/uploads/{key}", pathParameters: { key: name }, identityId: alice });
    expect(removed).toMatchObject({ statusCode: 200, body: { key: upload.key } });
    expect(s3.object(bucket, upload.key)).toBeUndefined();
    expect((await fetch(`${s3.mediaBaseUrl(bucket)}${new URL(upload.mediaUrl).pathname}`)).status).toBe(403);
    const reattach = await call(notes, { method: "PUT", resource: "/notes/{noteId}", pathParameters: { noteId: "beach" }, identityId: alice, body: { mediaKey: upload.key } });
    expect(reattach.statusCode).toBe(400);

    // The roles were enough for every call (a missing key is a 403 to the notes role, which may not list).
    expect(denied.filter((d) => !(d.accessKeyId === "notes-function" && d.action === "s3:ListBucket"))).toEqual([]);
    expect(uploads.logs()).not.toMatch(/unhandled error/);
    expect(notes.logs()).not.toMatch(/unhandled error/);
});

test("the shipped function refuses bad requests with JSON 4xx errors", async () => {
    const html = await call(uploads, { method: "POST", resource: "/uploads", identityId: alice, body: { contentType: "text/html", contentLength: 10 } });
    expect(html).toMatchObject({ statusCode: 400, body: { success: false, error: { code: "BadRequest" } } });
    const huge = await call(uploads, { method: "POST", resource: "/uploads", identityId: alice, body: { contentType: "image/png", contentLength: 10 * 1024 * 1024 + 1 } });
    expect(huge).toMatchObject({ statusCode: 413, body: { error: { code: "PayloadTooLarge" } } });
    const escape = await call(uploads, { method: "DELETE", resource: "/uploads/{key}", pathParameters: { key: `../${bob}/x.jpg` }, identityId: alice });
    expect(escape).toMatchObject({ statusCode: 400, body: { error: { code: "BadRequest" } } });
    expect(uploads.logs()).not.toMatch(/unhandled error/);
});
