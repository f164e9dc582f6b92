/**
 * The notification tier under mocks: platform applications only with credentials (as secrets), the
 * devices table, the stage topic, the asynchronous integration, retries and the failure queue, IAM
 * least privilege and the dev/prod differences.
 */
import { registerDeviceSchema, sendNotificationSchema } from "../functions/notification-schema";
import type { RecordedResource } from "./support/mocks";
import { APNS_KEY, CREDENTIALS as credentials, CREDENTIAL_SECRET_KEYS as secretKeys, FCM_KEY } from "./support/credentials";
import { loadProgram, type LoadedProgram } from "./support/program";

let dev: LoadedProgram;
let prod: LoadedProgram;
let configured: LoadedProgram;
let configuredProd: LoadedProgram;

beforeAll(async () => {
    dev = await loadProgram("dev");
    prod = await loadProgram("prod");
    configured = await loadProgram("dev", credentials, secretKeys);
    configuredProd = await loadProgram(
        "prod",
        {
            "mobile-backend:notifications": {
                ...credentials["mobile-backend:notifications"],
                apns: { ...credentials["mobile-backend:notifications"].apns, sandbox: false },
            },
        },
        secretKeys,
    );
    // Four programs: generous under a loaded machine.
}, 600_000);

/** How the engine receives a secret value: encrypted in the state, never shown in plain text. */
const secret = (value: string) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });
const statements = (r: RecordedResource) => JSON.parse(r.inputs.policy).Statement;
const LIMITS_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/data-limits-abc1234";
const BLOCKS_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/notifications-blocks-abc1234";
const document = (p: LoadedProgram) => JSON.parse(p.recorder.one("aws:apigateway/restApi:RestApi").inputs.body);

describe("without push credentials", () => {
    test("no platform application exists, and the stage topic and devices table do", () => {
        expect(dev.recorder.all("aws:sns/platformApplication:PlatformApplication")).toHaveLength(0);
        expect(dev.recorder.one("aws:sns/topic:Topic", "notifications-topic").inputs.kmsMasterKeyId).toBe("alias/aws/sns");
        expect(dev.outputs.notificationsTopicArn).toBe("arn:aws:sns:us-east-1:123456789012:notifications-topic-abc1234");
        expect(dev.recorder.one("aws:dynamodb/table:Table", "notifications-devices").inputs).toMatchObject({
            billingMode: "PAY_PER_REQUEST",
            hashKey: "ownerId",
            rangeKey: "deviceId",
            serverSideEncryption: { enabled: true },
            globalSecondaryIndexes: [{ name: "byEndpoint", hashKey: "endpointArn", projectionType: "ALL" }],
        });
    });

    test("the functions get no SNS endpoint permissions at all, only the topic and their table", () => {
        expect(statements(dev.recorder.one("aws:iam/rolePolicy:RolePolicy", "notifications-devices-policy")).slice(1)).toEqual([
            {
                Effect: "Allow",
                Action: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"],
                Resource: [
                    "arn:aws:dynamodb:us-east-1:123456789012:table/notifications-devices-abc1234",
                    "arn:aws:dynamodb:us-east-1:123456789012:table/notifications-devices-abc1234/index/*",
                ],
            },
            { Effect: "Allow", Action: ["dynamodb:UpdateItem"], Resource: [LIMITS_ARN] },
        ]);
        expect(statements(dev.recorder.one("aws:iam/rolePolicy:RolePolicy", "notifications-sender-policy")).slice(1)).toEqual([
            {
                Effect: "Allow",
                Action: ["dynamodb:Query", "dynamodb:DeleteItem"],
                Resource: ["arn:aws:dynamodb:us-east-1:123456789012:table/notifications-devices-abc1234"],
            },
            { Effect: "Allow", Action: ["dynamodb:Query"], Resource: [BLOCKS_ARN] },
            { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:UpdateItem"], Resource: [LIMITS_ARN] },
            { Effect: "Allow", Action: ["sns:Publish"], Resource: ["arn:aws:sns:us-east-1:123456789012:notifications-topic-abc1234"] },
            {
                Effect: "Allow",
                Action: ["sqs:SendMessage"],
                Resource: ["arn:aws:sqs:us-east-1:123456789012:notifications-failed-pushes-abc1234"],
            },
        ]);
        const env = dev.archives["notifications-sender"].environment;
        expect(env).toEqual({
            DEVICES_TABLE: "notifications-devices-abc1234",
            BLOCKS_TABLE: "notifications-blocks-abc1234",
            // Pulumi.dev.yaml's settings.
            MAX_DEVICES_PER_IDENTITY: "10",
            LIMITS_TABLE: "data-limits-abc1234",
            WRITES_PER_MINUTE: "60",
            NOTIFICATIONS_SENT_PER_HOUR: "30",
            NOTIFICATIONS_RECEIVED_PER_HOUR: "60",
            NOTIFICATIONS_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:notifications-topic-abc1234",
        });
    });
});

describe("with push credentials set as secrets", () => {
    test("APNs (token-based, sandbox on dev) and FCM platform applications are created", () => {
        const apns = configured.recorder.one("aws:sns/platformApplication:PlatformApplication", "notifications-apns").inputs;
        expect(apns).toMatchObject({
            platform: "APNS_SANDBOX",
            platformCredential: secret(APNS_KEY),
            // The AWS provider treats the key id as sensitive too.
            platformPrincipal: secret("ABC123DEFG"),
            applePlatformTeamId: "TEAM123456",
            applePlatformBundleId: "com.example.notes",
        });
        expect(configuredProd.recorder.one("aws:sns/platformApplication:PlatformApplication", "notifications-apns").inputs.platform).toBe("APNS");
        const fcm = configured.recorder.one("aws:sns/platformApplication:PlatformApplication", "notifications-fcm").inputs;
        expect(fcm).toEqual({ platform: "GCM", platformCredential: secret(FCM_KEY) });
        expect(configured.archives["notifications-devices"].environment).toMatchObject({
            APNS_APPLICATION_ARN: "arn:aws:sns:us-east-1:123456789012:app/APNS_SANDBOX/notifications-apns-abc1234",
            APNS_SANDBOX: "true",
            FCM_APPLICATION_ARN: "arn:aws:sns:us-east-1:123456789012:app/GCM/notifications-fcm-abc1234",
        });
    });

    test("the credentials never reach a function's code or environment", () => {
        for (const archive of Object.values(configured.archives)) {
            const everything = JSON.stringify(archive);
            expect(everything).not.toContain("LOCALTESTKEY");
        }
    });

    test("devices may create and update endpoints of these applications only; the sender may publish to and delete them", () => {
        const apps = [
            "arn:aws:sns:us-east-1:123456789012:app/APNS_SANDBOX/notifications-apns-abc1234",
            "arn:aws:sns:us-east-1:123456789012:app/GCM/notifications-fcm-abc1234",
        ];
        const endpoints = [
            "arn:aws:sns:us-east-1:123456789012:endpoint/APNS_SANDBOX/notifications-apns-abc1234/*",
            "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/notifications-fcm-abc1234/*",
        ];
        expect(statements(configured.recorder.one("aws:iam/rolePolicy:RolePolicy", "notifications-devices-policy")).slice(3)).toEqual([
            { Effect: "Allow", Action: ["sns:CreatePlatformEndpoint"], Resource: apps },
            { Effect: "Allow", Action: ["sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"], Resource: endpoints },
        ]);
        expect(statements(configured.recorder.one("aws:iam/rolePolicy:RolePolicy", "notifications-sender-policy"))).toContainEqual({
            Effect: "Allow",
            Action: ["sns:Publish", "sns:DeleteEndpoint"],
            Resource: endpoints,
        });
    });
});

describe("stage config of credentials", () => {
    test("a credential stored in plain text is refused", async () => {
        // Set with --path but without --secret: the notifications key is not a secret.
        await expect(loadProgram("dev", credentials, [])).rejects.toThrow(
            "mobile-backend:notifications.apns.signingKey must be set as a secret: pulumi config set --secret --path mobile-backend:notifications.apns.signingKey",
        );
    });

    test("partial APNs settings name what is missing", async () => {
        await expect(
            loadProgram("dev", { "mobile-backend:notifications": { apns: { signingKey: APNS_KEY } } }, ["mobile-backend:notifications"]),
        ).rejects.toThrow(
            "APNs is partly configured: also set mobile-backend:notifications.apns.keyId, mobile-backend:notifications.apns.teamId, mobile-backend:notifications.apns.bundleId",
        );
    });

    test("a key that is not a service-account key is refused without echoing it", async () => {
        const attempt = loadProgram(
            "dev",
            { "mobile-backend:notifications": { fcm: { serviceAccount: '{"type":"user","secret":"hunter2"}' } } },
            ["mobile-backend:notifications"],
        );
        await expect(attempt).rejects.toThrow("mobile-backend:notifications.fcm.serviceAccount must be a service-account JSON key");
        await expect(attempt).rejects.not.toThrow("hunter2");
    });
});

describe("routes", () => {
    test("POST /notifications invokes the sender asynchronously and answers 202 at once", () => {
        const op = document(dev).paths["/notifications"].post;
        expect(op.security).toEqual([{ sigv4: [], api_key: [] }]);
        const integration = op["x-amazon-apigateway-integration"];
        expect(integration).toMatchObject({
            type: "aws",
            httpMethod: "POST",
            uri: expect.stringContaining("function:notifications-sender-abc1234/invocations"),
            requestParameters: { "integration.request.header.X-Amz-Invocation-Type": "'Event'" },
            responses: { default: { statusCode: "202" } },
        });
        expect(JSON.parse(integration.responses.default.responseTemplates["application/json"])).toEqual({ success: true, accepted: true });
        // The sender comes from the caller's credentials, never from the body.
        // (test/apigateway-templates.test.ts renders it with adversarial identities and bodies.)
        expect(integration.requestTemplates["application/json"]).toContain('"senderId":"$util.escapeJavaScript($context.identity.cognitoIdentityId)');
        expect(op.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/SendNotificationRequest" });
        expect(document(dev).components.schemas.SendNotificationRequest).toEqual(sendNotificationSchema);
        expect(op["x-amazon-apigateway-request-validator"]).toBe("body");
    });

    test("the device routes proxy to the devices function, with the registration model", () => {
        const paths = document(dev).paths;
        for (const [path, method] of [
            ["/devices", "post"],
            ["/devices", "get"],
            ["/devices/{deviceId}", "delete"],
        ]) {
            expect(paths[path][method]["x-amazon-apigateway-integration"]).toMatchObject({
                type: "aws_proxy",
                uri: expect.stringContaining("function:notifications-devices-abc1234/invocations"),
            });
        }
        expect(document(dev).components.schemas.RegisterDeviceRequest).toEqual(registerDeviceSchema);
    });

    test("failed pushes are retried a bounded number of times, then kept in a queue for two weeks", () => {
        // The sender's (the account deletion has its own).
        const senderConfig = (program: typeof dev) =>
            program.recorder.all("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").find((r) => r.name === "notifications-sender-async")!;
        expect(senderConfig(dev).inputs).toEqual({
            functionName: "notifications-sender-abc1234",
            maximumRetryAttempts: 2,
            maximumEventAgeInSeconds: 3600,
            destinationConfig: { onFailure: { destination: "arn:aws:sqs:us-east-1:123456789012:notifications-failed-pushes-abc1234" } },
        });
        expect(senderConfig(prod).inputs.maximumEventAgeInSeconds).toBe(21600);
        expect(dev.recorder.one("aws:sqs/queue:Queue", "notifications-failed-pushes").inputs.messageRetentionSeconds).toBe(1209600);
    });
});

describe("fair use, blocks and the devices cap", () => {
    test("the limits table counts with a TTL, is never kept, and only the functions that count may update it", () => {
        const limits = (p: LoadedProgram) => p.recorder.one("aws:dynamodb/table:Table", "data-limits");
        expect(limits(dev).inputs).toMatchObject({
            billingMode: "PAY_PER_REQUEST",
            hashKey: "id",
            attributes: [{ name: "id", type: "S" }],
            ttl: { attributeName: "expiresAt", enabled: true },
            serverSideEncryption: { enabled: true },
        });
        expect(limits(dev).inputs.rangeKey).toBeUndefined();
        expect(limits(prod).retainOnDelete).toBe(false);
        const users = dev.recorder
            .all("aws:iam/rolePolicy:RolePolicy")
            .filter((policy) => JSON.stringify(statements(policy)).includes(LIMITS_ARN))
            .map((policy) => policy.name)
            .sort();
        // The account deletion removes the deleted identity's counters.
        expect(users).toEqual(["account-deletion-policy", "notes-function-policy", "notifications-blocks-policy", "notifications-devices-policy", "notifications-sender-policy"]);
        expect(dev.archives["notes-function"].environment).toMatchObject({ LIMITS_TABLE: "data-limits-abc1234", WRITES_PER_MINUTE: "60" });
        expect(prod.archives["notifications-sender"].environment).toMatchObject({
            NOTIFICATIONS_SENT_PER_HOUR: "100",
            NOTIFICATIONS_RECEIVED_PER_HOUR: "200",
            MAX_DEVICES_PER_IDENTITY: "10",
        });
    });

    test("the blocks routes proxy to a function of their own that may only use the blocks table and the write counter", () => {
        const paths = document(dev).paths;
        for (const [path, method] of [
            ["/blocks", "get"],
            ["/blocks/{identityId}", "put"],
            ["/blocks/{identityId}", "delete"],
        ]) {
            expect(paths[path][method]["x-amazon-apigateway-integration"]).toMatchObject({
                type: "aws_proxy",
                uri: expect.stringContaining("function:notifications-blocks-abc1234/invocations"),
            });
            expect(paths[path][method].security).toEqual([{ sigv4: [], api_key: [] }]);
        }
        expect(statements(dev.recorder.one("aws:iam/rolePolicy:RolePolicy", "notifications-blocks-policy")).slice(1)).toEqual([
            { Effect: "Allow", Action: ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"], Resource: [BLOCKS_ARN] },
            { Effect: "Allow", Action: ["dynamodb:UpdateItem"], Resource: [LIMITS_ARN] },
        ]);
        expect(dev.recorder.one("aws:dynamodb/table:Table", "notifications-blocks").inputs).toMatchObject({
            hashKey: "recipientId",
            rangeKey: "senderId",
        });
    });

    test("the devices cap and limits follow the stack file", async () => {
        const custom = await loadProgram("dev", {
            "mobile-backend:notifications": { maxDevicesPerIdentity: 3 },
            "mobile-backend:limits": { writesPerMinute: 7, notificationsSentPerHour: 8, notificationsReceivedPerHour: 9 },
        });
        expect(custom.archives["notifications-devices"].environment).toMatchObject({
            MAX_DEVICES_PER_IDENTITY: "3",
            WRITES_PER_MINUTE: "7",
            NOTIFICATIONS_SENT_PER_HOUR: "8",
            NOTIFICATIONS_RECEIVED_PER_HOUR: "9",
        });
    }, 300_000);
});

describe("dev and prod", () => {
    test.each(["notifications-devices", "notifications-blocks"])("prod keeps %s on destroy, protected; dev deletes it", (name) => {
        const table = (p: LoadedProgram) => p.recorder.one("aws:dynamodb/table:Table", name);
        expect(table(prod).retainOnDelete).toBe(true);
        expect(table(prod).inputs).toMatchObject({ deletionProtectionEnabled: true, pointInTimeRecovery: { enabled: true } });
        expect(table(dev).retainOnDelete).toBe(false);
        expect(table(dev).inputs).toMatchObject({ deletionProtectionEnabled: false });
    });
});
