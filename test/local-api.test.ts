/**
 * The local API Gateway (local/api.ts) against what API Gateway answers: driven by the document the program
 * deploys (checked against the dev program's RestApi body), with fixture functions in the local runtime
 * (local/functions.ts) so each check sees exactly the event API Gateway hands over.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { localIntegrationUri, startApi, type CallerCredentials, type LocalApi } from "../local/api";
import { readStageConfig, LOCAL_ACCOUNT_ID } from "../local/backend";
import { startFunctions, type AsyncFailureRecord, type FunctionRuntime } from "../local/functions";
import { openApiDocument, type OpenApiDocument } from "../infra/openapi";
import { searchRoutes, stageRoutes, type RouteSet } from "../infra/routes";
import { loadProgram } from "./support/program";
import { callApi, type Credentials } from "./support/signed-api";

jest.setTimeout(240_000);

const ROOT = path.resolve(__dirname, "..");
const REGION = "us-east-1";
const IDENTITY = "us-east-1:0a1b2c3d-0000-4000-8000-000000000001";
const RECIPIENT = "us-east-1:0a1b2c3d-0000-4000-8000-000000000002";
const SIGNED_IN_ROLE = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/mobile-backend-dev-signed-in`;

const FIXTURES = `
const fs = require("node:fs");
// A proxy function that answers with the event it received.
exports.echo = () => async (event) => ({ statusCode: 200, headers: { "x-fixture": "echo" }, body: JSON.stringify(event) });
// The asynchronous function: records each attempt; fails when the message says so.
exports.sender = () => async (event) => {
    fs.appendFileSync(process.env.EVENTS_FILE, JSON.stringify(event) + "\\n");
    if (event.body.message === "fail") throw new TypeError("cannot deliver");
    return null;
};
`;

/** The dev stage's route sets with every function replaced by a fixture. */
function localDocument(routeSets: RouteSet[]): OpenApiDocument {
    return openApiDocument(
        "mobile-backend-dev",
        routeSets.map((routes) => ({
            routes,
            integrationUri: routes.routes.every((r) => r.fixedResponse)
                ? undefined
                : localIntegrationUri(REGION, LOCAL_ACCOUNT_ID, routes.name === "notifications" ? "sender" : "echo"),
        })),
    );
}

describe("the local API", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-api-"));
    const events = path.join(dir, "events.jsonl");
    const failures: AsyncFailureRecord[] = [];
    const callers = new Map<string, CallerCredentials>();
    const credentials: Credentials = { accessKeyId: "ASIATESTCALLER", secretAccessKey: "caller-secret", sessionToken: "caller-session" };
    callers.set(credentials.accessKeyId, {
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
        identityId: IDENTITY,
        authenticated: true,
        authenticationProvider: "cognito-idp.us-east-1.amazonaws.com/us-east-1_pool,cognito-idp.us-east-1.amazonaws.com/us-east-1_pool:CognitoSignIn:sub-1",
        roleArn: SIGNED_IN_ROLE,
        expiration: new Date(Date.now() + 3_600_000),
    });
    callers.set("ASIAEXPIRED", { ...callers.get(credentials.accessKeyId)!, secretAccessKey: "expired-secret", sessionToken: "expired", expiration: new Date(Date.now() - 1000) });
    callers.set("ASIAOTHERROLE", { ...callers.get(credentials.accessKeyId)!, secretAccessKey: "other", sessionToken: "other", roleArn: "arn:aws:iam::123456789012:role/someone-else" });

    let deployed: OpenApiDocument;
    let served: OpenApiDocument;
    let functions: FunctionRuntime;
    let api: LocalApi;
    let throttledApi: LocalApi;
    const target = () => ({ apiUrl: api.url, apiKey: "the-api-key", region: REGION });

    beforeAll(async () => {
        const program = await loadProgram("dev");
        deployed = JSON.parse(program.recorder.one("aws:apigateway/restApi:RestApi").inputs.body as string) as OpenApiDocument;
        const { config } = readStageConfig(ROOT, "dev");
        served = localDocument(stageRoutes(config));
        fs.writeFileSync(path.join(dir, "fixtures.js"), FIXTURES);
        const fixture = (name: string) => ({
            name,
            module: path.join(dir, "fixtures.js"),
            factory: name,
            environment: { EVENTS_FILE: events },
            timeoutSeconds: 5,
        });
        functions = await startFunctions({
            root: ROOT,
            functions: [fixture("echo"), { ...fixture("sender"), async: { retryAttempts: 2, onFailure: (r) => void failures.push(r) } }],
            retryDelaysMs: [10, 20],
        });
        const common = {
            stage: "dev",
            region: REGION,
            accountId: LOCAL_ACCOUNT_ID,
            apiId: "localapi01",
            identityPoolId: "us-east-1:pool",
            apiKey: { id: "keyid01", value: "the-api-key" },
            credentials: (id: string) => callers.get(id),
            authorize: (caller: CallerCredentials) => caller.roleArn === SIGNED_IN_ROLE,
            invoke: (name: string, event: unknown) => functions.invoke(name, event),
            invokeAsync: (name: string, event: unknown) => functions.invokeAsync(name, event),
        };
        api = await startApi({ ...common, document: served, usagePlan: { rateLimit: 100, burstLimit: 100, quotaLimit: 1000, quotaPeriod: "DAY" } });
        // A stage with search off (a mock integration) and a usage plan of one request per 1000 s.
        const noSearch = stageRoutes(config).map((set) => (set.name === "search" ? searchRoutes("none") : set));
        throttledApi = await startApi({ ...common, document: localDocument(noSearch), usagePlan: { rateLimit: 0.001, burstLimit: 1, quotaLimit: 1000, quotaPeriod: "DAY" } });
    });
    afterAll(async () => {
        await Promise.all([api?.stop(), throttledApi?.stop(), functions?.stop()]);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("serves the document the program deploys, apart from the integration URIs", async () => {
        const withoutUris = (doc: OpenApiDocument) =>
            JSON.parse(JSON.stringify(doc), (key, value: unknown) => (key === "uri" ? "<function>" : value)) as OpenApiDocument;
        expect(withoutUris(served)).toEqual(withoutUris(deployed));
        const answer = await fetch(`${api.endpoint}/openapi.json`);
        expect(await answer.json()).toEqual(served);
    });

    it("hands a signed request to the function with API Gateway's REST proxy event", async () => {
        const answer = await callApi(target(), credentials, "GET", "/notes/n-1?tag=a&tag=b&x=1", undefined, { "user-agent": "local-test" });
        expect(answer.status).toBe(200);
        expect(answer.headers.get("x-fixture")).toBe("echo");
        expect(answer.headers.get("x-amz-apigw-id")).toBeTruthy();
        const event = answer.json as unknown as APIGatewayProxyEvent;
        expect(event).toMatchObject({
            resource: "/notes/{noteId}",
            path: "/notes/n-1",
            httpMethod: "GET",
            pathParameters: { noteId: "n-1" },
            queryStringParameters: { tag: "b", x: "1" },
            multiValueQueryStringParameters: { tag: ["a", "b"], x: ["1"] },
            body: null,
            isBase64Encoded: false,
            stageVariables: null,
        });
        expect(event.requestContext).toMatchObject({
            stage: "dev",
            resourcePath: "/notes/{noteId}",
            httpMethod: "GET",
            path: "/dev/notes/n-1",
            accountId: LOCAL_ACCOUNT_ID,
            apiId: "localapi01",
            requestId: answer.headers.get("x-amzn-requestid"),
            identity: {
                cognitoIdentityId: IDENTITY,
                cognitoIdentityPoolId: "us-east-1:pool",
                cognitoAuthenticationType: "authenticated",
                cognitoAuthenticationProvider: callers.get(credentials.accessKeyId)!.authenticationProvider,
                accessKey: credentials.accessKeyId,
                apiKey: "the-api-key",
                apiKeyId: "keyid01",
                sourceIp: "127.0.0.1",
                userAgent: "local-test",
                userArn: `arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/mobile-backend-dev-signed-in/CognitoIdentityCredentials`,
            },
        });
        expect(event.headers["x-api-key"]).toBe("the-api-key");
    });

    it("verifies signatures over percent-encoded path segments, which SigV4 encodes a second time for execute-api", async () => {
        // An identity id as a path parameter, encoded as generated clients encode it (`:` as %3A), and a space.
        for (const [sent, noteId] of [
            ["/notes/us-east-1%3Aabc%20d", "us-east-1:abc d"],
            ["/notes/us-east-1:abc", "us-east-1:abc"],
        ]) {
            const answer = await callApi(target(), credentials, "GET", sent);
            expect([answer.status, (answer.json as unknown as APIGatewayProxyEvent).pathParameters]).toEqual([200, { noteId }]);
        }
        // The same request signed over the once-encoded path (as for S3) does not verify.
        const { default: aws4 } = await import("aws4");
        const url = new URL(`${api.url}/notes/us-east-1%3Aabc`);
        const request = { host: url.host, path: url.pathname, method: "GET", headers: { "x-api-key": "the-api-key" }, service: "execute-api", region: REGION, doNotEncodePath: true };
        aws4.sign(request, credentials);
        const headers = Object.fromEntries(Object.entries(request.headers as Record<string, string>).filter(([name]) => name.toLowerCase() !== "host"));
        const refused = await fetch(url, { headers });
        expect([refused.status, refused.headers.get("x-amzn-errortype")]).toEqual([403, "InvalidSignatureException"]);
    });

    it.each([
        ["unsigned", "MISSING_AUTHENTICATION_TOKEN", "MissingAuthenticationTokenException", "Missing Authentication Token", undefined],
        ["wrongly signed", "INVALID_SIGNATURE", "InvalidSignatureException", expect.stringContaining("signature we calculated does not match"), { ...credentials, secretAccessKey: "wrong" }],
        ["signed with an unknown key", "DEFAULT_4XX", "UnrecognizedClientException", "The security token included in the request is invalid.", { ...credentials, accessKeyId: "ASIAUNKNOWN" }],
        ["signed with expired credentials", "EXPIRED_TOKEN", "ExpiredTokenException", "The security token included in the request is expired", { accessKeyId: "ASIAEXPIRED", secretAccessKey: "expired-secret", sessionToken: "expired" }],
        ["signed by a role that may not invoke", "ACCESS_DENIED", "AccessDeniedException", expect.stringContaining("is not authorized to perform: execute-api:Invoke"), { accessKeyId: "ASIAOTHERROLE", secretAccessKey: "other", sessionToken: "other" }],
    ])("answers a request %s with 403 %s", async (_, type, errorType, message, signer) => {
        const answer = await callApi(target(), signer, "GET", "/notes");
        expect(answer.status).toBe(403);
        expect(answer.headers.get("x-amzn-errortype")).toBe(errorType);
        expect(answer.json).toEqual({ success: false, error: { code: type, message } });
    });

    it("answers a request without the API key with 403 INVALID_API_KEY", async () => {
        const answer = await callApi({ ...target(), apiKey: undefined }, credentials, "GET", "/notes");
        expect(answer.status).toBe(403);
        expect(answer.json).toEqual({ success: false, error: { code: "INVALID_API_KEY", message: "Forbidden" } });
    });

    it("answers an unknown path or method with 403 MISSING_AUTHENTICATION_TOKEN, signed or not", async () => {
        for (const [method, resource] of [["GET", "/nothing"], ["PATCH", "/notes"]]) {
            const answer = await callApi(target(), credentials, method, resource);
            expect(answer.status).toBe(403);
            expect(answer.json).toEqual({ success: false, error: { code: "MISSING_AUTHENTICATION_TOKEN", message: "Missing Authentication Token" } });
        }
    });

    it("refuses an invalid body on the validated route with BAD_REQUEST_BODY and the validator's detail", async () => {
        const answer = await callApi(target(), credentials, "POST", "/notifications", { recipientId: RECIPIENT });
        expect(answer.status).toBe(400);
        expect(answer.json).toEqual({ success: false, error: { code: "BadRequest", message: "Invalid request body" } });
        expect(answer.headers.get("x-validation-error")).toContain("message");
    });

    it("answers the asynchronous route 202 at once, then runs the function with the rendered template's event", async () => {
        const body = { recipientId: RECIPIENT, message: "it's \"here\"" };
        const answer = await callApi(target(), credentials, "POST", "/notifications", body);
        expect(answer.status).toBe(202);
        expect(answer.json).toEqual({ success: true, accepted: true });
        await functions.idle();
        const received = fs.readFileSync(events, "utf8").trim().split("\n").map((l) => JSON.parse(l) as unknown);
        expect(received).toContainEqual({ senderId: IDENTITY, requestId: answer.headers.get("x-amzn-requestid"), body });
    });

    it("retries a failing asynchronous invocation, then sends it to the failure destination", async () => {
        fs.writeFileSync(events, "");
        const body = { recipientId: RECIPIENT, message: "fail" };
        expect((await callApi(target(), credentials, "POST", "/notifications", body)).status).toBe(202);
        await functions.idle();
        expect(fs.readFileSync(events, "utf8").trim().split("\n")).toHaveLength(3);
        expect(failures).toHaveLength(1);
        expect(failures[0]).toMatchObject({
            requestContext: { condition: "RetriesExhausted", approximateInvokeCount: 3 },
            requestPayload: { senderId: IDENTITY, body },
            responseContext: { functionError: "Unhandled" },
            responsePayload: { errorType: "TypeError", errorMessage: "cannot deliver" },
        });
    });

    it("does not retry an asynchronous event older than the maximum event age: EventAgeExceeded", async () => {
        const aged: AsyncFailureRecord[] = [];
        const agedEvents = path.join(dir, "aged.jsonl");
        const runtime = await startFunctions({
            root: ROOT,
            functions: [
                {
                    name: "sender",
                    module: path.join(dir, "fixtures.js"),
                    factory: "sender",
                    environment: { EVENTS_FILE: agedEvents },
                    timeoutSeconds: 5,
                    // 30 ms here; the first retry comes after 100 ms.
                    async: { retryAttempts: 2, maxEventAgeSeconds: 0.03, onFailure: (r) => void aged.push(r) },
                },
            ],
            retryDelaysMs: [100, 100],
        });
        try {
            runtime.invokeAsync("sender", { body: { message: "fail" } });
            await runtime.idle();
        } finally {
            await runtime.stop();
        }
        expect(fs.readFileSync(agedEvents, "utf8").trim().split("\n")).toHaveLength(1);
        expect(aged).toEqual([expect.objectContaining({ requestContext: expect.objectContaining({ condition: "EventAgeExceeded", approximateInvokeCount: 1 }) })]);
    });

    it("throttles past the usage plan's burst with 429 THROTTLED, and answers a mock integration itself", async () => {
        const throttled = { apiUrl: throttledApi.url, apiKey: "the-api-key", region: REGION };
        const first = await callApi(throttled, credentials, "GET", "/search?q=x");
        expect(first.status).toBe(501);
        expect(first.json).toMatchObject({ success: false, error: { code: "NotImplemented" } });
        const second = await callApi(throttled, credentials, "GET", "/search?q=x");
        expect(second.status).toBe(429);
        expect(second.json).toEqual({ success: false, error: { code: "THROTTLED", message: "Too Many Requests" } });
    });
});
