/**
 * `npm run bench`: for each function of the program, the bytes of its deployment archive and the cold
 * load time of its `__index.js` in a fresh Node process (median of RUNS), next to a bare `node -e 0`, and
 * its size limit (96 KiB for the two OpenSearch functions, which bundle a SigV4 signer; 64 KiB for the
 * others); then each search engine's throughput turning stream records into upload requests; then the local
 * backend (`npm start`): the time from starting it to ready, and the latency of 1,000 sequential signed
 * `POST /notes` through the local API.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import type { DynamoDBRecord } from "aws-lambda";
import { DEFAULT_MAX_BATCH_BYTES, packBatches, toOperations } from "../functions/indexer";
import { OPENSEARCH_MAX_BULK_BYTES, OPENSEARCH_MAX_DOCUMENT_BYTES, packBulk } from "../functions/opensearch";
import { startBackend } from "../local/backend";
import { functionArchives, installMocks, settle, stackConfig, valueOf } from "../test/support/mocks";
import { callApi } from "../test/support/signed-api";

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
    // `BENCH_ONLY=local npm run bench`: only the local backend's figures.
    if (process.env.BENCH_ONLY === "local") {
        await localStartup();
        await localLatency();
        return;
    }
    const recorder = installMocks("dev", stackConfig("dev"));
    const program: Record<string, unknown> = require("../index");
    for (const value of Object.values(program)) await valueOf(value);
    await settle(recorder);
    const archives = await functionArchives(recorder);

    // The runtime provides the AWS SDK; NODE_PATH stands in for it here.
    const env = { PATH: process.env.PATH, NODE_PATH: path.join(ROOT, "node_modules"), AWS_REGION: "us-east-1" };
    const baseline = medianMs(["-e", "0"], env);
    console.log(`node ${process.version}, ${os.cpus().length} cores, median of ${RUNS} runs`);
    console.log(
        `${"function".padEnd(24)} ${"files".padStart(5)} ${"archive bytes".padStart(14)} ${"limit".padStart(7)} ${"gzip bytes".padStart(11)} ${"cold load ms".padStart(13)} ${"node -e 0 ms".padStart(13)}`,
    );
    let overLimit = false;
    for (const archive of Object.values(archives)) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${archive.name}-`));
        for (const [file, text] of Object.entries(archive.files)) {
            fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
            fs.writeFileSync(path.join(dir, file), text);
        }
        const bundles = Object.keys(archive.files).some((file) => file.startsWith("node_modules/"));
        const limit = (bundles ? 96 : 64) * 1024;
        overLimit ||= archive.bytes > limit;
        const index = path.join(dir, "__index.js");
        // Loading runs the callback factory too, as a Lambda cold start does.
        const load = medianMs(["-e", `require(${JSON.stringify(index)})`], { ...env, ...archive.environment });
        const gzip = Object.values(archive.files).reduce((sum, text) => sum + gzipSync(text).length, 0);
        console.log(
            `${archive.name.padEnd(24)} ${String(Object.keys(archive.files).length).padStart(5)} ${String(archive.bytes).padStart(14)} ${`${limit / 1024}K`.padStart(7)} ${String(gzip).padStart(11)} ${load.toFixed(1).padStart(13)} ${baseline.toFixed(1).padStart(13)}`,
        );
        fs.rmSync(dir, { recursive: true, force: true });
    }
    if (overLimit) throw new Error("an archive is over its size limit");
    indexerThroughput();
    openSearchThroughput();
    // The local backend in a process of its own (BENCH_ONLY=local), as `npm start` runs: not in this one, whose
    // heap holds the program loaded under mocks.
    const local = spawnSync(process.execPath, ["-r", "./local/register-ts.js", "bench/bench.ts"], {
        cwd: ROOT,
        env: { ...process.env, BENCH_ONLY: "local" },
        stdio: "inherit",
    });
    if (local.status !== 0) throw new Error(`the local backend's bench exited with ${local.status}`);
}

/** `npm start` from the command to ready: the API answers and every function is warm ("functions warm in"), in a fresh process each run. */
async function localStartup(): Promise<void> {
    const runs = Math.min(RUNS, 5);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-start-"));
        const started = process.hrtime.bigint();
        const child = spawn(process.execPath, ["-r", "./local/register-ts.js", "cli/start.ts", "--port", String(46000 + i * 10), "--data", dataDir, "--no-reload"], {
            cwd: ROOT,
            stdio: ["ignore", "pipe", "pipe"],
        });
        await new Promise<void>((resolve, reject) => {
            let output = "";
            child.stdout.on("data", (chunk: Buffer) => {
                output += chunk.toString();
                // Ready for an app: the API answers and every function has loaded (no cold start left).
                if (output.includes("functions warm in")) resolve();
            });
            child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
            child.once("exit", (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
        });
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGINT");
        await exited;
        fs.rmSync(dataDir, { recursive: true, force: true });
    }
    times.sort((a, b) => a - b);
    console.log(`npm start → ready (API answering, every function warm): median ${times[Math.floor(times.length / 2)].toFixed(0)} ms of ${runs} runs (goal < 5000 ms; ${times.map((t) => t.toFixed(0)).join(", ")})`);
}

/** 1,000 sequential signed POST /notes through the local API (throttle lifted; 50 notes per identity, under writesPerMinute). */
async function localLatency(): Promise<void> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-local-"));
    const backend = await startBackend({ dataDir, hotReload: false, usagePlan: { rateLimit: 100_000, burstLimit: 100_000 } });
    try {
        await backend.warm();
        const config = backend.clientConfig;
        const latencies: number[] = [];
        let credentials = backend.issueCredentials("us-east-1:00000000-0000-4000-8000-000000000000");
        for (let i = 0; i < 1000 + 20; i++) {
            if (i % 50 === 0) credentials = backend.issueCredentials(`us-east-1:00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
            const started = process.hrtime.bigint();
            const answer = await callApi(config, credentials, "POST", "/notes", { headline: `Note ${i}`, text: WORDS.join(" ") });
            const ms = Number(process.hrtime.bigint() - started) / 1e6;
            if (answer.status !== 201) throw new Error(`POST /notes answered ${answer.status}: ${answer.text}`);
            // The first 20 warm the connections and the functions' clients.
            if (i >= 20) latencies.push(ms);
        }
        latencies.sort((a, b) => a - b);
        const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
        console.log(`local API, 1,000 sequential signed POST /notes: median ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms (goal: median < 10 ms)`);
    } finally {
        await backend.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
    }
}

const WORDS = "beach towel grocery milk eggs meeting notes travel photo summer kite festival idea plan list".split(" ");

/** A stream record of a realistic note: a short headline, about 1.5 KB of text, and a photo. */
function noteRecord(i: number): DynamoDBRecord {
    const words = (n: number) => Array.from({ length: n }, (_, k) => WORDS[(i * 7 + k * 13) % WORDS.length]).join(" ");
    const ownerId = `us-east-1:${String(i % 500).padStart(8, "0")}-1111-4111-8111-111111111111`;
    const noteId = `note-${i}`;
    const createdAt = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
    return {
        eventName: "INSERT",
        eventSource: "aws:dynamodb",
        dynamodb: {
            Keys: { ownerId: { S: ownerId }, noteId: { S: noteId } },
            NewImage: {
                ownerId: { S: ownerId },
                noteId: { S: noteId },
                headline: { S: words(8) },
                text: { S: words(230) },
                mediaKey: { S: `uploads/${ownerId}/photo-${i}.jpg` },
                createdAt: { S: createdAt },
                updatedAt: { S: createdAt },
            },
            SequenceNumber: String(1e20 + i),
            StreamViewType: "NEW_AND_OLD_IMAGES",
        },
    };
}

/** Records per second of `toOperations` + `packBatches`, and upload calls next to the fewest possible. */
function indexerThroughput(): void {
    const records = Array.from({ length: 10_000 }, (_, i) => noteRecord(i));
    const settings = { mediaBaseUrl: "https://d1234abcd.cloudfront.net" };
    const times: number[] = [];
    let batches: { bytes: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
        const start = process.hrtime.bigint();
        batches = packBatches(toOperations(records, settings));
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    const total = batches.reduce((sum, b) => sum + b.bytes, 0);
    const recordBytes = records.reduce((sum, r) => sum + Buffer.byteLength(JSON.stringify(r)), 0);
    console.log(
        `\nindexer: ${records.length} stream records (${(recordBytes / records.length / 1024).toFixed(1)} KiB each) -> ` +
            `${batches.length} upload calls of ${(total / 1024 / 1024).toFixed(2)} MiB in all; ` +
            `minimum possible ceil(total / 5 MiB) = ${Math.ceil(total / DEFAULT_MAX_BATCH_BYTES)}; ` +
            `${Math.round(records.length / (median / 1000)).toLocaleString("en-US")} records/s (median ${median.toFixed(1)} ms of ${RUNS} runs)`,
    );
}

/** The same records as `_bulk` bodies: records per second and requests next to the fewest possible. */
function openSearchThroughput(): void {
    const records = Array.from({ length: 10_000 }, (_, i) => noteRecord(i));
    const settings = { mediaBaseUrl: "https://d1234abcd.cloudfront.net", maxBatchBytes: OPENSEARCH_MAX_BULK_BYTES - 512, maxDocumentBytes: OPENSEARCH_MAX_DOCUMENT_BYTES };
    const times: number[] = [];
    let requests: { bytes: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
        const start = process.hrtime.bigint();
        requests = packBulk(toOperations(records, settings), "notes");
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    const total = requests.reduce((sum, r) => sum + r.bytes, 0);
    console.log(
        `opensearch indexer: ${records.length} stream records -> ${requests.length} _bulk requests of ${(total / 1024 / 1024).toFixed(2)} MiB in all; ` +
            `minimum possible ceil(total / ${(OPENSEARCH_MAX_BULK_BYTES / 1024 / 1024).toFixed(2)} MiB) = ${Math.ceil(total / OPENSEARCH_MAX_BULK_BYTES)}; ` +
            `${Math.round(records.length / (median / 1000)).toLocaleString("en-US")} records/s (median ${median.toFixed(1)} ms of ${RUNS} runs)`,
    );
}

main().then(
    () => process.exit(0),
    (err) => {
        console.error(err);
        process.exit(1);
    },
);
