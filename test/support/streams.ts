import { GetItemCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import type { LocalDynamo } from "./dynamodb";

type Item = Record<string, AttributeValue>;

/**
 * Builds DynamoDB stream records (NEW_AND_OLD_IMAGES) from real items read back from the local
 * table, as DynamoDB Streams would deliver them for a change. dynalite has no streams, so the test
 * captures each change itself: the item before and after.
 */
export class ChangeCapture {
    private sequence = 100_000_000_000_000_000_000n;

    constructor(
        private readonly dynamo: LocalDynamo,
        private readonly tableName: string,
        private readonly keyNames: [string, string],
    ) {}

    /** The item as stored now (attribute-value form), or undefined. */
    async read(key: Record<string, string>): Promise<Item | undefined> {
        const result = await this.dynamo.client.send(
            new GetItemCommand({
                TableName: this.tableName,
                Key: Object.fromEntries(Object.entries(key).map(([k, v]) => [k, { S: v }])),
                ConsistentRead: true,
            }),
        );
        return result.Item;
    }

    /** The stream record of a change from `before` to `after` (either may be absent). */
    record(before: Item | undefined, after: Item | undefined): DynamoDBRecord {
        const image = after ?? before;
        if (!image) throw new Error("a change needs an item before or after");
        const keys = Object.fromEntries(this.keyNames.map((k) => [k, image[k]]));
        const eventName = before === undefined ? "INSERT" : after === undefined ? "REMOVE" : "MODIFY";
        this.sequence += 1n;
        return {
            eventID: `event-${this.sequence}`,
            eventName,
            eventVersion: "1.1",
            eventSource: "aws:dynamodb",
            awsRegion: "us-east-1",
            eventSourceARN: `arn:aws:dynamodb:us-east-1:123456789012:table/${this.tableName}/stream/2026-01-01T00:00:00.000`,
            dynamodb: {
                ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
                Keys: keys as never,
                ...(after ? { NewImage: after as never } : {}),
                ...(before ? { OldImage: before as never } : {}),
                SequenceNumber: String(this.sequence),
                SizeBytes: Buffer.byteLength(JSON.stringify(image)),
                StreamViewType: "NEW_AND_OLD_IMAGES",
            },
        };
    }
}

/** A stream event of records, as the event source mapping hands it to the function. */
export function streamEvent(...records: DynamoDBRecord[]): DynamoDBStreamEvent {
    return { Records: records };
}
