/**
 * A local, in-memory stand-in for an Amazon CloudSearch (2013-01-01) *domain* endpoint: the document
 * service (`POST /2013-01-01/documents/batch`) and the search service (`GET /2013-01-01/search`), in the
 * wire format `@aws-sdk/client-cloudsearch-domain` speaks (its `format=sdk` flavour, restJson1 protocol).
 *
 * Wire format, as read from the SDK (3.952, schema-based serde in dist-cjs/index.js + @aws-sdk/core's
 * AwsRestJsonProtocol) and checked against what the client really sends:
 *
 * UploadDocuments  POST /2013-01-01/documents/batch?format=sdk
 *   - body: the raw batch (the `documents` blob, as given); `Content-Type` header: the `contentType`
 *     input ("application/json" | "application/xml"); SigV4 headers (below).
 *   - 200 → `{"status":"success","adds":N,"deletes":N,"warnings":[{"message":...}]?}`.
 *   - errors → `DocumentServiceException {status, message}`.
 * Search           GET /2013-01-01/search?format=sdk&pretty=true&<params>
 *   - params (query string, keys sorted, RFC 3986-encoded, space as %20): `q`, `q.parser`, `q.options`,
 *     `fq`, `size`, `start`, `cursor`, `return`, `sort`, `partial`, `expr`, `facet`, `highlight`, `stats`.
 *   - 200 → `{"status":{"rid","timems"},"hits":{"found","start","cursor"?,"hit":[{"id","fields":{name:[string]},
 *     "exprs"?:{name:string},"highlights"?:{name:string}}]}}` (`facets`/`stats` omitted: unsupported here).
 *     `format=sdk` is why every field value is an array of strings (single-valued fields included), and
 *     why the status key is `timems` (the plain JSON format says `time-ms`).
 *   - `_score` (requested with `return=..., _score`) comes back among the *fields*, like any returned
 *     field: `fields._score = ["1.5"]` (what the real service does; `exprs` is for `expr.NAME` values).
 *   - errors → `SearchException {message}`.
 * Errors: the SDK names the error after the `x-amzn-ErrorType` header, else the body's `code`, else the
 *   body's `__type` (text after `#`, before `:`), and builds the modelled exception if the name is known
 *   (`SearchException`, `DocumentServiceException`, fault "client", with `status`/`message` read from the
 *   body); any other name becomes a `CloudSearchDomainServiceException` with that name. This server sends
 *   both the header and `__type` ("#SearchException"), plus the real service's body keys (`message`, and
 *   for batches `status: "error"` and `errors: [{message}]`). The SDK retries 5xx responses (3 attempts by
 *   default), not 4xx.
 * Signing: SigV4, service name `cloudsearch` (`Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/
 *   <region>/cloudsearch/aws4_request, SignedHeaders=..., Signature=...`, plus `x-amz-date` and
 *   `x-amz-content-sha256` = hex SHA-256 of the body). Every request is checked structurally (and the
 *   payload hash against the body); with `verifySignature` the signature itself is recomputed.
 *
 * Index schema: `SEARCH_INDEX_FIELDS` (functions/search-index.ts) unless `fields` is given. As in
 * CloudSearch, text fields are always searchable, other fields only with `search: true`; only
 * `return: true` fields can be returned and only `sort: true` fields sorted on.
 *
 * Deliberate differences from the real service (a local stand-in):
 *   - Uploads are visible to search at once (the real service is eventually consistent).
 *   - No stemming, stop words or other analysis: text is split into lowercase runs of letters/digits.
 *   - JSON batches only (an application/xml batch is rejected with a clear message); no facets,
 *     highlights, expressions, stats, suggesters, lucene/dismax parsers.
 *   - Batch and document size violations answer 400 DocumentServiceException (the limits are the
 *     real ones: 5 MiB per batch, 1 MiB per document).
 *   - A batch with any invalid operation is rejected as a whole, nothing applied.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { SEARCH_INDEX_FIELDS, type SearchIndexField } from "../functions/search-index";
import { SigV4Failure, verifySigV4 } from "./sigv4";

/** One HTTP request the server received, as received. */
export interface RecordedRequest {
    method: string;
    /** The URL path, without the query string. */
    path: string;
    /** Decoded query parameters (`+` and `%20` both decode to a space, as form encoding says). */
    query: Record<string, string>;
    headers: http.IncomingHttpHeaders;
    /** The body as UTF-8 text ("" when none). */
    body: string;
    /** The HTTP status the server answered with. */
    status?: number;
}

export interface LocalCloudSearch {
    /** http://127.0.0.1:<port> — pass as `endpoint` to `CloudSearchDomainClient`. */
    endpoint: string;
    /** A copy of the current index: document id → fields as uploaded. */
    documents(): Map<string, Record<string, unknown>>;
    /** Every request received, in order (the live array). */
    requests: RecordedRequest[];
    /**
     * Makes the next `count` document batch uploads fail without touching the index:
     *  - "http500" (default): HTTP 500 `InternalFailure`. The SDK retries 5xx, so with a default client
     *    (3 attempts) it only throws once three consecutive attempts have failed.
     *  - "status-error": HTTP 400 `{"status":"error", "__type":"#DocumentServiceException", ...}`, which
     *    is how the real service reports a rejected batch: the SDK throws `DocumentServiceException`
     *    (`status === "error"`) and does not retry. (The SDK never *resolves* with `status: "error"`.)
     * Each HTTP request counts as one upload, retries included.
     */
    failNextUploads(count: number, how?: "http500" | "status-error"): void;
    close(): Promise<void>;
}

export interface LocalCloudSearchOptions {
    /** Port on 127.0.0.1; default (0) a free one. */
    port?: number;
    /** The domain's index fields; default `SEARCH_INDEX_FIELDS`. */
    fields?: readonly SearchIndexField[];
    /** Recompute and check each request's SigV4 signature with this secret key (403 on mismatch). */
    verifySignature?: { secretAccessKey: string };
    /**
     * Whether a cursor search also returns a cursor on its last page (one that then yields no hits),
     * as a Solr cursorMark-based service may. Default false: a cursor only while more hits remain.
     */
    cursorOnLastPage?: boolean;
}

/** CloudSearch limits. */
export const MAX_BATCH_BYTES = 5 * 1024 * 1024;
export const MAX_DOCUMENT_BYTES = 1024 * 1024;
const MAX_SIZE = 10_000;
/** Refuse to buffer request bodies beyond this (well over the batch limit, so that one is reported). */
const MAX_BUFFERED_BYTES = 4 * MAX_BATCH_BYTES;

const BATCH_PATH = "/2013-01-01/documents/batch";
const SEARCH_PATH = "/2013-01-01/search";
const SUGGEST_PATH = "/2013-01-01/suggest";
const DOCUMENT_ID = /^[A-Za-z0-9_\-=#;:/?@&]{1,128}$/;
/** Characters CloudSearch refuses in field values (those XML 1.0 forbids), and lone surrogates. */
const INVALID_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** The date format CloudSearch documents (RFC 3339, UTC): yyyy-mm-ddTHH:mm:ss(.SSS)Z. */
const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

type ErrorType = "SearchException" | "DocumentServiceException" | string;

/** An error answered as `status` with `x-amzn-ErrorType: type`. */
class WireError extends Error {
    constructor(
        readonly status: number,
        readonly type: ErrorType,
        message: string,
        readonly extra: Record<string, unknown> = {},
    ) {
        super(message);
    }
}

const searchError = (message: string) => new WireError(400, "SearchException", message);
const documentError = (message: string, errors: string[] = [message]) =>
    new WireError(400, "DocumentServiceException", message, {
        status: "error",
        adds: 0,
        deletes: 0,
        errors: errors.map((m) => ({ message: `[*Deprecated*: Use the outer message field] ${m}` })),
    });

type Doc = Record<string, string>;

export async function startCloudSearch(options: LocalCloudSearchOptions = {}): Promise<LocalCloudSearch> {
    const schema = new Map<string, SearchIndexField>((options.fields ?? SEARCH_INDEX_FIELDS).map((f) => [f.name, f]));
    const index = new Map<string, Doc>();
    const requests: RecordedRequest[] = [];
    const failures: Array<"http500" | "status-error"> = [];

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on("data", (chunk: Buffer) => {
            if (res.headersSent) return;
            size += chunk.length;
            if (size > MAX_BUFFERED_BYTES) {
                res.writeHead(413, { "content-type": "application/json", connection: "close" });
                res.end(JSON.stringify({ message: `request body over ${MAX_BUFFERED_BYTES} bytes` }));
                req.destroy();
                return;
            }
            chunks.push(chunk);
        });
        req.on("end", () => {
            const raw = Buffer.concat(chunks);
            const url = new URL(req.url ?? "/", "http://127.0.0.1");
            const recorded: RecordedRequest = {
                method: req.method ?? "",
                path: url.pathname,
                query: Object.fromEntries(url.searchParams),
                headers: req.headers,
                body: raw.toString("utf8"),
            };
            requests.push(recorded);
            let status: number;
            let body: unknown;
            let headers: Record<string, string> = {};
            try {
                try {
                    verifySigV4(req, url, raw, { service: "cloudsearch", secret: options.verifySignature?.secretAccessKey });
                } catch (err) {
                    if (err instanceof SigV4Failure) throw new WireError(err.status, err.code as ErrorType, err.message);
                    throw err;
                }
                if (url.pathname === BATCH_PATH) {
                    body = handleBatch(req, url, raw);
                } else if (url.pathname === SEARCH_PATH) {
                    body = handleSearch(req, url);
                } else if (url.pathname === SUGGEST_PATH) {
                    throw searchError("the suggest resource is not supported by this local CloudSearch");
                } else {
                    throw new WireError(400, "UnknownOperationException", `no such resource: ${req.method} ${url.pathname}`);
                }
                status = 200;
            } catch (e) {
                const error =
                    e instanceof WireError ? e : new WireError(500, "InternalFailure", e instanceof Error ? e.message : String(e));
                status = error.status;
                headers = { "x-amzn-ErrorType": error.type };
                body =
                    error.type === "SearchException"
                        ? {
                              error: { rid: rid(), message: `[*Deprecated*: Use the outer message field] ${error.message}` },
                              message: error.message,
                              __type: `#${error.type}`,
                          }
                        : { ...error.extra, message: error.message, __type: `#${error.type}` };
            }
            recorded.status = status;
            const text = url.searchParams.get("pretty") === "true" ? JSON.stringify(body, null, 2) : JSON.stringify(body);
            res.writeHead(status, {
                "content-type": "application/json; charset=UTF-8",
                "x-amzn-RequestId": randomUUID(),
                ...headers,
            });
            res.end(text);
        });
    });

    /** Validates and applies one document batch. */
    function handleBatch(req: http.IncomingMessage, url: URL, raw: Buffer): unknown {
        if (req.method !== "POST") throw documentError(`${BATCH_PATH} takes POST, not ${req.method}`);
        checkQueryKeys(url, ["format"], documentError);
        if (url.searchParams.get("format") !== "sdk") {
            throw documentError("expected format=sdk in the query string (the only response format emulated)");
        }
        const contentType = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
        if (contentType === "application/xml") {
            throw documentError("XML batches are not supported by this local CloudSearch; send application/json");
        }
        if (contentType !== "application/json") {
            throw documentError(`Content-Type must be application/json, got ${JSON.stringify(req.headers["content-type"] ?? "")}`);
        }
        const failure = failures.shift();
        if (failure === "http500") throw new WireError(500, "InternalFailure", "injected failure (failNextUploads)");
        if (failure === "status-error") throw documentError("injected failure (failNextUploads)");
        if (raw.length > MAX_BATCH_BYTES) {
            throw documentError(`Request size ${raw.length} bytes exceeds the batch size limit of ${MAX_BATCH_BYTES} bytes (5 MB)`);
        }
        if (raw.length === 0) throw documentError("empty batch: expected a JSON array of add/delete operations");
        let batch: unknown;
        try {
            batch = JSON.parse(raw.toString("utf8"));
        } catch (e) {
            throw documentError(`batch is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
        }
        if (!Array.isArray(batch)) throw documentError("batch must be a JSON array of add/delete operations");
        if (batch.length === 0) throw documentError("batch must contain at least one add or delete operation");

        const errors: string[] = [];
        const operations: Array<{ type: "add"; id: string; fields: Doc } | { type: "delete"; id: string }> = [];
        batch.forEach((op: unknown, i) => {
            const near = (id?: unknown) =>
                ` (near operation with index ${i + 1}${typeof id === "string" ? `; document_id ${id}` : ""})`;
            if (typeof op !== "object" || op === null || Array.isArray(op)) {
                errors.push(`operation must be a JSON object${near()}`);
                return;
            }
            const o = op as Record<string, unknown>;
            for (const key of Object.keys(o)) {
                if (key !== "type" && key !== "id" && key !== "fields") errors.push(`unknown operation property '${key}'${near(o.id)}`);
            }
            if (o.type === undefined) errors.push(`operation has no 'type'${near(o.id)}`);
            else if (o.type !== "add" && o.type !== "delete") errors.push(`'type' must be "add" or "delete", got ${JSON.stringify(o.type)}${near(o.id)}`);
            if (o.id === undefined) errors.push(`operation has no 'id'${near()}`);
            else if (typeof o.id !== "string" || !DOCUMENT_ID.test(o.id)) {
                errors.push(`Invalid document id ${JSON.stringify(o.id)}: 1-128 characters from A-Za-z0-9_-=#;:/?@&${near()}`);
            }
            const id = o.id as string;
            if (o.type === "delete") {
                if (o.fields !== undefined) errors.push(`a delete operation takes no 'fields'${near(id)}`);
                else operations.push({ type: "delete", id });
                return;
            }
            if (o.type !== "add") return;
            if (o.fields === undefined) {
                errors.push(`an add operation needs 'fields'${near(id)}`);
                return;
            }
            if (typeof o.fields !== "object" || o.fields === null || Array.isArray(o.fields)) {
                errors.push(`'fields' must be a JSON object${near(id)}`);
                return;
            }
            const fields = o.fields as Record<string, unknown>;
            if (Object.keys(fields).length === 0) errors.push(`an add operation needs at least one field${near(id)}`);
            const before = errors.length;
            for (const [name, value] of Object.entries(fields)) {
                const field = schema.get(name);
                if (!field) errors.push(`Unknown field '${name}'${near(id)}`);
                else if (Array.isArray(value)) errors.push(`Validation error for field '${name}': field is single-valued, got an array${near(id)}`);
                else if (typeof value !== "string") errors.push(`Validation error for field '${name}': expected a string, got ${value === null ? "null" : typeof value}${near(id)}`);
                else if (INVALID_CHARS.test(value)) errors.push(`Validation error for field '${name}': Invalid character in field value${near(id)}`);
                else if (field.type === "date" && !(DATE.test(value) && !Number.isNaN(Date.parse(value)))) {
                    errors.push(`Validation error for field '${name}': Invalid date ${JSON.stringify(value)}, expected yyyy-mm-ddTHH:mm:ss(.SSS)Z${near(id)}`);
                }
            }
            const bytes = Buffer.byteLength(JSON.stringify(op));
            if (bytes > MAX_DOCUMENT_BYTES) errors.push(`document of ${bytes} bytes exceeds the 1 MB document size limit${near(id)}`);
            if (errors.length === before) operations.push({ type: "add", id, fields: { ...(fields as Doc) } });
        });
        if (errors.length > 0) throw documentError(errors.length === 1 ? errors[0] : `${errors.length} errors: ${errors.join("; ")}`, errors);

        let adds = 0;
        let deletes = 0;
        for (const op of operations) {
            if (op.type === "add") {
                index.set(op.id, op.fields); // an add replaces the whole document
                adds++;
            } else {
                index.delete(op.id);
                deletes++;
            }
        }
        return { status: "success", adds, deletes };
    }

    /** Runs one search request. */
    function handleSearch(req: http.IncomingMessage, url: URL): unknown {
        const started = Date.now();
        if (req.method !== "GET") throw searchError(`${SEARCH_PATH} takes GET, not ${req.method}`);
        const p = url.searchParams;
        const unsupported = ["expr", "facet", "highlight", "stats"].filter((k) => p.has(k));
        if (unsupported.length > 0) throw searchError(`not supported by this local CloudSearch: ${unsupported.join(", ")}`);
        checkQueryKeys(url, ["format", "pretty", "q", "q.parser", "q.options", "fq", "size", "start", "cursor", "return", "sort", "partial"], searchError);
        if (p.get("format") !== "sdk") throw searchError("expected format=sdk in the query string (the only response format emulated)");
        const q = p.get("q");
        if (q === null || q.trim() === "") throw searchError("Missing required parameter 'q'");
        const parser = p.get("q.parser") ?? "simple";
        const partial = p.get("partial");
        if (partial !== null && partial !== "true" && partial !== "false") throw searchError(`'partial' must be true or false, got '${partial}'`);
        const size = integerParam(p, "size", 10);
        if (size > MAX_SIZE) throw searchError(`'size' must be at most ${MAX_SIZE}`);
        if (p.has("start") && p.has("cursor")) throw searchError("'start' and 'cursor' are mutually exclusive");
        let start = integerParam(p, "start", 0);
        if (start > MAX_SIZE) throw searchError(`'start' must be at most ${MAX_SIZE}; use a cursor to page deeper`);

        let query: Matcher;
        if (parser === "simple") query = parseSimple(q, p.get("q.options"));
        else if (parser === "structured") {
            if (p.has("q.options")) parseOptions(p.get("q.options") ?? "", false);
            query = parseStructured(q, "q");
        } else if (parser === "lucene" || parser === "dismax") throw searchError(`q.parser=${parser} is not supported by this local CloudSearch`);
        else throw searchError(`Invalid q.parser '${parser}': expected simple, structured, lucene or dismax`);
        const filter = p.has("fq") ? parseStructured(p.get("fq") ?? "", "fq") : undefined;
        const sort = parseSort(p.get("sort"));
        const returned = parseReturn(p.get("return"));

        const cursorKey = createHash("sha256")
            .update(JSON.stringify([q, parser, p.get("q.options"), p.get("fq"), p.get("sort")]))
            .digest("base64url")
            .slice(0, 16);
        const cursor = p.get("cursor");
        if (cursor !== null && cursor !== "initial") start = decodeCursor(cursor, cursorKey);

        const matches: Array<{ id: string; doc: Doc; score: number }> = [];
        for (const [id, doc] of index) {
            if (filter && filter(doc) === undefined) continue;
            const score = query(doc);
            if (score !== undefined) matches.push({ id, doc, score });
        }
        matches.sort((a, b) => {
            for (const key of sort) {
                const c = compareBy(key, a, b);
                if (c !== 0) return c;
            }
            return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
        });
        const page = matches.slice(start, start + size);
        const next = start + page.length;
        const hits: Record<string, unknown> = { found: matches.length, start };
        if (cursor !== null && (next < matches.length || options.cursorOnLastPage)) {
            hits.cursor = Buffer.from(JSON.stringify({ o: next, k: cursorKey })).toString("base64url");
        }
        hits.hit = page.map(({ id, doc, score }) => {
            const fields: Record<string, string[]> = {};
            for (const name of returned.fields ?? [...schema.values()].filter((f) => f.return).map((f) => f.name)) {
                if (doc[name] !== undefined) fields[name] = [doc[name]];
            }
            if (returned.score) fields._score = [formatScore(score)];
            return Object.keys(fields).length > 0 ? { id, fields } : { id };
        });
        return { status: { rid: rid(), timems: Date.now() - started }, hits };
    }

    // ---- query parsing and evaluation ----------------------------------------------------------------

    /** Returns the document's score when it matches, undefined when it does not. */
    type Matcher = (doc: Doc) => number | undefined;

    function field(name: string, where: string): SearchIndexField {
        const f = schema.get(name);
        if (!f) throw searchError(`Syntax error in ${where}: field '${name}' does not exist`);
        if (f.type !== "text" && !f.search) throw searchError(`Syntax error in ${where}: field '${name}' is not search enabled`);
        return f;
    }

    function textFields(): SearchIndexField[] {
        return [...schema.values()].filter((f) => f.type === "text");
    }

    /** `q.options` for the simple parser: fields (with optional `^boost`) and defaultOperator. */
    function parseOptions(text: string, simple: boolean): { fields: Array<{ field: SearchIndexField; boost: number }>; and: boolean } {
        let options: unknown;
        try {
            options = JSON.parse(text);
        } catch {
            throw searchError(`q.options is not valid JSON: ${text}`);
        }
        if (typeof options !== "object" || options === null || Array.isArray(options)) throw searchError("q.options must be a JSON object");
        const o = options as Record<string, unknown>;
        for (const key of Object.keys(o)) {
            if (key !== "fields" && key !== "defaultOperator") {
                throw searchError(`q.options '${key}' is not supported by this local CloudSearch (fields and defaultOperator are)`);
            }
        }
        if (!simple && o.fields !== undefined) throw searchError("q.options fields are not supported with q.parser=structured here");
        let fields = textFields().map((f) => ({ field: f, boost: 1 }));
        if (o.fields !== undefined) {
            if (!Array.isArray(o.fields) || o.fields.length === 0 || !o.fields.every((f) => typeof f === "string")) {
                throw searchError("q.options fields must be a non-empty array of field names");
            }
            fields = (o.fields as string[]).map((spec) => {
                const m = /^([^\^]+)(?:\^(\d+(?:\.\d+)?))?$/.exec(spec);
                if (!m) throw searchError(`q.options: invalid field '${spec}'`);
                return { field: field(m[1], "q.options"), boost: m[2] === undefined ? 1 : Number(m[2]) };
            });
        }
        if (o.defaultOperator !== undefined && o.defaultOperator !== "and" && o.defaultOperator !== "or") {
            throw searchError(`q.options defaultOperator must be "and" or "or", got ${JSON.stringify(o.defaultOperator)}`);
        }
        return { fields, and: o.defaultOperator !== "or" };
    }

    /**
     * The simple parser. Supported: whitespace-separated words, `"quoted phrases"`, `+required`,
     * `-excluded` (on words or phrases), `prefix*`, and `a|b` (or `a | b`) for alternatives. A word that
     * splits into several tokens (e.g. "e-mail") is matched as a phrase. Parentheses and other
     * punctuation carry no meaning (they separate tokens). defaultOperator "and" (the default) requires
     * every unprefixed clause; "or" requires at least one (plus every `+` clause). A query of only
     * excluded clauses matches every document without them. Unterminated quotes and dangling `|` are
     * syntax errors.
     */
    function parseSimple(q: string, optionsText: string | null): Matcher {
        const opts = optionsText === null ? { fields: textFields().map((f) => ({ field: f, boost: 1 })), and: true } : parseOptions(optionsText, true);
        type Clause = { raw: string; tokens: string[]; prefix: boolean };
        type Group = { modifier: "" | "+" | "-"; clauses: Clause[] };
        const groups: Group[] = [];
        let pendingOr = false;
        let i = 0;
        while (i < q.length) {
            const c = q[i];
            if (/\s/.test(c)) {
                i++;
                continue;
            }
            if (c === "|") {
                if (groups.length === 0 || pendingOr) throw searchError(`Syntax error in q: dangling '|' at ${i}`);
                pendingOr = true;
                i++;
                continue;
            }
            let modifier: "" | "+" | "-" = "";
            if ((c === "+" || c === "-") && i + 1 < q.length && !/[\s|]/.test(q[i + 1])) {
                modifier = c;
                i++;
            }
            let raw: string;
            if (q[i] === '"') {
                const end = q.indexOf('"', i + 1);
                if (end < 0) throw searchError(`Syntax error in q: unterminated phrase starting at ${i}`);
                raw = q.slice(i + 1, end);
                i = end + 1;
            } else {
                const m = /^[^\s|"]+/.exec(q.slice(i));
                raw = m ? m[0] : q[i];
                i += raw.length;
            }
            const prefix = raw.endsWith("*");
            const clause = { raw: prefix ? raw.slice(0, -1) : raw, tokens: tokenize(raw), prefix };
            if (pendingOr) {
                if (modifier !== "") throw searchError("Syntax error in q: '+'/'-' inside an '|' alternative");
                groups[groups.length - 1].clauses.push(clause);
                pendingOr = false;
            } else {
                groups.push({ modifier, clauses: [clause] });
            }
        }
        if (pendingOr) throw searchError("Syntax error in q: dangling '|' at the end");
        const live = groups
            .map((g) => ({ ...g, clauses: g.clauses.filter((c) => c.tokens.length > 0) }))
            .filter((g) => g.clauses.length > 0);
        const required = live.filter((g) => g.modifier === "+" || (g.modifier === "" && opts.and));
        const optional = live.filter((g) => g.modifier === "" && !opts.and);
        const excluded = live.filter((g) => g.modifier === "-");
        if (live.length === 0) return () => undefined;

        const clauseScore = (doc: Doc, c: Clause) =>
            opts.fields.reduce((sum, { field: f, boost }) => {
                const value = doc[f.name];
                if (value === undefined) return sum;
                if (f.type !== "text") return sum + ((c.prefix ? value.startsWith(c.raw) : value === c.raw) ? boost : 0);
                if (c.prefix && c.tokens.length === 1) return sum + boost * tokenize(value).filter((t) => t.startsWith(c.tokens[0])).length;
                return sum + boost * countPhrase(tokenize(value), c.tokens);
            }, 0);
        const groupScore = (doc: Doc, g: Group) => g.clauses.reduce((s, c) => s + clauseScore(doc, c), 0);
        return (doc) => {
            if (excluded.some((g) => groupScore(doc, g) > 0)) return undefined;
            let score = 0;
            for (const g of required) {
                const s = groupScore(doc, g);
                if (s === 0) return undefined;
                score += s;
            }
            let any = false;
            for (const g of optional) {
                const s = groupScore(doc, g);
                if (s > 0) any = true;
                score += s;
            }
            if (optional.length > 0 && required.length === 0 && !any) return undefined;
            return score;
        };
    }

    /**
     * The structured parser (used for `fq`, and `q` with q.parser=structured). Supported:
     *   (and EXPR...) (or EXPR...) (not EXPR)
     *   (term [field=F] [boost=N] 'value')   (phrase [field=F] 'value')   (prefix [field=F] 'value')
     *   (range field=F [a,b] | {a,b} | [a,} | {,b] ...)   with quoted bounds, for literal and date fields
     *   F:'value'   F:[a,b}   'value' (a term over all text fields)   matchall   (matchall)
     * Values are single-quoted; inside them only `\\` and `\'` escapes are allowed (any other backslash is
     * a syntax error, so unescaped backslashes surface instead of being silently dropped). A term on a
     * literal field matches the exact (case-sensitive) value; on a text field each word case-insensitively
     * (a multi-word term is matched as a phrase); on a date field the same instant. Scores: term
     * frequency on text fields, 1 per literal/date match; `and`/`or` sum, `not` scores 0. `fq` only
     * filters (does not score).
     */
    function parseStructured(text: string, where: string): Matcher {
        type Token = { kind: "(" | ")" | "[" | "]" | "{" | "}" | "," | "string" | "word"; value: string; at: number };
        const tokens: Token[] = [];
        const fail = (message: string): never => {
            throw searchError(`Syntax error in ${where}: ${message} in ${JSON.stringify(text)}`);
        };
        for (let i = 0; i < text.length; ) {
            const c = text[i];
            if (/\s/.test(c)) i++;
            else if ("()[]{},".includes(c)) tokens.push({ kind: c as Token["kind"], value: c, at: i++ });
            else if (c === "'") {
                let value = "";
                let j = i + 1;
                for (;;) {
                    if (j >= text.length) fail(`unterminated quoted value starting at ${i}`);
                    const d = text[j];
                    if (d === "\\") {
                        const e = text[j + 1];
                        if (e !== "\\" && e !== "'") fail(`invalid escape '\\${e ?? ""}' at ${j} (only \\\\ and \\' are allowed)`);
                        value += e;
                        j += 2;
                    } else if (d === "'") break;
                    else {
                        value += d;
                        j++;
                    }
                }
                tokens.push({ kind: "string", value, at: i });
                i = j + 1;
            } else {
                const m = /^[^\s()[\]{},']+/.exec(text.slice(i)) as RegExpExecArray;
                tokens.push({ kind: "word", value: m[0], at: i });
                i += m[0].length;
            }
        }
        let pos = 0;
        const peek = () => tokens[pos];
        const next = (): Token => tokens[pos++] ?? fail("unexpected end of query");

        const termOn = (f: SearchIndexField | undefined, value: string, kind: "term" | "phrase" | "prefix", boost: number): Matcher => {
            const targets = f ? [f] : textFields();
            const words = tokenize(value);
            if (f?.type === "date") {
                if (kind === "prefix") fail(`prefix cannot be used on date field '${f.name}'`);
                if (!DATE.test(value)) fail(`invalid date '${value}'`);
            }
            if (kind === "prefix" && f?.type !== "literal" && words.length !== 1) fail(`prefix '${value}' must be a single word`);
            return (doc) => {
                let score = 0;
                for (const t of targets) {
                    const v = doc[t.name];
                    if (v === undefined) continue;
                    if (t.type === "literal") score += (kind === "prefix" ? v.startsWith(value) : v === value) ? 1 : 0;
                    else if (t.type === "date") score += Date.parse(v) === Date.parse(value) ? 1 : 0;
                    else if (kind === "prefix") score += tokenize(v).filter((w) => w.startsWith(words[0])).length;
                    else score += words.length === 0 ? 0 : countPhrase(tokenize(v), words);
                }
                return score > 0 ? score * boost : undefined;
            };
        };

        const rangeOn = (f: SearchIndexField): Matcher => {
            if (f.type !== "literal" && f.type !== "date") fail(`range cannot be used on ${f.type} field '${f.name}'`);
            const open = next();
            if (open.kind !== "[" && open.kind !== "{") fail(`expected '[' or '{' at ${open.at}`);
            let lower: string | undefined;
            let upper: string | undefined;
            if (peek()?.kind === "string") lower = next().value;
            if (next().kind !== ",") fail("expected ',' in range");
            if (peek()?.kind === "string") upper = next().value;
            const close = next();
            if (close.kind !== "]" && close.kind !== "}") fail(`expected ']' or '}' at ${close.at}`);
            if (lower === undefined && upper === undefined) fail("a range needs at least one bound");
            const key = (v: string): string | number => {
                if (f.type !== "date") return v;
                if (!DATE.test(v)) fail(`invalid date '${v}'`);
                return Date.parse(v);
            };
            const lo = lower === undefined ? undefined : key(lower);
            const hi = upper === undefined ? undefined : key(upper);
            return (doc) => {
                const v = doc[f.name];
                if (v === undefined) return undefined;
                const k = key(v);
                if (lo !== undefined && (open.kind === "[" ? k < lo : k <= lo)) return undefined;
                if (hi !== undefined && (close.kind === "]" ? k > hi : k >= hi)) return undefined;
                return 1;
            };
        };

        const expr = (): Matcher => {
            const t = next();
            if (t.kind === "string") return termOn(undefined, t.value, "term", 1);
            if (t.kind === "word") {
                if (t.value === "matchall") return () => 1;
                const m = /^([a-z][a-z0-9_]*):$/.exec(t.value);
                if (!m) fail(`unexpected '${t.value}' at ${t.at} (values must be quoted: 'value')`);
                const f = field((m as RegExpExecArray)[1], where);
                const n = peek();
                if (n?.kind === "string") return termOn(f, next().value, "term", 1);
                if (n?.kind === "[" || n?.kind === "{") return rangeOn(f);
                return fail(`expected a quoted value or a range after '${t.value}'`);
            }
            if (t.kind !== "(") return fail(`unexpected '${t.value}' at ${t.at}`);
            const op = next();
            if (op.kind !== "word") fail(`expected an operator after '(' at ${t.at}`);
            let f: SearchIndexField | undefined;
            let boost = 1;
            while (peek()?.kind === "word" && peek().value.includes("=")) {
                const option = next().value;
                const k = option.slice(0, option.indexOf("="));
                // `field=name` or `field='name'` (the quoted form lexes as `field=` then a string).
                const v = option.endsWith("=") && peek()?.kind === "string" ? next().value : option.slice(option.indexOf("=") + 1);
                if (k === "field") f = field(v, where);
                else if (k === "boost" && /^\d+(\.\d+)?$/.test(v)) boost = Number(v);
                else fail(`unsupported option '${k}=${v}'`);
            }
            let result: Matcher;
            switch (op.value) {
                case "and":
                case "or": {
                    const children: Matcher[] = [];
                    while (peek() && peek().kind !== ")") children.push(expr());
                    if (children.length === 0) fail(`(${op.value}) needs at least one expression`);
                    result =
                        op.value === "and"
                            ? (doc) => {
                                  let s = 0;
                                  for (const c of children) {
                                      const r = c(doc);
                                      if (r === undefined) return undefined;
                                      s += r;
                                  }
                                  return s * boost;
                              }
                            : (doc) => {
                                  let s: number | undefined;
                                  for (const c of children) {
                                      const r = c(doc);
                                      if (r !== undefined) s = (s ?? 0) + r;
                                  }
                                  return s === undefined ? undefined : s * boost;
                              };
                    break;
                }
                case "not": {
                    const child = expr();
                    result = (doc) => (child(doc) === undefined ? 0 : undefined);
                    break;
                }
                case "term":
                case "phrase":
                case "prefix": {
                    const v = next();
                    if (v.kind !== "string") fail(`(${op.value}) takes one quoted value, got '${v.value}' at ${v.at}`);
                    result = termOn(f, v.value, op.value, boost);
                    break;
                }
                case "range":
                    if (!f) fail("(range) needs field=");
                    result = rangeOn(f as SearchIndexField);
                    break;
                case "matchall":
                    result = () => 1;
                    break;
                default:
                    return fail(`unsupported operator '${op.value}'`);
            }
            const close = next();
            if (close.kind !== ")") fail(`expected ')' at ${close.at}, got '${close.value}'`);
            return result;
        };

        if (tokens.length === 0) fail("empty query");
        const matcher = expr();
        if (pos < tokens.length) fail(`unexpected '${tokens[pos].value}' at ${tokens[pos].at}`);
        return matcher;
    }

    type SortKey = { field: string; desc: boolean };

    /** `sort=FIELD asc|desc[,...]`; default `_score desc`. Fields must be sort enabled. */
    function parseSort(text: string | null): SortKey[] {
        if (text === null) return [{ field: "_score", desc: true }];
        return text.split(",").map((part) => {
            const m = /^\s*(\S+)\s+(asc|desc)\s*$/.exec(part);
            if (!m) throw searchError(`Invalid sort '${part.trim()}': expected '<field> asc' or '<field> desc'`);
            if (m[1] !== "_score") {
                const f = schema.get(m[1]);
                if (!f) throw searchError(`Invalid sort: field '${m[1]}' does not exist`);
                if (!f.sort) throw searchError(`Invalid sort: field '${m[1]}' is not sort enabled`);
            }
            return { field: m[1], desc: m[2] === "desc" };
        });
    }

    function compareBy(key: SortKey, a: { doc: Doc; score: number }, b: { doc: Doc; score: number }): number {
        if (key.field === "_score") return key.desc ? b.score - a.score : a.score - b.score;
        const av = a.doc[key.field];
        const bv = b.doc[key.field];
        if (av === undefined || bv === undefined) return av === bv ? 0 : av === undefined ? 1 : -1; // missing last
        const type = schema.get(key.field)?.type;
        const c = type === "date" ? Date.parse(av) - Date.parse(bv) : av < bv ? -1 : av > bv ? 1 : 0;
        return key.desc ? -c : c;
    }

    /** `return=a,b,_score`; `_all_fields` (default) and `_no_fields`. Fields must be return enabled. */
    function parseReturn(text: string | null): { fields?: string[]; score: boolean } {
        if (text === null) return { score: false };
        const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
        let fields: string[] | undefined = [];
        for (const name of names) {
            if (name === "_score" || name === "_no_fields") continue;
            if (name === "_all_fields") {
                fields = undefined;
                continue;
            }
            const f = schema.get(name);
            if (!f) throw searchError(`Invalid return: field '${name}' does not exist`);
            if (!f.return) throw searchError(`Invalid return: field '${name}' is not return enabled`);
            fields?.push(name);
        }
        return { fields, score: names.includes("_score") };
    }

    function decodeCursor(cursor: string, key: string): number {
        try {
            const c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { o?: unknown; k?: unknown };
            if (typeof c.o === "number" && Number.isInteger(c.o) && c.o >= 0 && c.k === key) return c.o;
        } catch {
            // fall through
        }
        throw searchError(`Invalid cursor '${cursor}' (not issued by this server for this query)`);
    }

    function integerParam(p: URLSearchParams, name: string, fallback: number): number {
        const v = p.get(name);
        if (v === null) return fallback;
        if (!/^\d+$/.test(v)) throw searchError(`'${name}' must be a non-negative integer, got '${v}'`);
        return Number(v);
    }

    function checkQueryKeys(url: URL, allowed: string[], error: (m: string) => WireError): void {
        const seen = new Set<string>();
        for (const key of url.searchParams.keys()) {
            if (!allowed.includes(key)) throw error(`unexpected query parameter '${key}'`);
            if (seen.has(key)) throw error(`query parameter '${key}' given more than once`);
            seen.add(key);
        }
    }

    const endpoint = await listen(server, options.port ?? 0);
    return {
        endpoint,
        documents: () => new Map([...index].map(([id, fields]) => [id, { ...fields }])),
        requests,
        failNextUploads(count, how = "http500") {
            if (!Number.isInteger(count) || count < 0) throw new Error(`failNextUploads: count must be a non-negative integer, got ${count}`);
            for (let i = 0; i < count; i++) failures.push(how);
        },
        close: () =>
            new Promise<void>((resolve, reject) => {
                server.close((e) => (e ? reject(e) : resolve()));
                server.closeAllConnections();
            }),
    };
}

/** Lowercase runs of letters and digits: this server's whole text analysis. */
function tokenize(text: string): string[] {
    return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** How many times `phrase` occurs as consecutive tokens of `tokens`. */
function countPhrase(tokens: string[], phrase: string[]): number {
    if (phrase.length === 0) return 0;
    let n = 0;
    for (let i = 0; i + phrase.length <= tokens.length; i++) {
        if (phrase.every((w, j) => tokens[i + j] === w)) n++;
    }
    return n;
}

function formatScore(score: number): string {
    return String(Math.round(score * 1e6) / 1e6);
}

function rid(): string {
    return randomBytes(12).toString("base64");
}


/** Listens on 127.0.0.1:`port` (0: a free port); resolves with the base URL. */
function listen(server: http.Server, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    });
}
