/**
 * Fair-use counters (`functions/rate-limit.ts`) against dynalite, on a table declared exactly as
 * `infra/data.ts` declares the limits table: fixed windows, one conditional UpdateItem per event, the
 * 429 answer with Retry-After, and the settings the functions read from their environment.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { errorResponse } from "../functions/http";
import {
    LIMITS_KEY,
    LIMITS_TTL_ATTRIBUTE,
    consume,
    enforceWriteLimit,
    limitSettingsFromEnvironment,
    type LimitSettings,
    type RateRule,
} from "../functions/rate-limit";
import { LIMITS_TABLE_KEYS } from "../infra/data";
import { freshTable, startDynamo, type LocalDynamo } from "./support/dynamodb";

let dynamo: LocalDynamo;
let db: DynamoDBDocumentClient;

beforeAll(async () => {
    dynamo = await startDynamo();
    db = DynamoDBDocumentClient.from(dynamo.client);
});

afterAll(async () => {
    await dynamo?.close();
});

const table = freshTable(() => dynamo, LIMITS_TABLE_KEYS);

function identity(): string {
    return `us-east-1:${randomUUID()}`;
}

/** 2024-05-01T12:00:00Z: a minute and an hour boundary. */
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const rule: RateRule = { name: "writes", limit: 3, windowSeconds: 60 };

describe("consume", () => {
    it("allows `limit` events in a window, refuses the next with the seconds left, and counts nothing refused", async () => {
        const user = identity();
        const decisions = [];
        for (let i = 0; i < 4; i++) decisions.push(await consume(db, table.name, user, rule, at(10)));
        expect(decisions).toEqual([
            { allowed: true, count: 1 },
            { allowed: true, count: 2 },
            { allowed: true, count: 3 },
            { allowed: false, retryAfterSeconds: 50 },
        ]);
        const { Item } = await db.send(new GetCommand({ TableName: table.name, Key: { [LIMITS_KEY]: `writes#${user}#${T0 / 1000}` } }));
        // One item for the window: the count (refusals not added) and a TTL one window past its end.
        expect(Item).toEqual({ [LIMITS_KEY]: `writes#${user}#${T0 / 1000}`, count: 3, [LIMITS_TTL_ATTRIBUTE]: T0 / 1000 + 120 });
    });

    it("starts again at the next window, and rounds Retry-After up to at least a second", async () => {
        const user = identity();
        for (let i = 0; i < 3; i++) await consume(db, table.name, user, rule, at(0));
        expect(await consume(db, table.name, user, rule, at(59.5))).toEqual({ allowed: false, retryAfterSeconds: 1 });
        expect(await consume(db, table.name, user, rule, at(59.999))).toEqual({ allowed: false, retryAfterSeconds: 1 });
        expect(await consume(db, table.name, user, rule, at(60))).toEqual({ allowed: true, count: 1 });
    });

    it("keeps identities and rules apart", async () => {
        const [a, b] = [identity(), identity()];
        for (let i = 0; i < 3; i++) await consume(db, table.name, a, rule, at(0));
        expect((await consume(db, table.name, a, rule, at(1))).allowed).toBe(false);
        expect(await consume(db, table.name, b, rule, at(1))).toEqual({ allowed: true, count: 1 });
        expect(await consume(db, table.name, a, { ...rule, name: "sent" }, at(1))).toEqual({ allowed: true, count: 1 });
    });

    it("never lets concurrent requests past the limit (the condition and the ADD are one atomic update)", async () => {
        const user = identity();
        const decisions = await Promise.all(
            Array.from({ length: 25 }, () => consume(db, table.name, user, { ...rule, limit: 7 }, at(5))),
        );
        expect(decisions.filter((d) => d.allowed)).toHaveLength(7);
        expect(decisions.filter((d) => !d.allowed)).toHaveLength(18);
    });

    it("never scans: each event is one UpdateItem", async () => {
        const spy = jest.spyOn(db, "send");
        try {
            await consume(db, table.name, identity(), rule, at(0));
            expect(spy.mock.calls.map(([command]) => command.constructor.name)).toEqual(["UpdateCommand"]);
        } finally {
            spy.mockRestore();
        }
    });

    it("throws other DynamoDB errors", async () => {
        await expect(consume(db, "no-such-table", identity(), rule, at(0))).rejects.toThrow(/non-existent table|not found/i);
    });

    it("uses hour windows for hourly rules", async () => {
        const user = identity();
        const hourly: RateRule = { name: "sent", limit: 1, windowSeconds: 3600 };
        await consume(db, table.name, user, hourly, at(60));
        expect(await consume(db, table.name, user, hourly, at(3599))).toEqual({ allowed: false, retryAfterSeconds: 1 });
        expect(await consume(db, table.name, user, hourly, at(60))).toEqual({ allowed: false, retryAfterSeconds: 3540 });
        expect((await consume(db, table.name, user, hourly, at(3600))).allowed).toBe(true);
        const { Items } = await db.send(new ScanCommand({ TableName: table.name }));
        expect(Items?.filter((i) => String(i[LIMITS_KEY]).includes(user)).map((i) => i[LIMITS_KEY]).sort()).toEqual([
            `sent#${user}#${T0 / 1000}`,
            `sent#${user}#${T0 / 1000 + 3600}`,
        ]);
    });
});

describe("enforceWriteLimit", () => {
    const settings = (): LimitSettings => ({
        tableName: table.name,
        writesPerMinute: 2,
        notificationsSentPerHour: 1,
        notificationsReceivedPerHour: 1,
    });

    it("throws a 429 TooManyRequests with Retry-After once the minute's writes are used up", async () => {
        const user = identity();
        await enforceWriteLimit(db, settings(), user, () => at(30));
        await enforceWriteLimit(db, settings(), user, () => at(31));
        const err = await enforceWriteLimit(db, settings(), user, () => at(45)).catch((e: unknown) => e);
        const response = errorResponse(err);
        expect(response.statusCode).toBe(429);
        expect(response.headers).toMatchObject({ "retry-after": "15", "content-type": "application/json; charset=utf-8" });
        expect(JSON.parse(response.body)).toEqual({
            success: false,
            error: {
                code: "TooManyRequests",
                message: "You have made 2 changes in the last minute, the most allowed; try again in 15 s.",
                retryAfterSeconds: 15,
            },
        });
    });

    it("does nothing without limits", async () => {
        const spy = jest.spyOn(db, "send");
        try {
            await enforceWriteLimit(db, undefined, identity());
            expect(spy).not.toHaveBeenCalled();
        } finally {
            spy.mockRestore();
        }
    });
});

describe("limitSettingsFromEnvironment", () => {
    const env = {
        LIMITS_TABLE: "limits-1",
        WRITES_PER_MINUTE: "60",
        NOTIFICATIONS_SENT_PER_HOUR: "100",
        NOTIFICATIONS_RECEIVED_PER_HOUR: "200",
    };

    it("reads the table and the three limits", () => {
        expect(limitSettingsFromEnvironment(env)).toEqual({
            tableName: "limits-1",
            writesPerMinute: 60,
            notificationsSentPerHour: 100,
            notificationsReceivedPerHour: 200,
        });
    });

    it("is undefined without a table", () => {
        expect(limitSettingsFromEnvironment({ ...env, LIMITS_TABLE: undefined })).toBeUndefined();
    });

    it.each([["missing", undefined], ["zero", "0"], ["a fraction", "1.5"], ["text", "many"]])(
        "refuses a limit that is %s",
        (_case, value) => {
            expect(() => limitSettingsFromEnvironment({ ...env, WRITES_PER_MINUTE: value })).toThrow(/WRITES_PER_MINUTE must be a positive whole number/);
        },
    );
});
