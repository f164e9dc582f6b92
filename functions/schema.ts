/**
 * The JSON Schema (draft 4) subset that API Gateway models and the functions share. The same schema
 * object is published as an API Gateway model and checked here; it means exactly what draft 4 means
 * (`test/schema-differential.test.ts` holds this checker to `ajv-draft-04` over generated bodies):
 * lengths count Unicode code points, patterns are ECMAScript `u` regular expressions searched anywhere
 * in the string, and only own fields count. Schemas stay valid OpenAPI 3.0 too: `type` is one name,
 * never an array and never `"null"` (a nullable field is `anyOf` a schema and `{enum: [null]}`).
 */
export interface JsonSchema {
    /** One type name (OpenAPI 3.0 allows no list; a nullable field uses `anyOf`, see above). */
    type?: JsonType;
    title?: string;
    description?: string;
    properties?: Record<string, JsonSchema>;
    required?: string[];
    /** `false`: no other fields; a schema: every other field's value must satisfy it. */
    additionalProperties?: boolean | JsonSchema;
    minProperties?: number;
    maxProperties?: number;
    /** The value must equal one of these (`null` included: `{enum: [null]}` is draft 4's "null"). */
    enum?: (string | null)[];
    /** The value must satisfy at least one of these schemas. */
    anyOf?: JsonSchema[];
    minLength?: number;
    maxLength?: number;
    pattern?: string;
    minimum?: number;
    maximum?: number;
}

type JsonType = "object" | "string" | "integer";

/** Names of JSON values' types, as draft 4 names them (`integer` for whole numbers). */
type ValueType = JsonType | "null" | "array" | "boolean" | "integer" | "number";

/**
 * Checks `value` against `schema`; returns the first problem as a sentence naming the field, or
 * `undefined` when it conforms. Lengths count Unicode characters, as JSON Schema does.
 */
export function firstSchemaViolation(schema: JsonSchema, value: unknown, path = ""): string | undefined {
    const name = path === "" ? "the request body" : path;
    if (schema.type !== undefined) {
        const actual = jsonType(value);
        if (actual !== schema.type) {
            return `${name} must be ${article(schema.type)}, got ${article(actual)}.`;
        }
    }
    if (schema.enum !== undefined && !schema.enum.includes(value as string | null)) {
        return `${name} must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}.`;
    }
    if (schema.anyOf !== undefined) {
        const problems = schema.anyOf.map((alternative) => firstSchemaViolation(alternative, value, path));
        if (!problems.includes(undefined)) {
            // An alternative for the value's type explains best ("must not be empty"); else name the types.
            const sameType = schema.anyOf.flatMap((alternative, i) => (acceptsTypeOf(alternative, value) ? [problems[i]] : []));
            if (sameType.length === 1) return sameType[0];
            return `${name} must be ${schema.anyOf.map(describeType).join(" or ")}, got ${article(jsonType(value))}.`;
        }
    }
    if (typeof value === "string") {
        const length = [...value].length;
        if (schema.minLength !== undefined && length < schema.minLength) {
            return schema.minLength === 1
                ? `${name} must not be empty.`
                : `${name} must be at least ${schema.minLength} characters.`;
        }
        if (schema.maxLength !== undefined && length > schema.maxLength) {
            return `${name} must be at most ${schema.maxLength} characters, got ${length}.`;
        }
        if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
            return `${name} ${schema.description ?? `must match ${schema.pattern}`}.`;
        }
    }
    if (typeof value === "number") {
        if (schema.minimum !== undefined && value < schema.minimum) return `${name} must be at least ${schema.minimum}, got ${value}.`;
        if (schema.maximum !== undefined && value > schema.maximum) return `${name} must be at most ${schema.maximum}, got ${value}.`;
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        const record = value as Record<string, unknown>;
        for (const key of schema.required ?? []) {
            if (!Object.hasOwn(record, key)) return `${qualify(path, key)} is required.`;
        }
        const keys = Object.keys(record);
        if (schema.minProperties !== undefined && keys.length < schema.minProperties) {
            return `${name} must set at least one of ${Object.keys(schema.properties ?? {}).join(", ")}.`;
        }
        if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
            return `${name} must have at most ${schema.maxProperties} fields, got ${keys.length}.`;
        }
        for (const key of keys) {
            // Own properties only: `constructor` or `__proto__` must not find Object.prototype members.
            const properties = schema.properties ?? {};
            const extra = typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
            const child = Object.hasOwn(properties, key) ? properties[key] : extra;
            if (child === undefined) {
                if (schema.additionalProperties === false) return `${qualify(path, key)} is not a known field.`;
                continue;
            }
            const problem = firstSchemaViolation(child, record[key], qualify(path, key));
            if (problem !== undefined) return problem;
        }
    }
    return undefined;
}

function qualify(path: string, key: string): string {
    return path === "" ? key : `${path}.${key}`;
}

/** Whether `schema`'s `type` and `enum` let a value of `value`'s type through (its other limits aside). */
function acceptsTypeOf(schema: JsonSchema, value: unknown): boolean {
    const actual = jsonType(value);
    if (schema.type !== undefined && schema.type !== actual) return false;
    return schema.enum === undefined || schema.enum.some((allowed) => jsonType(allowed) === actual);
}

function describeType(schema: JsonSchema): string {
    if (schema.type !== undefined) return article(schema.type);
    if (schema.enum !== undefined) return [...new Set(schema.enum.map(jsonType))].map(article).join(" or ");
    return "anything";
}

function jsonType(value: unknown): ValueType {
    if (value === null) return "null";
    if (Array.isArray(value)) return "array";
    if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
    return typeof value as ValueType;
}

function article(type: string): string {
    return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
