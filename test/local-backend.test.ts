/**
 * `npm start`'s backend (local/backend.ts) started by the test: random free ports, a temporary data dir.
 * A signed `POST /notes` goes through the local API to the notes function (the deployed factory, in its
 * worker) and dynalite; the backend stops and starts again on the same data dir and the note is still
 * there. Hot reload is tested on the reload mechanism itself with a fixture module.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fromCognitoIdentityPool } from "@aws-sdk/credential-providers";
import { AuthenticationDetails, CognitoUser, CognitoUserPool, type CognitoUserSession } from "amazon-cognito-identity-js";
import { startBackend, type LocalBackend, type LocalClientConfig } from "../local/backend";
import { startFunctions } from "../local/functions";
import { callApi, type Credentials } from "./support/signed-api";

jest.setTimeout(120_000);

const EMAIL = "ada@example.com";
const PASSWORD = "Correct-horse-42";

/** What an app does: SRP sign-in with amazon-cognito-identity-js, then identity credentials with the SDK's provider. */
async function signIn(config: LocalClientConfig, signUpFirst: boolean): Promise<Credentials & { identityId: string }> {
    const pool = new CognitoUserPool({ UserPoolId: config.userPoolId, ClientId: config.userPoolClientId, endpoint: config.endpoints.cognitoIdentityProvider });
    if (signUpFirst) {
        await new Promise((resolve, reject) => pool.signUp(EMAIL, PASSWORD, [], [], (err, result) => (err || !result ? reject(err) : resolve(result))));
    }
    const user = new CognitoUser({ Username: EMAIL, Pool: pool });
    const session = await new Promise<CognitoUserSession>((resolve, reject) =>
        user.authenticateUser(new AuthenticationDetails({ Username: EMAIL, Password: PASSWORD }), { onSuccess: resolve, onFailure: reject }),
    );
    const provider = fromCognitoIdentityPool({
        identityPoolId: config.identityPoolId,
        logins: { [`cognito-idp.${config.region}.amazonaws.com/${config.userPoolId}`]: session.getIdToken().getJwtToken() },
        clientConfig: { region: config.region, endpoint: config.endpoints.cognitoIdentity },
    });
    const credentials = await provider();
    return { ...credentials, identityId: credentials.identityId };
}

describe("the local backend", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "local-backend-"));
    let backend: LocalBackend | undefined;
    let first: LocalClientConfig;
    let credentials: Credentials & { identityId: string };
    let noteId = "";

    beforeAll(async () => {
        backend = await startBackend({ dataDir, hotReload: false });
        // Ready means the API answers; the functions' workers start in the background (cold starts).
        await backend.warm();
        first = backend.clientConfig;
        credentials = await signIn(first, true);
    });
    afterAll(async () => {
        await backend?.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("writes client-config.json with the deployed clientConfig keys and the local endpoints", () => {
        const written = JSON.parse(fs.readFileSync(path.join(dataDir, "client-config.json"), "utf8")) as LocalClientConfig;
        expect(written).toEqual(first);
        for (const key of ["apiUrl", "apiKey", "region", "identityPoolId", "userPoolId", "userPoolClientId", "uploadsBucket", "uploadsPrefix", "mediaBaseUrl", "allowGuests"]) {
            expect(written).toHaveProperty(key);
        }
        expect(written.region).toBe("us-east-1");
        expect(written.allowGuests).toBe(true);
        expect(written.guestRoleArn).toMatch(/^arn:aws:iam::\d{12}:role\//);
        expect(written.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dev$/);
        expect(written.uploadsPrefix).toBe("uploads/");
        expect(written.endpoints.s3).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(written.tables.notes).toBe("mobile-backend-dev-notes");
    });

    it("serves a POST /notes signed with the identity pool's credentials of a signed-in user, and reads it back", async () => {
        const created = await callApi(first, credentials, "POST", "/notes", { headline: "Local", text: "from the test" });
        expect(created.status).toBe(201);
        expect(created.headers.get("x-amzn-requestid")).toMatch(/^[0-9a-f-]{36}$/);
        const note = (created.json as { note: { noteId: string } }).note;
        noteId = note.noteId;
        const read = await callApi(first, credentials, "GET", `/notes/${noteId}`);
        expect(read.status).toBe(200);
        expect(read.json).toMatchObject({ success: true, note: { noteId, headline: "Local", text: "from the test" } });
        expect(credentials.identityId).toMatch(/^us-east-1:/);
    });

    it("refuses an unsigned request as API Gateway does", async () => {
        const answer = await callApi(first, undefined, "GET", "/notes");
        expect(answer.status).toBe(403);
        expect(answer.json).toEqual({ success: false, error: { code: "MISSING_AUTHENTICATION_TOKEN", message: "Missing Authentication Token" } });
    });

    it("keeps the user and the note across a restart on the same data dir", async () => {
        await backend?.stop();
        backend = undefined;
        backend = await startBackend({ dataDir, hotReload: false });
        await backend.warm();
        expect(backend.clientConfig.apiKey).toBe(first.apiKey);
        expect(backend.clientConfig.userPoolId).toBe(first.userPoolId);
        const again = await signIn(backend.clientConfig, false);
        expect(again.identityId).toBe(credentials.identityId);
        const read = await callApi(backend.clientConfig, again, "GET", `/notes/${noteId}`);
        expect(read.status).toBe(200);
        expect(read.json).toMatchObject({ note: { noteId, headline: "Local" } });
    });
});

describe("hot reload", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hot-reload-"));
    const module = path.join(dir, "handler.js");
    const version = (v: string) => `exports.factory = () => async () => ({ version: ${JSON.stringify(v)}, env: process.env.GREETING });\n`;
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("a change of a watched file starts fresh workers that run the new code", async () => {
        fs.writeFileSync(module, version("one"));
        const runtime = await startFunctions({
            root: path.resolve(__dirname, ".."),
            functions: [{ name: "fixture", module, factory: "factory", environment: { GREETING: "hello" }, timeoutSeconds: 5 }],
            watch: [dir],
        });
        try {
            expect(await runtime.invoke("fixture", {})).toEqual({ version: "one", env: "hello" });
            fs.writeFileSync(module, version("two"));
            for (let i = 0; i < 200 && runtime.reloads === 0; i++) await new Promise((r) => setTimeout(r, 25));
            expect(runtime.reloads).toBeGreaterThan(0);
            expect(await runtime.invoke("fixture", {})).toEqual({ version: "two", env: "hello" });
        } finally {
            await runtime.stop();
        }
    });
});
