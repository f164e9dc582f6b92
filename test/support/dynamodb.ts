import {
    CreateTableCommand,
    DescribeTableCommand,
    DynamoDBClient,
    type CreateTableCommandInput,
    type StreamViewType,
} from "@aws-sdk/client-dynamodb";
import type { TableKeys } from "../../infra/data";
import type { RecordedResource } from "./mocks";
import { listenOnLoopback } from "./net";

/** A local DynamoDB-compatible server (dynalite, in memory). */
export interface LocalDynamo {
    endpoint: string;
    client: DynamoDBClient;
    close(): Promise<void>;
}

/** Starts dynalite on an ephemeral loopback port. */
export async function startDynamo(): Promise<LocalDynamo> {
    // dynalite has no type declarations.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dynalite = require("dynalite") as (options: Record<string, number>) => import("node:http").Server;
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    const endpoint = await listenOnLoopback(server);
    const client = new DynamoDBClient({
        endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    return {
        endpoint,
        client,
        close: () => {
            client.destroy();
            return new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
}

/**
 * Creates a pay-per-request table with the given keys and indexes (in `aws.dynamodb.Table` terms) and
 * waits until it and its indexes are ACTIVE.
 */
export async function createTable(
    client: DynamoDBClient,
    tableName: string,
    keys: TableKeys & { streamEnabled?: boolean; streamViewType?: StreamViewType },
): Promise<void> {
    const keySchema = (hash: string, range?: string) => [
        { AttributeName: hash, KeyType: "HASH" as const },
        ...(range ? [{ AttributeName: range, KeyType: "RANGE" as const }] : []),
    ];
    const command: CreateTableCommandInput = {
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: keys.attributes.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
        KeySchema: keySchema(keys.hashKey, keys.rangeKey),
        StreamSpecification: keys.streamEnabled ? { StreamEnabled: true, StreamViewType: keys.streamViewType } : undefined,
    };
    if (keys.localSecondaryIndexes?.length) {
        command.LocalSecondaryIndexes = keys.localSecondaryIndexes.map((i) => ({
            IndexName: i.name,
            KeySchema: keySchema(keys.hashKey, i.rangeKey),
            Projection: { ProjectionType: i.projectionType },
        }));
    }
    if (keys.globalSecondaryIndexes?.length) {
        command.GlobalSecondaryIndexes = keys.globalSecondaryIndexes.map((i) => ({
            IndexName: i.name,
            KeySchema: keySchema(i.hashKey, i.rangeKey),
            Projection: { ProjectionType: i.projectionType },
        }));
    }
    await client.send(new CreateTableCommand(command));
    // dynalite (createTableMs: 0) turns a table ACTIVE within a few ticks: poll, never sleep.
    for (let attempt = 0; attempt < 100; attempt++) {
        const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
        const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === "ACTIVE");
        if (Table?.TableStatus === "ACTIVE" && indexesActive) return;
    }
    throw new Error(`table ${tableName} did not become ACTIVE`);
}

let freshTables = 0;

/**
 * A table of its own for the enclosing `describe` block, created in its `beforeAll` with `keys`; read
 * `.name` inside tests. `dynamo` is called then, once the server is up.
 */
export function freshTable(dynamo: () => LocalDynamo, keys: TableKeys): { name: string } {
    const table = { name: "" };
    beforeAll(async () => {
        freshTables += 1;
        table.name = `test-table-${freshTables}`;
        await createTable(dynamo().client, table.name, keys);
    });
    return table;
}

/** Creates, on the local server, the table exactly as the program declared it (keys, indexes, stream). */
export async function createDeclaredTable(dynamo: LocalDynamo, table: RecordedResource, tableName: string): Promise<void> {
    await createTable(dynamo.client, tableName, table.inputs as TableKeys);
}
