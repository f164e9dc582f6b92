/**
 * The local S3 endpoint (local/s3.ts) against the real clients: `@aws-sdk/client-s3` for the REST calls
 * (SigV4 signatures recomputed), `@aws-sdk/s3-presigned-post`'s output POSTed as multipart/form-data
 * with `fetch` + `FormData`, the way an app uploads, and `@aws-sdk/s3-request-presigner`'s presigned GETs
 * fetched as a browser or an image view would. Browser preflights are `fetch` OPTIONS requests with the headers
 * a browser sends.
 */
import {
    DeleteObjectCommand,
    GetObjectCommand,
    HeadObjectCommand,
    ListObjectsV2Command,
    ListObjectVersionsCommand,
    PutObjectCommand,
    S3Client,
} from "@aws-sdk/client-s3";
import { createPresignedPost, type PresignedPost } from "@aws-sdk/s3-presigned-post";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { uploadsCorsRules } from "../infra/declarations";
import { adoptSavedObjects } from "../local/backend";
import { startS3, type LocalS3, type S3AccessRequest } from "../local/s3";

const BUCKET = "uploads-bucket";
const VERSIONED = "versioned-bucket";
const alice = "uploads/us-east-1:11111111-1111-4111-8111-111111111111/";
/** Temporary credentials of a role (as Lambda gives a function): they come with a session token and expire. */
const ROLE = { accessKeyId: "ASIAROLE", secretAccessKey: "role-secret", sessionToken: "role-session-token" };
const ROLE_EXPIRES_MS = 60 * 60 * 1000;
const APP_ORIGIN = "https://app.example.com";

let s3: LocalS3;
let client: S3Client;
/** How far the endpoint's clock is ahead of the real one. */
let clockOffsetMs = 0;
const asked: S3AccessRequest[] = [];

beforeAll(async () => {
    s3 = await startS3({
        // The uploads bucket's rules as the program declares them, for the app's origin and any subdomain of example.org.
        buckets: [{ name: BUCKET, cors: uploadsCorsRules([APP_ORIGIN, "https://*.example.org"]) }, { name: VERSIONED, versioned: true }],
        credentials: {
            function: "function-secret",
            identity: "identity-secret",
            [ROLE.accessKeyId]: { secretAccessKey: ROLE.secretAccessKey, sessionToken: ROLE.sessionToken, expiration: new Date(Date.now() + ROLE_EXPIRES_MS) },
        },
        now: () => new Date(Date.now() + clockOffsetMs),
        // "identity" may read and delete only its own prefix, and never list: as the identity roles.
        authorize: (request) => {
            asked.push(request);
            if (request.accessKeyId === "function" || request.accessKeyId === ROLE.accessKeyId) return true;
            return ["s3:GetObject", "s3:DeleteObject"].includes(request.action) && request.key.startsWith(alice);
        },
    });
    client = s3Client("function", "function-secret");
});

afterAll(async () => {
    client?.destroy();
    await s3?.stop();
});

function s3Client(accessKeyId: string, secretAccessKey: string, sessionToken?: string): S3Client {
    return new S3Client({ endpoint: s3.endpoint, region: "us-east-1", credentials: { accessKeyId, secretAccessKey, sessionToken }, maxAttempts: 1 });
}

/** What an app does with a presigned POST: every field, then the file last. */
async function upload(post: PresignedPost, body: Buffer, fileName = "photo.jpg", extra: Record<string, string> = {}): Promise<Response> {
    const form = new FormData();
    for (const [name, value] of Object.entries({ ...post.fields, ...extra })) form.append(name, value);
    form.append("file", new Blob([body]), fileName);
    return fetch(post.url, { method: "POST", body: form });
}

async function presign(key: string, max = 1000, expires = 600): Promise<PresignedPost> {
    return createPresignedPost(client, {
        Bucket: BUCKET,
        Key: key,
        Conditions: [["content-length-range", 1, max]],
        Fields: { "Content-Type": "image/jpeg" },
        Expires: expires,
    });
}

const errorCode = async (r: Response) => /<Code>([^<]+)<\/Code>/.exec(await r.text())?.[1];

test("a presigned POST from the real library uploads, and the SDK reads, lists and deletes it", async () => {
    const post = await presign(`${alice}a.jpg`);
    expect(post.url).toBe(`${s3.endpoint}/${BUCKET}`);
    const posted = await upload(post, Buffer.from("jpeg bytes"));
    expect(posted.status).toBe(204);
    expect(s3.object(BUCKET, `${alice}a.jpg`)).toMatchObject({ contentType: "image/jpeg" });

    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${alice}a.jpg` }));
    expect(head).toMatchObject({ ContentType: "image/jpeg", ContentLength: 10 });
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${alice}a.jpg` }));
    expect(await got.Body?.transformToString()).toBe("jpeg bytes");

    for (const name of ["b.png", "c.mp4", "d.heic"]) s3.put(BUCKET, `${alice}${name}`, "x", "image/png");
    s3.put(BUCKET, "uploads/someone-else/e.jpg", "x");
    const first = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: alice, MaxKeys: 3 }));
    expect(first.Contents?.map((c) => c.Key)).toEqual([`${alice}a.jpg`, `${alice}b.png`, `${alice}c.mp4`]);
    expect(first).toMatchObject({ IsTruncated: true, KeyCount: 3 });
    expect(first.Contents?.[0]).toMatchObject({ Size: 10, ETag: head.ETag });
    expect(first.Contents?.[0].LastModified).toBeInstanceOf(Date);
    const second = await client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: alice, MaxKeys: 3, ContinuationToken: first.NextContinuationToken }),
    );
    expect(second.Contents?.map((c) => c.Key)).toEqual([`${alice}d.heic`]);
    expect(second.IsTruncated).toBe(false);

    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${alice}a.jpg` }));
    await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${alice}a.jpg` }))).rejects.toMatchObject({
        name: "NotFound",
        $metadata: { httpStatusCode: 404 },
    });
    await expect(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${alice}a.jpg` }))).rejects.toMatchObject({ name: "NoSuchKey" });
});

test("the POST policy is enforced: size range, content type, key, expiry, signature, extra fields", async () => {
    const key = `${alice}policy.jpg`;
    const post = await presign(key, 8);
    expect(await errorCode(await upload(post, Buffer.from("123456789")))).toBe("EntityTooLarge");
    expect(await errorCode(await upload(post, Buffer.alloc(0)))).toBe("EntityTooSmall");

    const html = await upload(post, Buffer.from("<html>"), "x.html", { "Content-Type": "text/html" });
    expect(html.status).toBe(403);
    expect((await html.text()).replace(/&quot;/g, '"')).toContain('Policy Condition failed: ["eq", "$Content-Type", "image/jpeg"]');

    const elsewhere = await upload(post, Buffer.from("x"), "x.jpg", { key: "uploads/someone-else/x.jpg" });
    expect(elsewhere.status).toBe(403);
    expect(await upload(post, Buffer.from("x"), "x.jpg", { "x-amz-meta-extra": "1" })).toMatchObject({ status: 403 });
    expect((await upload(post, Buffer.from("x"), "x.jpg", { "x-ignore-note": "1" })).status).toBe(204);

    const tampered = { ...post, fields: { ...post.fields, Policy: Buffer.from(JSON.stringify({ expiration: "2999-01-01T00:00:00Z", conditions: [] })).toString("base64") } };
    expect(await errorCode(await upload(tampered, Buffer.from("x")))).toBe("SignatureDoesNotMatch");

    const short = await presign(`${alice}late.jpg`, 8, 60);
    clockOffsetMs = 61_000;
    try {
        const late = await upload(short, Buffer.from("x"));
        expect(late.status).toBe(403);
        expect(await late.text()).toContain("Policy expired");
    } finally {
        clockOffsetMs = 0;
    }
    expect(s3.object(BUCKET, `${alice}late.jpg`)).toBeUndefined();
    expect(s3.object(BUCKET, "uploads/someone-else/x.jpg")).toBeUndefined();
});

test("signatures are verified and the caller's permissions apply, as S3 applies them", async () => {
    const wrong = s3Client("function", "not-the-secret");
    await expect(wrong.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${alice}b.png` }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 403 },
    });
    await expect(wrong.send(new ListObjectsV2Command({ Bucket: BUCKET }))).rejects.toMatchObject({ name: "SignatureDoesNotMatch" });
    wrong.destroy();

    const identity = s3Client("identity", "identity-secret");
    const own = await identity.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${alice}b.png` }));
    expect(await own.Body?.transformToString()).toBe("x");
    await expect(identity.send(new GetObjectCommand({ Bucket: BUCKET, Key: "uploads/someone-else/e.jpg" }))).rejects.toMatchObject({
        name: "AccessDenied",
    });
    await expect(identity.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${alice}put.jpg`, Body: "x" }))).rejects.toMatchObject({
        name: "AccessDenied",
    });
    // Without s3:ListBucket a missing key is 403, not 404.
    await expect(identity.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${alice}missing.jpg` }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 403 },
    });
    await identity.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${alice}b.png` }));
    expect(s3.object(BUCKET, `${alice}b.png`)).toBeUndefined();
    identity.destroy();
    expect(asked).toContainEqual({ accessKeyId: "identity", action: "s3:ListBucket", bucket: BUCKET, key: `${alice}missing.jpg` });
});

test("temporary credentials need their own session token, and are refused once expired", async () => {
    s3.put(BUCKET, `${alice}session.jpg`, "session bytes", "image/jpeg");
    const key = { Bucket: BUCKET, Key: `${alice}session.jpg` };
    const role = s3Client(ROLE.accessKeyId, ROLE.secretAccessKey, ROLE.sessionToken);
    const wrongToken = s3Client(ROLE.accessKeyId, ROLE.secretAccessKey, "not-the-token");
    const noToken = s3Client(ROLE.accessKeyId, ROLE.secretAccessKey);
    const tokenForLongTerm = s3Client("identity", "identity-secret", ROLE.sessionToken);
    try {
        expect(await (await role.send(new GetObjectCommand(key))).Body?.transformToString()).toBe("session bytes");
        // "Error responses" (S3 API reference): InvalidToken and ExpiredToken are 400 Bad Request.
        await expect(wrongToken.send(new GetObjectCommand(key))).rejects.toMatchObject({
            name: "InvalidToken",
            message: "The provided token is malformed or otherwise invalid.",
            $metadata: { httpStatusCode: 400 },
        });
        await expect(tokenForLongTerm.send(new GetObjectCommand(key))).rejects.toMatchObject({ name: "InvalidToken" });
        // Without its token, a temporary access key id is unknown to S3.
        await expect(noToken.send(new GetObjectCommand(key))).rejects.toMatchObject({ name: "InvalidAccessKeyId", $metadata: { httpStatusCode: 403 } });

        // A presigned POST signed with them carries the token as a form field, checked like the header.
        const post = await createPresignedPost(role, { Bucket: BUCKET, Key: `${alice}by-role.jpg`, Fields: { "Content-Type": "image/jpeg" }, Expires: 600 });
        expect(post.fields["X-Amz-Security-Token"]).toBe(ROLE.sessionToken);
        expect(await errorCode(await upload(post, Buffer.from("x"), "x.jpg", { "X-Amz-Security-Token": "not-the-token" }))).toBe("InvalidToken");
        expect((await upload(post, Buffer.from("x"))).status).toBe(204);

        clockOffsetMs = ROLE_EXPIRES_MS + 1000;
        // Signed now, on the endpoint's clock, so that only the credentials' expiry is wrong.
        const late = new S3Client({
            endpoint: s3.endpoint,
            region: "us-east-1",
            credentials: ROLE,
            maxAttempts: 1,
            systemClockOffset: clockOffsetMs,
        });
        try {
            await expect(late.send(new GetObjectCommand(key))).rejects.toMatchObject({
                name: "ExpiredToken",
                message: "The provided token has expired.",
                $metadata: { httpStatusCode: 400 },
            });
        } finally {
            late.destroy();
        }
    } finally {
        clockOffsetMs = 0;
        for (const c of [role, wrongToken, noToken, tokenForLongTerm]) c.destroy();
    }
});

test("a presigned GET from the real presigner reads the object, with the caller's permissions, until it expires", async () => {
    s3.put(BUCKET, `${alice}presigned.jpg`, "presigned bytes", "image/jpeg");
    const get = new GetObjectCommand({ Bucket: BUCKET, Key: `${alice}presigned.jpg` });
    const url = await getSignedUrl(client, get, { expiresIn: 60 });
    const params = new URL(url).searchParams;
    expect([params.get("X-Amz-Algorithm"), params.get("X-Amz-Expires"), params.get("X-Amz-SignedHeaders")]).toEqual(["AWS4-HMAC-SHA256", "60", "host"]);
    const got = await fetch(url);
    expect([got.status, got.headers.get("content-type"), await got.text()]).toEqual([200, "image/jpeg", "presigned bytes"]);

    // With temporary credentials the URL carries their token, signed with the rest.
    const role = s3Client(ROLE.accessKeyId, ROLE.secretAccessKey, ROLE.sessionToken);
    const roleUrl = new URL(await getSignedUrl(role, get, { expiresIn: 60 }));
    role.destroy();
    expect(roleUrl.searchParams.get("X-Amz-Security-Token")).toBe(ROLE.sessionToken);
    expect((await fetch(roleUrl)).status).toBe(200);
    const otherToken = new URL(roleUrl);
    otherToken.searchParams.set("X-Amz-Security-Token", "not-the-token");
    const refused = await fetch(otherToken);
    expect([refused.status, await errorCode(refused)]).toEqual([400, "InvalidToken"]);

    // The signature covers the key and the parameters.
    const otherKey = new URL(url);
    otherKey.pathname = `/${BUCKET}/${alice}a-different-key.jpg`;
    expect(await errorCode(await fetch(otherKey))).toBe("SignatureDoesNotMatch");
    const longer = new URL(url);
    longer.searchParams.set("X-Amz-Expires", "600");
    expect(await errorCode(await fetch(longer))).toBe("SignatureDoesNotMatch");
    const tooLong = new URL(url);
    tooLong.searchParams.set("X-Amz-Expires", "604801");
    expect(await errorCode(await fetch(tooLong))).toBe("AuthorizationQueryParametersError");

    // A presigned URL grants what its signer may do, no more.
    const identity = s3Client("identity", "identity-secret");
    s3.put(BUCKET, "uploads/someone-else/p.jpg", "x");
    const elsewhere = await fetch(await getSignedUrl(identity, new GetObjectCommand({ Bucket: BUCKET, Key: "uploads/someone-else/p.jpg" }), { expiresIn: 60 }));
    identity.destroy();
    expect([elsewhere.status, await errorCode(elsewhere)]).toEqual([403, "AccessDenied"]);

    clockOffsetMs = 61_000;
    try {
        const expired = await fetch(url);
        expect(expired.status).toBe(403);
        const text = await expired.text();
        expect(/<Code>([^<]+)<\/Code><Message>([^<]+)<\/Message>/.exec(text)?.slice(1)).toEqual(["AccessDenied", "Request has expired"]);
        expect(text).toContain("<X-Amz-Expires>60</X-Amz-Expires>");
        // Signed an hour ahead of the endpoint's clock: not valid yet, however long it was signed for.
        clockOffsetMs = -3_600_000;
        const early = await fetch(url);
        expect([early.status, /<Message>([^<]+)<\/Message>/.exec(await early.text())?.[1]]).toEqual([403, "Request is not yet valid"]);
    } finally {
        clockOffsetMs = 0;
    }
});

test("browsers: preflights are answered by the bucket's CORS rules, and its responses carry the CORS headers", async () => {
    const preflight = (bucket: string, origin: string | undefined, method: string, headers?: string) =>
        fetch(`${s3.endpoint}/${bucket}/${alice}cors.jpg`, {
            method: "OPTIONS",
            headers: { ...(origin ? { Origin: origin } : {}), "Access-Control-Request-Method": method, ...(headers ? { "Access-Control-Request-Headers": headers } : {}) },
        });
    const allowed = await preflight(BUCKET, APP_ORIGIN, "POST", "content-type,x-amz-date");
    expect(allowed.status).toBe(200);
    expect(Object.fromEntries([...allowed.headers].filter(([name]) => name.startsWith("access-control-")))).toEqual({
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "content-type, x-amz-date",
        "access-control-expose-headers": "ETag",
        "access-control-max-age": "3000",
    });
    // One `*` in an AllowedOrigin matches any text there.
    expect((await preflight(BUCKET, "https://photos.example.org", "GET")).status).toBe(200);

    // No rule allows PUT or DELETE, another origin, or (on a bucket without CORS) anything: 403.
    for (const refused of [
        await preflight(BUCKET, APP_ORIGIN, "PUT"),
        await preflight(BUCKET, APP_ORIGIN, "DELETE"),
        await preflight(BUCKET, "https://elsewhere.example.com", "GET"),
        await preflight(BUCKET, "http://app.example.com", "GET"),
    ]) {
        expect([refused.status, await errorCode(refused), refused.headers.get("access-control-allow-origin")]).toEqual([403, "AccessForbidden", null]);
    }
    const noCors = await preflight(VERSIONED, APP_ORIGIN, "GET");
    expect(noCors.status).toBe(403);
    expect(await noCors.text()).toContain("CORS is not enabled for this bucket");
    expect((await preflight(BUCKET, undefined, "GET")).status).toBe(400);

    // The actual requests: a presigned GET and a presigned POST from the app's origin can be read by its scripts.
    s3.put(BUCKET, `${alice}cors.jpg`, "cors bytes", "image/jpeg");
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: `${alice}cors.jpg` }), { expiresIn: 60 });
    const got = await fetch(url, { headers: { Origin: APP_ORIGIN } });
    expect([got.status, got.headers.get("access-control-allow-origin"), got.headers.get("access-control-expose-headers")]).toEqual([200, APP_ORIGIN, "ETag"]);
    const post = await presign(`${alice}cors-post.jpg`);
    const form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
    form.append("file", new Blob([Buffer.from("jpeg")]), "cors-post.jpg");
    const posted = await fetch(post.url, { method: "POST", body: form, headers: { Origin: APP_ORIGIN } });
    expect([posted.status, posted.headers.get("access-control-allow-origin")]).toEqual([204, APP_ORIGIN]);
    // From an origin no rule names, or without an Origin, no CORS header: the browser keeps the answer from the page.
    expect((await fetch(url, { headers: { Origin: "https://elsewhere.example.com" } })).headers.get("access-control-allow-origin")).toBeNull();
    expect((await fetch(url)).headers.get("access-control-allow-origin")).toBeNull();
});

test("a versioned bucket keeps versions and delete markers until each version is deleted", async () => {
    const key = `${alice}v.jpg`;
    await client.send(new PutObjectCommand({ Bucket: VERSIONED, Key: key, Body: "one", ContentType: "image/jpeg" }));
    await client.send(new PutObjectCommand({ Bucket: VERSIONED, Key: key, Body: "two", ContentType: "image/jpeg" }));
    const removed = await client.send(new DeleteObjectCommand({ Bucket: VERSIONED, Key: key }));
    expect(removed.DeleteMarker).toBe(true);
    await expect(client.send(new HeadObjectCommand({ Bucket: VERSIONED, Key: key }))).rejects.toMatchObject({ name: "NotFound" });

    const page1 = await client.send(new ListObjectVersionsCommand({ Bucket: VERSIONED, Prefix: alice, MaxKeys: 2 }));
    expect(page1.DeleteMarkers?.map((m) => m.IsLatest)).toEqual([true]);
    expect(page1.Versions?.length).toBe(1);
    expect(page1.IsTruncated).toBe(true);
    const page2 = await client.send(
        new ListObjectVersionsCommand({ Bucket: VERSIONED, Prefix: alice, KeyMarker: page1.NextKeyMarker, VersionIdMarker: page1.NextVersionIdMarker }),
    );
    expect(page2.Versions?.length).toBe(1);
    const all = [...(page1.DeleteMarkers ?? []), ...(page1.Versions ?? []), ...(page2.Versions ?? [])];
    const old = await client.send(new GetObjectCommand({ Bucket: VERSIONED, Key: key, VersionId: page2.Versions?.[0].VersionId }));
    expect(await old.Body?.transformToString()).toBe("one");
    for (const v of all) await client.send(new DeleteObjectCommand({ Bucket: VERSIONED, Key: key, VersionId: v.VersionId }));
    expect(s3.versions(VERSIONED, key)).toEqual([]);
    const none = await client.send(new ListObjectVersionsCommand({ Bucket: VERSIONED, Prefix: alice }));
    expect(none.Versions ?? []).toEqual([]);
});

test("the media base URL serves objects as CloudFront does: unsigned, nosniff, 403 when missing", async () => {
    s3.put(BUCKET, `${alice}m.jpg`, "image", "image/jpeg");
    const base = s3.mediaBaseUrl(BUCKET);
    const served = await fetch(`${base}/${alice.split("/").map(encodeURIComponent).join("/")}m.jpg`);
    expect(served.status).toBe(200);
    expect(served.headers.get("x-content-type-options")).toBe("nosniff");
    expect(served.headers.get("content-type")).toBe("image/jpeg");
    expect(await served.text()).toBe("image");
    expect((await fetch(`${base}/${alice}gone.jpg`)).status).toBe(403);
});

test("with a data dir, every version and delete marker survives a restart, and nothing deleted comes back", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "s3-endpoint-"));
    const buckets = [{ name: BUCKET }, { name: VERSIONED, versioned: true }];
    const credentials = { function: "function-secret" };
    const first = await startS3({ buckets, credentials, dataDir });
    const key = `${alice}kept.jpg`;
    let c = new S3Client({ endpoint: first.endpoint, region: "us-east-1", credentials: { accessKeyId: "function", secretAccessKey: "function-secret" } });
    try {
        await c.send(new PutObjectCommand({ Bucket: VERSIONED, Key: key, Body: "one", ContentType: "image/jpeg" }));
        const two = await c.send(new PutObjectCommand({ Bucket: VERSIONED, Key: key, Body: "two", ContentType: "image/png" }));
        await c.send(new DeleteObjectCommand({ Bucket: VERSIONED, Key: key })); // a delete marker on top
        await c.send(new PutObjectCommand({ Bucket: VERSIONED, Key: `${alice}gone.jpg`, Body: "x" }));
        const gone = await c.send(new ListObjectVersionsCommand({ Bucket: VERSIONED, Prefix: `${alice}gone.jpg` }));
        await c.send(new DeleteObjectCommand({ Bucket: VERSIONED, Key: `${alice}gone.jpg`, VersionId: gone.Versions?.[0].VersionId })); // for good
        await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${alice}plain.jpg`, Body: "first" }));
        await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${alice}plain.jpg`, Body: "second, longer" })); // unversioned: replaced
        const before = first.versions(VERSIONED, key).map(({ body, ...v }) => ({ ...v, body: body.toString() }));
        // Stopped without any shutdown step: what was written through is what a crash would leave.
        c.destroy();
        await first.stop();

        const second = await startS3({ buckets, credentials, dataDir });
        c = new S3Client({ endpoint: second.endpoint, region: "us-east-1", credentials: { accessKeyId: "function", secretAccessKey: "function-secret" } });
        try {
            expect(second.versions(VERSIONED, key).map(({ body, ...v }) => ({ ...v, body: body.toString() }))).toEqual(before);
            await expect(c.send(new HeadObjectCommand({ Bucket: VERSIONED, Key: key }))).rejects.toMatchObject({ name: "NotFound" });
            const old = await c.send(new GetObjectCommand({ Bucket: VERSIONED, Key: key, VersionId: two.VersionId }));
            expect([await old.Body?.transformToString(), old.ContentType, old.ETag]).toEqual(["two", "image/png", two.ETag]);
            expect(second.versions(VERSIONED, `${alice}gone.jpg`)).toEqual([]);
            const plain = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${alice}plain.jpg` }));
            expect(await plain.Body?.transformToString()).toBe("second, longer");
            // One body file per version that has one: the replaced and the deleted bodies are gone from disk.
            const bodies = (bucket: string) => fs.readdirSync(path.join(dataDir, bucket)).filter((f) => /^[0-9a-f]{64}$/.test(f)).length;
            expect([bodies(VERSIONED), bodies(BUCKET)]).toEqual([2, 1]);
        } finally {
            c.destroy();
            await second.stop();
        }
    } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
    }
});

test("a data dir from before versions were kept (index.json, current objects only) is adopted whole", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "s3-adopt-"));
    const bucketDir = path.join(dataDir, BUCKET);
    fs.mkdirSync(bucketDir, { recursive: true });
    // What the backend wrote on stop before: a body per key named by the key's SHA-256, and index.json.
    const old = [`${alice}a.jpg`, `${alice}b.png`, `${alice}c.mp4`].map((key, i) => ({ key, file: createHash("sha256").update(key).digest("hex"), contentType: ["image/jpeg", "image/png", "video/mp4"][i], body: `body ${i}` }));
    for (const o of old) fs.writeFileSync(path.join(bucketDir, o.file), o.body);
    fs.writeFileSync(path.join(bucketDir, "index.json"), JSON.stringify(old.map(({ key, file, contentType }) => ({ key, file, contentType }))));
    const buckets = [{ name: BUCKET }];
    const first = await startS3({ buckets, dataDir });
    try {
        adoptSavedObjects(first, BUCKET, bucketDir);
    } finally {
        await first.stop();
    }
    expect(fs.existsSync(path.join(bucketDir, "index.json"))).toBe(false);
    // The old bodies are gone, each replaced by one in the new format.
    const files = fs.readdirSync(bucketDir).filter((f) => /^[0-9a-f]{64}$/.test(f));
    expect([files.length, old.filter((o) => files.includes(o.file))]).toEqual([3, []]);
    const second = await startS3({ buckets, dataDir });
    try {
        expect(old.map((o) => [second.object(BUCKET, o.key)?.body.toString(), second.object(BUCKET, o.key)?.contentType])).toEqual(old.map((o) => [o.body, o.contentType]));
    } finally {
        await second.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
    }
});
