/**
 * A local API Gateway (REST, v1) driven by the OpenAPI document the program deploys (infra/openapi.ts):
 * the document's paths are the resources, each operation's `x-amazon-apigateway-integration` says what
 * answers (a Lambda proxy integration, an asynchronous `aws` integration with a VTL request template and
 * `X-Amz-Invocation-Type: 'Event'`, or a `mock`), its request validator and model check the body, and the
 * document's gateway responses render every error API Gateway itself answers.
 *
 * What a request goes through, in API Gateway's order ("Control and manage access to REST APIs",
 * "API Gateway REST API request flow"): the payload limit (10 MB, 413), the resource and method (an unknown
 * one answers 403 `MISSING_AUTHENTICATION_TOKEN`, as API Gateway does for IAM-protected APIs), IAM
 * authentication (SigV4, service `execute-api`: no signature → `MISSING_AUTHENTICATION_TOKEN`, an unknown or
 * mismatched security token → 403 "The security token included in the request is invalid.", an expired one
 * → `EXPIRED_TOKEN`, a wrong signature → `INVALID_SIGNATURE`), authorization (the identity's role must allow
 * `execute-api:Invoke` on the method: `ACCESS_DENIED`), the API key and usage plan (`INVALID_API_KEY`,
 * then the token-bucket throttle `THROTTLED` and the quota `QUOTA_EXCEEDED`), request validation
 * (`UNSUPPORTED_MEDIA_TYPE`, `BAD_REQUEST_BODY` with the validator's detail in `$context.error.validationErrorString`),
 * then the integration. Every response carries `x-amzn-RequestId` and `x-amz-apigw-id`; errors also
 * `x-amzn-ErrorType`, as API Gateway sends them.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import Ajv from "ajv-draft-04";
import type { APIGatewayProxyEvent } from "aws-lambda";
import type { OpenApiDocument } from "../infra/openapi";
import { gatewayResponseHeaders, renderGatewayResponseTemplate, renderMappingTemplate, type ContextValue } from "./apigateway";
import { SigV4Failure, verifySigV4 } from "./sigv4";

/** API Gateway's payload limit for REST APIs ("Amazon API Gateway quotas": 10 MB). */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** API Gateway's integration timeout for REST APIs: 29 seconds. */
export const INTEGRATION_TIMEOUT_MS = 29_000;
/** A signature may be at most 5 minutes older or newer than the request's arrival (SigV4, "Signature expired"). */
const MAX_SIGNATURE_SKEW_MS = 5 * 60 * 1000;

/** Credentials the local identity pool issued, as the API needs them. */
export interface CallerCredentials {
    secretAccessKey: string;
    sessionToken?: string;
    expiration?: Date;
    identityId: string;
    authenticated: boolean;
    /** `cognito-idp.<region>.amazonaws.com/<pool>,cognito-idp.<region>.amazonaws.com/<pool>:CognitoSignIn:<sub>` for a signed-in user. */
    authenticationProvider?: string;
    /** The role the credentials carry (its name ends the `userArn`). */
    roleArn: string;
    /**
     * Guest credentials of the enhanced flow: cut down by `AmazonCognitoUnAuthedIdentitiesSessionPolicy`, which
     * has no `execute-api:` action, whatever the role allows. Default `false`.
     */
    sessionPolicyDeniesAll?: boolean;
}

/** The usage plan's throttle and quota (`api.throttle.*`, `api.quota.*`). */
export interface UsagePlan {
    rateLimit: number;
    burstLimit: number;
    quotaLimit: number;
    quotaPeriod: "DAY" | "WEEK" | "MONTH";
}

export interface LocalApiOptions {
    /** The document the program deploys, with local integration URIs. */
    document: OpenApiDocument;
    stage: string;
    region: string;
    accountId: string;
    /** The REST API id (in `requestContext.apiId` and the execute-api ARNs). */
    apiId: string;
    /** The identity pool whose credentials call the API (`requestContext.identity.cognitoIdentityPoolId`). */
    identityPoolId: string;
    /** The app's API key (`x-api-key`) and its id. */
    apiKey: { id: string; value: string };
    usagePlan: UsagePlan;
    /** The caller's credentials by access key id, or undefined when unknown. */
    credentials(accessKeyId: string): CallerCredentials | undefined;
    /** Whether the caller's role allows `execute-api:Invoke` on `methodArn`. */
    authorize(caller: CallerCredentials, methodArn: string): boolean;
    /** A Lambda integration's function: the name in the integration URI. */
    invoke(functionName: string, event: unknown): Promise<unknown>;
    invokeAsync(functionName: string, event: unknown): void;
    port?: number;
    /** One line per request. */
    log?: (line: string) => void;
}

export interface LocalApi {
    /** `http://127.0.0.1:<port>` */
    endpoint: string;
    /** The stage's invoke URL, `http://127.0.0.1:<port>/<stage>` (the app's `apiUrl`). */
    url: string;
    /** Where the served document is: `GET <endpoint>/openapi.json`. */
    documentUrl: string;
    stop(): Promise<void>;
}

interface Operation {
    resource: string;
    method: string;
    matcher: RegExp;
    params: string[];
    integration: Integration;
    validator?: { validateRequestBody?: boolean };
    model?: { name: string; validate: ReturnType<Ajv["compile"]> };
    arnPath: string;
}

interface Integration {
    type: "aws_proxy" | "aws" | "mock";
    uri?: string;
    requestParameters?: Record<string, string>;
    requestTemplates?: Record<string, string>;
    responses?: Record<string, { statusCode: string; responseTemplates?: Record<string, string> }>;
}

interface GatewayResponse {
    statusCode?: string;
    responseParameters?: Record<string, string>;
    responseTemplates?: Record<string, string>;
}

/** A response API Gateway itself answers, by its gateway response type. */
class GatewayError extends Error {
    constructor(
        readonly type: string,
        readonly status: number,
        message: string,
        readonly errorType: string,
        readonly validationErrorString?: string,
    ) {
        super(message);
    }
}


const missingToken = () => new GatewayError("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token", "MissingAuthenticationTokenException");
/** No gateway response type is documented for an unknown security token: it falls back to DEFAULT_4XX. */
const invalidToken = () => new GatewayError("DEFAULT_4XX", 403, "The security token included in the request is invalid.", "UnrecognizedClientException");

/** Compiles the document's operations. */
function operations(document: OpenApiDocument, stage: string): Operation[] {
    const paths = document.paths as Record<string, Record<string, Record<string, unknown>>>;
    const schemas = ((document.components as Record<string, unknown> | undefined)?.schemas ?? {}) as Record<string, object>;
    const validators = (document["x-amazon-apigateway-request-validators"] ?? {}) as Record<string, { validateRequestBody?: boolean }>;
    const ajv = new Ajv({ strict: false, allErrors: false });
    const compiled = new Map<string, ReturnType<Ajv["compile"]>>();
    const result: Operation[] = [];
    for (const [resource, methods] of Object.entries(paths)) {
        const params: string[] = [];
        const pattern = resource
            .split("/")
            .map((part) => {
                const m = /^\{([^}+]+)(\+?)\}$/.exec(part);
                if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
                params.push(m[1]);
                return m[2] ? "(.+)" : "([^/]+)";
            })
            .join("/");
        for (const [method, operation] of Object.entries(methods)) {
            const validatorName = operation["x-amazon-apigateway-request-validator"] as string | undefined;
            const ref = (((operation.requestBody as Record<string, unknown> | undefined)?.content as Record<string, { schema?: { $ref?: string } }> | undefined)?.[
                "application/json"
            ]?.schema?.$ref ?? "") as string;
            const modelName = ref.split("/").pop();
            let model: Operation["model"];
            if (modelName && schemas[modelName]) {
                let validate = compiled.get(modelName);
                if (!validate) compiled.set(modelName, (validate = ajv.compile(schemas[modelName])));
                model = { name: modelName, validate };
            }
            result.push({
                resource,
                method: method.toUpperCase(),
                matcher: new RegExp(`^${pattern}$`),
                params,
                integration: operation["x-amazon-apigateway-integration"] as Integration,
                validator: validatorName ? validators[validatorName] : undefined,
                model,
                arnPath: `${stage}/${method.toUpperCase()}${resource.replace(/\{[^}]+\}/g, "*")}`,
            });
        }
    }
    return result;
}

/** The function name in a Lambda integration URI (`…/functions/arn:aws:lambda:<region>:<account>:function:<name>/invocations`). */
export function functionNameOf(uri: string): string {
    const m = /:function:([^/:]+)(?::[^/]+)?\/invocations$/.exec(uri);
    if (!m) throw new Error(`Not a Lambda integration URI: ${uri}`);
    return m[1];
}

/** A Lambda integration URI for a local function, in the shape of a deployed function's `invokeArn`. */
export function localIntegrationUri(region: string, accountId: string, functionName: string): string {
    return `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/arn:aws:lambda:${region}:${accountId}:function:${functionName}/invocations`;
}

/** `$context.requestTime`: `dd/MMM/yyyy:HH:mm:ss +0000`. */
function requestTime(date: Date): string {
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const pad = (n: number) => String(n).padStart(2, "0");
    return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

function quotaWindow(period: UsagePlan["quotaPeriod"], now: Date): string {
    if (period === "DAY") return now.toISOString().slice(0, 10);
    if (period === "MONTH") return now.toISOString().slice(0, 7);
    // Weeks start on Monday (UTC).
    const monday = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - ((now.getUTCDay() + 6) % 7)));
    return `W${monday.toISOString().slice(0, 10)}`;
}

export async function startApi(options: LocalApiOptions): Promise<LocalApi> {
    const ops = operations(options.document, options.stage);
    const gatewayResponses = (options.document["x-amazon-apigateway-gateway-responses"] ?? {}) as Record<string, GatewayResponse>;
    const log = options.log ?? (() => undefined);
    const plan = options.usagePlan;
    // The usage plan's token bucket: `burstLimit` tokens, refilled at `rateLimit` per second.
    let tokens = plan.burstLimit;
    let refilledAt = Date.now();
    const quota = { window: "", used: 0 };
    const documentText = JSON.stringify(options.document, null, 2);

    function gatewayReply(error: GatewayError, context: Record<string, ContextValue>, requestHeaders: Record<string, string>) {
        const fallback = error.status >= 500 ? "DEFAULT_5XX" : "DEFAULT_4XX";
        const configured = gatewayResponses[error.type];
        const base = gatewayResponses[fallback] ?? {};
        const statusCode = Number(configured?.statusCode ?? base.statusCode ?? error.status);
        const variables = {
            context: {
                ...context,
                error: {
                    message: error.message,
                    responseType: error.type,
                    validationErrorString: error.validationErrorString ?? "",
                },
            },
        };
        const template = configured?.responseTemplates?.["application/json"] ?? base.responseTemplates?.["application/json"] ?? '{"message":$context.error.messageString}';
        const body = renderGatewayResponseTemplate(template, variables);
        const headers = {
            ...gatewayResponseHeaders({ ...base.responseParameters, ...configured?.responseParameters }, variables, { body: "", header: requestHeaders }),
            "x-amzn-ErrorType": error.errorType,
        };
        return { statusCode, headers, body };
    }

    const server = http.createServer((req, res) => {
        const started = process.hrtime.bigint();
        const requestId = randomUUID();
        const apigwId = randomBytes(6).toString("base64url").slice(0, 8) + "=";
        const chunks: Buffer[] = [];
        let size = 0;
        let tooLarge = false;
        req.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_PAYLOAD_BYTES) tooLarge = true;
            else chunks.push(chunk);
        });
        req.on("end", () => {
            const body = Buffer.concat(chunks);
            const url = new URL(req.url ?? "/", "http://localhost");
            const context: Record<string, ContextValue> = {
                requestId,
                extendedRequestId: apigwId,
                stage: options.stage,
                apiId: options.apiId,
                accountId: options.accountId,
                httpMethod: req.method ?? "",
            };
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
            const finish = (reply: { statusCode: number; headers: Record<string, string>; body: string | Buffer }, note = "") => {
                res.writeHead(reply.statusCode, {
                    "content-type": "application/json",
                    ...reply.headers,
                    "x-amzn-RequestId": requestId,
                    "x-amz-apigw-id": apigwId,
                });
                res.end(reply.body);
                const ms = Number(process.hrtime.bigint() - started) / 1e6;
                log(`${req.method} ${url.pathname} ${reply.statusCode} ${ms.toFixed(1)} ms${note ? ` ${note}` : ""}`);
            };
            handle(req, url, body, headers, context, tooLarge).then(
                (reply) => finish(reply),
                (err: unknown) => {
                    const error =
                        err instanceof GatewayError
                            ? err
                            : new GatewayError("DEFAULT_5XX", 500, "Internal server error", "InternalServerErrorException");
                    if (!(err instanceof GatewayError)) log(`${req.method} ${url.pathname}: ${String((err as Error)?.stack ?? err)}`);
                    finish(gatewayReply(error, context, headers), error.type);
                },
            );
        });
    });

    async function handle(
        req: http.IncomingMessage,
        url: URL,
        body: Buffer,
        headers: Record<string, string>,
        context: Record<string, ContextValue>,
        tooLarge: boolean,
    ): Promise<{ statusCode: number; headers: Record<string, string>; body: string | Buffer }> {
        if (req.method === "GET" && url.pathname === "/openapi.json") {
            return { statusCode: 200, headers: {}, body: documentText };
        }
        if (tooLarge) throw new GatewayError("REQUEST_TOO_LARGE", 413, "Request Too Long", "RequestTooLargeException");
        const prefix = `/${options.stage}`;
        if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) {
            // No such stage: API Gateway answers a bare 403 (no gateway response applies without a stage).
            return { statusCode: 403, headers: { "x-amzn-ErrorType": "ForbiddenException" }, body: JSON.stringify({ message: "Forbidden" }) };
        }
        const path = url.pathname.slice(prefix.length) || "/";
        const method = req.method ?? "GET";
        let match: { op: Operation; values: RegExpExecArray } | undefined;
        for (const op of ops) {
            if (op.method !== method) continue;
            const values = op.matcher.exec(path);
            if (values) {
                match = { op, values };
                break;
            }
        }
        if (!match) throw missingToken();
        const { op } = match;
        const pathParameters: Record<string, string> = {};
        op.params.forEach((name, i) => (pathParameters[name] = decodeURIComponent(match.values[i + 1])));
        context.resourcePath = op.resource;
        context.path = url.pathname;

        // IAM authentication.
        const auth = headers.authorization;
        if (auth === undefined) throw missingToken();
        const accessKeyId = /Credential=([^/\s,]+)\//.exec(auth)?.[1];
        if (accessKeyId === undefined) {
            throw new GatewayError("INVALID_SIGNATURE", 403, "Authorization header requires 'Credential' parameter.", "IncompleteSignatureException");
        }
        const caller = options.credentials(accessKeyId);
        if (!caller) throw invalidToken();
        if (caller.sessionToken !== undefined && headers["x-amz-security-token"] !== caller.sessionToken) throw invalidToken();
        if (caller.expiration && caller.expiration.getTime() <= Date.now()) {
            throw new GatewayError("EXPIRED_TOKEN", 403, "The security token included in the request is expired", "ExpiredTokenException");
        }
        try {
            verifySigV4(req, url, body, { service: "execute-api", region: options.region, secret: caller.secretAccessKey });
        } catch (err) {
            if (!(err instanceof SigV4Failure)) throw err;
            if (err.code === "SignatureDoesNotMatch") {
                throw new GatewayError(
                    "INVALID_SIGNATURE",
                    403,
                    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
                    "InvalidSignatureException",
                );
            }
            throw new GatewayError("INVALID_SIGNATURE", 403, err.message.split("\n")[0], "IncompleteSignatureException");
        }
        const amzDate = headers["x-amz-date"] ?? "";
        const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));
        if (!(Math.abs(Date.now() - signedAt) <= MAX_SIGNATURE_SKEW_MS)) {
            throw new GatewayError("INVALID_SIGNATURE", 403, `Signature expired: ${amzDate} is now earlier or later than the allowed 5 minutes.`, "InvalidSignatureException");
        }
        const roleName = caller.roleArn.split("/").pop() ?? "role";
        const userArn = `arn:aws:sts::${options.accountId}:assumed-role/${roleName}/CognitoIdentityCredentials`;
        const methodArn = `arn:aws:execute-api:${options.region}:${options.accountId}:${options.apiId}/${options.stage}/${method}${path}`;
        if (!options.authorize(caller, methodArn)) {
            throw new GatewayError("ACCESS_DENIED", 403, `User: ${userArn} is not authorized to perform: execute-api:Invoke on resource: ${methodArn}`, "AccessDeniedException");
        }
        context.identity = {
            cognitoIdentityId: caller.identityId,
            cognitoIdentityPoolId: options.identityPoolId,
            cognitoAuthenticationType: caller.authenticated ? "authenticated" : "unauthenticated",
            cognitoAuthenticationProvider: caller.authenticationProvider ?? null,
            accessKey: accessKeyId,
            sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1",
            userAgent: headers["user-agent"] ?? "",
            userArn,
        };

        // The API key and the usage plan.
        const key = headers["x-api-key"];
        if (key === undefined || key !== options.apiKey.value) throw new GatewayError("INVALID_API_KEY", 403, "Forbidden", "ForbiddenException");
        const now = Date.now();
        tokens = Math.min(plan.burstLimit, tokens + ((now - refilledAt) / 1000) * plan.rateLimit);
        refilledAt = now;
        if (tokens < 1) throw new GatewayError("THROTTLED", 429, "Too Many Requests", "TooManyRequestsException");
        const window = quotaWindow(plan.quotaPeriod, new Date(now));
        if (quota.window !== window) Object.assign(quota, { window, used: 0 });
        if (quota.used >= plan.quotaLimit) throw new GatewayError("QUOTA_EXCEEDED", 429, "Limit Exceeded", "LimitExceededException");
        tokens -= 1;
        quota.used += 1;
        (context.identity as Record<string, ContextValue>).apiKey = key;
        (context.identity as Record<string, ContextValue>).apiKeyId = options.apiKey.id;

        // Request validation (only where the operation names a validator).
        const integration = op.integration;
        const contentType = (headers["content-type"] ?? "application/json").split(";")[0].trim().toLowerCase();
        if (integration.type !== "aws_proxy" && integration.requestTemplates && !(contentType in integration.requestTemplates)) {
            // passthroughBehavior "never": a content type without a template is refused.
            throw new GatewayError("UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported Media Type", "UnsupportedMediaTypeException");
        }
        const text = body.toString("utf8");
        if (op.validator?.validateRequestBody && op.model) {
            let value: unknown;
            let problem: string | undefined;
            try {
                value = JSON.parse(text);
            } catch (err) {
                problem = `[Invalid JSON: ${(err as Error).message}]`;
            }
            if (problem === undefined && !op.model.validate(value)) {
                problem = `[${(op.model.validate.errors ?? []).map((e) => `${e.instancePath || "instance"} ${e.message ?? "is invalid"}`).join(", ")}]`;
            }
            if (problem !== undefined) throw new GatewayError("BAD_REQUEST_BODY", 400, "Invalid request body", "BadRequestException", problem);
        }

        const queryStringParameters: Record<string, string> = {};
        const multiValueQueryStringParameters: Record<string, string[]> = {};
        for (const [name, value] of url.searchParams) {
            queryStringParameters[name] = value;
            (multiValueQueryStringParameters[name] ??= []).push(value);
        }

        if (integration.type === "mock") {
            const request = renderMappingTemplate(integration.requestTemplates?.["application/json"] ?? '{"statusCode": 200}', { body: text, path: pathParameters, querystring: queryStringParameters, header: headers }, { context });
            const status = String((JSON.parse(request) as { statusCode?: number }).statusCode ?? 200);
            const response = Object.values(integration.responses ?? {}).find((r) => r.statusCode === status) ?? integration.responses?.default;
            if (!response) throw new GatewayError("DEFAULT_5XX", 500, "Internal server error", "InternalServerErrorException");
            const template = response.responseTemplates?.["application/json"];
            return {
                statusCode: Number(response.statusCode),
                headers: {},
                body: template === undefined ? "" : renderMappingTemplate(template, { body: "" }, { context }),
            };
        }

        if (integration.type === "aws") {
            const functionName = functionNameOf(integration.uri ?? "");
            const payload = renderMappingTemplate(
                integration.requestTemplates?.[contentType] ?? "",
                { body: text, path: pathParameters, querystring: queryStringParameters, header: headers },
                { context },
            );
            let event: unknown;
            try {
                event = JSON.parse(payload);
            } catch {
                // Lambda refuses a payload that is not JSON (InvalidRequestContentException): API Gateway answers 500.
                throw new GatewayError("DEFAULT_5XX", 500, "Internal server error", "InternalServerErrorException");
            }
            const invocationType = integration.requestParameters?.["integration.request.header.X-Amz-Invocation-Type"];
            if (invocationType === "'Event'") options.invokeAsync(functionName, event);
            else await options.invoke(functionName, event);
            const response = integration.responses?.default;
            const template = response?.responseTemplates?.["application/json"];
            return {
                statusCode: Number(response?.statusCode ?? 200),
                headers: {},
                body: template === undefined ? "" : renderMappingTemplate(template, { body: "" }, { context }),
            };
        }

        // aws_proxy: the Lambda proxy event, REST (v1) shape.
        const multiValueHeaders: Record<string, string[]> = {};
        for (let i = 0; i < req.rawHeaders.length; i += 2) (multiValueHeaders[req.rawHeaders[i]] ??= []).push(req.rawHeaders[i + 1]);
        const singleHeaders: Record<string, string> = {};
        for (const [name, values] of Object.entries(multiValueHeaders)) singleHeaders[name] = values[values.length - 1];
        const identity = context.identity as Record<string, string | null>;
        const now2 = new Date();
        const event: APIGatewayProxyEvent = {
            resource: op.resource,
            path,
            httpMethod: method,
            headers: singleHeaders,
            multiValueHeaders,
            queryStringParameters: Object.keys(queryStringParameters).length ? queryStringParameters : null,
            multiValueQueryStringParameters: Object.keys(multiValueQueryStringParameters).length ? multiValueQueryStringParameters : null,
            pathParameters: op.params.length ? pathParameters : null,
            stageVariables: null,
            body: body.length > 0 ? text : null,
            isBase64Encoded: false,
            requestContext: {
                resourceId: op.resource,
                resourcePath: op.resource,
                httpMethod: method,
                extendedRequestId: String(context.extendedRequestId),
                requestTime: requestTime(now2),
                path: url.pathname,
                accountId: options.accountId,
                protocol: `HTTP/${req.httpVersion}`,
                stage: options.stage,
                domainPrefix: (headers.host ?? "localhost").split(".")[0],
                requestTimeEpoch: now2.getTime(),
                requestId: String(context.requestId),
                identity: {
                    cognitoIdentityPoolId: options.identityPoolId,
                    accountId: options.accountId,
                    cognitoIdentityId: caller.identityId,
                    caller: `${roleName}:CognitoIdentityCredentials`,
                    sourceIp: identity.sourceIp ?? "127.0.0.1",
                    principalOrgId: null,
                    accessKey: accessKeyId,
                    cognitoAuthenticationType: caller.authenticated ? "authenticated" : "unauthenticated",
                    cognitoAuthenticationProvider: caller.authenticationProvider ?? null,
                    userArn,
                    userAgent: headers["user-agent"] ?? null,
                    user: `${roleName}:CognitoIdentityCredentials`,
                    apiKey: key,
                    apiKeyId: options.apiKey.id,
                    clientCert: null,
                },
                domainName: headers.host ?? "localhost",
                apiId: options.apiId,
                authorizer: null,
            },
        };
        const functionName = functionNameOf(integration.uri ?? "");
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new GatewayError("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out", "InternalServerErrorException")), INTEGRATION_TIMEOUT_MS);
        });
        let result: unknown;
        try {
            result = await Promise.race([options.invoke(functionName, event), timeout]);
        } catch (err) {
            if (err instanceof GatewayError) throw err;
            // A function error through a proxy integration: 502 "Internal server error".
            throw new GatewayError("DEFAULT_5XX", 502, "Internal server error", "InternalServerErrorException");
        } finally {
            clearTimeout(timer);
        }
        const proxy = result as { statusCode?: unknown; headers?: unknown; multiValueHeaders?: unknown; body?: unknown; isBase64Encoded?: unknown } | null;
        if (!proxy || typeof proxy !== "object" || typeof proxy.statusCode !== "number" || (proxy.body !== undefined && proxy.body !== null && typeof proxy.body !== "string")) {
            // "Malformed Lambda proxy response": 502.
            throw new GatewayError("DEFAULT_5XX", 502, "Internal server error", "InternalServerErrorException");
        }
        const replyHeaders: Record<string, string> = {};
        for (const [name, value] of Object.entries((proxy.headers ?? {}) as Record<string, unknown>)) replyHeaders[name] = String(value);
        for (const [name, values] of Object.entries((proxy.multiValueHeaders ?? {}) as Record<string, unknown[]>)) replyHeaders[name] = values.map(String).join(",");
        const replyBody = typeof proxy.body === "string" ? (proxy.isBase64Encoded ? Buffer.from(proxy.body, "base64") : proxy.body) : "";
        return { statusCode: proxy.statusCode, headers: replyHeaders, body: replyBody };
    }

    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
        endpoint,
        url: `${endpoint}/${options.stage}`,
        documentUrl: `${endpoint}/openapi.json`,
        stop: () =>
            new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
            }),
    };
}
