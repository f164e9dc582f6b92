import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { MonitoringConfig } from "./config";

/** A function the stage watches. */
export interface MonitoredFunction {
    /** Short name, unique among the functions: names its alarms and its lines on the dashboard. */
    label: string;
    /** The function. */
    function: aws.lambda.Function;
    /**
     * How it is invoked. `sync` (the API's functions): errors and throttles. `stream` (an event source
     * mapping with an on-failure destination): also how far it is behind (`IteratorAge`) and records
     * it could not hand to its destination. `async` (with an on-failure destination): also events
     * Lambda dropped and events it could not hand to the destination. Default `sync`.
     */
    invocation?: "sync" | "stream" | "async";
}

/** A queue that holds what could not be processed: any message in it is an alarm. */
export interface MonitoredQueue {
    /** Short name, unique among the queues: names its alarm. */
    label: string;
    /** The queue. */
    queue: aws.sqs.Queue;
}

/** When the alarms go off: the stage config's `monitoring.*` thresholds (documented there with their ranges). */
export type MonitoringThresholds = Omit<MonitoringConfig, "alarmEmails" | "tracing">;

/** The defaults of {@link MonitoringThresholds}. */
export const DEFAULT_THRESHOLDS: Readonly<MonitoringThresholds> = {
    functionErrors: 1,
    functionThrottles: 1,
    api5xxRatePercent: 1,
    apiP99LatencyMs: 3000,
    iteratorAgeSeconds: 300,
    freeStorageMb: 2048,
};

/** Arguments of {@link Monitoring}. */
export interface MonitoringArgs {
    /** Addresses subscribed to the alarm topic (each must confirm by email). Default: none. */
    alarmEmails?: string[];
    /** The REST API stage: `ApiName` is the RestApi's `name`, `Stage` the stage name. */
    api: { restApiName: pulumi.Input<string>; stageName: pulumi.Input<string> };
    /** Every function of the stage. */
    functions: MonitoredFunction[];
    /** Every failure queue of the stage. */
    failureQueues: MonitoredQueue[];
    /**
     * An OpenSearch Service domain: cluster status and free storage alarms (namespace `AWS/ES`, dimensions
     * `DomainName` and `ClientId`, the account id) and dashboard widgets. `yellowAlarm: false` for a
     * single-node domain whose indexes keep replicas it cannot place. Default: none.
     */
    searchDomain?: { domainName: pulumi.Input<string>; yellowAlarm?: boolean };
    /** Push delivery for the dashboard: the stage topic and the platform applications' ARNs. Default: none. */
    push?: { topicName: pulumi.Input<string>; applicationArns: pulumi.Input<string>[] };
    /** Default: {@link DEFAULT_THRESHOLDS}. */
    thresholds?: Partial<MonitoringThresholds>;
}

/** One alarm, before the topic is attached. */
interface AlarmSpec {
    key: string;
    description: string;
    namespace: string;
    metricName: string;
    dimensions: Record<string, pulumi.Input<string>>;
    statistic?: "Sum" | "Maximum" | "Minimum" | "Average";
    extendedStatistic?: string;
    period: number;
    evaluationPeriods: number;
    datapointsToAlarm?: number;
    threshold: number;
    comparisonOperator:
        | "GreaterThanThreshold"
        | "GreaterThanOrEqualToThreshold"
        | "LessThanOrEqualToThreshold";
    treatMissingData: "notBreaching" | "breaching" | "missing" | "ignore";
}

const FIVE_MINUTES = 300;
const ONE_MINUTE = 60;

/**
 * Alarms, a dashboard and an alarm topic for one stage. Every alarm notifies the topic when it goes off
 * and when it recovers; the topic mails `alarmEmails`.
 *
 * Missing data: Lambda, API Gateway and SQS publish nothing for an idle function, API or queue (SQS
 * stops sending metrics for a queue that has been inactive for about six hours — "Available CloudWatch
 * metrics for Amazon SQS"), so their alarms treat missing data as not breaching. A search domain
 * publishes its cluster status every minute ("Monitoring OpenSearch cluster metrics with Amazon
 * CloudWatch"), so a red status that stops arriving counts as breaching.
 */
export class Monitoring extends pulumi.ComponentResource {
    /** The topic every alarm notifies. */
    public readonly alarmTopic: aws.sns.Topic;
    /** Every alarm. */
    public readonly alarms: aws.cloudwatch.MetricAlarm[];
    /** The stage's dashboard. */
    public readonly dashboard: aws.cloudwatch.Dashboard;
    /** Link to the dashboard in the CloudWatch console. */
    public readonly dashboardUrl: pulumi.Output<string>;

    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:Monitoring", name, {}, opts);
        const thresholds: MonitoringThresholds = { ...DEFAULT_THRESHOLDS, ...args.thresholds };
        const prefix = `${pulumi.getProject()}-${pulumi.getStack()}`;
        const region = aws.config.requireRegion();

        // Not encrypted with the AWS-managed SNS key: CloudWatch cannot use that key to publish.
        this.alarmTopic = new aws.sns.Topic(
            `${name}-alarms`,
            { displayName: `${prefix} alarms` },
            { parent: this },
        );
        for (const address of args.alarmEmails ?? []) {
            new aws.sns.TopicSubscription(
                `${name}-email-${address}`,
                { topic: this.alarmTopic.arn, protocol: "email", endpoint: address },
                { parent: this },
            );
        }
        // arn:aws:sns:<region>:<account>:<name>: the account the metrics of AWS/ES are published under.
        const accountId = this.alarmTopic.arn.apply((arn) => arn.split(":")[4]);

        const specs = [
            ...args.failureQueues.map((q) => queueAlarm(q)),
            ...args.functions.flatMap((f) => functionAlarms(f, thresholds)),
            ...apiAlarms(args.api, thresholds),
            ...(args.searchDomain ? searchAlarms(args.searchDomain, accountId, thresholds) : []),
        ];
        const keys = new Set<string>();
        this.alarms = specs.map((spec) => {
            if (keys.has(spec.key)) throw new Error(`Two alarms of ${name} are named ${spec.key}: give each function and queue its own label`);
            keys.add(spec.key);
            const { key, description, ...metric } = spec;
            return new aws.cloudwatch.MetricAlarm(
                `${name}-${key}`,
                {
                    name: `${prefix}-${key}`,
                    alarmDescription: description,
                    ...metric,
                    alarmActions: [this.alarmTopic.arn],
                    okActions: [this.alarmTopic.arn],
                },
                { parent: this },
            );
        });

        this.dashboard = new aws.cloudwatch.Dashboard(
            `${name}-dashboard`,
            {
                dashboardName: prefix,
                dashboardBody: dashboardBody({
                    region,
                    api: args.api,
                    functions: args.functions,
                    failureQueues: args.failureQueues,
                    searchDomain: args.searchDomain && { domainName: args.searchDomain.domainName, accountId },
                    push: args.push,
                    alarmArns: this.alarms.map((a) => a.arn),
                }),
            },
            { parent: this },
        );
        this.dashboardUrl = pulumi.interpolate`https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${this.dashboard.dashboardName}`;

        this.registerOutputs({ alarmTopic: this.alarmTopic, dashboardUrl: this.dashboardUrl });
    }
}

/** Any message in a failure queue is something the stage could not do (Maximum over 5 minutes > 0). */
function queueAlarm({ label, queue }: MonitoredQueue): AlarmSpec {
    return {
        key: `${label}-queue-not-empty`,
        description: `Messages are waiting in the failure queue ${label}: records or events the stage could not process.`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: queue.name },
        statistic: "Maximum",
        period: FIVE_MINUTES,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
    };
}

/** Errors and throttles of every function; what a stream or asynchronous function could lose. */
function functionAlarms(f: MonitoredFunction, t: MonitoringThresholds): AlarmSpec[] {
    const dimensions = { FunctionName: f.function.name };
    const count = (key: string, metricName: string, threshold: number, description: string): AlarmSpec => ({
        key: `${f.label}-${key}`,
        description,
        namespace: "AWS/Lambda",
        metricName,
        dimensions,
        statistic: "Sum",
        period: FIVE_MINUTES,
        evaluationPeriods: 1,
        threshold,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
    });
    const alarms = [
        count("errors", "Errors", t.functionErrors, `The function ${f.label} failed ${t.functionErrors} or more times in 5 minutes.`),
        count("throttles", "Throttles", t.functionThrottles, `The function ${f.label} was throttled ${t.functionThrottles} or more times in 5 minutes.`),
    ];
    const invocation = f.invocation ?? "sync";
    if (invocation === "stream") {
        alarms.push({
            key: `${f.label}-iterator-age`,
            description: `The function ${f.label} is more than ${t.iteratorAgeSeconds} s behind its stream (the index lags behind the table).`,
            namespace: "AWS/Lambda",
            metricName: "IteratorAge",
            dimensions,
            statistic: "Maximum",
            period: ONE_MINUTE,
            evaluationPeriods: 5,
            datapointsToAlarm: 5,
            threshold: t.iteratorAgeSeconds * 1000,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
        });
    }
    if (invocation === "async") {
        alarms.push(
            count("async-events-dropped", "AsyncEventsDropped", 1, `Lambda dropped asynchronous events of ${f.label} after their retries or maximum age.`),
        );
    }
    if (invocation !== "sync") {
        alarms.push(
            count("destination-delivery-failures", "DestinationDeliveryFailures", 1, `Lambda could not hand failed events of ${f.label} to its failure queue: they are lost.`),
        );
    }
    return alarms;
}

/** The API's server-side error rate and its p99 latency, each over 5 minutes, twice in a row. */
function apiAlarms(api: MonitoringArgs["api"], t: MonitoringThresholds): AlarmSpec[] {
    const dimensions = { ApiName: api.restApiName, Stage: api.stageName };
    return [
        {
            key: "api-5xx-rate",
            description: `More than ${t.api5xxRatePercent}% of API requests were answered 5XX, 10 minutes in a row.`,
            namespace: "AWS/ApiGateway",
            metricName: "5XXError",
            dimensions,
            // 5XXError is 1 or 0 per request: its average is the rate.
            statistic: "Average",
            period: FIVE_MINUTES,
            evaluationPeriods: 2,
            datapointsToAlarm: 2,
            threshold: t.api5xxRatePercent / 100,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
        },
        {
            key: "api-p99-latency",
            description: `The API's p99 latency was above ${t.apiP99LatencyMs} ms, 10 minutes in a row.`,
            namespace: "AWS/ApiGateway",
            metricName: "Latency",
            dimensions,
            extendedStatistic: "p99",
            period: FIVE_MINUTES,
            evaluationPeriods: 2,
            datapointsToAlarm: 2,
            threshold: t.apiP99LatencyMs,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
        },
    ];
}

/**
 * The OpenSearch Service alarms AWS recommends ("Recommended CloudWatch alarms for Amazon OpenSearch
 * Service"): red for 1 minute, yellow for 5 minutes in a row, a node's free storage (MiB) too low.
 */
function searchAlarms(
    domain: NonNullable<MonitoringArgs["searchDomain"]>,
    accountId: pulumi.Output<string>,
    t: MonitoringThresholds,
): AlarmSpec[] {
    const dimensions = { DomainName: domain.domainName, ClientId: accountId };
    const alarms: AlarmSpec[] = [
        {
            key: "search-cluster-red",
            description: "The search domain is red: a primary shard is not allocated, so some notes cannot be searched or indexed.",
            namespace: "AWS/ES",
            metricName: "ClusterStatus.red",
            dimensions,
            statistic: "Maximum",
            period: ONE_MINUTE,
            evaluationPeriods: 1,
            threshold: 1,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
            treatMissingData: "breaching",
        },
        {
            key: "search-free-storage",
            description: `A search domain node has ${t.freeStorageMb} MiB of storage or less left.`,
            namespace: "AWS/ES",
            metricName: "FreeStorageSpace",
            dimensions,
            statistic: "Minimum",
            period: ONE_MINUTE,
            evaluationPeriods: 1,
            threshold: t.freeStorageMb,
            comparisonOperator: "LessThanOrEqualToThreshold",
            // A domain that stops reporting is caught by the red alarm.
            treatMissingData: "notBreaching",
        },
    ];
    if (domain.yellowAlarm ?? true) {
        alarms.splice(1, 0, {
            key: "search-cluster-yellow",
            description: "The search domain has been yellow for 5 minutes: a replica shard is not allocated.",
            namespace: "AWS/ES",
            metricName: "ClusterStatus.yellow",
            dimensions,
            statistic: "Maximum",
            period: ONE_MINUTE,
            evaluationPeriods: 5,
            datapointsToAlarm: 5,
            threshold: 1,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
            treatMissingData: "notBreaching",
        });
    }
    return alarms;
}

/** What the dashboard shows, before names are resolved. */
interface DashboardInputs {
    region: string;
    api: MonitoringArgs["api"];
    functions: MonitoredFunction[];
    failureQueues: MonitoredQueue[];
    searchDomain?: { domainName: pulumi.Input<string>; accountId: pulumi.Input<string> };
    push?: MonitoringArgs["push"];
    alarmArns: pulumi.Input<string>[];
}

type MetricRow = (string | Record<string, unknown>)[];

/** The dashboard's inputs once resolved. */
interface ResolvedDashboard {
    apiName: string;
    stage: string;
    functions: [string, string, NonNullable<MonitoredFunction["invocation"]>][];
    queues: [string, string][];
    domain?: [string, string];
    topicName?: string;
    applicationArns: string[];
    alarmArns: string[];
}

/**
 * The dashboard body ("Dashboard body structure and syntax", CloudWatch API reference): the API, every
 * function, the stream, the failure queues, search and push delivery, and the state of every alarm.
 */
function dashboardBody(inputs: DashboardInputs): pulumi.Output<string> {
    return pulumi
        .all({
            apiName: inputs.api.restApiName,
            stage: inputs.api.stageName,
            functions: pulumi.all(inputs.functions.map((f) => pulumi.all([f.label, f.function.name, f.invocation ?? "sync"]))),
            queues: pulumi.all(inputs.failureQueues.map((q) => pulumi.all([q.label, q.queue.name]))),
            domain: inputs.searchDomain ? pulumi.all([inputs.searchDomain.domainName, inputs.searchDomain.accountId]) : undefined,
            topicName: inputs.push?.topicName,
            applicationArns: pulumi.all(inputs.push?.applicationArns ?? []),
            alarmArns: pulumi.all(inputs.alarmArns),
        })
        .apply((resolved) => {
            // pulumi.all over an object loses the tuple types; these are the values built above.
            const v = resolved as unknown as ResolvedDashboard;
            const widgets: Record<string, unknown>[] = [];
            const add = (title: string, metrics: MetricRow[], properties: Record<string, unknown> = {}) =>
                metrics.length > 0 &&
                widgets.push({
                    type: "metric",
                    width: 12,
                    height: 6,
                    properties: { title, region: inputs.region, view: "timeSeries", period: FIVE_MINUTES, metrics, ...properties },
                });
            const api = ["ApiName", v.apiName, "Stage", v.stage];
            add("API requests and errors", [
                ["AWS/ApiGateway", "Count", ...api, { stat: "Sum", label: "Requests" }],
                ["AWS/ApiGateway", "4XXError", ...api, { stat: "Sum", label: "4XX" }],
                ["AWS/ApiGateway", "5XXError", ...api, { stat: "Sum", label: "5XX" }],
            ]);
            add("API latency (ms)", [
                ["AWS/ApiGateway", "Latency", ...api, { stat: "p50", label: "p50" }],
                ["AWS/ApiGateway", "Latency", ...api, { stat: "p99", label: "p99" }],
                ["AWS/ApiGateway", "IntegrationLatency", ...api, { stat: "p99", label: "Integration p99" }],
            ]);
            const perFunction = (metric: string, stat: string) =>
                v.functions.map(([label, fn]) => ["AWS/Lambda", metric, "FunctionName", fn, { stat, label }]);
            add("Function invocations", perFunction("Invocations", "Sum"));
            add("Function errors", perFunction("Errors", "Sum"));
            add("Function duration p99 (ms)", perFunction("Duration", "p99"));
            add("Function throttles", perFunction("Throttles", "Sum"));
            const streams = v.functions.filter(([, , invocation]) => invocation === "stream");
            if (streams.length > 0) {
                add(
                    "Stream: iterator age (ms), how far the index is behind the table",
                    streams.map(([label, fn]) => ["AWS/Lambda", "IteratorAge", "FunctionName", fn, { stat: "Maximum", label }]),
                    { period: ONE_MINUTE },
                );
            }
            add(
                "Failure queues: messages waiting",
                v.queues.map(([label, queue]) => ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue, { stat: "Maximum", label }]),
            );
            if (v.domain) {
                const [domainName, accountId] = v.domain;
                const domain = ["DomainName", domainName, "ClientId", accountId];
                add(
                    "Search domain health",
                    [
                        ["AWS/ES", "ClusterStatus.red", ...domain, { stat: "Maximum", label: "Red" }],
                        ["AWS/ES", "ClusterStatus.yellow", ...domain, { stat: "Maximum", label: "Yellow" }],
                    ],
                    { period: ONE_MINUTE },
                );
                add(
                    "Search domain: free storage (MiB) and latency (ms)",
                    [
                        ["AWS/ES", "FreeStorageSpace", ...domain, { stat: "Minimum", label: "Free storage" }],
                        ["AWS/ES", "SearchLatency", ...domain, { stat: "Average", label: "Search latency", yAxis: "right" }],
                        ["AWS/ES", "IndexingLatency", ...domain, { stat: "Average", label: "Indexing latency", yAxis: "right" }],
                    ],
                    { period: ONE_MINUTE },
                );
            }
            const asyncFunctions = v.functions.filter(([, , invocation]) => invocation === "async");
            const pushRows: MetricRow[] = asyncFunctions.flatMap(([label, fn]) => [
                ["AWS/Lambda", "AsyncEventsReceived", "FunctionName", fn, { stat: "Sum", label: `${label}: received` }],
                ["AWS/Lambda", "AsyncEventsDropped", "FunctionName", fn, { stat: "Sum", label: `${label}: dropped` }],
            ]);
            if (v.topicName) {
                pushRows.push(
                    ["AWS/SNS", "NumberOfMessagesPublished", "TopicName", v.topicName, { stat: "Sum", label: "Published to the stage topic" }],
                    ["AWS/SNS", "NumberOfNotificationsFailed", "TopicName", v.topicName, { stat: "Sum", label: "Stage topic: failed" }],
                );
            }
            for (const arn of v.applicationArns) {
                // arn:aws:sns:<region>:<account>:app/<platform>/<name>
                const [, platform, application] = arn.split(":")[5].split("/");
                const dims = ["Application", application, "Platform", platform];
                pushRows.push(
                    ["AWS/SNS", "NumberOfNotificationsDelivered", ...dims, { stat: "Sum", label: `${platform}: delivered` }],
                    ["AWS/SNS", "NumberOfNotificationsFailed", ...dims, { stat: "Sum", label: `${platform}: failed` }],
                );
            }
            add("Push delivery", pushRows);
            widgets.push({
                type: "alarm",
                width: 24,
                height: Math.max(3, Math.ceil(v.alarmArns.length / 4) + 2),
                properties: { title: "Alarms", alarms: v.alarmArns, sortBy: "stateUpdatedTimestamp" },
            });
            // Two metric widgets a row, in order.
            let x = 0;
            let y = 0;
            for (const widget of widgets) {
                const width = widget.width as number;
                if (x + width > 24) {
                    x = 0;
                    y += 6;
                }
                Object.assign(widget, { x, y });
                x += width;
            }
            return JSON.stringify({ widgets });
        });
}
