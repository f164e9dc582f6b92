/**
 * The blocks routes (`functions/blocks.ts`) against dynalite, on tables declared as the program declares
 * them: `PUT`, `DELETE` and `GET /blocks`, idempotence, validation, the write limit, and `isBlocked`.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { handleBlocksRequest, isBlocked, type BlocksSettings } from "../functions/blocks";
import { LIMITS_TABLE_KEYS } from "../infra/data";
import { BLOCKS_TABLE_KEYS } from "../infra/notifications";
import { freshTable, startDynamo, type LocalDynamo } from "./support/dynamodb";
import { apiEvent, reply, type ApiCall } from "./support/events";

let dynamo: LocalDynamo;
let db: DynamoDBDocumentClient;

beforeAll(async () => {
    dynamo = await startDynamo();
    db = DynamoDBDocumentClient.from(dynamo.client);
});

afterAll(async () => {
    await dynamo?.close();
});

const blocks = freshTable(() => dynamo, BLOCKS_TABLE_KEYS);
const limits = freshTable(() => dynamo, LIMITS_TABLE_KEYS);
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

function identity(): string {
    return `us-east-1:${randomUUID()}`;
}

function settings(extra: Partial<BlocksSettings> = {}): BlocksSettings {
    return { blocksTable: blocks.name, now: () => new Date(T0), ...extra };
}

async function call(request: ApiCall, extra: Partial<BlocksSettings> = {}) {
    return reply(await handleBlocksRequest(apiEvent(request), db, settings(extra)));
}

const put = (caller: string, senderId: string, extra?: Partial<BlocksSettings>) =>
    call({ method: "PUT", resource: "/blocks/{identityId}", pathParameters: { identityId: senderId }, identityId: caller }, extra);
const remove = (caller: string, senderId: string, extra?: Partial<BlocksSettings>) =>
    call({ method: "DELETE", resource: "/blocks/{identityId}", pathParameters: { identityId: senderId }, identityId: caller }, extra);
const list = (caller: string) => call({ method: "GET", resource: "/blocks", identityId: caller });

describe("blocks", () => {
    it("blocks a sender, lists it, and unblocks it; isBlocked follows at once", async () => {
        const [me, spammer, friend] = [identity(), identity(), identity()];
        expect(await put(me, spammer)).toMatchObject({ statusCode: 200, body: { success: true, identityId: spammer, blocked: true } });
        expect(await isBlocked(db, blocks.name, me, spammer)).toBe(true);
        expect(await isBlocked(db, blocks.name, me, friend)).toBe(false);
        // Direction matters: the spammer did not block me.
        expect(await isBlocked(db, blocks.name, spammer, me)).toBe(false);
        expect((await list(me)).body).toEqual({ success: true, blocked: [{ identityId: spammer, createdAt: new Date(T0).toISOString() }] });

        expect(await remove(me, spammer)).toMatchObject({ statusCode: 200, body: { success: true, identityId: spammer, blocked: false } });
        expect(await isBlocked(db, blocks.name, me, spammer)).toBe(false);
        expect((await list(me)).body).toEqual({ success: true, blocked: [] });
    });

    it("is idempotent: blocking twice keeps the first time, unblocking someone not blocked answers 200", async () => {
        const [me, spammer] = [identity(), identity()];
        await put(me, spammer);
        expect((await put(me, spammer, { now: () => new Date(T0 + 3600_000) })).statusCode).toBe(200);
        expect((await list(me)).body.blocked).toEqual([{ identityId: spammer, createdAt: new Date(T0).toISOString() }]);
        expect(await remove(identity(), spammer)).toMatchObject({ statusCode: 200 });
    });

    it("lists only the caller's blocks, all of them", async () => {
        const [me, other] = [identity(), identity()];
        const senders = Array.from({ length: 30 }, identity);
        for (const sender of senders) await put(me, sender);
        await put(other, identity());
        expect((await list(me)).body.blocked.map((b: { identityId: string }) => b.identityId).sort()).toEqual(senders.sort());
    });

    it.each([
        ["not an identity id", "bob"],
        ["an identity id with upper case", "us-east-1:7D3B1F5E-52C4-4A8E-9D5E-0C9F3A1B2C4D"],
        ["empty", ""],
    ])("answers 400 to an identityId that is %s", async (_case, identityId) => {
        const res = await put(identity(), identityId);
        expect(res).toMatchObject({ statusCode: 400, body: { success: false, error: { code: "BadRequest" } } });
        expect(res.body.error.message).toMatch(/^identityId must be the Cognito identity id/);
    });

    it("answers 400 to blocking oneself", async () => {
        const me = identity();
        expect(await put(me, me)).toMatchObject({ statusCode: 400, body: { error: { message: "identityId must not be your own identity id." } } });
    });

    it("answers 403 without a Cognito identity, and 405 to other methods", async () => {
        expect(await list(null as unknown as string)).toMatchObject({ statusCode: 403, body: { error: { code: "Forbidden" } } });
        expect(await call({ method: "POST", resource: "/blocks", identityId: identity() })).toMatchObject({ statusCode: 405 });
    });

    it("counts PUT and DELETE against the identity's writes per minute: 429 with Retry-After", async () => {
        const me = identity();
        const limited = {
            limits: { tableName: limits.name, writesPerMinute: 2, notificationsSentPerHour: 1, notificationsReceivedPerHour: 1 },
            now: () => new Date(T0 + 20_000),
        };
        const sender = identity();
        expect((await put(me, sender, limited)).statusCode).toBe(200);
        expect((await remove(me, sender, limited)).statusCode).toBe(200);
        const refused = await put(me, sender, limited);
        expect(refused).toMatchObject({
            statusCode: 429,
            headers: { "retry-after": "40" },
            body: { success: false, error: { code: "TooManyRequests", retryAfterSeconds: 40 } },
        });
        expect(await isBlocked(db, blocks.name, me, sender)).toBe(false);
        // Listing is not a write.
        expect((await list(me)).statusCode).toBe(200);
    });

    it("answers a generic 500 when the table is missing", async () => {
        const consoleError = jest.spyOn(console, "error").mockImplementation(() => undefined);
        try {
            const res = reply(await handleBlocksRequest(apiEvent({ method: "GET", resource: "/blocks", identityId: identity() }), db, { blocksTable: "missing" }));
            expect(res).toMatchObject({ statusCode: 500, body: { error: { code: "InternalError" } } });
        } finally {
            consoleError.mockRestore();
        }
    });
});
