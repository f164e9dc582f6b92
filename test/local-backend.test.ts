/**
 * `npm start`'s backend (local/backend.ts) started by the test: random free ports, a temporary data dir.
 * A signed `POST /notes` goes through the local API to the notes function (the deployed factory, in its
 * worker) and dynalite; the backend stops and starts again on the same data dir and the note is still
 * there. The identity's credentials go to the local S3 endpoint with `@aws-sdk/client-s3`, which allows them what the
 * identity role's policy declares, and answers browser preflights by the bucket's CORS rules from the stack file.
 * Hot reload is tested on the reload mechanism itself with a fixture module.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { fromCognitoIdentityPool } from "@aws-sdk/credential-providers";
import { AuthenticationDetails, CognitoUser, CognitoUserPool, type CognitoUserSession } from "amazon-cognito-identity-js";
import { mediaUrl } from "../functions/media";
import { startBackend, type LocalBackend, type LocalClientConfig } from "../local/backend";
import { startFunctions } from "../local/functions";
import { operatorCredentials } from "../local/operator";
import { callApi, type Credentials } from "./support/signed-api";

jest.setTimeout(120_000);

const EMAIL = "ada@example.com";
const PASSWORD = "Correct-horse-42";
/** The photo the signed-in user uploads. */
const PHOTO = Buffer.from("\xff\xd8\xff\xe0 a tiny jpeg", "latin1");

/** What an app does: SRP sign-in with amazon-cognito-identity-js, then identity credentials with the SDK's provider. */
async function signIn(config: LocalClientConfig, signUpFirst: boolean): Promise<Credentials & { identityId: string }> {
    const pool = new CognitoUserPool({ UserPoolId: config.userPoolId, ClientId: config.userPoolClientId, endpoint: config.endpoints.cognitoIdentityProvider });
    if (signUpFirst) {
        await new Promise((resolve, reject) => pool.signUp(EMAIL, PASSWORD, [], [], (err, result) => (err || !result ? reject(err) : resolve(result))));
    }
    const user = new CognitoUser({ Username: EMAIL, Pool: pool });
    const session = await new Promise<CognitoUserSession>((resolve, reject) =>
        user.authenticateUser(new AuthenticationDetails({ Username: EMAIL, Password: PASSWORD }), { onSuccess: resolve, onFailure: reject }),
    );
    const provider = fromCognitoIdentityPool({
        identityPoolId: config.identityPoolId,
        logins: { [`cognito-idp.${config.region}.amazonaws.com/${config.userPoolId}`]: session.getIdToken().getJwtToken() },
        clientConfig: { region: config.region, endpoint: config.endpoints.cognitoIdentity },
    });
    const credentials = await provider();
    return { ...credentials, identityId: credentials.identityId };
}

describe("the local backend", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "local-backend-"));
    let backend: LocalBackend | undefined;
    let first: LocalClientConfig;
    let credentials: Credentials & { identityId: string };
    let noteId = "";
    let photoKey = "";

    beforeAll(async () => {
        backend = await startBackend({ dataDir, hotReload: false });
        // Ready means the API answers; the functions' workers start in the background (cold starts).
        await backend.warm();
        first = backend.clientConfig;
        credentials = await signIn(first, true);
    });
    afterAll(async () => {
        await backend?.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("writes client-config.json with the deployed clientConfig keys and the local endpoints", () => {
        const written = JSON.parse(fs.readFileSync(path.join(dataDir, "client-config.json"), "utf8")) as LocalClientConfig;
        expect(written).toEqual(first);
        for (const key of ["apiUrl", "apiKey", "region", "identityPoolId", "userPoolId", "userPoolClientId", "uploadsBucket", "uploadsPrefix", "mediaBaseUrl", "allowGuests"]) {
            expect(written).toHaveProperty(key);
        }
        expect(written.region).toBe("us-east-1");
        expect(written.allowGuests).toBe(true);
        expect(written.guestRoleArn).toMatch(/^arn:aws:iam::\d{12}:role\//);
        expect(written.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dev$/);
        expect(written.uploadsPrefix).toBe("uploads/");
        expect(written.endpoints.s3).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(written.tables.notes).toBe("mobile-backend-dev-notes");
    });

    it("serves a POST /notes signed with the identity pool's credentials of a signed-in user, and reads it back", async () => {
        const created = await callApi(first, credentials, "POST", "/notes", { headline: "Local", text: "from the test" });
        expect(created.status).toBe(201);
        expect(created.headers.get("x-amzn-requestid")).toMatch(/^[0-9a-f-]{36}$/);
        const note = (created.json as { note: { noteId: string } }).note;
        noteId = note.noteId;
        const read = await callApi(first, credentials, "GET", `/notes/${noteId}`);
        expect(read.status).toBe(200);
        expect(read.json).toMatchObject({ success: true, note: { noteId, headline: "Local", text: "from the test" } });
        expect(credentials.identityId).toMatch(/^us-east-1:/);
    });

    it("indexes the note through the notes stream and the indexer: GET /search finds it", async () => {
        await backend!.idle();
        const found = await callApi(first, credentials, "GET", "/search?q=Local");
        expect(found.status).toBe(200);
        expect(found.json).toMatchObject({ success: true, found: 1, notes: [expect.objectContaining({ noteId })] });
    });

    it("takes a photo through POST /uploads and the presigned POST, serves it at the media URL, and a note can use it", async () => {
        const created = await callApi(first, credentials, "POST", "/uploads", { contentType: "image/jpeg", contentLength: PHOTO.length });
        expect(created.status).toBe(201);
        const upload = (created.json as { upload: { key: string; url: string; fields: Record<string, string>; mediaUrl: string } }).upload;
        expect(upload.key.startsWith(`uploads/${credentials.identityId}/`)).toBe(true);
        photoKey = upload.key;
        const form = new FormData();
        for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
        form.append("file", new Blob([PHOTO], { type: "image/jpeg" }));
        const posted = await fetch(upload.url, { method: "POST", body: form });
        expect(posted.status).toBe(204);
        const media = await fetch(upload.mediaUrl);
        expect(media.status).toBe(200);
        expect(Buffer.from(await media.arrayBuffer())).toEqual(PHOTO);
        const note = await callApi(first, credentials, "POST", "/notes", { headline: "With a photo", mediaKey: upload.key });
        expect(note.status).toBe(201);
        expect(note.json).toMatchObject({ note: { mediaKey: upload.key, mediaUrl: upload.mediaUrl } });
    });

    it("lets an identity's credentials read its own uploads with the S3 client, and nothing else, as its role allows", async () => {
        // A second identity uploads a photo of its own, the way the first did.
        const other = backend!.issueCredentials("us-east-1:22222222-2222-4222-8222-222222222222");
        const created = await callApi(first, other, "POST", "/uploads", { contentType: "image/jpeg", contentLength: 5 });
        expect(created.status).toBe(201);
        const upload = (created.json as { upload: { key: string; url: string; fields: Record<string, string> } }).upload;
        const form = new FormData();
        for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
        form.append("file", new Blob([Buffer.from("other")], { type: "image/jpeg" }));
        expect((await fetch(upload.url, { method: "POST", body: form })).status).toBe(204);

        const client = (c: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
            new S3Client({ endpoint: first.endpoints.s3, region: first.region, credentials: c, maxAttempts: 1 });
        const app = client(credentials);
        const otherApp = client(other);
        const wrongToken = client({ ...credentials, sessionToken: "not-the-token" });
        try {
            const own = await app.send(new GetObjectCommand({ Bucket: first.uploadsBucket, Key: photoKey }));
            expect(own.ContentType).toBe("image/jpeg");
            expect(Buffer.from((await own.Body?.transformToByteArray()) ?? [])).toEqual(PHOTO);
            const theirs = await otherApp.send(new GetObjectCommand({ Bucket: first.uploadsBucket, Key: upload.key }));
            expect(await theirs.Body?.transformToString()).toBe("other");

            // The role allows s3:GetObject on uploads/<its identity id>/* only: not another identity's key, not a listing.
            await expect(app.send(new GetObjectCommand({ Bucket: first.uploadsBucket, Key: upload.key }))).rejects.toMatchObject({
                name: "AccessDenied",
                $metadata: { httpStatusCode: 403 },
            });
            await expect(
                app.send(new ListObjectsV2Command({ Bucket: first.uploadsBucket, Prefix: `${first.uploadsPrefix}${credentials.identityId}/` })),
            ).rejects.toMatchObject({ name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
            // The identity pool's credentials are temporary: S3 wants their own session token.
            await expect(wrongToken.send(new GetObjectCommand({ Bucket: first.uploadsBucket, Key: photoKey }))).rejects.toMatchObject({
                name: "InvalidToken",
                $metadata: { httpStatusCode: 400 },
            });
        } finally {
            for (const c of [app, otherApp, wrongToken]) c.destroy();
        }
    });

    it("answers browser preflights to the bucket with the stage's CORS rules (media.corsOrigins)", async () => {
        const preflight = (method: string) =>
            fetch(`${first.endpoints.s3}/${first.uploadsBucket}/${photoKey}`, {
                method: "OPTIONS",
                headers: { Origin: "https://web.example.com", "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type" },
            });
        // Pulumi.dev.yaml: media.corsOrigins ["*"]; infra/media.ts allows GET, HEAD and POST from them.
        const post = await preflight("POST");
        expect([post.status, post.headers.get("access-control-allow-origin"), post.headers.get("access-control-allow-methods")]).toEqual([
            200,
            "https://web.example.com",
            "POST",
        ]);
        expect((await preflight("PUT")).status).toBe(403);
        expect((await preflight("DELETE")).status).toBe(403);
    });

    it("lets the data dir's operator (operator.json, owner-only) list the bucket, and no other key", async () => {
        const file = path.join(dataDir, "operator.json");
        expect(fs.statSync(file).mode & 0o777).toBe(0o600);
        const operator = operatorCredentials(dataDir);
        const s3 = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
            new S3Client({ endpoint: first.endpoints.s3, region: first.region, credentials, forcePathStyle: true, maxAttempts: 1 });
        const asOperator = s3(operator);
        const guessing = s3({ accessKeyId: "AKIALOCALOPERATOR000", secretAccessKey: "local-operator-secret" });
        try {
            const listed = await asOperator.send(new ListObjectsV2Command({ Bucket: first.uploadsBucket, Prefix: first.uploadsPrefix }));
            expect(listed.KeyCount).toBeGreaterThan(0);
            await expect(guessing.send(new ListObjectsV2Command({ Bucket: first.uploadsBucket }))).rejects.toMatchObject({ name: "InvalidAccessKeyId" });
        } finally {
            asOperator.destroy();
            guessing.destroy();
        }
    });

    it("refuses an unsigned request as API Gateway does", async () => {
        const answer = await callApi(first, undefined, "GET", "/notes");
        expect(answer.status).toBe(403);
        expect(answer.json).toEqual({ success: false, error: { code: "MISSING_AUTHENTICATION_TOKEN", message: "Missing Authentication Token" } });
    });

    it("keeps the user, the note, the photo and the device's push endpoint across a restart on the same data dir", async () => {
        const device = await callApi(first, credentials, "POST", "/devices", { platform: "ios", token: "ab".repeat(32) });
        expect(device.status).toBe(201);
        await backend?.stop();
        backend = undefined;
        backend = await startBackend({ dataDir, hotReload: false });
        await backend.warm();
        expect(backend.clientConfig.apiKey).toBe(first.apiKey);
        expect(backend.clientConfig.userPoolId).toBe(first.userPoolId);
        const again = await signIn(backend.clientConfig, false);
        expect(again.identityId).toBe(credentials.identityId);
        const read = await callApi(backend.clientConfig, again, "GET", `/notes/${noteId}`);
        expect(read.status).toBe(200);
        expect(read.json).toMatchObject({ note: { noteId, headline: "Local" } });
        const photo = await fetch(mediaUrl(backend.clientConfig.mediaBaseUrl, photoKey));
        expect(photo.status).toBe(200);
        // The device registered before the restart still receives a push: its SNS endpoint was kept.
        const sent = await callApi(backend.clientConfig, again, "POST", "/notifications", { recipientId: again.identityId, message: "after a restart" });
        expect(sent.status).toBe(202);
        await backend.idle();
        const inbox = (await (await fetch(`${backend.clientConfig.inbox}?recipientId=${encodeURIComponent(again.identityId)}`)).json()) as {
            deliveries: { via: string; token?: string; payload: string }[];
        };
        const toDevice = inbox.deliveries.filter((d) => d.via === "endpoint" && d.token === "ab".repeat(32));
        expect(toDevice.map((d) => d.payload).join("\n")).toContain("after a restart");
        credentials = again;
    });

    it("DELETE /me answers 202, then the account deletion removes the user, the notes and the uploads", async () => {
        const config = backend!.clientConfig;
        const deleted = await callApi(config, credentials, "DELETE", "/me");
        expect(deleted.status).toBe(202);
        await backend!.idle();
        const db = new DynamoDBClient({ endpoint: config.endpoints.dynamodb, region: config.region, credentials: { accessKeyId: "local", secretAccessKey: "local" } });
        try {
            const { Items } = await db.send(
                new QueryCommand({ TableName: config.tables.notes, KeyConditionExpression: "ownerId = :id", ExpressionAttributeValues: { ":id": { S: credentials.identityId } } }),
            );
            expect(Items).toEqual([]);
        } finally {
            db.destroy();
        }
        // Gone: the media URL answers as CloudFront before a private bucket does for a missing key (S3's 403, the
        // distribution's reader may not list the bucket).
        expect((await fetch(mediaUrl(config.mediaBaseUrl, photoKey))).status).toBe(403);
        await expect(signIn(config, false)).rejects.toMatchObject({ code: "NotAuthorizedException" });
        expect(backend!.failedMessages("account")).toEqual([]);
    });
});

describe("hot reload", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hot-reload-"));
    const module = path.join(dir, "handler.js");
    const version = (v: string) => `exports.factory = () => async () => ({ version: ${JSON.stringify(v)}, env: process.env.GREETING });\n`;
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("a change of a watched file starts fresh workers that run the new code", async () => {
        fs.writeFileSync(module, version("one"));
        const runtime = await startFunctions({
            root: path.resolve(__dirname, ".."),
            functions: [{ name: "fixture", module, factory: "factory", environment: { GREETING: "hello" }, timeoutSeconds: 5 }],
            watch: [dir],
        });
        try {
            expect(await runtime.invoke("fixture", {})).toEqual({ version: "one", env: "hello" });
            fs.writeFileSync(module, version("two"));
            for (let i = 0; i < 200 && runtime.reloads === 0; i++) await new Promise((r) => setTimeout(r, 25));
            expect(runtime.reloads).toBeGreaterThan(0);
            expect(await runtime.invoke("fixture", {})).toEqual({ version: "two", env: "hello" });
        } finally {
            await runtime.stop();
        }
    });
});
