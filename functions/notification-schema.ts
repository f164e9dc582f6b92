import type { JsonSchema } from "./schema";

/** The platforms a device can register for. */
export const PUSH_PLATFORMS = ["ios", "android"] as const;
export type PushPlatform = (typeof PUSH_PLATFORMS)[number];

/** Limits of the notifications API, shared by the API Gateway models, the functions and the docs. */
export const NOTIFICATION_LIMITS = {
    tokenLength: 4096,
    titleLength: 100,
    messageLength: 2000,
    dataFields: 20,
    dataValueLength: 1000,
    /** Data keys: 1–64 of `A–Z a–z 0–9 _ . : -` ({@link DATA_KEY_PATTERN}). Checked by the function only (see below). */
    dataKeyLength: 64,
    /**
     * The UTF-8 bytes of all data keys and values together. Draft 4 cannot express a total size, so only the
     * function checks it. 3 KiB leaves room for a title and body within a 4 KB push payload.
     */
    dataBytes: 3072,
    /** Bodies larger than this are refused with 413 before they are parsed. */
    bodyBytes: 64 * 1024,
    /** APNs refuses payloads over 4 KB; FCM's notification + data must stay under 4 KB too. */
    apnsPayloadBytes: 4096,
    fcmPayloadBytes: 4096,
} as const;

/**
 * What a data key may look like. API Gateway's draft-4 models could say it with `patternProperties`, which
 * the shared validator (`functions/schema.ts`) does not read yet: the sender function checks it.
 */
export const DATA_KEY_PATTERN = `^[A-Za-z0-9_.:-]{1,${NOTIFICATION_LIMITS.dataKeyLength}}$`;

/** Devices one identity may register when the stage does not say (`notifications.maxDevicesPerIdentity`). */
export const DEFAULT_MAX_DEVICES_PER_IDENTITY = 10;

/** A Cognito identity id: `<region>:<uuid>`. */
export const IDENTITY_ID_PATTERN = "^[a-z]{2}(-[a-z]+)+-[0-9]:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/** `POST /devices`. */
export const registerDeviceSchema: JsonSchema = {
    title: "RegisterDeviceRequest",
    type: "object",
    required: ["platform", "token"],
    properties: {
        platform: { type: "string", enum: [...PUSH_PLATFORMS] },
        token: {
            type: "string",
            minLength: 1,
            maxLength: NOTIFICATION_LIMITS.tokenLength,
            pattern: "^[A-Za-z0-9:_.-]+$",
            description: "must be the device token the platform issued (letters, digits and : _ . -)",
        },
    },
    additionalProperties: false,
};

/** `POST /notifications`. */
export const sendNotificationSchema: JsonSchema = {
    title: "SendNotificationRequest",
    type: "object",
    required: ["recipientId", "message"],
    properties: {
        recipientId: {
            type: "string",
            pattern: IDENTITY_ID_PATTERN,
            description: "must be the recipient's Cognito identity id (<region>:<uuid>)",
        },
        title: { type: "string", maxLength: NOTIFICATION_LIMITS.titleLength },
        message: {
            type: "string",
            minLength: 1,
            maxLength: NOTIFICATION_LIMITS.messageLength,
            pattern: "\\S",
            description: "must not be blank",
        },
        data: {
            type: "object",
            maxProperties: NOTIFICATION_LIMITS.dataFields,
            additionalProperties: { type: "string", maxLength: NOTIFICATION_LIMITS.dataValueLength },
        },
    },
    additionalProperties: false,
};

/** The path parameter of `PUT` and `DELETE /blocks/{identityId}`: the sender to block. */
export const blockedIdentitySchema: JsonSchema = {
    type: "string",
    pattern: IDENTITY_ID_PATTERN,
    description: "must be the Cognito identity id (<region>:<uuid>) of the sender to block",
};

/** The path parameter of `DELETE /devices/{deviceId}`. */
export const deviceIdSchema: JsonSchema = {
    type: "string",
    minLength: 1,
    maxLength: 64,
    pattern: "^[A-Za-z0-9-]+$",
    description: "may contain only letters, digits and hyphens",
};

/** A registered device as stored in the devices table (partition `ownerId`, sort `deviceId`). */
export interface DeviceItem {
    ownerId: string;
    deviceId: string;
    platform: PushPlatform;
    token: string;
    endpointArn: string;
    createdAt: string;
    updatedAt: string;
}

/** The devices table's global index by SNS endpoint, to find who holds a token now. */
export const DEVICES_BY_ENDPOINT = "byEndpoint";

/**
 * What API Gateway hands the notification function when it invokes it asynchronously: the
 * request body as sent, and the sender from the request's SigV4 credentials (never from the body).
 */
export interface NotificationRequestEvent {
    senderId: string;
    requestId: string;
    body: unknown;
}

/** Where pushes go on this stage. */
export interface PushSettings {
    devicesTable: string;
    /** The blocks table (partition `recipientId`, sort `senderId`). Default: none, nobody is blocked. */
    blocksTable?: string;
    /** Devices one identity may register. Default {@link DEFAULT_MAX_DEVICES_PER_IDENTITY}. */
    maxDevicesPerIdentity?: number;
    /** The stage-wide topic every notification is published to, with a `recipientId` attribute. */
    topicArn: string;
    /** Platform applications that exist on this stage (each only when its credentials are configured). */
    applications: {
        ios?: { arn: string; sandbox: boolean };
        android?: { arn: string };
    };
}

/** Reads {@link PushSettings} from a function's environment variables (set by the program). */
export function pushSettingsFromEnvironment(env: Record<string, string | undefined>): PushSettings {
    return {
        devicesTable: env.DEVICES_TABLE ?? "",
        ...(env.BLOCKS_TABLE ? { blocksTable: env.BLOCKS_TABLE } : {}),
        ...(env.MAX_DEVICES_PER_IDENTITY ? { maxDevicesPerIdentity: Number(env.MAX_DEVICES_PER_IDENTITY) } : {}),
        topicArn: env.NOTIFICATIONS_TOPIC_ARN ?? "",
        applications: {
            ...(env.APNS_APPLICATION_ARN ? { ios: { arn: env.APNS_APPLICATION_ARN, sandbox: env.APNS_SANDBOX === "true" } } : {}),
            ...(env.FCM_APPLICATION_ARN ? { android: { arn: env.FCM_APPLICATION_ARN } } : {}),
        },
    };
}

/** What to set to enable a platform on a stage: named in the 409 a device registration gets. */
export const PLATFORM_CONFIG_HINT: Record<PushPlatform, string> = {
    ios:
        "Push to iOS is not set up on this stage: set mobile-backend:notifications.apns.signingKey (secret, the .p8 key) and " +
        "mobile-backend:notifications.apns.keyId, .teamId and .bundleId.",
    android:
        "Push to Android is not set up on this stage: set mobile-backend:notifications.fcm.serviceAccount (secret, the service-account JSON).",
};
