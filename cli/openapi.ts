/**
 * `npm run openapi -- [--stack <stage>] [--server URL] [--out FILE]`: writes `openapi.json`, the API as a client
 * sees it (OpenAPI 3.0, no AWS extensions), for code generators such as openapi-generator (docs/clients.md).
 *
 * It is built from the same route declarations (infra/routes.ts) and schemas (functions/*-schema.ts,
 * functions/responses.ts) as the deployed document. The routes follow two settings of the stage's stack file
 * (`Pulumi.<stage>.yaml`, default `dev`), read through the program's own config loader: `media` (the upload
 * types and sizes `POST /uploads` accepts) and `search.engine` (`none`: `GET /search` answers 501). `--server`
 * puts the stage's `apiUrl` in as the server; without it the server is a template with variables.
 *
 * Exit status: 0 written, 2 bad usage or configuration.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { parseStageConfig, StageConfigError, type StageConfig } from "../infra/config";
import { clientOpenApiDocument, type OpenApiDocument } from "../infra/openapi";
import { stageRoutes } from "../infra/routes";
import { parseFlags, UsageError } from "./args";

const USAGE = "usage: npm run openapi -- [--stack <stage>] [--server URL] [--out FILE]";
const NAMESPACE = "mobile-backend";

interface Arguments {
    stack: string;
    server?: string;
    out: string;
}

export function parseArguments(argv: string[]): Arguments {
    return parseFlags<Arguments>(argv, { stack: "dev", out: "openapi.json" }, {
        "--stack": "stack",
        "--server": (args, value) => {
            args.server = value();
            if (!/^https?:\/\/[^/]+/.test(args.server)) throw new UsageError("--server must be the API's URL (the apiUrl output)");
        },
        "--out": "out",
    });
}

/** The settings the routes depend on, from a stack file's text, through the program's config loader. */
export function routeSettings(stage: string, stackFileText: string): Pick<StageConfig, "media" | "search"> {
    const file = (parseYaml(stackFileText) ?? {}) as { config?: Record<string, unknown> };
    const raw: Record<string, unknown> = {};
    for (const key of ["media", "search"]) {
        const value = file.config?.[`${NAMESPACE}:${key}`];
        if (value !== undefined) raw[key] = value;
    }
    const config = parseStageConfig(stage, raw);
    return { media: config.media, search: config.search };
}

/** The client document of a stage whose stack file is `stackFileText`. */
export function stageClientDocument(stage: string, stackFileText: string, server?: string): OpenApiDocument {
    return clientOpenApiDocument(`mobile-backend ${stage}`, stageRoutes(routeSettings(stage, stackFileText)), server);
}

/** Runs the command; returns the path written. */
export function run(argv: string[], log: (line: string) => void = console.log): string {
    const args = parseArguments(argv);
    const stackFile = path.join(process.cwd(), `Pulumi.${args.stack}.yaml`);
    let text: string;
    try {
        text = fs.readFileSync(stackFile, "utf8");
    } catch {
        throw new UsageError(`no stack file ${stackFile}`);
    }
    const document = stageClientDocument(args.stack, text, args.server);
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out, `${JSON.stringify(document, null, 2)}\n`);
    log(`wrote ${args.out} (${Object.keys(document.paths as object).length} paths, stage ${args.stack})`);
    return args.out;
}

if (require.main === module) {
    try {
        run(process.argv.slice(2));
    } catch (err) {
        if (err instanceof UsageError || err instanceof StageConfigError) {
            console.error(`${err.message}\n${USAGE}`);
            process.exit(2);
        }
        throw err;
    }
}
