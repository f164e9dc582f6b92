/**
 * The local SQS endpoint (local/sqs.ts) against the real `@aws-sdk/client-sqs` (AWS JSON 1.0, its MD5 checks,
 * its error shapes): queues, send and receive, visibility, long polling, deletes, attributes, purge, errors, the
 * in-process producer, and persistence in a data directory.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    ChangeMessageVisibilityCommand,
    CreateQueueCommand,
    DeleteMessageCommand,
    GetQueueAttributesCommand,
    GetQueueUrlCommand,
    MessageNotInflight,
    PurgeQueueCommand,
    PurgeQueueInProgress,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
    ReceiveMessageCommand,
    SendMessageCommand,
    SQSClient,
} from "@aws-sdk/client-sqs";
import { start, type LocalSqs } from "../local/sqs";

let sqs: LocalSqs;
let client: SQSClient;
let tmp: string;

beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sqs-local-"));
    sqs = await start({ accountId: "123456789012" });
    client = new SQSClient({ endpoint: sqs.url, region: "us-east-1", credentials: { accessKeyId: "AKIDSQS", secretAccessKey: "sqs-secret" } });
});

afterAll(async () => {
    client?.destroy();
    await sqs?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
});

const counts = async (url: string) => {
    const { Attributes } = await client.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
    );
    return { visible: Number(Attributes?.ApproximateNumberOfMessages), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible) };
};

test("send, receive with attributes and the SDK's MD5 checks, visibility, delete", async () => {
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: "work" }));
    expect(QueueUrl).toBe(`${sqs.url}/123456789012/work`);
    expect(sqs.queueUrl("work")).toBe(QueueUrl);
    // Idempotent for the same attributes; refused for others.
    await expect(client.send(new CreateQueueCommand({ QueueName: "work" }))).resolves.toMatchObject({ QueueUrl });
    await expect(client.send(new CreateQueueCommand({ QueueName: "work", Attributes: { VisibilityTimeout: "5" } }))).rejects.toBeInstanceOf(QueueNameExists);
    expect((await client.send(new GetQueueUrlCommand({ QueueName: "work" }))).QueueUrl).toBe(QueueUrl);

    // Multi-byte text: the MD5 is of the UTF-8 bytes (the SDK throws otherwise).
    const bodies = ["first é 😀", JSON.stringify({ n: 2 }), "third"];
    for (const MessageBody of bodies) {
        const sent = await client.send(new SendMessageCommand({ QueueUrl, MessageBody }));
        expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(await counts(QueueUrl as string)).toEqual({ visible: 3, inFlight: 0 });

    const first = await client.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 2, VisibilityTimeout: 60, MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"] }),
    );
    expect(first.Messages?.map((m) => m.Body)).toEqual(bodies.slice(0, 2));
    expect(first.Messages?.[0].Attributes).toEqual({ ApproximateReceiveCount: "1", SentTimestamp: expect.stringMatching(/^\d{13}$/) });
    expect(await counts(QueueUrl as string)).toEqual({ visible: 1, inFlight: 2 });

    // Released at once (visibility 0): received again, the count goes up, a new receipt handle.
    const [a, b] = first.Messages ?? [];
    await client.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: a.ReceiptHandle, VisibilityTimeout: 0 }));
    const again = await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, AttributeNames: ["All"] }));
    expect(again.Messages?.map((m) => m.Body)).toEqual([bodies[0], bodies[2]]);
    expect(again.Messages?.[0].Attributes?.ApproximateReceiveCount).toBe("2");
    expect(again.Messages?.[0].ReceiptHandle).not.toBe(a.ReceiptHandle);
    // The old handle no longer controls the message: visibility is refused, a delete succeeds but deletes nothing.
    await expect(client.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: a.ReceiptHandle, VisibilityTimeout: 0 }))).rejects.toBeInstanceOf(MessageNotInflight);
    await expect(client.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: "bogus", VisibilityTimeout: 0 }))).rejects.toBeInstanceOf(ReceiptHandleIsInvalid);

    await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: a.ReceiptHandle }));
    expect(sqs.messages("work").map((m) => m.body)).toEqual(bodies);
    for (const m of [b, ...(again.Messages ?? [])]) await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    // Deleting twice is not an error.
    await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: b.ReceiptHandle }));
    expect(await counts(QueueUrl as string)).toEqual({ visible: 0, inFlight: 0 });
    expect(sqs.messages("work")).toEqual([]);
});

test("long polling answers when a message arrives (or empty at the end of the wait); a visibility timeout ends", async () => {
    const QueueUrl = sqs.createQueue("polled");
    const empty = await client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
    expect(empty.Messages ?? []).toEqual([]);

    const waiting = client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20, VisibilityTimeout: 1 }));
    await new Promise((r) => setTimeout(r, 100));
    // The in-process producer (the local Lambda failure destinations use it).
    const id = sqs.send("polled", "from a destination");
    const got = await waiting;
    expect(got.Messages?.map((m) => [m.MessageId, m.Body])).toEqual([[id, "from a destination"]]);
    expect(sqs.messages("polled")).toEqual([expect.objectContaining({ messageId: id, receiveCount: 1, visible: false })]);
    // Not deleted: visible again once its 1 s visibility timeout is over (a long poll is woken by it).
    const redelivered = await client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5, MessageSystemAttributeNames: ["ApproximateReceiveCount"] }));
    expect(redelivered.Messages?.[0]).toMatchObject({ MessageId: id, Attributes: { ApproximateReceiveCount: "2" } });
});

test("errors come in SQS's shapes; purge empties a queue once a minute", async () => {
    const QueueUrl = sqs.createQueue("errors");
    await expect(client.send(new GetQueueUrlCommand({ QueueName: "nope" }))).rejects.toBeInstanceOf(QueueDoesNotExist);
    const gone = await client.send(new SendMessageCommand({ QueueUrl: sqs.queueUrl("nope"), MessageBody: "x" })).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(QueueDoesNotExist);
    expect(gone).toMatchObject({ $metadata: { httpStatusCode: 400 }, Code: "AWS.SimpleQueueService.NonExistentQueue" });
    await expect(client.send(new SendMessageCommand({ QueueUrl, MessageBody: "" }))).rejects.toMatchObject({ name: "InvalidParameterValue" });
    await expect(client.send(new SendMessageCommand({ QueueUrl, MessageBody: "x".repeat(262_145) }))).rejects.toMatchObject({ name: "InvalidParameterValue" });
    await expect(client.send(new SendMessageCommand({ QueueUrl, MessageBody: "bell \u0007" }))).rejects.toMatchObject({ name: "InvalidMessageContents" });
    await expect(client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 11 }))).rejects.toMatchObject({ name: "InvalidParameterValue" });
    await expect(client.send(new CreateQueueCommand({ QueueName: "jobs.fifo", Attributes: { FifoQueue: "true" } }))).rejects.toMatchObject({ name: "InvalidParameterValue" });
    // Unsigned requests are refused.
    const unsigned = await fetch(sqs.url, { method: "POST", headers: { "x-amz-target": "AmazonSQS.ListQueues", "content-type": "application/x-amz-json-1.0" }, body: "{}" });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toMatchObject({ __type: "com.amazonaws.sqs#MissingAuthenticationToken" });

    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: "one" }));
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: "two" }));
    await client.send(new PurgeQueueCommand({ QueueUrl }));
    expect(await counts(QueueUrl)).toEqual({ visible: 0, inFlight: 0 });
    await expect(client.send(new PurgeQueueCommand({ QueueUrl }))).rejects.toBeInstanceOf(PurgeQueueInProgress);
});

test("with a data directory, queues and messages (and their receive counts) survive a restart", async () => {
    const dataDir = path.join(tmp, "data");
    const first = await start({ dataDir });
    const firstClient = new SQSClient({ endpoint: first.url, region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } });
    const { QueueUrl } = await firstClient.send(new CreateQueueCommand({ QueueName: "kept", Attributes: { VisibilityTimeout: "0" } }));
    await firstClient.send(new SendMessageCommand({ QueueUrl, MessageBody: "survives" }));
    await firstClient.send(new ReceiveMessageCommand({ QueueUrl }));
    firstClient.destroy();
    await first.stop();

    const second = await start({ dataDir });
    const secondClient = new SQSClient({ endpoint: second.url, region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } });
    try {
        const received = await secondClient.send(new ReceiveMessageCommand({ QueueUrl: second.queueUrl("kept"), MessageSystemAttributeNames: ["ApproximateReceiveCount"] }));
        expect(received.Messages?.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([["survives", "2"]]);
    } finally {
        secondClient.destroy();
        await second.stop();
    }
});
