/**
 * The API's OpenAPI document, built from the route declarations (infra/routes.ts) without Pulumi: the
 * deployed stage imports it (infra/api.ts puts the functions' invoke ARNs in), and the local backend serves
 * the same document with its own integration URIs.
 */
import { ERROR_STATUS, type ErrorCode } from "../functions/http";
import { errorDeclaration, errorSchema, type ResponseDeclaration, type ResponseSchema } from "../functions/responses";
import type { JsonSchema } from "../functions/schema";
import type { ApiRoute, RouteSet } from "./routes";

/** A route set and the URI its Lambda integrations call (a function's invoke ARN); none for fixed responses. */
export interface IntegratedRoutes {
    routes: RouteSet;
    integrationUri?: string;
}

/** An OpenAPI 3.0 document as a JSON value. */
export type OpenApiDocument = Record<string, unknown>;

/**
 * Error bodies of API Gateway's own responses, in the functions' shape. Gateway-response templates are
 * not VTL: API Gateway only substitutes `$context`/`$stageVariables` variables in them ("Gateway
 * responses for REST APIs"). `$context.error.messageString` is already a quoted JSON string and
 * `$context.error.responseType` is one of the documented response-type names (letters and `_`).
 */
export const GATEWAY_ERROR_TEMPLATE =
    '{"success":false,"error":{"code":"$context.error.responseType","message":$context.error.messageString}}';

/**
 * A body the asynchronous route's model refuses: the functions' `BadRequest` code, API Gateway's message
 * ("Invalid request body") and the detail in a header. `$context.error.validationErrorString` is not
 * quoted or escaped, so it cannot go into a JSON body; a gateway response maps context variables into
 * headers ("Parameter mapping source reference for REST APIs").
 */
export const BAD_REQUEST_BODY_TEMPLATE =
    '{"success":false,"error":{"code":"BadRequest","message":$context.error.messageString}}';

/** The header that carries API Gateway's validation detail on a refused body. */
export const VALIDATION_ERROR_HEADER = "x-validation-error";

/**
 * The event an asynchronous route hands its function: the body as sent, the sender from the credentials.
 * VTL: `$util.escapeJavaScript` escapes `'` as `\'`, invalid in JSON, hence the `replaceAll` the AWS
 * mapping-template reference gives (a Java regular expression: a backslash followed by a quote).
 */
export const ASYNC_EVENT_TEMPLATE =
    `{"senderId":"${jsonStringContent("$context.identity.cognitoIdentityId")}",` +
    `"requestId":"${jsonStringContent("$context.requestId")}","body":$input.json('$')}`;

/**
 * The event an asynchronous route without a body (`body: "none"`, e.g. `DELETE /me`) hands its function: who
 * called, from the request's credentials only. `cognitoAuthenticationType` is `authenticated` or
 * `unauthenticated`; `cognitoAuthenticationProvider` names the user pool and the user's `sub` for a signed-in
 * user ("$context variables for data models, authorizers, mapping templates, and access logging"). Each is
 * escaped like {@link ASYNC_EVENT_TEMPLATE}'s, inside `#if`, so that a variable without a value (a guest has
 * no provider) gives an empty string rather than the template's own text (VTL prints a reference whose
 * value is null as written).
 */
export const BODYLESS_ASYNC_EVENT_TEMPLATE =
    `{"identityId":"${quietJsonStringContent("context.identity.cognitoIdentityId")}",` +
    `"authenticationType":"${quietJsonStringContent("context.identity.cognitoAuthenticationType")}",` +
    `"authenticationProvider":"${quietJsonStringContent("context.identity.cognitoAuthenticationProvider")}",` +
    `"requestId":"${quietJsonStringContent("context.requestId")}"}`;

/** VTL that prints `$name` escaped for the inside of a JSON string, or nothing when it has no value. */
function quietJsonStringContent(name: string): string {
    return `#if($${name})${jsonStringContent(`$${name}`)}#end`;
}

/** VTL that prints `reference` escaped for the inside of a JSON string. */
function jsonStringContent(reference: string): string {
    return String.raw`$util.escapeJavaScript(${reference}).replaceAll("\\'","'")`;
}

/**
 * The API as an OpenAPI 3.0 document (the one the program deploys, and the one `npm start` serves) with API Gateway extensions: SigV4 + API key on every operation,
 * a model for every route with a request schema (validated at the edge on asynchronous routes only, see
 * {@link ApiRoute.requestSchema}), Lambda proxy integrations, and gateway error responses in the
 * functions' error shape.
 */
export function openApiDocument(title: string, services: IntegratedRoutes[]): OpenApiDocument {
    {
        const paths: Record<string, Record<string, unknown>> = {};
        const schemas: Record<string, JsonSchema | ResponseSchema> = {};
        for (const { routes: service, integrationUri: arn } of services) {
            for (const route of service.routes) {
                const operation: Record<string, unknown> = {
                    operationId: operationId(route),
                    security: [{ sigv4: [], api_key: [] }],
                    ...integration(route, arn),
                };
                const parameters = routeParameters(route, false);
                if (parameters.length > 0) operation.parameters = parameters;
                operation.responses = routeResponses(route, schemas, false);
                if (route.requestSchema) {
                    const model = route.requestSchema.title;
                    if (!model || !/^[A-Za-z0-9]+$/.test(model)) {
                        throw new Error(`The request schema of ${route.method} ${route.path} needs an alphanumeric title`);
                    }
                    schemas[model] = route.requestSchema;
                    operation.requestBody = {
                        required: true,
                        content: { "application/json": { schema: { $ref: `#/components/schemas/${model}` } } },
                    };
                    // Only where no function answers: API Gateway's own 400 cannot carry its detail in a
                    // JSON body, while a function's validator names the field and the problem.
                    if (route.invocation === "async") operation["x-amazon-apigateway-request-validator"] = "body";
                } else if (route.invocation === "async" && route.body !== "none") {
                    throw new Error(
                        `${route.method} ${route.path} is asynchronous: API Gateway must validate its body, give it a requestSchema (or declare body: "none")`,
                    );
                }
                if (route.body === "none" && route.requestSchema) {
                    throw new Error(`${route.method} ${route.path} takes no body but has a requestSchema`);
                }
                const methods = (paths[route.path] ??= {});
                const method = route.method.toLowerCase();
                if (methods[method]) throw new Error(`Two services serve ${route.method} ${route.path}`);
                methods[method] = operation;
            }
        }
        return {
            openapi: "3.0.1",
            info: { title, version: "1.0" },
            paths,
            components: {
                schemas,
                securitySchemes: {
                    sigv4: { type: "apiKey", name: "Authorization", in: "header", "x-amazon-apigateway-authtype": "awsSigv4" },
                    api_key: { type: "apiKey", name: "x-api-key", in: "header" },
                },
            },
            "x-amazon-apigateway-api-key-source": "HEADER",
            "x-amazon-apigateway-request-validators": {
                body: { validateRequestBody: true, validateRequestParameters: true },
            },
            "x-amazon-apigateway-gateway-responses": {
                DEFAULT_4XX: { responseTemplates: { "application/json": GATEWAY_ERROR_TEMPLATE } },
                DEFAULT_5XX: { responseTemplates: { "application/json": GATEWAY_ERROR_TEMPLATE } },
                BAD_REQUEST_BODY: {
                    statusCode: "400",
                    responseParameters: {
                        [`gatewayresponse.header.${VALIDATION_ERROR_HEADER}`]: "context.error.validationErrorString",
                    },
                    responseTemplates: { "application/json": BAD_REQUEST_BODY_TEMPLATE },
                },
            },
        };
    }
}

/** How API Gateway answers a route: through the service's function, or by itself. */
function integration(route: ApiRoute, functionArn: string | undefined): Record<string, unknown> {
    if (route.fixedResponse) {
        const status = String(route.fixedResponse.statusCode);
        return {
            "x-amazon-apigateway-integration": {
                type: "mock",
                passthroughBehavior: "when_no_match",
                requestTemplates: { "application/json": `{"statusCode": ${status}}` },
                responses: {
                    default: {
                        statusCode: status,
                        responseTemplates: { "application/json": JSON.stringify(route.fixedResponse.body) },
                    },
                },
            },
        };
    }
    if (functionArn === undefined) {
        throw new Error(`${route.method} ${route.path} has neither a function nor a fixed response`);
    }
    if (route.invocation === "async") {
        return {
            "x-amazon-apigateway-integration": {
                type: "aws",
                httpMethod: "POST",
                uri: functionArn,
                passthroughBehavior: "never",
                requestParameters: { "integration.request.header.X-Amz-Invocation-Type": "'Event'" },
                // A request without Content-Type counts as application/json, so a body-less DELETE is mapped too
                // ("Method request behavior for payloads without mapping templates for REST APIs").
                requestTemplates: { "application/json": route.body === "none" ? BODYLESS_ASYNC_EVENT_TEMPLATE : ASYNC_EVENT_TEMPLATE },
                responses: {
                    default: { statusCode: "202", responseTemplates: { "application/json": '{"success":true,"accepted":true}' } },
                },
            },
        };
    }
    return {
        "x-amazon-apigateway-integration": {
            type: "aws_proxy",
            httpMethod: "POST",
            uri: functionArn,
            passthroughBehavior: "when_no_match",
        },
    };
}

function operationId(route: ApiRoute): string {
    const words = route.path
        .split("/")
        .filter(Boolean)
        .map((part) => part.replace(/[{}]/g, ""));
    return [route.method.toLowerCase(), ...words.map((w) => w[0].toUpperCase() + w.slice(1))].join("");
}

/**
 * API Gateway's own errors on a route, by status code, as gateway response types ("Gateway response types
 * for API Gateway"); the stage's gateway responses give them the functions' error shape. API Gateway answers
 * 500 when Lambda refuses the invocation, and 502 when the function fails or answers in the wrong format
 * ("Handling Lambda errors with an API Gateway API", Lambda developer guide); an integration that does not
 * answer in time is `INTEGRATION_TIMEOUT` (504).
 */
function gatewayErrors(route: ApiRoute): Record<number, string[]> {
    const errors: Record<number, string[]> = {
        403: ["MISSING_AUTHENTICATION_TOKEN", "INVALID_SIGNATURE", "EXPIRED_TOKEN", "INVALID_API_KEY", "ACCESS_DENIED", "WAF_FILTERED"],
        413: ["REQUEST_TOO_LARGE"],
        429: ["THROTTLED", "QUOTA_EXCEEDED"],
        500: ["DEFAULT_5XX"],
    };
    if (route.fixedResponse) return errors;
    errors[504] = ["INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT"];
    if (route.invocation !== "async") errors[502] = ["DEFAULT_5XX"];
    return errors;
}

/** Every response of a route, by status code: its declared successes, its function's errors and API Gateway's. */
export function routeDeclarations(route: ApiRoute): Record<string, ResponseDeclaration> {
    const declared: Record<string, ResponseDeclaration> = {};
    for (const [status, response] of Object.entries(route.responses ?? {})) declared[status] = response;
    const functionCodes: Record<number, ErrorCode[]> = {};
    if (route.fixedResponse) {
        const { statusCode, body } = route.fixedResponse;
        declared[String(statusCode)] = { description: "Answered by API Gateway itself", schema: errorSchema, example: body };
    } else {
        // Async routes: API Gateway validates the body (BAD_REQUEST_BODY, answered with the functions' code); a
        // body-less one has nothing to refuse.
        const codes: ErrorCode[] =
            route.invocation === "async" ? (route.body === "none" ? [] : ["BadRequest"]) : ["Forbidden", "InternalError", ...(route.errors ?? [])];
        for (const code of codes) (functionCodes[ERROR_STATUS[code]] ??= []).push(code);
    }
    const gateway = gatewayErrors(route);
    const statuses = [...new Set([...Object.keys(functionCodes), ...Object.keys(gateway)].map(Number))].sort((a, b) => a - b);
    for (const status of statuses) {
        if (declared[String(status)]) continue;
        declared[String(status)] = errorDeclaration({ functionCodes: functionCodes[status] ?? [], gatewayTypes: gateway[status] ?? [] });
    }
    return declared;
}

/** The OpenAPI `responses` of a route; each body schema becomes a named component (an API Gateway model). */
function routeResponses(route: ApiRoute, schemas: Record<string, JsonSchema | ResponseSchema>, withExamples: boolean): Record<string, unknown> {
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(routeDeclarations(route))) {
        const model = response.schema.title;
        if (!model || !/^[A-Za-z0-9]+$/.test(model)) {
            throw new Error(`The ${status} response of ${route.method} ${route.path} needs a schema with an alphanumeric title`);
        }
        if (schemas[model] !== undefined && schemas[model] !== response.schema) throw new Error(`Two schemas are named ${model}`);
        schemas[model] = response.schema;
        const media: Record<string, unknown> = { schema: { $ref: `#/components/schemas/${model}` } };
        if (withExamples) media.example = response.example;
        responses[status] = { description: response.description, content: { "application/json": media } };
    }
    return responses;
}

/** A route's path parameters and, for the client document, its query parameters. */
function routeParameters(route: ApiRoute, withQuery: boolean): Record<string, unknown>[] {
    const parameters: Record<string, unknown>[] = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
        name: m[1],
        in: "path",
        required: true,
        schema: { type: "string" },
    }));
    if (withQuery) {
        for (const q of route.query ?? []) {
            parameters.push({ name: q.name, in: "query", required: q.required ?? false, description: q.description, schema: q.schema });
        }
    }
    return parameters;
}

/** The security schemes, as a client reads them (no API Gateway extension). */
const CLIENT_SECURITY_SCHEMES = {
    sigv4: {
        type: "apiKey",
        name: "Authorization",
        in: "header",
        description:
            "AWS Signature Version 4 (service `execute-api`, the stage's region) with the temporary credentials of the Cognito identity " +
            "pool (signed in, or a guest where the stage allows guests); the signature also covers `x-amz-date` and `x-amz-security-token`.",
    },
    api_key: { type: "apiKey", name: "x-api-key", in: "header", description: "The app's API key (`apiKey` in mobile-backend.json)." },
};

/**
 * The API as a client sees it (`npm run openapi`): OpenAPI 3.0 without AWS extensions, from the same route
 * declarations as the deployed document, with request and response schemas, query parameters, examples and
 * the security requirements (SigV4 with Cognito credentials, and the API key).
 */
export function clientOpenApiDocument(title: string, routeSets: RouteSet[], serverUrl?: string): OpenApiDocument {
    const paths: Record<string, Record<string, unknown>> = {};
    const schemas: Record<string, JsonSchema | ResponseSchema> = {};
    for (const set of routeSets) {
        for (const route of set.routes) {
            const operation: Record<string, unknown> = {
                operationId: operationId(route),
                tags: [set.name],
                security: [{ sigv4: [], api_key: [] }],
            };
            const parameters = routeParameters(route, true);
            if (parameters.length > 0) operation.parameters = parameters;
            if (route.requestSchema) {
                const model = route.requestSchema.title as string;
                schemas[model] = route.requestSchema;
                operation.requestBody = { required: true, content: { "application/json": { schema: { $ref: `#/components/schemas/${model}` } } } };
            }
            operation.responses = routeResponses(route, schemas, true);
            const methods = (paths[route.path] ??= {});
            const method = route.method.toLowerCase();
            if (methods[method]) throw new Error(`Two services serve ${route.method} ${route.path}`);
            methods[method] = operation;
        }
    }
    return {
        openapi: "3.0.3",
        info: {
            title,
            version: "1.0",
            description:
                "Every request is signed with SigV4 (Cognito identity credentials) and carries the app's API key in `x-api-key`. " +
                'Every error answers `{"success": false, "error": {"code", "message"}}`, from the functions and from API Gateway alike.',
        },
        servers: [
            serverUrl
                ? { url: serverUrl }
                : {
                      url: "https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}",
                      variables: {
                          restApiId: { default: "abcdef1234", description: "The REST API's id (in the apiUrl output)" },
                          region: { default: "us-east-1" },
                          stage: { default: "dev" },
                      },
                  },
        ],
        tags: routeSets.map((set) => ({ name: set.name })),
        paths,
        components: { schemas, securitySchemes: CLIENT_SECURITY_SCHEMES },
    };
}
