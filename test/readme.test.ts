/**
 * The README's commands and statements, checked against the code they describe: every `pulumi config set`
 * command through the program's own config loader (with the CLI's storage rules), every `pulumi stack rm`
 * keeping the stack file, and the media URL example computed by the functions' `mediaUrl`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { mediaUrl } from "../functions/media";
import { NOTE_BODY_BYTES } from "../functions/notes-schema";
import { APNS_KEY, FCM_KEY } from "./support/credentials";
import { stackFileConfig } from "./support/mocks";
import { pathSegments, StackConfig } from "./support/pulumi-config";

const ROOT = path.join(__dirname, "..");
const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

/** The shell code blocks of a Markdown text (fences may be indented inside lists), as lists of lines. */
function shellBlocks(markdown: string): string[][] {
    const blocks: string[][] = [];
    let fenced: { shell: boolean; lines: string[] } | undefined;
    for (const line of markdown.split("\n")) {
        const fence = /^\s*```(\w*)\s*$/.exec(line);
        if (fence && fenced === undefined) {
            fenced = { shell: fence[1] === "sh" || fence[1] === "bash", lines: [] };
        } else if (fence && fenced !== undefined) {
            if (fenced.shell) blocks.push(fenced.lines);
            fenced = undefined;
        } else {
            fenced?.lines.push(line.trim());
        }
    }
    return blocks;
}

/** Sample contents for the files the README's commands read. */
const FILES: Record<string, string> = { ".p8": APNS_KEY, "service-account.json": FCM_KEY };
const contentsOf = (file: string) => FILES[Object.keys(FILES).find((suffix) => file.endsWith(suffix)) ?? ""] ?? fail(`no sample for ${file}`);
function fail(message: string): never {
    throw new Error(message);
}

/** Applies one `[cat FILE |] pulumi config set …` line to the stacks it names (default: the selected one). */
function apply(line: string, stacks: Map<string, StackConfig>, selected: string): void {
    // A trailing shell comment is not part of the command.
    line = line.replace(/\s+#.*$/, "");
    const piped = /^cat (\S+) \| (.*)$/.exec(line);
    const words = (piped ? piped[2] : line).match(/"\$\(cat [^)]+\)"|"[^"]*"|'[^']*'|\S+/g) ?? [];
    const flags: { path?: boolean; secret?: boolean; type?: "string" } = {};
    let stack = selected;
    const operands: string[] = [];
    for (let i = 3; i < words.length; i++) {
        const word = words[i];
        if (word === "--path") flags.path = true;
        else if (word === "--secret") flags.secret = true;
        else if (word === "--type") flags.type = words[++i] as "string";
        else if (word === "--stack") stack = words[++i];
        else if (word === "--") continue;
        else {
            const file = /^"\$\(cat ([^)]+)\)"$/.exec(word);
            operands.push(file ? contentsOf(file[1]) : word.replace(/^(["'])(.*)\1$/, "$2"));
        }
    }
    if (piped) operands.push(contentsOf(piped[1]));
    expect(operands).toHaveLength(2);
    if (!stacks.has(stack)) {
        stacks.set(stack, new StackConfig(stackFileConfig(stack)));
    }
    stacks.get(stack)?.set(operands[0], operands[1], flags);
    applied.push({ stack, key: operands[0] });
}

/** The settings the commands of the current block set, to find again among what the loader read. */
let applied: { stack: string; key: string }[] = [];

/** The value stored at a full key (`ns:a.b.c`, without list indexes) of a stack's config. */
function storedAt(config: StackConfig, key: string): unknown {
    const [top, ...rest] = pathSegments(key);
    return rest.reduce<unknown>((node, part) => (node as Record<string | number, unknown> | undefined)?.[part], config.values[top]);
}

const configBlocks = shellBlocks(README).filter((block) => block.some((line) => line.includes("pulumi config set")));

test("the README has config commands to check", () => {
    expect(configBlocks.length).toBeGreaterThanOrEqual(4);
});

test.each(configBlocks.map((block) => [block.filter((l) => l.includes("pulumi config set")).join(" ; "), block]))(
    "README commands `%s` make a stage the program loads",
    (_title, block) => {
        const stacks = new Map<string, StackConfig>();
        applied = [];
        let selected = "dev";
        for (const line of block as string[]) {
            const select = /^pulumi stack select (\S+)/.exec(line);
            if (select) selected = select[1];
            if (line.includes("pulumi config set")) apply(line, stacks, selected);
        }
        for (const [stage, config] of stacks) {
            const read = new Map<string, unknown>();
            config.load(stage, read);
            // The loader read each setting a command stored, and found exactly the value the command stored.
            for (const { key } of applied.filter((a) => a.stack === stage)) {
                // A list item (`a.b[0]`) is read with its list.
                const listKey = key.replace(/\[\d+\]$/, "");
                const setting = listKey.slice("mobile-backend:".length);
                expect([setting, read.get(setting)]).toEqual([setting, storedAt(config, listKey)]);
            }
        }
    },
);

test("every `pulumi stack rm` in the README keeps the committed stack file", () => {
    const removals = README.split("\n").filter((line) => /pulumi stack rm \S/.test(line));
    expect(removals.length).toBeGreaterThan(0);
    for (const line of removals) expect(line).toContain("--preserve-config");
});

test("the README's media URL example is the URL the functions build", () => {
    const example = /the key `([^`]+)` is served at `([^`]+)`/.exec(README);
    expect(example).not.toBeNull();
    const [, key, url] = example as RegExpExecArray;
    expect(mediaUrl("https://d1234abcd.cloudfront.net", key)).toBe(url);
});

test.each(["dev", "prod"])("the push commands commented in Pulumi.%s.yaml configure both platforms", (stage) => {
    const file = fs.readFileSync(path.join(ROOT, `Pulumi.${stage}.yaml`), "utf8");
    const commands = file
        .split("\n")
        .map((line) => /^\s*#\s+((?:cat \S+ \| )?pulumi config set .*)$/.exec(line)?.[1])
        .filter((line): line is string => line !== undefined);
    expect(commands).toHaveLength(5);
    const stacks = new Map<string, StackConfig>();
    for (const command of commands) apply(command, stacks, stage);
    expect([...stacks.keys()]).toEqual([stage]);
    const loaded = stacks.get(stage)?.load(stage);
    expect(loaded?.notifications.apns).toMatchObject({ signingKey: APNS_KEY, keyId: "XXXXXXXXXX", teamId: "XXXXXXXXXX" });
    expect(loaded?.notifications.fcm).toEqual({ serviceAccountJson: FCM_KEY });
});

test("the README states the notes body cap the function enforces", () => {
    const stated = /a body larger than any valid note can be \(([\d,]+) bytes\)/.exec(README)?.[1];
    expect(stated?.replace(/,/g, "")).toBe(String(NOTE_BODY_BYTES));
});
