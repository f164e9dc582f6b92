/**
 * `npm run openapi`: the client's OpenAPI document, for each stage's stack file.
 * - it is valid OpenAPI 3.0 (swagger-parser) and has no AWS extension;
 * - every route declares its success bodies, and every status code it can answer (its function's errors and
 *   API Gateway's own) has a response in the error shape, with an example that its schema accepts (ajv-draft-04:
 *   the schemas are API Gateway models too);
 * - the deployed document (infra/openapi.ts) declares the same responses and models: one set of declarations;
 * - the functions' real answers conform: the notes, uploads, devices and blocks handlers run in-process against
 *   dynalite, the local S3 endpoint and the local SNS, and every body they answer with is validated against the schema the
 *   document gives for that route and status.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import Ajv from "ajv-draft-04";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SNSClient } from "@aws-sdk/client-sns";
import { handleBlocksRequest } from "../functions/blocks";
import { handleDevicesRequest } from "../functions/devices";
import { handleNotesRequest } from "../functions/notes";
import { handleUploadsRequest, type UploadsSettings } from "../functions/uploads";
import { routeSettings, run, stageClientDocument } from "../cli/openapi";
import { LIMITS_TABLE_KEYS, NOTES_TABLE_KEYS } from "../infra/data";
import { BLOCKS_TABLE_KEYS, DEVICES_TABLE_KEYS } from "../infra/notifications";
import { openApiDocument } from "../infra/openapi";
import { stageRoutes } from "../infra/routes";
import { startS3, type LocalS3 } from "../local/s3";
import { freshTable, startDynamo, type LocalDynamo } from "./support/dynamodb";
import { apiEvent, type ApiCall } from "./support/events";
import { openApiProblems } from "./support/openapi";
import { startSns, type LocalSns } from "../local/sns";

const ROOT = path.join(__dirname, "..");
const STAGES = ["dev", "prod"];
const stackFile = (stage: string) => fs.readFileSync(path.join(ROOT, `Pulumi.${stage}.yaml`), "utf8");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
const clientDocs: Record<string, Doc> = Object.fromEntries(STAGES.map((s) => [s, stageClientDocument(s, stackFile(s))]));
const deployedDocs: Record<string, Doc> = Object.fromEntries(
    STAGES.map((s) => [
        s,
        openApiDocument(
            `mobile-backend ${s}`,
            stageRoutes(routeSettings(s, stackFile(s))).map((routes) => ({
                routes,
                integrationUri: `arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:${routes.name}/invocations`,
            })),
        ),
    ]),
);

/** Every operation of a document as `METHOD /path` and its object. */
function operations(doc: Doc): [string, Doc][] {
    return Object.entries(doc.paths as Doc).flatMap(([p, methods]) => Object.entries(methods as Doc).map(([m, op]): [string, Doc] => [`${m.toUpperCase()} ${p}`, op as Doc]));
}

/** An ajv-draft-04 validator of a document's component schemas (strict: an unknown keyword is an error). */
function validatorOf(doc: Doc): (model: string, value: unknown) => string | undefined {
    const ajv = new Ajv({ strict: true, allErrors: true });
    // OpenAPI's own keywords that may appear in a component schema (none do; listed to keep strict mode honest).
    for (const [name, schema] of Object.entries(doc.components.schemas as Doc)) ajv.addSchema(schema, name);
    return (model, value) => {
        const validate = ajv.getSchema(model);
        if (!validate) return `no schema ${model}`;
        return validate(value) ? undefined : ajv.errorsText(validate.errors);
    };
}

const modelOf = (response: Doc): string => (response.content["application/json"].schema.$ref as string).split("/").pop() as string;

describe.each(STAGES)("%s: openapi.json", (stage) => {
    const doc = clientDocs[stage];

    test("is valid OpenAPI 3.0 and has no AWS extension", async () => {
        expect(await openApiProblems(doc)).toEqual([]);
        expect(JSON.stringify(doc)).not.toMatch(/x-amazon/);
        expect(doc.components.securitySchemes).toMatchObject({
            sigv4: { type: "apiKey", name: "Authorization", in: "header" },
            api_key: { type: "apiKey", name: "x-api-key", in: "header" },
        });
    });

    test("every operation needs SigV4 and the API key, and answers every status it can with a schema and an example", () => {
        const validate = validatorOf(doc);
        for (const [name, op] of operations(doc)) {
            expect([name, op.security]).toEqual([name, [{ sigv4: [], api_key: [] }]]);
            const statuses = Object.keys(op.responses);
            // A success (or the fixed answer) and API Gateway's own refusals, on every route.
            expect([name, statuses.some((s) => /^2\d\d$/.test(s) || s === "501")]).toEqual([name, true]);
            for (const status of ["403", "413", "429", "500"]) expect([name, statuses]).toEqual([name, expect.arrayContaining([status])]);
            for (const [status, response] of Object.entries(op.responses as Doc)) {
                const example = response.content["application/json"].example;
                expect([name, status, validate(modelOf(response), example)]).toEqual([name, status, undefined]);
                if (!/^2/.test(status)) expect([name, status, modelOf(response)]).toEqual([name, status, "ErrorResponse"]);
            }
        }
    });

    test("the routes' query parameters are declared", () => {
        const params = (op: string) => (operations(doc).find(([n]) => n === op)?.[1].parameters ?? []).map((p: Doc) => `${p.in}:${p.name}`);
        expect(params("GET /notes")).toEqual(["query:limit", "query:cursor"]);
        expect(params("GET /uploads")).toEqual(["query:limit", "query:cursor"]);
        expect(params("GET /notes/{noteId}")).toEqual(["path:noteId"]);
        if (routeSettings(stage, stackFile(stage)).search.engine !== "none") {
            expect(params("GET /search")).toEqual(["query:q", "query:limit", "query:cursor"]);
        }
    });

    test("the deployed document declares the same responses and models (one set of declarations)", async () => {
        const deployed = deployedDocs[stage];
        const strip = (responses: Doc) =>
            Object.fromEntries(Object.entries(responses).map(([s, r]) => [s, { description: r.description, model: modelOf(r) }]));
        expect(operations(deployed).map(([n]) => n)).toEqual(operations(doc).map(([n]) => n));
        for (const [[name, deployedOp], [, clientOp]] of operations(deployed).map((entry, i) => [entry, operations(doc)[i]])) {
            expect([name, strip(deployedOp.responses)]).toEqual([name, strip(clientOp.responses)]);
            // API Gateway gets no examples.
            for (const r of Object.values(deployedOp.responses as Doc)) expect(r.content["application/json"].example).toBeUndefined();
        }
        expect(deployed.components.schemas).toEqual(doc.components.schemas);
        // What API Gateway answers by itself on the asynchronous route conforms to the declared 202.
        const send = deployed.paths["/notifications"].post;
        const accepted = JSON.parse(send["x-amazon-apigateway-integration"].responses.default.responseTemplates["application/json"]);
        expect(validatorOf(deployed)(modelOf(send.responses["202"]), accepted)).toBeUndefined();
        expect(await openApiProblems(deployed)).toEqual([]);
    });
});

test("a stage without search documents GET /search as API Gateway's own 501, in the error shape", async () => {
    const doc: Doc = stageClientDocument("dev", "config:\n  mobile-backend:search:\n    engine: none\n");
    const search = doc.paths["/search"].get;
    expect(Object.keys(search.responses)).toEqual(expect.arrayContaining(["501", "403", "429"]));
    expect(Object.keys(search.responses)).not.toContain("200");
    expect(search.responses["501"].content["application/json"].example).toMatchObject({ success: false, error: { code: "NotImplemented" } });
    expect(validatorOf(doc)(modelOf(search.responses["501"]), search.responses["501"].content["application/json"].example)).toBeUndefined();
    expect(await openApiProblems(doc)).toEqual([]);
});

test("npm run openapi writes the document of a stack file, with the stage's server", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "openapi-"));
    try {
        const out = path.join(dir, "openapi.json");
        const lines: string[] = [];
        run(["--stack", "prod", "--server", "https://abc123.execute-api.us-east-1.amazonaws.com/prod", "--out", out], (l) => lines.push(l));
        const written = JSON.parse(fs.readFileSync(out, "utf8"));
        expect(written.servers).toEqual([{ url: "https://abc123.execute-api.us-east-1.amazonaws.com/prod" }]);
        expect(written.paths).toEqual(clientDocs.prod.paths);
        expect(lines.join("\n")).toMatch(/wrote .*openapi\.json/);
        expect(() => run(["--stack", "nosuchstage"], () => undefined)).toThrow(/no stack file/);
        expect(() => run(["--server", "abc"], () => undefined)).toThrow(/--server must be/);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

describe("the functions' real answers conform to the documented responses", () => {
    const doc = clientDocs.dev;
    const validate = validatorOf(doc);
    let dynamo: LocalDynamo;
    let db: DynamoDBDocumentClient;
    let s3: LocalS3;
    let s3Client: S3Client;
    const BUCKET = "uploads-bucket";
    const MEDIA = "https://d1234abcd.cloudfront.net";
    const alice = "us-east-1:11111111-1111-4111-8111-111111111111";
    const bob = "us-east-1:22222222-2222-4222-8222-222222222222";
    /** Every status each operation answered with in this block. */
    const seen = new Map<string, Set<string>>();

    beforeAll(async () => {
        dynamo = await startDynamo();
        db = DynamoDBDocumentClient.from(dynamo.client);
        s3 = await startS3({ buckets: [{ name: BUCKET }], credentials: { function: "function-secret" } });
        s3Client = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "function", secretAccessKey: "function-secret" } });
    });
    afterAll(async () => {
        s3Client?.destroy();
        await s3?.stop();
        await dynamo?.close();
    });
    // Registered after the hook that starts dynalite: hooks run in order.
    const notesTable = freshTable(() => dynamo, NOTES_TABLE_KEYS);
    const limitsTable = freshTable(() => dynamo, LIMITS_TABLE_KEYS);
    const blocksTable = freshTable(() => dynamo, BLOCKS_TABLE_KEYS);
    const devicesTable = freshTable(() => dynamo, DEVICES_TABLE_KEYS);

    /** Validates an answer against the document's schema for its route and status; returns the body. */
    function conforms(call: ApiCall, result: { statusCode: number; body: string }): Doc {
        const name = `${call.method} ${call.resource}`;
        const op = operations(doc).find(([n]) => n === name)?.[1];
        expect([name, op !== undefined]).toEqual([name, true]);
        const response = op?.responses[String(result.statusCode)];
        expect([name, result.statusCode, response !== undefined]).toEqual([name, result.statusCode, true]);
        const body = JSON.parse(result.body);
        expect([name, result.statusCode, validate(modelOf(response), body)]).toEqual([name, result.statusCode, undefined]);
        const statuses = seen.get(name) ?? new Set<string>();
        statuses.add(String(result.statusCode));
        seen.set(name, statuses);
        return body;
    }

    test("notes: create, list, get, update, delete, and their errors", async () => {
        // One fixed instant: every write falls in the same fair-use window.
        const settings = { tableName: notesTable.name, mediaBaseUrl: MEDIA, now: () => new Date("2026-05-01T12:00:00.000Z"), limits: { tableName: limitsTable.name, writesPerMinute: 5, notificationsSentPerHour: 10, notificationsReceivedPerHour: 10 } };
        const notes = async (call: ApiCall) => conforms(call, await handleNotesRequest(apiEvent(call), db, settings));
        const created = await notes({ method: "POST", resource: "/notes", identityId: alice, body: { noteId: "n1", headline: "Hello", text: "World" } });
        expect(created.note.noteId).toBe("n1");
        await notes({ method: "POST", resource: "/notes", identityId: alice, body: { noteId: "n1", headline: "Other" } }); // 409
        await notes({ method: "POST", resource: "/notes", identityId: alice, body: { headline: "" } }); // 400
        await notes({ method: "POST", resource: "/notes", identityId: alice, body: "x".repeat(200_000) }); // 413
        await notes({ method: "POST", resource: "/notes", identityId: null, body: { headline: "x" } }); // 403
        await notes({ method: "GET", resource: "/notes", identityId: alice, query: { limit: "1" } });
        await notes({ method: "GET", resource: "/notes", identityId: alice, query: { limit: "101" } }); // 400: the documented maximum is 100
        await notes({ method: "GET", resource: "/notes/{noteId}", pathParameters: { noteId: "n1" }, identityId: alice });
        await notes({ method: "GET", resource: "/notes/{noteId}", pathParameters: { noteId: "nope" }, identityId: alice }); // 404
        await notes({ method: "PUT", resource: "/notes/{noteId}", pathParameters: { noteId: "n1" }, identityId: bob, body: { text: "again" } }); // 404
        await notes({ method: "PUT", resource: "/notes/{noteId}", pathParameters: { noteId: "n1" }, identityId: alice, body: { text: "again" } });
        await notes({ method: "DELETE", resource: "/notes/{noteId}", pathParameters: { noteId: "n1" }, identityId: alice }); // 429: alice's sixth write in a minute
        expect([...(seen.get("POST /notes") ?? [])].sort()).toEqual(["201", "400", "403", "409", "413"]);
        expect([...(seen.get("DELETE /notes/{noteId}") ?? [])]).toEqual(["429"]);
        expect([...(seen.get("GET /notes") ?? [])].sort()).toEqual(["200", "400"]);
        expect([...(seen.get("PUT /notes/{noteId}") ?? [])].sort()).toEqual(["200", "404"]);
    });

    test("uploads: create, list, delete, and their errors", async () => {
        const settings: UploadsSettings = {
            bucketName: BUCKET,
            mediaBaseUrl: MEDIA,
            contentTypes: ["image/jpeg", "video/mp4"],
            maxImageBytes: 100,
            maxVideoBytes: 1000,
            expirySeconds: 600,
        };
        const uploads = async (call: ApiCall) =>
            conforms(call, await handleUploadsRequest(apiEvent(call), { s3: s3Client, presignPost: createPresignedPost }, settings));
        const created = await uploads({ method: "POST", resource: "/uploads", identityId: alice, body: { contentType: "image/jpeg", contentLength: 4 } });
        const form = new FormData();
        for (const [k, v] of Object.entries(created.upload.fields as Record<string, string>)) form.append(k, v);
        form.append("file", new Blob([Buffer.from("abcd")], { type: "image/jpeg" }));
        expect((await fetch(created.upload.url, { method: "POST", body: form })).status).toBeLessThan(300);
        await uploads({ method: "POST", resource: "/uploads", identityId: alice, body: { contentType: "image/jpeg", contentLength: 101 } }); // 413
        await uploads({ method: "POST", resource: "/uploads", identityId: alice, body: { contentType: "text/html", contentLength: 1 } }); // 400
        const listed = await uploads({ method: "GET", resource: "/uploads", identityId: alice });
        expect(listed.uploads).toHaveLength(1);
        await uploads({ method: "DELETE", resource: "/uploads/{key}", pathParameters: { key: created.upload.key }, identityId: alice });
        await uploads({ method: "DELETE", resource: "/uploads/{key}", pathParameters: { key: created.upload.key }, identityId: bob }); // 403
        expect([...(seen.get("POST /uploads") ?? [])].sort()).toEqual(["201", "400", "413"]);
        expect([...(seen.get("DELETE /uploads/{key}") ?? [])].sort()).toEqual(["200", "403"]);
    });

    test("devices: register, list, delete, and their errors", async () => {
        const sns: LocalSns = await startSns();
        const client = new SNSClient({ endpoint: sns.endpoint, region: "us-east-1", credentials: { accessKeyId: "function", secretAccessKey: "function-secret" } });
        try {
            // Only iOS is configured: an Android registration is refused with 409 naming the setting.
            const settings = {
                devicesTable: devicesTable.name,
                topicArn: sns.createTopic("mobile-backend-dev-notifications"),
                applications: { ios: { arn: sns.createApplication("APNS_SANDBOX", "ios-app"), sandbox: true } },
            };
            const devices = async (call: ApiCall) => conforms(call, await handleDevicesRequest(apiEvent(call), { db, sns: client }, settings));
            const registered = await devices({ method: "POST", resource: "/devices", identityId: alice, body: { platform: "ios", token: "a".repeat(64) } });
            await devices({ method: "POST", resource: "/devices", identityId: alice, body: { platform: "android", token: "fcm-token-1" } }); // 409
            await devices({ method: "POST", resource: "/devices", identityId: alice, body: { platform: "windows", token: "x" } }); // 400
            const listed = await devices({ method: "GET", resource: "/devices", identityId: alice });
            expect(listed.devices.map((d: Doc) => d.deviceId)).toEqual([registered.deviceId]);
            await devices({ method: "DELETE", resource: "/devices/{deviceId}", pathParameters: { deviceId: registered.deviceId }, identityId: alice });
            expect([...(seen.get("POST /devices") ?? [])].sort()).toEqual(["201", "400", "409"]);
        } finally {
            client.destroy();
            await sns.close();
        }
    });

    test("blocks: block, list, unblock", async () => {
        const settings = { blocksTable: blocksTable.name };
        const blocks = async (call: ApiCall) => conforms(call, await handleBlocksRequest(apiEvent(call), db, settings));
        await blocks({ method: "PUT", resource: "/blocks/{identityId}", pathParameters: { identityId: bob }, identityId: alice });
        await blocks({ method: "PUT", resource: "/blocks/{identityId}", pathParameters: { identityId: alice }, identityId: alice }); // 400
        const listed = await blocks({ method: "GET", resource: "/blocks", identityId: alice });
        expect(listed.blocked.map((b: Doc) => b.identityId)).toEqual([bob]);
        await blocks({ method: "DELETE", resource: "/blocks/{identityId}", pathParameters: { identityId: bob }, identityId: alice });
        expect([...(seen.get("PUT /blocks/{identityId}") ?? [])].sort()).toEqual(["200", "400"]);
    });
});
