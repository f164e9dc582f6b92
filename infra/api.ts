import { createHash } from "node:crypto";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { JsonSchema } from "../functions/schema";
import type { QuotaPeriod } from "./config";

/** One operation of the API. */
export interface ApiRoute {
    /** HTTP method. */
    method: "GET" | "POST" | "PUT" | "DELETE";
    /** Resource path with `{param}` placeholders, e.g. `/notes/{noteId}`. */
    path: string;
    /**
     * JSON Schema (draft 4) of the request body, published as an API Gateway model (its `title` names
     * it). On an `async` route (required there) API Gateway validates the body against it and refuses a
     * non-conforming one with 400 before the function runs; on a `sync` route the function validates the
     * same schema itself and answers with the detailed message. Default: none.
     */
    requestSchema?: JsonSchema;
    /**
     * Answer with this response from API Gateway itself (no function), e.g. for a feature a stage has
     * turned off. Default: none (the service's function answers).
     */
    fixedResponse?: { statusCode: number; body: Record<string, unknown> };
    /**
     * `async`: API Gateway invokes the function with invocation type `Event` and answers 202
     * `{"success": true, "accepted": true}` at once; the function receives
     * `{"senderId", "requestId", "body"}`, the sender taken from the request's credentials.
     * Default `sync` (Lambda proxy integration).
     */
    invocation?: "sync" | "async";
}

/** A function and the routes it serves (Lambda proxy integration). */
export interface ApiService {
    /** Short name of the service, unique within the API (names its invoke permission). */
    name: string;
    /** The function that serves the routes; none when every route has a fixed response. */
    function?: aws.lambda.Function;
    /** The routes it serves. */
    routes: ApiRoute[];
}

/** Arguments of {@link Api}. */
export interface ApiArgs {
    /** The services behind the API. */
    services: ApiService[];
    /** Name of the API stage. */
    stageName: string;
    /** Usage-plan throttle per API key: steady requests per second and burst. */
    throttle: { rateLimit: number; burstLimit: number };
    /** Usage-plan quota per API key. */
    quota: { limit: number; period: QuotaPeriod };
    /** Retention of the access-log group, in days. */
    logRetentionDays: number;
    /**
     * Set the account-wide API Gateway CloudWatch role (one per account and region) that stage logging
     * needs. The setting and its role are retained when the stack is destroyed, so destroying one stage
     * never turns off another stage's logging. Default `true`; turn off when another stack sets it.
     */
    manageAccountLogging?: boolean;
    /** X-Ray tracing of the stage's requests. Default `false`. */
    tracing?: boolean;
}

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

/** VTL that prints `reference` escaped for the inside of a JSON string. */
function jsonStringContent(reference: string): string {
    return String.raw`$util.escapeJavaScript(${reference}).replaceAll("\\'","'")`;
}

/**
 * The API tier: a REST API (API Gateway v1: API keys, usage plans, request validation) defined as one
 * OpenAPI document. Every operation requires SigV4 signing by Cognito identity credentials (`AWS_IAM`)
 * and an API key; request bodies are validated against JSON Schema models; access logs and metrics are on.
 */
export class Api extends pulumi.ComponentResource {
    /** The REST API. */
    public readonly restApi: aws.apigateway.RestApi;
    /** The deployed stage. */
    public readonly stage: aws.apigateway.Stage;
    /** Base URL of the stage, without a trailing slash. */
    public readonly url: pulumi.Output<string>;
    /** The API key mobile clients send in `x-api-key` (secret). */
    public readonly apiKey: pulumi.Output<string>;
    /** `execute-api` ARN of every operation on the stage, for the identity roles' policies. */
    public readonly invokeArn: pulumi.Output<string>;

    constructor(name: string, args: ApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:Api", name, {}, opts);

        const body = openApiDocument(`${pulumi.getProject()}-${pulumi.getStack()}`, args.services);
        this.restApi = new aws.apigateway.RestApi(
            `${name}-api`,
            {
                description: `Mobile backend API of ${pulumi.getProject()} ${pulumi.getStack()}`,
                body,
                apiKeySource: "HEADER",
                endpointConfiguration: { types: "REGIONAL" },
            },
            { parent: this },
        );
        const account = args.manageAccountLogging ?? true ? this.createAccountLogging(name) : undefined;
        this.stage = this.createStage(name, args, body, account);
        this.apiKey = this.createUsagePlan(name, args);
        this.grantInvoke(name, args.services);

        this.url = this.stage.invokeUrl.apply((url) => url.replace(/\/+$/, ""));
        this.invokeArn = pulumi.interpolate`${this.stage.executionArn}/*/*`;
        this.registerOutputs({ url: this.url, apiKey: this.apiKey, invokeArn: this.invokeArn });
    }

    /**
     * API Gateway writes stage logs with one role per account and region. Every resource here is
     * retained on delete: in @pulumi/aws 7 deleting an `aws.apigateway.Account` resets the account's
     * CloudWatch role (terraform-provider-aws PR 42226), and deleting the role would leave the setting
     * pointing at nothing; either would stop every other stage's logging and fail its next update
     * ("CloudWatch Logs role ARN must be set in account settings").
     */
    private createAccountLogging(name: string): aws.apigateway.Account {
        const role = new aws.iam.Role(
            `${name}-cloudwatch`,
            {
                description: "Lets API Gateway write access and execution logs",
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [
                        { Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" },
                    ],
                }),
            },
            { parent: this, retainOnDelete: true },
        );
        const attachment = new aws.iam.RolePolicyAttachment(
            `${name}-cloudwatch`,
            { role: role.name, policyArn: aws.iam.ManagedPolicy.AmazonAPIGatewayPushToCloudWatchLogs },
            { parent: this, retainOnDelete: true },
        );
        return new aws.apigateway.Account(
            `${name}-account`,
            { cloudwatchRoleArn: role.arn },
            { parent: this, dependsOn: [attachment], retainOnDelete: true },
        );
    }

    private createStage(
        name: string,
        args: ApiArgs,
        body: pulumi.Output<string>,
        account: aws.apigateway.Account | undefined,
    ): aws.apigateway.Stage {
        // A new deployment whenever the document changes; the stage then moves to it.
        const deployment = new aws.apigateway.Deployment(
            `${name}-deployment`,
            {
                restApi: this.restApi.id,
                triggers: { document: body.apply((text) => createHash("sha256").update(text).digest("hex")) },
            },
            { parent: this },
        );
        const accessLogs = new aws.cloudwatch.LogGroup(
            `${name}-access-logs`,
            {
                name: `/aws/apigateway/${pulumi.getProject()}/${pulumi.getStack()}/${name}/access`,
                retentionInDays: args.logRetentionDays,
            },
            { parent: this },
        );
        const stage = new aws.apigateway.Stage(
            `${name}-stage`,
            {
                restApi: this.restApi.id,
                deployment: deployment.id,
                stageName: args.stageName,
                xrayTracingEnabled: args.tracing ?? false,
                accessLogSettings: {
                    destinationArn: accessLogs.arn,
                    format: JSON.stringify({
                        requestId: "$context.requestId",
                        time: "$context.requestTime",
                        ip: "$context.identity.sourceIp",
                        identityId: "$context.identity.cognitoIdentityId",
                        apiKeyId: "$context.identity.apiKeyId",
                        method: "$context.httpMethod",
                        path: "$context.resourcePath",
                        status: "$context.status",
                        latencyMs: "$context.responseLatency",
                        integrationLatencyMs: "$context.integration.latency",
                        error: "$context.error.responseType",
                        userAgent: "$context.identity.userAgent",
                    }),
                },
            },
            { parent: this, dependsOn: account ? [account] : [] },
        );
        // API Gateway would create this group itself, without retention and outside the stack.
        const executionLogs = new aws.cloudwatch.LogGroup(
            `${name}-execution-logs`,
            {
                name: pulumi.interpolate`API-Gateway-Execution-Logs_${this.restApi.id}/${args.stageName}`,
                retentionInDays: args.logRetentionDays,
            },
            { parent: this },
        );
        new aws.apigateway.MethodSettings(
            `${name}-metrics`,
            {
                restApi: this.restApi.id,
                stageName: stage.stageName,
                methodPath: "*/*",
                settings: { metricsEnabled: true, loggingLevel: "ERROR", dataTraceEnabled: false },
            },
            { parent: this, dependsOn: account ? [account, executionLogs] : [executionLogs] },
        );
        return stage;
    }

    /** One API key for the app, throttled and metered by the stage's usage plan. */
    private createUsagePlan(name: string, args: ApiArgs): pulumi.Output<string> {
        const plan = new aws.apigateway.UsagePlan(
            `${name}-plan`,
            {
                description: `Throttle and quota of the mobile app on ${args.stageName}`,
                apiStages: [{ apiId: this.restApi.id, stage: this.stage.stageName }],
                throttleSettings: { rateLimit: args.throttle.rateLimit, burstLimit: args.throttle.burstLimit },
                quotaSettings: { limit: args.quota.limit, period: args.quota.period },
            },
            { parent: this },
        );
        const key = new aws.apigateway.ApiKey(
            `${name}-key`,
            { description: `Mobile app key for ${pulumi.getProject()} ${args.stageName}`, enabled: true },
            { parent: this },
        );
        new aws.apigateway.UsagePlanKey(
            `${name}-plan-key`,
            { keyId: key.id, keyType: "API_KEY", usagePlanId: plan.id },
            { parent: this },
        );
        return pulumi.secret(key.value);
    }

    /** Each function may be invoked by this API's stage, and by nothing else. */
    private grantInvoke(name: string, services: ApiService[]): void {
        for (const service of services) {
            if (!service.function) continue;
            new aws.lambda.Permission(
                `${name}-${service.name}-invoke`,
                {
                    action: "lambda:InvokeFunction",
                    function: service.function.name,
                    principal: "apigateway.amazonaws.com",
                    sourceArn: pulumi.interpolate`${this.restApi.executionArn}/${this.stage.stageName}/*`,
                },
                { parent: this },
            );
        }
    }
}

/**
 * The API as an OpenAPI 3.0 document with API Gateway extensions: SigV4 + API key on every operation,
 * a model for every route with a request schema (validated at the edge on asynchronous routes only, see
 * {@link ApiRoute.requestSchema}), Lambda proxy integrations, and gateway error responses in the
 * functions' error shape.
 */
export function openApiDocument(title: string, services: ApiService[]): pulumi.Output<string> {
    const withArns = services.map((service) =>
        pulumi.output(service.function?.invokeArn).apply((arn) => ({ service, arn })),
    );
    return pulumi.all(withArns).apply((resolved) => {
        const paths: Record<string, Record<string, unknown>> = {};
        const schemas: Record<string, JsonSchema> = {};
        for (const { service, arn } of resolved) {
            for (const route of service.routes) {
                const operation: Record<string, unknown> = {
                    operationId: operationId(route),
                    security: [{ sigv4: [], api_key: [] }],
                    ...integration(route, arn),
                };
                const parameters = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
                    name: m[1],
                    in: "path",
                    required: true,
                    schema: { type: "string" },
                }));
                if (parameters.length > 0) operation.parameters = parameters;
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
                } else if (route.invocation === "async") {
                    throw new Error(`${route.method} ${route.path} is asynchronous: API Gateway must validate its body, give it a requestSchema`);
                }
                const methods = (paths[route.path] ??= {});
                const method = route.method.toLowerCase();
                if (methods[method]) throw new Error(`Two services serve ${route.method} ${route.path}`);
                methods[method] = operation;
            }
        }
        return JSON.stringify({
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
        });
    });
}

/** How API Gateway answers a route: through the service's function, or by itself. */
function integration(route: ApiRoute, functionArn: string | undefined): Record<string, unknown> {
    if (route.fixedResponse) {
        const status = String(route.fixedResponse.statusCode);
        return {
            responses: { [status]: { description: "Fixed response" } },
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
            responses: { "202": { description: "Accepted: the function runs after the response" } },
            "x-amazon-apigateway-integration": {
                type: "aws",
                httpMethod: "POST",
                uri: functionArn,
                passthroughBehavior: "never",
                requestParameters: { "integration.request.header.X-Amz-Invocation-Type": "'Event'" },
                requestTemplates: { "application/json": ASYNC_EVENT_TEMPLATE },
                responses: {
                    default: { statusCode: "202", responseTemplates: { "application/json": '{"success":true,"accepted":true}' } },
                },
            },
        };
    }
    return {
        responses: { "200": { description: "JSON response; errors are {success: false, error: {code, message}}" } },
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
