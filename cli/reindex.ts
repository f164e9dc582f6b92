/**
 * `npm run reindex -- --stack <stage>`: rebuilds the stage's search index from its notes table.
 *
 * Reads the stage's stack outputs (`pulumi stack output --json --show-secrets --stack <stage>`, or
 * `--outputs FILE` with that JSON), scans the notes table in parallel segments and uploads every note
 * through the same code as the indexer function, printing progress and counts. Resumable: the place of
 * every segment is kept in a checkpoint file (default `.reindex-<stage>.json`), so a re-run after an
 * interruption (Ctrl-C, a failure) goes on from there; delete it (or pass `--restart`) to start over.
 * Idempotent: documents keep their ids. Uses the AWS credentials of the shell (the default chain).
 *
 * Exit status: 0 done, 1 failed or interrupted (re-run to resume), 2 bad usage or configuration.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { CloudSearchDomainClient } from "@aws-sdk/client-cloudsearch-domain";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { indexStreamRecords } from "../functions/indexer";
import { createOpenSearchIndexer } from "../functions/opensearch";
import { createOpenSearchClient } from "../functions/opensearch-client";
import { reindexTable, type ReindexCheckpoint } from "../functions/reindex";
import type { SearchSummary } from "../infra/search";
import { parseFlags, runCommand, UsageError, wholeNumber } from "./args";

interface Arguments {
    stack?: string;
    outputs?: string;
    segments: number;
    pageSize: number;
    checkpoint?: string;
    restart: boolean;
}

const USAGE = `usage: npm run reindex -- --stack <stage> [--outputs FILE] [--segments N] [--page-size N] [--checkpoint FILE] [--restart]`;

export function parseArguments(argv: string[]): Arguments {
    const args = parseFlags<Arguments>(argv, { segments: 4, pageSize: 100, restart: false }, {
        "--stack": "stack",
        "--outputs": "outputs",
        "--segments": (args, value, flag) => (args.segments = wholeNumber(flag, value(), 64)),
        "--page-size": (args, value, flag) => (args.pageSize = wholeNumber(flag, value(), 1000)),
        "--checkpoint": "checkpoint",
        "--restart": { on: "restart" },
    });
    if (args.stack === undefined && args.outputs === undefined) throw new UsageError("--stack (or --outputs) is required");
    return args;
}

/** The stack outputs the reindex needs. */
export interface StageOutputs {
    region: string;
    notesTable: string;
    mediaBaseUrl: string;
    searchEngine: SearchSummary;
}

/**
 * The stage's stack outputs as JSON: `--outputs FILE`, or else `pulumi stack output --json --show-secrets
 * --stack <stage>` (also used by cli/replay.ts).
 */
export function readStackOutputs(args: { stack?: string; outputs?: string }): Record<string, unknown> {
    let text: string;
    if (args.outputs !== undefined) {
        text = fs.readFileSync(args.outputs, "utf8");
    } else {
        try {
            text = execFileSync("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", args.stack as string], {
                encoding: "utf8",
                stdio: ["ignore", "pipe", "inherit"],
            });
        } catch (err) {
            throw new UsageError(`could not read the outputs of stack ${args.stack} with the Pulumi CLI (${(err as Error).message}); save them with \`pulumi stack output --json --show-secrets\` and pass --outputs FILE`);
        }
    }
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError("the stack outputs are not a JSON object");
    return parsed as Record<string, unknown>;
}

/** The outputs the reindex needs, checked. */
export function readOutputs(args: { stack?: string; outputs?: string }): StageOutputs {
    const outputs = readStackOutputs(args) as Partial<StageOutputs>;
    for (const key of ["region", "notesTable", "mediaBaseUrl", "searchEngine"] as const) {
        if (outputs[key] === undefined) throw new UsageError(`the stack outputs have no ${key}: deploy the current program first`);
    }
    return outputs as StageOutputs;
}

/** The engine's stream handler, with clients for the stage (also used by cli/replay.ts). */
export function engineIndexer(outputs: StageOutputs): (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse> {
    const engine = outputs.searchEngine;
    const log = (message: string, details: Record<string, unknown>) => console.error(JSON.stringify({ message, ...details }));
    if (engine.engine === "opensearch" && engine.endpoint && engine.index) {
        const client = createOpenSearchClient({ endpoint: engine.endpoint, region: outputs.region, credentials: defaultProvider() });
        return createOpenSearchIndexer(client, { mediaBaseUrl: outputs.mediaBaseUrl, index: engine.index, replicas: engine.indexReplicas ?? 0, log });
    }
    if (engine.engine === "cloudsearch" && engine.documentEndpoint) {
        const client = new CloudSearchDomainClient({ endpoint: `https://${engine.documentEndpoint}`, region: outputs.region });
        return (event) => indexStreamRecords(event, client, { mediaBaseUrl: outputs.mediaBaseUrl, log });
    }
    if (engine.engine === "none") throw new UsageError("search.engine is none on this stage: there is no index to rebuild");
    throw new UsageError(`the searchEngine output does not say where the ${engine.engine} index is: deploy the current program first`);
}

function fileCheckpoint(file: string): { load(): ReindexCheckpoint | undefined; save(c: ReindexCheckpoint): void } {
    return {
        load: () => (fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as ReindexCheckpoint) : undefined),
        save: (checkpoint) => {
            // Written whole, then renamed: an interruption never leaves half a checkpoint.
            fs.writeFileSync(`${file}.tmp`, JSON.stringify(checkpoint, null, 2));
            fs.renameSync(`${file}.tmp`, file);
        },
    };
}

export async function main(argv: string[]): Promise<number> {
    let args: Arguments;
    let outputs: StageOutputs;
    let index: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
    try {
        args = parseArguments(argv);
        outputs = readOutputs(args);
        index = engineIndexer(outputs);
    } catch (err) {
        if (err instanceof UsageError) {
            console.error(`reindex: ${err.message}\n${USAGE}`);
            return 2;
        }
        throw err;
    }
    const checkpointFile = args.checkpoint ?? `.reindex-${args.stack ?? "stage"}.json`;
    if (args.restart && fs.existsSync(checkpointFile)) fs.rmSync(checkpointFile);
    const engine = outputs.searchEngine;
    console.log(`reindex: table ${outputs.notesTable} -> ${engine.engine} ${engine.index ?? engine.domainName ?? ""} (${args.segments} segments, pages of ${args.pageSize}; checkpoint ${checkpointFile})`);

    const abort = new AbortController();
    const onSignal = () => {
        console.log("reindex: interrupted; finishing the pages in flight (run again to resume)");
        abort.abort();
    };
    process.once("SIGINT", onSignal);
    const started = Date.now();
    try {
        const result = await reindexTable({
            dynamo: new DynamoDBClient({ region: outputs.region }),
            tableName: outputs.notesTable,
            totalSegments: args.segments,
            pageSize: args.pageSize,
            index,
            checkpoint: fileCheckpoint(checkpointFile),
            signal: abort.signal,
            progress: (p) => console.log(`reindex: segment ${p.segment + 1}/${p.totalSegments}: ${p.scanned} notes; ${p.totalScanned} in all`),
        });
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        console.log(
            `reindex: ${result.complete ? "done" : "stopped"}${result.resumed ? " (resumed)" : ""}: ${result.scanned} notes uploaded in this run, ` +
                `${result.totalScanned} in all, ${result.failedNotes.length} refused, in ${seconds} s`,
        );
        for (const note of result.failedNotes) console.log(`reindex: refused by the engine (see the log above): ${note}`);
        if (result.complete && result.failedNotes.length === 0) {
            fs.rmSync(checkpointFile, { force: true });
            return 0;
        }
        console.log(
            result.complete
                ? `reindex: every note was read, but ${result.failedNotes.length} were refused; fix them and run again with --restart`
                : `reindex: not finished; run the same command again to resume from ${checkpointFile}`,
        );
        return 1;
    } catch (err) {
        console.error(`reindex: failed: ${(err as Error).message}\nrun the same command again to resume from ${checkpointFile}`);
        return 1;
    } finally {
        process.off("SIGINT", onSignal);
    }
}

if (require.main === module) runCommand(main);
