import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { FunctionArchive } from "./mocks";

const ROOT = path.resolve(__dirname, "..", "..");

/**
 * A folder that exposes only `@aws-sdk/*` (a link to the project's copy; its own dependencies resolve from
 * the real path), standing in for what the Lambda Node.js runtime provides.
 */
function runtimeModules(): string {
    const dir = path.join(os.tmpdir(), `lambda-runtime-modules-${process.pid}`);
    if (!fs.existsSync(path.join(dir, "@aws-sdk"))) {
        fs.mkdirSync(dir, { recursive: true });
        fs.symlinkSync(path.join(ROOT, "node_modules", "@aws-sdk"), path.join(dir, "@aws-sdk"), "dir");
    }
    return dir;
}

/** A function's shipped code running in a Node process of its own. */
export interface LocalFunction {
    /** Invokes the handler with an event; resolves with what it returned, rejects with what it threw. */
    invoke<T = unknown>(event: unknown): Promise<T>;
    /** Everything the function wrote to stdout and stderr so far. */
    logs(): string;
    stop(): Promise<void>;
}

/**
 * Unpacks the archive into an empty folder outside the project and loads its `__index.js` in a fresh
 * Node process. The process sees only the archive, the AWS SDK (as the Lambda runtime provides it,
 * through a NODE_PATH that holds nothing else) and the given environment: the function's own variables plus `env`.
 */
export async function startFunction(archive: FunctionArchive, env: Record<string, string>): Promise<LocalFunction> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${archive.name}-`));
    for (const [file, text] of Object.entries(archive.files)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
    }
    const child: ChildProcess = spawn(process.execPath, [path.join(__dirname, "lambda-runner.js"), path.join(dir, "__index.js")], {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        env: {
            PATH: process.env.PATH ?? "",
            // Only the AWS SDK, as the runtime provides it: anything else must come from the archive.
            NODE_PATH: runtimeModules(),
            AWS_REGION: "us-east-1",
            AWS_ACCESS_KEY_ID: "local",
            AWS_SECRET_ACCESS_KEY: "local",
            AWS_LAMBDA_FUNCTION_NAME: archive.name,
            ...archive.environment,
            ...env,
        },
    });
    let output = "";
    child.stdout?.on("data", (chunk) => (output += chunk));
    child.stderr?.on("data", (chunk) => (output += chunk));

    const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
    let nextId = 0;
    let exited = false;
    const ready = new Promise<void>((resolve, reject) => {
        child.on("message", (message: { ready?: boolean; id?: number; result?: unknown; error?: string }) => {
            if (message.ready) return resolve();
            const pending = waiting.get(message.id ?? -1);
            if (!pending) return;
            waiting.delete(message.id ?? -1);
            if (message.error !== undefined) pending.reject(new Error(message.error));
            else pending.resolve(message.result);
        });
        child.on("exit", (code) => {
            exited = true;
            const err = new Error(`the function process exited with ${code}:\n${output}`);
            reject(err);
            for (const pending of waiting.values()) pending.reject(err);
            waiting.clear();
        });
    });
    await ready;

    return {
        invoke<T>(event: unknown): Promise<T> {
            if (exited) return Promise.reject(new Error(`the function process has exited:\n${output}`));
            const id = nextId++;
            return new Promise<T>((resolve, reject) => {
                waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
                child.send({ id, event });
            });
        },
        logs: () => output,
        async stop() {
            if (!exited) {
                const gone = new Promise((r) => child.once("exit", r));
                child.kill();
                await gone;
            }
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}
