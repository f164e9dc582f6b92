/**
 * The OpenAPI document API Gateway imports, for each stage, as the program generates it:
 * - it is valid OpenAPI 3.0 (swagger-parser);
 * - every answer API Gateway gives by itself is valid JSON in the functions' error shape, rendered the
 *   way API Gateway renders gateway responses (plain `$context` substitution, local/apigateway.ts) with
 *   hostile values for every variable a template uses;
 * - the asynchronous route refuses an invalid body at the edge with a parseable 400 naming the problem
 *   in a header, and hands a valid one to its function as the exact event the function expects;
 * - destroying a stage never resets the account's API Gateway logging role that another stage needs.
 */
import Ajv from "ajv-draft-04";
import { ASYNC_EVENT_TEMPLATE, openApiDocument, VALIDATION_ERROR_HEADER } from "../infra/openapi";
import { sendNotificationSchema } from "../functions/notification-schema";
import {
    gatewayResponseHeaders,
    gatewayResponseVariables,
    renderGatewayResponseTemplate,
    renderMappingTemplate,
    type TemplateVariables,
} from "../local/apigateway";
import { HOSTILE_PIECES, hostileJson, hostileString, random } from "./support/adversarial";
import { openApiProblems } from "./support/openapi";
import { loadProgram, type LoadedProgram } from "./support/program";

let dev: LoadedProgram;
let prod: LoadedProgram;

// Two program loads: allow for a busy machine.
beforeAll(async () => {
    dev = await loadProgram("dev");
    prod = await loadProgram("prod");
}, 300_000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

function document(program: LoadedProgram): Doc {
    return JSON.parse(program.recorder.one("aws:apigateway/restApi:RestApi").inputs.body);
}

/**
 * Response types and their default status codes ("Gateway response types for API Gateway"): API Gateway
 * answers with the type's own gateway response if the API defines one, else DEFAULT_4XX or DEFAULT_5XX.
 */
const RESPONSE_TYPES: Record<string, number> = {
    ACCESS_DENIED: 403,
    API_CONFIGURATION_ERROR: 500,
    AUTHORIZER_CONFIGURATION_ERROR: 500,
    AUTHORIZER_FAILURE: 500,
    BAD_REQUEST_PARAMETERS: 400,
    BAD_REQUEST_BODY: 400,
    EXPIRED_TOKEN: 403,
    INTEGRATION_FAILURE: 504,
    INTEGRATION_TIMEOUT: 504,
    INVALID_API_KEY: 403,
    INVALID_SIGNATURE: 403,
    MISSING_AUTHENTICATION_TOKEN: 403,
    QUOTA_EXCEEDED: 429,
    REQUEST_TOO_LARGE: 413,
    RESOURCE_NOT_FOUND: 404,
    THROTTLED: 429,
    UNAUTHORIZED: 401,
    UNSUPPORTED_MEDIA_TYPE: 415,
    WAF_FILTERED: 403,
};

/** Messages API Gateway gives, real ones first (the SigV4 one quotes the canonical request), then hostile ones. */
function messages(): string[] {
    const next = random(11);
    return [
        "Missing Authentication Token",
        "Forbidden",
        "Invalid request body",
        "Limit Exceeded",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.\n\nThe Canonical String for this request should have been\n'POST\n/dev/notifications\n\nhost:abc.execute-api.us-east-1.amazonaws.com\nx-amz-date:20261130T000000Z\n\nhost;x-amz-date\ne3b0c442'\n",
        ...HOSTILE_PIECES,
        ...Array.from({ length: 40 }, () => hostileString(next, 10)),
    ];
}

/** What API Gateway answers for a response type: status, headers and body, rendered as it renders them. */
function gatewayAnswer(doc: Doc, type: string, variables: TemplateVariables) {
    const responses = doc["x-amazon-apigateway-gateway-responses"];
    const status = RESPONSE_TYPES[type];
    const response = responses[type] ?? responses[status >= 500 ? "DEFAULT_5XX" : "DEFAULT_4XX"];
    const template: string = response.responseTemplates["application/json"];
    return {
        statusCode: Number(response.statusCode ?? status),
        headers: gatewayResponseHeaders(response.responseParameters ?? {}, variables),
        template,
        body: renderGatewayResponseTemplate(template, variables),
    };
}

describe.each(["dev", "prod"])("%s: the document API Gateway imports", (stage) => {
    const program = () => (stage === "dev" ? dev : prod);

    test("is valid OpenAPI 3.0", async () => {
        const doc = document(program());
        expect(await openApiProblems(doc)).toEqual([]);
        expect(doc.openapi).toMatch(/^3\.0\./);
    });

    test("every gateway response, with hostile values for every variable it uses, is JSON in the functions' error shape", () => {
        const doc = document(program());
        for (const template of (Object.values(doc["x-amazon-apigateway-gateway-responses"]) as Doc[]).map((r) => r.responseTemplates["application/json"])) {
            // Every variable a template uses has a known, tested domain here.
            expect(gatewayResponseVariables(template).filter((v) => !["context.error.messageString", "context.error.responseType"].includes(v))).toEqual([]);
        }
        const next = random(3);
        for (const type of Object.keys(RESPONSE_TYPES)) {
            for (const message of messages()) {
                const validationErrorString = hostileString(next, 6);
                const answer = gatewayAnswer(doc, type, { context: { error: { message, responseType: type, validationErrorString } } });
                let body: unknown;
                expect(() => (body = JSON.parse(answer.body))).not.toThrow();
                expect(body).toEqual({ success: false, error: { code: type === "BAD_REQUEST_BODY" ? "BadRequest" : type, message } });
                expect(answer.statusCode).toBe(RESPONSE_TYPES[type]);
                if (type === "BAD_REQUEST_BODY") expect(answer.headers).toEqual({ [VALIDATION_ERROR_HEADER]: validationErrorString });
            }
        }
    });

    test("API Gateway validates bodies only on the asynchronous route; the proxy routes' functions validate their own", () => {
        const doc = document(program());
        const validated: string[] = [];
        for (const [path, methods] of Object.entries(doc.paths as Doc)) {
            for (const [method, op] of Object.entries(methods as Doc)) {
                const validator = op["x-amazon-apigateway-request-validator"];
                if (validator) validated.push(`${method} ${path}`);
                if (validator) expect(op["x-amazon-apigateway-integration"].type).toBe("aws");
                if (op.requestBody) expect(doc.components.schemas[op.requestBody.content["application/json"].schema.$ref.split("/").pop()]).toBeDefined();
            }
        }
        expect(validated).toEqual(["post /notifications"]);
        expect(doc["x-amazon-apigateway-request-validators"].body).toMatchObject({ validateRequestBody: true });
    });

    test("every integration mapping template renders as VTL to JSON", () => {
        const doc = document(program());
        let rendered = 0;
        for (const methods of Object.values(doc.paths as Doc)) {
            for (const op of Object.values(methods as Doc)) {
                const integration = op["x-amazon-apigateway-integration"];
                const templates = [
                    ...Object.values(integration.requestTemplates ?? {}),
                    ...Object.values(integration.responses ?? {}).flatMap((r) => Object.values((r as Doc).responseTemplates ?? {})),
                ] as string[];
                for (const template of templates) {
                    const out = renderMappingTemplate(
                        template,
                        { body: JSON.stringify({ message: "it's \"here\"" }) },
                        { context: { requestId: "r-1", identity: { cognitoIdentityId: "us-east-1:11111111-1111-4111-8111-111111111111" } } },
                    );
                    expect(() => JSON.parse(out)).not.toThrow();
                    rendered++;
                }
            }
        }
        expect(rendered).toBeGreaterThanOrEqual(2);
    });
});

test("the validator catches what API Gateway's import would refuse (a list as type)", async () => {
    const doc = document(dev);
    doc.components.schemas.UpdateNoteRequest.properties.mediaKey = { type: ["string", "null"] };
    expect(await openApiProblems(doc)).toContain("#/components/schemas/UpdateNoteRequest/properties/mediaKey/type must be string");
});

describe("POST /notifications at the edge", () => {
    /**
     * API Gateway's draft-4 validation of the route's model (ajv-draft-04 stands in for it), then either
     * the BAD_REQUEST_BODY gateway response or the integration's mapping template.
     */
    let validate: ReturnType<Ajv["compile"]> | undefined;
    function post(body: unknown, identityId: string) {
        const doc = document(dev);
        const op = doc.paths["/notifications"].post;
        const model = doc.components.schemas[op.requestBody.content["application/json"].schema.$ref.split("/").pop()];
        validate ??= new Ajv({ strict: true }).compile(model);
        if (!validate(body)) {
            const validationErrorString = `[${(validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join(", ")}]`;
            return { edge: gatewayAnswer(doc, "BAD_REQUEST_BODY", { context: { error: { message: "Invalid request body", validationErrorString } } }) };
        }
        const template = op["x-amazon-apigateway-integration"].requestTemplates["application/json"];
        const context = { requestId: "8d1b2c3e-0000-4000-8000-000000000000", identity: { cognitoIdentityId: identityId } };
        return { event: JSON.parse(renderMappingTemplate(template, { body: JSON.stringify(body) }, { context })) as unknown };
    }

    test("the document's template is the one the renderer tests exercise", () => {
        expect(document(dev).paths["/notifications"].post["x-amazon-apigateway-integration"].requestTemplates["application/json"]).toBe(
            ASYNC_EVENT_TEMPLATE,
        );
        expect(document(dev).components.schemas.SendNotificationRequest).toEqual(sendNotificationSchema);
    });

    test("invalid bodies get a parseable 400 naming the problem in a header; valid ones reach the function exactly", () => {
        const next = random(5);
        const recipientId = "us-east-1:22222222-2222-4222-8222-222222222222";
        const bodies: unknown[] = [
            {},
            { recipientId },
            { recipientId, message: "   " },
            { recipientId, message: "hi", extra: "'\"\\" },
            { recipientId: "not an id", message: "hi" },
            { recipientId, message: "hi", data: { k: 1 } },
            ...Array.from({ length: 100 }, () => ({ recipientId, message: hostileString(next, 6), title: hostileString(next, 3) })),
            ...Array.from({ length: 50 }, () => hostileJson(next)),
        ];
        let refused = 0;
        let accepted = 0;
        for (const body of bodies) {
            const identityId = `us-east-1:${hostileString(next, 4)}`;
            const answer = post(body, identityId);
            if (answer.edge) {
                refused++;
                expect(answer.edge.statusCode).toBe(400);
                expect(JSON.parse(answer.edge.body)).toEqual({ success: false, error: { code: "BadRequest", message: "Invalid request body" } });
                expect(answer.edge.headers[VALIDATION_ERROR_HEADER]).toMatch(/\S/);
            } else {
                accepted++;
                expect(answer.event).toEqual({ senderId: identityId, requestId: "8d1b2c3e-0000-4000-8000-000000000000", body });
            }
        }
        expect(refused).toBeGreaterThan(20);
        expect(accepted).toBeGreaterThan(20);
    });
});

describe("a route that answers by itself (search turned off)", () => {
    test("its mock integration's templates render to the fixed JSON answer", async () => {
        const body = { success: false, error: { code: "NotImplemented", message: "Search is \"off\" here: it's disabled." } };
        const doc: Doc = openApiDocument("t", [{ routes: { name: "search", routes: [{ method: "GET", path: "/search", fixedResponse: { statusCode: 501, body } }] } }]);
        const integration = doc.paths["/search"].get["x-amazon-apigateway-integration"];
        const context = { context: { requestId: "r" } };
        expect(JSON.parse(renderMappingTemplate(integration.requestTemplates["application/json"], { body: "" }, context))).toEqual({ statusCode: 501 });
        expect(JSON.parse(renderMappingTemplate(integration.responses.default.responseTemplates["application/json"], { body: "{}" }, context))).toEqual(body);
    });
});

describe("account-level API Gateway settings survive any stage's destroy", () => {
    /**
     * The account's API Gateway settings as the provider changes them: creating `aws.apigateway.Account`
     * sets the CloudWatch role; deleting it resets the role (@pulumi/aws 7, terraform-provider-aws PR
     * 42226); `retainOnDelete` resources are left as they are. A stage can log only while the account's
     * role is set and exists.
     */
    class AwsAccount {
        cloudwatchRoleArn: string | undefined;
        readonly roles = new Set<string>();

        deploy(stage: string, program: LoadedProgram): void {
            for (const role of program.recorder.all("aws:iam/role:Role", "api-cloudwatch")) this.roles.add(`${stage}/${role.name}`);
            for (const account of program.recorder.all("aws:apigateway/account:Account")) {
                const role = program.recorder.one("aws:iam/role:Role", "api-cloudwatch");
                expect(account.dependencies).toEqual(expect.arrayContaining([expect.stringContaining("api-cloudwatch")]));
                expect(account.inputs.cloudwatchRoleArn).toContain(role.name);
                this.cloudwatchRoleArn = `${stage}/${role.name}`;
            }
        }

        destroy(stage: string, program: LoadedProgram, ignoreRetain = false): void {
            for (const account of program.recorder.all("aws:apigateway/account:Account")) {
                if (ignoreRetain || !account.retainOnDelete) this.cloudwatchRoleArn = undefined;
            }
            for (const role of program.recorder.all("aws:iam/role:Role", "api-cloudwatch")) {
                if (ignoreRetain || !role.retainOnDelete) this.roles.delete(`${stage}/${role.name}`);
            }
        }

        canLog(): boolean {
            return this.cloudwatchRoleArn !== undefined && this.roles.has(this.cloudwatchRoleArn);
        }
    }

    test("both stages set the role, and keep it and the setting on destroy", () => {
        for (const program of [dev, prod]) {
            for (const [type, name] of [
                ["aws:apigateway/account:Account", "api-account"],
                ["aws:iam/role:Role", "api-cloudwatch"],
                ["aws:iam/rolePolicyAttachment:RolePolicyAttachment", "api-cloudwatch"],
            ]) {
                expect(program.recorder.one(type, name).retainOnDelete).toBe(true);
            }
            // The stage's logging settings wait for the account setting.
            const account = program.recorder.one("aws:apigateway/account:Account").urn;
            expect(program.recorder.one("aws:apigateway/stage:Stage").dependencies).toContain(account);
            expect(program.recorder.one("aws:apigateway/methodSettings:MethodSettings").dependencies).toContain(account);
        }
    });

    test.each([
        ["dev first, prod later, destroy dev", ["dev", "prod"], "dev"],
        ["prod first, dev later, destroy dev", ["prod", "dev"], "dev"],
        ["dev first, prod later, destroy prod", ["dev", "prod"], "prod"],
    ])("a new account: %s; the other stage keeps logging", (_, order, destroyed) => {
        const programs: Record<string, LoadedProgram> = { dev, prod };
        const account = new AwsAccount();
        for (const stage of order) account.deploy(stage, programs[stage]);
        account.destroy(destroyed, programs[destroyed]);
        expect(account.canLog()).toBe(true);

        // Without retention (the old behaviour) the same sequence turns the other stage's logging off.
        const unretained = new AwsAccount();
        for (const stage of order) unretained.deploy(stage, programs[stage]);
        unretained.destroy(destroyed, programs[destroyed], true);
        expect(unretained.canLog()).toBe(false);
    });
});
