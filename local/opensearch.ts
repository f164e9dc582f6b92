/**
 * A local, in-memory OpenSearch endpoint speaking the subset of the REST API this program uses, in the
 * wire format of OpenSearch 2.x (checked against the official `@opensearch-project/opensearch` client in
 * test/opensearch-endpoint.test.ts), with Amazon OpenSearch Service's SigV4 check (service `es`).
 *
 *   GET  /                          cluster info
 *   PUT  /{index}                   create with `settings` and `mappings` (400 resource_already_exists_exception)
 *   HEAD /{index}, GET /{index}     exists / definition (404 index_not_found_exception)
 *   DELETE /{index}
 *   POST|PUT /_bulk, /{index}/_bulk NDJSON `index`, `create`, `delete` actions; per-item status and error
 *   GET|POST /{index}/_search       `bool` (must, filter, should, must_not), `simple_query_string`, `term`,
 *                                   `terms`, `match_all`; `size`, `from`, `sort` (`_score` and keyword
 *                                   fields), `search_after`, `track_total_hits`, `_source` (a field list)
 *   GET  /{index}/_doc/{id}
 *
 * Mappings are enforced for what the program relies on: `dynamic: strict` refuses unknown fields
 * (strict_dynamic_mapping_exception), `date` fields must parse (mapper_parsing_exception), keyword and text
 * fields take strings. A body over `maxRequestBytes` (10 MiB, Amazon OpenSearch Service's limit for small
 * instance types) is refused with 413 as the service's load balancer does.
 *
 * Deliberate differences from the real engine: changes are visible to search at once (no refresh
 * interval); text analysis is lowercase runs of letters and digits (no stemming, no stop words); the
 * score is a simple TF-IDF sum (comparable within one answer only); one shard.
 */
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { SigV4Failure, verifySigV4 } from "./sigv4";

/** Amazon OpenSearch Service's payload limit for small and medium instance types: 10 MiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024;

export interface LocalOpenSearchOptions {
    /** Port on 127.0.0.1; default an ephemeral one. */
    port?: number;
    /** Recompute each request's SigV4 signature with this secret (403 on mismatch); only the shape is checked otherwise. */
    verifySignature?: { secretAccessKey: string; region?: string };
    /** Largest request body accepted. Default {@link DEFAULT_MAX_REQUEST_BYTES}. */
    maxRequestBytes?: number;
}

/** One request received. */
export interface RecordedRequest {
    method: string;
    path: string;
    body: string;
    status?: number;
}

export interface LocalOpenSearch {
    /** `http://127.0.0.1:<port>`. */
    endpoint: string;
    /** Every request received, in order (the live array). */
    requests: RecordedRequest[];
    /** The documents of an index: id → source. */
    documents(index: string): Map<string, Record<string, unknown>>;
    /** The index names that exist. */
    indices(): string[];
    /** The next `count` requests to `path` (e.g. "/_bulk") answer `status` as a whole (503 by default). */
    failNextRequests(path: string, count: number, status?: number): void;
    /** The next `count` bulk items answer 429 `es_rejected_execution_exception` without being applied. */
    throttleNextItems(count: number): void;
    stop(): Promise<void>;
}

/** An error answered in OpenSearch's shape: `{"error": {"root_cause", "type", "reason"}, "status"}`. */
class EngineError extends Error {
    constructor(
        readonly status: number,
        readonly type: string,
        reason: string,
        readonly extra: Record<string, unknown> = {},
    ) {
        super(reason);
    }

    body(): Record<string, unknown> {
        const cause = { type: this.type, reason: this.message, ...this.extra };
        return { error: { root_cause: [cause], ...cause }, status: this.status };
    }
}

type FieldMapping = { type: string; index?: boolean };
interface Index {
    name: string;
    uuid: string;
    dynamic: "strict" | true | false;
    properties: Record<string, FieldMapping>;
    settings: Record<string, unknown>;
    docs: Map<string, { source: Record<string, unknown>; version: number; seqNo: number }>;
}

const INDEX_NAME = /^[a-z0-9][a-z0-9_.-]*$/;

export async function start(options: LocalOpenSearchOptions = {}): Promise<LocalOpenSearch> {
    const indices = new Map<string, Index>();
    const requests: RecordedRequest[] = [];
    const failures: Array<{ path: string; status: number }> = [];
    let throttledItems = 0;
    let seqNo = 0;
    const maxBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let refused = false;
        req.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) {
                refused = true;
                return;
            }
            chunks.push(chunk);
        });
        req.on("end", () => {
            const url = new URL(req.url ?? "/", "http://127.0.0.1");
            const raw = Buffer.concat(chunks);
            const recorded: RecordedRequest = { method: req.method ?? "", path: url.pathname, body: refused ? "" : raw.toString("utf8") };
            requests.push(recorded);
            let status = 200;
            let body: unknown;
            try {
                if (refused) throw new EngineError(413, "request_entity_too_large", `Request size exceeded ${maxBytes} bytes`);
                try {
                    verifySigV4(req, url, raw, {
                        service: "es",
                        region: options.verifySignature?.region,
                        secret: options.verifySignature?.secretAccessKey,
                    });
                } catch (err) {
                    if (err instanceof SigV4Failure) throw new EngineError(err.status, err.code, err.message);
                    throw err;
                }
                const failure = failures.findIndex((f) => f.path === url.pathname);
                if (failure >= 0) {
                    const { status: failStatus } = failures.splice(failure, 1)[0];
                    throw new EngineError(failStatus, failStatus === 429 ? "es_rejected_execution_exception" : "injected_failure", "injected failure (failNextRequests)");
                }
                [status, body] = route(req.method ?? "GET", url, recorded.body);
            } catch (err) {
                const error = err instanceof EngineError ? err : new EngineError(500, "exception", err instanceof Error ? err.message : String(err));
                status = error.status;
                body = error.body();
            }
            recorded.status = status;
            res.writeHead(status, { "content-type": "application/json; charset=UTF-8", "x-request-id": randomUUID() });
            res.end(req.method === "HEAD" ? undefined : JSON.stringify(body));
        });
    });

    function route(method: string, url: URL, text: string): [number, unknown] {
        const parts = url.pathname.split("/").filter((p) => p !== "").map(decodeURIComponent);
        if (parts.length === 0) {
            if (method !== "GET" && method !== "HEAD") throw notAllowed(method, url.pathname);
            return [200, { name: "local", cluster_name: "local-opensearch", version: { distribution: "opensearch", number: "2.19.0" }, tagline: "The OpenSearch Project: https://opensearch.org/" }];
        }
        if (parts[parts.length - 1] === "_bulk" && parts.length <= 2) {
            if (method !== "POST" && method !== "PUT") throw notAllowed(method, url.pathname);
            return [200, bulk(text, parts.length === 2 ? parts[0] : undefined)];
        }
        const name = parts[0];
        if (parts.length === 1) {
            if (method === "PUT") return [200, createIndex(name, text)];
            const index = indices.get(name);
            if (method === "HEAD") return [index ? 200 : 404, undefined];
            if (!index) throw indexNotFound(name);
            if (method === "GET") return [200, { [name]: { mappings: { dynamic: String(index.dynamic), properties: index.properties }, settings: index.settings } }];
            if (method === "DELETE") {
                indices.delete(name);
                return [200, { acknowledged: true }];
            }
            throw notAllowed(method, url.pathname);
        }
        if (parts.length === 2 && parts[1] === "_search") {
            if (method !== "GET" && method !== "POST") throw notAllowed(method, url.pathname);
            const index = indices.get(name);
            if (!index) throw indexNotFound(name);
            return [200, search(index, text)];
        }
        if (parts.length === 3 && parts[1] === "_doc" && method === "GET") {
            const index = indices.get(name);
            if (!index) throw indexNotFound(name);
            const doc = index.docs.get(parts[2]);
            const base = { _index: name, _id: parts[2] };
            return doc ? [200, { ...base, _version: doc.version, found: true, _source: doc.source }] : [404, { ...base, found: false }];
        }
        throw new EngineError(400, "illegal_argument_exception", `no handler found for uri [${url.pathname}] and method [${method}]`);
    }

    function createIndex(name: string, text: string): unknown {
        if (!INDEX_NAME.test(name) || name.length > 255) {
            throw new EngineError(400, "invalid_index_name_exception", `Invalid index name [${name}], must be lowercase`, { index: name });
        }
        if (indices.has(name)) {
            throw new EngineError(400, "resource_already_exists_exception", `index [${name}/${indices.get(name)?.uuid}] already exists`, { index: name });
        }
        const definition = text.trim() === "" ? {} : parseJson(text);
        const mappings = (definition.mappings ?? {}) as { dynamic?: unknown; properties?: Record<string, FieldMapping> };
        const properties = mappings.properties ?? {};
        for (const [field, mapping] of Object.entries(properties)) {
            if (!["text", "keyword", "date", "long", "integer", "boolean", "float", "double"].includes(mapping?.type)) {
                throw new EngineError(400, "mapper_parsing_exception", `No handler for type [${String(mapping?.type)}] declared on field [${field}]`);
            }
        }
        const dynamic = mappings.dynamic === "strict" ? "strict" : mappings.dynamic === false || mappings.dynamic === "false" ? false : true;
        indices.set(name, { name, uuid: randomUUID(), dynamic, properties: { ...properties }, settings: (definition.settings ?? {}) as Record<string, unknown>, docs: new Map() });
        return { acknowledged: true, shards_acknowledged: true, index: name };
    }

    function bulk(text: string, defaultIndex: string | undefined): unknown {
        const started = Date.now();
        if (text.length > 0 && !text.endsWith("\n")) {
            throw new EngineError(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]");
        }
        const lines = text.split("\n");
        lines.pop();
        if (lines.length === 0) throw new EngineError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;");
        const items: unknown[] = [];
        let errors = false;
        for (let i = 0; i < lines.length; i++) {
            const action = parseJson(lines[i], `line [${i + 1}]`);
            const keys = Object.keys(action);
            if (keys.length !== 1 || !["index", "create", "delete", "update"].includes(keys[0])) {
                throw new EngineError(400, "illegal_argument_exception", `Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${keys[0]}]`);
            }
            const kind = keys[0];
            const meta = (action[kind] ?? {}) as { _index?: unknown; _id?: unknown };
            const indexName = typeof meta._index === "string" ? meta._index : defaultIndex;
            const id = typeof meta._id === "string" ? meta._id : kind === "delete" ? undefined : randomUUID();
            let source: Record<string, unknown> | undefined;
            if (kind !== "delete") {
                i++;
                if (i >= lines.length) throw new EngineError(400, "illegal_argument_exception", `Validation Failed: source is missing for action on line [${i}]`);
                source = parseJson(lines[i], `line [${i + 1}]`);
            }
            const outcome = applyItem(kind, indexName, id, source);
            if ((outcome.status as number) >= 300 && !(kind === "delete" && outcome.status === 404)) errors = true;
            items.push({ [kind]: outcome });
        }
        return { took: Date.now() - started, errors, items };
    }

    function applyItem(kind: string, indexName: string | undefined, id: string | undefined, source?: Record<string, unknown>): Record<string, unknown> {
        const base = { _index: indexName ?? null, _id: id ?? null };
        const fail = (status: number, type: string, reason: string) => ({ ...base, status, error: { type, reason, index: indexName } });
        if (indexName === undefined) return fail(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;");
        if (id === undefined) return fail(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;");
        if (kind === "update") return fail(400, "illegal_argument_exception", "update actions are not supported by this local endpoint");
        if (throttledItems > 0) {
            throttledItems--;
            return fail(429, "es_rejected_execution_exception", "rejected execution (injected: throttleNextItems)");
        }
        let index = indices.get(indexName);
        if (kind === "delete") {
            const doc = index?.docs.get(id);
            if (!index || !doc) return { ...base, _version: 1, result: "not_found", status: 404, _seq_no: seqNo++, _primary_term: 1 };
            index.docs.delete(id);
            return { ...base, _version: doc.version + 1, result: "deleted", status: 200, _seq_no: seqNo++, _primary_term: 1 };
        }
        if (!index) {
            // Like action.auto_create_index: an index made on first write, with dynamic mapping.
            createIndex(indexName, "");
            index = indices.get(indexName) as Index;
        }
        const problem = validate(index, source ?? {});
        if (problem) return fail(400, problem.type, problem.reason);
        const existing = index.docs.get(id);
        if (kind === "create" && existing) return fail(409, "version_conflict_engine_exception", `[${id}]: version conflict, document already exists`);
        const version = (existing?.version ?? 0) + 1;
        index.docs.set(id, { source: structuredClone(source ?? {}), version, seqNo: seqNo });
        return { ...base, _version: version, result: existing ? "updated" : "created", _shards: { total: 1, successful: 1, failed: 0 }, status: existing ? 200 : 201, _seq_no: seqNo++, _primary_term: 1 };
    }

    function validate(index: Index, source: Record<string, unknown>): { type: string; reason: string } | undefined {
        for (const [field, value] of Object.entries(source)) {
            const mapping = index.properties[field];
            if (!mapping) {
                if (index.dynamic === "strict") {
                    return { type: "strict_dynamic_mapping_exception", reason: `mapping set to strict, dynamic introduction of [${field}] within [_doc] is not allowed` };
                }
                continue;
            }
            if (value === null) continue;
            if ((mapping.type === "keyword" || mapping.type === "text") && typeof value !== "string") {
                return { type: "mapper_parsing_exception", reason: `failed to parse field [${field}] of type [${mapping.type}]` };
            }
            if (mapping.type === "date" && !(typeof value === "string" && /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) && !Number.isNaN(Date.parse(value)))) {
                return { type: "mapper_parsing_exception", reason: `failed to parse field [${field}] of type [date] in document. Preview of field's value: '${String(value).slice(0, 20)}'` };
            }
        }
        return undefined;
    }

    function search(index: Index, text: string): unknown {
        const started = Date.now();
        const request = text.trim() === "" ? {} : parseJson(text);
        const known = ["size", "from", "query", "sort", "search_after", "track_total_hits", "_source"];
        for (const key of Object.keys(request)) {
            if (!known.includes(key)) throw new EngineError(400, "parsing_exception", `Unknown key [${key}] (not supported by this local endpoint)`);
        }
        const size = nonNegative(request.size, 10, "size");
        const from = nonNegative(request.from, 0, "from");
        const docs = [...index.docs.entries()];
        const stats = termStats(docs.map(([, d]) => d.source));
        const matches: Array<{ id: string; source: Record<string, unknown>; score: number }> = [];
        for (const [id, doc] of docs) {
            const result = evaluate(request.query ?? { match_all: {} }, doc.source, stats);
            if (result.matched) matches.push({ id, source: doc.source, score: result.score });
        }
        const sort = sortSpec(request.sort);
        const values = (m: (typeof matches)[number]) => sort.map((s) => (s.field === "_score" ? m.score : (m.source[s.field] ?? null)));
        const compare = (a: unknown[], b: unknown[]) => {
            for (let i = 0; i < sort.length; i++) {
                const c = compareValues(a[i], b[i]) * (sort[i].order === "desc" ? -1 : 1);
                if (c !== 0) return c;
            }
            return 0;
        };
        matches.sort((a, b) => compare(values(a), values(b)));
        let page = matches;
        if (request.search_after !== undefined) {
            const after = request.search_after;
            if (!Array.isArray(after) || after.length !== sort.length) {
                throw new EngineError(400, "illegal_argument_exception", `search_after has ${Array.isArray(after) ? after.length : 0} value(s) but sort has ${sort.length}.`);
            }
            if (from > 0) throw new EngineError(400, "illegal_argument_exception", "[from] parameter must be set to 0 when [search_after] is used");
            page = matches.filter((m) => compare(values(m), after) > 0);
        }
        const selected = page.slice(from, from + size);
        const includes = Array.isArray(request._source) ? (request._source as string[]) : undefined;
        const sorted = request.sort !== undefined;
        return {
            took: Date.now() - started,
            timed_out: false,
            _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
            hits: {
                total: { value: matches.length, relation: "eq" },
                max_score: sorted ? null : (selected[0]?.score ?? null),
                hits: selected.map((m) => ({
                    _index: index.name,
                    _id: m.id,
                    _score: sorted && !sort.some((s) => s.field === "_score") ? null : m.score,
                    _source: includes ? Object.fromEntries(Object.entries(m.source).filter(([k]) => includes.includes(k))) : m.source,
                    ...(sorted ? { sort: values(m) } : {}),
                })),
            },
        };
    }

    /** Evaluates a query clause against a document. */
    function evaluate(query: unknown, source: Record<string, unknown>, stats: TermStats): { matched: boolean; score: number } {
        const clause = query as Record<string, Record<string, unknown>>;
        const keys = Object.keys(clause ?? {});
        if (keys.length !== 1) throw new EngineError(400, "parsing_exception", "a query clause has exactly one type");
        const [type] = keys;
        const body = clause[type] ?? {};
        switch (type) {
            case "match_all":
                return { matched: true, score: 1 };
            case "term": {
                const [[field, spec]] = Object.entries(body);
                const value = spec !== null && typeof spec === "object" ? (spec as { value?: unknown }).value : spec;
                return { matched: source[field] === value, score: 0 };
            }
            case "terms": {
                const [[field, list]] = Object.entries(body);
                return { matched: Array.isArray(list) && list.includes(source[field]), score: 0 };
            }
            case "bool": {
                const list = (name: string) => (body[name] === undefined ? [] : Array.isArray(body[name]) ? (body[name] as unknown[]) : [body[name]]);
                let score = 0;
                for (const q of list("must")) {
                    const r = evaluate(q, source, stats);
                    if (!r.matched) return { matched: false, score: 0 };
                    score += r.score;
                }
                for (const q of list("filter")) if (!evaluate(q, source, stats).matched) return { matched: false, score: 0 };
                for (const q of list("must_not")) if (evaluate(q, source, stats).matched) return { matched: false, score: 0 };
                const should = list("should").map((q) => evaluate(q, source, stats));
                if (should.length > 0 && list("must").length === 0 && list("filter").length === 0 && !should.some((r) => r.matched)) {
                    return { matched: false, score: 0 };
                }
                for (const r of should) if (r.matched) score += r.score;
                return { matched: true, score };
            }
            case "simple_query_string":
                return simpleQueryString(body, source, stats);
            default:
                throw new EngineError(400, "parsing_exception", `unknown query [${type}] (not supported by this local endpoint)`);
        }
    }

    function simpleQueryString(body: Record<string, unknown>, source: Record<string, unknown>, stats: TermStats): { matched: boolean; score: number } {
        if (typeof body.query !== "string") throw new EngineError(400, "parsing_exception", "[simple_query_string] requires a query string");
        const fields = Array.isArray(body.fields) ? (body.fields as string[]) : ["*"];
        const tokens = fields.map((f) => (typeof source[f] === "string" ? analyze(source[f] as string) : []));
        const node = parseSimpleQuery(body.query, body.default_operator === "and" || body.default_operator === "AND" ? "and" : "or", String(body.flags ?? "ALL"));
        return node ? evalNode(node, tokens, stats) : { matched: false, score: 0 };
    }

    return {
        endpoint: await listen(server, options.port ?? 0),
        requests,
        documents: (name) => new Map([...(indices.get(name)?.docs ?? new Map()).entries()].map(([id, d]) => [id, structuredClone(d.source)])),
        indices: () => [...indices.keys()],
        failNextRequests(path, count, status = 503) {
            for (let i = 0; i < count; i++) failures.push({ path, status });
        },
        throttleNextItems(count) {
            throttledItems += count;
        },
        stop: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

// ---------------------------------------------------------------------------------------------------------
// simple_query_string: words, "phrases", word* prefixes, + (and) | (or) - (not), ( ) precedence, \ escapes.
// ---------------------------------------------------------------------------------------------------------

type QueryNode =
    | { kind: "term"; tokens: string[]; prefix: boolean }
    | { kind: "phrase"; tokens: string[] }
    | { kind: "not"; node: QueryNode }
    | { kind: "and" | "or"; nodes: QueryNode[] };

type TermStats = { docs: number; df: Map<string, number> };

function termStats(sources: Record<string, unknown>[]): TermStats {
    const df = new Map<string, number>();
    for (const source of sources) {
        const seen = new Set<string>();
        for (const value of Object.values(source)) if (typeof value === "string") for (const t of analyze(value)) seen.add(t);
        for (const t of seen) df.set(t, (df.get(t) ?? 0) + 1);
    }
    return { docs: sources.length, df };
}

/** Lowercase runs of letters and digits. */
export function analyze(text: string): string[] {
    return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Parses simple_query_string syntax; never fails (as the real query type: invalid syntax is read literally). */
export function parseSimpleQuery(query: string, defaultOperator: "and" | "or", flags: string): QueryNode | undefined {
    const enabled = (flag: string) => flags === "ALL" || flags.split("|").includes(flag);
    type Token = { op?: "+" | "|" | "-" | "(" | ")"; word?: string; phrase?: boolean; prefix?: boolean };
    const tokens: Token[] = [];
    let i = 0;
    while (i < query.length) {
        const c = query[i];
        if (/\s/.test(c)) {
            i++;
        } else if (c === '"' && enabled("PHRASE")) {
            const end = query.indexOf('"', i + 1);
            const text = end < 0 ? query.slice(i + 1) : query.slice(i + 1, end);
            tokens.push({ word: text, phrase: true });
            i = end < 0 ? query.length : end + 1;
        } else if ((c === "+" && enabled("AND")) || (c === "|" && enabled("OR")) || (c === "-" && enabled("NOT")) || ((c === "(" || c === ")") && enabled("PRECEDENCE"))) {
            tokens.push({ op: c as Token["op"] });
            i++;
        } else {
            let word = "";
            while (i < query.length && !/\s/.test(query[i]) && !'"+|()'.includes(query[i])) {
                if (query[i] === "\\" && enabled("ESCAPE") && i + 1 < query.length) i++;
                word += query[i++];
            }
            const prefix = enabled("PREFIX") && word.endsWith("*");
            tokens.push({ word: prefix ? word.slice(0, -1) : word, prefix });
        }
    }
    let pos = 0;
    const parseOr = (): QueryNode | undefined => {
        const nodes: QueryNode[] = [];
        let node = parseAnd();
        if (node) nodes.push(node);
        while (tokens[pos]?.op === "|") {
            pos++;
            node = parseAnd();
            if (node) nodes.push(node);
        }
        return nodes.length <= 1 ? nodes[0] : { kind: "or", nodes };
    };
    const parseAnd = (): QueryNode | undefined => {
        const nodes: QueryNode[] = [];
        let explicitAnd = false;
        while (pos < tokens.length && tokens[pos].op !== "|" && tokens[pos].op !== ")") {
            if (tokens[pos].op === "+") {
                explicitAnd = true;
                pos++;
                continue;
            }
            const node = parseUnary();
            if (node) nodes.push(node);
        }
        if (nodes.length <= 1) return nodes[0];
        return { kind: explicitAnd || defaultOperator === "and" ? "and" : "or", nodes };
    };
    const parseUnary = (): QueryNode | undefined => {
        const token = tokens[pos++];
        if (token.op === "-") {
            const node = pos < tokens.length ? parseUnary() : undefined;
            return node ? { kind: "not", node } : undefined;
        }
        if (token.op === "(") {
            const node = parseOr();
            if (tokens[pos]?.op === ")") pos++;
            return node;
        }
        if (token.op !== undefined) return undefined;
        const words = analyze(token.word ?? "");
        if (words.length === 0) return undefined;
        if (token.phrase || words.length > 1) return { kind: "phrase", tokens: words };
        return { kind: "term", tokens: words, prefix: token.prefix ?? false };
    };
    // What follows an unbalanced ")" is ignored: invalid syntax never fails, as in the real query type.
    return parseOr();
}

function evalNode(node: QueryNode, fields: string[][], stats: TermStats): { matched: boolean; score: number } {
    const idf = (t: string) => Math.log(1 + (stats.docs - (stats.df.get(t) ?? 0) + 0.5) / ((stats.df.get(t) ?? 0) + 0.5));
    switch (node.kind) {
        case "term": {
            const [word] = node.tokens;
            let tf = 0;
            for (const tokens of fields) for (const t of tokens) if (node.prefix ? t.startsWith(word) : t === word) tf++;
            return { matched: tf > 0, score: tf > 0 ? idf(word) * (tf / (tf + 1.2)) : 0 };
        }
        case "phrase": {
            let tf = 0;
            for (const tokens of fields) {
                for (let i = 0; i + node.tokens.length <= tokens.length; i++) {
                    if (node.tokens.every((w, k) => tokens[i + k] === w)) tf++;
                }
            }
            const weight = node.tokens.reduce((sum, w) => sum + idf(w), 0);
            return { matched: tf > 0, score: tf > 0 ? weight * (tf / (tf + 1.2)) : 0 };
        }
        case "not": {
            const inner = evalNode(node.node, fields, stats);
            return { matched: !inner.matched, score: 0 };
        }
        case "and": {
            let score = 0;
            for (const child of node.nodes) {
                const r = evalNode(child, fields, stats);
                if (!r.matched) return { matched: false, score: 0 };
                score += r.score;
            }
            return { matched: true, score };
        }
        case "or": {
            const results = node.nodes.map((child) => evalNode(child, fields, stats));
            // In OR, a negation only excludes: "a | -b" matches docs with a, or without b.
            const matched = results.some((r) => r.matched);
            return { matched, score: results.reduce((sum, r) => sum + (r.matched ? r.score : 0), 0) };
        }
    }
}

// ---------------------------------------------------------------------------------------------------------

function sortSpec(sort: unknown): Array<{ field: string; order: "asc" | "desc" }> {
    if (sort === undefined) return [{ field: "_score", order: "desc" }];
    const list = Array.isArray(sort) ? sort : [sort];
    return list.map((entry) => {
        if (typeof entry === "string") return { field: entry, order: entry === "_score" ? "desc" : "asc" };
        const [[field, spec]] = Object.entries(entry as Record<string, unknown>);
        const order = typeof spec === "string" ? spec : (spec as { order?: string })?.order;
        if (order !== undefined && order !== "asc" && order !== "desc") throw new EngineError(400, "parsing_exception", `unknown sort order [${order}]`);
        return { field, order: (order ?? (field === "_score" ? "desc" : "asc")) as "asc" | "desc" };
    });
}

function compareValues(a: unknown, b: unknown): number {
    if (a === b) return 0;
    if (a === null || a === undefined) return 1; // missing values last
    if (b === null || b === undefined) return -1;
    if (typeof a === "number" && typeof b === "number") return a < b ? -1 : 1;
    // Keywords sort by their UTF-8 bytes.
    return Buffer.compare(Buffer.from(String(a), "utf8"), Buffer.from(String(b), "utf8"));
}

function nonNegative(value: unknown, fallback: number, name: string): number {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw new EngineError(400, "illegal_argument_exception", `[${name}] must be a non-negative integer`);
    return value as number;
}

function parseJson(text: string, where = "request body"): Record<string, any> {
    try {
        const value: unknown = JSON.parse(text);
        if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
        return value as Record<string, any>;
    } catch (err) {
        throw new EngineError(400, "parse_exception", `Failed to parse ${where}: ${(err as Error).message}`);
    }
}

function indexNotFound(name: string): EngineError {
    return new EngineError(404, "index_not_found_exception", `no such index [${name}]`, { index: name, "resource.type": "index_or_alias", "resource.id": name });
}

function notAllowed(method: string, path: string): EngineError {
    return new EngineError(405, "method_not_allowed", `Incorrect HTTP method for uri [${path}] and method [${method}]`);
}

function listen(server: http.Server, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    });
}
