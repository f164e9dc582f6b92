/**
 * `npm run bench`: for each function of the program, the bytes of its deployment archive and the cold
 * load time of its `__index.js` in a fresh Node process (median of RUNS), next to a bare `node -e 0`.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { functionArchives, installMocks, settle, stackConfig, valueOf } from "../test/support/mocks";

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const ROOT = path.resolve(__dirname, "..");

/** Median wall time, in ms, of running `node <args>` RUNS times. */
function medianMs(args: string[], env: NodeJS.ProcessEnv): number {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
        const start = process.hrtime.bigint();
        const run = spawnSync(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
        const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
        if (run.status !== 0) throw new Error(`node ${args.join(" ")} failed: ${run.stderr}`);
        times.push(elapsed);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
}

async function main(): Promise<void> {
    const recorder = installMocks("dev", stackConfig("dev"));
    const program: Record<string, unknown> = require("../index");
    for (const value of Object.values(program)) await valueOf(value);
    await settle(recorder);
    const archives = await functionArchives(recorder);

    // The runtime provides the AWS SDK; NODE_PATH stands in for it here.
    const env = { PATH: process.env.PATH, NODE_PATH: path.join(ROOT, "node_modules"), AWS_REGION: "us-east-1" };
    const baseline = medianMs(["-e", "0"], env);
    console.log(`node ${process.version}, ${os.cpus().length} cores, median of ${RUNS} runs`);
    console.log(`${"function".padEnd(24)} ${"archive bytes".padStart(14)} ${"gzip bytes".padStart(11)} ${"cold load ms".padStart(13)} ${"node -e 0 ms".padStart(13)}`);
    for (const archive of Object.values(archives)) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${archive.name}-`));
        for (const [file, text] of Object.entries(archive.files)) fs.writeFileSync(path.join(dir, file), text);
        const index = path.join(dir, "__index.js");
        // Loading runs the callback factory too, as a Lambda cold start does.
        const load = medianMs(["-e", `require(${JSON.stringify(index)})`], { ...env, ...archive.environment });
        const gzip = Object.values(archive.files).reduce((sum, text) => sum + gzipSync(text).length, 0);
        console.log(
            `${archive.name.padEnd(24)} ${String(archive.bytes).padStart(14)} ${String(gzip).padStart(11)} ${load.toFixed(1).padStart(13)} ${baseline.toFixed(1).padStart(13)}`,
        );
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

main().then(
    () => process.exit(0),
    (err) => {
        console.error(err);
        process.exit(1);
    },
);
