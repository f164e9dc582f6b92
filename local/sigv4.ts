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

/**
 * Checks a request's SigV4 `Authorization` header the way an AWS service does: its shape, the
 * credential scope's service (and region, if given), `x-amz-date`, and that `x-amz-content-sha256`
 * (when sent) is the body's hash. With a secret, recomputes the signature as the SDK's SignatureV4
 * builds it (canonical request → string to sign → HMAC chain). Throws {@link SigV4Failure}.
 */
export function verifySigV4(
    req: http.IncomingMessage,
    url: URL,
    body: Buffer,
    expected: { service: string; region?: string; secret?: string },
): void {
    const auth = req.headers.authorization;
    if (auth === undefined) {
        throw new SigV4Failure(400, "MissingAuthenticationToken", `Request is missing the SigV4 Authorization header (an AWS4-HMAC-SHA256 signature for service ${expected.service})`);
    }
    const m = /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) throw new SigV4Failure(400, "IncompleteSignature", `Authorization header is not a SigV4 (AWS4-HMAC-SHA256) signature: ${auth}`);
    const [, accessKeyId, date, region, service, signedHeaderList, signature] = m;
    if (service !== expected.service) {
        throw new SigV4Failure(400, "IncompleteSignature", `Credential scope names service '${service}', expected '${expected.service}'`);
    }
    if (expected.region !== undefined && region !== expected.region) {
        throw new SigV4Failure(403, "SignatureDoesNotMatch", `Credential should be scoped to a valid region, not '${region}' (this local service is ${expected.region})`);
    }
    const amzDate = req.headers["x-amz-date"];
    if (typeof amzDate !== "string" || !/^\d{8}T\d{6}Z$/.test(amzDate)) throw new SigV4Failure(400, "IncompleteSignature", "missing or malformed x-amz-date header");
    if (!amzDate.startsWith(date)) throw new SigV4Failure(400, "IncompleteSignature", `credential date ${date} does not match x-amz-date ${amzDate}`);
    const signedHeaders = signedHeaderList.split(";");
    for (const h of ["host", "x-amz-date"]) {
        if (!signedHeaders.includes(h)) throw new SigV4Failure(400, "IncompleteSignature", `SignedHeaders must include '${h}'`);
    }
    const bodyHash = createHash("sha256").update(body).digest("hex");
    const declared = req.headers["x-amz-content-sha256"];
    if (typeof declared === "string" && declared !== "UNSIGNED-PAYLOAD" && declared !== bodyHash) {
        throw new SigV4Failure(400, "XAmzContentSHA256Mismatch", "x-amz-content-sha256 does not match the request body");
    }
    if (expected.secret === undefined) return;

    const escape = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    // "Create a canonical request for SigV4" (IAM user guide): the path is URI-encoded twice, each segment as it
    // came on the wire encoded again, after removing empty and relative segments; except for Amazon S3, where it
    // is encoded once and not normalized. A client that sends `%3A` in a segment signs `%253A`.
    const segments = url.pathname.split("/");
    const canonicalPath =
        expected.service === "s3"
            ? segments.map((segment) => escape(decodeSegment(segment))).join("/")
            : canonicalSegments(segments.filter((segment) => segment !== "").map(escape), url.pathname.endsWith("/"));
    const canonicalQuery = [...url.searchParams]
        .map(([k, v]) => [escape(k), escape(v)])
        .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join("&");
    const canonicalHeaders = signedHeaders
        .map((h) => {
            const v = req.headers[h];
            const value = Array.isArray(v) ? v.join(",") : (v ?? "");
            return `${h}:${value.trim().replace(/\s+/g, " ")}\n`;
        })
        .join("");
    const canonicalRequest = [req.method, canonicalPath, canonicalQuery, canonicalHeaders, signedHeaderList, typeof declared === "string" ? declared : bodyHash].join("\n");
    const scope = `${date}/${region}/${service}/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonicalRequest).digest("hex")].join("\n");
    let key: Buffer = createHmac("sha256", `AWS4${expected.secret}`).update(date).digest();
    for (const part of [region, service, "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
    const computed = createHmac("sha256", key).update(stringToSign).digest("hex");
    if (computed !== signature) {
        throw new SigV4Failure(403, "SignatureDoesNotMatch", `The request signature does not match (access key ${accessKeyId}); canonical request was:\n${canonicalRequest}`);
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
