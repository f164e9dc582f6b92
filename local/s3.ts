/**
 * A local, in-memory, path-style stand-in for Amazon S3: what this program's functions and a mobile app
 * do with the uploads bucket, in the wire format `@aws-sdk/client-s3` speaks (REST-XML), SigV4 verified.
 *
 * Operations (path-style: `/<bucket>` and `/<bucket>/<key>`):
 *   - `POST /<bucket>` multipart/form-data: a browser-based upload with a POST policy (what
 *     `@aws-sdk/s3-presigned-post`'s `createPresignedPost` hands out), checked as S3 documents it in
 *     "Creating a POST policy" and "Authenticating requests in browser-based uploads using POST (AWS
 *     Signature Version 4)": `x-amz-algorithm` AWS4-HMAC-SHA256, `x-amz-credential`
 *     `<key>/<yyyymmdd>/<region>/s3/aws4_request`, `x-amz-signature` = hex HMAC-SHA256 of the base64
 *     `Policy` with the SigV4 signing key; the policy's `expiration` not passed; every condition met
 *     (`{"field": "value"}` and `["eq", "$field", "value"]` exact, `["starts-with", "$field", "prefix"]`,
 *     `["content-length-range", min, max]` on the file's size); every form field other than
 *     `x-amz-signature`, `file`, `policy` and `x-ignore-*` named by a condition; `file` the last field;
 *     `${filename}` in `key` replaced by the file's name. Field names are case-insensitive. Answers
 *     `success_action_status` (200, 201 with a `PostResponse` document, or the default 204).
 *   - PutObject (`PUT /<bucket>/<key>`, for legacy direct uploads and tests), HeadObject, GetObject
 *     (`versionId` too), DeleteObject (`versionId` too), ListObjectsV2 (`list-type=2`: `prefix`,
 *     `max-keys`, `continuation-token`, `start-after`), ListObjectVersions (`?versions`: `prefix`,
 *     `max-keys`, `key-marker`, `version-id-marker`).
 *   - A versioned bucket keeps every version: a delete without `versionId` adds a delete marker, with
 *     one removes that version (or marker) for good. An unversioned bucket has one `null` version per key.
 *   - `GET|HEAD /-media/<bucket>/<key>` (see {@link LocalS3.mediaBaseUrl}): the objects as the CloudFront
 *     distribution serves them — no signature, `X-Content-Type-Options: nosniff`, the configured
 *     `Cache-Control`, 403 for a missing key (CloudFront with origin access control gets 403 from S3
 *     for a missing object because it may not ListBucket).
 *
 * Signing: every request except POST uploads, media reads and preflights is signed with SigV4 for service `s3`,
 * in its `Authorization` header or in its query string (a presigned URL, as `@aws-sdk/s3-request-presigner`'s
 * `getSignedUrl` makes it: `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
 * `X-Amz-SignedHeaders`, `X-Amz-Signature`, payload `UNSIGNED-PAYLOAD`; "Authenticating Requests: Using Query
 * Parameters (AWS Signature Version 4)"), and verified (signature recomputed, local/sigv4.ts) with the secret of
 * its access key; unknown keys are 403 InvalidAccessKeyId, requests more than 15 minutes off the clock 403
 * RequestTimeTooSkewed, a presigned URL past `X-Amz-Expires` 403 AccessDenied "Request has expired" (longer than
 * 604800 s: 400 AuthorizationQueryParametersError). Temporary credentials ({@link S3Credentials} with a session
 * token) must come with their token — `x-amz-security-token`, `X-Amz-Security-Token` of a presigned URL, or the
 * POST form's `x-amz-security-token` — and before they expire: a wrong token (or one sent with long-term
 * credentials) is 400 InvalidToken, none 403 InvalidAccessKeyId, expired credentials 400 ExpiredToken ("Error
 * responses", S3 API reference).
 * Authorization: `authorize` (default: allow) is asked for the IAM action of each request, as a policy
 * would be: s3:GetObject (Get/Head), s3:GetObjectVersion, s3:PutObject (Put/POST), s3:DeleteObject,
 * s3:DeleteObjectVersion, s3:ListBucket (with the prefix), s3:ListBucketVersions ({@link statementsAllow}
 * evaluates a role's statements as declared in infra/declarations.ts). As in S3, a missing
 * object is 404 only when the caller may also ListBucket that key; otherwise 403 AccessDenied
 * ("HeadObject": "If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status code
 * 403 Forbidden error").
 *
 * CORS: a bucket's `cors` rules (`CORSRule`, in `aws.s3.BucketCorsConfiguration` terms) answer browsers as S3
 * evaluates them ("Using cross-origin resource sharing (CORS)", S3 User Guide; "Appendix: OPTIONS object", S3 API
 * reference). A preflight (`OPTIONS` on the bucket or a key, no signature) gets the first rule whose
 * `AllowedOrigin` (one `*` wildcard at most) matches `Origin`, whose `AllowedMethod` has
 * `Access-Control-Request-Method` and whose `AllowedHeader` entries match every header of
 * `Access-Control-Request-Headers`: 200 with `Access-Control-Allow-Origin` (the origin sent),
 * `-Allow-Methods` (the method asked), `-Allow-Headers` (the headers asked), `-Expose-Headers` and `-Max-Age`;
 * no matching rule is 403 AccessForbidden, a bucket without rules 403 too, no `Origin` 400. Any other request to a
 * bucket with an `Origin` that a rule allows for its method carries the same headers, errors included.
 *
 * Errors: `<Error><Code/><Message/><RequestId/></Error>` with S3's codes and statuses (NoSuchKey 404,
 * NoSuchBucket 404, AccessDenied 403, SignatureDoesNotMatch 403, EntityTooLarge/EntityTooSmall 400,
 * InvalidArgument 400, MalformedPOSTRequest 400, InvalidRequest 400, InvalidToken/ExpiredToken 400,
 * AccessForbidden 403 (CORS), NotImplemented 501). HEAD answers
 * carry no body: the SDK names a 404 `NotFound` and a 403 `Forbidden`.
 *
 * Deliberate differences (it is a local double): one region, no ACLs or bucket policies, no multipart upload, no
 * delimiter listings (501 NotImplemented), no copy, no checksum validation beyond SigV4's payload hash,
 * ETags are the MD5 of the body, no CORS on the media URL (CloudFront's response headers policy adds none).
 * Objects are kept in memory and, with `dataDir`, written through to disk (every version and delete marker) so
 * that they survive a restart.
 */
import { createHash, createHmac, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import type { BucketCorsRule, UploadsBucketStatement } from "../infra/declarations";
import { checkSigV4, readSigV4, SigV4Failure } from "./sigv4";

/** The IAM actions a request to this endpoint needs. */
export type S3Action =
    | "s3:GetObject"
    | "s3:GetObjectVersion"
    | "s3:PutObject"
    | "s3:DeleteObject"
    | "s3:DeleteObjectVersion"
    | "s3:ListBucket"
    | "s3:ListBucketVersions";

/** What {@link LocalS3Options.authorize} is asked. */
export interface S3AccessRequest {
    accessKeyId: string;
    action: S3Action;
    bucket: string;
    /** The object key (object actions), or the listing's prefix (list actions; "" for none). */
    key: string;
}

/**
 * A caller's credentials: its secret and, for temporary credentials (an identity pool's, a role's), the session
 * token every request must carry and when they expire.
 */
export interface S3Credentials {
    secretAccessKey: string;
    sessionToken?: string;
    expiration?: Date;
}

/**
 * Whether a role's statements on a bucket (infra/declarations.ts, the same ones its IAM policy is built from)
 * allow a request, as IAM evaluates Allow statements: the action is listed; an object action's key matches the
 * statement's `keys`, a list action's prefix its `listPrefix` (the `s3:prefix` condition); `*` matches any
 * characters and `?` one, and a policy variable (`${cognito-identity.amazonaws.com:sub}`) is replaced by its
 * value in `variables` — a statement naming a variable that has none matches nothing ("IAM policy elements:
 * Variables and tags", IAM User Guide).
 */
export function statementsAllow(statements: readonly UploadsBucketStatement[], request: S3AccessRequest, variables: Record<string, string> = {}): boolean {
    const list = request.action === "s3:ListBucket" || request.action === "s3:ListBucketVersions";
    return statements.some((s) => {
        if (!(s.Action as readonly string[]).includes(request.action)) return false;
        // List actions are on the bucket's ARN, object actions on its objects' ARNs.
        const pattern = "keys" in s ? (list ? undefined : s.keys) : list ? s.listPrefix : undefined;
        return pattern !== undefined && (iamPattern(pattern, variables)?.test(request.key) ?? false);
    });
}

function iamPattern(pattern: string, variables: Record<string, string>): RegExp | undefined {
    const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    let source = "";
    for (const part of pattern.split(/(\$\{[^}]+\})/)) {
        const variable = /^\$\{([^}]+)\}$/.exec(part);
        if (variable) {
            const value = variables[variable[1]];
            if (value === undefined) return undefined;
            source += literal(value);
        } else {
            source += [...part].map((c) => (c === "*" ? ".*" : c === "?" ? "." : literal(c))).join("");
        }
    }
    return new RegExp(`^${source}$`, "s");
}

export interface LocalS3Options {
    /**
     * Buckets that exist; `versioned` keeps every version; `cors`, the bucket's CORS rules (default none: every
     * preflight is refused, and no response carries CORS headers).
     */
    buckets: { name: string; versioned?: boolean; cors?: BucketCorsRule[] }[];
    /**
     * Access key id → secret access key (or {@link S3Credentials}) of every caller, or a lookup (e.g. the temporary
     * credentials the local identity pool issues). Default: `{ local: "local" }`.
     */
    credentials?: Record<string, string | S3Credentials> | ((accessKeyId: string) => string | S3Credentials | undefined);
    /** Port on 127.0.0.1. Default: an ephemeral one. */
    port?: number;
    /** Region of the bucket and of every signature. Default `us-east-1`. */
    region?: string;
    /** Whether the caller may do this; default: everything. */
    authorize?(request: S3AccessRequest): boolean;
    /** `Cache-Control` of media reads (`/-media/...`). Default `max-age=3600`. */
    mediaCacheControl?: string;
    /** The clock (policy expiry, request skew, LastModified). Default: the real one. */
    now?: () => Date;
    /**
     * Keep every bucket's objects, all versions and delete markers, under `<dataDir>/<bucket>/`: each version's
     * body in a file of its own and `versions.json` listing them, written after every change and read at start.
     * Default: memory only.
     */
    dataDir?: string;
}

/** One version of an object (or a delete marker). */
export interface StoredVersion {
    versionId: string;
    deleteMarker: boolean;
    body: Buffer;
    contentType: string;
    etag: string;
    lastModified: Date;
}

/** One request the endpoint answered. */
export interface RecordedS3Request {
    method: string;
    path: string;
    operation: string;
    status: number;
    errorCode?: string;
}

export interface LocalS3 {
    /** `http://127.0.0.1:<port>`: give it to the SDK as `endpoint` (or `AWS_ENDPOINT_URL_S3`). */
    endpoint: string;
    /** The base URL that serves a bucket's objects as its CloudFront distribution would. */
    mediaBaseUrl(bucket: string): string;
    /** The current object at `key`, if any (not a delete marker). */
    object(bucket: string, key: string): StoredVersion | undefined;
    /** Every version of `key`, newest first (delete markers included). */
    versions(bucket: string, key: string): StoredVersion[];
    /** Keys with a current (non-deleted) object, sorted. */
    keys(bucket: string): string[];
    /** Stores an object directly, as if uploaded. */
    put(bucket: string, key: string, body: Buffer | string, contentType?: string): StoredVersion;
    /** Every request so far. */
    requests: RecordedS3Request[];
    stop(): Promise<void>;
}

const XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";
const MAX_REQUEST_BYTES = 512 * 1024 * 1024;
const MAX_SKEW_MS = 15 * 60 * 1000;

class S3Error extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
        readonly extra: Record<string, string> = {},
    ) {
        super(message);
    }
}

interface Reply {
    status: number;
    headers: Record<string, string>;
    body?: string | Buffer;
}

const accessDenied = () => new S3Error(403, "AccessDenied", "Access Denied");
const invalidAccessKeyId = () => new S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");

/** What a CORS answer varies by. */
const CORS_VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/** A CORS rule's `ExposeHeader` and `MaxAgeSeconds` as response headers. */
function ruleHeaders(rule: BucketCorsRule): Record<string, string> {
    return {
        ...(rule.exposeHeaders?.length ? { "access-control-expose-headers": rule.exposeHeaders.join(", ") } : {}),
        ...(rule.maxAgeSeconds !== undefined ? { "access-control-max-age": String(rule.maxAgeSeconds) } : {}),
    };
}

/** Whether `value` matches a CORS `AllowedOrigin` or `AllowedHeader`, which may hold one `*` wildcard ("CORS configuration", S3 User Guide). */
function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
    const [p, v] = ignoreCase ? [pattern.toLowerCase(), value.toLowerCase()] : [pattern, value];
    const star = p.indexOf("*");
    if (star < 0) return p === v;
    const [head, tail] = [p.slice(0, star), p.slice(star + 1)];
    return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail);
}

/** Starts the endpoint on an ephemeral loopback port. */
export async function startS3(options: LocalS3Options): Promise<LocalS3> {
    const region = options.region ?? "us-east-1";
    const known = options.credentials ?? { local: "local" };
    const credentialsOf = (accessKeyId: string): S3Credentials | undefined => {
        const found = typeof known === "function" ? known(accessKeyId) : Object.hasOwn(known, accessKeyId) ? known[accessKeyId] : undefined;
        return typeof found === "string" ? { secretAccessKey: found } : found;
    };
    const now = options.now ?? (() => new Date());
    const authorize = options.authorize ?? (() => true);
    const mediaCacheControl = options.mediaCacheControl ?? "max-age=3600";
    const buckets = new Map<string, { versioned: boolean; cors: BucketCorsRule[]; objects: Map<string, StoredVersion[]> }>();
    for (const b of options.buckets) buckets.set(b.name, { versioned: b.versioned ?? false, cors: b.cors ?? [], objects: new Map() });
    const requests: RecordedS3Request[] = [];
    const disk = options.dataDir === undefined ? undefined : objectFiles(options.dataDir);
    if (disk) for (const [name, bucket] of buckets) disk.load(name, bucket.objects);
    /** Writes what changed at `key` through to disk (with `dataDir`). */
    const changed = (name: string, key: string) => {
        const bucket = buckets.get(name);
        if (disk && bucket) disk.save(name, key, bucket.objects);
    };

    const bucketOf = (name: string) => {
        const bucket = buckets.get(name);
        if (!bucket) throw new S3Error(404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: name });
        return bucket;
    };
    const current = (name: string, key: string): StoredVersion | undefined => {
        const latest = buckets.get(name)?.objects.get(key)?.[0];
        return latest && !latest.deleteMarker ? latest : undefined;
    };
    const store = (name: string, key: string, body: Buffer, contentType: string): StoredVersion => {
        const bucket = bucketOf(name);
        const version: StoredVersion = {
            versionId: bucket.versioned ? newVersionId() : "null",
            deleteMarker: false,
            body,
            contentType,
            etag: `"${createHash("md5").update(body).digest("hex")}"`,
            lastModified: now(),
        };
        const list = bucket.objects.get(key) ?? [];
        bucket.objects.set(key, bucket.versioned ? [version, ...list] : [version]);
        changed(name, key);
        return version;
    };

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
        });
        req.on("end", () => {
            const record: RecordedS3Request = { method: req.method ?? "", path: req.url ?? "", operation: "", status: 0 };
            requests.push(record);
            const answer = (status: number, headers: Record<string, string>, body?: string | Buffer) => {
                record.status = status;
                res.writeHead(status, { "x-amz-request-id": randomUUID().replace(/-/g, "").slice(0, 16).toUpperCase(), ...corsHeaders(req), ...headers });
                res.end(req.method === "HEAD" ? undefined : body);
            };
            handle(req, Buffer.concat(chunks), size, record)
                .then((r) => answer(r.status, r.headers, r.body))
                .catch((err: unknown) => {
                    const e =
                        err instanceof S3Error
                            ? err
                            : err instanceof SigV4Failure
                              ? new S3Error(err.status, err.code === "IncompleteSignature" ? "AuthorizationHeaderMalformed" : err.code, err.message)
                              : new S3Error(500, "InternalError", String(err));
                    record.errorCode = e.code;
                    const extra = Object.entries(e.extra).map(([k, v]) => `<${k}>${xml(v)}</${k}>`).join("");
                    answer(e.status, { "content-type": "application/xml" }, `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${e.code}</Code><Message>${xml(e.message)}</Message>${extra}<RequestId>local</RequestId></Error>`);
                });
        });
    });

    async function handle(req: http.IncomingMessage, body: Buffer, size: number, record: RecordedS3Request): Promise<Reply> {
        const url = new URL(req.url ?? "/", "http://localhost");
        const segments = url.pathname.split("/").slice(1);
        if (segments[0] === "-media") {
            record.operation = "MediaRead";
            return media(req.method ?? "", decodeURIComponent(segments[1] ?? ""), decodeURIComponent(segments.slice(2).join("/")));
        }
        if (size > MAX_REQUEST_BYTES) throw new S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
        const bucketName = decodeURIComponent(segments[0] ?? "");
        const key = decodeURIComponent(segments.slice(1).join("/"));
        if (bucketName === "") throw new S3Error(501, "NotImplemented", "ListBuckets is not supported by this local endpoint");
        if (req.method === "OPTIONS") {
            record.operation = "PreflightRequest";
            return preflight(req, bucketName);
        }
        if (req.method === "POST" && key === "" && [...url.searchParams.keys()].length === 0) {
            record.operation = "PostObject";
            return postObject(req, url, bucketName, body);
        }
        const accessKeyId = signedBy(req, url, body);
        const allowed = (action: S3Action, k: string) => authorize({ accessKeyId, action, bucket: bucketName, key: k });
        const bucket = bucketOf(bucketName);
        const versionId = url.searchParams.get("versionId") ?? undefined;

        if (key === "") {
            if (req.method !== "GET") throw new S3Error(501, "NotImplemented", `${req.method} on a bucket is not supported by this local endpoint`);
            if (url.searchParams.has("versions")) {
                record.operation = "ListObjectVersions";
                if (!allowed("s3:ListBucketVersions", url.searchParams.get("prefix") ?? "")) throw accessDenied();
                return listVersions(bucketName, bucket.objects, url.searchParams);
            }
            if (url.searchParams.get("list-type") === "2") {
                record.operation = "ListObjectsV2";
                if (!allowed("s3:ListBucket", url.searchParams.get("prefix") ?? "")) throw accessDenied();
                return listV2(bucketName, bucket.objects, url.searchParams);
            }
            throw new S3Error(501, "NotImplemented", "Only ListObjectsV2 (list-type=2) and ListObjectVersions are supported on a bucket");
        }

        switch (req.method) {
            case "GET":
            case "HEAD": {
                record.operation = req.method === "GET" ? "GetObject" : "HeadObject";
                if (!allowed(versionId ? "s3:GetObjectVersion" : "s3:GetObject", key)) throw accessDenied();
                const found = versionId ? bucket.objects.get(key)?.find((v) => v.versionId === versionId) : current(bucketName, key);
                if (!found || found.deleteMarker) {
                    if (versionId && found?.deleteMarker) throw new S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
                    if (!allowed("s3:ListBucket", key)) throw accessDenied();
                    if (versionId) throw new S3Error(404, "NoSuchVersion", "The specified version does not exist.", { Key: key, VersionId: versionId });
                    throw new S3Error(404, "NoSuchKey", "The specified key does not exist.", { Key: key });
                }
                return { status: 200, headers: objectHeaders(found, bucket.versioned), body: found.body };
            }
            case "PUT": {
                record.operation = "PutObject";
                if ([...url.searchParams.keys()].some((k) => k !== "x-id") || req.headers["x-amz-copy-source"]) {
                    throw new S3Error(501, "NotImplemented", "Only a plain PutObject is supported by this local endpoint");
                }
                if (!allowed("s3:PutObject", key)) throw accessDenied();
                const stored = store(bucketName, key, body, header(req, "content-type") ?? "binary/octet-stream");
                return { status: 200, headers: { etag: stored.etag, ...(bucket.versioned ? { "x-amz-version-id": stored.versionId } : {}) } };
            }
            case "DELETE": {
                record.operation = "DeleteObject";
                if (!allowed(versionId ? "s3:DeleteObjectVersion" : "s3:DeleteObject", key)) throw accessDenied();
                const list = bucket.objects.get(key) ?? [];
                if (versionId !== undefined) {
                    const removed = list.find((v) => v.versionId === versionId);
                    bucket.objects.set(key, list.filter((v) => v !== removed));
                    if ((bucket.objects.get(key) ?? []).length === 0) bucket.objects.delete(key);
                    changed(bucketName, key);
                    return { status: 204, headers: { "x-amz-version-id": versionId, ...(removed?.deleteMarker ? { "x-amz-delete-marker": "true" } : {}) } };
                }
                if (!bucket.versioned) {
                    bucket.objects.delete(key);
                    changed(bucketName, key);
                    return { status: 204, headers: {} };
                }
                const marker: StoredVersion = { versionId: newVersionId(), deleteMarker: true, body: Buffer.alloc(0), contentType: "", etag: "", lastModified: now() };
                bucket.objects.set(key, [marker, ...list]);
                changed(bucketName, key);
                return { status: 204, headers: { "x-amz-version-id": marker.versionId, "x-amz-delete-marker": "true" } };
            }
            default:
                throw new S3Error(501, "NotImplemented", `${req.method} on an object is not supported by this local endpoint`);
        }
    }

    /**
     * Verifies the SigV4 signature, in the `Authorization` header or the query string (a presigned URL), and the
     * caller's session token; returns the access key id.
     */
    function signedBy(req: http.IncomingMessage, url: URL, body: Buffer): string {
        if (req.headers.authorization === undefined && !url.searchParams.has("X-Amz-Algorithm")) {
            throw new S3Error(403, "AccessDenied", "Anonymous requests are not allowed: sign with SigV4");
        }
        // S3 accepts a chunked (streaming) payload hash; this endpoint checks a whole-body hash only.
        const declared = header(req, "x-amz-content-sha256");
        if (declared?.startsWith("STREAMING-")) throw new S3Error(501, "NotImplemented", "aws-chunked uploads are not supported by this local endpoint");
        const signed = readSigV4(req, url, body, { service: "s3", region, query: true });
        const caller = credentialsOf(signed.accessKeyId);
        if (caller === undefined) throw invalidAccessKeyId();
        checkSession(caller, signed.securityToken);
        const signedAt = parseAmzDate(signed.amzDate);
        if (signed.presigned) {
            // "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)": valid X-Amz-Expires seconds from X-Amz-Date.
            const expires = signedAt + signed.presigned.expiresSeconds * 1000;
            // A URL dated ahead of the clock (beyond the allowed skew) is not valid yet: else it would outlive X-Amz-Expires.
            if (signedAt - now().getTime() > MAX_SKEW_MS) throw new S3Error(403, "AccessDenied", "Request is not yet valid");
            if (now().getTime() > expires) {
                throw new S3Error(403, "AccessDenied", "Request has expired", {
                    "X-Amz-Expires": String(signed.presigned.expiresSeconds),
                    Expires: new Date(expires).toISOString().replace(/\.\d{3}Z$/, "Z"),
                    ServerTime: now().toISOString().replace(/\.\d{3}Z$/, "Z"),
                });
            }
        } else if (Math.abs(signedAt - now().getTime()) > MAX_SKEW_MS) {
            throw new S3Error(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.");
        }
        checkSigV4(req, url, body, signed, caller.secretAccessKey);
        return signed.accessKeyId;
    }

    /**
     * Temporary credentials are used with their session token, until they expire ("Error responses", S3 API
     * reference: InvalidToken and ExpiredToken are 400 Bad Request). Without the token their access key id means
     * nothing to S3 (InvalidAccessKeyId); a token with long-term credentials is as wrong as a wrong token.
     */
    function checkSession(caller: S3Credentials, token: string | undefined): void {
        if (caller.sessionToken !== undefined && token === undefined) throw invalidAccessKeyId();
        if (token !== caller.sessionToken) throw new S3Error(400, "InvalidToken", "The provided token is malformed or otherwise invalid.");
        if (caller.expiration !== undefined && caller.expiration.getTime() <= now().getTime()) {
            throw new S3Error(400, "ExpiredToken", "The provided token has expired.");
        }
    }

    /**
     * A browser's preflight (`OPTIONS`, "Appendix: OPTIONS object", S3 API reference), answered as S3 evaluates
     * a bucket's CORS configuration ("Using cross-origin resource sharing (CORS)", S3 User Guide): the first rule
     * whose `AllowedOrigin` matches `Origin`, whose `AllowedMethod` has `Access-Control-Request-Method`, and
     * whose `AllowedHeader` entries match every header of `Access-Control-Request-Headers`; none matching is 403.
     */
    function preflight(req: http.IncomingMessage, bucketName: string): Reply {
        const bucket = bucketOf(bucketName);
        const origin = header(req, "origin");
        const method = header(req, "access-control-request-method");
        if (origin === undefined) throw new S3Error(400, "BadRequest", "Insufficient information. Origin request header needed.");
        if (method === undefined) throw new S3Error(400, "BadRequest", "Invalid Access-Control-Request-Method: null");
        if (bucket.cors.length === 0) throw new S3Error(403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", { Method: method, ResourceType: "BUCKET" });
        const requested = (header(req, "access-control-request-headers") ?? "")
            .split(",")
            .map((h) => h.trim())
            .filter((h) => h !== "");
        const rule = bucket.cors.find(
            (r) =>
                r.allowedOrigins.some((o) => wildcard(o, origin, false)) &&
                (r.allowedMethods as string[]).includes(method) &&
                requested.every((h) => (r.allowedHeaders ?? []).some((allowed) => wildcard(allowed, h, true))),
        );
        if (!rule) {
            throw new S3Error(
                403,
                "AccessForbidden",
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
                { Method: method, ResourceType: "OBJECT" },
            );
        }
        return {
            status: 200,
            headers: {
                "access-control-allow-origin": origin,
                "access-control-allow-methods": method,
                ...(requested.length > 0 ? { "access-control-allow-headers": requested.join(", ") } : {}),
                ...ruleHeaders(rule),
                vary: CORS_VARY,
                "content-length": "0",
            },
        };
    }

    /**
     * The CORS headers of an actual (not preflight) request to a bucket: with an `Origin` that a rule allows for the
     * request's method, the same rule's headers as for its preflight; otherwise none.
     */
    function corsHeaders(req: http.IncomingMessage): Record<string, string> {
        const origin = header(req, "origin");
        if (origin === undefined || req.method === "OPTIONS") return {};
        let bucketName: string;
        try {
            bucketName = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname.split("/")[1] ?? "");
        } catch {
            return {};
        }
        const rules = buckets.get(bucketName)?.cors ?? [];
        if (rules.length === 0) return {};
        const rule = rules.find((r) => r.allowedOrigins.some((o) => wildcard(o, origin, false)) && (r.allowedMethods as string[]).includes(req.method ?? ""));
        if (!rule) return { vary: CORS_VARY };
        return { "access-control-allow-origin": origin, "access-control-allow-methods": rule.allowedMethods.join(", "), ...ruleHeaders(rule), vary: CORS_VARY };
    }

    /** A browser-based upload: the POST policy is the authorization. */
    async function postObject(req: http.IncomingMessage, url: URL, bucketName: string, body: Buffer): Promise<Reply> {
        const bucket = bucketOf(bucketName);
        const contentType = header(req, "content-type") ?? "";
        if (!contentType.toLowerCase().startsWith("multipart/form-data")) {
            throw new S3Error(412, "PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data");
        }
        let form: FormData;
        try {
            form = await new Request(url, { method: "POST", headers: { "content-type": contentType }, body }).formData();
        } catch {
            throw new S3Error(400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.");
        }
        const entries = [...form.entries()];
        const fileIndex = entries.findIndex(([name]) => name.toLowerCase() === "file");
        const file = fileIndex >= 0 ? entries[fileIndex][1] : undefined;
        if (file === undefined || entries.filter(([name]) => name.toLowerCase() === "file").length !== 1) {
            throw new S3Error(400, "InvalidArgument", "POST requires exactly one file upload per request.", { ArgumentName: "file" });
        }
        if (fileIndex !== entries.length - 1) {
            throw new S3Error(400, "InvalidArgument", "Bucket POST must contain the file as the last field; fields after it are not allowed.");
        }
        const fields = new Map<string, string>();
        for (const [name, value] of entries.slice(0, -1)) {
            if (typeof value !== "string") throw new S3Error(400, "InvalidArgument", `Only the file field may be a file, not ${name}`);
            const lower = name.toLowerCase();
            if (fields.has(lower)) throw new S3Error(400, "InvalidArgument", `Bucket POST must not repeat the field ${name}`);
            fields.set(lower, value);
        }
        const data = typeof file === "string" ? Buffer.from(file, "utf8") : Buffer.from(await file.arrayBuffer());
        const fileName = typeof file === "string" ? "" : file.name;

        const policyText = fields.get("policy");
        if (policyText === undefined) throw accessDenied();
        const algorithm = fields.get("x-amz-algorithm");
        const credential = fields.get("x-amz-credential") ?? "";
        const signature = fields.get("x-amz-signature") ?? "";
        if (algorithm !== "AWS4-HMAC-SHA256") {
            throw new S3Error(400, "InvalidArgument", "Bucket POST must contain x-amz-algorithm AWS4-HMAC-SHA256 (SigV4 only here)", { ArgumentName: "x-amz-algorithm" });
        }
        const m = /^([^/]+)\/(\d{8})\/([a-z0-9-]+)\/s3\/aws4_request$/.exec(credential);
        if (!m) throw new S3Error(400, "InvalidArgument", "x-amz-credential must be <access key>/<yyyymmdd>/<region>/s3/aws4_request", { ArgumentName: "x-amz-credential" });
        const [, accessKeyId, date, credentialRegion] = m;
        if (credentialRegion !== region) {
            throw new S3Error(400, "AuthorizationQueryParametersError", `Error parsing the X-Amz-Credential parameter; the region '${credentialRegion}' is wrong; expecting '${region}'`);
        }
        const caller = credentialsOf(accessKeyId);
        if (caller === undefined) throw invalidAccessKeyId();
        // Signed with temporary credentials, the form carries their token (`x-amz-security-token`, "Creating a POST policy").
        checkSession(caller, fields.get("x-amz-security-token"));
        let key: Buffer = createHmac("sha256", `AWS4${caller.secretAccessKey}`).update(date).digest();
        for (const part of [region, "s3", "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
        if (createHmac("sha256", key).update(policyText).digest("hex") !== signature) {
            throw new S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.");
        }

        let policy: { expiration?: unknown; conditions?: unknown };
        try {
            policy = JSON.parse(Buffer.from(policyText, "base64").toString("utf8"));
        } catch {
            throw new S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.");
        }
        const expiration = typeof policy.expiration === "string" ? Date.parse(policy.expiration) : NaN;
        if (Number.isNaN(expiration)) throw new S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Policy missing expiration.");
        if (now().getTime() > expiration) throw new S3Error(403, "AccessDenied", "Invalid according to Policy: Policy expired.");
        if (!Array.isArray(policy.conditions)) throw new S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Policy missing conditions.");

        // What the form says, with `bucket` from the URL and `${filename}` substituted in the key.
        const objectKey = (fields.get("key") ?? "").replace("${filename}", fileName);
        if (objectKey === "") throw new S3Error(400, "InvalidArgument", "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.", { ArgumentName: "key" });
        const value = (name: string) => (name === "bucket" ? bucketName : name === "key" ? objectKey : fields.get(name));
        const covered = new Set<string>(["bucket"]);
        const failed = (condition: unknown) =>
            new S3Error(403, "AccessDenied", `Invalid according to Policy: Policy Condition failed: ${JSON.stringify(condition).replace(/,/g, ", ")}`);
        for (const condition of policy.conditions as unknown[]) {
            if (Array.isArray(condition)) {
                const [op, field, arg, arg2] = condition as unknown[];
                const operator = typeof op === "string" ? op.toLowerCase() : "";
                if (operator === "content-length-range") {
                    const min = Number(field);
                    const max = Number(arg);
                    if (data.length > max) throw new S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", { ProposedSize: String(data.length), MaxSizeAllowed: String(max) });
                    if (data.length < min) throw new S3Error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", { ProposedSize: String(data.length), MinSizeAllowed: String(min) });
                    continue;
                }
                if ((operator !== "eq" && operator !== "starts-with") || typeof field !== "string" || !field.startsWith("$") || typeof arg !== "string" || arg2 !== undefined) {
                    throw new S3Error(400, "InvalidPolicyDocument", `Invalid Policy: Invalid Condition: ${JSON.stringify(condition)}`);
                }
                const name = field.slice(1).toLowerCase();
                covered.add(name);
                const actual = value(name) ?? "";
                if (operator === "eq" ? actual !== arg : !actual.startsWith(arg)) throw failed(condition);
            } else if (condition !== null && typeof condition === "object" && Object.keys(condition).length === 1) {
                const [[field, expected]] = Object.entries(condition);
                const name = field.toLowerCase();
                covered.add(name);
                if (value(name) !== expected) throw failed(["eq", `$${field}`, expected]);
            } else {
                throw new S3Error(400, "InvalidPolicyDocument", `Invalid Policy: Invalid Condition: ${JSON.stringify(condition)}`);
            }
        }
        for (const name of fields.keys()) {
            if (["policy", "x-amz-signature", "file"].includes(name) || name.startsWith("x-ignore-") || covered.has(name)) continue;
            throw new S3Error(403, "AccessDenied", `Invalid according to Policy: Extra input fields: ${name}`);
        }
        if (!authorize({ accessKeyId, action: "s3:PutObject", bucket: bucketName, key: objectKey })) throw accessDenied();

        const stored = store(bucketName, objectKey, data, fields.get("content-type") ?? "binary/octet-stream");
        const location = `${url.origin}/${bucketName}/${objectKey.split("/").map(encodeURIComponent).join("/")}`;
        const headers = { etag: stored.etag, location, ...(bucket.versioned ? { "x-amz-version-id": stored.versionId } : {}) };
        const status = fields.get("success_action_status");
        if (status === "201") {
            const doc = `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${xml(location)}</Location><Bucket>${xml(bucketName)}</Bucket><Key>${xml(objectKey)}</Key><ETag>${xml(stored.etag)}</ETag></PostResponse>`;
            return { status: 201, headers: { ...headers, "content-type": "application/xml" }, body: doc };
        }
        return { status: status === "200" ? 200 : 204, headers };
    }

    function media(method: string, bucketName: string, key: string): Reply {
        if (method !== "GET" && method !== "HEAD") throw new S3Error(405, "MethodNotAllowed", "The media URL serves GET and HEAD only.");
        const found = buckets.has(bucketName) ? current(bucketName, key) : undefined;
        if (!found) throw accessDenied();
        return {
            status: 200,
            headers: {
                ...objectHeaders(found, false),
                "cache-control": mediaCacheControl,
                "x-content-type-options": "nosniff",
            },
            body: found.body,
        };
    }

    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    return {
        endpoint,
        mediaBaseUrl: (bucket) => `${endpoint}/-media/${encodeURIComponent(bucket)}`,
        object: current,
        versions: (bucket, key) => [...(buckets.get(bucket)?.objects.get(key) ?? [])],
        keys: (bucket) => [...(buckets.get(bucket)?.objects.keys() ?? [])].filter((k) => current(bucket, k)).sort(),
        put: (bucket, key, body, contentType = "binary/octet-stream") => store(bucket, key, Buffer.from(body), contentType),
        requests,
        stop: () =>
            new Promise<void>((resolve, reject) => {
                server.close((e) => (e ? reject(e) : resolve()));
                server.closeAllConnections();
            }),
    };
}

function listV2(bucket: string, objects: Map<string, StoredVersion[]>, params: URLSearchParams): Reply {
    if (params.has("delimiter")) throw new S3Error(501, "NotImplemented", "Listing with a delimiter is not supported by this local endpoint");
    const prefix = params.get("prefix") ?? "";
    const maxKeys = maxKeysOf(params);
    const token = params.get("continuation-token");
    let after = params.get("start-after") ?? "";
    if (token !== null) {
        const decoded = Buffer.from(token, "base64url").toString("utf8");
        if (!decoded.startsWith("k:")) throw new S3Error(400, "InvalidArgument", "The continuation token provided is incorrect", { ArgumentName: "continuation-token" });
        after = decoded.slice(2);
    }
    const urlEncoded = params.get("encoding-type") === "url";
    const enc = (s: string) => (urlEncoded ? encodeURIComponent(s) : s);
    const keys = [...objects.entries()]
        .filter(([k, versions]) => k.startsWith(prefix) && k > after && versions[0] && !versions[0].deleteMarker)
        .map(([k]) => k)
        .sort();
    const page = keys.slice(0, maxKeys);
    const truncated = keys.length > page.length;
    const contents = page
        .map((k) => {
            const v = objects.get(k)![0];
            return `<Contents><Key>${xml(enc(k))}</Key><LastModified>${v.lastModified.toISOString()}</LastModified><ETag>${xml(v.etag)}</ETag><Size>${v.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
        })
        .join("");
    const next = truncated ? `<NextContinuationToken>${Buffer.from(`k:${page[page.length - 1]}`).toString("base64url")}</NextContinuationToken>` : "";
    const doc =
        `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="${XMLNS}"><Name>${xml(bucket)}</Name><Prefix>${xml(enc(prefix))}</Prefix>` +
        `<KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>${urlEncoded ? "<EncodingType>url</EncodingType>" : ""}<IsTruncated>${truncated}</IsTruncated>` +
        `${token !== null ? `<ContinuationToken>${xml(token)}</ContinuationToken>` : ""}${next}${contents}</ListBucketResult>`;
    return { status: 200, headers: { "content-type": "application/xml" }, body: doc };
}

function listVersions(bucket: string, objects: Map<string, StoredVersion[]>, params: URLSearchParams): Reply {
    if (params.has("delimiter")) throw new S3Error(501, "NotImplemented", "Listing with a delimiter is not supported by this local endpoint");
    const prefix = params.get("prefix") ?? "";
    const maxKeys = maxKeysOf(params);
    const keyMarker = params.get("key-marker") ?? "";
    const versionMarker = params.get("version-id-marker") ?? "";
    const all: { key: string; version: StoredVersion; latest: boolean }[] = [];
    for (const key of [...objects.keys()].filter((k) => k.startsWith(prefix)).sort()) {
        objects.get(key)!.forEach((version, i) => all.push({ key, version, latest: i === 0 }));
    }
    let start = 0;
    if (keyMarker !== "") {
        const markerIndex = versionMarker === "" ? -1 : all.findIndex((e) => e.key === keyMarker && e.version.versionId === versionMarker);
        start = markerIndex >= 0 ? markerIndex + 1 : all.findIndex((e) => e.key > keyMarker);
        if (start < 0) start = all.length;
    }
    const page = all.slice(start, start + maxKeys);
    const truncated = start + page.length < all.length;
    const last = page[page.length - 1];
    const entries = page
        .map(({ key, version, latest }) =>
            version.deleteMarker
                ? `<DeleteMarker><Key>${xml(key)}</Key><VersionId>${version.versionId}</VersionId><IsLatest>${latest}</IsLatest><LastModified>${version.lastModified.toISOString()}</LastModified></DeleteMarker>`
                : `<Version><Key>${xml(key)}</Key><VersionId>${version.versionId}</VersionId><IsLatest>${latest}</IsLatest><LastModified>${version.lastModified.toISOString()}</LastModified><ETag>${xml(version.etag)}</ETag><Size>${version.body.length}</Size><StorageClass>STANDARD</StorageClass></Version>`,
        )
        .join("");
    const doc =
        `<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="${XMLNS}"><Name>${xml(bucket)}</Name><Prefix>${xml(prefix)}</Prefix>` +
        `<KeyMarker>${xml(keyMarker)}</KeyMarker><VersionIdMarker>${xml(versionMarker)}</VersionIdMarker><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>` +
        (truncated && last ? `<NextKeyMarker>${xml(last.key)}</NextKeyMarker><NextVersionIdMarker>${last.version.versionId}</NextVersionIdMarker>` : "") +
        `${entries}</ListVersionsResult>`;
    return { status: 200, headers: { "content-type": "application/xml" }, body: doc };
}

function maxKeysOf(params: URLSearchParams): number {
    const text = params.get("max-keys");
    if (text === null) return 1000;
    if (!/^\d+$/.test(text)) throw new S3Error(400, "InvalidArgument", "Provided max-keys not an integer or within integer range", { ArgumentName: "max-keys" });
    return Math.min(Number(text), 1000);
}

function objectHeaders(v: StoredVersion, versioned: boolean): Record<string, string> {
    return {
        "content-type": v.contentType,
        "content-length": String(v.body.length),
        etag: v.etag,
        "last-modified": v.lastModified.toUTCString(),
        "accept-ranges": "bytes",
        ...(versioned ? { "x-amz-version-id": v.versionId } : {}),
    };
}

function header(req: http.IncomingMessage, name: string): string | undefined {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(",") : v;
}

function parseAmzDate(text: string): number {
    return Date.UTC(+text.slice(0, 4), +text.slice(4, 6) - 1, +text.slice(6, 8), +text.slice(9, 11), +text.slice(11, 13), +text.slice(13, 15));
}

/** One version as `versions.json` lists it: its body is in `file` (none for a delete marker). */
interface SavedVersion {
    key: string;
    versionId: string;
    deleteMarker: boolean;
    contentType: string;
    etag: string;
    lastModified: string;
    file?: string;
}

/**
 * The on-disk copy of the buckets: `<dir>/<bucket>/<sha256 of key, version id and ETag>` holds a version's body, and
 * `<dir>/<bucket>/versions.json` lists every version, newest first per key. A body is written before the list
 * that names it, and the list is replaced atomically (written aside, then renamed).
 */
function objectFiles(dir: string) {
    // The ETag too: an unversioned bucket's every version is "null", and an overwrite must not reuse the old body.
    const names = new WeakMap<StoredVersion, string>();
    const fileOf = (key: string, v: StoredVersion) => {
        let name = names.get(v);
        if (name === undefined) {
            name = createHash("sha256").update(key).update("\0").update(v.versionId).update("\0").update(v.etag).digest("hex");
            names.set(v, name);
        }
        return name;
    };
    const listOf = (bucket: string) => path.join(dir, bucket, "versions.json");
    /** The body files on disk, by bucket and key. */
    const onDisk = new Map<string, Set<string>>();
    const filesOf = (key: string, versions: readonly StoredVersion[]) => new Set(versions.filter((v) => !v.deleteMarker).map((v) => fileOf(key, v)));
    return {
        load(bucket: string, objects: Map<string, StoredVersion[]>): void {
            const list = listOf(bucket);
            if (!fs.existsSync(list)) return;
            for (const v of JSON.parse(fs.readFileSync(list, "utf8")) as SavedVersion[]) {
                const body = v.file === undefined ? Buffer.alloc(0) : fs.readFileSync(path.join(dir, bucket, v.file));
                const stored: StoredVersion = { versionId: v.versionId, deleteMarker: v.deleteMarker, body, contentType: v.contentType, etag: v.etag, lastModified: new Date(v.lastModified) };
                if (v.file !== undefined) names.set(stored, v.file);
                objects.set(v.key, [...(objects.get(v.key) ?? []), stored]);
            }
            for (const [key, versions] of objects) onDisk.set(`${bucket}/${key}`, filesOf(key, versions));
        },
        save(bucket: string, key: string, objects: Map<string, StoredVersion[]>): void {
            const bucketDir = path.join(dir, bucket);
            fs.mkdirSync(bucketDir, { recursive: true });
            const versions = objects.get(key) ?? [];
            const files = filesOf(key, versions);
            const before = onDisk.get(`${bucket}/${key}`) ?? new Set<string>();
            for (const v of versions) {
                const file = fileOf(key, v);
                if (!v.deleteMarker && !before.has(file)) {
                    // Written aside, then renamed: a body file that exists is whole.
                    fs.writeFileSync(path.join(bucketDir, `${file}.tmp`), v.body);
                    fs.renameSync(path.join(bucketDir, `${file}.tmp`), path.join(bucketDir, file));
                }
            }
            const saved: SavedVersion[] = [...objects].flatMap(([k, kept]) =>
                kept.map((v) => ({
                    key: k,
                    versionId: v.versionId,
                    deleteMarker: v.deleteMarker,
                    contentType: v.contentType,
                    etag: v.etag,
                    lastModified: v.lastModified.toISOString(),
                    ...(v.deleteMarker ? {} : { file: fileOf(k, v) }),
                })),
            );
            fs.writeFileSync(`${listOf(bucket)}.tmp`, JSON.stringify(saved));
            fs.renameSync(`${listOf(bucket)}.tmp`, listOf(bucket));
            // Then the bodies this key no longer names (a version deleted for good, an unversioned key overwritten).
            for (const file of before) if (!files.has(file)) fs.rmSync(path.join(bucketDir, file), { force: true });
            onDisk.set(`${bucket}/${key}`, files);
        },
    };
}

function newVersionId(): string {
    return randomUUID().replace(/-/g, "");
}

function xml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
