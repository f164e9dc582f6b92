import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { NOTES_BY_CREATED_AT } from "../functions/notes";
import { kept, type RetainedResource, type RetainsResources } from "./adopt";

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

/** Arguments of {@link Data}. */
export interface DataArgs {
    /**
     * Keep the table when the stack is destroyed, with deletion protection and point-in-time
     * recovery on. Default `false`: the table is deleted with the stack.
     */
    retain?: boolean;
}

/**
 * The data tier: the notes table. A user's notes are one partition (`ownerId` = Cognito identity id,
 * `noteId` sort key), a local index orders them by `createdAt`, and a stream with old and new images
 * feeds the search indexer.
 */
export class Data extends pulumi.ComponentResource implements RetainsResources {
    /** The notes table. */
    public readonly notesTable: aws.dynamodb.Table;
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

        this.retained = retain ? [kept(this.notesTable)] : [];
        this.registerOutputs({ notesTable: this.notesTable });
    }
}
