/**
 * API Gateway (REST) templates, rendered the way API Gateway renders them, for tests and for a local
 * gateway that serves the deployed OpenAPI document.
 *
 * - Integration mapping templates are Velocity (VTL), rendered here with `velocityjs`, with `$input`,
 *   `$util`, `$context` and `$stageVariables` as documented in "Variables for data transformations for
 *   API Gateway" (API Gateway developer guide, mapping template and access logging variable reference).
 *   API Gateway runs Apache Velocity on the JVM, so strings behave as Java strings: `replaceAll` takes a
 *   regular expression, `replace` replaces every occurrence, and string literals keep their backslashes.
 * - Gateway-response templates are NOT VTL: "The templates are not processed by the VTL engine"
 *   ("x-amazon-apigateway-gateway-responses.gatewayResponse object"); only `$context.*` and
 *   `$stageVariables.*` variables are substituted, once, as plain text.
 */
import { Compile, parse } from "velocityjs";

/** A value of `$context` (nested objects for dotted names such as `identity.cognitoIdentityId`). */
export type ContextValue = string | number | boolean | null | undefined | { [key: string]: ContextValue };

/** The method request a mapping template sees. */
export interface MethodRequest {
    /** The raw payload (`$input.body`); `$input.json` and `$input.path` parse it as JSON. */
    body: string;
    /** Path parameters by name. */
    path?: Record<string, string>;
    /** Query-string parameters by name. */
    querystring?: Record<string, string>;
    /** Headers by name. */
    header?: Record<string, string>;
}

/** What a template is rendered with. */
export interface TemplateVariables {
    /** `$context`: e.g. `{requestId, identity: {cognitoIdentityId}, error: {message, responseType}}`. */
    context: Record<string, ContextValue>;
    /** `$stageVariables`. Default none. */
    stageVariables?: Record<string, string>;
}

/** An integration mapping template could not be rendered the way API Gateway would. */
export class MappingTemplateError extends Error {
    constructor(message: string) {
        super(message);
        this.message = message;
        this.name = "MappingTemplateError";
    }
}

/**
 * `$util.escapeJavaScript`: "Escapes the characters in a string using JavaScript string rules", and
 * turns `'` into `\'`, which is NOT a valid JSON escape (templates that build JSON add
 * `.replaceAll("\\'","'")`, as the AWS reference advises). The rules modelled are those of the JVM's
 * usual implementation, Apache Commons Lang `StringEscapeUtils.escapeJavaScript`: `"`, `\`, `/` and `'`
 * get a backslash, control characters become `\b \n \t \f \r` or `\u00XX`, and every UTF-16 code unit
 * above 0x7F becomes `\uXXXX` (upper-case hex). Whatever the exact choice of escapes, each is valid
 * inside a JSON string except `\'`.
 */
export function escapeJavaScript(value: string): string {
    let out = "";
    for (let i = 0; i < value.length; i++) {
        const code = value.charCodeAt(i);
        const ch = value[i];
        if (code > 0x7f) out += `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
        else if (code < 32) {
            const named: Record<number, string> = { 8: "\\b", 10: "\\n", 9: "\\t", 12: "\\f", 13: "\\r" };
            out += named[code] ?? `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
        } else if (ch === "'" || ch === '"' || ch === "\\" || ch === "/") out += `\\${ch}`;
        else out += ch;
    }
    return out;
}

/** Java's `URLEncoder.encode(value, "UTF-8")` (`$util.urlEncode`): form encoding, space as `+`. */
export function urlEncode(value: string): string {
    let out = "";
    for (const byte of Buffer.from(value, "utf8")) {
        const ch = String.fromCharCode(byte);
        if (/[A-Za-z0-9.\-*_]/.test(ch)) out += ch;
        else if (ch === " ") out += "+";
        else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
    return out;
}

/** Java's `URLDecoder.decode(value, "UTF-8")` (`$util.urlDecode`). */
export function urlDecode(value: string): string {
    const bytes: number[] = [];
    for (let i = 0; i < value.length; i++) {
        const ch = value[i];
        if (ch === "+") bytes.push(0x20);
        else if (ch === "%") {
            const hex = value.slice(i + 1, i + 3);
            if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new MappingTemplateError(`urlDecode: illegal escape at ${i} in ${JSON.stringify(value)}`);
            bytes.push(parseInt(hex, 16));
            i += 2;
        } else bytes.push(...Buffer.from(ch, "utf8"));
    }
    return Buffer.from(bytes).toString("utf8");
}

/**
 * Evaluates the JSONPath subset mapping templates use: `$`, `.name`, `['name']`, `["name"]` and `[index]`.
 * Anything else is refused rather than guessed.
 */
export function evaluateJsonPath(document: unknown, path: string): unknown {
    if (!path.startsWith("$")) throw new MappingTemplateError(`JSONPath must start with $: ${path}`);
    let value: unknown = document;
    const step = /^(?:\.([A-Za-z_$][\w$-]*)|\['([^']*)'\]|\["([^"]*)"\]|\[(\d+)\])/;
    let rest = path.slice(1);
    while (rest.length > 0) {
        const match = step.exec(rest);
        if (!match) throw new MappingTemplateError(`Unsupported JSONPath ${path} (at ${rest})`);
        rest = rest.slice(match[0].length);
        const key = match[1] ?? match[2] ?? match[3];
        if (value === null || typeof value !== "object") return undefined;
        if (key !== undefined) value = Array.isArray(value) ? undefined : Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
        else value = Array.isArray(value) ? value[Number(match[4])] : undefined;
    }
    return value;
}

/** Converts a Java regular expression to JavaScript (the common subset; `\Q…\E` and possessive forms are refused). */
function javaRegExp(source: string, flags: string): RegExp {
    if (/\\Q|\\E|[*+?}]\+|\(\?[a-z]/.test(source)) throw new MappingTemplateError(`Unsupported Java regular expression ${source}`);
    return new RegExp(source, flags);
}

/** A Java `Matcher.replaceAll` replacement: `$n`/`${name}` are groups, a backslash quotes the next character. */
function javaReplacement(replacement: string): (match: string, ...rest: unknown[]) => string {
    return (match: string, ...rest: unknown[]) => {
        const groupsAt = rest.findIndex((r) => typeof r === "number");
        const groups = rest.slice(0, groupsAt) as (string | undefined)[];
        const named = rest[groupsAt + 2] as Record<string, string | undefined> | undefined;
        let out = "";
        for (let i = 0; i < replacement.length; i++) {
            const ch = replacement[i];
            if (ch === "\\") {
                if (i + 1 >= replacement.length) throw new MappingTemplateError("character to be escaped is missing");
                out += replacement[++i];
            } else if (ch === "$") {
                const name = /^\{([A-Za-z][A-Za-z0-9]*)\}/.exec(replacement.slice(i + 1));
                if (name) {
                    out += named?.[name[1]] ?? "";
                    i += name[0].length;
                    continue;
                }
                const digits = /^\d+/.exec(replacement.slice(i + 1));
                if (!digits) throw new MappingTemplateError(`Illegal group reference in ${replacement}`);
                const n = Number(digits[0]);
                if (n > groups.length) throw new MappingTemplateError(`No group ${n} in ${replacement}`);
                out += n === 0 ? match : (groups[n - 1] ?? "");
                i += digits[0].length;
            } else out += ch;
        }
        return out;
    };
}

/** Java `String` methods whose JavaScript namesakes differ (or do not exist), for VTL method calls. */
const JAVA_STRING_METHODS: Record<string, (text: string, params: unknown[]) => unknown> = {
    replaceAll: (text, [regex, replacement]) => text.replace(javaRegExp(String(regex), "g"), javaReplacement(String(replacement))),
    replaceFirst: (text, [regex, replacement]) => text.replace(javaRegExp(String(regex), ""), javaReplacement(String(replacement))),
    replace: (text, [target, replacement]) => text.split(String(target)).join(String(replacement)),
    matches: (text, [regex]) => javaRegExp(`^(?:${String(regex)})$`, "").test(text),
    split: (text, [regex]) => {
        const parts = text.split(javaRegExp(String(regex), ""));
        while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
        return parts;
    },
    length: (text) => text.length,
    isEmpty: (text) => text.length === 0,
    contains: (text, [part]) => text.includes(String(part)),
    equals: (text, [other]) => text === other,
};

/**
 * Renders an integration mapping template (request or response) as API Gateway does, with `$input`
 * built from `request`. `$input.json` and `$input.path` need a JSON body; a template that uses them on
 * a body that is not JSON is an error here (the routes that use them validate the body first).
 */
export function renderMappingTemplate(template: string, request: MethodRequest, variables: TemplateVariables): string {
    let parsed: { value: unknown } | undefined;
    const document = (): unknown => {
        if (!parsed) {
            try {
                parsed = { value: JSON.parse(request.body) };
            } catch {
                throw new MappingTemplateError("$input.json/$input.path need a JSON request body");
            }
        }
        return parsed.value;
    };
    const params = { path: request.path ?? {}, querystring: request.querystring ?? {}, header: request.header ?? {} };
    const input = {
        body: request.body,
        // A path that selects nothing prints `null` here (AWS does not document this case).
        json: (path: string) => JSON.stringify(evaluateJsonPath(document(), path) ?? null),
        path: (path: string) => evaluateJsonPath(document(), path),
        // "Returns the value of a method request parameter from the path, query string, or header value
        // (searched in that order)"; without a name, all of them.
        params: (name?: string) => {
            if (name === undefined) return params;
            for (const source of [params.path, params.querystring, params.header]) {
                if (Object.hasOwn(source, name)) return source[name];
            }
            return "";
        },
    };
    const util = {
        escapeJavaScript: (value: unknown) => escapeJavaScript(value == null ? "" : String(value)),
        parseJson: (text: string) => JSON.parse(text) as unknown,
        urlEncode: (value: string) => urlEncode(String(value)),
        urlDecode: (value: string) => urlDecode(String(value)),
        base64Encode: (value: string) => Buffer.from(String(value), "utf8").toString("base64"),
        base64Decode: (value: string) => Buffer.from(String(value), "base64").toString("utf8"),
    };
    let ast = PARSED.get(template);
    if (!ast) PARSED.set(template, (ast = parse(template)));
    const compiled = new Compile(ast, {
        escape: false,
        customMethodHandlers: [
            {
                uid: "java-string",
                match: ({ property, context }) => typeof context === "string" && Object.hasOwn(JAVA_STRING_METHODS, property),
                resolve: ({ property, context, params: args }) => JAVA_STRING_METHODS[property](context as string, args),
            },
        ],
    });
    return compiled.render({ input, util, context: variables.context, stageVariables: variables.stageVariables ?? {} });
}

/** Parsed templates: a template is parsed once however often it is rendered. */
const PARSED = new Map<string, ReturnType<typeof parse>>();

/** The `$context.…` and `$stageVariables.…` names a gateway-response template uses, e.g. `context.error.messageString`. */
export function gatewayResponseVariables(template: string): string[] {
    return [...new Set(Array.from(template.matchAll(GATEWAY_VARIABLE), (m) => m[1]))];
}

const GATEWAY_VARIABLE = /\$((?:context|stageVariables)(?:\.[A-Za-z0-9_]+)+)/g;

/**
 * Renders a gateway-response template: each `$context.x.y` / `$stageVariables.x` is replaced by its
 * value as text, in one pass (a value is never scanned again), and nothing else is interpreted — no
 * `$util`, no directives. A variable without a value renders as an empty string.
 *
 * `$context.error.messageString` is "the quoted value of $context.error.message": when `context.error`
 * has `message` but no `messageString`, it is derived as the JSON string of the message (API Gateway's
 * own default body, `{"message":$context.error.messageString}`, relies on it being a JSON string).
 */
export function renderGatewayResponseTemplate(template: string, variables: TemplateVariables): string {
    return template.replace(GATEWAY_VARIABLE, (_, name: string) => variableText(name, variables));
}

/**
 * The headers a gateway response's `responseParameters` produce
 * (`gatewayresponse.header.<name>`: `'static'`, `context.…`, `stageVariables.…` or `method.request.…`).
 */
export function gatewayResponseHeaders(
    responseParameters: Record<string, string>,
    variables: TemplateVariables,
    request: MethodRequest = { body: "" },
): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [target, source] of Object.entries(responseParameters)) {
        const header = /^gatewayresponse\.header\.(.+)$/.exec(target);
        if (!header) throw new MappingTemplateError(`Unsupported gateway response parameter ${target}`);
        const literal = /^'(.*)'$/s.exec(source);
        const fromRequest = /^method\.request\.(path|querystring|header)\.(.+)$/.exec(source);
        if (literal) headers[header[1]] = literal[1];
        else if (fromRequest) headers[header[1]] = request[fromRequest[1] as "path" | "querystring" | "header"]?.[fromRequest[2]] ?? "";
        else if (/^(context|stageVariables)\./.test(source)) headers[header[1]] = variableText(source, variables);
        else throw new MappingTemplateError(`Unsupported gateway response parameter source ${source}`);
    }
    return headers;
}

function variableText(name: string, variables: TemplateVariables): string {
    const [root, ...keys] = name.split(".");
    let value: ContextValue = root === "context" ? variables.context : (variables.stageVariables ?? {});
    if (name === "context.error.messageString") {
        const error = variables.context.error;
        if (error && typeof error === "object" && error.messageString === undefined && typeof error.message === "string") {
            return JSON.stringify(error.message);
        }
    }
    for (const key of keys) {
        value = value !== null && typeof value === "object" && Object.hasOwn(value, key) ? value[key] : undefined;
    }
    return value === undefined || value === null || typeof value === "object" ? "" : String(value);
}
