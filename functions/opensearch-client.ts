// `import x = require(...)` keeps the module object itself, which Pulumi's closure serializer turns back
// into `require("aws4")` in the archive (an `import * as` namespace copy would be serialized by value).
import http = require("http");
import https = require("https");
import aws4 = require("aws4");

/** The HTTP methods this program sends to an OpenSearch domain; each maps to an IAM action `es:ESHttp<Method>`. */
export type OpenSearchMethod = "GET" | "HEAD" | "POST" | "PUT" | "DELETE";

/** AWS credentials to sign with (a Lambda function has them in its environment). */
export interface SigningCredentials {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
}

/** An answer from the domain: status and body text (nothing is thrown for an HTTP error status). */
export interface OpenSearchResponse {
    status: number;
    body: string;
}

/** Where and how to send signed requests. */
export interface OpenSearchClientOptions {
    /** `https://<domain endpoint>`; `http://` is accepted for a local endpoint only. */
    endpoint: string;
    /** The domain's region (SigV4 credential scope). */
    region: string;
    /** Called before each request. Default: {@link credentialsFromEnvironment}. */
    credentials?: () => SigningCredentials | Promise<SigningCredentials>;
    /** Per-request timeout in ms. Default 10000. */
    timeoutMs?: number;
}

/** A signed OpenSearch HTTP client: the one thing both OpenSearch functions talk to. */
export interface OpenSearchClient {
    /**
     * Sends `method path` with a JSON (or NDJSON) body, signed with SigV4 for service `es` (managed domains;
     * OpenSearch Serverless would be `aoss`). Rejects only when there is no HTTP answer (network, timeout).
     */
    request(method: OpenSearchMethod, path: string, body?: string, contentType?: string): Promise<OpenSearchResponse>;
}

/** The credentials the Lambda runtime puts in every function's environment (the execution role's session). */
export function credentialsFromEnvironment(): SigningCredentials {
    const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) throw new Error("no AWS credentials in the environment to sign OpenSearch requests with");
    const sessionToken = process.env.AWS_SESSION_TOKEN;
    return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/**
 * A client that signs each request with `aws4` (a small, widely used SigV4 signer; the official
 * OpenSearch client signs with it too) and sends it with `node:https` (or `node:http` for a local endpoint).
 */
export function createOpenSearchClient(options: OpenSearchClientOptions): OpenSearchClient {
    const base = new URL(options.endpoint);
    if (base.protocol !== "https:" && base.protocol !== "http:") {
        throw new Error(`an OpenSearch endpoint is an https:// URL, not ${options.endpoint}`);
    }
    const transport = base.protocol === "https:" ? https : http;
    const getCredentials = options.credentials ?? credentialsFromEnvironment;
    const timeoutMs = options.timeoutMs ?? 10_000;
    return {
        async request(method, path, body, contentType = "application/json") {
            const credentials = await getCredentials();
            const headers: Record<string, string> = { Host: base.host };
            if (body !== undefined) headers["Content-Type"] = contentType;
            const signed = aws4.sign(
                { host: base.hostname, path, method, headers, body, service: "es", region: options.region },
                credentials,
            );
            return new Promise<OpenSearchResponse>((resolve, reject) => {
                const req = transport.request(
                    {
                        protocol: base.protocol,
                        hostname: base.hostname,
                        port: base.port || undefined,
                        method,
                        path,
                        headers: signed.headers,
                        timeout: timeoutMs,
                    },
                    (res) => {
                        const chunks: Buffer[] = [];
                        res.on("data", (chunk: Buffer) => chunks.push(chunk));
                        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
                        res.on("error", reject);
                    },
                );
                req.on("timeout", () => req.destroy(new Error(`OpenSearch ${method} ${path} timed out after ${timeoutMs} ms`)));
                req.on("error", reject);
                req.end(body);
            });
        },
    };
}
