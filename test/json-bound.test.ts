/** The worst-case JSON size of a schema's bodies: the body caps derive from it. */
import { jsonByteBound, MAX_ESCAPED_CHAR_BYTES, WHITESPACE_ALLOWANCE_BYTES } from "../functions/json-bound";

const w = WHITESPACE_ALLOWANCE_BYTES;

test("a string field: quotes plus every character escaped as a surrogate pair", () => {
    const schema = { type: "object" as const, properties: { a: { type: "string" as const, maxLength: 3 } }, additionalProperties: false };
    // {"\u0061":"\ud83d\ude00\ud83d\ude00\ud83d\ude00"}
    const worst = `{"\\u0061":"${"\\ud83d\\ude00".repeat(3)}"}`;
    expect(jsonByteBound(schema)).toBeGreaterThanOrEqual(Buffer.byteLength(worst) + w);
    expect(jsonByteBound(schema)).toBe(2 + (2 + MAX_ESCAPED_CHAR_BYTES) + 1 + (2 + 3 * MAX_ESCAPED_CHAR_BYTES) + 1 + w);
});

test("anyOf and enums take their largest member; null is four bytes", () => {
    const schema = {
        type: "object" as const,
        properties: {
            m: { anyOf: [{ type: "string" as const, maxLength: 1 }, { enum: [null] }] },
            p: { type: "string" as const, enum: ["ios", "android"] },
        },
        additionalProperties: false,
    };
    const m = (2 + 12) + 1 + (2 + 12) + 1;
    const p = (2 + 12) + 1 + (2 + 7 * 12) + 1;
    expect(jsonByteBound(schema)).toBe(2 + m + p + w);
});

test.each([
    [{ type: "string" as const }, "the body is a string without maxLength"],
    [{ type: "object" as const, properties: {} }, "the body allows other properties"],
    [{ type: "object" as const, properties: { x: { type: "string" as const } }, additionalProperties: false }, "the body.x is a string without maxLength"],
    [{}, "the body has no type"],
])("refuses a schema without a bound: %j", (schema, message) => {
    expect(() => jsonByteBound(schema)).toThrow(message);
});
