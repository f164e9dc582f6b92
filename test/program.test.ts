/**
 * The resource graph `pulumi up` would create for each stage, from the stack files, under mocks:
 * every security-relevant property of each tier, and the differences between dev and prod.
 */
import { createNoteSchema, updateNoteSchema } from "../functions/notes-schema";
import type { RecordedResource } from "./support/mocks";
import { loadProgram, type LoadedProgram } from "./support/program";

let dev: LoadedProgram;
let prod: LoadedProgram;

beforeAll(async () => {
    dev = await loadProgram("dev");
    prod = await loadProgram("prod");
}, 300_000); // several program loads: allow for a busy machine

interface Statement {
    Sid?: string;
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Principal?: unknown;
    Condition?: Record<string, Record<string, unknown>>;
}

function statements(resource: RecordedResource, key = "policy"): Statement[] {
    return JSON.parse(resource.inputs[key]).Statement;
}

const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);

describe("every stage", () => {
    test.each(["dev", "prod"])("%s: every resource belongs to a tier component", (stage) => {
        const program = stage === "dev" ? dev : prod;
        const tiers = program.recorder.resources.filter((r) => r.parent === "" || r.parent.endsWith("::mobile-backend-" + stage));
        for (const resource of program.recorder.resources) {
            if (resource.type.startsWith("mobile-backend:index:")) continue;
            expect({ resource: `${resource.type} ${resource.name}`, parent: resource.parent }).toEqual({
                resource: `${resource.type} ${resource.name}`,
                parent: expect.stringContaining("mobile-backend:index:"),
            });
        }
        expect(tiers.map((t) => t.type).sort()).toEqual([
            "mobile-backend:index:AccountDeletion",
            "mobile-backend:index:Api",
            "mobile-backend:index:Data",
            // The web ACL is on in prod only.
            ...(stage === "prod" ? ["mobile-backend:index:Firewall"] : []),
            "mobile-backend:index:Identity",
            "mobile-backend:index:Media",
            "mobile-backend:index:Monitoring",
            "mobile-backend:index:NotesService",
            "mobile-backend:index:Notifications",
            "mobile-backend:index:Search",
            "mobile-backend:index:UploadsService",
        ]);
    });

    test("stack outputs carry what the mobile app needs, with the API key secret", async () => {
        const outputs = dev.outputs;
        expect(outputs.apiUrl).toBe("https://api-api-id.execute-api.us-east-1.amazonaws.com/dev");
        expect(outputs.apiKey).toBe("key-value-of-dev");
        expect(outputs.region).toBe("us-east-1");
        expect(outputs.identityPoolId).toBe("identity-identities-id");
        expect(outputs.userPoolId).toBe("identity-users-id");
        expect(outputs.userPoolClientId).toBe("identity-app-id");
        expect(outputs.uploadsBucket).toBe("media-uploads-abc1234");
        expect(outputs.mediaBaseUrl).toBe("https://d1234abcd.cloudfront.net");
        expect(dev.secretOutputs.sort()).toEqual(["apiKey", "clientConfig"]);
        expect(outputs.clientConfig).toEqual({
            apiUrl: outputs.apiUrl,
            apiKey: outputs.apiKey,
            region: "us-east-1",
            identityPoolId: outputs.identityPoolId,
            userPoolId: outputs.userPoolId,
            userPoolClientId: outputs.userPoolClientId,
            uploadsBucket: outputs.uploadsBucket,
            uploadsPrefix: "uploads/",
            mediaBaseUrl: outputs.mediaBaseUrl,
            allowGuests: true,
            guestRoleArn: "arn:aws:iam::123456789012:role/identity-guest-abc1234",
        });
        // Without guests there is no guest role to name.
        expect(prod.outputs.clientConfig).not.toHaveProperty("guestRoleArn");
    });

    test("stack outputs name the failure queues and the sender, for npm run replay", () => {
        expect(dev.outputs.failureQueueUrls).toEqual({
            search: expect.stringMatching(/^https:\/\/sqs\.us-east-1\.amazonaws\.com\/123456789012\/search-failed-records-/),
            push: expect.stringMatching(/^https:\/\/sqs\.us-east-1\.amazonaws\.com\/123456789012\/notifications-failed-pushes-/),
        });
        expect(dev.outputs.notificationsSender).toEqual(expect.stringContaining("notifications-sender"));
    });
});

describe("identity tier", () => {
    test("roles can be assumed only through this identity pool, by the right kind of identity", () => {
        for (const [label, amr] of [
            ["identity-signed-in", "authenticated"],
            ["identity-guest", "unauthenticated"],
        ]) {
            const [trust] = statements(dev.recorder.one("aws:iam/role:Role", label), "assumeRolePolicy");
            expect(trust).toEqual({
                Effect: "Allow",
                Principal: { Federated: "cognito-identity.amazonaws.com" },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                    StringEquals: { "cognito-identity.amazonaws.com:aud": "identity-identities-id" },
                    "ForAnyValue:StringLike": { "cognito-identity.amazonaws.com:amr": amr },
                },
            });
        }
    });

    test("identities may invoke this API stage and read only their own uploads (uploads go through POST /uploads)", () => {
        for (const label of ["identity-signed-in", "identity-guest"]) {
            expect(statements(dev.recorder.one("aws:iam/rolePolicy:RolePolicy", label))).toEqual([
                {
                    Sid: "CallTheApi",
                    Effect: "Allow",
                    Action: "execute-api:Invoke",
                    Resource: "arn:aws:execute-api:us-east-1:123456789012:api-api-id/dev/*/*",
                },
                {
                    Sid: "ReadOwnUploadsOnly",
                    Effect: "Allow",
                    Action: ["s3:GetObject"],
                    Resource: "arn:aws:s3:::media-uploads-abc1234/uploads/${cognito-identity.amazonaws.com:sub}/*",
                },
            ]);
        }
    });

    test.each([
        ["dev", true],
        ["prod", false],
    ])("%s: guests (%s) come with the classic flow and a guest role, or with none of them", (stage, guests) => {
        const program = stage === "dev" ? dev : prod;
        const pool = program.recorder.one("aws:cognito/identityPool:IdentityPool").inputs;
        const attachment = program.recorder.one("aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment").inputs;
        expect(pool.allowUnauthenticatedIdentities).toBe(guests);
        // Enhanced-flow guest credentials are cut down to no s3:/execute-api: actions: guests need the classic flow.
        expect(pool.allowClassicFlow).toBe(guests);
        expect(Object.keys(attachment.roles).sort()).toEqual(guests ? ["authenticated", "unauthenticated"] : ["authenticated"]);
        expect(program.recorder.all("aws:iam/role:Role", "identity-guest")).toHaveLength(guests ? 1 : 0);
        expect(program.outputs.clientConfig).toMatchObject({ allowGuests: guests });
    });

    test("the user pool is the identity pool's provider, through a public app client with SRP", () => {
        const pool = dev.recorder.one("aws:cognito/identityPool:IdentityPool").inputs;
        expect(pool.cognitoIdentityProviders).toEqual([
            {
                clientId: "identity-app-id",
                providerName: "cognito-idp.us-east-1.amazonaws.com/us-east-1_identity-users-id",
                serverSideTokenCheck: true,
            },
        ]);
        const client = dev.recorder.one("aws:cognito/userPoolClient:UserPoolClient").inputs;
        expect(client.generateSecret).toBe(false);
        expect(client.explicitAuthFlows).toEqual(["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]);
        expect(client.preventUserExistenceErrors).toBe("ENABLED");
    });
});

describe("media tier", () => {
    test("the uploads bucket is private, owner-enforced and encrypted", () => {
        expect(dev.recorder.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs).toMatchObject({
            blockPublicAcls: true,
            blockPublicPolicy: true,
            ignorePublicAcls: true,
            restrictPublicBuckets: true,
        });
        expect(dev.recorder.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs.rule).toEqual({
            objectOwnership: "BucketOwnerEnforced",
        });
        const sse = dev.recorder.one(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        ).inputs;
        expect(sse.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm).toBe("AES256");
    });

    test("the bucket policy denies plain HTTP and lets only this distribution read uploads", () => {
        const [denyHttp, cloudFront] = statements(dev.recorder.one("aws:s3/bucketPolicy:BucketPolicy"));
        expect(denyHttp).toEqual({
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: ["arn:aws:s3:::media-uploads-abc1234", "arn:aws:s3:::media-uploads-abc1234/*"],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
        });
        expect(cloudFront).toEqual({
            Sid: "AllowCloudFrontRead",
            Effect: "Allow",
            Principal: { Service: "cloudfront.amazonaws.com" },
            Action: "s3:GetObject",
            Resource: "arn:aws:s3:::media-uploads-abc1234/uploads/*",
            Condition: { StringEquals: { "AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/Emedia-cdn-id" } },
        });
    });

    test("browsers and apps may POST (presigned) and GET uploads across origins, and no longer PUT", () => {
        const [rule] = dev.recorder.one("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration").inputs.corsRules;
        expect(rule.allowedMethods).toEqual(["GET", "HEAD", "POST"]);
        expect(rule.allowedOrigins).toEqual(["*"]);
    });

    test("CloudFront reads the bucket through origin access control, over HTTPS only, compressed", () => {
        const oac = dev.recorder.one("aws:cloudfront/originAccessControl:OriginAccessControl").inputs;
        expect(oac).toMatchObject({ originAccessControlOriginType: "s3", signingBehavior: "always", signingProtocol: "sigv4" });
        const cdn = dev.recorder.one("aws:cloudfront/distribution:Distribution").inputs;
        expect(cdn.origins).toEqual([
            {
                originId: "uploads",
                domainName: "media-uploads-abc1234.s3.us-east-1.amazonaws.com",
                originAccessControlId: "media-uploads-id",
            },
        ]);
        expect(cdn.defaultCacheBehavior).toMatchObject({ viewerProtocolPolicy: "https-only", compress: true });
    });
});

describe("data tier", () => {
    test("a user's notes are one partition, ordered by creation in a local index, streamed with both images", () => {
        const table = dev.recorder.one("aws:dynamodb/table:Table", "data-notes").inputs;
        expect(table).toMatchObject({
            billingMode: "PAY_PER_REQUEST",
            hashKey: "ownerId",
            rangeKey: "noteId",
            serverSideEncryption: { enabled: true },
            streamEnabled: true,
            streamViewType: "NEW_AND_OLD_IMAGES",
            localSecondaryIndexes: [{ name: "byCreatedAt", rangeKey: "createdAt", projectionType: "ALL" }],
        });
    });
});

describe("api tier", () => {
    function document(program: LoadedProgram) {
        return JSON.parse(program.recorder.one("aws:apigateway/restApi:RestApi").inputs.body);
    }

    test("every operation needs SigV4 (Cognito credentials) and an API key, and proxies to the notes function", () => {
        const doc = document(dev);
        const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
            Object.entries(methods as Record<string, any>).map(([method, op]) => ({ route: `${method} ${path}`, op })),
        );
        expect(operations.map((o) => o.route).sort()).toEqual([
            "delete /blocks/{identityId}",
            "delete /devices/{deviceId}",
            "delete /me",
            "delete /notes/{noteId}",
            "delete /uploads/{key}",
            "get /blocks",
            "get /devices",
            "get /notes",
            "get /notes/{noteId}",
            "get /search",
            "get /uploads",
            "post /devices",
            "post /notes",
            "post /notifications",
            "post /uploads",
            "put /blocks/{identityId}",
            "put /notes/{noteId}",
        ]);
        const notesFunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:notes-function-abc1234";
        for (const { route, op } of operations) {
            expect(op.security).toEqual([{ sigv4: [], api_key: [] }]);
            if (!route.includes("/notes")) continue;
            expect(op["x-amazon-apigateway-integration"]).toMatchObject({
                type: "aws_proxy",
                httpMethod: "POST",
                uri: `arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${notesFunctionArn}/invocations`,
            });
        }
        expect(doc.components.securitySchemes.sigv4["x-amazon-apigateway-authtype"]).toBe("awsSigv4");
        expect(doc.components.securitySchemes.api_key).toEqual({ type: "apiKey", name: "x-api-key", in: "header" });
    });

    test("request bodies are published as models of the schemas the function checks; the function validates them", () => {
        const doc = document(dev);
        expect(doc.components.schemas).toMatchObject({
            CreateNoteRequest: createNoteSchema,
            UpdateNoteRequest: updateNoteSchema,
        });
        for (const [path, method, model] of [
            ["/notes", "post", "CreateNoteRequest"],
            ["/notes/{noteId}", "put", "UpdateNoteRequest"],
        ]) {
            const op = doc.paths[path][method];
            expect(op.requestBody.content["application/json"].schema).toEqual({ $ref: `#/components/schemas/${model}` });
            // No edge validation on proxy routes: the function answers with the detailed message.
            expect(op["x-amazon-apigateway-request-validator"]).toBeUndefined();
        }
        // API Gateway's own errors take the functions' error shape (rendered in test/api-document.test.ts).
        const badBody = doc["x-amazon-apigateway-gateway-responses"].BAD_REQUEST_BODY.responseTemplates["application/json"];
        expect(badBody).toContain('"success":false');
    });

    test("the stage is named after the stack, with access logs and metrics", () => {
        for (const [program, stage] of [
            [dev, "dev"],
            [prod, "prod"],
        ] as const) {
            const stageInputs = program.recorder.one("aws:apigateway/stage:Stage").inputs;
            expect(stageInputs.stageName).toBe(stage);
            expect(stageInputs.accessLogSettings.destinationArn).toContain(`/aws/apigateway/mobile-backend/${stage}/api/access`);
            expect(JSON.parse(stageInputs.accessLogSettings.format)).toMatchObject({ identityId: "$context.identity.cognitoIdentityId" });
            const settings = program.recorder.one("aws:apigateway/methodSettings:MethodSettings");
            expect(settings.inputs).toMatchObject({ methodPath: "*/*", settings: { metricsEnabled: true, loggingLevel: "ERROR" } });
            // The execution-log group API Gateway writes to exists first, with the stage's retention.
            const executionLogs = program.recorder.one("aws:cloudwatch/logGroup:LogGroup", "api-execution-logs");
            expect(executionLogs.inputs.name).toBe(`API-Gateway-Execution-Logs_api-api-id/${stage}`);
            expect(settings.dependencies).toContain(executionLogs.urn);
        }
    });

    test("the API may invoke the function only from its own stage", () => {
        const permission = dev.recorder.one("aws:lambda/permission:Permission", "api-notes-invoke").inputs;
        expect(permission).toEqual({
            action: "lambda:InvokeFunction",
            function: "notes-function-abc1234",
            principal: "apigateway.amazonaws.com",
            sourceArn: "arn:aws:execute-api:us-east-1:123456789012:api-api-id/dev/*",
        });
    });

    test("the app's API key is metered by the stage's usage plan", () => {
        const plan = dev.recorder.one("aws:apigateway/usagePlan:UsagePlan").inputs;
        expect(plan.apiStages).toEqual([{ apiId: "api-api-id", stage: "dev" }]);
        expect(dev.recorder.one("aws:apigateway/usagePlanKey:UsagePlanKey").inputs).toMatchObject({
            keyId: "api-key-id",
            keyType: "API_KEY",
            usagePlanId: "api-plan-id",
        });
    });
});

describe("notes function", () => {
    test("runs on nodejs22.x arm64 with explicit memory and timeout, logging to its own group", () => {
        const fn = dev.recorder.one("aws:lambda/function:Function", "notes-function").inputs;
        expect(fn).toMatchObject({
            runtime: "nodejs22.x",
            architectures: ["arm64"],
            memorySize: 256,
            timeout: 10,
            handler: "__index.handler",
            role: "arn:aws:iam::123456789012:role/notes-function-role-abc1234",
            loggingConfig: { logFormat: "JSON", logGroup: "/aws/lambda/mobile-backend/dev/notes-function" },
            environment: {
                variables: {
                    NOTES_TABLE: "data-notes-abc1234",
                    MEDIA_BASE_URL: "https://d1234abcd.cloudfront.net",
                    UPLOADS_BUCKET: "media-uploads-abc1234",
                },
            },
        });
    });

    test("its archive is only the serialized closure, at most 64 KiB", () => {
        const archive = dev.archives["notes-function"];
        expect(Object.keys(archive.files)).toEqual(["__index.js"]);
        expect(archive.bytes).toBeLessThanOrEqual(64 * 1024);
        // The runtime's AWS SDK is required, never bundled or captured.
        expect(archive.files["__index.js"]).toMatch(/require\("@aws-sdk\/lib-dynamodb/);
    });

    test("its role may only write its logs, use items of this table and check uploads exist", () => {
        const policy = statements(dev.recorder.one("aws:iam/rolePolicy:RolePolicy", "notes-function-policy"));
        expect(policy).toEqual([
            {
                Effect: "Allow",
                Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
                Resource: ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/mobile-backend/dev/notes-function:*"],
            },
            {
                Effect: "Allow",
                Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"],
                Resource: [
                    "arn:aws:dynamodb:us-east-1:123456789012:table/data-notes-abc1234",
                    "arn:aws:dynamodb:us-east-1:123456789012:table/data-notes-abc1234/index/*",
                ],
            },
            // The write counter (fair use per identity).
            { Effect: "Allow", Action: ["dynamodb:UpdateItem"], Resource: ["arn:aws:dynamodb:us-east-1:123456789012:table/data-limits-abc1234"] },
            // HeadObject of a note's mediaKey.
            { Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::media-uploads-abc1234/uploads/*"] },
        ]);
        const role = dev.recorder.one("aws:iam/role:Role", "notes-function-role");
        expect(statements(role, "assumeRolePolicy")).toEqual([
            { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
        ]);
        // No managed policies on function roles (CallbackFunction's default would attach nine).
        const attachments = dev.recorder.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment");
        expect(attachments.map((a) => a.name)).toEqual(["api-cloudwatch"]);
    });

    test("no policy of the program grants a wildcard resource, except X-Ray's trace upload", () => {
        // xray:PutTraceSegments and xray:PutTelemetryRecords take no resource but `*` (XRAY_WRITE_STATEMENT).
        const xrayOnly = (statement: Statement) =>
            JSON.stringify(list(statement.Action)) === JSON.stringify(["xray:PutTraceSegments", "xray:PutTelemetryRecords"]);
        for (const program of [dev, prod]) {
            for (const resource of program.recorder.all("aws:iam/rolePolicy:RolePolicy")) {
                for (const statement of statements(resource)) {
                    if (xrayOnly(statement)) continue;
                    for (const arn of list(statement.Resource)) expect(arn).not.toBe("*");
                    for (const action of list(statement.Action)) expect(action).not.toMatch(/\*/);
                }
            }
        }
    });
});

describe("dev and prod differ only as the stack files say", () => {
    const stateful = [
        ["aws:s3/bucket:Bucket", "media-uploads"],
        ["aws:dynamodb/table:Table", "data-notes"],
        ["aws:cognito/userPool:UserPool", "identity-users"],
    ];

    test("a retained bucket keeps its protections: public access block, encryption and TLS-only policy", () => {
        for (const type of [
            "aws:s3/bucketPolicy:BucketPolicy",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        ]) {
            expect({ type, retained: prod.recorder.one(type).retainOnDelete }).toEqual({ type, retained: true });
        }
    });

    test.each(stateful)("prod keeps %s %s on destroy; dev deletes it", (type, name) => {
        expect(prod.recorder.one(type, name).retainOnDelete).toBe(true);
        expect(dev.recorder.one(type, name).retainOnDelete).toBe(false);
    });

    test("prod protects its data; dev can be destroyed with it", () => {
        expect(prod.recorder.one("aws:dynamodb/table:Table", "data-notes").inputs).toMatchObject({
            deletionProtectionEnabled: true,
            pointInTimeRecovery: { enabled: true },
        });
        expect(dev.recorder.one("aws:dynamodb/table:Table", "data-notes").inputs).toMatchObject({
            deletionProtectionEnabled: false,
            pointInTimeRecovery: { enabled: false },
        });
        expect(prod.recorder.one("aws:s3/bucket:Bucket").inputs.forceDestroy).toBe(false);
        expect(dev.recorder.one("aws:s3/bucket:Bucket").inputs.forceDestroy).toBe(true);
        expect(prod.recorder.one("aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration).toEqual({
            status: "Enabled",
        });
        expect(dev.recorder.all("aws:s3/bucketVersioning:BucketVersioning")).toHaveLength(0);
        expect(prod.recorder.one("aws:cognito/userPool:UserPool").inputs.deletionProtection).toBe("ACTIVE");
        expect(dev.recorder.one("aws:cognito/userPool:UserPool").inputs.deletionProtection).toBe("INACTIVE");
    });

    test("throttle, quota, log retention, memory and price class come from the stack files", () => {
        const plan = (p: LoadedProgram) => p.recorder.one("aws:apigateway/usagePlan:UsagePlan").inputs;
        expect(plan(dev)).toMatchObject({
            throttleSettings: { rateLimit: 10, burstLimit: 20 },
            quotaSettings: { limit: 10000, period: "DAY" },
        });
        expect(plan(prod)).toMatchObject({
            throttleSettings: { rateLimit: 100, burstLimit: 200 },
            quotaSettings: { limit: 1000000, period: "DAY" },
        });
        const retention = (p: LoadedProgram) =>
            p.recorder.all("aws:cloudwatch/logGroup:LogGroup").map((g) => g.inputs.retentionInDays);
        expect(new Set(retention(dev))).toEqual(new Set([7]));
        expect(new Set(retention(prod))).toEqual(new Set([90]));
        expect(dev.recorder.one("aws:lambda/function:Function", "notes-function").inputs.memorySize).toBe(256);
        expect(prod.recorder.one("aws:lambda/function:Function", "notes-function").inputs.memorySize).toBe(512);
        expect(dev.recorder.one("aws:cloudfront/distribution:Distribution").inputs.priceClass).toBe("PriceClass_100");
        expect(prod.recorder.one("aws:cloudfront/distribution:Distribution").inputs.priceClass).toBe("PriceClass_All");
    });
});
