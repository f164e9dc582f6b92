import type { JsonSchema } from "./schema";

/**
 * The most UTF-8 bytes one character of a JSON string can take: a code point outside the Basic Multilingual
 * Plane written as two `\uXXXX` escapes (RFC 8259 section 7), as encoders that escape non-ASCII do (Python's
 * `json.dumps` by default).
 */
export const MAX_ESCAPED_CHAR_BYTES = 12;

/** Room for insignificant whitespace around the structural characters (pretty-printing encoders). */
export const WHITESPACE_ALLOWANCE_BYTES = 4096;

/**
 * An upper bound of the UTF-8 byte length of a JSON text that conforms to `schema`, however the encoder escapes
 * characters (every character of every string and key at {@link MAX_ESCAPED_CHAR_BYTES}), plus
 * {@link WHITESPACE_ALLOWANCE_BYTES}. A body cap derived from it refuses no valid body for its encoding, only
 * bodies that cannot conform. Throws a `RangeError` for a schema with no bound (a string without `maxLength`,
 * other properties allowed).
 */
export function jsonByteBound(schema: JsonSchema): number {
    return valueBound(schema, "the body") + WHITESPACE_ALLOWANCE_BYTES;
}

function valueBound(schema: JsonSchema, where: string): number {
    if (schema.anyOf !== undefined) return Math.max(...schema.anyOf.map((member) => valueBound(member, where)));
    if (schema.enum !== undefined) {
        // JSON's own text of each allowed value (`null` is four bytes), its characters escaped at worst.
        return Math.max(...schema.enum.map((value) => (value === null ? "null".length : stringBound([...value].length))));
    }
    switch (schema.type) {
        case "string":
            if (schema.maxLength === undefined) throw new RangeError(`${where} is a string without maxLength`);
            return stringBound(schema.maxLength);
        case "object":
            return objectBound(schema, where);
        default:
            throw new RangeError(`${where} has no type, so no size bound`);
    }
}

function objectBound(schema: JsonSchema, where: string): number {
    if (schema.additionalProperties !== false) throw new RangeError(`${where} allows other properties`);
    const members = Object.entries(schema.properties ?? {}).map(
        // "key":value, — the key's characters escaped like any string's.
        ([key, child]) => stringBound([...key].length) + 1 + valueBound(child, `${where}.${key}`) + 1,
    );
    return 2 + members.reduce((sum, bytes) => sum + bytes, 0);
}

function stringBound(characters: number): number {
    return 2 + characters * MAX_ESCAPED_CHAR_BYTES;
}
