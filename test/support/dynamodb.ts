import {
    CreateTableCommand,
    DescribeTableCommand,
    DynamoDBClient,
    type StreamViewType,
} from "@aws-sdk/client-dynamodb";
import type { TableKeys } from "../../infra/data";
import { createTableInput, startLocalDynamoDb, type LocalDynamoDb, type LocalDynamoOptions } from "../../local/dynamodb";
import type { RecordedResource } from "./mocks";

/** A local DynamoDB (local/dynamodb.ts: dynalite in memory, with DynamoDB Streams) and a client for it. */
export interface LocalDynamo {
    endpoint: string;
    client: DynamoDBClient;
    /** The server itself (streams, event source mappings). */
    server: LocalDynamoDb;
    close(): Promise<void>;
}

/** Starts the local DynamoDB on an ephemeral loopback port (`options.now`: a clock a test can move). */
export async function startDynamo(options: Pick<LocalDynamoOptions, "now"> = {}): Promise<LocalDynamo> {
    const server = await startLocalDynamoDb(options);
    const client = new DynamoDBClient({
        endpoint: server.url,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    return {
        endpoint: server.url,
        client,
        server,
        close: () => {
            client.destroy();
            return server.stop();
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
    const command = createTableInput(tableName, keys);
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
