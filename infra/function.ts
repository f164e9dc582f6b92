import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { dependencies } from "../package.json";

/** An IAM policy statement whose resources may be outputs of other resources. */
export interface PolicyStatement {
    Effect?: "Allow" | "Deny";
    Action: string[];
    Resource: pulumi.Input<string>[];
    Condition?: Record<string, Record<string, pulumi.Input<string | string[]>>>;
}

/** Arguments of {@link AppFunction}. */
export interface AppFunctionArgs<E, R> {
    /** What the function does, shown in the Lambda console. */
    description: string;
    /**
     * Runs once per cold start and returns the handler. Build SDK clients here (with `require`, so the
     * serialized closure refers to the runtime's AWS SDK instead of capturing a client object).
     */
    callbackFactory: aws.lambda.CallbackFactory<E, R>;
    /** Everything the function may do besides writing its own logs. Default: nothing. */
    statements?: PolicyStatement[];
    /** Environment variables. Default: none. */
    environment?: Record<string, pulumi.Input<string>>;
    /** Memory in MB. */
    memoryMb: number;
    /** Timeout in seconds. */
    timeoutSeconds: number;
    /** Retention of the function's log group, in days. */
    logRetentionDays: number;
    /**
     * Dependencies (of package.json) the archive must hold because the runtime does not provide them,
     * e.g. `["aws4"]` for a function that signs its own requests. Default: none, so the archive holds
     * only the serialized closure.
     */
    bundledPackages?: string[];
    /** X-Ray active tracing, with the role allowed to send traces. Default `false`. */
    tracing?: boolean;
}

/**
 * What a traced function's role needs to send its traces: these X-Ray actions support no resource-level
 * permissions, so `*` is the only resource they take (AWS-managed `AWSXRayDaemonWriteAccess`; Lambda
 * developer guide, "Visualize Lambda function invocations using AWS X-Ray"). The one `*` of the program.
 */
export const XRAY_WRITE_STATEMENT = {
    Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    Resource: ["*"],
} as const;

/**
 * The packages that the Lambda Node.js runtime already provides: every `@aws-sdk/*` dependency of this
 * program. Kept out of archives so each holds only its serialized closure.
 */
export const RUNTIME_PROVIDED_PACKAGES: readonly string[] = Object.keys(dependencies).filter((name) =>
    name.startsWith("@aws-sdk/"),
);

/**
 * The packages to leave out of an archive that bundles `bundled`: every dependency of this program that
 * is not bundled (the runtime provides the AWS SDK; the others are for the deployment, not the function).
 */
export function excludedPackages(bundled: readonly string[] = []): string[] {
    for (const name of bundled) {
        if (!(name in dependencies) || RUNTIME_PROVIDED_PACKAGES.includes(name)) {
            throw new Error(`${name} cannot be bundled: it is not a dependency of this program, or the runtime provides it`);
        }
    }
    return Object.keys(dependencies).filter((name) => !bundled.includes(name));
}

/** The runtime every function of this program runs on. */
export const FUNCTION_RUNTIME = aws.lambda.Runtime.NodeJS22dX;

/**
 * A Lambda function built from an inline callback, with what every function of this program has:
 * its own role allowed only `statements` plus writing to its own log group, a log group with a set
 * retention (removed with the stack, unlike the one Lambda would create), arm64, and an archive with
 * nothing but the serialized closure.
 */
export class AppFunction<E, R> extends pulumi.ComponentResource {
    /** The Lambda function. */
    public readonly function: aws.lambda.Function;
    /** The function's execution role. */
    public readonly role: aws.iam.Role;
    /** The function's log group. */
    public readonly logGroup: aws.cloudwatch.LogGroup;

    constructor(name: string, args: AppFunctionArgs<E, R>, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:AppFunction", name, {}, opts);

        this.logGroup = new aws.cloudwatch.LogGroup(
            `${name}-logs`,
            {
                name: `/aws/lambda/${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
                retentionInDays: args.logRetentionDays,
            },
            { parent: this },
        );

        this.role = new aws.iam.Role(
            `${name}-role`,
            {
                description: `Execution role of ${name}`,
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [
                        { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
                    ],
                }),
            },
            { parent: this },
        );

        const policy = new aws.iam.RolePolicy(
            `${name}-policy`,
            {
                role: this.role.id,
                policy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
                            Resource: [pulumi.interpolate`${this.logGroup.arn}:*`],
                        },
                        ...(args.statements ?? []).map((s) => ({ Effect: "Allow", ...s })),
                        ...(args.tracing
                            ? [{ Effect: "Allow", Action: [...XRAY_WRITE_STATEMENT.Action], Resource: [...XRAY_WRITE_STATEMENT.Resource] }]
                            : []),
                    ],
                }),
            },
            { parent: this },
        );

        this.function = new aws.lambda.CallbackFunction<E, R>(
            name,
            {
                description: args.description,
                callbackFactory: args.callbackFactory,
                role: this.role,
                runtime: FUNCTION_RUNTIME,
                architectures: ["arm64"],
                memorySize: args.memoryMb,
                timeout: args.timeoutSeconds,
                environment: args.environment ? { variables: args.environment } : undefined,
                tracingConfig: args.tracing ? { mode: "Active" } : undefined,
                loggingConfig: { logFormat: "JSON", logGroup: this.logGroup.name, applicationLogLevel: "INFO", systemLogLevel: "WARN" },
                // A fresh array (CallbackFunction appends to the one it is given) of every dependency not bundled.
                codePathOptions: { extraExcludePackages: excludedPackages(args.bundledPackages) },
            },
            // The role must be able to write logs before the first invocation.
            { parent: this, dependsOn: [policy] },
        );

        this.registerOutputs({ function: this.function, role: this.role, logGroup: this.logGroup });
    }
}
