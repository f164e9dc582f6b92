/**
 * Alarms, dashboard and tracing per stage, and the user pool's SES email, as `pulumi up` would create them
 * from each stack file (under mocks); the search-domain alarms through the component on its own.
 */
import { CREDENTIALS, CREDENTIAL_SECRET_KEYS } from "./support/credentials";
import type { RecordedResource, Recorder } from "./support/mocks";
import { ACCOUNT, REGION, REPLACED_PLACEHOLDERS } from "./support/mocks";
import { loadProgram, type LoadedProgram } from "./support/program";

let dev: LoadedProgram;
let prod: LoadedProgram;

beforeAll(async () => {
    dev = await loadProgram("dev");
    // With push credentials, so that the platform applications' delivery is on the dashboard.
    prod = await loadProgram("prod", CREDENTIALS, CREDENTIAL_SECRET_KEYS);
    // Two programs: about 10 s each on an idle machine, several times that on a shared one.
}, 360_000);

const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";
const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
const TOPIC = arn("sns", "monitoring-alarms-abc1234");

/** The fields of an alarm that decide when it fires and whom it tells. */
function alarmOf(r: RecordedResource): Record<string, unknown> {
    const i = r.inputs;
    return {
        name: i.name,
        namespace: i.namespace,
        metricName: i.metricName,
        dimensions: i.dimensions,
        statistic: i.statistic,
        extendedStatistic: i.extendedStatistic,
        period: i.period,
        evaluationPeriods: i.evaluationPeriods,
        datapointsToAlarm: i.datapointsToAlarm,
        threshold: i.threshold,
        comparisonOperator: i.comparisonOperator,
        treatMissingData: i.treatMissingData,
        alarmActions: i.alarmActions,
        okActions: i.okActions,
    };
}

interface Expected {
    stage: string;
    functionErrors: number;
    api5xxRate: number;
    apiP99LatencyMs: number;
    iteratorAgeMs: number;
}

/** Every alarm a stage must have, written out from the stage's thresholds. */
function expectedAlarms(e: Expected): Record<string, unknown>[] {
    const base = {
        statistic: undefined,
        extendedStatistic: undefined,
        datapointsToAlarm: undefined,
        alarmActions: [TOPIC],
        okActions: [TOPIC],
    };
    const name = (key: string) => `mobile-backend-${e.stage}-${key}`;
    const lambda = (label: string, fn: string, key: string, metricName: string, threshold: number) => ({
        ...base,
        name: name(`${label}-${key}`),
        namespace: "AWS/Lambda",
        metricName,
        dimensions: { FunctionName: `${fn}-abc1234` },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
    });
    const queue = (label: string, queueName: string) => ({
        ...base,
        name: name(`${label}-queue-not-empty`),
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: `${queueName}-abc1234` },
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
    });
    const api = { ApiName: "api-api-abc1234", Stage: e.stage };
    const functions: [string, string][] = [
        ["notes", "notes-function"],
        ["uploads", "uploads-function"],
        ["search", "search-function"],
        ["search-indexer", "search-indexer"],
        ["devices", "notifications-devices"],
        ["notifications-sender", "notifications-sender"],
        ["blocks", "notifications-blocks"],
        ["account-deletion", "account-deletion"],
    ];
    // The stage's OpenSearch domain (named by searchDomainName), with the account from the topic's ARN.
    const search = (key: string, metricName: string, statistic: string, periods: number, threshold: number, comparisonOperator: string, treatMissingData: string) => ({
        ...base,
        name: name(`search-${key}`),
        namespace: "AWS/ES",
        metricName,
        dimensions: { DomainName: `mobile-backend-${e.stage}`, ClientId: "123456789012" },
        statistic,
        period: 60,
        evaluationPeriods: periods,
        datapointsToAlarm: periods > 1 ? periods : undefined,
        threshold,
        comparisonOperator,
        treatMissingData,
    });
    return [
        queue("search-failed-records", "search-failed-records"),
        queue("notifications-failed-pushes", "notifications-failed-pushes"),
        queue("account-deletion-failures", "account-failures"),
        ...functions.flatMap(([label, fn]) => [
            lambda(label, fn, "errors", "Errors", e.functionErrors),
            lambda(label, fn, "throttles", "Throttles", 1),
        ]),
        {
            ...base,
            name: name("search-indexer-iterator-age"),
            namespace: "AWS/Lambda",
            metricName: "IteratorAge",
            dimensions: { FunctionName: "search-indexer-abc1234" },
            statistic: "Maximum",
            period: 60,
            evaluationPeriods: 5,
            datapointsToAlarm: 5,
            threshold: e.iteratorAgeMs,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
        },
        search("cluster-red", "ClusterStatus.red", "Maximum", 1, 1, "GreaterThanOrEqualToThreshold", "breaching"),
        search("cluster-yellow", "ClusterStatus.yellow", "Maximum", 5, 1, "GreaterThanOrEqualToThreshold", "notBreaching"),
        search("free-storage", "FreeStorageSpace", "Minimum", 1, 2048, "LessThanOrEqualToThreshold", "notBreaching"),
        lambda("search-indexer", "search-indexer", "destination-delivery-failures", "DestinationDeliveryFailures", 1),
        lambda("notifications-sender", "notifications-sender", "async-events-dropped", "AsyncEventsDropped", 1),
        lambda("notifications-sender", "notifications-sender", "destination-delivery-failures", "DestinationDeliveryFailures", 1),
        lambda("account-deletion", "account-deletion", "async-events-dropped", "AsyncEventsDropped", 1),
        lambda("account-deletion", "account-deletion", "destination-delivery-failures", "DestinationDeliveryFailures", 1),
        {
            ...base,
            name: name("api-5xx-rate"),
            namespace: "AWS/ApiGateway",
            metricName: "5XXError",
            dimensions: api,
            statistic: "Average",
            period: 300,
            evaluationPeriods: 2,
            datapointsToAlarm: 2,
            threshold: e.api5xxRate,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
        },
        {
            ...base,
            name: name("api-p99-latency"),
            namespace: "AWS/ApiGateway",
            metricName: "Latency",
            dimensions: api,
            extendedStatistic: "p99",
            period: 300,
            evaluationPeriods: 2,
            datapointsToAlarm: 2,
            threshold: e.apiP99LatencyMs,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
        },
    ];
}

const byName = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.name).localeCompare(String(b.name));

describe("alarms", () => {
    test.each([
        ["dev", { stage: "dev", functionErrors: 5, api5xxRate: 0.05, apiP99LatencyMs: 5000, iteratorAgeMs: 900_000 }],
        ["prod", { stage: "prod", functionErrors: 1, api5xxRate: 0.01, apiP99LatencyMs: 3000, iteratorAgeMs: 300_000 }],
    ])("%s: every alarm with its metric, dimensions, statistic, threshold, periods, missing data and actions", (stage, e) => {
        const program = stage === "dev" ? dev : prod;
        const actual = program.recorder.all(ALARM).map(alarmOf).sort(byName);
        expect(actual).toEqual(expectedAlarms(e).sort(byName));
    });

    test("every alarm belongs to the Monitoring component", () => {
        const component = dev.recorder.one("mobile-backend:index:Monitoring", "monitoring");
        for (const alarm of dev.recorder.all(ALARM)) expect(alarm.parent).toBe(component.urn);
    });

    test("the alarm topic mails the stack file's addresses; dev has none", () => {
        const subscriptions = (p: LoadedProgram) =>
            p.recorder.all("aws:sns/topicSubscription:TopicSubscription").map((s) => ({
                topic: s.inputs.topic,
                protocol: s.inputs.protocol,
                endpoint: s.inputs.endpoint,
            }));
        expect(subscriptions(prod)).toEqual(REPLACED_PLACEHOLDERS.alarmEmails.map((endpoint) => ({ topic: TOPIC, protocol: "email", endpoint })));
        expect(subscriptions(dev)).toEqual([]);
        expect(dev.outputs.alarmTopicArn).toBe(TOPIC);
    });
});

/** Every metric row of a dashboard, as `namespace metric dim=value…`, and its alarm widget's alarms. */
function dashboardOf(recorder: Recorder): { rows: string[]; alarms: string[]; body: { widgets: Record<string, any>[] } } {
    const body = JSON.parse(recorder.one("aws:cloudwatch/dashboard:Dashboard").inputs.dashboardBody);
    const rows: string[] = [];
    const alarms: string[] = [];
    for (const widget of body.widgets) {
        if (widget.type === "alarm") alarms.push(...widget.properties.alarms);
        for (const row of widget.properties.metrics ?? []) {
            const [namespace, metric, ...rest] = row.filter((part: unknown) => typeof part === "string");
            const dims = [];
            for (let i = 0; i < rest.length; i += 2) dims.push(`${rest[i]}=${rest[i + 1]}`);
            const stat = row.find((part: unknown) => typeof part === "object")?.stat;
            rows.push(`${namespace} ${metric} ${dims.join(" ")} ${stat}`);
        }
    }
    return { rows, alarms, body };
}

describe("dashboard", () => {
    test.each(["dev", "prod"])("%s: one dashboard named after the stage, with the API, every function, the stream, the queues and push delivery", (stage) => {
        const program = stage === "dev" ? dev : prod;
        const dashboard = program.recorder.one("aws:cloudwatch/dashboard:Dashboard");
        expect(dashboard.inputs.dashboardName).toBe(`mobile-backend-${stage}`);
        const { rows, alarms, body } = dashboardOf(program.recorder);
        const api = `ApiName=api-api-abc1234 Stage=${stage}`;
        expect(rows).toEqual(
            expect.arrayContaining([
                `AWS/ApiGateway Count ${api} Sum`,
                `AWS/ApiGateway 4XXError ${api} Sum`,
                `AWS/ApiGateway 5XXError ${api} Sum`,
                `AWS/ApiGateway Latency ${api} p99`,
            ]),
        );
        for (const fn of ["notes-function", "search-function", "search-indexer", "notifications-devices", "notifications-sender", "account-deletion"]) {
            expect(rows).toEqual(
                expect.arrayContaining([
                    `AWS/Lambda Invocations FunctionName=${fn}-abc1234 Sum`,
                    `AWS/Lambda Errors FunctionName=${fn}-abc1234 Sum`,
                    `AWS/Lambda Duration FunctionName=${fn}-abc1234 p99`,
                    `AWS/Lambda Throttles FunctionName=${fn}-abc1234 Sum`,
                ]),
            );
        }
        expect(rows).toEqual(
            expect.arrayContaining([
                "AWS/Lambda IteratorAge FunctionName=search-indexer-abc1234 Maximum",
                "AWS/SQS ApproximateNumberOfMessagesVisible QueueName=search-failed-records-abc1234 Maximum",
                "AWS/SQS ApproximateNumberOfMessagesVisible QueueName=notifications-failed-pushes-abc1234 Maximum",
                "AWS/SQS ApproximateNumberOfMessagesVisible QueueName=account-failures-abc1234 Maximum",
                "AWS/Lambda AsyncEventsDropped FunctionName=notifications-sender-abc1234 Sum",
                "AWS/SNS NumberOfMessagesPublished TopicName=notifications-topic-abc1234 Sum",
            ]),
        );
        // The alarm widget shows every alarm of the stage.
        expect(alarms.sort()).toEqual(program.recorder.all(ALARM).map((a) => arn("cloudwatch", a.name)).sort());
        // Every widget reads its region and sits on the 24-column grid.
        for (const widget of body.widgets) {
            if (widget.type === "metric") expect(widget.properties.region).toBe(REGION);
            expect(widget.x + widget.width).toBeLessThanOrEqual(24);
        }
        expect(program.outputs.dashboardUrl).toBe(
            `https://${REGION}.console.aws.amazon.com/cloudwatch/home?region=${REGION}#dashboards/dashboard/mobile-backend-${stage}`,
        );
    });

    test("push delivery shows each platform application that exists", () => {
        const { rows } = dashboardOf(prod.recorder);
        expect(rows).toEqual(
            expect.arrayContaining([
                "AWS/SNS NumberOfNotificationsFailed Application=notifications-apns-abc1234 Platform=APNS_SANDBOX Sum",
                "AWS/SNS NumberOfNotificationsFailed Application=notifications-fcm-abc1234 Platform=GCM Sum",
            ]),
        );
        expect(dashboardOf(dev.recorder).rows.filter((r) => r.includes("Application="))).toEqual([]);
    });
});

describe("tracing", () => {
    const functions = (p: LoadedProgram) => p.recorder.all("aws:lambda/function:Function");

    test("prod traces the API stage and every function, whose roles may send traces", () => {
        expect(prod.recorder.one("aws:apigateway/stage:Stage").inputs.xrayTracingEnabled).toBe(true);
        // Every function of the stage, however many tiers add.
        expect(functions(prod)).toHaveLength(prod.recorder.all("mobile-backend:index:AppFunction").length);
        for (const fn of functions(prod)) {
            expect({ fn: fn.name, tracing: fn.inputs.tracingConfig }).toEqual({ fn: fn.name, tracing: { mode: "Active" } });
            const policy = JSON.parse(prod.recorder.one("aws:iam/rolePolicy:RolePolicy", `${fn.name}-policy`).inputs.policy);
            expect(policy.Statement).toContainEqual({
                Effect: "Allow",
                Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                Resource: ["*"],
            });
        }
    });

    test("dev traces nothing and grants no X-Ray action", () => {
        expect(dev.recorder.one("aws:apigateway/stage:Stage").inputs.xrayTracingEnabled).toBe(false);
        for (const fn of functions(dev)) {
            expect(fn.inputs.tracingConfig).toBeUndefined();
            expect(dev.recorder.one("aws:iam/rolePolicy:RolePolicy", `${fn.name}-policy`).inputs.policy).not.toContain("xray:");
        }
    });
});

describe("user pool email", () => {
    test("prod sends through the SES identity of its stack file (placeholders replaced)", () => {
        expect(prod.recorder.one("aws:cognito/userPool:UserPool").inputs.emailConfiguration).toEqual({
            emailSendingAccount: "DEVELOPER",
            sourceArn: REPLACED_PLACEHOLDERS.email.sesIdentityArn,
            fromEmailAddress: REPLACED_PLACEHOLDERS.email.fromAddress,
            configurationSet: REPLACED_PLACEHOLDERS.email.configurationSet,
            replyToEmailAddress: REPLACED_PLACEHOLDERS.email.replyTo,
        });
    });

    test("dev keeps Cognito's default sender", () => {
        expect(dev.recorder.one("aws:cognito/userPool:UserPool").inputs.emailConfiguration).toEqual({
            emailSendingAccount: "COGNITO_DEFAULT",
        });
    });
});

describe("an OpenSearch Service domain handed to the component", () => {
    let recorder: Recorder;

    beforeAll(async () => {
        await jest.isolateModulesAsync(async () => {
            const mocks = await import("./support/mocks");
            recorder = mocks.installMocks("dev", mocks.stackConfig("dev"));
            const pulumi = await import("@pulumi/pulumi");
            const aws = await import("@pulumi/aws");
            const { Monitoring } = await import("../infra/monitoring");
            const fn = new aws.lambda.Function("fn", {
                role: arn("iam", "role/fn"),
                runtime: "nodejs22.x",
                handler: "index.handler",
                code: new pulumi.asset.AssetArchive({}),
            });
            const queue = new aws.sqs.Queue("failures", {});
            const common = {
                api: { restApiName: "notes-api", stageName: "dev" },
                functions: [{ label: "fn", function: fn }],
                failureQueues: [{ label: "failures", queue }],
            };
            new Monitoring("watch", { ...common, searchDomain: { domainName: "notes-search" }, thresholds: { freeStorageMb: 5120 } });
            new Monitoring("single", { ...common, searchDomain: { domainName: "notes-search", yellowAlarm: false } });
            await mocks.settle(recorder);
        });
    }, 120_000);

    const topic = (component: string) => arn("sns", `${component}-alarms-abc1234`);
    const domain = { DomainName: "notes-search", ClientId: ACCOUNT };

    test("cluster red and yellow and free storage, in AWS/ES with the domain and the account as dimensions", () => {
        const alarms = recorder.all(ALARM).filter((a) => a.name.startsWith("watch-search-")).map(alarmOf).sort(byName);
        const base = { extendedStatistic: undefined, alarmActions: [topic("watch")], okActions: [topic("watch")], namespace: "AWS/ES", dimensions: domain, period: 60 };
        expect(alarms).toEqual(
            [
                {
                    ...base,
                    name: "mobile-backend-dev-search-cluster-red",
                    metricName: "ClusterStatus.red",
                    statistic: "Maximum",
                    evaluationPeriods: 1,
                    datapointsToAlarm: undefined,
                    threshold: 1,
                    comparisonOperator: "GreaterThanOrEqualToThreshold",
                    treatMissingData: "breaching",
                },
                {
                    ...base,
                    name: "mobile-backend-dev-search-cluster-yellow",
                    metricName: "ClusterStatus.yellow",
                    statistic: "Maximum",
                    evaluationPeriods: 5,
                    datapointsToAlarm: 5,
                    threshold: 1,
                    comparisonOperator: "GreaterThanOrEqualToThreshold",
                    treatMissingData: "notBreaching",
                },
                {
                    ...base,
                    name: "mobile-backend-dev-search-free-storage",
                    metricName: "FreeStorageSpace",
                    statistic: "Minimum",
                    evaluationPeriods: 1,
                    datapointsToAlarm: undefined,
                    threshold: 5120,
                    comparisonOperator: "LessThanOrEqualToThreshold",
                    treatMissingData: "notBreaching",
                },
            ].sort(byName),
        );
    });

    test("a single-node domain can leave out the yellow alarm and keeps the default free-storage threshold", () => {
        const names = recorder.all(ALARM).filter((a) => a.name.startsWith("single-search-")).map((a) => a.name).sort();
        expect(names).toEqual(["single-search-cluster-red", "single-search-free-storage"]);
        expect(recorder.one(ALARM, "single-search-free-storage").inputs.threshold).toBe(2048);
    });

    test("the dashboard shows the domain's health, storage and latency", () => {
        const body = JSON.parse(recorder.one("aws:cloudwatch/dashboard:Dashboard", "watch-dashboard").inputs.dashboardBody);
        const rows = body.widgets.flatMap((w: { properties: { metrics?: unknown[][] } }) => w.properties.metrics ?? []);
        const es = rows.filter((r: unknown[]) => r[0] === "AWS/ES").map((r: unknown[]) => r.slice(1, 6).join(" "));
        expect(es).toEqual([
            `ClusterStatus.red DomainName notes-search ClientId ${ACCOUNT}`,
            `ClusterStatus.yellow DomainName notes-search ClientId ${ACCOUNT}`,
            `FreeStorageSpace DomainName notes-search ClientId ${ACCOUNT}`,
            `SearchLatency DomainName notes-search ClientId ${ACCOUNT}`,
            `IndexingLatency DomainName notes-search ClientId ${ACCOUNT}`,
        ]);
    });

    test("two functions or queues with one label are refused", async () => {
        await jest.isolateModulesAsync(async () => {
            const mocks = await import("./support/mocks");
            mocks.installMocks("dev", mocks.stackConfig("dev"));
            const aws = await import("@pulumi/aws");
            const { Monitoring } = await import("../infra/monitoring");
            const queue = new aws.sqs.Queue("q", {});
            expect(
                () =>
                    new Monitoring("twice", {
                        api: { restApiName: "notes-api", stageName: "dev" },
                        functions: [],
                        failureQueues: [
                            { label: "failures", queue },
                            { label: "failures", queue },
                        ],
                    }),
            ).toThrow("Two alarms of twice are named failures-queue-not-empty");
        });
    });
});
