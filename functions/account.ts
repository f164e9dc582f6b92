import { AdminDeleteUserCommand, ListUsersCommand, type AttributeType, type CognitoIdentityProviderClient, type UserType } from "@aws-sdk/client-cognito-identity-provider";
import { DeleteIdentitiesCommand, type CognitoIdentityClient } from "@aws-sdk/client-cognito-identity";
import { DeleteObjectCommand, ListObjectVersionsCommand, type S3Client } from "@aws-sdk/client-s3";
import { DeleteEndpointCommand, type SNSClient } from "@aws-sdk/client-sns";
import { BatchWriteCommand, DeleteCommand, QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { uploadPrefix } from "./media";
import { DEVICES_BY_ENDPOINT, IDENTITY_ID_PATTERN } from "./notification-schema";
import { LIMITS_KEY, counterKey, receivedRule, sentRule, writeRule, type LimitSettings } from "./rate-limit";

/**
 * `DELETE /me`: deletes everything of one Cognito identity. API Gateway invokes the function asynchronously
 * (invocation type `Event`, answered 202 at once) with {@link AccountDeletionEvent}; a run that throws is
 * retried by Lambda (bounded, see infra/account.ts) and then kept in the failure queue.
 *
 * Order, so that a retry after a partial run finishes the job (every step is idempotent, and what identifies
 * the caller goes last): notes (their stream removes the search documents), devices and their SNS endpoints,
 * uploads (every version and delete marker), the caller's blocks, the caller's fair-use counters, the user-pool
 * user, and finally the identity itself.
 *
 * Every key and prefix is built from the event's identity id (checked against {@link IDENTITY_ID_PATTERN}),
 * which API Gateway takes from the request's credentials; the user-pool user from the `sub` in the
 * request's `cognitoAuthenticationProvider`, only for this stage's user pool. Nothing comes from a body.
 */

/** What API Gateway hands the function for `DELETE /me` (infra/openapi.ts, `BODYLESS_ASYNC_EVENT_TEMPLATE`). */
export interface AccountDeletionEvent {
    /** `$context.identity.cognitoIdentityId`: the caller's identity id. */
    identityId: string;
    /** `$context.identity.cognitoAuthenticationType`: `authenticated` (signed in) or `unauthenticated` (a guest). */
    authenticationType: string;
    /**
     * `$context.identity.cognitoAuthenticationProvider`: for a signed-in user
     * `cognito-idp.<region>.amazonaws.com/<pool id>,cognito-idp.<region>.amazonaws.com/<pool id>:CognitoSignIn:<sub>`;
     * empty for a guest.
     */
    authenticationProvider: string;
    /** `$context.requestId`, for the logs. */
    requestId: string;
}

/** The clients the deletion talks to; tests inject local or mocked ones. */
export interface AccountClients {
    db: DynamoDBDocumentClient;
    sns: SNSClient;
    s3: S3Client;
    identity: CognitoIdentityClient;
    users: CognitoIdentityProviderClient;
}

/** Where this stage keeps a user's data. */
export interface AccountSettings {
    notesTable: string;
    devicesTable: string;
    blocksTable: string;
    uploadsBucket: string;
    /** This stage's user pool: a provider string naming another pool is refused. */
    userPoolId: string;
    /** The fair-use limits (their table and rules); none: no counters to delete. */
    limits?: LimitSettings;
    /**
     * How far back fair-use counters are deleted, in seconds. A counter expires (TTL) one window after its
     * window ends, but DynamoDB deletes expired items only "typically within a few days" ("Using time to
     * live (TTL) in DynamoDB"), so the windows of the last few days are deleted by key. Default 3 days.
     */
    limitsLookbackSeconds?: number;
    /** Attempts of a batch whose items DynamoDB leaves unprocessed, before the run fails. Default 8. */
    batchAttempts?: number;
    /** First backoff between those attempts, in ms (doubled each time, with jitter). Default 50. */
    backoffMs?: number;
    /** Object versions deleted in parallel. Default 8. */
    parallelDeletes?: number;
    /**
     * Milliseconds left before the function times out (the Lambda context's `getRemainingTimeInMillis`).
     * When less than {@link AccountSettings.reserveMs} is left between two pages, the run stops with an error,
     * so that Lambda's retry continues where it stopped. Default: no limit.
     */
    remainingMs?: () => number;
    /** Time kept in reserve before the timeout, in ms. Default 20 000. */
    reserveMs?: number;
    /** Clock; tests replace it. */
    now?: () => Date;
    /** Structured log line; default: JSON on stdout. */
    log?: (message: string, details: Record<string, unknown>) => void;
}

/** What one run deleted (what earlier runs deleted is not counted again). */
export interface AccountDeletionSummary {
    identityId: string;
    notes: number;
    devices: number;
    /** Devices whose SNS endpoint another identity holds now: the record is deleted, the endpoint kept. */
    endpointsKeptForOthers: number;
    objectVersions: number;
    blocks: number;
    /** Fair-use counter keys deleted (whether or not an item existed under each). */
    counterKeys: number;
    /** `deleted`, `absent` (already gone, or never there) or `guest` (no user-pool user). */
    user: "deleted" | "absent" | "guest";
}

const BATCH_SIZE = 25;
const PAGE_SIZE = 100;
const DEFAULT_LOOKBACK_SECONDS = 3 * 24 * 60 * 60;

/** Deletes everything of the event's identity; throws (for Lambda's retry) when any step fails. */
export async function deleteAccount(
    event: AccountDeletionEvent,
    clients: AccountClients,
    settings: AccountSettings,
): Promise<AccountDeletionSummary> {
    const { identityId, sub } = parseAccountDeletionEvent(event, settings.userPoolId);
    const job = new AccountDeletion(identityId, clients, settings);
    const summary: AccountDeletionSummary = {
        identityId,
        notes: await job.deleteNotes(),
        ...(await job.deleteDevices()),
        objectVersions: await job.deleteUploads(),
        blocks: await job.deleteBlocks(),
        counterKeys: await job.deleteCounters(),
        user: sub === undefined ? "guest" : await job.deleteUser(sub),
    };
    // Last: after this, nothing ties the caller to the data above, and a retry could not be told apart.
    await job.deleteIdentity();
    (settings.log ?? defaultLog)("account deleted", { requestId: event.requestId, ...summary });
    return summary;
}

/**
 * Checks the event and returns the identity id and, for a signed-in user, the user-pool `sub`. Throws on
 * anything else: an event that does not name exactly one identity of this stage deletes nothing.
 */
export function parseAccountDeletionEvent(event: unknown, userPoolId: string): { identityId: string; sub?: string } {
    if (typeof event !== "object" || event === null) throw new Error("The account deletion event is not an object");
    const { identityId, authenticationType, authenticationProvider } = event as Record<string, unknown>;
    if (typeof identityId !== "string" || !new RegExp(IDENTITY_ID_PATTERN).test(identityId)) {
        throw new Error(`The account deletion event has no valid identity id: ${JSON.stringify(identityId)?.slice(0, 80)}`);
    }
    // A guest has no user-pool user: whatever the provider says, no user is looked for.
    if (authenticationType === "unauthenticated") return { identityId };
    if (authenticationType !== "authenticated") {
        throw new Error(`The account deletion event's authenticationType is neither authenticated nor unauthenticated: ${JSON.stringify(authenticationType)?.slice(0, 40)}`);
    }
    if (typeof authenticationProvider !== "string") throw new Error("The account deletion event has no authenticationProvider string");
    const sub = userPoolSub(authenticationProvider, userPoolId);
    if (sub === undefined) throw new Error("A signed-in caller's authenticationProvider names no user-pool user");
    return { identityId, sub };
}

/**
 * The user-pool `sub` in `$context.identity.cognitoAuthenticationProvider`, strictly: a comma-separated list of
 * `cognito-idp.<region>.amazonaws.com/<pool id>` and `…/<pool id>:CognitoSignIn:<sub>` entries, all of this
 * stage's pool, with exactly one `sub` (a UUID). Empty (a guest): undefined. Anything else throws.
 */
export function userPoolSub(provider: string, userPoolId: string): string | undefined {
    if (provider === "") return undefined;
    const region = /^([a-z]{2}(?:-[a-z]+)+-\d)_[0-9A-Za-z]+$/.exec(userPoolId)?.[1];
    if (region === undefined) throw new Error(`USER_POOL_ID is not a user pool id: ${userPoolId}`);
    const issuer = `cognito-idp.${region}.amazonaws.com/${userPoolId}`;
    const subs: string[] = [];
    for (const entry of provider.split(",")) {
        if (entry === issuer) continue;
        const match = /^(.*):CognitoSignIn:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(entry);
        if (match === null || match[1] !== issuer) {
            throw new Error(`The caller's authentication provider is not this stage's user pool (${userPoolId}): ${provider.slice(0, 200)}`);
        }
        subs.push(match[2]);
    }
    if (subs.length !== 1) throw new Error(`The caller's authentication provider names ${subs.length} user-pool users, not one`);
    return subs[0];
}

/** The steps of one run, each idempotent. */
class AccountDeletion {
    private readonly log: (message: string, details: Record<string, unknown>) => void;

    constructor(
        private readonly identityId: string,
        private readonly clients: AccountClients,
        private readonly settings: AccountSettings,
    ) {
        this.log = settings.log ?? defaultLog;
    }

    /** The caller's notes partition, page by page; the notes stream removes each note's search document. */
    async deleteNotes(): Promise<number> {
        return this.deletePartition(this.settings.notesTable, "ownerId", "noteId");
    }

    /** The caller's blocks (their partition: the senders they blocked). */
    async deleteBlocks(): Promise<number> {
        return this.deletePartition(this.settings.blocksTable, "recipientId", "senderId");
    }

    /**
     * The caller's devices: each SNS endpoint first (so a failure leaves the record for the retry), then the
     * record. An endpoint that another identity's device record points to (the phone changed hands, and
     * `POST /devices` moved the token to its new owner) is theirs: it is kept.
     */
    async deleteDevices(): Promise<{ devices: number; endpointsKeptForOthers: number }> {
        const table = this.settings.devicesTable;
        let devices = 0;
        let kept = 0;
        let startKey: Record<string, unknown> | undefined;
        do {
            this.checkTime("devices");
            const page = await this.clients.db.send(
                new QueryCommand({
                    TableName: table,
                    KeyConditionExpression: "ownerId = :owner",
                    ExpressionAttributeValues: { ":owner": this.identityId },
                    ConsistentRead: true,
                    Limit: PAGE_SIZE,
                    ExclusiveStartKey: startKey,
                }),
            );
            for (const item of page.Items ?? []) {
                const endpointArn = typeof item.endpointArn === "string" ? item.endpointArn : "";
                if (endpointArn !== "") {
                    if (await this.endpointHeldByOthers(endpointArn)) kept++;
                    else {
                        try {
                            await this.clients.sns.send(new DeleteEndpointCommand({ EndpointArn: endpointArn }));
                        } catch (err) {
                            // Already deleted; or not an endpoint ARN at all, so there is nothing to delete.
                            if (!isNamed(err, "NotFoundException", "NotFound", "InvalidParameterException")) throw err;
                        }
                    }
                }
                await this.clients.db.send(new DeleteCommand({ TableName: table, Key: { ownerId: this.identityId, deviceId: item.deviceId } }));
                devices++;
            }
            startKey = page.LastEvaluatedKey;
        } while (startKey !== undefined);
        return { devices, endpointsKeptForOthers: kept };
    }

    /** Whether a device record of another identity points to `endpointArn` (the devices table's endpoint index). */
    private async endpointHeldByOthers(endpointArn: string): Promise<boolean> {
        const { Items } = await this.clients.db.send(
            new QueryCommand({
                TableName: this.settings.devicesTable,
                IndexName: DEVICES_BY_ENDPOINT,
                KeyConditionExpression: "endpointArn = :endpoint",
                ExpressionAttributeValues: { ":endpoint": endpointArn },
                ProjectionExpression: "ownerId",
            }),
        );
        return (Items ?? []).some((item) => item.ownerId !== this.identityId);
    }

    /**
     * Every version and delete marker under `uploads/<identity id>/`, one `DeleteObject` with `VersionId` each
     * (which removes that version for good, "Deleting object versions from a versioning-enabled bucket"; an
     * unversioned bucket lists each object as version `null`, which deletes it). Deleting a version that is
     * already gone succeeds, so a retry simply lists what is left.
     */
    async deleteUploads(): Promise<number> {
        const prefix = uploadPrefix(this.identityId);
        const bucket = this.settings.uploadsBucket;
        let deleted = 0;
        let keyMarker: string | undefined;
        let versionIdMarker: string | undefined;
        for (;;) {
            this.checkTime("uploads");
            const page = await this.clients.s3.send(
                new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker, MaxKeys: 1000 }),
            );
            const targets = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({ key: v.Key ?? "", versionId: v.VersionId ?? "null" }));
            for (const target of targets) {
                if (!target.key.startsWith(prefix)) throw new Error(`S3 listed ${target.key} outside ${prefix}`);
            }
            await inParallel(targets, this.settings.parallelDeletes ?? 8, (target) =>
                this.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: target.key, VersionId: target.versionId })),
            );
            deleted += targets.length;
            if (!page.IsTruncated) return deleted;
            keyMarker = page.NextKeyMarker;
            versionIdMarker = page.NextVersionIdMarker;
        }
    }

    /**
     * The caller's fair-use counters: the limits table is keyed `<rule>#<identity>#<window start>` (no index
     * by identity), so every key the caller can have is derived from the rules' windows over the lookback
     * and deleted (deleting a key that holds no item is a no-op).
     */
    async deleteCounters(): Promise<number> {
        const limits = this.settings.limits;
        if (limits === undefined) return 0;
        const nowSeconds = Math.floor((this.settings.now?.() ?? new Date()).getTime() / 1000);
        const lookback = this.settings.limitsLookbackSeconds ?? DEFAULT_LOOKBACK_SECONDS;
        const keys: Record<string, unknown>[] = [];
        for (const rule of [writeRule(limits), sentRule(limits), receivedRule(limits)]) {
            const w = rule.windowSeconds;
            // One window ahead too: another function's clock may run a little fast.
            for (let start = Math.floor(nowSeconds / w) * w + w; start >= nowSeconds - lookback - w; start -= w) {
                keys.push({ [LIMITS_KEY]: counterKey(rule, this.identityId, start) });
            }
        }
        for (let i = 0; i < keys.length; i += BATCH_SIZE * 10) {
            this.checkTime("counters");
            const group = keys.slice(i, i + BATCH_SIZE * 10);
            const batches: Record<string, unknown>[][] = [];
            for (let j = 0; j < group.length; j += BATCH_SIZE) batches.push(group.slice(j, j + BATCH_SIZE));
            await inParallel(batches, 4, (batch) => this.batchDelete(limits.tableName, batch));
        }
        return keys.length;
    }

    /** The user-pool user whose `sub` signed the request (found by `sub`, never by a name from the body). */
    async deleteUser(sub: string): Promise<"deleted" | "absent"> {
        const poolId = this.settings.userPoolId;
        // `sub` is a checked UUID, so the filter cannot be widened ("ListUsers": Filter, `sub = "…"` exact match).
        const { Users } = await this.clients.users.send(new ListUsersCommand({ UserPoolId: poolId, Filter: `sub = "${sub}"`, Limit: 2 }));
        const matching = (Users ?? []).filter((u: UserType) => attribute(u.Attributes, "sub") === sub && typeof u.Username === "string");
        if (matching.length === 0) return "absent";
        if (matching.length > 1) throw new Error(`${matching.length} users of ${poolId} have sub ${sub}`);
        try {
            await this.clients.users.send(new AdminDeleteUserCommand({ UserPoolId: poolId, Username: matching[0].Username }));
        } catch (err) {
            if (isNamed(err, "UserNotFoundException")) return "absent";
            throw err;
        }
        return "deleted";
    }

    /** The Cognito identity (its logins and its id): the last step. */
    async deleteIdentity(): Promise<void> {
        try {
            const { UnprocessedIdentityIds } = await this.clients.identity.send(new DeleteIdentitiesCommand({ IdentityIdsToDelete: [this.identityId] }));
            const failed = (UnprocessedIdentityIds ?? []).filter((u) => u.IdentityId === this.identityId);
            if (failed.length > 0) throw new Error(`DeleteIdentities left ${this.identityId} unprocessed: ${failed.map((f) => f.ErrorCode).join(", ")}`);
        } catch (err) {
            if (isNamed(err, "ResourceNotFoundException")) return;
            throw err;
        }
    }

    /** Deletes a partition (hash key = the identity) page by page; returns how many items it deleted. */
    private async deletePartition(table: string, hashKey: string, rangeKey: string): Promise<number> {
        let deleted = 0;
        let startKey: Record<string, unknown> | undefined;
        do {
            this.checkTime(table);
            const page = await this.clients.db.send(
                new QueryCommand({
                    TableName: table,
                    KeyConditionExpression: "#hash = :identity",
                    ExpressionAttributeNames: { "#hash": hashKey, "#range": rangeKey },
                    ExpressionAttributeValues: { ":identity": this.identityId },
                    ProjectionExpression: "#hash, #range",
                    ConsistentRead: true,
                    Limit: PAGE_SIZE,
                    ExclusiveStartKey: startKey,
                }),
            );
            const keys = (page.Items ?? []).map((item) => ({ [hashKey]: this.identityId, [rangeKey]: item[rangeKey] }));
            const batches: Record<string, unknown>[][] = [];
            for (let i = 0; i < keys.length; i += BATCH_SIZE) batches.push(keys.slice(i, i + BATCH_SIZE));
            await inParallel(batches, 4, (batch) => this.batchDelete(table, batch));
            deleted += keys.length;
            startKey = page.LastEvaluatedKey;
        } while (startKey !== undefined);
        return deleted;
    }

    /**
     * One `BatchWriteItem` of deletes, with what DynamoDB leaves unprocessed sent again after an exponential
     * backoff with jitter, as the DynamoDB developer guide recommends ("Batch operations": "If DynamoDB
     * returns any unprocessed items, you should retry the batch operation on those items … use an exponential
     * backoff algorithm"). Throws after `batchAttempts`.
     */
    private async batchDelete(table: string, keys: Record<string, unknown>[]): Promise<void> {
        let requests = keys.map((Key) => ({ DeleteRequest: { Key } }));
        const attempts = this.settings.batchAttempts ?? 8;
        const backoff = this.settings.backoffMs ?? 50;
        for (let attempt = 0; requests.length > 0; attempt++) {
            if (attempt >= attempts) throw new Error(`${requests.length} deletes in ${table} still unprocessed after ${attempts} attempts`);
            if (attempt > 0) await sleep(backoff * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
            const result = await this.clients.db.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
            requests = (result.UnprocessedItems?.[table] ?? []) as typeof requests;
        }
    }

    /** Stops the run (for Lambda's retry to continue) when the function is about to time out. */
    private checkTime(step: string): void {
        const remaining = this.settings.remainingMs?.();
        if (remaining !== undefined && remaining < (this.settings.reserveMs ?? 20_000)) {
            this.log("account deletion paused before the timeout; the retry continues", { identityId: this.identityId, step, remainingMs: remaining });
            throw new Error(`Account deletion of ${this.identityId} ran out of time at ${step}; the retry continues`);
        }
    }
}

/** Runs `task` on every item, at most `parallel` at a time; rejects with the first failure after all settle. */
async function inParallel<T>(items: T[], parallel: number, task: (item: T) => Promise<unknown>): Promise<void> {
    let next = 0;
    const failures: unknown[] = [];
    const worker = async (): Promise<void> => {
        while (next < items.length) {
            const item = items[next++];
            try {
                await task(item);
            } catch (err) {
                failures.push(err);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
    if (failures.length > 0) throw failures[0];
}

function attribute(attributes: AttributeType[] | undefined, name: string): string | undefined {
    return attributes?.find((a) => a.Name === name)?.Value;
}

function isNamed(err: unknown, ...names: string[]): boolean {
    return typeof err === "object" && err !== null && names.includes(String((err as { name?: unknown }).name));
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

function defaultLog(message: string, details: Record<string, unknown>): void {
    console.log(JSON.stringify({ message, ...details }));
}

/**
 * Reads {@link AccountSettings} from the function's environment (set by infra/account.ts): `NOTES_TABLE`,
 * `DEVICES_TABLE`, `BLOCKS_TABLE`, `UPLOADS_BUCKET`, `USER_POOL_ID`, optionally `LIMITS_LOOKBACK_SECONDS` and
 * `TIME_RESERVE_MS`.
 * A missing value is an error: the function must never guess where a user's data is.
 */
export function accountSettingsFromEnvironment(env: Record<string, string | undefined>): Omit<AccountSettings, "limits"> {
    const required = (name: string): string => {
        const value = env[name];
        if (value === undefined || value === "") throw new Error(`${name} is not set`);
        return value;
    };
    const number = (name: string): number | undefined => {
        const value = env[name];
        if (value === undefined || value === "") return undefined;
        const parsed = Number(value);
        if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`${name} must be a whole number, got ${value}`);
        return parsed;
    };
    const lookback = number("LIMITS_LOOKBACK_SECONDS");
    const reserve = number("TIME_RESERVE_MS");
    return {
        notesTable: required("NOTES_TABLE"),
        devicesTable: required("DEVICES_TABLE"),
        blocksTable: required("BLOCKS_TABLE"),
        uploadsBucket: required("UPLOADS_BUCKET"),
        userPoolId: required("USER_POOL_ID"),
        ...(lookback !== undefined ? { limitsLookbackSeconds: lookback } : {}),
        ...(reserve !== undefined ? { reserveMs: reserve } : {}),
    };
}
