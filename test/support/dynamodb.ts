import { CreateTableCommand, DynamoDBClient, type CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import type { RecordedResource } from "./mocks";

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
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("dynalite did not listen on a port");
    const endpoint = `http://127.0.0.1:${address.port}`;
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

/** Creates, on the local server, the table exactly as the program declares it (keys, indexes, stream). */
export async function createDeclaredTable(dynamo: LocalDynamo, table: RecordedResource, tableName: string): Promise<void> {
    const inputs = table.inputs;
    const keySchema = (hash: string, range?: string) => [
        { AttributeName: hash, KeyType: "HASH" as const },
        ...(range ? [{ AttributeName: range, KeyType: "RANGE" as const }] : []),
    ];
    const command: CreateTableCommandInput = {
        TableName: tableName,
        BillingMode: inputs.billingMode,
        AttributeDefinitions: inputs.attributes.map((a: { name: string; type: "S" | "N" | "B" }) => ({
            AttributeName: a.name,
            AttributeType: a.type,
        })),
        KeySchema: keySchema(inputs.hashKey, inputs.rangeKey),
        LocalSecondaryIndexes: (inputs.localSecondaryIndexes ?? []).map(
            (i: { name: string; rangeKey: string; projectionType: "ALL" | "KEYS_ONLY" }) => ({
                IndexName: i.name,
                KeySchema: keySchema(inputs.hashKey, i.rangeKey),
                Projection: { ProjectionType: i.projectionType },
            }),
        ),
        StreamSpecification: inputs.streamEnabled
            ? { StreamEnabled: true, StreamViewType: inputs.streamViewType }
            : undefined,
    };
    const globalIndexes = (inputs.globalSecondaryIndexes ?? []).map(
        (i: { name: string; hashKey: string; rangeKey?: string; projectionType: "ALL" | "KEYS_ONLY" }) => ({
            IndexName: i.name,
            KeySchema: keySchema(i.hashKey, i.rangeKey),
            Projection: { ProjectionType: i.projectionType },
        }),
    );
    if (globalIndexes.length > 0) command.GlobalSecondaryIndexes = globalIndexes;
    if (command.LocalSecondaryIndexes?.length === 0) delete command.LocalSecondaryIndexes;
    await dynamo.client.send(new CreateTableCommand(command));
}
