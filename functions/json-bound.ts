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
    const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
    if (schema.enum !== undefined) return Math.max(...schema.enum.map((value) => stringBound([...String(value)].length)));
    if (types.length === 0) throw new RangeError(`${where} has no type, so no size bound`);
    return Math.max(
        ...types.map((type) => {
            switch (type) {
                case "null":
                    return "null".length;
                case "string":
                    if (schema.maxLength === undefined) throw new RangeError(`${where} is a string without maxLength`);
                    return stringBound(schema.maxLength);
                case "object":
                    return objectBound(schema, where);
                default:
                    throw new RangeError(`${where} has type ${String(type)}, which has no size bound here`);
            }
        }),
    );
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
