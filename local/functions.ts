/**
 * The local Lambda runtime of `npm start`: each function runs its deployed factory (infra/handlers/) in a
 * worker thread of its own, with its own environment (the variables the program sets, values pointing at
 * the local services, the SDK's standard endpoint settings, local credentials), as an execution environment
 * would. Synchronous invocations (`RequestResponse`) answer the handler's result or its error; asynchronous
 * ones (`Event`) are retried and then sent to the failure destination as Lambda does ("Asynchronous
 * invocation" and "Adding a destination", Lambda developer guide: up to `maximumRetryAttempts` retries, then
 * an invocation record with `condition: RetriesExhausted` to the on-failure destination).
 *
 * Hot reload: a change under the watched folders starts a fresh worker for every function (a fresh module
 * registry: the changed code is loaded anew, like a new execution environment); invocations already
 * running finish in the old worker.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";

/** An error a function threw (the shape Lambda reports: `errorType`, `errorMessage`, `stackTrace`). */
export interface FunctionErrorPayload {
    errorType: string;
    errorMessage: string;
    stackTrace: string[];
}

/** A function's invocation failed: its handler threw, or it timed out. */
export class FunctionError extends Error {
    constructor(
        readonly functionName: string,
        readonly payload: FunctionErrorPayload,
    ) {
        super(`${functionName}: ${payload.errorType}: ${payload.errorMessage}`);
        this.name = "FunctionError";
        this.message = `${functionName}: ${payload.errorType}: ${payload.errorMessage}`;
    }
}

/** One function to run. */
export interface FunctionSpec {
    /** Its name (what the API's integration URIs and the logs name). */
    name: string;
    /** Absolute path of the module whose export builds the handler (infra/handlers/). */
    module: string;
    /** Name of the factory the module exports. */
    factory: string;
    /** Its environment: the program's variables, endpoints, credentials. */
    environment: Record<string, string>;
    /** Timeout in seconds. */
    timeoutSeconds: number;
    /**
     * Asynchronous invocations: retries (0–2), the maximum event age (60–21600 s; Lambda's default 6 hours) after
     * which a retry is not made, and where a failed event goes. Default: no retries, nowhere.
     */
    async?: { retryAttempts: number; maxEventAgeSeconds?: number; onFailure?: (record: AsyncFailureRecord) => void | Promise<void> };
}

/** What Lambda sends to an on-failure destination after the last attempt of an asynchronous invocation. */
export interface AsyncFailureRecord {
    version: "1.0";
    timestamp: string;
    requestContext: { requestId: string; functionArn: string; condition: "RetriesExhausted" | "EventAgeExceeded"; approximateInvokeCount: number };
    requestPayload: unknown;
    responseContext: { statusCode: number; executedVersion: "$LATEST"; functionError: "Unhandled" };
    responsePayload: FunctionErrorPayload;
}

export interface FunctionRuntimeOptions {
    /** Project root (tsconfig.json). */
    root: string;
    functions: FunctionSpec[];
    /** Folders or files whose change reloads every function. Default: none (no hot reload). */
    watch?: string[];
    /** Waits between attempts of an asynchronous invocation, in ms. Default `[60000, 120000]`: Lambda's "1 minute, then 2 minutes". */
    retryDelaysMs?: number[];
    /** Builds a function's ARN (its `context.invokedFunctionArn`, the failure records' `functionArn`). */
    functionArn?: (name: string) => string;
    log?: (line: string) => void;
    /** Resolve only once every worker is up. Default `true`; `false` resolves at once and the workers start in the background. */
    waitUntilWarm?: boolean;
}

export interface FunctionRuntime {
    /** `RequestResponse`: the handler's result; rejects with {@link FunctionError}. */
    invoke<T = unknown>(name: string, event: unknown): Promise<T>;
    /** `Event`: queued and run after this returns, with the retries and the failure destination. */
    invokeAsync(name: string, event: unknown): void;
    /** Resolves once every asynchronous invocation queued so far has finished (retries included). */
    idle(): Promise<void>;
    /** Resolves once every function's worker is up. */
    warm(): Promise<void>;
    /** Starts a fresh worker for every function (what a change of a watched file does). */
    reload(reason: string): Promise<void>;
    /** Hot reloads so far. */
    readonly reloads: number;
    stop(): Promise<void>;
}

interface RunningWorker {
    worker: Worker;
    pending: Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>;
    exited: boolean;
}

const WORKER_FILE = path.join(__dirname, "function-worker.js");

/** Starts every function (by default, resolves when each has built its handler). */
export async function startFunctions(options: FunctionRuntimeOptions): Promise<FunctionRuntime> {
    const log = options.log ?? (() => undefined);
    const arnOf = options.functionArn ?? ((name: string) => name);
    const specs = new Map(options.functions.map((f) => [f.name, f]));
    const workers = new Map<string, Promise<RunningWorker>>();
    const asyncInFlight = new Set<Promise<void>>();
    const retryDelays = options.retryDelaysMs ?? [60_000, 120_000];
    let nextId = 0;
    let reloads = 0;
    let stopped = false;

    async function spawn(spec: FunctionSpec): Promise<RunningWorker> {
        const worker = new Worker(WORKER_FILE, {
            workerData: { modulePath: spec.module, factory: spec.factory, functionName: spec.name },
            env: { ...spec.environment, LOCAL_FUNCTION_ARN: arnOf(spec.name), AWS_LAMBDA_FUNCTION_NAME: spec.name },
            stdout: true,
            stderr: true,
        });
        const running: RunningWorker = { worker, pending: new Map(), exited: false };
        const prefix = (stream: NodeJS.ReadableStream) => {
            let buffered = "";
            stream.setEncoding("utf8");
            stream.on("data", (chunk: string) => {
                buffered += chunk;
                const lines = buffered.split("\n");
                buffered = lines.pop() ?? "";
                for (const line of lines) log(`[${spec.name}] ${line}`);
            });
        };
        prefix(worker.stdout);
        prefix(worker.stderr);
        await new Promise<void>((resolve, reject) => {
            worker.once("message", (message: { ready: boolean; error?: FunctionErrorPayload }) => {
                if (message.ready) resolve();
                else reject(new FunctionError(spec.name, message.error ?? { errorType: "Error", errorMessage: "init failed", stackTrace: [] }));
            });
            worker.once("error", reject);
        });
        worker.on("message", (message: { id: number; result?: unknown; error?: FunctionErrorPayload }) => {
            const call = running.pending.get(message.id);
            if (!call) return;
            running.pending.delete(message.id);
            clearTimeout(call.timer);
            if (message.error) call.reject(new FunctionError(spec.name, message.error));
            else call.resolve(message.result);
        });
        worker.on("exit", (code) => {
            running.exited = true;
            for (const call of running.pending.values()) {
                clearTimeout(call.timer);
                call.reject(new FunctionError(spec.name, { errorType: "Runtime.ExitError", errorMessage: `the function's worker exited with ${code}`, stackTrace: [] }));
            }
            running.pending.clear();
        });
        return running;
    }

    /** Ends a worker once the invocations it is running are done. */
    async function retire(running: RunningWorker): Promise<void> {
        while (running.pending.size > 0 && !running.exited) await new Promise((r) => setTimeout(r, 10));
        await running.worker.terminate();
    }

    /** Starts a worker for every function; the previous ones retire once every new one is up. */
    async function startAll(): Promise<void> {
        const previous = [...workers.values()];
        const started = [...specs.values()].map((spec) => [spec.name, spawn(spec)] as const);
        // Until they are up, invocations wait for the new workers (a cold start), not for the old ones.
        const ready = Promise.all(started.map(([, w]) => w));
        ready.catch(() => undefined);
        for (const [name, running] of started) {
            running.catch(() => undefined);
            workers.set(name, running);
        }
        try {
            await ready;
        } catch (err) {
            // Keep the previous workers where the new code does not load.
            previous.forEach((w, i) => workers.set(started[i][0], w));
            throw err;
        }
        await Promise.all(
            previous.map(async (w) => {
                const old = await w.catch(() => undefined);
                if (old) await retire(old);
            }),
        );
    }

    function specOf(name: string): FunctionSpec {
        const spec = specs.get(name);
        if (!spec) throw new Error(`No local function ${name}`);
        return spec;
    }

    async function invoke<T>(name: string, event: unknown): Promise<T> {
        const spec = specOf(name);
        const starting = workers.get(name);
        const unavailable = (why: string) => new FunctionError(name, { errorType: "Runtime.Unavailable", errorMessage: why, stackTrace: [] });
        if (!starting || stopped) throw unavailable("the function is not running");
        let running: RunningWorker;
        try {
            running = await starting;
        } catch (err) {
            throw err instanceof FunctionError ? err : unavailable(String(err));
        }
        if (running.exited) throw unavailable("the function's worker has exited");
        const id = nextId++;
        const timeoutMs = spec.timeoutSeconds * 1000;
        return new Promise<T>((resolve, reject) => {
            const timer = setTimeout(() => {
                running.pending.delete(id);
                reject(new FunctionError(name, { errorType: "Sandbox.Timedout", errorMessage: `Task timed out after ${spec.timeoutSeconds.toFixed(2)} seconds`, stackTrace: [] }));
            }, timeoutMs);
            running.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
            running.worker.postMessage({ id, event, deadlineMs: Date.now() + timeoutMs });
        });
    }

    async function runAsync(name: string, event: unknown): Promise<void> {
        const spec = specOf(name);
        const attempts = 1 + (spec.async?.retryAttempts ?? 0);
        const queuedAt = Date.now();
        const maxAgeMs = (spec.async?.maxEventAgeSeconds ?? 21_600) * 1000;
        let last: FunctionErrorPayload | undefined;
        let condition: AsyncFailureRecord["requestContext"]["condition"] = "RetriesExhausted";
        let made = 0;
        const requestId = randomUUID();
        for (let attempt = 1; attempt <= attempts; attempt++) {
            if (attempt > 1) await new Promise((r) => setTimeout(r, retryDelays[Math.min(attempt - 2, retryDelays.length - 1)] ?? 0));
            if (stopped) return;
            // "Configuring error handling settings for Lambda asynchronous invocations": an event older than the
            // maximum age is discarded instead of retried; the on-failure record ("Capturing records of Lambda
            // asynchronous invocations") then says EventAgeExceeded.
            if (attempt > 1 && Date.now() - queuedAt > maxAgeMs) {
                condition = "EventAgeExceeded";
                log(`${name} async ${requestId}: older than ${maxAgeMs / 1000} s, not retried`);
                break;
            }
            made = attempt;
            try {
                await invoke(name, event);
                return;
            } catch (err) {
                last = err instanceof FunctionError ? err.payload : { errorType: "Error", errorMessage: String(err), stackTrace: [] };
                log(`${name} async ${requestId}: attempt ${attempt}/${attempts} failed: ${last.errorType}: ${last.errorMessage}`);
            }
        }
        if (last && spec.async?.onFailure) {
            await spec.async.onFailure({
                version: "1.0",
                timestamp: new Date().toISOString(),
                requestContext: { requestId, functionArn: `${arnOf(name)}:$LATEST`, condition, approximateInvokeCount: made },
                requestPayload: event,
                responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
                responsePayload: last,
            });
        }
    }

    // Every worker starts now; `warm()` waits for them (an invocation that comes first waits for its own, as a cold start).
    const initial = startAll();
    initial.catch((err) => log(`a function failed to start: ${String(err)}`));
    if (options.waitUntilWarm ?? true) await initial;

    const watchers: fs.FSWatcher[] = [];
    let debounce: NodeJS.Timeout | undefined;
    let reloading: Promise<void> = Promise.resolve();
    const runtime: FunctionRuntime = {
        invoke,
        invokeAsync(name, event) {
            specOf(name);
            const run = runAsync(name, event)
                .catch((err) => log(`${name} async: ${String(err)}`))
                .finally(() => asyncInFlight.delete(run));
            asyncInFlight.add(run);
        },
        async idle() {
            while (asyncInFlight.size > 0) await Promise.all([...asyncInFlight]);
        },
        reload(reason) {
            reloading = reloading.then(async () => {
                if (stopped) return;
                const started = Date.now();
                try {
                    await startAll();
                    reloads += 1;
                    log(`reloaded ${specs.size} functions in ${Date.now() - started} ms (${reason})`);
                } catch (err) {
                    log(`reload failed, the previous code keeps running (${reason}): ${String(err)}`);
                }
            });
            return reloading;
        },
        async warm() {
            await initial;
            await reloading;
        },
        get reloads() {
            return reloads;
        },
        async stop() {
            stopped = true;
            clearTimeout(debounce);
            for (const w of watchers) w.close();
            await reloading;
            await Promise.all([...workers.values()].map(async (w) => (await w.catch(() => undefined))?.worker.terminate()));
        },
    };
    for (const target of options.watch ?? []) {
        const recursive = fs.statSync(target).isDirectory();
        watchers.push(
            fs.watch(target, { recursive }, (_event, file) => {
                const changed = recursive && file ? path.join(target, String(file)) : target;
                clearTimeout(debounce);
                debounce = setTimeout(() => void runtime.reload(`changed: ${path.relative(options.root, changed)}`), 100);
            }),
        );
    }
    return runtime;
}
