import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { NOTES_BY_CREATED_AT } from "../functions/notes";
import { LIMITS_KEY, LIMITS_TTL_ATTRIBUTE } from "../functions/rate-limit";
import { kept, type RetainedResource, type RetainsResources } from "./adopt";
import { fairUseEnvironment, type FairUseEnvironment } from "./handlers/types";

/** The key schema and indexes of a table, in `aws.dynamodb.Table` terms (tests build local tables from it). */
export interface TableKeys {
    hashKey: string;
    rangeKey?: string;
    attributes: { name: string; type: "S" | "N" | "B" }[];
    localSecondaryIndexes?: { name: string; rangeKey: string; projectionType: "ALL" }[];
    globalSecondaryIndexes?: { name: string; hashKey: string; rangeKey?: string; projectionType: "ALL" }[];
}

/** The notes table: a user's notes are one partition, ordered by creation in a local index. */
export const NOTES_TABLE_KEYS: TableKeys = {
    hashKey: "ownerId",
    rangeKey: "noteId",
    attributes: [
        { name: "ownerId", type: "S" },
        { name: "noteId", type: "S" },
        { name: "createdAt", type: "S" },
    ],
    localSecondaryIndexes: [{ name: NOTES_BY_CREATED_AT, rangeKey: "createdAt", projectionType: "ALL" }],
};

/**
 * The limits table: short-lived per-identity state, one item per key, deleted by TTL (`expiresAt`, epoch
 * seconds): the fair-use counters of `functions/rate-limit.ts` (`<rule>#<identity>#<window start>`) and
 * the notification sender's delivery records (`delivery#<request id>`, so a retried event skips the
 * endpoints that already got it).
 */
export const LIMITS_TABLE_KEYS: TableKeys & { ttlAttribute: string } = {
    hashKey: LIMITS_KEY,
    attributes: [{ name: LIMITS_KEY, type: "S" }],
    ttlAttribute: LIMITS_TTL_ATTRIBUTE,
};

/** The stage's fair-use limits and the table that counts them, for the functions that enforce them. */
export interface FairUseLimits {
    /** The limits table ({@link LIMITS_TABLE_KEYS}). */
    table: aws.dynamodb.Table;
    /** `limits.writesPerMinute`: notes, devices and blocks changes per identity and minute. */
    writesPerMinute: number;
    /** `limits.notificationsSentPerHour`. */
    notificationsSentPerHour: number;
    /** `limits.notificationsReceivedPerHour`. */
    notificationsReceivedPerHour: number;
}

/** The environment variables `limitSettingsFromEnvironment` (functions/rate-limit.ts) reads. */
export function limitsEnvironment(limits: FairUseLimits): Record<string, pulumi.Input<string>> {
    return fairUseEnvironment(fairUseLimits(limits));
}

/** The limits in the Pulumi-free terms of infra/handlers/: the table by its name. */
export function fairUseLimits(limits: FairUseLimits): FairUseEnvironment<pulumi.Input<string>> {
    return {
        tableName: limits.table.name,
        writesPerMinute: limits.writesPerMinute,
        notificationsSentPerHour: limits.notificationsSentPerHour,
        notificationsReceivedPerHour: limits.notificationsReceivedPerHour,
    };
}

/** Arguments of {@link Data}. */
export interface DataArgs {
    /**
     * Keep the table when the stack is destroyed, with deletion protection and point-in-time
     * recovery on. Default `false`: the table is deleted with the stack.
     */
    retain?: boolean;
}

/**
 * The data tier: the notes table and the limits table. A user's notes are one partition (`ownerId` =
 * Cognito identity id, `noteId` sort key), a local index orders them by `createdAt`, and a stream with old
 * and new images feeds the search indexer. The limits table ({@link LIMITS_TABLE_KEYS}) holds only
 * counters and markers that expire: it is never retained, whatever `retain` says.
 */
export class Data extends pulumi.ComponentResource implements RetainsResources {
    /** The notes table. */
    public readonly notesTable: aws.dynamodb.Table;
    /** The limits table: per-identity fair-use counters and delivery records, all with a TTL. */
    public readonly limitsTable: aws.dynamodb.Table;
    /** What a retaining stage keeps on destroy: the notes table. */
    public readonly retained: RetainedResource[];

    constructor(name: string, args: DataArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:Data", name, {}, opts);
        const retain = args.retain ?? false;

        this.notesTable = new aws.dynamodb.Table(
            `${name}-notes`,
            {
                billingMode: "PAY_PER_REQUEST",
                ...NOTES_TABLE_KEYS,
                serverSideEncryption: { enabled: true },
                streamEnabled: true,
                streamViewType: "NEW_AND_OLD_IMAGES",
                pointInTimeRecovery: { enabled: retain },
                deletionProtectionEnabled: retain,
            },
            { parent: this, retainOnDelete: retain },
        );

        const { ttlAttribute, ...limitsKeys } = LIMITS_TABLE_KEYS;
        this.limitsTable = new aws.dynamodb.Table(
            `${name}-limits`,
            {
                billingMode: "PAY_PER_REQUEST",
                ...limitsKeys,
                ttl: { attributeName: ttlAttribute, enabled: true },
                serverSideEncryption: { enabled: true },
            },
            { parent: this },
        );

        // The limits table is not kept: it holds nothing that outlives an hour.
        this.retained = retain ? [kept(this.notesTable)] : [];
        this.registerOutputs({ notesTable: this.notesTable, limitsTable: this.limitsTable });
    }
}
