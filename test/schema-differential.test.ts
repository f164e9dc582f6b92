/**
 * functions/schema.ts and a real JSON Schema draft 4 validator (ajv-draft-04, the draft API Gateway
 * models use) must agree on every body: the same schema objects are published as models and checked by
 * the functions. Bodies are generated from each schema (valid ones, then one mutation each: boundary
 * lengths in code points, hostile strings, wrong types, missing and unknown fields, prototype names)
 * and parsed from JSON text as a request body would be.
 */
import Ajv from "ajv-draft-04";
import { createNoteSchema, noteIdSchema, updateNoteSchema } from "../functions/notes-schema";
import { deviceIdSchema, registerDeviceSchema, sendNotificationSchema } from "../functions/notification-schema";
import { firstSchemaViolation, type JsonSchema } from "../functions/schema";
import { hostileJson, hostileString, random } from "./support/adversarial";

const SCHEMAS: Record<string, JsonSchema> = {
    createNote: createNoteSchema,
    updateNote: updateNoteSchema,
    registerDevice: registerDeviceSchema,
    sendNotification: sendNotificationSchema,
    noteId: noteIdSchema,
    deviceId: deviceIdSchema,
};

const IDENTITY = "eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

/** Strings that sit on the edges of lengths (in code points) and patterns. */
function edgeStrings(schema: JsonSchema, next: () => number): string[] {
    const out = ["", " ", "\u00a0", "\u2028", "\ufeff", "\u200b", "\t\n", "a", "a\n", "\na", "A-z_9", "é", "😀", "e\u0301"];
    for (const n of [schema.minLength, schema.maxLength].filter((n): n is number => n !== undefined)) {
        for (const length of [n - 1, n, n + 1].filter((l) => l >= 0)) {
            out.push("a".repeat(length), "😀".repeat(length), "é".repeat(length), `${"😀".repeat(Math.max(0, length - 1))}a`);
        }
    }
    if (schema.pattern === notificationPattern()) out.push(IDENTITY, `${IDENTITY}\n`, IDENTITY.toUpperCase(), ` ${IDENTITY}`);
    if (schema.enum) out.push(...schema.enum.filter((v): v is string => typeof v === "string").flatMap((v) => [v, v.toUpperCase(), `${v} `]));
    out.push(hostileString(next), hostileString(next, 2));
    return out;
}

function notificationPattern(): string | undefined {
    return sendNotificationSchema.properties?.recipientId.pattern;
}

/** A value valid against `schema` (picked at random among a few). */
function validValue(schema: JsonSchema, next: () => number): unknown {
    if (schema.anyOf) return next() < 0.3 ? null : validValue(schema.anyOf[0], next);
    if (schema.enum) return schema.enum[Math.floor(next() * schema.enum.length)];
    if (schema.type === "object") {
        const value: Record<string, unknown> = {};
        for (const [key, child] of Object.entries(schema.properties ?? {})) {
            if (schema.required?.includes(key) || next() < 0.5) value[key] = validValue(child, next);
        }
        if (Object.keys(value).length < (schema.minProperties ?? 0)) {
            const [key, child] = Object.entries(schema.properties ?? {})[0];
            value[key] = validValue(child, next);
        }
        if (typeof schema.additionalProperties === "object") {
            for (let i = Math.floor(next() * 3); i > 0; i--) value[hostileString(next, 2)] = validValue(schema.additionalProperties, next);
        }
        return value;
    }
    if (schema.pattern === notificationPattern()) return IDENTITY;
    if (schema.pattern === "^[A-Za-z0-9:_.-]+$") return "tok:en_1.2-3";
    if (schema.pattern === "^[A-Za-z0-9_-]+$" || schema.pattern === "^[A-Za-z0-9-]+$") return "note-1";
    const text = `ok ${"😀é".slice(0, Math.floor(next() * 3))}`;
    return schema.maxLength !== undefined ? [...text].slice(0, schema.maxLength).join("") : text;
}

/** `value` with one field changed, removed or added (as JSON text, so `__proto__` is an own field). */
function mutate(schema: JsonSchema, value: unknown, next: () => number): unknown[] {
    const out: unknown[] = [];
    if (value === null || typeof value !== "object" || Array.isArray(value)) return out;
    const record = value as Record<string, unknown>;
    const properties = schema.properties ?? {};
    const wrongTypes = [null, 0, 1.5, true, [], {}, ["a"], { a: "b" }, hostileJson(next)];
    for (const [key, child] of Object.entries(properties)) {
        for (const replacement of [...edgeStrings(child.anyOf ? child.anyOf[0] : child, next), ...wrongTypes]) {
            out.push({ ...record, [key]: replacement });
        }
        const { [key]: _removed, ...rest } = record;
        out.push(rest);
    }
    if (typeof schema.additionalProperties === "object") {
        const extra = schema.additionalProperties;
        for (const replacement of [...edgeStrings(extra, next), ...wrongTypes]) out.push({ ...record, [hostileString(next, 2)]: replacement });
        const many: Record<string, unknown> = {};
        for (let i = 0; i < (schema.maxProperties ?? 3) + 1 - Math.floor(next() * 2); i++) many[`k${i}`] = "v";
        out.push(many);
    }
    for (const key of ["__proto__", "constructor", "toString", "hasOwnProperty", hostileString(next, 2)]) {
        const text = JSON.stringify(record);
        out.push(JSON.parse(`{${JSON.stringify(key)}:${JSON.stringify(hostileJson(next, 1)) ?? "null"}${text === "{}" ? "}" : `,${text.slice(1)}`}`));
    }
    out.push({});
    return out;
}

const ajv = new Ajv({ strict: true, allErrors: false });

describe.each(Object.entries(SCHEMAS))("%s: functions/schema.ts agrees with ajv-draft-04", (_, schema) => {
    const validate = ajv.compile(schema);

    test("on generated bodies, valid and invalid, and on non-objects", () => {
        const next = random(42);
        const bodies: unknown[] = [null, 0, "x", [], [{}], true, ...edgeStrings(schema, next)];
        for (let round = 0; round < 25; round++) {
            const valid = validValue(schema, next);
            bodies.push(valid, ...mutate(schema, valid, next));
            if (schema.type !== "object") bodies.push(...edgeStrings(schema, next));
        }
        let validCount = 0;
        const disagreements: string[] = [];
        for (const raw of bodies) {
            const body: unknown = JSON.parse(JSON.stringify(raw) ?? "null");
            const ours = firstSchemaViolation(schema, body);
            const theirs = validate(body);
            if (theirs) validCount++;
            if (theirs !== (ours === undefined)) {
                disagreements.push(`${JSON.stringify(body).slice(0, 200)}: ajv ${theirs ? "accepts" : "refuses"}, ours says ${ours ?? "valid"}`);
            }
        }
        expect(disagreements.slice(0, 5)).toEqual([]);
        // The generator exercises both sides.
        expect(validCount).toBeGreaterThan(10);
        expect(bodies.length - validCount).toBeGreaterThan(50);
    });
});

test("mediaKey null detaches and stays valid; a number is refused by both, with the function's message", () => {
    const validate = ajv.compile(updateNoteSchema);
    expect(validate({ mediaKey: null })).toBe(true);
    expect(firstSchemaViolation(updateNoteSchema, { mediaKey: null })).toBeUndefined();
    expect(validate({ mediaKey: 5 })).toBe(false);
    expect(firstSchemaViolation(updateNoteSchema, { mediaKey: 5 })).toBe("mediaKey must be a string or a null, got an integer.");
    expect(firstSchemaViolation(updateNoteSchema, { mediaKey: "" })).toBe("mediaKey must not be empty.");
});
