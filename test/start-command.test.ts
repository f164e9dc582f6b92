/**
 * `npm start` as a user runs it: `cli/start.ts` in a process of its own with `--port` and `--data`, the table it
 * prints, the client config it writes, Ctrl-C (SIGINT) stopping it with status 0 and the state kept; and its
 * usage errors (status 2).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { SERVICE_ORDER, type LocalClientConfig } from "../local/backend";

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, "..");

/** Runs `npm start -- <args>` (the script's command line); resolves with its output once `until` prints, or when it exits. */
function start(args: string[], until?: string) {
    const child = spawn(process.execPath, ["-r", "./local/register-ts.js", "cli/start.ts", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const seen = new Promise<void>((resolve, reject) => {
        const look = (chunk: Buffer) => {
            output += chunk.toString();
            if (until !== undefined && output.includes(until)) resolve();
        };
        child.stdout.on("data", look);
        child.stderr.on("data", look);
        void exited.then((code) => (until === undefined ? resolve() : reject(new Error(`npm start exited (${code}) before "${until}":\n${output}`))));
    });
    return { child, exited, seen, output: () => output };
}

/** The first of SERVICE_ORDER.length consecutive free loopback ports. */
async function freePorts(): Promise<number> {
    const free = (port: number) =>
        new Promise<boolean>((resolve) => {
            const server = net.createServer();
            server.once("error", () => resolve(false));
            server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
        });
    for (let attempt = 0; attempt < 50; attempt++) {
        const base = 20_000 + Math.floor(Math.random() * 40_000);
        const all = await Promise.all(SERVICE_ORDER.map((_, i) => free(base + i)));
        if (all.every(Boolean)) return base;
    }
    throw new Error("no run of free ports");
}

test("--port and --data: the table, client-config.json, then Ctrl-C stops it with status 0 and the state kept", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "start-command-"));
    try {
        const port = await freePorts();
        const run = start(["--port", String(port), "--data", dataDir, "--no-reload"], "functions warm in");
        await run.seen;
        const printed = run.output();
        expect(printed).toMatch(/mobile-backend dev, local: ready in \d+ ms/);
        SERVICE_ORDER.forEach((service, i) => expect(printed).toMatch(new RegExp(`^  ${service}\\s+http://127\\.0\\.0\\.1:${port + i}\\b`, "m")));
        expect(printed).toContain(`state dir      ${dataDir}`);
        const config = JSON.parse(fs.readFileSync(path.join(dataDir, "client-config.json"), "utf8")) as LocalClientConfig;
        expect(config.apiUrl).toBe(`http://127.0.0.1:${port}/dev`);
        expect((await fetch(`${config.apiUrl}/notes`)).status).toBe(403); // the API answers: unsigned is refused
        run.child.kill("SIGINT");
        expect(await run.exited).toBe(0);
        expect(run.output()).toContain(`stopped; state kept in ${dataDir}`);
        // The next run on the same data dir keeps the identifiers the app was configured with.
        const again = start(["--port", String(port), "--data", dataDir, "--no-reload"], "ready in");
        await again.seen;
        const second = JSON.parse(fs.readFileSync(path.join(dataDir, "client-config.json"), "utf8")) as LocalClientConfig;
        expect([second.apiKey, second.userPoolId, second.identityPoolId]).toEqual([config.apiKey, config.userPoolId, config.identityPoolId]);
        again.child.kill("SIGTERM");
        expect(await again.exited).toBe(0);
    } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
    }
});

test.each([
    [["--port", "0"], "--port must be a port from 1"],
    [["--port", "65534"], "--port must be a port from 1"],
    [["--data"], "--data needs a value"],
    [["--verbose"], "unknown argument --verbose"],
])("npm start -- %j exits 2 with a usage message", async (args, message) => {
    const run = start(args);
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain(message);
});
