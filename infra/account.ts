import type { CognitoIdentityClient } from "@aws-sdk/client-cognito-identity";
import type { CognitoIdentityProviderClient } from "@aws-sdk/client-cognito-identity-provider";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Context } from "aws-lambda";
import { accountSettingsFromEnvironment, deleteAccount, type AccountClients, type AccountDeletionEvent, type AccountDeletionSummary } from "../functions/account";
import { DEVICES_BY_ENDPOINT } from "../functions/notification-schema";
import { limitSettingsFromEnvironment } from "../functions/rate-limit";
import type { ApiService } from "./api";
import { limitsEnvironment, type FairUseLimits } from "./data";
import { AppFunction } from "./function";
import { UPLOADS_PREFIX } from "./media";
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
                callbackFactory: () => {
                    const clients = createAccountClients();
                    const settings = { ...accountSettingsFromEnvironment(process.env), limits: limitSettingsFromEnvironment(process.env) };
                    return (event: AccountDeletionEvent, context: Context) =>
                        deleteAccount(event, clients, { ...settings, remainingMs: () => context.getRemainingTimeInMillis() });
                },
                environment: {
                    NOTES_TABLE: notesTable.name,
                    DEVICES_TABLE: devicesTable.name,
                    BLOCKS_TABLE: blocksTable.name,
                    UPLOADS_BUCKET: uploadsBucket.bucket,
                    USER_POOL_ID: userPool.id,
                    TIME_RESERVE_MS: "20000",
                    ...limitsEnvironment(limits),
                },
                statements: [
                    { Action: ["dynamodb:Query", "dynamodb:BatchWriteItem"], Resource: [notesTable.arn, blocksTable.arn] },
                    { Action: ["dynamodb:Query", "dynamodb:DeleteItem"], Resource: [devicesTable.arn] },
                    { Action: ["dynamodb:Query"], Resource: [pulumi.interpolate`${devicesTable.arn}/index/${DEVICES_BY_ENDPOINT}`] },
                    { Action: ["dynamodb:BatchWriteItem"], Resource: [limits.table.arn] },
                    ...endpointStatements(args.platformApplications, [], ["sns:DeleteEndpoint"]),
                    {
                        Action: ["s3:ListBucketVersions"],
                        Resource: [uploadsBucket.arn],
                        // Listing only under the uploads prefix (s3:prefix condition key, "Amazon S3 condition key examples").
                        Condition: { StringLike: { "s3:prefix": `${UPLOADS_PREFIX}*` } },
                    },
                    // Only DeleteObject with a VersionId: each version goes for good, no delete marker is added.
                    { Action: ["s3:DeleteObjectVersion"], Resource: [pulumi.interpolate`${uploadsBucket.arn}/${UPLOADS_PREFIX}*`] },
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

/**
 * The SDK clients of the deletion, built once per cold start from the runtime's AWS SDK with its default
 * configuration. Serialized into the closure (hence `require` here, not imports).
 */
function createAccountClients(): AccountClients {
    const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
    const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb");
    const { SNSClient } = require("@aws-sdk/client-sns");
    const { S3Client } = require("@aws-sdk/client-s3");
    const { CognitoIdentityClient } = require("@aws-sdk/client-cognito-identity");
    const { CognitoIdentityProviderClient } = require("@aws-sdk/client-cognito-identity-provider");
    return {
        db: DynamoDBDocumentClient.from(new DynamoDBClient({})) as DynamoDBDocumentClient,
        sns: new SNSClient({}) as SNSClient,
        s3: new S3Client({}) as S3Client,
        identity: new CognitoIdentityClient({}) as CognitoIdentityClient,
        users: new CognitoIdentityProviderClient({}) as CognitoIdentityProviderClient,
    };
}
