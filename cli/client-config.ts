/**
 * `npm run client-config -- --stack <stage> | --local [--data DIR] | --outputs FILE [--out DIR]`: writes the
 * files a mobile app configures itself with, from a stage's `clientConfig` output (or the local backend's
 * `<data dir>/client-config.json`, written by `npm start`):
 *
 * - `amplify_outputs.json`: Amplify Gen 2, schema version 1.5 (`AWSAmplifyBackendOutputs` of
 *   `@aws-amplify/client-config`): `auth` as the user pool is deployed (infra/identity.ts `SIGN_IN`),
 *   `storage` with the path rule the identity roles' S3 policy grants, and the REST API in `custom` (Gen 2
 *   has no REST API section; Amplify JavaScript v6 takes it in code: `API.REST`).
 * - `amplifyconfiguration.json`: Amplify Gen 1, which Amplify Swift and Android still need for a REST API
 *   (`api.plugins.awsAPIPlugin.<name>` with `endpointType: "REST"` and `authorizationType: "AWS_IAM"`;
 *   amplify-swift issue 3895). Auth and storage follow the shape of Amplify's own Gen 2 to Gen 1 mobile
 *   converter (`ClientConfigMobileConverter` in `@aws-amplify/client-config`).
 * - `mobile-backend.json`: the plain `clientConfig` (for apps that use no Amplify library), with the API key.
 *
 * `--stack` reads the outputs with the Pulumi CLI (`pulumi stack output --json --show-secrets`); `--outputs`
 * reads a file holding that JSON. The files hold the API key: keep them out of public repositories.
 *
 * Exit status: 0 written, 2 bad usage or configuration.
 */
import type { ClientConfig } from "../infra/declarations";
import type { clientConfigTypesV1_5 } from "@aws-amplify/client-config";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { IDENTITY_ID, OWN_UPLOADS_ACTIONS, SIGN_IN } from "../infra/identity";
import { parseFlags, UsageError } from "./args";

/** The Amplify Gen 2 client configuration, schema version 1.5. */
export type AmplifyOutputs = clientConfigTypesV1_5.AWSAmplifyBackendOutputs;
type StorageAccessAction = clientConfigTypesV1_5.AmplifyStorageAccessActions;

/** The name the REST API goes by in the Amplify configurations (`API.REST.<name>`, `awsAPIPlugin.<name>`). */
export const REST_API_NAME = "mobileBackend";
/** The key of this backend's section in `amplify_outputs.json`'s `custom`. */
export const CUSTOM_KEY = "mobileBackend";
/** The header that carries the API key on every request. */
export const API_KEY_HEADER = "x-api-key";

/** The local backend's endpoints of the AWS services an app calls (issue 10: `<data dir>/client-config.json`). */
export interface LocalEndpoints {
    cognitoIdentityProvider: string;
    cognitoIdentity: string;
    s3: string;
    [service: string]: string;
}

/** What `npm start` writes: the same keys as {@link ClientConfig} plus the local endpoints. */
export interface LocalClientConfig extends ClientConfig {
    endpoints: LocalEndpoints;
}

/** This backend's section of `amplify_outputs.json`'s `custom`. */
export interface CustomOutputs {
    /** The REST API, for Amplify JavaScript's `API.REST` (`{endpoint, region}`) plus its API key. */
    api: { name: string; endpoint: string; region: string; authorizationType: "AWS_IAM"; apiKeyHeader: string; apiKey: string };
    /** Media URLs are this plus `/` plus the object key, each segment percent-encoded. */
    mediaBaseUrl: string;
    /** Uploads go through `POST /uploads`; their keys start with this plus the identity id. */
    uploadsPrefix: string;
    /** Local backend only: the endpoints to put into Amplify JavaScript's `Auth.Cognito` (and the S3 endpoint). */
    endpoints?: { userPoolEndpoint: string; identityPoolEndpoint: string; s3: string };
}

/** Amplify Gen 1 (`amplifyconfiguration.json`) as Amplify Swift and Android read it. */
export interface AmplifyConfiguration {
    UserAgent: string;
    Version: "1.0";
    auth: {
        plugins: {
            awsCognitoAuthPlugin: {
                UserAgent: string;
                Version: "1.0";
                CognitoUserPool: { Default: { PoolId: string; AppClientId: string; Region: string } };
                CredentialsProvider: { CognitoIdentity: { Default: { PoolId: string; Region: string } } };
                Auth: {
                    Default: {
                        authenticationFlowType: "USER_SRP_AUTH";
                        mfaConfiguration: string;
                        mfaTypes: string[];
                        passwordProtectionSettings: { passwordPolicyMinLength: number; passwordPolicyCharacters: string[] };
                        signupAttributes: string[];
                        usernameAttributes: string[];
                        verificationMechanisms: string[];
                        socialProviders: string[];
                    };
                };
            };
        };
    };
    api: {
        plugins: {
            awsAPIPlugin: Record<string, { endpointType: "REST"; endpoint: string; region: string; authorizationType: "AWS_IAM" }>;
        };
    };
    storage: { plugins: { awsS3StoragePlugin: { bucket: string; region: string } } };
}

const USER_AGENT = "mobile-backend/client-config";

/** Reads and checks a `clientConfig` value (a stack output, or the local backend's file). */
export function readClientConfig(value: unknown, source: string): ClientConfig {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new UsageError(`${source}: clientConfig must be a JSON object`);
    }
    const record = value as Record<string, unknown>;
    const text = (key: string): string => {
        const v = record[key];
        if (typeof v !== "string" || v === "") throw new UsageError(`${source}: clientConfig.${key} must be a non-empty string`);
        return v;
    };
    if (typeof record.allowGuests !== "boolean") throw new UsageError(`${source}: clientConfig.allowGuests must be true or false`);
    const config: ClientConfig = {
        apiUrl: text("apiUrl").replace(/\/+$/, ""),
        apiKey: text("apiKey"),
        region: text("region"),
        identityPoolId: text("identityPoolId"),
        userPoolId: text("userPoolId"),
        userPoolClientId: text("userPoolClientId"),
        uploadsBucket: text("uploadsBucket"),
        uploadsPrefix: text("uploadsPrefix"),
        mediaBaseUrl: text("mediaBaseUrl"),
        allowGuests: record.allowGuests,
    };
    if (record.guestRoleArn !== undefined) config.guestRoleArn = text("guestRoleArn");
    return config;
}

/** Reads and checks the local backend's `client-config.json`. */
export function readLocalClientConfig(value: unknown, source: string): LocalClientConfig {
    const config = readClientConfig(value, source);
    const endpoints = (value as Record<string, unknown>).endpoints;
    if (endpoints === null || typeof endpoints !== "object" || Array.isArray(endpoints)) {
        throw new UsageError(`${source}: endpoints must be a JSON object (is this the file npm start writes?)`);
    }
    const read: Record<string, string> = {};
    for (const [service, url] of Object.entries(endpoints as Record<string, unknown>)) {
        if (typeof url === "string") read[service] = url;
    }
    for (const service of ["cognitoIdentityProvider", "cognitoIdentity", "s3"]) {
        const url = read[service];
        if (url === undefined) throw new UsageError(`${source}: endpoints.${service} is missing`);
        // Amplify JavaScript refuses a custom Cognito endpoint that is plain http anywhere but localhost or
        // 127.0.0.1 ("… must use HTTPS protocol"; isSecureServiceEndpoint in @aws-amplify/core).
        if (!isSecureServiceEndpoint(url)) {
            throw new UsageError(`${source}: endpoints.${service} (${url}) must be https, or http on localhost or 127.0.0.1, for Amplify to use it`);
        }
    }
    return { ...config, endpoints: read as LocalEndpoints };
}

/** Whether Amplify JavaScript accepts `url` as a custom service endpoint. */
export function isSecureServiceEndpoint(url: string): boolean {
    try {
        const parsed = new URL(url);
        if (parsed.protocol === "https:") return true;
        return parsed.protocol === "http:" && (parsed.hostname === "localhost" || parsed.hostname === "127.0.0.1");
    } catch {
        return false;
    }
}

/** The Amplify storage action each S3 action of the identity roles' policy stands for. */
const STORAGE_ACTION: Record<(typeof OWN_UPLOADS_ACTIONS)[number], StorageAccessAction> = { "s3:GetObject": "get" };

/**
 * The storage path rules: exactly what the identity roles' S3 statement allows (infra/identity.ts), with
 * the identity id (`${cognito-identity.amazonaws.com:sub}`) as Amplify's `{entity_id}` of the
 * `entityidentity` rule. Guests (when allowed) get the same statement on their own identity id.
 */
export function storagePaths(uploadsPrefix: string): Record<string, clientConfigTypesV1_5.AmplifyStorageAccessRule> {
    return { [`${uploadsPrefix}{entity_id}/*`]: { entityidentity: OWN_UPLOADS_ACTIONS.map((a) => STORAGE_ACTION[a]) } };
}

/** The IAM resource (after the bucket ARN and `/`) that a storage path stands for. */
export function iamResourceOfPath(storagePath: string): string {
    return storagePath.replace("{entity_id}", IDENTITY_ID);
}

/** `amplify_outputs.json` (Gen 2, version 1.5). */
export function amplifyOutputs(config: ClientConfig, endpoints?: LocalEndpoints): AmplifyOutputs {
    const policy = SIGN_IN.passwordPolicy;
    const custom: CustomOutputs = {
        api: {
            name: REST_API_NAME,
            endpoint: config.apiUrl,
            region: config.region,
            authorizationType: "AWS_IAM",
            apiKeyHeader: API_KEY_HEADER,
            apiKey: config.apiKey,
        },
        mediaBaseUrl: config.mediaBaseUrl,
        uploadsPrefix: config.uploadsPrefix,
    };
    if (endpoints) {
        custom.endpoints = {
            userPoolEndpoint: endpoints.cognitoIdentityProvider,
            identityPoolEndpoint: endpoints.cognitoIdentity,
            s3: endpoints.s3,
        };
    }
    const outputs: AmplifyOutputs = {
        version: "1.5",
        auth: {
            aws_region: config.region,
            user_pool_id: config.userPoolId,
            user_pool_client_id: config.userPoolClientId,
            identity_pool_id: config.identityPoolId,
            password_policy: {
                min_length: policy.minimumLength,
                require_numbers: policy.requireNumbers,
                require_lowercase: policy.requireLowercase,
                require_uppercase: policy.requireUppercase,
                require_symbols: policy.requireSymbols,
            },
            standard_required_attributes: [...SIGN_IN.usernameAttributes],
            username_attributes: [...SIGN_IN.usernameAttributes],
            user_verification_types: [...SIGN_IN.autoVerifiedAttributes],
            unauthenticated_identities_enabled: config.allowGuests,
            mfa_configuration: SIGN_IN.mfaConfiguration,
            mfa_methods: [...SIGN_IN.mfaMethods],
        },
        storage: {
            aws_region: config.region,
            bucket_name: config.uploadsBucket,
            buckets: [
                {
                    name: "uploads",
                    bucket_name: config.uploadsBucket,
                    aws_region: config.region,
                    paths: storagePaths(config.uploadsPrefix),
                },
            ],
        },
        custom: { [CUSTOM_KEY]: custom },
    };
    return outputs;
}

/** `amplifyconfiguration.json` (Gen 1) for Amplify Swift and Android. */
export function amplifyConfiguration(config: ClientConfig): AmplifyConfiguration {
    const policy = SIGN_IN.passwordPolicy;
    // Gen 1 names the required character classes (Amplify's converter: aws_cognito_password_protection_settings).
    const characters = [
        policy.requireLowercase && "REQUIRES_LOWERCASE",
        policy.requireUppercase && "REQUIRES_UPPERCASE",
        policy.requireNumbers && "REQUIRES_NUMBERS",
        policy.requireSymbols && "REQUIRES_SYMBOLS",
    ].filter((c): c is string => typeof c === "string");
    const upper = (values: readonly string[]) => values.map((v) => v.toUpperCase());
    return {
        UserAgent: USER_AGENT,
        Version: "1.0",
        auth: {
            plugins: {
                awsCognitoAuthPlugin: {
                    UserAgent: USER_AGENT,
                    Version: "1.0",
                    CognitoUserPool: { Default: { PoolId: config.userPoolId, AppClientId: config.userPoolClientId, Region: config.region } },
                    CredentialsProvider: { CognitoIdentity: { Default: { PoolId: config.identityPoolId, Region: config.region } } },
                    Auth: {
                        Default: {
                            authenticationFlowType: "USER_SRP_AUTH",
                            mfaConfiguration: SIGN_IN.mfaConfiguration,
                            mfaTypes: [...SIGN_IN.mfaMethods],
                            passwordProtectionSettings: { passwordPolicyMinLength: policy.minimumLength, passwordPolicyCharacters: characters },
                            signupAttributes: upper(SIGN_IN.usernameAttributes),
                            usernameAttributes: upper(SIGN_IN.usernameAttributes),
                            verificationMechanisms: upper(SIGN_IN.autoVerifiedAttributes),
                            socialProviders: [],
                        },
                    },
                },
            },
        },
        api: {
            plugins: {
                awsAPIPlugin: {
                    [REST_API_NAME]: { endpointType: "REST", endpoint: config.apiUrl, region: config.region, authorizationType: "AWS_IAM" },
                },
            },
        },
        storage: { plugins: { awsS3StoragePlugin: { bucket: config.uploadsBucket, region: config.region } } },
    };
}

/** Every file the command writes, by name. */
export function clientFiles(config: ClientConfig, endpoints?: LocalEndpoints): Record<string, unknown> {
    return {
        "amplify_outputs.json": amplifyOutputs(config, endpoints),
        "amplifyconfiguration.json": amplifyConfiguration(config),
        "mobile-backend.json": endpoints ? { ...config, endpoints } : config,
    };
}

interface Arguments {
    stack?: string;
    outputs?: string;
    local: boolean;
    data: string;
    out: string;
}

const USAGE = "usage: npm run client-config -- --stack <stage> | --local [--data DIR] | --outputs FILE [--out DIR]";

export function parseArguments(argv: string[]): Arguments {
    const args = parseFlags<Arguments>(argv, { local: false, data: ".data", out: "." }, {
        "--stack": "stack",
        "--outputs": "outputs",
        "--local": { on: "local" },
        "--data": "data",
        "--out": "out",
    });
    const sources = [args.stack !== undefined, args.outputs !== undefined, args.local].filter(Boolean).length;
    if (sources !== 1) throw new UsageError("give exactly one of --stack, --local and --outputs");
    if (argv.includes("--data") && !args.local) throw new UsageError("--data goes with --local");
    return args;
}

function readJsonFile(file: string): unknown {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
    }
    try {
        return JSON.parse(text);
    } catch {
        throw new UsageError(`${file} is not JSON`);
    }
}

/** The stack outputs (the JSON of `pulumi stack output --json --show-secrets`). */
function stackOutputs(args: Arguments): { value: unknown; source: string } {
    if (args.outputs !== undefined) return { value: readJsonFile(args.outputs), source: args.outputs };
    const stack = args.stack as string;
    let text: string;
    try {
        text = execFileSync("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", stack], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
        });
    } catch (err) {
        throw new UsageError(
            `could not read the outputs of stack ${stack} with the Pulumi CLI (${(err as Error).message.split("\n")[0]}); ` +
                "save them with `pulumi stack output --json --show-secrets` and pass --outputs FILE",
        );
    }
    return { value: JSON.parse(text) as unknown, source: `stack ${stack}` };
}

/** Runs the command; returns the paths written. */
export function run(argv: string[], log: (line: string) => void = console.log): string[] {
    const args = parseArguments(argv);
    let files: Record<string, unknown>;
    if (args.local) {
        const file = path.join(args.data, "client-config.json");
        const local = readLocalClientConfig(readJsonFile(file), file);
        const { endpoints, ...config } = local;
        files = clientFiles(config, endpoints);
        log(`Local backend (${file}): Amplify JavaScript takes the Cognito endpoints from custom.${CUSTOM_KEY}.endpoints;`);
        log("Amplify Swift and Android cannot use a local Cognito endpoint (https on an AWS host only).");
    } else {
        const { value, source } = stackOutputs(args);
        const outputs = value as Record<string, unknown> | null;
        if (outputs === null || typeof outputs !== "object" || !("clientConfig" in outputs)) {
            throw new UsageError(`${source}: no clientConfig output (is this the JSON of \`pulumi stack output --json --show-secrets\`?)`);
        }
        files = clientFiles(readClientConfig(outputs.clientConfig, source));
    }
    fs.mkdirSync(args.out, { recursive: true });
    const written: string[] = [];
    for (const [name, content] of Object.entries(files)) {
        const file = path.join(args.out, name);
        fs.writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
        written.push(file);
        log(`wrote ${file}`);
    }
    log("These files hold the API key: ship them in the app, keep them out of public repositories.");
    return written;
}

if (require.main === module) {
    try {
        run(process.argv.slice(2));
    } catch (err) {
        if (err instanceof UsageError) {
            console.error(`${err.message}\n${USAGE}`);
            process.exit(2);
        }
        throw err;
    }
}
