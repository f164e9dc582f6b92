import { DeleteCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { ApiError, callerIdentity, errorResponse, ok } from "./http";
import { blockedIdentitySchema } from "./notification-schema";
import { enforceWriteLimit, type LimitSettings } from "./rate-limit";
import { firstSchemaViolation } from "./schema";

/** A block as stored in the blocks table: partition `recipientId` (who blocks), sort `senderId` (who is blocked). */
export interface BlockItem {
    recipientId: string;
    senderId: string;
    createdAt: string;
}

/** What the blocks function needs besides its DynamoDB client. */
export interface BlocksSettings {
    blocksTable: string;
    /** Fair-use limits; writes (`PUT`, `DELETE`) count against `writesPerMinute`. Default: none. */
    limits?: LimitSettings;
    /** Clock; tests replace it. */
    now?: () => Date;
}

/**
 * Serves `PUT /blocks/{identityId}`, `DELETE /blocks/{identityId}` and `GET /blocks` for the Cognito identity
 * that signed the request: the senders whose notifications to the caller are dropped. Both writes are
 * idempotent (`PUT` keeps the first `createdAt`; `DELETE` of a sender not blocked answers 200), and nothing
 * tells a sender that they are blocked. Every failure is a JSON error response; nothing throws.
 */
export async function handleBlocksRequest(
    event: APIGatewayProxyEvent,
    db: DynamoDBDocumentClient,
    settings: BlocksSettings,
): Promise<APIGatewayProxyResult> {
    try {
        const caller = callerIdentity(event);
        const route = `${event.httpMethod} ${event.resource}`;
        switch (route) {
            case "GET /blocks":
                return ok(200, { blocked: await blockedSenders(db, settings.blocksTable, caller) });
            case "PUT /blocks/{identityId}":
            case "DELETE /blocks/{identityId}": {
                const senderId = pathIdentityId(event);
                await enforceWriteLimit(db, settings.limits, caller, settings.now);
                if (event.httpMethod === "PUT") {
                    if (senderId === caller) throw new ApiError("BadRequest", "identityId must not be your own identity id.");
                    await block(db, settings, caller, senderId);
                } else {
                    await db.send(new DeleteCommand({ TableName: settings.blocksTable, Key: { recipientId: caller, senderId } }));
                }
                return ok(200, { identityId: senderId, blocked: event.httpMethod === "PUT" });
            }
            default:
                throw new ApiError("MethodNotAllowed", `${event.httpMethod} ${event.path} is not a blocks operation.`);
        }
    } catch (err) {
        return errorResponse(err);
    }
}

/** Whether `recipientId` has blocked `senderId` (a strongly consistent read: a block applies at once). */
export async function isBlocked(
    db: DynamoDBDocumentClient,
    tableName: string,
    recipientId: string,
    senderId: string,
): Promise<boolean> {
    const page = await db.send(
        new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: "recipientId = :recipientId AND senderId = :senderId",
            ExpressionAttributeValues: { ":recipientId": recipientId, ":senderId": senderId },
            ProjectionExpression: "senderId",
            ConsistentRead: true,
        }),
    );
    return (page.Items ?? []).length > 0;
}

async function block(db: DynamoDBDocumentClient, settings: BlocksSettings, recipientId: string, senderId: string): Promise<void> {
    const item: BlockItem = { recipientId, senderId, createdAt: (settings.now?.() ?? new Date()).toISOString() };
    try {
        await db.send(
            new PutCommand({
                TableName: settings.blocksTable,
                Item: item,
                ConditionExpression: "attribute_not_exists(senderId)",
            }),
        );
    } catch (err) {
        // Blocked already: the first block stands.
        if (!(err instanceof Error && err.name === "ConditionalCheckFailedException")) throw err;
    }
}

/** Every sender the caller blocked, in identity id order (all pages). */
async function blockedSenders(
    db: DynamoDBDocumentClient,
    tableName: string,
    recipientId: string,
): Promise<{ identityId: string; createdAt: string }[]> {
    const blocked: { identityId: string; createdAt: string }[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
        const page = await db.send(
            new QueryCommand({
                TableName: tableName,
                KeyConditionExpression: "recipientId = :recipientId",
                ExpressionAttributeValues: { ":recipientId": recipientId },
                ConsistentRead: true,
                ExclusiveStartKey: startKey,
            }),
        );
        for (const item of (page.Items ?? []) as BlockItem[]) blocked.push({ identityId: item.senderId, createdAt: item.createdAt });
        startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return blocked;
}

function pathIdentityId(event: APIGatewayProxyEvent): string {
    const identityId = event.pathParameters?.identityId ?? "";
    const problem = firstSchemaViolation(blockedIdentitySchema, identityId, "identityId");
    if (problem !== undefined) throw new ApiError("BadRequest", problem);
    return identityId;
}
