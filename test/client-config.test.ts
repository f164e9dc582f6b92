/**
 * `npm run client-config`: the three files an app configures itself with, generated from the program's
 * outputs under mocks (dev and prod) and from the local backend's `client-config.json`.
 *
 * `amplify_outputs.json` is checked against Amplify's schema 1.5 as `@aws-amplify/client-config` publishes it:
 * the package ships the `AWSAmplifyBackendOutputs` type generated from the JSON schema (the schema file itself
 * is not in the package), so the generated JSON is type-checked against that type with the TypeScript
 * compiler (as a fresh object literal: excess properties fail), and the schema's rules a type cannot express
 * (number ranges, `minItems`, unique items, path rules) are tested here. Each value is tested against what
 * the program deploys: the user pool's settings and the identity roles' S3 statement.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    amplifyConfiguration,
    amplifyOutputs,
    clientFiles,
    CUSTOM_KEY,
    iamResourceOfPath,
    readClientConfig,
    REST_API_NAME,
    run,
    type AmplifyOutputs,
    type CustomOutputs,
} from "../cli/client-config";
import type { ClientConfig } from "../infra/declarations";
import type { RecordedResource } from "./support/mocks";
import { loadProgram, type LoadedProgram } from "./support/program";
import { typeErrors } from "./support/typecheck";

const ROOT = path.join(__dirname, "..");
const programs: Record<string, LoadedProgram> = {};
const configs: Record<string, ClientConfig> = {};

beforeAll(async () => {
    for (const stage of ["dev", "prod"]) {
        programs[stage] = await loadProgram(stage);
        configs[stage] = readClientConfig(programs[stage].outputs.clientConfig, stage);
    }
}, 300_000); // two program loads: allow for a busy machine

/** The local backend's `client-config.json`: the clientConfig keys plus its endpoints (issue 10). */
const LOCAL = {
    apiUrl: "http://127.0.0.1:4010/local",
    apiKey: "local-api-key-0123456789",
    region: "us-east-1",
    identityPoolId: "us-east-1:00000000-0000-4000-8000-000000000000",
    userPoolId: "us-east-1_local0000",
    userPoolClientId: "localclient000000000000000",
    uploadsBucket: "local-uploads",
    uploadsPrefix: "uploads/",
    mediaBaseUrl: "http://127.0.0.1:4013/media",
    allowGuests: true,
    endpoints: {
        cognitoIdentityProvider: "http://127.0.0.1:4011",
        cognitoIdentity: "http://127.0.0.1:4012",
        s3: "http://127.0.0.1:4013",
        dynamodb: "http://127.0.0.1:4014",
    },
    inbox: "http://127.0.0.1:4015/inbox",
};

function custom(outputs: AmplifyOutputs): CustomOutputs {
    return outputs.custom?.[CUSTOM_KEY] as CustomOutputs;
}

describe("amplify_outputs.json conforms to Amplify's schema 1.5", () => {
    test("dev, prod and local type-check as AWSAmplifyBackendOutputs; a file that breaks the schema does not", () => {
        // The declaration file the package's `clientConfigTypesV1_5` re-exports, generated from schema_v1.5.json
        // (read directly: the package's index also pulls in the types of the whole Amplify backend toolchain).
        const check = (json: unknown) =>
            `import type { AWSAmplifyBackendOutputs } from "@aws-amplify/client-config/lib/client-config-schema/client_config_v1.5";\n` +
            `export const outputs: AWSAmplifyBackendOutputs = ${JSON.stringify(json, null, 2)};\n`;
        const local = amplifyOutputs(readClientConfig(LOCAL, "local"), LOCAL.endpoints);
        const broken = { ...amplifyOutputs(configs.dev), version: "1.4" };
        const extra = { ...amplifyOutputs(configs.dev), storage: { ...amplifyOutputs(configs.dev).storage, public: true } };
        const errors = typeErrors({
            "outputs-dev.check.ts": check(amplifyOutputs(configs.dev)),
            "outputs-prod.check.ts": check(amplifyOutputs(configs.prod)),
            "outputs-local.check.ts": check(local),
            "outputs-broken.check.ts": check(broken),
            "outputs-extra.check.ts": check(extra),
        }, { types: [], lib: ["lib.es2022.d.ts"] });
        expect(errors["outputs-dev.check.ts"]).toEqual([]);
        expect(errors["outputs-prod.check.ts"]).toEqual([]);
        expect(errors["outputs-local.check.ts"]).toEqual([]);
        // The check is not vacuous: a wrong version and an unknown property fail it.
        expect(errors["outputs-broken.check.ts"].join("\n")).toMatch(/"1\.4".*not assignable/s);
        expect(errors["outputs-extra.check.ts"].join("\n")).toMatch(/'"?public"?' does not exist/);
    }, 60_000);

    test.each(["dev", "prod"])("%s: the rules the type cannot express", (stage) => {
        const outputs = amplifyOutputs(configs[stage]);
        const auth = outputs.auth!;
        // password_policy.min_length: an integer from 6 to 99.
        expect(Number.isInteger(auth.password_policy?.min_length)).toBe(true);
        expect(auth.password_policy!.min_length).toBeGreaterThanOrEqual(6);
        expect(auth.password_policy!.min_length).toBeLessThanOrEqual(99);
        // username_attributes: minItems 1, uniqueItems; standard_required_attributes: uniqueItems.
        expect(auth.username_attributes!.length).toBeGreaterThanOrEqual(1);
        for (const list of [auth.username_attributes!, auth.standard_required_attributes!, auth.mfa_methods!, auth.user_verification_types!]) {
            expect(new Set(list).size).toBe(list.length);
        }
        // Storage paths as Amplify's storage validates them: relative, ending in `/*`, `{entity_id}` only as a
        // whole segment of an `entity…` rule, and every action list non-empty and without repeats.
        for (const bucket of outputs.storage!.buckets!) {
            for (const [storagePath, rule] of Object.entries(bucket.paths ?? {})) {
                expect(storagePath).toMatch(/^[^/].*\/\*$/);
                if (storagePath.includes("{entity_id}")) {
                    expect(storagePath).toMatch(/\/\{entity_id\}\/\*$/);
                    expect(Object.keys(rule).every((k) => k.startsWith("entity"))).toBe(true);
                }
                for (const actions of Object.values(rule) as string[][]) {
                    expect(actions.length).toBeGreaterThan(0);
                    expect(new Set(actions).size).toBe(actions.length);
                }
            }
        }
        expect(outputs.storage!.buckets!.map((b) => b.bucket_name)).toContain(outputs.storage!.bucket_name);
    });
});

describe("amplify_outputs.json says what the program deploys", () => {
    function inputsOf(stage: string, type: string, name: string): Record<string, any> {
        return programs[stage].recorder.one(type, name).inputs;
    }

    test.each(["dev", "prod"])("%s: the user pool's password policy, user names, verification and MFA", (stage) => {
        const auth = amplifyOutputs(configs[stage]).auth!;
        const pool = inputsOf(stage, "aws:cognito/userPool:UserPool", "identity-users");
        expect(auth).toMatchObject({
            aws_region: "us-east-1",
            user_pool_id: programs[stage].outputs.userPoolId,
            user_pool_client_id: programs[stage].outputs.userPoolClientId,
            identity_pool_id: programs[stage].outputs.identityPoolId,
        });
        expect(auth.password_policy).toEqual({
            min_length: pool.passwordPolicy.minimumLength,
            require_lowercase: pool.passwordPolicy.requireLowercase,
            require_uppercase: pool.passwordPolicy.requireUppercase,
            require_numbers: pool.passwordPolicy.requireNumbers,
            require_symbols: pool.passwordPolicy.requireSymbols,
        });
        expect(auth.username_attributes).toEqual(pool.usernameAttributes);
        expect(auth.user_verification_types).toEqual(pool.autoVerifiedAttributes);
        expect(auth.mfa_configuration).toBe(pool.mfaConfiguration);
        expect(auth.mfa_methods).toEqual(pool.softwareTokenMfaConfiguration?.enabled ? ["TOTP"] : []);
        // SRP is the flow the Gen 1 file names; the app client must allow it.
        const client = inputsOf(stage, "aws:cognito/userPoolClient:UserPoolClient", "identity-app");
        expect(client.explicitAuthFlows).toContain("ALLOW_USER_SRP_AUTH");
        expect(client.generateSecret).toBe(false);
    });

    test("guests: enabled where the identity pool allows them (dev), not elsewhere (prod)", () => {
        for (const stage of ["dev", "prod"]) {
            const pool = inputsOf(stage, "aws:cognito/identityPool:IdentityPool", "identity-identities");
            expect(amplifyOutputs(configs[stage]).auth!.unauthenticated_identities_enabled).toBe(pool.allowUnauthenticatedIdentities);
        }
        expect(configs.dev.allowGuests).toBe(true);
        expect(configs.prod.allowGuests).toBe(false);
    });

    test.each(["dev", "prod"])("%s: the storage path rules grant exactly what the identity roles' S3 statement allows", (stage) => {
        const storage = amplifyOutputs(configs[stage]).storage!;
        const bucketArn = `arn:aws:s3:::${configs[stage].uploadsBucket}`;
        expect(storage).toMatchObject({ aws_region: "us-east-1", bucket_name: configs[stage].uploadsBucket });
        const AMPLIFY_TO_S3: Record<string, string[]> = {
            get: ["s3:GetObject"],
            list: ["s3:ListBucket"],
            read: ["s3:GetObject", "s3:ListBucket"],
            write: ["s3:PutObject"],
            delete: ["s3:DeleteObject"],
        };
        const granted = Object.entries(storage.buckets![0].paths!).flatMap(([storagePath, rule]) =>
            Object.values(rule as Record<string, string[]>).flatMap((actions) =>
                actions.flatMap((a) => AMPLIFY_TO_S3[a].map((s3) => `${s3} ${bucketArn}/${iamResourceOfPath(storagePath)}`)),
            ),
        );
        const roles: RecordedResource[] = programs[stage].recorder
            .all("aws:iam/rolePolicy:RolePolicy")
            .filter((r) => r.name === "identity-signed-in" || r.name === "identity-guest");
        expect(roles.length).toBe(stage === "dev" ? 2 : 1);
        for (const role of roles) {
            const allowed = (JSON.parse(role.inputs.policy).Statement as { Action: string | string[]; Resource: string }[])
                .filter((s) => [s.Action].flat().some((a) => a.startsWith("s3:")))
                .flatMap((s) => [s.Action].flat().map((a) => `${a} ${s.Resource}`));
            expect(granted.sort()).toEqual(allowed.sort());
        }
    });

    test("custom: the REST API as Amplify JavaScript's API.REST takes it, with the API key", () => {
        const api = custom(amplifyOutputs(configs.prod)).api;
        expect(api).toEqual({
            name: REST_API_NAME,
            endpoint: programs.prod.outputs.apiUrl,
            region: "us-east-1",
            authorizationType: "AWS_IAM",
            apiKeyHeader: "x-api-key",
            apiKey: programs.prod.outputs.apiKey,
        });
        expect(custom(amplifyOutputs(configs.prod)).endpoints).toBeUndefined();
    });
});

describe("amplifyconfiguration.json (Gen 1, Amplify Swift and Android)", () => {
    test.each(["dev", "prod"])("%s: Cognito with SRP, the REST API with IAM auth, the bucket", (stage) => {
        const config = configs[stage];
        const gen1 = amplifyConfiguration(config);
        const cognito = gen1.auth.plugins.awsCognitoAuthPlugin;
        expect(cognito.CognitoUserPool.Default).toEqual({ PoolId: config.userPoolId, AppClientId: config.userPoolClientId, Region: "us-east-1" });
        expect(cognito.CredentialsProvider.CognitoIdentity.Default).toEqual({ PoolId: config.identityPoolId, Region: "us-east-1" });
        expect(cognito.Auth.Default).toMatchObject({
            authenticationFlowType: "USER_SRP_AUTH",
            mfaConfiguration: "OPTIONAL",
            mfaTypes: ["TOTP"],
            passwordProtectionSettings: {
                passwordPolicyMinLength: 10,
                passwordPolicyCharacters: ["REQUIRES_LOWERCASE", "REQUIRES_UPPERCASE", "REQUIRES_NUMBERS"],
            },
            usernameAttributes: ["EMAIL"],
            verificationMechanisms: ["EMAIL"],
        });
        expect(gen1.api.plugins.awsAPIPlugin).toEqual({
            [REST_API_NAME]: { endpointType: "REST", endpoint: programs[stage].outputs.apiUrl, region: "us-east-1", authorizationType: "AWS_IAM" },
        });
        expect(gen1.storage.plugins.awsS3StoragePlugin).toEqual({ bucket: config.uploadsBucket, region: "us-east-1" });
    });
});

describe("mobile-backend.json", () => {
    test("is the clientConfig output as deployed, secret API key included", () => {
        const files = clientFiles(configs.dev);
        expect(files["mobile-backend.json"]).toEqual(programs.dev.outputs.clientConfig);
        expect(programs.dev.secretOutputs).toContain("clientConfig");
    });
});

describe("the command", () => {
    let dir: string;
    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "client-config-"));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test("--outputs FILE writes the three files (owner-only: they hold the API key)", () => {
        const outputsFile = path.join(dir, "outputs.json");
        fs.writeFileSync(outputsFile, JSON.stringify(programs.prod.outputs));
        const out = path.join(dir, "prod");
        const lines: string[] = [];
        const written = run(["--outputs", outputsFile, "--out", out], (l) => lines.push(l));
        expect(written.map((f) => path.basename(f)).sort()).toEqual(["amplify_outputs.json", "amplifyconfiguration.json", "mobile-backend.json"]);
        for (const file of written) expect(fs.statSync(file).mode & 0o777).toBe(0o600);
        expect(JSON.parse(fs.readFileSync(path.join(out, "amplify_outputs.json"), "utf8"))).toEqual(amplifyOutputs(configs.prod));
        expect(lines.join("\n")).toMatch(/API key/);
    });

    test("--local reads <data>/client-config.json and puts the local endpoints where Amplify JavaScript takes them", async () => {
        const data = path.join(dir, "data");
        fs.mkdirSync(data);
        fs.writeFileSync(path.join(data, "client-config.json"), JSON.stringify(LOCAL));
        const out = path.join(dir, "local");
        // Through npm's script, as a developer runs it.
        const stdout = await new Promise<string>((resolve, reject) =>
            execFile("npm", ["run", "--silent", "client-config", "--", "--local", "--data", data, "--out", out], { cwd: ROOT }, (error, so, se) =>
                error ? reject(new Error(`${error.message}\n${se}`)) : resolve(so),
            ),
        );
        expect(stdout).toMatch(/Amplify Swift and Android cannot use a local Cognito endpoint/);
        const outputs = JSON.parse(fs.readFileSync(path.join(out, "amplify_outputs.json"), "utf8")) as AmplifyOutputs;
        expect(custom(outputs).endpoints).toEqual({
            userPoolEndpoint: LOCAL.endpoints.cognitoIdentityProvider,
            identityPoolEndpoint: LOCAL.endpoints.cognitoIdentity,
            s3: LOCAL.endpoints.s3,
        });
        expect(custom(outputs).api.endpoint).toBe(LOCAL.apiUrl);
        expect(outputs.auth!.user_pool_id).toBe(LOCAL.userPoolId);
        const gen1 = JSON.parse(fs.readFileSync(path.join(out, "amplifyconfiguration.json"), "utf8"));
        expect(gen1.api.plugins.awsAPIPlugin[REST_API_NAME].endpoint).toBe(LOCAL.apiUrl);
        const plain = JSON.parse(fs.readFileSync(path.join(out, "mobile-backend.json"), "utf8"));
        expect(plain.endpoints).toEqual(LOCAL.endpoints);
    }, 120_000);

    test("refuses what Amplify would refuse or what is not a client config, naming the problem", () => {
        const data = path.join(dir, "bad");
        fs.mkdirSync(data);
        const quiet = () => undefined;
        fs.writeFileSync(
            path.join(data, "client-config.json"),
            JSON.stringify({ ...LOCAL, endpoints: { ...LOCAL.endpoints, cognitoIdentityProvider: "http://192.168.1.20:4011" } }),
        );
        expect(() => run(["--local", "--data", data, "--out", dir], quiet)).toThrow(/endpoints\.cognitoIdentityProvider .* must be https, or http on localhost/);
        fs.writeFileSync(path.join(data, "client-config.json"), JSON.stringify({ ...LOCAL, apiKey: "" }));
        expect(() => run(["--local", "--data", data, "--out", dir], quiet)).toThrow(/clientConfig\.apiKey must be a non-empty string/);
        fs.writeFileSync(path.join(data, "outputs.json"), JSON.stringify({ apiUrl: "https://x" }));
        expect(() => run(["--outputs", path.join(data, "outputs.json")], quiet)).toThrow(/no clientConfig output/);
        expect(() => run([], quiet)).toThrow(/exactly one of --stack, --local and --outputs/);
        expect(() => run(["--stack", "dev", "--local"], quiet)).toThrow(/exactly one/);
        expect(() => run(["--outputs", "x.json", "--data", "d"], quiet)).toThrow(/--data goes with --local/);
        expect(() => run(["--out"], quiet)).toThrow(/--out needs a value/);
    });
});
