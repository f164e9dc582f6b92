/**
 * The JSON Schema (draft 4) subset that API Gateway models and the functions share. The same schema
 * object is published as an API Gateway model (validated at the edge) and checked again here, so a
 * request that reaches a function another way gets the same answer.
 */
export interface JsonSchema {
    type?: JsonType | JsonType[];
    title?: string;
    description?: string;
    properties?: Record<string, JsonSchema>;
    required?: string[];
    /** `false`: no other fields; a schema: every other field's value must satisfy it. */
    additionalProperties?: boolean | JsonSchema;
    minProperties?: number;
    maxProperties?: number;
    enum?: string[];
    minLength?: number;
    maxLength?: number;
    pattern?: string;
    minimum?: number;
    maximum?: number;
}

type JsonType = "object" | "string" | "null" | "integer";

/**
 * Checks `value` against `schema`; returns the first problem as a sentence naming the field, or
 * `undefined` when it conforms. Lengths count Unicode characters, as JSON Schema does.
 */
export function firstSchemaViolation(schema: JsonSchema, value: unknown, path = ""): string | undefined {
    const name = path === "" ? "the request body" : path;
    if (schema.type !== undefined) {
        const types = Array.isArray(schema.type) ? schema.type : [schema.type];
        const actual = jsonType(value);
        if (!types.includes(actual as JsonType)) {
            return `${name} must be ${types.map(article).join(" or ")}, got ${article(actual)}.`;
        }
    }
    if (schema.enum !== undefined && !schema.enum.includes(value as string)) {
        return `${name} must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}.`;
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

function jsonType(value: unknown): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return "array";
    if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
    return typeof value;
}

function article(type: string): string {
    return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
