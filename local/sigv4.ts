import { createHash, createHmac } from "node:crypto";
import type * as http from "node:http";

/** A request whose signature is missing, malformed or wrong: the status and error code AWS answers with. */
export class SigV4Failure extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
    ) {
        super(message);
    }
}

/** What a service expects of a signature: its name, and optionally its region and the caller's secret. */
export interface SigV4Expectation {
    service: string;
    region?: string;
    secret?: string;
    /**
     * Also accept the signature in the query string (a presigned URL: `X-Amz-Algorithm`, `X-Amz-Credential`,
     * `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`, and `X-Amz-Security-Token` for
     * temporary credentials), as S3 does ("Authenticating Requests: Using Query Parameters (AWS Signature
     * Version 4)", S3 API reference). Its payload is `UNSIGNED-PAYLOAD`. Default `false`.
     */
    query?: boolean;
}

/** A request's SigV4 signature as sent, its shape checked (see {@link readSigV4}). */
export interface SigV4Signature {
    accessKeyId: string;
    /** The credential scope's date, `yyyymmdd`. */
    date: string;
    region: string;
    service: string;
    /** `X-Amz-Date` (header or query parameter), `yyyymmddThhmmssZ`. */
    amzDate: string;
    signedHeaders: string[];
    signature: string;
    /** The session token sent with it (`x-amz-security-token` header or `X-Amz-Security-Token` parameter), if any. */
    securityToken?: string;
    /** For a presigned URL: its `X-Amz-Expires`, in seconds from `amzDate`. */
    presigned?: { expiresSeconds: number };
}

/**
 * Reads a request's SigV4 signature and checks its shape the way an AWS service does: the `Authorization`
 * header (or, with `expected.query`, the `X-Amz-*` query parameters), the credential scope's service (and
 * region, if given), the date, the signed headers, and that `x-amz-content-sha256` (when sent) is the body's
 * hash. Does not recompute the signature (see {@link checkSigV4}). Throws {@link SigV4Failure}.
 */
export function readSigV4(req: http.IncomingMessage, url: URL, body: Buffer, expected: SigV4Expectation): SigV4Signature {
    const auth = req.headers.authorization;
    const inQuery = auth === undefined && expected.query === true && url.searchParams.has("X-Amz-Algorithm");
    if (auth === undefined && !inQuery) {
        throw new SigV4Failure(400, "MissingAuthenticationToken", `Request is missing the SigV4 Authorization header (an AWS4-HMAC-SHA256 signature for service ${expected.service})`);
    }
    let credential: string[];
    let signedHeaderList: string;
    let signature: string;
    let amzDate: string | undefined;
    let presigned: SigV4Signature["presigned"];
    // A presigned URL's faults are AuthorizationQueryParametersError in S3 ("Error responses", S3 API reference).
    const malformed = inQuery ? "AuthorizationQueryParametersError" : "IncompleteSignature";
    if (inQuery) {
        const q = (name: string) => url.searchParams.get(name) ?? undefined;
        if (q("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256") throw new SigV4Failure(400, malformed, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
        const missing = ["X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"].filter((n) => q(n) === undefined);
        if (missing.length > 0) {
            throw new SigV4Failure(400, malformed, `Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters (missing ${missing.join(", ")}).`);
        }
        credential = q("X-Amz-Credential")!.split("/");
        signedHeaderList = q("X-Amz-SignedHeaders")!;
        signature = q("X-Amz-Signature")!;
        amzDate = q("X-Amz-Date");
        const expires = q("X-Amz-Expires")!;
        if (!/^\d+$/.test(expires)) throw new SigV4Failure(400, malformed, "X-Amz-Expires should be a number");
        if (Number(expires) > 604800) throw new SigV4Failure(400, malformed, "X-Amz-Expires must be less than a week (in seconds) that is 604800");
        if (Number(expires) < 1) throw new SigV4Failure(400, malformed, "X-Amz-Expires must be non-negative");
        presigned = { expiresSeconds: Number(expires) };
        if (!/^[0-9a-f]{64}$/.test(signature) || !/^[a-z0-9;-]+$/.test(signedHeaderList)) throw new SigV4Failure(400, malformed, "X-Amz-Signature or X-Amz-SignedHeaders is malformed");
    } else {
        const m = /^AWS4-HMAC-SHA256 Credential=([^\s,]+), ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth ?? "");
        if (!m) throw new SigV4Failure(400, malformed, `Authorization header is not a SigV4 (AWS4-HMAC-SHA256) signature: ${auth}`);
        credential = m[1].split("/");
        signedHeaderList = m[2];
        signature = m[3];
        const header = req.headers["x-amz-date"];
        amzDate = typeof header === "string" ? header : undefined;
    }
    const [accessKeyId, date, region, service, terminal] = credential;
    if (credential.length !== 5 || !accessKeyId || !/^\d{8}$/.test(date) || !/^[a-z0-9-]+$/.test(region) || !/^[a-z0-9-]+$/.test(service) || terminal !== "aws4_request") {
        throw new SigV4Failure(400, malformed, `Credential is not <access key>/<yyyymmdd>/<region>/<service>/aws4_request: ${credential.join("/")}`);
    }
    if (service !== expected.service) {
        throw new SigV4Failure(400, malformed, `Credential scope names service '${service}', expected '${expected.service}'`);
    }
    if (expected.region !== undefined && region !== expected.region) {
        throw new SigV4Failure(403, "SignatureDoesNotMatch", `Credential should be scoped to a valid region, not '${region}' (this local service is ${expected.region})`);
    }
    if (amzDate === undefined || !/^\d{8}T\d{6}Z$/.test(amzDate)) throw new SigV4Failure(400, malformed, "missing or malformed x-amz-date");
    if (!amzDate.startsWith(date)) throw new SigV4Failure(400, malformed, `credential date ${date} does not match x-amz-date ${amzDate}`);
    const signedHeaders = signedHeaderList.split(";");
    // A presigned URL signs the host; the date is a query parameter, not a header.
    for (const h of inQuery ? ["host"] : ["host", "x-amz-date"]) {
        if (!signedHeaders.includes(h)) throw new SigV4Failure(400, malformed, `SignedHeaders must include '${h}'`);
    }
    const declared = req.headers["x-amz-content-sha256"];
    if (typeof declared === "string" && declared !== "UNSIGNED-PAYLOAD" && declared !== createHash("sha256").update(body).digest("hex")) {
        throw new SigV4Failure(400, "XAmzContentSHA256Mismatch", "x-amz-content-sha256 does not match the request body");
    }
    const tokenHeader = req.headers["x-amz-security-token"];
    const securityToken = inQuery ? (url.searchParams.get("X-Amz-Security-Token") ?? undefined) : typeof tokenHeader === "string" ? tokenHeader : undefined;
    return { accessKeyId, date, region, service, amzDate, signedHeaders, signature, ...(securityToken !== undefined ? { securityToken } : {}), ...(presigned ? { presigned } : {}) };
}

/**
 * Recomputes a signature read by {@link readSigV4} with the caller's secret, as the SDK's SignatureV4 builds it
 * (canonical request → string to sign → HMAC chain); for a presigned URL, the canonical query leaves out
 * `X-Amz-Signature` and the payload is `UNSIGNED-PAYLOAD`. Throws {@link SigV4Failure} SignatureDoesNotMatch.
 */
export function checkSigV4(req: http.IncomingMessage, url: URL, body: Buffer, signed: SigV4Signature, secret: string): void {
    const escape = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    // "Create a canonical request for SigV4" (IAM user guide): the path is URI-encoded twice, each segment as it
    // came on the wire encoded again, after removing empty and relative segments; except for Amazon S3, where it
    // is encoded once and not normalized. A client that sends `%3A` in a segment signs `%253A`.
    const segments = url.pathname.split("/");
    const canonicalPath =
        signed.service === "s3"
            ? segments.map((segment) => escape(decodeSegment(segment))).join("/")
            : canonicalSegments(segments.filter((segment) => segment !== "").map(escape), url.pathname.endsWith("/"));
    const canonicalQuery = [...url.searchParams]
        .filter(([k]) => !(signed.presigned && k === "X-Amz-Signature"))
        .map(([k, v]) => [escape(k), escape(v)])
        .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join("&");
    const canonicalHeaders = signed.signedHeaders
        .map((h) => {
            const v = req.headers[h];
            const value = Array.isArray(v) ? v.join(",") : (v ?? "");
            return `${h}:${value.trim().replace(/\s+/g, " ")}\n`;
        })
        .join("");
    const declared = req.headers["x-amz-content-sha256"];
    const payloadHash = signed.presigned ? "UNSIGNED-PAYLOAD" : typeof declared === "string" ? declared : createHash("sha256").update(body).digest("hex");
    const canonicalRequest = [req.method, canonicalPath, canonicalQuery, canonicalHeaders, signed.signedHeaders.join(";"), payloadHash].join("\n");
    const scope = `${signed.date}/${signed.region}/${signed.service}/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", signed.amzDate, scope, createHash("sha256").update(canonicalRequest).digest("hex")].join("\n");
    let key: Buffer = createHmac("sha256", `AWS4${secret}`).update(signed.date).digest();
    for (const part of [signed.region, signed.service, "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
    const computed = createHmac("sha256", key).update(stringToSign).digest("hex");
    if (computed !== signed.signature) {
        throw new SigV4Failure(403, "SignatureDoesNotMatch", `The request signature does not match (access key ${signed.accessKeyId}); canonical request was:\n${canonicalRequest}`);
    }
}

function decodeSegment(segment: string): string {
    try {
        return decodeURIComponent(segment);
    } catch {
        throw new SigV4Failure(400, "IncompleteSignature", `the path segment '${segment}' is not valid percent-encoding`);
    }
}

/** `/a/b`, with the trailing slash the path had when it has any segment (as the SDK's SignatureV4 builds it). */
function canonicalSegments(segments: string[], trailingSlash: boolean): string {
    return `/${segments.join("/")}${segments.length > 0 && trailingSlash ? "/" : ""}`;
}

/**
 * Checks a request's SigV4 signature the way an AWS service does ({@link readSigV4}) and, with a secret,
 * recomputes it ({@link checkSigV4}). Throws {@link SigV4Failure}; returns what it read.
 */
export function verifySigV4(req: http.IncomingMessage, url: URL, body: Buffer, expected: SigV4Expectation): SigV4Signature {
    const signed = readSigV4(req, url, body, expected);
    if (expected.secret !== undefined) checkSigV4(req, url, body, signed, expected.secret);
    return signed;
}
