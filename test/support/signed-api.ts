import * as aws4 from "aws4";

/** Temporary credentials of an identity. */
export interface Credentials {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
}

/** A JSON answer of the API. */
export interface ApiAnswer {
    status: number;
    headers: Headers;
    text: string;
    /** The body parsed as JSON (undefined when it is not JSON). */
    json: Record<string, unknown> | undefined;
}

/**
 * Sends a request to a stage's API as an app does: SigV4-signed for `execute-api` with the identity's
 * credentials (aws4), the API key in `x-api-key`. `credentials: undefined` sends it unsigned.
 */
export async function callApi(
    target: { apiUrl: string; apiKey?: string; region: string },
    credentials: Credentials | undefined,
    method: string,
    resource: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
): Promise<ApiAnswer> {
    const url = new URL(`${target.apiUrl}${resource}`);
    const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const headers: Record<string, string> = {
        ...(text !== undefined ? { "content-type": "application/json" } : {}),
        ...(target.apiKey !== undefined ? { "x-api-key": target.apiKey } : {}),
        ...extraHeaders,
    };
    const request = { host: url.host, path: `${url.pathname}${url.search}`, method, headers, body: text, service: "execute-api", region: target.region };
    if (credentials) aws4.sign(request, credentials);
    // fetch sends the same Host (and Content-Length) itself, and refuses to be given them.
    const sent = Object.fromEntries(Object.entries(request.headers as Record<string, string>).filter(([name]) => !/^(host|content-length)$/i.test(name)));
    const response = await fetch(url, { method, headers: sent, body: text });
    const answer = await response.text();
    let json: Record<string, unknown> | undefined;
    try {
        json = JSON.parse(answer) as Record<string, unknown>;
    } catch {
        json = undefined;
    }
    return { status: response.status, headers: response.headers, text: answer, json };
}
