import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { DEVICES_BY_ENDPOINT, type NotificationRequestEvent } from "../functions/notification-schema";
import type { ApiService } from "./api";
import { fairUseLimits, type FairUseLimits, type TableKeys } from "./data";
import { kept, type RetainedResource, type RetainsResources } from "./adopt";
import { AppFunction, type PolicyStatement } from "./function";
import { blocksEnvironment, blocksFunction } from "./handlers/blocks";
import { devicesFunction, pushEnvironment, senderFunction } from "./handlers/push";
import { BLOCKS_ROUTES, DEVICES_ROUTES, NOTIFICATIONS_ROUTES } from "./routes";

/** The devices table: a user's devices are one partition; a global index finds who registered an endpoint. */
export const DEVICES_TABLE_KEYS: TableKeys = {
    hashKey: "ownerId",
    rangeKey: "deviceId",
    attributes: [
        { name: "ownerId", type: "S" },
        { name: "deviceId", type: "S" },
        { name: "endpointArn", type: "S" },
    ],
    globalSecondaryIndexes: [{ name: DEVICES_BY_ENDPOINT, hashKey: "endpointArn", projectionType: "ALL" }],
};

/** The blocks table: a recipient's blocked senders are one partition (`recipientId`, sort key `senderId`). */
export const BLOCKS_TABLE_KEYS: TableKeys = {
    hashKey: "recipientId",
    rangeKey: "senderId",
    attributes: [
        { name: "recipientId", type: "S" },
        { name: "senderId", type: "S" },
    ],
};

/** Arguments of {@link Notifications}. */
export interface NotificationsArgs {
    /**
     * APNs token-based credentials. Default: none (no APNs platform application; iOS registrations
     * answer 409). `sandbox` selects the APNs development environment.
     */
    apns?: {
        signingKey: pulumi.Input<string>;
        keyId: string;
        teamId: string;
        bundleId: string;
        sandbox: boolean;
    };
    /** FCM service-account JSON. Default: none (no FCM platform application; Android registrations answer 409). */
    fcm?: { serviceAccountJson: pulumi.Input<string> };
    /** Retries of a failed asynchronous push (0–2). */
    retryAttempts: number;
    /** Longest a push may wait for a retry, in seconds. */
    maxEventAgeSeconds: number;
    /** Keep the devices and blocks tables when the stack is destroyed, with deletion protection and PITR. Default `false`. */
    retain?: boolean;
    /** Devices one identity may register; one more replaces the least recently registered. Default `10`. */
    maxDevicesPerIdentity?: number;
    /**
     * Fair use: device and block changes count against `writesPerMinute`; a notification counts against its
     * sender's `notificationsSentPerHour` and its recipient's `notificationsReceivedPerHour`.
     */
    limits: FairUseLimits;
    /** Memory of both functions, in MB. */
    memoryMb: number;
    /** Timeout of both functions, in seconds. */
    timeoutSeconds: number;
    /** Retention of the functions' logs, in days. */
    logRetentionDays: number;
    /** X-Ray active tracing of the functions. Default `false`. */
    tracing?: boolean;
}

/** SQS's longest retention: a push that could not be delivered can be looked at for two weeks. */
const FAILED_PUSH_RETENTION_SECONDS = 14 * 24 * 60 * 60;

/**
 * The notification tier: users register their devices (`/devices`), and send each other push
 * notifications (`POST /notifications`, answered 202 at once and delivered asynchronously). Pushes go
 * to the recipient's devices through SNS platform applications (APNs, FCM; each only when its
 * credentials are configured) and always to a stage-wide topic with a `recipientId` attribute.
 */
export class Notifications extends pulumi.ComponentResource implements RetainsResources {
    /** The device and notification routes, for the API tier. */
    public readonly api: ApiService[];
    /** The stage-wide topic every notification is published to. */
    public readonly topic: aws.sns.Topic;
    /** The queue that keeps notifications that could not be delivered after the retries. */
    public readonly failedPushes: aws.sqs.Queue;
    /** The devices table: a user's devices (endpoint and token) by identity. */
    public readonly devicesTable: aws.dynamodb.Table;
    /** The blocks table: the senders each recipient blocked. */
    public readonly blocksTable: aws.dynamodb.Table;
    /** What a retaining stage keeps on destroy: the devices and blocks tables. */
    public readonly retained: RetainedResource[];
    /** The `/devices` function (for monitoring). */
    public readonly devicesFunction: aws.lambda.Function;
    /** The asynchronous sender behind `POST /notifications` (for monitoring). */
    public readonly senderFunction: aws.lambda.Function;
    /** The APNs and FCM platform applications that exist on this stage (for monitoring). */
    public readonly platformApplications: aws.sns.PlatformApplication[];
    /** The `/blocks` function (for monitoring). */
    public readonly blocksFunction: aws.lambda.Function;

    constructor(name: string, args: NotificationsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:Notifications", name, {}, opts);
        const retain = args.retain ?? false;

        const devices = this.createTable(`${name}-devices`, DEVICES_TABLE_KEYS, retain);
        this.devicesTable = devices;
        const blocks = this.createTable(`${name}-blocks`, BLOCKS_TABLE_KEYS, retain);
        this.blocksTable = blocks;
        this.retained = retain ? [kept(devices), kept(blocks)] : [];
        this.topic = new aws.sns.Topic(
            `${name}-topic`,
            { kmsMasterKeyId: "alias/aws/sns", displayName: `${pulumi.getProject()} ${pulumi.getStack()} notifications` },
            { parent: this },
        );
        const apns = args.apns ? this.createApnsApplication(name, args.apns) : undefined;
        const fcm = args.fcm ? this.createFcmApplication(name, args.fcm) : undefined;
        const applications = [apns, fcm].filter((a): a is aws.sns.PlatformApplication => a !== undefined);
        const environment = pushEnvironment({
            devicesTable: devices.name,
            blocksTable: blocks.name,
            maxDevicesPerIdentity: args.maxDevicesPerIdentity,
            limits: fairUseLimits(args.limits),
            topicArn: this.topic.arn,
            apns: apns && { applicationArn: apns.arn, sandbox: args.apns?.sandbox ?? false },
            fcm: fcm && { applicationArn: fcm.arn },
        });
        this.failedPushes = new aws.sqs.Queue(
            `${name}-failed-pushes`,
            { messageRetentionSeconds: FAILED_PUSH_RETENTION_SECONDS, sqsManagedSseEnabled: true },
            { parent: this },
        );

        const registrar = this.createDevicesFunction(name, args, devices, applications, environment);
        const sender = this.createNotificationFunction(name, args, devices, blocks, applications, environment);
        const blocker = this.createBlocksFunction(name, args, blocks);
        this.devicesFunction = registrar.function;
        this.senderFunction = sender.function;
        this.blocksFunction = blocker.function;
        this.platformApplications = applications;
        this.api = [
            { ...DEVICES_ROUTES, function: registrar.function },
            { ...NOTIFICATIONS_ROUTES, function: sender.function },
            { ...BLOCKS_ROUTES, function: blocker.function },
        ];

        this.registerOutputs({ topic: this.topic, failedPushes: this.failedPushes });
    }

    private createTable(name: string, keys: TableKeys, retain: boolean): aws.dynamodb.Table {
        return new aws.dynamodb.Table(
            name,
            {
                billingMode: "PAY_PER_REQUEST",
                ...keys,
                serverSideEncryption: { enabled: true },
                pointInTimeRecovery: { enabled: retain },
                deletionProtectionEnabled: retain,
            },
            { parent: this, retainOnDelete: retain },
        );
    }

    private createApnsApplication(name: string, apns: NonNullable<NotificationsArgs["apns"]>): aws.sns.PlatformApplication {
        return new aws.sns.PlatformApplication(
            `${name}-apns`,
            {
                platform: apns.sandbox ? "APNS_SANDBOX" : "APNS",
                // Token-based authentication: the .p8 key, its key id, the team and the app.
                platformCredential: pulumi.secret(apns.signingKey),
                platformPrincipal: apns.keyId,
                applePlatformTeamId: apns.teamId,
                applePlatformBundleId: apns.bundleId,
            },
            { parent: this },
        );
    }

    private createFcmApplication(name: string, fcm: NonNullable<NotificationsArgs["fcm"]>): aws.sns.PlatformApplication {
        return new aws.sns.PlatformApplication(
            `${name}-fcm`,
            { platform: "GCM", platformCredential: pulumi.secret(fcm.serviceAccountJson) },
            { parent: this },
        );
    }

    /** `/devices`: creates and updates endpoints of this stage's platform applications only. */
    private createDevicesFunction(
        name: string,
        args: NotificationsArgs,
        devices: aws.dynamodb.Table,
        applications: aws.sns.PlatformApplication[],
        environment: Record<string, pulumi.Input<string>>,
    ): AppFunction<APIGatewayProxyEvent, APIGatewayProxyResult> {
        return new AppFunction<APIGatewayProxyEvent, APIGatewayProxyResult>(
            `${name}-devices`,
            {
                description: "Registers the calling Cognito identity's devices for push notifications",
                callbackFactory: devicesFunction,
                environment,
                statements: [
                    {
                        Action: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"],
                        Resource: [devices.arn, pulumi.interpolate`${devices.arn}/index/*`],
                    },
                    { Action: ["dynamodb:UpdateItem"], Resource: [args.limits.table.arn] },
                    ...endpointStatements(applications, ["sns:CreatePlatformEndpoint"], [
                        "sns:GetEndpointAttributes",
                        "sns:SetEndpointAttributes",
                        "sns:DeleteEndpoint",
                    ]),
                ],
                memoryMb: args.memoryMb,
                timeoutSeconds: args.timeoutSeconds,
                logRetentionDays: args.logRetentionDays,
                tracing: args.tracing,
            },
            { parent: this },
        );
    }

    /** `/blocks`: the caller's blocked senders, in the blocks table only (and the write counter). */
    private createBlocksFunction(
        name: string,
        args: NotificationsArgs,
        blocks: aws.dynamodb.Table,
    ): AppFunction<APIGatewayProxyEvent, APIGatewayProxyResult> {
        return new AppFunction<APIGatewayProxyEvent, APIGatewayProxyResult>(
            `${name}-blocks`,
            {
                description: "Blocks and unblocks senders of notifications to the calling Cognito identity",
                callbackFactory: blocksFunction,
                environment: blocksEnvironment({ blocksTable: blocks.name, limits: fairUseLimits(args.limits) }),
                statements: [
                    { Action: ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"], Resource: [blocks.arn] },
                    { Action: ["dynamodb:UpdateItem"], Resource: [args.limits.table.arn] },
                ],
                tracing: args.tracing,
                memoryMb: args.memoryMb,
                timeoutSeconds: args.timeoutSeconds,
                logRetentionDays: args.logRetentionDays,
            },
            { parent: this },
        );
    }

    /** `POST /notifications`, invoked asynchronously: bounded retries, then the failure queue. */
    private createNotificationFunction(
        name: string,
        args: NotificationsArgs,
        devices: aws.dynamodb.Table,
        blocks: aws.dynamodb.Table,
        applications: aws.sns.PlatformApplication[],
        environment: Record<string, pulumi.Input<string>>,
    ): AppFunction<NotificationRequestEvent, unknown> {
        const sender = new AppFunction<NotificationRequestEvent, unknown>(
            `${name}-sender`,
            {
                description: "Delivers a user's push notification to the recipient's devices and the stage topic",
                callbackFactory: senderFunction,
                environment,
                statements: [
                    { Action: ["dynamodb:Query", "dynamodb:DeleteItem"], Resource: [devices.arn] },
                    { Action: ["dynamodb:Query"], Resource: [blocks.arn] },
                    // The sent/received counters and the delivery records.
                    { Action: ["dynamodb:GetItem", "dynamodb:UpdateItem"], Resource: [args.limits.table.arn] },
                    { Action: ["sns:Publish"], Resource: [this.topic.arn] },
                    ...endpointStatements(applications, [], ["sns:Publish", "sns:DeleteEndpoint"]),
                    { Action: ["sqs:SendMessage"], Resource: [this.failedPushes.arn] },
                ],
                memoryMb: args.memoryMb,
                timeoutSeconds: args.timeoutSeconds,
                logRetentionDays: args.logRetentionDays,
                tracing: args.tracing,
            },
            { parent: this },
        );
        new aws.lambda.FunctionEventInvokeConfig(
            `${name}-sender-async`,
            {
                functionName: sender.function.name,
                maximumRetryAttempts: args.retryAttempts,
                maximumEventAgeInSeconds: args.maxEventAgeSeconds,
                destinationConfig: { onFailure: { destination: this.failedPushes.arn } },
            },
            // The role must be allowed to send to the queue before Lambda checks the destination.
            { parent: this, dependsOn: [sender] },
        );
        return sender;
    }
}

/**
 * Statements on this stage's platform applications (`applicationActions`) and on their endpoints
 * (`endpointActions`); none when no application exists, as IAM refuses an empty resource list.
 */
export function endpointStatements(
    applications: aws.sns.PlatformApplication[],
    applicationActions: string[],
    endpointActions: string[],
): PolicyStatement[] {
    if (applications.length === 0) return [];
    const statements: PolicyStatement[] = [];
    if (applicationActions.length > 0) {
        statements.push({ Action: applicationActions, Resource: applications.map((a) => a.arn) });
    }
    statements.push({
        Action: endpointActions,
        // arn:aws:sns:<region>:<account>:app/<platform>/<name> → its endpoints: …:endpoint/<platform>/<name>/*
        Resource: applications.map((a) => a.arn.apply((arn) => `${arn.replace(":app/", ":endpoint/")}/*`)),
    });
    return statements;
}
