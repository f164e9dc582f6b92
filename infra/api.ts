import { createHash } from "node:crypto";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { openApiDocument } from "./openapi";
import type { RouteSet } from "./routes";
import type { QuotaPeriod } from "./config";

/** A route set and the function that serves it (Lambda proxy integration). */
export interface ApiService extends RouteSet {
    /** The function that serves the routes; none when every route has a fixed response. */
    function?: aws.lambda.Function;
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

        const title = `${pulumi.getProject()}-${pulumi.getStack()}`;
        const body = pulumi
            .all(args.services.map((service) => pulumi.output(service.function?.invokeArn)))
            .apply((arns) =>
                JSON.stringify(openApiDocument(title, args.services.map((routes, i) => ({ routes, integrationUri: arns[i] })))),
            );
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
