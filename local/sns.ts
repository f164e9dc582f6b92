/**
 * A local stand-in for Amazon SNS (API version 2010-03-31): the mobile-push subset the
 * functions use — CreatePlatformEndpoint, GetEndpointAttributes, SetEndpointAttributes, DeleteEndpoint
 * and Publish (to platform endpoints and topics) — in the wire format `@aws-sdk/client-sns` speaks
 * (the AWS Query protocol). Platform applications and topics are made by the caller (`createApplication`,
 * `createTopic`), not over the wire.
 *
 * Wire format, as read from the SDK (client-sns 3.1169, schema-based serde in dist-cjs/index.js, and
 * @aws-sdk/core 3.981's AwsQueryProtocol / QueryShapeSerializer / XmlShapeDeserializer) and checked
 * against what the client really sends:
 *
 * Requests: `POST /`, `Content-Type: application/x-www-form-urlencoded`, body
 *   `Action=<Operation>&Version=2010-03-31&<members>`, every key and value RFC 3986-encoded (space is
 *   %20, `+` is %2B). Members are the shape's member names; maps (no xmlFlattened) are written as
 *   `<Member>.entry.<n>.<key>` / `<Member>.entry.<n>.<value>`, n from 1, with the map's xmlName traits:
 *     Attributes (MapStringToString):  Attributes.entry.1.key=Token & Attributes.entry.1.value=...
 *     MessageAttributes (Name/Value):  MessageAttributes.entry.1.Name=recipientId &
 *                                      MessageAttributes.entry.1.Value.DataType=String &
 *                                      MessageAttributes.entry.1.Value.StringValue=... (BinaryValue: base64)
 *   Absent members are not sent at all; an empty string is sent as `Key=`; an empty map sends nothing.
 * Responses: `<{Op}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><{Op}Result>...</{Op}Result>
 *   <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></{Op}Response>` — the SDK drops the
 *   root element and reads `{Op}Result` (CreatePlatformEndpoint → `<EndpointArn>`, Publish →
 *   `<MessageId>`, GetEndpointAttributes → `<Attributes><entry><key>K</key><value>V</value></entry>...`).
 *   SetEndpointAttributes and DeleteEndpoint (Unit output) answer with ResponseMetadata only. The SDK
 *   takes `$metadata.requestId` from the `x-amzn-RequestId` header (sent as well).
 * Errors: `<ErrorResponse xmlns="..."><Error><Type>Sender|Receiver</Type><Code>C</Code><Message>M</Message>
 *   </Error><RequestId>...</RequestId></ErrorResponse>`. The SDK reads `Error.Code` and finds the modelled
 *   exception whose `awsQueryError` code is C (the HTTP status only matters for a body-less 404, which it
 *   names NotFound). The codes this server answers with, with SNS's statuses (from the model's httpError):
 *     InvalidParameter      400 → InvalidParameterException
 *     ParameterValueInvalid 400 → InvalidParameterValueException (message attribute problems)
 *     NotFound              404 → NotFoundException
 *     EndpointDisabled      400 → EndpointDisabledException
 *     Throttled             429 → ThrottledException   (not 400: the model says 429, and so does SNS)
 *     InternalError         500 → InternalErrorException ($fault "server")
 *     ValidationError       400 → not modelled: an SNSServiceException named "ValidationError" (SNS's
 *                                 answer to a missing required member)
 *   Shape errors of this stand-in (MissingAuthenticationToken, IncompleteSignature, XAmzContentSHA256Mismatch,
 *   MalformedQueryString, MissingAction, InvalidAction, NoSuchVersion: 400; SignatureDoesNotMatch: 403;
 *   RequestEntityTooLarge: 413) likewise become SNSServiceExceptions with that name.
 * Retries: the SDK's standard strategy (3 attempts by default) retries throttling errors (status 429 or
 *   the name ThrottledException; 500 ms backoff base) and transient ones (status 500/502/503/504; 100 ms
 *   base); 4xx errors are not retried.
 * Signing: SigV4, service name `sns` (`Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/
 *   us-east-1/sns/aws4_request, SignedHeaders=..., Signature=...`, `x-amz-date`, and `x-amz-content-sha256`
 *   = hex SHA-256 of the body). Checked structurally on every request (and the payload hash against the
 *   body); with `verifySignature` the signature itself is recomputed.
 *
 * Device inbox (for `npm start` and tests; not an SNS API): every push a device would receive (a Publish to
 * an enabled endpoint: the platform payload, token, CustomUserData, time) and every topic delivery (with
 * its `recipientId` message attribute), by recipient identity: `inbox(recipientId)`, and
 * `GET /inbox?recipientId=<identity id>` → `{"recipientId", "deliveries": [...]}` (all without the parameter).
 *
 * Behaviour, as SNS (messages are SNS's own where known: AWS-recorded responses and production code that
 * matches on them; the rest are marked "local wording" below):
 *   - ARNs: application `arn:aws:sns:us-east-1:123456789012:app/<platform>/<name>`, endpoint
 *     `...:endpoint/<platform>/<name>/<uuid>`, topic `...:<name>`.
 *   - CreatePlatformEndpoint is idempotent per (application, token): the existing endpoint's ARN comes
 *     back — also when that endpoint is disabled — unless the call gives a CustomUserData (parameter or
 *     attribute) or an Enabled attribute that differs from the endpoint's: then 400 InvalidParameter
 *     "Invalid parameter: Token Reason: Endpoint <arn> already exists with the same Token, but different
 *     attributes.". Members the call leaves out are not compared. Unknown application → 404 NotFound
 *     "PlatformApplication does not exist". APNs tokens must be hex, at most 400 characters ("Invalid
 *     parameter: Token Reason: iOS device tokens must be no more than 400 hexadecimal characters").
 *   - Endpoint attributes: only CustomUserData (≤ 2048 bytes), Enabled ("true" | "false") and Token.
 *     GetEndpointAttributes answers Enabled, Token and CustomUserData (when set). Get/Set on an unknown
 *     endpoint → 404 NotFound "Endpoint does not exist". DeleteEndpoint of an unknown endpoint succeeds.
 *   - Publish to an endpoint ARN that does not exist (never created, or deleted) → 400 InvalidParameter
 *     "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified" — NOT
 *     NotFound: that is what SNS answers (recorded against AWS in LocalStack's validated snapshots, and
 *     what production SNS clients match on). A disabled endpoint → 400 EndpointDisabled "Endpoint is
 *     disabled". An unknown topic → 404 NotFound "Topic does not exist". `TargetArn` may also name a
 *     topic (SNS allows it).
 *   - Publish validation: exactly one of TargetArn/TopicArn (local wording); Message required (missing →
 *     ValidationError, empty → "Invalid parameter: Empty message"); Subject, when given, 1-100 printable
 *     ASCII characters, not starting with a space ("Invalid parameter: Subject"); MessageStructure only
 *     "json"; message plus every attribute's name, type and value ≤ 262144 bytes ("Invalid parameter:
 *     Message too long");
 *     MessageAttributes validated as SNS does (names, DataType String/Number/Binary[.suffix], String and
 *     Number need a non-empty StringValue, Binary a BinaryValue: ParameterValueInvalid with SNS's messages).
 *   - MessageStructure=json: Message must parse ("Invalid parameter: Message Structure - JSON message
 *     body failed to parse") to an object; for a topic it needs a `default` key ("... - No default entry
 *     in JSON message body"); for an endpoint the platform's key or `default` (SNS lets a direct endpoint
 *     publish omit `default`). The payload handed to the platform (its key's value, else the default
 *     text) must fit the platform: APNS/APNS_SANDBOX ≤ 4096 bytes ("Invalid parameter: Message Reason:
 *     Invalid notification for protocol APNS: Notification is too long"), GCM ≤ 4096 bytes ("... protocol
 *     GCM: Notification data is larger than allowed limit").
 *
 * Deliberate differences from the real service (a local stand-in; stricter where that catches bugs):
 *   - Only the five actions above; anything else is 400 InvalidAction. No PhoneNumber, MessageGroupId or
 *     MessageDeduplicationId (400 MalformedQueryString naming the parameter), no subscriptions/fan-out:
 *     a topic publish is recorded and listed in the inbox (below) as one delivery to its `recipientId`. Form fields that are not members of the action,
 *     duplicated fields and gaps in map entry numbering are 400 MalformedQueryString.
 *   - MessageStructure=json keys must be SNS protocol keys (`default`, `APNS`, `GCM`, `sqs`, ...) with
 *     string values, and each mobile-platform value must itself be a JSON object (SNS ignores unknown
 *     keys and non-string values, and finds malformed platform JSON only at delivery). Local wording.
 *   - The default text is recorded as the platform payload as given; SNS wraps it for the platform
 *     (e.g. `{"aps":{"alert":...}}`), which this server does not emulate.
 *   - SetEndpointAttributes checks the new Token like CreatePlatformEndpoint does; a token shared by two
 *     endpoints of one application is not prevented (the first one wins an idempotent create).
 *   - Every ARN is in us-east-1, account 123456789012; credential scopes for another region are refused.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { SigV4Failure, verifySigV4 } from "./sigv4";

export type SnsPlatform = "APNS" | "APNS_SANDBOX" | "GCM";

/** One HTTP request the server received, as received. */
export interface RecordedSnsRequest {
    method: string;
    /** The URL path (always "/" for the SDK). */
    path: string;
    /** The form's `Action` ("" when missing). */
    action: string;
    /** Every decoded form field, `Action` and `Version` included (for a body that is not a form: {}). */
    params: Record<string, string>;
    headers: http.IncomingHttpHeaders;
    /** The body as UTF-8 text. */
    body: string;
    /** The HTTP status the server answered with. */
    status?: number;
    /** The error code answered with, if any. */
    errorCode?: string;
}

export interface PublishedMessageAttribute {
    DataType: string;
    StringValue?: string;
    BinaryValue?: Buffer;
}

/** One successful Publish. */
export interface PublishedMessage {
    messageId: string;
    /** The TargetArn or TopicArn, as given. */
    target: string;
    targetType: "endpoint" | "topic";
    message: string;
    messageStructure?: string;
    /** name → attribute, as sent. */
    messageAttributes: Record<string, PublishedMessageAttribute>;
    subject?: string;
    /** For an endpoint publish: what SNS hands to the platform, and the device token it goes to. */
    delivery?: { platform: SnsPlatform; token: string; payload: string; fromDefault: boolean };
}

/** One push as a device (or a topic subscriber) would receive it. */
export interface InboxDelivery {
    messageId: string;
    /** When SNS accepted it (ISO 8601). */
    at: string;
    via: "endpoint" | "topic";
    /** The endpoint or topic ARN published to. */
    target: string;
    /** The recipient identity: the endpoint's owner, or a topic message's `recipientId` attribute. */
    recipientId?: string;
    /** Endpoint deliveries: the platform, the device token and the endpoint's CustomUserData. */
    platform?: SnsPlatform;
    token?: string;
    customUserData?: string;
    /** What the device gets: the platform payload (endpoint), or the message for the default protocol (topic). */
    payload: string;
    subject?: string;
}

export interface LocalSnsEndpointState {
    applicationArn: string;
    token: string;
    enabled: boolean;
    customUserData?: string;
}

export interface LocalSns {
    /** http://127.0.0.1:<port> — pass as `endpoint` to `SNSClient` (or as AWS_ENDPOINT_URL_SNS). */
    endpoint: string;
    /** Every request received, in order (the live array). */
    requests: RecordedSnsRequest[];
    /** Copies of the successful publishes, in order. */
    publishes(): PublishedMessage[];
    /** Registers a platform application (idempotent); returns its ARN. */
    createApplication(platform: SnsPlatform, name: string): string;
    /** Registers a standard topic (idempotent); returns its ARN. */
    createTopic(name: string): string;
    /** A copy of every endpoint: ARN → state. */
    endpoints(): Map<string, LocalSnsEndpointState>;
    /** Marks an endpoint disabled, as SNS does on APNs/FCM feedback that the token is no longer valid. */
    disableEndpoint(arn: string): void;
    /**
     * The device inbox: every push a device would receive (a Publish to an enabled platform endpoint) and
     * every topic delivery, oldest first; only those for `recipientId` when given. Also served as JSON at
     * `GET <endpoint>/inbox?recipientId=<identity id>`.
     */
    inbox(recipientId?: string): Promise<InboxDelivery[]>;
    /**
     * Makes the next `count` Publish requests fail before any validation, recording nothing:
     *  - "throttle": HTTP 429 `Throttled` "Rate exceeded" → the SDK's ThrottledException.
     *  - "http500":  HTTP 500 `InternalError` → the SDK's InternalErrorException.
     * The SDK retries both (3 attempts by default), so a default client only throws once three
     * consecutive attempts have failed; `failNextPublishes(2, ...)` is absorbed by its retries
     * (`$metadata.attempts === 3`). Each HTTP request counts as one publish, retries included; requests
     * rejected before the action is known (signature, content type) do not count.
     */
    failNextPublishes(count: number, how: "throttle" | "http500"): void; // count 0 clears pending failures
    close(): Promise<void>;
}

export interface LocalSnsOptions {
    /** Port on 127.0.0.1; default (0) a free one. */
    port?: number;
    /** Recompute and check each request's SigV4 signature with this secret key (403 on mismatch). */
    verifySignature?: { secretAccessKey: string };
    /**
     * The identity a platform endpoint belongs to. The wire does not say (functions/devices.ts creates
     * endpoints without CustomUserData and keeps endpoint → owner in the devices table, index
     * `byEndpoint`), so `npm start` passes a lookup there. Default: the endpoint's CustomUserData, if any.
     */
    recipientOf?: (endpoint: { arn: string; token: string; customUserData?: string }) => Promise<string | undefined> | string | undefined;
    /** Prints each delivery in one line. */
    log?: (line: string) => void;
    /**
     * Keep the platform endpoints and the device inbox (its latest {@link MAX_INBOX_DELIVERIES} deliveries) in
     * `<dataDir>/sns.json` across restarts, written before each change is answered. Applications and topics are
     * the caller's, made again at each start. Default: memory only.
     */
    dataDir?: string;
}

export const REGION = "us-east-1";
export const ACCOUNT_ID = "123456789012";
export const API_VERSION = "2010-03-31";
export const XML_NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/";
/** SNS's limit on a message plus its attributes (names, types and values). */
export const MAX_MESSAGE_BYTES = 262_144;
/** What APNs and FCM accept per notification payload. */
export const PLATFORM_PAYLOAD_LIMITS: Record<SnsPlatform, number> = { APNS: 4096, APNS_SANDBOX: 4096, GCM: 4096 };
export const MAX_CUSTOM_USER_DATA_BYTES = 2048;
const MAX_TOKEN_BYTES = 8192;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** The device inbox keeps the latest deliveries only (in memory and in the data dir). */
export const MAX_INBOX_DELIVERIES = 1000;

const PLATFORMS: readonly SnsPlatform[] = ["APNS", "APNS_SANDBOX", "GCM"];
/** Keys SNS knows in a MessageStructure=json message. */
const PROTOCOL_KEYS = new Set([
    "default", "email", "email-json", "sqs", "lambda", "http", "https", "sms", "firehose", "application",
    "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "MACOS", "MACOS_SANDBOX", "GCM", "ADM", "BAIDU", "MPNS", "WNS",
]);
/** Mobile platform keys whose value is a JSON document (MPNS and WNS take XML). */
const JSON_PLATFORM_KEYS = new Set(["APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "MACOS", "MACOS_SANDBOX", "GCM", "ADM", "BAIDU"]);
const NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}$/;
const MESSAGE_ATTRIBUTE_NAME = /^(?!\.)(?!.*\.$)(?!.*\.\.)[A-Za-z0-9_.-]+$/;

/** An error answered as `status` with `<Code>code</Code>`. */
class WireError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
    ) {
        super(message);
    }
}

const invalidParameter = (message: string) => new WireError(400, "InvalidParameter", message);
const invalidValue = (message: string) => new WireError(400, "ParameterValueInvalid", message);
const malformed = (message: string) => new WireError(400, "MalformedQueryString", message);
const notFound = (message: string) => new WireError(404, "NotFound", message);
/** SNS's answer to a missing required member (names in lower camel case). */
const missing = (member: string) =>
    new WireError(
        400,
        "ValidationError",
        `1 validation error detected: Value null at '${member[0].toLowerCase()}${member.slice(1)}' failed to satisfy constraint: Member must not be null`,
    );

interface Endpoint {
    arn: string;
    applicationArn: string;
    platform: SnsPlatform;
    token: string;
    enabled: boolean;
    customUserData?: string;
}

/** The members of one action: scalar names, and map members with how their entries are keyed. */
interface ActionSpec {
    scalars: readonly string[];
    maps: Readonly<Record<string, "strings" | "messageAttributes">>;
    /** Real SNS members this server does not emulate: rejected by name. */
    unsupported?: readonly string[];
}

const ACTIONS: Record<string, ActionSpec> = {
    CreatePlatformEndpoint: { scalars: ["PlatformApplicationArn", "Token", "CustomUserData"], maps: { Attributes: "strings" } },
    GetEndpointAttributes: { scalars: ["EndpointArn"], maps: {} },
    SetEndpointAttributes: { scalars: ["EndpointArn"], maps: { Attributes: "strings" } },
    DeleteEndpoint: { scalars: ["EndpointArn"], maps: {} },
    Publish: {
        scalars: ["TopicArn", "TargetArn", "Message", "Subject", "MessageStructure"],
        maps: { MessageAttributes: "messageAttributes" },
        unsupported: ["PhoneNumber", "MessageGroupId", "MessageDeduplicationId"],
    },
};

/** A request's members after form decoding. */
interface Input {
    scalars: Map<string, string>;
    stringMaps: Map<string, Map<string, string>>;
    attributeMaps: Map<string, Map<string, Partial<Record<"DataType" | "StringValue" | "BinaryValue", string>>>>;
}

export async function startSns(options: LocalSnsOptions = {}): Promise<LocalSns> {
    const applications = new Map<string, { platform: SnsPlatform; name: string }>();
    const topics = new Set<string>();
    const endpoints = new Map<string, Endpoint>();
    const published: PublishedMessage[] = [];
    const requests: RecordedSnsRequest[] = [];
    const failures: Array<"throttle" | "http500"> = [];
    const deliveries: Array<InboxDelivery & { resolving?: Promise<void> }> = [];
    const log = options.log ?? (() => undefined);

    const file = options.dataDir === undefined ? undefined : path.join(options.dataDir, "sns.json");
    if (file !== undefined && fs.existsSync(file)) {
        const saved = JSON.parse(fs.readFileSync(file, "utf8")) as { endpoints: Endpoint[]; deliveries: InboxDelivery[] };
        for (const endpoint of saved.endpoints) endpoints.set(endpoint.arn, endpoint);
        deliveries.push(...saved.deliveries.slice(-MAX_INBOX_DELIVERIES));
    }
    /** Written before a change is answered (an endpoint push again once its recipient is known). */
    const save = () => {
        if (file === undefined) return;
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const kept = { endpoints: [...endpoints.values()], deliveries: deliveries.map(({ resolving: _resolving, ...d }) => d) };
        fs.writeFileSync(`${file}.tmp`, JSON.stringify(kept));
        fs.renameSync(`${file}.tmp`, file);
    };

    function deliver(entry: InboxDelivery, endpoint?: Endpoint): void {
        const stored: InboxDelivery & { resolving?: Promise<void> } = entry;
        deliveries.push(stored);
        if (deliveries.length > MAX_INBOX_DELIVERIES) deliveries.splice(0, deliveries.length - MAX_INBOX_DELIVERIES);
        save();
        const print = () =>
            log(`push ${entry.via === "endpoint" ? `${entry.platform} ${entry.token}` : `topic ${entry.target.split(":").pop()}`} → ${entry.recipientId ?? "(unknown recipient)"}: ${entry.payload}`);
        if (endpoint === undefined) return print();
        const lookup = options.recipientOf ?? ((e: { customUserData?: string }) => e.customUserData);
        stored.resolving = Promise.resolve()
            .then(() => lookup({ arn: endpoint.arn, token: endpoint.token, ...(endpoint.customUserData === undefined ? {} : { customUserData: endpoint.customUserData }) }))
            .then(
                (recipientId) => {
                    if (recipientId !== undefined) stored.recipientId = recipientId;
                },
                (error: unknown) => log(`push: could not find the owner of ${endpoint.arn}: ${error instanceof Error ? error.message : String(error)}`),
            )
            .then(() => {
                delete stored.resolving;
                try {
                    save();
                } catch (error) {
                    log(`push: could not write ${file}: ${error instanceof Error ? error.message : String(error)}`);
                }
                print();
            });
    }

    async function inbox(recipientId?: string): Promise<InboxDelivery[]> {
        await Promise.all(deliveries.map((d) => d.resolving));
        return deliveries
            .filter((d) => recipientId === undefined || d.recipientId === recipientId)
            .map(({ resolving: _resolving, ...d }) => ({ ...d }));
    }

    function serveInbox(url: URL, res: http.ServerResponse): void {
        const recipientId = url.searchParams.get("recipientId") ?? undefined;
        inbox(recipientId).then(
            (found) => {
                res.writeHead(200, { "content-type": "application/json" });
                res.end(JSON.stringify({ ...(recipientId === undefined ? {} : { recipientId }), deliveries: found }));
            },
            (error: unknown) => {
                res.writeHead(500, { "content-type": "application/json" });
                res.end(JSON.stringify({ success: false, error: { code: "InternalError", message: error instanceof Error ? error.message : String(error) } }));
            },
        );
    }

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let tooLarge = false;
        req.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BUFFERED_BYTES) tooLarge = true;
            else chunks.push(chunk);
        });
        req.on("end", () => {
            const raw = Buffer.concat(chunks);
            const url = new URL(req.url ?? "/", "http://127.0.0.1");
            if (req.method === "GET" && url.pathname === "/inbox") return serveInbox(url, res);
            const recorded: RecordedSnsRequest = {
                method: req.method ?? "",
                path: url.pathname,
                action: "",
                params: {},
                headers: req.headers,
                body: raw.toString("utf8"),
            };
            requests.push(recorded);
            const requestId = randomUUID();
            let status = 200;
            let xml: string;
            try {
                if (tooLarge) throw new WireError(413, "RequestEntityTooLarge", `request body over ${MAX_BUFFERED_BYTES} bytes`);
                try {
                    verifySigV4(req, url, raw, { service: "sns", region: REGION, secret: options.verifySignature?.secretAccessKey });
                } catch (err) {
                    if (err instanceof SigV4Failure) throw new WireError(err.status, err.code, err.message);
                    throw err;
                }
                const form = parseForm(req, url, raw);
                recorded.params = Object.fromEntries(form);
                recorded.action = form.get("Action") ?? "";
                const action = checkAction(form);
                const input = parseInput(action, form);
                const result = dispatch(action, input);
                if (action === "CreatePlatformEndpoint" || action === "SetEndpointAttributes" || action === "DeleteEndpoint") save();
                xml =
                    `<${action}Response xmlns="${XML_NAMESPACE}">` +
                    (result === undefined ? "" : `<${action}Result>${result}</${action}Result>`) +
                    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
            } catch (e) {
                const error = e instanceof WireError ? e : new WireError(500, "InternalError", e instanceof Error ? e.message : String(e));
                status = error.status;
                recorded.errorCode = error.code;
                xml =
                    `<ErrorResponse xmlns="${XML_NAMESPACE}"><Error><Type>${status >= 500 ? "Receiver" : "Sender"}</Type>` +
                    `<Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error>` +
                    `<RequestId>${requestId}</RequestId></ErrorResponse>`;
            }
            recorded.status = status;
            res.writeHead(status, { "content-type": "text/xml", "x-amzn-RequestId": requestId });
            res.end(xml);
        });
    });

    function dispatch(action: string, input: Input): string | undefined {
        switch (action) {
            case "CreatePlatformEndpoint":
                return createPlatformEndpoint(input);
            case "GetEndpointAttributes":
                return getEndpointAttributes(input);
            case "SetEndpointAttributes":
                setEndpointAttributes(input);
                return undefined;
            case "DeleteEndpoint":
                deleteEndpoint(input);
                return undefined;
            case "Publish":
                return publish(input);
            default:
                throw new WireError(400, "InvalidAction", `The action ${action} is not valid for this web service.`);
        }
    }

    // ---- actions ---------------------------------------------------------------------------------------

    function createPlatformEndpoint(input: Input): string {
        const applicationArn = required(input, "PlatformApplicationArn");
        const token = required(input, "Token");
        const attributes = input.stringMaps.get("Attributes") ?? new Map<string, string>();
        const arn = parseArn(applicationArn, "PlatformApplicationArn");
        const application = applications.get(applicationArn);
        if (!arn.resource.startsWith("app/") || !application) throw notFound("PlatformApplication does not exist");
        validateEndpointAttributes(attributes);
        if (attributes.has("Token") && attributes.get("Token") !== token) {
            throw invalidParameter("Invalid parameter: Attributes Reason: the Token attribute differs from the Token parameter (local wording)");
        }
        validateToken(application.platform, token);
        // CustomUserData may come as a parameter or an attribute; the attribute wins (as in SNS).
        const customUserData = attributes.get("CustomUserData") ?? input.scalars.get("CustomUserData");
        if (customUserData !== undefined) validateCustomUserData(customUserData);
        const enabled = attributes.has("Enabled") ? attributes.get("Enabled") === "true" : undefined;

        for (const existing of endpoints.values()) {
            if (existing.applicationArn !== applicationArn || existing.token !== token) continue;
            const differs =
                (customUserData !== undefined && customUserData !== existing.customUserData) ||
                (enabled !== undefined && enabled !== existing.enabled);
            if (differs) {
                throw invalidParameter(
                    `Invalid parameter: Token Reason: Endpoint ${existing.arn} already exists with the same Token, but different attributes.`,
                );
            }
            return `<EndpointArn>${escapeXml(existing.arn)}</EndpointArn>`;
        }
        const endpointArn = `arn:aws:sns:${REGION}:${ACCOUNT_ID}:endpoint/${application.platform}/${application.name}/${randomUUID()}`;
        endpoints.set(endpointArn, {
            arn: endpointArn,
            applicationArn,
            platform: application.platform,
            token,
            enabled: enabled ?? true,
            ...(customUserData === undefined ? {} : { customUserData }),
        });
        return `<EndpointArn>${escapeXml(endpointArn)}</EndpointArn>`;
    }

    function getEndpointAttributes(input: Input): string {
        const endpoint = existingEndpoint(required(input, "EndpointArn"));
        const attributes: Array<[string, string]> = [["Enabled", String(endpoint.enabled)], ["Token", endpoint.token]];
        if (endpoint.customUserData !== undefined) attributes.push(["CustomUserData", endpoint.customUserData]);
        return `<Attributes>${attributes.map(([k, v]) => `<entry><key>${k}</key><value>${escapeXml(v)}</value></entry>`).join("")}</Attributes>`;
    }

    function setEndpointAttributes(input: Input): void {
        const endpointArn = required(input, "EndpointArn");
        const attributes = input.stringMaps.get("Attributes");
        if (attributes === undefined) throw missing("Attributes");
        const endpoint = existingEndpoint(endpointArn);
        validateEndpointAttributes(attributes);
        const token = attributes.get("Token");
        if (token !== undefined) validateToken(endpoint.platform, token);
        const customUserData = attributes.get("CustomUserData");
        if (customUserData !== undefined) validateCustomUserData(customUserData);
        if (token !== undefined) endpoint.token = token;
        if (attributes.has("Enabled")) endpoint.enabled = attributes.get("Enabled") === "true";
        if (customUserData !== undefined) endpoint.customUserData = customUserData;
    }

    function deleteEndpoint(input: Input): void {
        const endpointArn = required(input, "EndpointArn");
        parseEndpointArn(endpointArn, "EndpointArn");
        endpoints.delete(endpointArn); // idempotent, as in SNS
    }

    function publish(input: Input): string {
        const failure = failures.shift();
        if (failure === "throttle") throw new WireError(429, "Throttled", "Rate exceeded");
        if (failure === "http500") throw new WireError(500, "InternalError", "injected failure (failNextPublishes)");

        const message = required(input, "Message");
        const subject = input.scalars.get("Subject");
        if (subject !== undefined && !/^[\x21-\x7E][\x20-\x7E]{0,99}$/.test(subject)) throw invalidParameter("Invalid parameter: Subject");
        if (message === "") throw invalidParameter("Invalid parameter: Empty message");
        const attributes = messageAttributes(input.attributeMaps.get("MessageAttributes"));
        let size = Buffer.byteLength(message);
        for (const [name, a] of Object.entries(attributes)) {
            size += Buffer.byteLength(name) + Buffer.byteLength(a.DataType);
            size += a.BinaryValue?.length ?? Buffer.byteLength(a.StringValue ?? "");
        }
        if (size > MAX_MESSAGE_BYTES) throw invalidParameter("Invalid parameter: Message too long");

        const topicArn = input.scalars.get("TopicArn");
        const targetArn = input.scalars.get("TargetArn");
        if (topicArn !== undefined && targetArn !== undefined) {
            throw invalidParameter("Invalid parameter: TopicArn or TargetArn Reason: both were given; a Publish takes one or the other (local wording)");
        }
        const target = targetArn ?? topicArn;
        if (target === undefined) {
            throw invalidParameter("Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter (local wording)");
        }
        const param = targetArn !== undefined ? "TargetArn" : "TopicArn";
        const arn = parseArn(target, param);
        const isEndpoint = arn.resource.startsWith("endpoint/");
        if (isEndpoint && param === "TopicArn") throw invalidParameter("Invalid parameter: TopicArn");
        if (isEndpoint) parseEndpointArn(target, param);
        else if (!TOPIC_NAME.test(arn.resource)) throw invalidParameter(`Invalid parameter: ${param}`);

        const structure = input.scalars.get("MessageStructure");
        if (structure !== undefined && structure !== "json") throw invalidParameter("Invalid parameter: MessageStructure");
        const entries = structure === "json" ? jsonMessage(message) : undefined;
        if (entries !== undefined && !isEndpoint && entries.default === undefined) {
            throw invalidParameter("Invalid parameter: Message Structure - No default entry in JSON message body");
        }

        let delivery: PublishedMessage["delivery"];
        if (isEndpoint) {
            const endpoint = endpoints.get(target);
            if (!endpoint) throw invalidParameter("Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified");
            if (!endpoint.enabled) throw new WireError(400, "EndpointDisabled", "Endpoint is disabled");
            const own = entries?.[endpoint.platform];
            const payload = entries === undefined ? message : (own ?? entries.default);
            if (payload === undefined) {
                throw invalidParameter("Invalid parameter: Message Structure - No default entry in JSON message body");
            }
            if (Buffer.byteLength(payload) > PLATFORM_PAYLOAD_LIMITS[endpoint.platform]) {
                const reason = endpoint.platform === "GCM" ? "Notification data is larger than allowed limit" : "Notification is too long";
                throw invalidParameter(`Invalid parameter: Message Reason: Invalid notification for protocol ${endpoint.platform}: ${reason}`);
            }
            delivery = { platform: endpoint.platform, token: endpoint.token, payload, fromDefault: own === undefined };
        } else if (!topics.has(target)) {
            throw notFound("Topic does not exist");
        }

        const messageId = randomUUID();
        published.push({
            messageId,
            target,
            targetType: isEndpoint ? "endpoint" : "topic",
            message,
            ...(structure === undefined ? {} : { messageStructure: structure }),
            messageAttributes: attributes,
            ...(subject === undefined ? {} : { subject }),
            ...(delivery === undefined ? {} : { delivery }),
        });
        const endpoint = isEndpoint ? endpoints.get(target) : undefined;
        const recipient = attributes.recipientId?.StringValue;
        deliver(
            {
                messageId,
                at: new Date().toISOString(),
                via: isEndpoint ? "endpoint" : "topic",
                target,
                ...(delivery ? { platform: delivery.platform, token: delivery.token, payload: delivery.payload } : { payload: entries?.default ?? message }),
                ...(endpoint?.customUserData === undefined ? {} : { customUserData: endpoint.customUserData }),
                ...(!isEndpoint && recipient !== undefined ? { recipientId: recipient } : {}),
                ...(subject === undefined ? {} : { subject }),
            },
            endpoint,
        );
        return `<MessageId>${messageId}</MessageId>`;
    }

    // ---- validation helpers ------------------------------------------------------------------------------

    function existingEndpoint(endpointArn: string): Endpoint {
        parseEndpointArn(endpointArn, "EndpointArn");
        const endpoint = endpoints.get(endpointArn);
        if (!endpoint) throw notFound("Endpoint does not exist");
        return endpoint;
    }

    /** A MessageStructure=json message: protocol key → string value. */
    function jsonMessage(message: string): Record<string, string> {
        let parsed: unknown;
        try {
            parsed = JSON.parse(message);
        } catch {
            throw invalidParameter("Invalid parameter: Message Structure - JSON message body failed to parse");
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
            throw invalidParameter("Invalid parameter: Message Structure - JSON message body failed to parse");
        }
        const entries: Record<string, string> = {};
        for (const [key, value] of Object.entries(parsed)) {
            if (!PROTOCOL_KEYS.has(key)) {
                throw invalidParameter(
                    `Invalid parameter: Message Structure - unknown key '${key}': expected default or a protocol key (${[...PROTOCOL_KEYS].join(", ")}) (local wording)`,
                );
            }
            if (typeof value !== "string") {
                throw invalidParameter(
                    `Invalid parameter: Message Structure - the value of '${key}' must be a JSON string (an escaped JSON document for a platform), got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value} (local wording)`,
                );
            }
            if (JSON_PLATFORM_KEYS.has(key)) {
                let doc: unknown;
                try {
                    doc = JSON.parse(value);
                } catch {
                    doc = undefined;
                }
                if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
                    throw invalidParameter(
                        `Invalid parameter: Message Reason: Invalid notification for protocol ${key}: the ${key} value must be a JSON object encoded as a string (local wording)`,
                    );
                }
            }
            entries[key] = value;
        }
        return entries;
    }

    const endpoint = await listen(server, options.port ?? 0);
    return {
        endpoint,
        requests,
        publishes: () =>
            published.map((p) => ({
                ...p,
                messageAttributes: Object.fromEntries(
                    Object.entries(p.messageAttributes).map(([k, v]) => [k, { ...v, ...(v.BinaryValue ? { BinaryValue: Buffer.from(v.BinaryValue) } : {}) }]),
                ),
                ...(p.delivery ? { delivery: { ...p.delivery } } : {}),
            })),
        createApplication(platform, name) {
            if (!PLATFORMS.includes(platform)) throw new Error(`createApplication: platform must be one of ${PLATFORMS.join(", ")}, got ${platform}`);
            if (!NAME.test(name)) throw new Error(`createApplication: invalid application name '${name}' (1-256 of A-Za-z0-9_.-)`);
            const arn = `arn:aws:sns:${REGION}:${ACCOUNT_ID}:app/${platform}/${name}`;
            if (!applications.has(arn)) applications.set(arn, { platform, name });
            return arn;
        },
        createTopic(name) {
            if (!TOPIC_NAME.test(name)) throw new Error(`createTopic: invalid topic name '${name}' (1-256 of A-Za-z0-9_-)`);
            const arn = `arn:aws:sns:${REGION}:${ACCOUNT_ID}:${name}`;
            topics.add(arn);
            return arn;
        },
        endpoints: () =>
            new Map(
                [...endpoints].map(([arn, e]) => [
                    arn,
                    {
                        applicationArn: e.applicationArn,
                        token: e.token,
                        enabled: e.enabled,
                        ...(e.customUserData === undefined ? {} : { customUserData: e.customUserData }),
                    },
                ]),
            ),
        inbox,
        disableEndpoint(arn) {
            const endpoint = endpoints.get(arn);
            if (!endpoint) throw new Error(`disableEndpoint: no endpoint ${arn}`);
            endpoint.enabled = false;
            save();
        },
        failNextPublishes(count, how) {
            if (!Number.isInteger(count) || count < 0) throw new Error(`failNextPublishes: count must be a non-negative integer, got ${count}`);
            if (how !== "throttle" && how !== "http500") throw new Error(`failNextPublishes: how must be "throttle" or "http500", got ${String(how)}`);
            if (count === 0) failures.length = 0; // 0: clear whatever was still queued
            for (let i = 0; i < count; i++) failures.push(how);
        },
        close: async () => {
            // The recipients still being looked up, so that their deliveries are written before the endpoint stops.
            await Promise.all(deliveries.map((d) => d.resolving));
            await new Promise<void>((resolve, reject) => {
                server.close((e) => (e ? reject(e) : resolve()));
                server.closeAllConnections();
            });
        },
    };
}

// ---- request decoding ----------------------------------------------------------------------------------

/** The body's form fields. Only `POST /` with a form body, as the SDK sends. */
function parseForm(req: http.IncomingMessage, url: URL, raw: Buffer): Map<string, string> {
    if (req.method !== "POST") {
        throw malformed(`this local SNS takes POST / with a form-encoded body (what @aws-sdk/client-sns sends), not ${req.method}`);
    }
    if (url.pathname !== "/" || url.search !== "") throw malformed(`requests go to POST / without a query string, not ${req.url}`);
    const header = req.headers["content-type"] ?? "";
    const [mediaType, ...parameters] = header.split(";").map((s) => s.trim().toLowerCase());
    if (mediaType !== "application/x-www-form-urlencoded") {
        throw malformed(`Content-Type must be application/x-www-form-urlencoded (an AWS Query request), got ${JSON.stringify(header)}`);
    }
    const charset = parameters.find((p) => p.startsWith("charset="));
    if (charset !== undefined && charset.replace(/"/g, "") !== "charset=utf-8") {
        throw malformed(`only UTF-8 form bodies are understood, got ${JSON.stringify(header)}`);
    }
    const text = raw.toString("utf8");
    const form = new Map<string, string>();
    if (text === "") return form;
    for (const pair of text.split("&")) {
        const eq = pair.indexOf("=");
        const rawKey = eq < 0 ? pair : pair.slice(0, eq);
        const rawValue = eq < 0 ? "" : pair.slice(eq + 1);
        let key: string;
        let value: string;
        try {
            key = decodeURIComponent(rawKey.replace(/\+/g, " "));
            value = decodeURIComponent(rawValue.replace(/\+/g, " "));
        } catch {
            throw malformed(`malformed percent-encoding in form field ${JSON.stringify(pair.slice(0, 100))}`);
        }
        if (key === "") throw malformed(`form field without a name: ${JSON.stringify(pair.slice(0, 100))}`);
        if (form.has(key)) throw malformed(`form field '${key}' given more than once`);
        form.set(key, value);
    }
    return form;
}

function checkAction(form: Map<string, string>): string {
    const action = form.get("Action");
    if (action === undefined || action === "") throw new WireError(400, "MissingAction", "The request must contain the parameter Action");
    if (!(action in ACTIONS)) {
        throw new WireError(400, "InvalidAction", `The action ${action} is not valid for this web service (this local SNS serves ${Object.keys(ACTIONS).join(", ")}).`);
    }
    const version = form.get("Version");
    if (version !== API_VERSION) {
        throw new WireError(400, "NoSuchVersion", `The requested version (${version ?? "none"}) of service AmazonSNS does not exist; expected Version=${API_VERSION}`);
    }
    return action;
}

/** Sorts the form into the action's members; anything else is an error naming the field. */
function parseInput(action: string, form: Map<string, string>): Input {
    const spec = ACTIONS[action];
    const input: Input = { scalars: new Map(), stringMaps: new Map(), attributeMaps: new Map() };
    const entries = new Map<string, Map<number, Map<string, string>>>();
    for (const [key, value] of form) {
        if (key === "Action" || key === "Version") continue;
        if (spec.scalars.includes(key)) {
            input.scalars.set(key, value);
            continue;
        }
        if (spec.unsupported?.includes(key)) throw malformed(`${action} parameter '${key}' is not supported by this local SNS`);
        const m = /^([A-Za-z]+)\.entry\.([1-9]\d*)\.(.+)$/.exec(key);
        const kind = m ? spec.maps[m[1]] : undefined;
        const suffixes = kind === "strings" ? ["key", "value"] : ["Name", "Value.DataType", "Value.StringValue", "Value.BinaryValue"];
        if (!m || kind === undefined || !suffixes.includes(m[3])) {
            const members = [...spec.scalars, ...Object.keys(spec.maps).map((k) => `${k}.entry.N.*`)];
            throw malformed(`unexpected form field '${key}' for ${action} (its members: ${members.join(", ")})`);
        }
        const byIndex = entries.get(m[1]) ?? new Map<number, Map<string, string>>();
        entries.set(m[1], byIndex);
        const entry = byIndex.get(Number(m[2])) ?? new Map<string, string>();
        byIndex.set(Number(m[2]), entry);
        entry.set(m[3], value);
    }
    for (const [member, byIndex] of entries) {
        const indexes = [...byIndex.keys()].sort((a, b) => a - b);
        indexes.forEach((n, i) => {
            if (n !== i + 1) throw malformed(`${member} entries must be numbered 1..${indexes.length} without gaps, got ${indexes.join(", ")}`);
        });
        const keyField = spec.maps[member] === "strings" ? "key" : "Name";
        const strings = new Map<string, string>();
        const attributes = new Map<string, Partial<Record<"DataType" | "StringValue" | "BinaryValue", string>>>();
        for (const n of indexes) {
            const entry = byIndex.get(n) as Map<string, string>;
            const name = entry.get(keyField);
            if (name === undefined) throw malformed(`${member}.entry.${n} has no ${keyField}`);
            if (strings.has(name) || attributes.has(name)) throw invalidParameter("Invalid parameter: Duplicated keys are not allowed.");
            if (spec.maps[member] === "strings") {
                const value = entry.get("value");
                if (value === undefined) throw malformed(`${member}.entry.${n} (${name}) has no value`);
                strings.set(name, value);
            } else {
                attributes.set(name, {
                    ...(entry.has("Value.DataType") ? { DataType: entry.get("Value.DataType") } : {}),
                    ...(entry.has("Value.StringValue") ? { StringValue: entry.get("Value.StringValue") } : {}),
                    ...(entry.has("Value.BinaryValue") ? { BinaryValue: entry.get("Value.BinaryValue") } : {}),
                });
            }
        }
        if (spec.maps[member] === "strings") input.stringMaps.set(member, strings);
        else input.attributeMaps.set(member, attributes);
    }
    return input;
}

function required(input: Input, member: string): string {
    const value = input.scalars.get(member);
    if (value === undefined) throw missing(member);
    return value;
}

/** An SNS ARN's parts; `param` names the parameter in SNS's messages. */
function parseArn(value: string, param: string): { region: string; account: string; resource: string } {
    const parts = value.split(":");
    if (parts.length < 6) throw invalidParameter(`Invalid parameter: ${param} Reason: An ARN must have at least 6 elements, not ${parts.length}`);
    const [prefix, partition, service, region, account] = parts;
    const resource = parts.slice(5).join(":");
    if (prefix !== "arn" || partition !== "aws" || service !== "sns" || resource === "") throw invalidParameter(`Invalid parameter: ${param}`);
    return { region, account, resource };
}

function parseEndpointArn(value: string, param: string): void {
    const { resource } = parseArn(value, param);
    if (!resource.startsWith("endpoint/")) throw invalidParameter(`Invalid parameter: ${param}`);
    if (resource.split("/").length !== 4) {
        throw invalidParameter(`Invalid parameter: ${param} Reason: Wrong number of slashes in relative portion of the ARN.`);
    }
}

function validateEndpointAttributes(attributes: Map<string, string>): void {
    for (const [name, value] of attributes) {
        if (name !== "CustomUserData" && name !== "Enabled" && name !== "Token") {
            throw invalidParameter(`Invalid parameter: Attributes Reason: Invalid attribute name: ${name}`);
        }
        if (name === "Enabled" && value !== "true" && value !== "false") {
            throw invalidParameter(`Invalid parameter: Attributes Reason: Invalid value for attribute: Enabled: must be "true" or "false", got ${JSON.stringify(value)} (local wording)`);
        }
    }
}

function validateCustomUserData(value: string): void {
    if (Buffer.byteLength(value) > MAX_CUSTOM_USER_DATA_BYTES) {
        throw invalidParameter("Invalid parameter: Attributes Reason: Invalid value for attribute: CustomUserData: must be at most 2048 bytes long in UTF-8 encoding");
    }
}

function validateToken(platform: SnsPlatform, token: string): void {
    if (token === "") throw invalidParameter("Invalid parameter: Token Reason: cannot be empty (local wording)");
    if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) {
        throw invalidParameter("Invalid parameter: Token Reason: must be at most 8192 bytes long in UTF-8 encoding");
    }
    if ((platform === "APNS" || platform === "APNS_SANDBOX") && !/^[0-9A-Fa-f]{1,400}$/.test(token)) {
        throw invalidParameter("Invalid parameter: Token Reason: iOS device tokens must be no more than 400 hexadecimal characters");
    }
}

/** Publish's MessageAttributes, validated as SNS does (its messages). */
function messageAttributes(
    raw: Map<string, Partial<Record<"DataType" | "StringValue" | "BinaryValue", string>>> | undefined,
): Record<string, PublishedMessageAttribute> {
    const result: Record<string, PublishedMessageAttribute> = {};
    for (const [name, attribute] of raw ?? []) {
        if (Buffer.byteLength(name) > 256) throw invalidValue("Length of message attribute name must be less than 256 bytes.");
        if (!MESSAGE_ATTRIBUTE_NAME.test(name)) {
            if (name.startsWith(".")) throw invalidValue("Invalid message attribute name starting with character '.' was found.");
            if (name.endsWith(".")) throw invalidValue("Invalid message attribute name ending with character '.' was found.");
            const bad = [...name].find((c) => !/[A-Za-z0-9_.-]/.test(c));
            if (bad !== undefined) {
                throw invalidValue(
                    `Invalid non-alphanumeric character '#x${(bad.codePointAt(0) as number).toString(16).toUpperCase()}' was found in the message attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots.`,
                );
            }
            throw invalidValue("Message attribute name can not have successive '.' character.");
        }
        const type = attribute.DataType;
        if (type === undefined) throw missing(`MessageAttributes.${name}.member.dataType`);
        if (!/^(String|Number|Binary)(\..+)?$/.test(type)) {
            throw invalidValue(`The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`);
        }
        const binary = type.startsWith("Binary");
        const field = binary ? "BinaryValue" : "StringValue";
        const value = attribute[field];
        if (value === undefined) {
            if (attribute.StringValue === undefined && attribute.BinaryValue === undefined) {
                throw invalidValue(`The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${type}'.`);
            }
            throw invalidValue(`The message attribute '${name}' with type '${type}' must use field '${binary ? "Binary" : "String"}'.`);
        }
        if (value === "") {
            throw invalidValue(`The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${type}'.`);
        }
        if (binary) {
            if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
                throw invalidValue(`The message attribute '${name}' has a BinaryValue that is not base64 (local wording).`);
            }
            result[name] = { DataType: type, BinaryValue: Buffer.from(value, "base64") };
        } else {
            if (type.startsWith("Number") && !/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value)) {
                throw invalidValue(`Could not cast message attribute '${name}' value to number.`);
            }
            result[name] = { DataType: type, StringValue: value };
        }
    }
    return result;
}

/** Text for an XML element: `&`, `<`, `>` escaped, and `\r` as a reference (the SDK's parser folds raw CR LF into LF). */
function escapeXml(text: string): string {
    return text.replace(/[&<>\r]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;" })[c] as string);
}


/** Listens on 127.0.0.1:`port` (0: a free port); resolves with the base URL. */
function listen(server: http.Server, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    });
}

/**
 * Creates, on the local SNS, the platform applications and the topic the Notifications component
 * (infra/notifications.ts) creates, under the ARNs the program hands its functions (the sender's
 * APNS_APPLICATION_ARN, FCM_APPLICATION_ARN and NOTIFICATIONS_TOPIC_ARN; absent ones are skipped).
 */
export function createPlatformApplicationsAndTopic(
    sns: Pick<LocalSns, "createApplication" | "createTopic">,
    arns: { APNS_APPLICATION_ARN?: string; FCM_APPLICATION_ARN?: string; NOTIFICATIONS_TOPIC_ARN?: string },
): void {
    for (const arn of [arns.APNS_APPLICATION_ARN, arns.FCM_APPLICATION_ARN]) {
        if (!arn) continue;
        const m = /^arn:aws:sns:[^:]+:\d+:app\/(APNS|APNS_SANDBOX|GCM)\/([^/]+)$/.exec(arn);
        if (!m) throw new Error(`not a platform application ARN: ${arn}`);
        const created = sns.createApplication(m[1] as SnsPlatform, m[2]);
        if (created !== arn) throw new Error(`the local SNS is in ${REGION}/${ACCOUNT_ID}: cannot create ${arn} (got ${created})`);
    }
    if (arns.NOTIFICATIONS_TOPIC_ARN) {
        const created = sns.createTopic(arns.NOTIFICATIONS_TOPIC_ARN.split(":").pop() ?? "");
        if (created !== arns.NOTIFICATIONS_TOPIC_ARN) throw new Error(`the local SNS is in ${REGION}/${ACCOUNT_ID}: cannot create ${arns.NOTIFICATIONS_TOPIC_ARN} (got ${created})`);
    }
}
