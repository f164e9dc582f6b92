/**
 * The documentation's commands and statements (README.md and every page of docs/), checked against the code
 * they describe: every `pulumi config set` command through the program's own config loader (with the CLI's
 * storage rules), every `pulumi stack rm` keeping the stack file, the media URL example computed by the
 * functions' `mediaUrl`; and the pages themselves: every page reachable from the README, every relative link
 * and anchor resolving. The docs' code snippets are compiled in test/docs-snippets.test.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { mediaUrl } from "../functions/media";
import { NOTE_BODY_BYTES } from "../functions/notes-schema";
import { APNS_KEY, FCM_KEY } from "./support/credentials";
import { stackFileConfig } from "./support/mocks";
import { pathSegments, StackConfig } from "./support/pulumi-config";

const ROOT = path.join(__dirname, "..");
/** Every Markdown page: the README and docs/*.md, by path from the project root. */
const PAGES: Record<string, string> = Object.fromEntries(
    ["README.md", ...fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)].map((f) => [
        f,
        fs.readFileSync(path.join(ROOT, f), "utf8"),
    ]),
);
/** All pages as one text, for statements that live on exactly one of them. */
const ALL_DOCS = Object.values(PAGES).join("\n");

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

const configBlocks = Object.values(PAGES)
    .flatMap((page) => shellBlocks(page))
    .filter((block) => block.some((line) => line.includes("pulumi config set")));

test("the docs have config commands to check", () => {
    expect(configBlocks.length).toBeGreaterThanOrEqual(4);
});

test.each(configBlocks.map((block) => [block.filter((l) => l.includes("pulumi config set")).join(" ; "), block]))(
    "docs commands `%s` make a stage the program loads",
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

test("every `pulumi stack rm` in the docs keeps the committed stack file", () => {
    const removals = ALL_DOCS.split("\n").filter((line) => /pulumi stack rm \S/.test(line));
    expect(removals.length).toBeGreaterThan(0);
    for (const line of removals) expect(line).toContain("--preserve-config");
});

test("the docs' media URL example is the URL the functions build", () => {
    const example = /the key `([^`]+)` is served at `([^`]+)`/.exec(ALL_DOCS);
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

test("the docs state the notes body cap the function enforces", () => {
    const stated = /a body larger than any valid note can be \(([\d,]+) bytes\)/.exec(ALL_DOCS)?.[1];
    expect(stated?.replace(/,/g, "")).toBe(String(NOTE_BODY_BYTES));
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
    return heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\- _]/gu, "")
        .replace(/ /g, "-");
}

/** The headings' anchors of a page (outside code blocks). */
function anchors(markdown: string): Set<string> {
    const found = new Set<string>();
    let fenced = false;
    for (const line of markdown.split("\n")) {
        if (/^\s*```/.test(line)) fenced = !fenced;
        const heading = !fenced && /^#{1,6} (.*)$/.exec(line);
        if (heading) found.add(anchorOf(heading[1]));
    }
    return found;
}

/** Relative links of a page (outside code blocks): `[text](target)`, without http(s) and mailto. */
function links(markdown: string): string[] {
    const prose = markdown.replace(/```[\s\S]*?```/g, "");
    return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^(https?:|mailto:)/.test(t));
}

test.each(Object.keys(PAGES))("%s: every relative link and anchor resolves", (page) => {
    for (const link of links(PAGES[page])) {
        const [file, anchor] = link.split("#");
        const target = file === "" ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
        expect([page, link, fs.existsSync(path.join(ROOT, target))]).toEqual([page, link, true]);
        if (anchor !== undefined && target.endsWith(".md")) {
            const text = PAGES[target] ?? fs.readFileSync(path.join(ROOT, target), "utf8");
            expect([page, link, anchors(text).has(anchor)]).toEqual([page, link, true]);
        }
    }
});

test("every page of docs/ is linked from the README, which stays a front door (about 250 lines at most)", () => {
    const linked = new Set(links(PAGES["README.md"]).map((l) => l.split("#")[0]));
    for (const page of Object.keys(PAGES).filter((p) => p !== "README.md")) expect([page, linked.has(page)]).toEqual([page, true]);
    expect(PAGES["README.md"].split("\n").length).toBeLessThanOrEqual(260);
});

test("the README's client setup runs the two generators with arguments they accept", async () => {
    const { parseArguments: clientConfigArguments } = await import("../cli/client-config");
    const { parseArguments: openApiArguments } = await import("../cli/openapi");
    const commands = Object.values(PAGES)
        .flatMap((page) => shellBlocks(page))
        .flat()
        .map((line) => line.replace(/\s+#.*$/, ""))
        .filter((line) => /^npm run (client-config|openapi) -- /.test(line));
    expect(commands.length).toBeGreaterThanOrEqual(2);
    for (const command of commands) {
        const words = (command.match(/"\$\([^)]*\)"|"[^"]*"|\S+/g) ?? []).map((w) => (w.startsWith('"$(') ? "https://abc123.execute-api.us-east-1.amazonaws.com/dev" : w));
        const argv = words.slice(words.indexOf("--") + 1);
        expect(() => (words[2] === "client-config" ? clientConfigArguments(argv) : openApiArguments(argv))).not.toThrow();
    }
});
