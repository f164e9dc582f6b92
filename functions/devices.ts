import {
    CreatePlatformEndpointCommand,
    DeleteEndpointCommand,
    GetEndpointAttributesCommand,
    SetEndpointAttributesCommand,
    type SNSClient,
} from "@aws-sdk/client-sns";
import {
    DeleteCommand,
    GetCommand,
    QueryCommand,
    UpdateCommand,
    type DynamoDBDocumentClient,
} from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { ApiError, callerIdentity, errorResponse, ok, parseJsonBody } from "./http";
import {
    DEFAULT_MAX_DEVICES_PER_IDENTITY,
    DEVICES_BY_ENDPOINT,
    NOTIFICATION_LIMITS,
    PLATFORM_CONFIG_HINT,
    deviceIdSchema,
    registerDeviceSchema,
    type DeviceItem,
    type PushPlatform,
    type PushSettings,
} from "./notification-schema";
import { enforceWriteLimit, type LimitSettings } from "./rate-limit";
import { firstSchemaViolation } from "./schema";
import { fieldTextProblem } from "./text";

/** What the devices function needs besides its clients. */
export type DevicesSettings = PushSettings & {
    /** Fair-use limits; registrations and deletions count against `writesPerMinute`. Default: none. */
    limits?: LimitSettings;
    /** Clock; tests replace it. */
    now?: () => Date;
};

/** The clients the devices function talks to; tests inject local or mocked ones. */
export interface DevicesClients {
    db: DynamoDBDocumentClient;
    sns: SNSClient;
}

/** A registered device as `GET /devices` returns it: no token, no endpoint ARN. */
export interface Device {
    deviceId: string;
    platform: PushPlatform;
    createdAt: string;
    updatedAt: string;
}

/**
 * Serves `POST /devices`, `GET /devices` and `DELETE /devices/{deviceId}` for the Cognito identity
 * that signed the request. Every failure is a JSON error response; nothing throws.
 */
export async function handleDevicesRequest(
    event: APIGatewayProxyEvent,
    clients: DevicesClients,
    settings: DevicesSettings,
): Promise<APIGatewayProxyResult> {
    try {
        const caller = callerIdentity(event);
        const devices = new DeviceRegistry(clients, settings, caller);
        const countWrite = () => enforceWriteLimit(clients.db, settings.limits, caller, settings.now);
        switch (`${event.httpMethod} ${event.resource}`) {
            case "POST /devices": {
                const body = parseJsonBody(event, NOTIFICATION_LIMITS.bodyBytes);
                await countWrite();
                return await devices.register(body);
            }
            case "GET /devices":
                return await devices.list();
            case "DELETE /devices/{deviceId}": {
                const deviceId = pathDeviceId(event);
                await countWrite();
                return await devices.remove(deviceId);
            }
            default:
                throw new ApiError("MethodNotAllowed", `${event.httpMethod} ${event.path} is not a devices operation.`);
        }
    } catch (err) {
        return errorResponse(err);
    }
}

/** The caller's devices: table records keyed by the caller's identity, each with an SNS platform endpoint. */
class DeviceRegistry {
    private readonly now: () => Date;

    constructor(
        private readonly clients: DevicesClients,
        private readonly settings: DevicesSettings,
        private readonly ownerId: string,
    ) {
        this.now = settings.now ?? (() => new Date());
    }

    async register(body: Record<string, unknown>): Promise<APIGatewayProxyResult> {
        const problem =
            firstSchemaViolation(registerDeviceSchema, body) ?? fieldTextProblem("token", (body as { token: string }).token);
        if (problem !== undefined) throw new ApiError("BadRequest", problem);
        const { platform, token } = body as { platform: PushPlatform; token: string };
        const applicationArn = this.settings.applications[platform]?.arn;
        if (!applicationArn) throw new ApiError("Conflict", PLATFORM_CONFIG_HINT[platform]);

        const endpointArn = await this.activeEndpoint(applicationArn, platform, token);
        const deviceId = deviceIdOf(endpointArn);

        // One token, one owner: whoever registers it last receives its pushes.
        await this.releaseFromOtherOwners(endpointArn);

        const timestamp = this.now().toISOString();
        await this.clients.db.send(
            new UpdateCommand({
                TableName: this.settings.devicesTable,
                Key: { ownerId: this.ownerId, deviceId },
                UpdateExpression:
                    "SET #platform = :platform, #token = :token, #endpointArn = :endpointArn, " +
                    "#updatedAt = :now, #createdAt = if_not_exists(#createdAt, :now)",
                ExpressionAttributeNames: {
                    "#platform": "platform",
                    "#token": "token",
                    "#endpointArn": "endpointArn",
                    "#updatedAt": "updatedAt",
                    "#createdAt": "createdAt",
                },
                ExpressionAttributeValues: {
                    ":platform": platform,
                    ":token": token,
                    ":endpointArn": endpointArn,
                    ":now": timestamp,
                },
            }),
        );
        await this.keepWithinCap(deviceId);
        return ok(201, { deviceId, platform });
    }

    /**
     * At most `maxDevicesPerIdentity` devices: while the caller has more, the least recently registered
     * (oldest `updatedAt`, which every registration of a token refreshes) is removed, endpoint first, like
     * `DELETE /devices/{deviceId}`. Never the device just registered.
     */
    private async keepWithinCap(registered: string): Promise<void> {
        const max = this.settings.maxDevicesPerIdentity ?? DEFAULT_MAX_DEVICES_PER_IDENTITY;
        const items = await this.items();
        if (items.length <= max) return;
        const oldestFirst = items
            .filter((item) => item.deviceId !== registered)
            .sort((a, b) => String(a.updatedAt).localeCompare(String(b.updatedAt)) || a.deviceId.localeCompare(b.deviceId));
        for (const item of oldestFirst.slice(0, items.length - max)) await this.removeItem(item);
    }

    /** Every device record of the caller (all pages, strongly consistent). */
    private async items(): Promise<DeviceItem[]> {
        const items: DeviceItem[] = [];
        let startKey: Record<string, unknown> | undefined;
        do {
            const page = await this.clients.db.send(
                new QueryCommand({
                    TableName: this.settings.devicesTable,
                    KeyConditionExpression: "ownerId = :owner",
                    ExpressionAttributeValues: { ":owner": this.ownerId },
                    ConsistentRead: true,
                    ExclusiveStartKey: startKey,
                }),
            );
            items.push(...((page.Items ?? []) as DeviceItem[]));
            startKey = page.LastEvaluatedKey;
        } while (startKey !== undefined);
        return items;
    }

    async list(): Promise<APIGatewayProxyResult> {
        // At most the devices cap per identity, so reading whole records costs nothing worth projecting away.
        const devices: Device[] = (await this.items()).map((item) => ({
            deviceId: item.deviceId,
            platform: item.platform,
            createdAt: item.createdAt,
            updatedAt: item.updatedAt,
        }));
        return ok(200, { devices });
    }

    async remove(deviceId: string): Promise<APIGatewayProxyResult> {
        const key = { ownerId: this.ownerId, deviceId };
        const { Item } = await this.clients.db.send(
            new GetCommand({ TableName: this.settings.devicesTable, Key: key, ConsistentRead: true }),
        );
        const item = Item as DeviceItem | undefined;
        if (item !== undefined) await this.removeItem(item);
        return ok(200, { deviceId });
    }

    /** Deletes a device of the caller: the endpoint first, so that if that fails the record stays and a retry finds it. */
    private async removeItem(item: DeviceItem): Promise<void> {
        if (typeof item.endpointArn === "string" && item.endpointArn !== "") {
            await this.clients.sns.send(new DeleteEndpointCommand({ EndpointArn: item.endpointArn }));
        }
        await this.clients.db.send(
            new DeleteCommand({ TableName: this.settings.devicesTable, Key: { ownerId: this.ownerId, deviceId: item.deviceId } }),
        );
    }

    /**
     * The platform endpoint for `token`, enabled and carrying `token`: AWS's documented token
     * management (create, read back, repair), with one more create if the endpoint vanished meanwhile.
     */
    private async activeEndpoint(applicationArn: string, platform: PushPlatform, token: string): Promise<string> {
        for (let attempt = 0; ; attempt++) {
            const endpointArn = await this.createEndpoint(applicationArn, platform, token);
            let attributes: Record<string, string>;
            try {
                const result = await this.clients.sns.send(new GetEndpointAttributesCommand({ EndpointArn: endpointArn }));
                attributes = result.Attributes ?? {};
            } catch (err) {
                if (isNamed(err, "NotFoundException") && attempt === 0) continue;
                throw err;
            }
            if (attributes.Token !== token || attributes.Enabled !== "true") {
                await this.clients.sns.send(
                    new SetEndpointAttributesCommand({
                        EndpointArn: endpointArn,
                        Attributes: { Token: token, Enabled: "true" },
                    }),
                );
            }
            return endpointArn;
        }
    }

    /**
     * Creates (or finds: SNS answers with the existing endpoint for a known token) the endpoint.
     * No CustomUserData, so an existing endpoint only conflicts if something else set attributes on it.
     */
    private async createEndpoint(applicationArn: string, platform: PushPlatform, token: string): Promise<string> {
        try {
            const result = await this.clients.sns.send(
                new CreatePlatformEndpointCommand({ PlatformApplicationArn: applicationArn, Token: token }),
            );
            if (!result.EndpointArn) throw new Error("CreatePlatformEndpoint returned no EndpointArn");
            return result.EndpointArn;
        } catch (err) {
            if (!isNamed(err, "InvalidParameterException")) throw err;
            const message = (err as Error).message ?? "";
            const existing = EXISTING_ENDPOINT.exec(message);
            if (existing !== null) return existing[1];
            // The push service refused the token itself (e.g. not an APNs token): the caller's input.
            if (INVALID_TOKEN.test(message)) {
                throw new ApiError("BadRequest", `token is not a valid ${platform} device token.`);
            }
            throw err;
        }
    }

    /** Deletes every other owner's record of this endpoint; the endpoint itself stays (it is the caller's now). */
    private async releaseFromOtherOwners(endpointArn: string): Promise<void> {
        let startKey: Record<string, unknown> | undefined;
        do {
            const page = await this.clients.db.send(
                new QueryCommand({
                    TableName: this.settings.devicesTable,
                    IndexName: DEVICES_BY_ENDPOINT,
                    KeyConditionExpression: "endpointArn = :endpointArn",
                    ExpressionAttributeValues: { ":endpointArn": endpointArn },
                    ExclusiveStartKey: startKey,
                }),
            );
            for (const item of (page.Items ?? []) as DeviceItem[]) {
                if (item.ownerId === this.ownerId) continue;
                try {
                    await this.clients.db.send(
                        new DeleteCommand({
                            TableName: this.settings.devicesTable,
                            Key: { ownerId: item.ownerId, deviceId: item.deviceId },
                            // The index is eventually consistent: only delete a record that still names this endpoint.
                            ConditionExpression: "endpointArn = :endpointArn",
                            ExpressionAttributeValues: { ":endpointArn": endpointArn },
                        }),
                    );
                } catch (err) {
                    if (!isNamed(err, "ConditionalCheckFailedException")) throw err;
                }
            }
            startKey = page.LastEvaluatedKey;
        } while (startKey !== undefined);
    }
}

/** SNS's "already exists with the same Token, but different attributes" names the endpoint (AWS's documented pattern). */
const EXISTING_ENDPOINT = /Endpoint (arn:aws[a-z-]*:sns:\S+?) already exists with the same [Tt]oken/;

/** SNS's answer to a token the platform application cannot use: "Invalid parameter: Token Reason: …". */
const INVALID_TOKEN = /Invalid parameter: Token\b/;

/** The endpoint ARN's last path segment (a UUID): the same token gives the same deviceId. */
function deviceIdOf(endpointArn: string): string {
    const deviceId = endpointArn.slice(endpointArn.lastIndexOf("/") + 1);
    if (!endpointArn.includes(":endpoint/") || firstSchemaViolation(deviceIdSchema, deviceId) !== undefined) {
        throw new Error(`unexpected SNS endpoint ARN ${endpointArn}`);
    }
    return deviceId;
}

function pathDeviceId(event: APIGatewayProxyEvent): string {
    const deviceId = event.pathParameters?.deviceId ?? "";
    const problem = firstSchemaViolation(deviceIdSchema, deviceId, "deviceId");
    if (problem !== undefined) throw new ApiError("BadRequest", problem);
    return deviceId;
}

function isNamed(err: unknown, name: string): boolean {
    return err instanceof Error && err.name === name;
}
