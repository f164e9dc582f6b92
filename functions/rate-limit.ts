import { UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ApiError } from "./http";

/**
 * Fair use per identity: fixed-window counters in the limits table (partition key {@link LIMITS_KEY}, TTL
 * attribute {@link LIMITS_TTL_ATTRIBUTE}). One counter item per rule, identity and window; each request is
 * ONE `UpdateItem` that adds 1 only while the count is below the limit (`ADD` with a `ConditionExpression`):
 * DynamoDB applies the condition and the update atomically on the item ("Condition expressions" and "Update
 * expressions: ADD", DynamoDB developer guide), so concurrent requests never race a read-modify-write and
 * nothing is scanned. A refused request is not counted.
 *
 * Expired counters are deleted by DynamoDB's TTL "within a few days" of `expiresAt` ("Using time to live
 * (TTL) in DynamoDB"), so a window is never decided by whether its item still exists: the window's start is
 * in the key, and an old window's item is simply never read again.
 */

/** The limits table's partition key. */
export const LIMITS_KEY = "id";
/** The limits table's TTL attribute: epoch seconds (a DynamoDB Number), as TTL requires. */
export const LIMITS_TTL_ATTRIBUTE = "expiresAt";

/** One limit: at most `limit` events per `windowSeconds` for one identity. */
export interface RateRule {
    /** Names the counter (part of the item key): `writes`, `sent`, `received`. */
    name: string;
    limit: number;
    windowSeconds: number;
}

/** What {@link consume} decided. */
export type RateDecision = { allowed: true; count: number } | { allowed: false; retryAfterSeconds: number };

/**
 * Counts one event of `identityId` against `rule` in the current fixed window, unless the window is full.
 * Other DynamoDB errors are thrown (the caller's request fails; nothing was counted for sure).
 */
export async function consume(
    db: DynamoDBDocumentClient,
    tableName: string,
    identityId: string,
    rule: RateRule,
    now: Date = new Date(),
): Promise<RateDecision> {
    const nowSeconds = now.getTime() / 1000;
    const windowStart = Math.floor(nowSeconds / rule.windowSeconds) * rule.windowSeconds;
    const windowEnd = windowStart + rule.windowSeconds;
    try {
        const result = await db.send(
            new UpdateCommand({
                TableName: tableName,
                Key: { [LIMITS_KEY]: counterKey(rule, identityId, windowStart) },
                UpdateExpression: "ADD #count :one SET #expiresAt = if_not_exists(#expiresAt, :expiresAt)",
                ConditionExpression: "attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames: { "#count": "count", "#expiresAt": LIMITS_TTL_ATTRIBUTE },
                // Kept one window past its end: TTL deletion is late anyway, and the key never comes back.
                ExpressionAttributeValues: { ":one": 1, ":limit": rule.limit, ":expiresAt": windowEnd + rule.windowSeconds },
                ReturnValues: "UPDATED_NEW",
            }),
        );
        return { allowed: true, count: Number(result.Attributes?.count ?? 0) };
    } catch (err) {
        if (err instanceof Error && err.name === "ConditionalCheckFailedException") {
            return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(windowEnd - nowSeconds)) };
        }
        throw err;
    }
}

/**
 * The limits-table key of `identityId`'s counter for `rule` in the window starting at `windowStart` (epoch
 * seconds, a multiple of the rule's window): `<rule>#<identity>#<window start>`. Account deletion
 * (functions/account.ts) derives the keys an identity can have from it.
 */
export function counterKey(rule: Pick<RateRule, "name">, identityId: string, windowStart: number): string {
    return `${rule.name}#${identityId}#${windowStart}`;
}

/** The per-identity limits of a stage, as the functions receive them. */
export interface LimitSettings {
    tableName: string;
    writesPerMinute: number;
    notificationsSentPerHour: number;
    notificationsReceivedPerHour: number;
}

/** The rule for writes (`POST`/`PUT`/`DELETE` of notes, devices and blocks): one budget per identity. */
export function writeRule(settings: LimitSettings): RateRule {
    return { name: "writes", limit: settings.writesPerMinute, windowSeconds: 60 };
}

/** The rule for notifications an identity sends. */
export function sentRule(settings: LimitSettings): RateRule {
    return { name: "sent", limit: settings.notificationsSentPerHour, windowSeconds: 3600 };
}

/** The rule for notifications an identity receives. */
export function receivedRule(settings: LimitSettings): RateRule {
    return { name: "received", limit: settings.notificationsReceivedPerHour, windowSeconds: 3600 };
}

/**
 * Counts one write of `identityId`; throws a 429 {@link ApiError} (with its `Retry-After`) when the identity
 * has used up its writes for this minute. Does nothing when `settings` is undefined (no limits configured).
 */
export async function enforceWriteLimit(
    db: DynamoDBDocumentClient,
    settings: LimitSettings | undefined,
    identityId: string,
    clock: () => Date = () => new Date(),
): Promise<void> {
    if (settings === undefined) return;
    const rule = writeRule(settings);
    const decision = await consume(db, settings.tableName, identityId, rule, clock());
    if (!decision.allowed) {
        throw new ApiError(
            "TooManyRequests",
            `You have made ${rule.limit} changes in the last minute, the most allowed; try again in ${decision.retryAfterSeconds} s.`,
            decision.retryAfterSeconds,
        );
    }
}

/**
 * Reads {@link LimitSettings} from a function's environment (set by the program): `LIMITS_TABLE`,
 * `WRITES_PER_MINUTE`, `NOTIFICATIONS_SENT_PER_HOUR`, `NOTIFICATIONS_RECEIVED_PER_HOUR`. Undefined without
 * a table. A missing or malformed number is an error: a function must never run without its limits.
 */
export function limitSettingsFromEnvironment(env: Record<string, string | undefined>): LimitSettings | undefined {
    const tableName = env.LIMITS_TABLE;
    if (tableName === undefined || tableName === "") return undefined;
    const positive = (name: string): number => {
        const value = Number(env[name]);
        if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number, got ${env[name]}`);
        return value;
    };
    return {
        tableName,
        writesPerMinute: positive("WRITES_PER_MINUTE"),
        notificationsSentPerHour: positive("NOTIFICATIONS_SENT_PER_HOUR"),
        notificationsReceivedPerHour: positive("NOTIFICATIONS_RECEIVED_PER_HOUR"),
    };
}
