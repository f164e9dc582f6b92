/**
 * `npm start [-- --port N] [--data DIR] [--stage NAME]`: the whole backend on this machine, no AWS account,
 * no Docker, no Pulumi CLI, no network (local/backend.ts). Prints a table of its endpoints, writes
 * `<data dir>/client-config.json`, then logs each request in one line. Ctrl-C stops it cleanly (state is
 * flushed to the data dir).
 *
 * Exit status: 0 stopped, 1 failed to start, 2 bad usage.
 */
import * as path from "node:path";
import { SERVICE_ORDER, startBackend, type BackendOptions } from "../local/backend";
import { parseFlags, runCommand, UsageError } from "./args";

const USAGE = "usage: npm start -- [--port N] [--data DIR] [--stage NAME] [--no-reload]";

export function parseArguments(argv: string[]): BackendOptions {
    const usage = () => {
        throw new UsageError(USAGE);
    };
    return parseFlags<BackendOptions>(
        argv,
        {},
        {
            "--port": (options, value) => {
                const port = Number(value());
                if (!Number.isInteger(port) || port < 1 || port + SERVICE_ORDER.length - 1 > 65535) {
                    throw new UsageError(`--port must be a port from 1 to ${65536 - SERVICE_ORDER.length}: it is the first of ${SERVICE_ORDER.length} consecutive ports`);
                }
                options.port = port;
            },
            "--data": (options, value) => (options.dataDir = path.resolve(value())),
            "--stage": "stage",
            "--no-reload": (options) => (options.hotReload = false),
            "--help": usage,
            "-h": usage,
        },
        (flag) => `unknown argument ${flag}\n${USAGE}`,
    );
}

/** The startup table: one service per line, its URL aligned. */
export function formatTable(rows: [string, string][]): string {
    const width = Math.max(...rows.map(([name]) => name.length));
    return rows.map(([name, url]) => `  ${name.padEnd(width)}  ${url}`).join("\n");
}

async function main(argv: string[]): Promise<number> {
    let options: BackendOptions;
    try {
        options = parseArguments(argv);
    } catch (err) {
        if (err instanceof UsageError) {
            console.error(err.message);
            return 2;
        }
        throw err;
    }
    // Listen for Ctrl-C (and SIGTERM) before anything starts, so a signal during startup also stops cleanly.
    const stopRequested = new Promise<void>((resolve) => {
        const stop = () => {
            process.off("SIGINT", stop);
            process.off("SIGTERM", stop);
            resolve();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
    });
    const started = Date.now();
    const time = () => new Date().toISOString().slice(11, 23);
    const backend = await startBackend({
        port: 4510,
        ...options,
        log: (line) => console.log(`${time()} ${line}`),
    });
    const reload = options.hotReload === false ? "off" : "on (a change under functions/ or infra/handlers/ starts fresh function workers)";
    console.log(
        [
            "",
            `mobile-backend ${backend.config.stage}, local: ready in ${Date.now() - started} ms`,
            "",
            formatTable(Object.entries(backend.services)),
            "",
            `  state dir      ${backend.dataDir}`,
            `  client config  ${backend.clientConfigPath}`,
            `  hot reload     ${reload}`,
            "",
            "Ctrl-C stops (state is kept in the data dir).",
            "",
        ].join("\n"),
    );
    // The API answers from "ready"; each function's first request waits for its worker until this line.
    backend.warm().then(
        () => console.log(`${time()} functions warm in ${Date.now() - started} ms`),
        (err: unknown) => console.error(`${time()} a function failed to start: ${err instanceof Error ? err.message : String(err)}`),
    );
    await stopRequested;
    console.log("stopping…");
    await backend.stop();
    console.log("stopped; state kept in", backend.dataDir);
    return 0;
}

if (require.main === module) runCommand(main);
