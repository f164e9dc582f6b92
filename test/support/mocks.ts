import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";

/** Fake account and region the mocks report. */
export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";
export const PROJECT = "mobile-backend";
const ROOT = path.resolve(__dirname, "..", "..");

/** A resource the program registered, with what the engine would have received. */
export interface RecordedResource {
    type: string;
    name: string;
    urn: string;
    /** URN of the parent ("" for the stack's direct children). */
    parent: string;
    inputs: Record<string, any>;
    retainOnDelete: boolean;
    protect: boolean;
    /** URNs of explicit and implicit dependencies. */
    dependencies: string[];
}

/** Everything registered so far, in registration order. */
export class Recorder {
    readonly resources: RecordedResource[] = [];
    private readonly pending = new Map<string, Omit<RecordedResource, "inputs">>();

    /** Resources of a type, optionally with a given name. */
    all(type: string, name?: string): RecordedResource[] {
        return this.resources.filter((r) => r.type === type && (name === undefined || r.name === name));
    }

    /** The single resource of a type (and name); throws if there is not exactly one. */
    one(type: string, name?: string): RecordedResource {
        const found = this.all(type, name);
        if (found.length !== 1) {
            throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}`);
        }
        return found[0];
    }

    /** The resource with this URN. */
    byUrn(urn: string): RecordedResource | undefined {
        return this.resources.find((r) => r.urn === urn);
    }

    /** Called by the monitor wrapper with what the engine is told about each resource. */
    noteRegistration(key: string, entry: Omit<RecordedResource, "inputs">): void {
        this.pending.set(key, entry);
    }

    noteInputs(key: string, inputs: Record<string, any>): void {
        const entry = this.pending.get(key);
        if (entry) this.resources.push({ ...entry, inputs });
    }
}

/**
 * Installs Pulumi mocks that synthesize the outputs AWS would compute (ARNs, ids, URLs), refuse any
 * provider function call (the program must not depend on one), and record every resource with its
 * parent and resource options. Call before the program is loaded.
 */
export function installMocks(stack: string, config: Record<string, string>, secretKeys: string[] = []): Recorder {
    const recorder = new Recorder();
    pulumi.runtime.setAllConfig(config, secretKeys);
    void pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, any> } {
                const id = `${args.name}-id`;
                recorder.noteInputs(`${args.type}::${args.name}`, args.inputs);
                return { id, state: { ...args.inputs, ...computedOutputs(args.type, args.name, id, args.inputs, stack) } };
            },
            call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
                throw new Error(`unexpected provider function call ${args.token}`);
            },
        },
        PROJECT,
        stack,
        false,
    );
    // The mock monitor sees each registration request; keep what mocks' newResource is not shown.
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource(req: RegisterRequest, callback: (err: unknown, res: unknown) => void): void;
        newUrn(parent: string, type: string, name: string): string;
    };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        recorder.noteRegistration(`${req.getType()}::${req.getName()}`, {
            type: req.getType(),
            name: req.getName(),
            urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()),
            parent: req.getParent(),
            retainOnDelete: req.getRetainondelete?.() ?? false,
            protect: req.getProtect?.() ?? false,
            dependencies: req.getDependenciesList(),
        });
        register(req, callback);
    };
    return recorder;
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getRetainondelete?(): boolean;
    getProtect?(): boolean;
    getDependenciesList(): string[];
}

/** Outputs AWS computes that the program reads; shaped like the real ones. */
function computedOutputs(type: string, name: string, id: string, inputs: Record<string, any>, stack: string): Record<string, unknown> {
    const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
    const physical = inputs.name ?? `${name}-abc1234`;
    switch (type) {
        case "aws:s3/bucket:Bucket": {
            const bucket = inputs.bucket ?? `${name}-abc1234`;
            return { bucket, arn: `arn:aws:s3:::${bucket}`, bucketRegionalDomainName: `${bucket}.s3.${REGION}.amazonaws.com` };
        }
        case "aws:cloudfront/distribution:Distribution":
            return { arn: `arn:aws:cloudfront::${ACCOUNT}:distribution/E${id}`, domainName: "d1234abcd.cloudfront.net" };
        case "aws:dynamodb/table:Table":
            return {
                name: physical,
                arn: arn("dynamodb", `table/${physical}`),
                streamArn: arn("dynamodb", `table/${physical}/stream/2026-01-01T00:00:00.000`),
            };
        case "aws:lambda/function:Function":
            return {
                name: physical,
                arn: arn("lambda", `function:${physical}`),
                invokeArn: `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${arn("lambda", `function:${physical}`)}/invocations`,
            };
        case "aws:apigateway/restApi:RestApi":
            // `name` as Pulumi's auto-naming gives it: it is the ApiName dimension of the API's metrics.
            return { name: physical, executionArn: arn("execute-api", id), rootResourceId: "root" };
        case "aws:apigateway/stage:Stage":
            return {
                arn: `arn:aws:apigateway:${REGION}::/restapis/${inputs.restApi}/stages/${inputs.stageName}`,
                executionArn: arn("execute-api", `${inputs.restApi}/${inputs.stageName}`),
                invokeUrl: `https://${inputs.restApi}.execute-api.${REGION}.amazonaws.com/${inputs.stageName}/`,
            };
        case "aws:apigateway/apiKey:ApiKey":
            return { value: `key-value-of-${stack}` };
        case "aws:cognito/userPool:UserPool":
            return { endpoint: `cognito-idp.${REGION}.amazonaws.com/${REGION}_${id}`, arn: arn("cognito-idp", `userpool/${id}`) };
        case "aws:iam/role:Role":
            return { name: physical, arn: `arn:aws:iam::${ACCOUNT}:role/${physical}` };
        case "aws:cloudsearch/domain:Domain":
            return {
                arn: arn("cloudsearch", `domain/${inputs.name}`),
                documentServiceEndpoint: `doc-${inputs.name}-abc123.${REGION}.cloudsearch.amazonaws.com`,
                searchServiceEndpoint: `search-${inputs.name}-abc123.${REGION}.cloudsearch.amazonaws.com`,
            };
        case "aws:opensearch/domain:Domain":
            return {
                domainName: inputs.domainName,
                arn: `arn:aws:es:${REGION}:${ACCOUNT}:domain/${inputs.domainName}`,
                endpoint: `search-${inputs.domainName}-abc123xyz.${REGION}.es.amazonaws.com`,
            };
        case "pulumi-nodejs:dynamic:Resource":
            // An existing CloudSearch domain adopted by the program: report it as found with all fields missing.
            return {
                arn: arn("cloudsearch", `domain/${inputs.domainName}`),
                documentEndpoint: `doc-${inputs.domainName}-xyz789.${REGION}.cloudsearch.amazonaws.com`,
                searchEndpoint: `search-${inputs.domainName}-xyz789.${REGION}.cloudsearch.amazonaws.com`,
                definedFields: (inputs.fields ?? []).map((f: { name: string }) => f.name),
                verifiedFields: [],
            };
        case "aws:sns/platformApplication:PlatformApplication":
            return { arn: arn("sns", `app/${inputs.platform}/${physical}`) };
        case "aws:sns/topic:Topic":
            return { name: physical, arn: arn("sns", physical) };
        case "aws:sqs/queue:Queue":
            return { name: physical, arn: arn("sqs", physical), url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${physical}` };
        case "aws:cloudwatch/logGroup:LogGroup":
            return { name: physical, arn: arn("logs", `log-group:${physical}`) };
        default:
            return { arn: arn(type.split(":")[1].split("/")[0], `${name}`) };
    }
}

/**
 * What an operator puts in place of the stack files' placeholders (which the program refuses): an SES
 * identity in the mocks' account and region, and a real-looking on-call address.
 */
export const REPLACED_PLACEHOLDERS = {
    email: {
        fromAddress: "no-reply@mail.notes-app.test",
        sesIdentityArn: `arn:aws:ses:${REGION}:${ACCOUNT}:identity/mail.notes-app.test`,
        configurationSet: "mobile-backend-prod",
        replyTo: "support@notes-app.test",
    },
    alarmEmails: ["oncall@notes-app.test"],
};

/**
 * A stack file's `config` with its documented placeholders replaced as the README tells the operator to
 * (`identity.email` and `monitoring.alarmEmails` at `example.com`); everything else as in the file.
 */
export function stackFileConfig(stage: string): Record<string, unknown> {
    const file = path.join(ROOT, `Pulumi.${stage}.yaml`);
    const config = { ...((parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> }).config ?? {}) };
    const identity = config["mobile-backend:identity"] as { email?: { fromAddress?: string } } | undefined;
    if (identity?.email?.fromAddress?.endsWith("@example.com")) {
        config["mobile-backend:identity"] = { ...identity, email: { ...identity.email, ...REPLACED_PLACEHOLDERS.email } };
    }
    const monitoring = config["mobile-backend:monitoring"] as { alarmEmails?: string[] } | undefined;
    if (monitoring?.alarmEmails?.some((a) => a.endsWith("@example.com"))) {
        config["mobile-backend:monitoring"] = { ...monitoring, alarmEmails: REPLACED_PLACEHOLDERS.alarmEmails };
    }
    return config;
}

/** A stack file's config, as the Pulumi CLI would hand it to the program (objects as JSON text). */
export function stackConfig(stage: string, overrides: Record<string, unknown> = {}): Record<string, string> {
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries({ ...stackFileConfig(stage), ...overrides })) {
        config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return config;
}

/** Resolves an output (or plain value) to its value under mocks. */
export function valueOf<T>(output: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(output).apply((v) => resolve(v as T)));
}

/** Waits until every registration the program started has reached the mocks. */
export async function settle(recorder: Recorder): Promise<void> {
    let last = -1;
    for (let stable = 0; stable < 5; ) {
        await new Promise((r) => setTimeout(r, 20));
        stable = recorder.resources.length === last ? stable + 1 : 0;
        last = recorder.resources.length;
    }
}

/** The deployment package of a function as the program would upload it. */
export interface FunctionArchive {
    /** Logical name of the function resource. */
    name: string;
    /** File name → contents of every file in the archive. */
    files: Record<string, string>;
    /** Total bytes of the files. */
    bytes: number;
    /** Environment variables the function is deployed with. */
    environment: Record<string, string>;
}

/** The archives of every Lambda function the program registered, by logical name. */
export async function functionArchives(recorder: Recorder): Promise<Record<string, FunctionArchive>> {
    const archives: Record<string, FunctionArchive> = {};
    for (const fn of recorder.all("aws:lambda/function:Function")) {
        // The serialized closure is a string asset; bundled packages are file assets (or folders).
        const assets = (await fn.inputs.code.assets) as Record<string, { text?: Promise<string>; path?: Promise<string> }>;
        const files: Record<string, string> = {};
        for (const [file, asset] of Object.entries(assets)) {
            const text = await asset.text;
            if (text !== undefined) {
                files[file] = text;
                continue;
            }
            const source = await asset.path;
            if (source === undefined) throw new Error(`archive entry ${file} of ${fn.name} is neither text nor a file`);
            const walk = (from: string, as: string): void => {
                if (fs.statSync(from).isDirectory()) {
                    for (const entry of fs.readdirSync(from)) walk(path.join(from, entry), `${as}/${entry}`);
                } else {
                    files[as] = fs.readFileSync(from, "utf8");
                }
            };
            walk(path.resolve(ROOT, source), file);
        }
        archives[fn.name] = {
            name: fn.name,
            files,
            bytes: Object.values(files).reduce((sum, text) => sum + Buffer.byteLength(text), 0),
            environment: fn.inputs.environment?.variables ?? {},
        };
    }
    return archives;
}
