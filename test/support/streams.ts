import type { DynamoDBRecord } from "aws-lambda";
import type { LocalDynamo } from "./dynamodb";

/**
 * A table's stream records as the local DynamoDB (local/dynamodb.ts) captured them, delivered by its event
 * source mapping (`mapStream`): Lambda's event shape, `eventSourceARN` included. The tap's own function
 * takes every batch; the test then hands the records to the function under test in the batches it chooses
 * (a poison record next to a good one, the same batch twice for a retry), which a live mapping would not let
 * it choose.
 */
export interface StreamTap {
    /** Every record written since the last call, oldest first, once the mapping has delivered all of them. */
    take(): Promise<DynamoDBRecord[]>;
    /** The record of the one change since the last call, which must be to the item with this (string) key. */
    takeOne(key: Record<string, string>): Promise<DynamoDBRecord>;
}

/** Starts a tap on a stream-enabled table from its oldest record (TRIM_HORIZON); it stops with the server. */
export function tapStream(dynamo: LocalDynamo, tableName: string): StreamTap {
    const delivered: DynamoDBRecord[] = [];
    const lost: string[] = [];
    const mapping = dynamo.server.mapStream({
        tableName,
        name: `test-tap-${tableName}`,
        invoke: async (event) => {
            delivered.push(...event.Records);
        },
        // Only records that aged out before delivery (a test moving the server's clock) come here.
        onFailure: async (message) => {
            const info = message.DDBStreamBatchInfo;
            lost.push(`${info.startSequenceNumber}..${info.endSequenceNumber} (${message.requestContext.condition})`);
        },
    });
    const take = async (): Promise<DynamoDBRecord[]> => {
        await mapping.idle();
        if (lost.length > 0) throw new Error(`stream ${tableName}: records never delivered: ${lost.splice(0).join(", ")}`);
        return delivered.splice(0);
    };
    return {
        take,
        async takeOne(key: Record<string, string>): Promise<DynamoDBRecord> {
            const records = await take();
            const keys = records.map((r) => JSON.stringify(r.dynamodb?.Keys));
            const expected = JSON.stringify(Object.fromEntries(Object.entries(key).map(([k, v]) => [k, { S: v }])));
            const [record] = records;
            if (records.length !== 1 || record === undefined || !sameKey(record, key)) {
                throw new Error(`stream ${tableName}: expected one record of ${expected}, got ${records.length}: ${keys.join(", ")}`);
            }
            return record;
        },
    };
}

function sameKey(record: DynamoDBRecord, key: Record<string, string>): boolean {
    const keys = record.dynamodb?.Keys ?? {};
    return Object.keys(keys).length === Object.keys(key).length && Object.entries(key).every(([k, v]) => keys[k]?.S === v);
}
