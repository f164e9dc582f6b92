/** Push: `/devices` and the asynchronous sender of `POST /notifications` (see ./types.ts). */
import type { SNSClient } from "@aws-sdk/client-sns";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { handleDevicesRequest } from "../../functions/devices";
import { DEFAULT_MAX_DEVICES_PER_IDENTITY, pushSettingsFromEnvironment, type NotificationRequestEvent } from "../../functions/notification-schema";
import { sendNotification } from "../../functions/notifications";
import { limitSettingsFromEnvironment } from "../../functions/rate-limit";
import { fairUseEnvironment, type ApiHandler, type Environment, type FairUseEnvironment, type SenderHandler } from "./types";

export interface PushEnvironment<S> {
    devicesTable: S;
    blocksTable: S;
    maxDevicesPerIdentity?: number;
    limits: FairUseEnvironment<S>;
    topicArn: S;
    /** The APNs platform application, when configured. */
    apns?: { applicationArn: S; sandbox: boolean };
    /** The FCM platform application, when configured. */
    fcm?: { applicationArn: S };
}

/** What the devices function and the sender read (`pushSettingsFromEnvironment`, `limitSettingsFromEnvironment`). */
export function pushEnvironment<S>(args: PushEnvironment<S>): Environment<S> {
    return {
        DEVICES_TABLE: args.devicesTable,
        BLOCKS_TABLE: args.blocksTable,
        MAX_DEVICES_PER_IDENTITY: String(args.maxDevicesPerIdentity ?? DEFAULT_MAX_DEVICES_PER_IDENTITY),
        ...fairUseEnvironment(args.limits),
        NOTIFICATIONS_TOPIC_ARN: args.topicArn,
        ...(args.apns ? { APNS_APPLICATION_ARN: args.apns.applicationArn, APNS_SANDBOX: String(args.apns.sandbox) } : {}),
        ...(args.fcm ? { FCM_APPLICATION_ARN: args.fcm.applicationArn } : {}),
    };
}

/**
 * The SDK clients both push functions use, built once per cold start from the runtime's AWS SDK with its
 * default configuration. Serialized into each function's closure (hence `require` here, not imports).
 */
export function createPushClients(): { db: DynamoDBDocumentClient; sns: SNSClient } {
    const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
    const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb");
    const { SNSClient } = require("@aws-sdk/client-sns");
    return { db: DynamoDBDocumentClient.from(new DynamoDBClient({})), sns: new SNSClient({}) };
}

export function devicesFunction(): ApiHandler {
    const clients = createPushClients();
    const settings = { ...pushSettingsFromEnvironment(process.env), limits: limitSettingsFromEnvironment(process.env) };
    return (event: APIGatewayProxyEvent) => handleDevicesRequest(event, clients, settings);
}

export function senderFunction(): SenderHandler {
    const clients = createPushClients();
    const settings = { ...pushSettingsFromEnvironment(process.env), limits: limitSettingsFromEnvironment(process.env) };
    return (event: NotificationRequestEvent) => sendNotification(event, clients, settings);
}
