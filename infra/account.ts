import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { AccountDeletionEvent, AccountDeletionSummary } from "../functions/account";
import { DEVICES_BY_ENDPOINT } from "../functions/notification-schema";
import type { ApiService } from "./api";
import { fairUseLimits, type FairUseLimits } from "./data";
import { AppFunction } from "./function";
import { accountEnvironment, accountFunction } from "./handlers/account";
import { ACCOUNT_FUNCTION_UPLOADS_ACCESS } from "./declarations";
import { bucketStatements } from "./media";
import { endpointStatements } from "./notifications";
import { ACCOUNT_ROUTES } from "./routes";

/** Arguments of {@link AccountDeletion}. */
export interface AccountDeletionArgs {
    /** The notes table (partition `ownerId`). */
    notesTable: aws.dynamodb.Table;
    /** The devices table (partition `ownerId`, endpoint index). */
    devicesTable: aws.dynamodb.Table;
    /** The blocks table (partition `recipientId`). */
    blocksTable: aws.dynamodb.Table;
    /** The uploads bucket (keys `uploads/<identity id>/…`). */
    uploadsBucket: aws.s3.Bucket;
    /** The stage's platform applications, whose endpoints devices hold. */
    platformApplications: aws.sns.PlatformApplication[];
    /** The fair-use limits and their table (the caller's counters are deleted). */
    limits: FairUseLimits;
    /** The user pool (its users are deleted by `sub`). */
    userPool: aws.cognito.UserPool;
    /** The identity pool (its identities are deleted). */
    identityPool: aws.cognito.IdentityPool;
    /** Retries of a failed run (0–2, Lambda's range for asynchronous invocations). Default `2`. */
    retryAttempts?: number;
    /** Longest an event may wait for a run or a retry, in seconds (60–21600). Default `21600` (six hours). */
    maxEventAgeSeconds?: number;
    /**
     * Timeout in seconds. Default `300`: a run that has not finished 20 s before it stops where it is, and
     * Lambda's retry continues (every step is idempotent).
     */
    timeoutSeconds?: number;
    /** Memory in MB. */
    memoryMb: number;
    /** Retention of the function's logs, in days. */
    logRetentionDays: number;
    /** X-Ray active tracing. Default `false`. */
    tracing?: boolean;
}

/** SQS's longest retention: a deletion that failed can be looked at (and sent again) for two weeks. */
const FAILED_DELETION_RETENTION_SECONDS = 14 * 24 * 60 * 60;

/**
 * `DELETE /me`: deletes the calling identity's notes, devices and their endpoints, uploads (every version),
 * blocks, fair-use counters, user-pool user and identity (functions/account.ts). API Gateway invokes the
 * function asynchronously and answers 202 at once; a failed run is retried (bounded), then its event goes to
 * the failure queue, which the monitoring tier alarms on. The function's role allows only the actions it
 * calls, on this stage's tables, bucket prefix, platform applications and pools.
 */
export class AccountDeletion extends pulumi.ComponentResource {
    /** The route, for the API tier. */
    public readonly api: ApiService;
    /** The function (for monitoring). */
    public readonly function: aws.lambda.Function;
    /** The queue that keeps the events of deletions that failed after the retries (for monitoring). */
    public readonly failures: aws.sqs.Queue;

    constructor(name: string, args: AccountDeletionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:AccountDeletion", name, {}, opts);
        const { notesTable, devicesTable, blocksTable, uploadsBucket, userPool, identityPool, limits } = args;

        this.failures = new aws.sqs.Queue(
            `${name}-failures`,
            { messageRetentionSeconds: FAILED_DELETION_RETENTION_SECONDS, sqsManagedSseEnabled: true },
            { parent: this },
        );
        const fn = new AppFunction<AccountDeletionEvent, AccountDeletionSummary>(
            `${name}-deletion`,
            {
                description: "Deletes the calling Cognito identity's account and everything of it (DELETE /me)",
                callbackFactory: accountFunction,
                environment: accountEnvironment({
                    notesTable: notesTable.name,
                    devicesTable: devicesTable.name,
                    blocksTable: blocksTable.name,
                    uploadsBucket: uploadsBucket.bucket,
                    userPoolId: userPool.id,
                    limits: fairUseLimits(limits),
                }),
                statements: [
                    { Action: ["dynamodb:Query", "dynamodb:BatchWriteItem"], Resource: [notesTable.arn, blocksTable.arn] },
                    { Action: ["dynamodb:Query", "dynamodb:DeleteItem"], Resource: [devicesTable.arn] },
                    { Action: ["dynamodb:Query"], Resource: [pulumi.interpolate`${devicesTable.arn}/index/${DEVICES_BY_ENDPOINT}`] },
                    { Action: ["dynamodb:BatchWriteItem"], Resource: [limits.table.arn] },
                    ...endpointStatements(args.platformApplications, [], ["sns:DeleteEndpoint"]),
                    // Listing only under the uploads prefix (s3:prefix condition key, "Amazon S3 condition key examples"), and
                    // only DeleteObject with a VersionId: each version goes for good, no delete marker is added.
                    ...bucketStatements(uploadsBucket.arn, ACCOUNT_FUNCTION_UPLOADS_ACCESS),
                    { Action: ["cognito-idp:ListUsers", "cognito-idp:AdminDeleteUser"], Resource: [userPool.arn] },
                    { Action: ["cognito-identity:DeleteIdentities"], Resource: [identityPool.arn] },
                    // Lambda sends the events of failed runs to the queue with the function's role.
                    { Action: ["sqs:SendMessage"], Resource: [this.failures.arn] },
                ],
                memoryMb: args.memoryMb,
                timeoutSeconds: args.timeoutSeconds ?? 300,
                logRetentionDays: args.logRetentionDays,
                tracing: args.tracing,
            },
            { parent: this },
        );
        new aws.lambda.FunctionEventInvokeConfig(
            `${name}-deletion-async`,
            {
                functionName: fn.function.name,
                maximumRetryAttempts: args.retryAttempts ?? 2,
                maximumEventAgeInSeconds: args.maxEventAgeSeconds ?? 21600,
                destinationConfig: { onFailure: { destination: this.failures.arn } },
            },
            // The role must be allowed to send to the queue before Lambda checks the destination.
            { parent: this, dependsOn: [fn] },
        );
        this.function = fn.function;
        this.api = { ...ACCOUNT_ROUTES, function: fn.function };
        this.registerOutputs({ function: this.function, failures: this.failures });
    }
}
