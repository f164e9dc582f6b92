/**
 * A model of how the Pulumi CLI stores `pulumi config set` values and hands them to the program, so that
 * config tests go through the program's own loader with what a user's commands really produce.
 *
 * From the `pulumi config set` reference: "When setting the config for a path, "true" and "false" are treated
 * as boolean values, and integers are treated as numbers. All other values are treated as strings. Top level
 * entries are always treated as strings." An integer with a leading zero stays a string, and so does one that
 * does not fit 64 bits (pulumi/pulumi `adjustObjectValue`, `strconv.Atoi`). `--type string` keeps a path value
 * a string. The program receives every top-level value as text (objects as JSON), and the list of keys holding
 * a `--secret` value anywhere; the stack file marks each secret value `secure:`.
 */
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { loadStageConfig, type StageConfig } from "../../infra/config";
import { PROJECT } from "./mocks";

/** A stack's config as the stack file holds it: top-level keys, values possibly nested. */
export class StackConfig {
    readonly values: Record<string, unknown> = {};
    readonly secretKeys = new Set<string>();
    /** Full keys (`ns:a.b.c`) of the values stored `secure:` in the stack file. */
    readonly securePaths = new Set<string>();

    /** Starts from a stack file's parsed `config:` block. */
    constructor(initial: Record<string, unknown> = {}) {
        this.values = structuredClone(initial);
    }

    /** `pulumi config set [--path] [--secret] [--type string] <key> <value>`. */
    set(key: string, value: string, flags: { path?: boolean; secret?: boolean; type?: "string" } = {}): this {
        if (!flags.path) {
            // Without --path the whole key, dots and all, is one top-level entry, always a string.
            this.values[key] = value;
            if (flags.secret) {
                this.secretKeys.add(key);
                this.securePaths.add(key);
            }
            return this;
        }
        const [top, ...rest] = pathSegments(key);
        const typed: unknown = flags.type === "string" ? value : pathValue(value);
        if (rest.length === 0) {
            this.values[top] = typed;
        } else {
            const existing = this.values[top];
            let node = (existing !== null && typeof existing === "object" ? existing : (this.values[top] = typeof rest[0] === "number" ? [] : {})) as Record<string | number, unknown>;
            rest.slice(0, -1).forEach((part, i) => {
                const next = node[part];
                node = (next !== null && typeof next === "object" ? next : (node[part] = typeof rest[i + 1] === "number" ? [] : {})) as Record<string | number, unknown>;
            });
            node[rest[rest.length - 1]] = typed;
        }
        // A top-level key is reported secret when any value inside it is.
        if (flags.secret) {
            this.secretKeys.add(top);
            this.securePaths.add(key);
        } else {
            this.securePaths.delete(key);
        }
        return this;
    }

    /** `pulumi config rm <key>` (without --path). */
    rm(key: string): this {
        delete this.values[key];
        this.secretKeys.delete(key);
        return this;
    }

    /** What the program receives: every value as text, objects as JSON. */
    programConfig(): Record<string, string> {
        return Object.fromEntries(
            Object.entries(this.values).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
        );
    }

    /** The stack file's `config:` block as YAML, each secret value written `secure: <ciphertext>`. */
    stackFileText(): string {
        const config = structuredClone(this.values);
        for (const key of this.securePaths) {
            if (Object.hasOwn(config, key)) {
                config[key] = { secure: "v1:ciphertext" }; // a top-level (possibly flat) key
                continue;
            }
            const [top, ...rest] = pathSegments(key);
            let node = config[top] as Record<string | number, unknown>;
            for (const part of rest.slice(0, -1)) node = node[part] as Record<string | number, unknown>;
            node[rest[rest.length - 1]] = { secure: "v1:ciphertext" };
        }
        return stringify({ config });
    }

    /** Runs the program's own loader (`loadStageConfig`) on this config, as stack `stage`. */
    load(stage: string, trace?: Map<string, unknown>): StageConfig {
        void pulumi.runtime.setMocks(
            {
                newResource: () => {
                    throw new Error("the config loader registers no resources");
                },
                call: () => {
                    throw new Error("the config loader calls no provider functions");
                },
            },
            PROJECT,
            stage,
            true,
        );
        pulumi.runtime.setAllConfig(this.programConfig(), [...this.secretKeys]);
        return loadStageConfig({ stackFileText: this.stackFileText(), trace });
    }
}

/** How `--path` stores a value: booleans, integers as numbers (not with a leading zero, within int64), else text. */
function pathValue(value: string): unknown {
    if (value === "true") return true;
    if (value === "false") return false;
    const integer = /^-?\d+$/.test(value) && !/^-?0\d/.test(value) && BigInt(value) >= -(2n ** 63n) && BigInt(value) < 2n ** 63n;
    return integer ? Number(value) : value;
}

/**
 * The parts of a `--path` key: `ns:a.b[0]` → `["ns:a", "b", 0]` (the namespace stays with the first name).
 */
export function pathSegments(key: string): [string, ...(string | number)[]] {
    const colon = key.indexOf(":");
    const parts = [...key.slice(colon + 1).matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]));
    const [first, ...rest] = parts;
    return [key.slice(0, colon + 1) + String(first), ...rest];
}
