/**
 * The local Cognito (local/cognito.ts, local/srp.ts) against the real, unmodified clients:
 * amazon-cognito-identity-js (SRP sign-in, refresh, global sign-out, delete), the SDK v3 user pool and identity
 * pool clients, `fromCognitoIdentityPool` and `fromWebToken` of @aws-sdk/credential-providers (enhanced and
 * classic flows), and `jose` verifying the tokens against the JWKS endpoint.
 */
import {
    AdminCreateUserCommand,
    AdminDeleteUserCommand,
    AdminGetUserCommand,
    AdminSetUserPasswordCommand,
    CognitoIdentityProviderClient,
    GetUserCommand,
    InitiateAuthCommand,
    ListUsersCommand,
    SignUpCommand,
} from "@aws-sdk/client-cognito-identity-provider";
import { CognitoIdentityClient, DeleteIdentitiesCommand, DescribeIdentityCommand, GetCredentialsForIdentityCommand, GetIdCommand, GetOpenIdTokenCommand } from "@aws-sdk/client-cognito-identity";
import { fromCognitoIdentityPool, fromWebToken } from "@aws-sdk/credential-providers";
import { AuthenticationDetails, CognitoUser, CognitoUserPool, type CognitoUserSession } from "amazon-cognito-identity-js";
import { createRemoteJWKSet, jwtVerify, SignJWT } from "jose";
import { generateKeyPairSync } from "node:crypto";
import * as net from "node:net";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PASSWORD_POLICY } from "../infra/identity-settings";
import { startCognito, type LocalCognito, type LocalCognitoOptions } from "../local/cognito";

const REGION = "us-east-1";
const POOL_ID = "us-east-1_local";
const CLIENT_ID = "localappclient0000000000";
const IDENTITY_POOL_ID = "us-east-1:00000000-0000-4000-8000-000000000000";
const PASSWORD = "Correct-horse-42";
const LOCAL_KEYS = { accessKeyId: "local", secretAccessKey: "local" };

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cognito-local-"));
const logged: string[] = [];
const devOptions: LocalCognitoOptions = {
    region: REGION,
    userPoolId: POOL_ID,
    userPoolClientId: CLIENT_ID,
    identityPoolId: IDENTITY_POOL_ID,
    allowGuests: true,
    passwordPolicy: PASSWORD_POLICY,
    dataDir,
    log: (line) => logged.push(line),
};

let cognito: LocalCognito;
let idp: CognitoIdentityProviderClient;
let identity: CognitoIdentityClient;

beforeAll(async () => {
    cognito = await startCognito(devOptions);
    idp = new CognitoIdentityProviderClient({ region: REGION, endpoint: cognito.url, credentials: LOCAL_KEYS, maxAttempts: 1 });
    identity = new CognitoIdentityClient({ region: REGION, endpoint: cognito.url, credentials: LOCAL_KEYS, maxAttempts: 1 });
});

afterAll(async () => {
    idp?.destroy();
    identity?.destroy();
    await cognito?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
});

// ---- amazon-cognito-identity-js, promisified ----------------------------------------------------------------
const pool = () => new CognitoUserPool({ UserPoolId: POOL_ID, ClientId: CLIENT_ID, endpoint: cognito.url });

function signUp(email: string, password: string): Promise<{ userConfirmed: boolean; userSub: string }> {
    return new Promise((resolve, reject) => pool().signUp(email, password, [], [], (err, result) => (err || !result ? reject(err) : resolve(result))));
}

/** SRP sign-in; a NEW_PASSWORD_REQUIRED challenge is answered with `newPassword` when given. */
function signIn(email: string, password: string, newPassword?: string): Promise<{ user: CognitoUser; session: CognitoUserSession }> {
    const user = new CognitoUser({ Username: email, Pool: pool() });
    return new Promise((resolve, reject) =>
        user.authenticateUser(new AuthenticationDetails({ Username: email, Password: password }), {
            onSuccess: (session) => resolve({ user, session }),
            onFailure: reject,
            newPasswordRequired: () => {
                if (newPassword === undefined) reject(new Error("NEW_PASSWORD_REQUIRED"));
                else user.completeNewPasswordChallenge(newPassword, {}, { onSuccess: (session) => resolve({ user, session }), onFailure: reject });
            },
        }),
    );
}

const refresh = (user: CognitoUser, session: CognitoUserSession) =>
    new Promise<CognitoUserSession>((resolve, reject) => user.refreshSession(session.getRefreshToken(), (err, s: CognitoUserSession) => (err ? reject(err) : resolve(s))));

/** What the failure of a promise was: its `code` (amazon-cognito-identity-js) or `name` (SDK v3), and message. */
async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
    try {
        await promise;
    } catch (err) {
        const e = err as { code?: string; name: string; message: string };
        return { code: e.code ?? e.name, message: e.message };
    }
    throw new Error("expected a failure");
}

/** Verifies JWTs with `jose` against the JWKS endpoint (fetched over HTTP, as an app's backend would) and the issuer. */
async function verifyWithJose(tokens: string[]): Promise<Record<string, unknown>[]> {
    const keys = createRemoteJWKSet(new URL(cognito.jwksUrl));
    return Promise.all(tokens.map(async (t) => (await jwtVerify(t, keys, { issuer: cognito.issuer, algorithms: ["RS256"] })).payload));
}

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString()) as Record<string, unknown>;
const signedInCredentials = (idToken: string) =>
    fromCognitoIdentityPool({ identityPoolId: IDENTITY_POOL_ID, logins: { [cognito.loginsKey]: idToken }, clientConfig: { region: REGION, endpoint: cognito.url } })();

describe("user pool: sign-up and SRP sign-in with amazon-cognito-identity-js", () => {
    const email = "Alice@Example.com";
    let signedIn: { user: CognitoUser; session: CognitoUserSession };

    beforeAll(async () => {
        const result = await signUp(email, PASSWORD);
        expect(result.userConfirmed).toBe(true);
        signedIn = await signIn("alice@example.com", PASSWORD);
    });

    it("prints the confirmation code, auto-confirms, and the username is the sub", async () => {
        expect(logged.some((l) => /confirmation code for Alice@Example.com: \d{6}/.test(l))).toBe(true);
        const user = await idp.send(new AdminGetUserCommand({ UserPoolId: POOL_ID, Username: "alice@example.com" }));
        expect(user.UserStatus).toBe("CONFIRMED");
        expect(user.UserAttributes).toEqual(expect.arrayContaining([{ Name: "sub", Value: user.Username }, { Name: "email_verified", Value: "true" }]));
        expect(signedIn.user.getUsername()).toBe(user.Username);
    });

    it("issues ID and access tokens that jose verifies against the JWKS endpoint, with Cognito's claims", async () => {
        const id = signedIn.session.getIdToken().getJwtToken();
        const access = signedIn.session.getAccessToken().getJwtToken();
        const [idClaims, accessClaims] = await verifyWithJose([id, access]);
        expect(idClaims).toMatchObject({ token_use: "id", aud: CLIENT_ID, email, email_verified: true, "cognito:username": idClaims.sub, iss: cognito.issuer });
        expect(accessClaims).toMatchObject({ token_use: "access", client_id: CLIENT_ID, username: idClaims.sub, sub: idClaims.sub, scope: "aws.cognito.signin.user.admin" });
        for (const c of [idClaims, accessClaims]) {
            expect(Object.keys(c)).toEqual(expect.arrayContaining(["jti", "origin_jti", "event_id", "auth_time", "iat", "exp"]));
            expect(Number(c.exp) - Number(c.iat)).toBe(3600);
        }
        expect(idClaims.origin_jti).toBe(accessClaims.origin_jti);
        expect(signedIn.session.isValid()).toBe(true);
    });

    it("refuses a wrong password and an unknown user alike: NotAuthorizedException", async () => {
        for (const [name, password] of [[email, "Wrong-password-42"], ["nobody@example.com", PASSWORD]]) {
            expect(await failure(signIn(name, password))).toEqual({ code: "NotAuthorizedException", message: "Incorrect username or password." });
        }
    });

    it("refreshes the session: new tokens, the same sign-in", async () => {
        const refreshed = await refresh(signedIn.user, signedIn.session);
        const before = claims(signedIn.session.getAccessToken().getJwtToken());
        const after = claims(refreshed.getAccessToken().getJwtToken());
        expect(after.jti).not.toBe(before.jti);
        expect(after.origin_jti).toBe(before.origin_jti);
        expect(after.auth_time).toBe(before.auth_time);
        const user = await idp.send(new GetUserCommand({ AccessToken: refreshed.getAccessToken().getJwtToken() }));
        expect(user.UserAttributes).toEqual(expect.arrayContaining([{ Name: "email", Value: email }]));
    });

    it("the same user signing in again gets the same identity id; credentials resolve with the provider API Gateway reports", async () => {
        const first = await signedInCredentials(signedIn.session.getIdToken().getJwtToken());
        const again = await signIn(email, PASSWORD);
        const second = await signedInCredentials(again.session.getIdToken().getJwtToken());
        expect(second.identityId).toBe(first.identityId);
        expect(first.identityId).toMatch(/^us-east-1:[0-9a-f-]{36}$/);
        expect(first.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
        expect(first.expiration!.getTime() - Date.now()).toBeGreaterThan(3500_000);
        const sub = signedIn.user.getUsername();
        expect(cognito.credentials(first.accessKeyId)).toMatchObject({
            secretAccessKey: first.secretAccessKey,
            sessionToken: first.sessionToken,
            identityId: first.identityId,
            authenticated: true,
            flow: "enhanced",
            guestSessionPolicy: false,
            roleArn: cognito.signedInRoleArn,
            authenticationProvider: `cognito-idp.us-east-1.amazonaws.com/${POOL_ID},cognito-idp.us-east-1.amazonaws.com/${POOL_ID}:CognitoSignIn:${sub}`,
        });
        const described = await identity.send(new DescribeIdentityCommand({ IdentityId: first.identityId }));
        expect(described.Logins).toEqual([cognito.loginsKey]);
    });

    it("global sign-out revokes refresh tokens and earlier access tokens", async () => {
        const other = await signIn(email, PASSWORD);
        await new Promise<void>((resolve, reject) => signedIn.user.globalSignOut({ onSuccess: () => resolve(), onFailure: reject }));
        // amazon-cognito-identity-js retries a failed refresh for a few seconds (jittered backoff): once is enough.
        expect(await failure(refresh(signedIn.user, signedIn.session))).toMatchObject({ code: "NotAuthorizedException", message: "Refresh Token has been revoked" });
        const refreshOther = new InitiateAuthCommand({ ClientId: CLIENT_ID, AuthFlow: "REFRESH_TOKEN_AUTH", AuthParameters: { REFRESH_TOKEN: other.session.getRefreshToken().getToken() } });
        expect(await failure(idp.send(refreshOther))).toEqual({ code: "NotAuthorizedException", message: "Refresh Token has been revoked" });
        for (const s of [signedIn, other]) {
            expect(await failure(idp.send(new GetUserCommand({ AccessToken: s.session.getAccessToken().getJwtToken() })))).toEqual({
                code: "NotAuthorizedException",
                message: "Access Token has been revoked",
            });
        }
        expect(await failure(signedInCredentials(other.session.getIdToken().getJwtToken()))).toMatchObject({ code: "NotAuthorizedException" });
    });
});

describe("user pool: the SDK v3 client", () => {
    it("refuses passwords the deployed policy refuses, and a second account for an email", async () => {
        for (const [password, reason] of [
            ["Short-1a", "Password not long enough"],
            ["alllowercase-123", "Password must have uppercase characters"],
            ["ALLUPPERCASE-123", "Password must have lowercase characters"],
            ["No-digits-at-all", "Password must have numeric characters"],
        ]) {
            expect(await failure(idp.send(new SignUpCommand({ ClientId: CLIENT_ID, Username: "policy@example.com", Password: password })))).toEqual({
                code: "InvalidPasswordException",
                message: `Password did not conform with policy: ${reason}`,
            });
        }
        expect(await failure(idp.send(new SignUpCommand({ ClientId: CLIENT_ID, Username: "not-an-email", Password: PASSWORD })))).toMatchObject({ code: "InvalidParameterException" });
        await idp.send(new SignUpCommand({ ClientId: CLIENT_ID, Username: "bob@example.com", Password: PASSWORD }));
        expect(await failure(idp.send(new SignUpCommand({ ClientId: CLIENT_ID, Username: "BOB@example.com", Password: PASSWORD })))).toEqual({
            code: "UsernameExistsException",
            message: "An account with the given email already exists.",
        });
        expect(await failure(idp.send(new SignUpCommand({ ClientId: "other-client", Username: "carol@example.com", Password: PASSWORD })))).toMatchObject({ code: "ResourceNotFoundException" });
    });

    it("allows only the app client's flows; REFRESH_TOKEN_AUTH issues new ID and access tokens", async () => {
        expect(await failure(idp.send(new InitiateAuthCommand({ ClientId: CLIENT_ID, AuthFlow: "USER_PASSWORD_AUTH", AuthParameters: { USERNAME: "bob@example.com", PASSWORD } })))).toEqual({
            code: "InvalidParameterException",
            message: "USER_PASSWORD_AUTH flow not enabled for this client",
        });
        const { session } = await signIn("bob@example.com", PASSWORD);
        const out = await idp.send(new InitiateAuthCommand({ ClientId: CLIENT_ID, AuthFlow: "REFRESH_TOKEN_AUTH", AuthParameters: { REFRESH_TOKEN: session.getRefreshToken().getToken() } }));
        expect(out.AuthenticationResult).toMatchObject({ ExpiresIn: 3600, TokenType: "Bearer" });
        expect(out.AuthenticationResult?.RefreshToken).toBeUndefined();
        const user = await idp.send(new GetUserCommand({ AccessToken: out.AuthenticationResult!.AccessToken }));
        expect(user.Username).toBe(claims(out.AuthenticationResult!.IdToken!).sub);
        expect(await failure(idp.send(new InitiateAuthCommand({ ClientId: CLIENT_ID, AuthFlow: "REFRESH_TOKEN_AUTH", AuthParameters: { REFRESH_TOKEN: "forged" } })))).toEqual({
            code: "NotAuthorizedException",
            message: "Invalid Refresh Token",
        });
        expect(await failure(idp.send(new GetUserCommand({ AccessToken: `${out.AuthenticationResult!.AccessToken}x` })))).toEqual({ code: "NotAuthorizedException", message: "Invalid Access Token" });
        // The same claims and kid under another key, and unsigned ("alg": "none"): refused alike.
        const access = out.AuthenticationResult!.AccessToken!;
        const header = JSON.parse(Buffer.from(access.split(".")[0], "base64url").toString()) as { kid: string };
        const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
        const forged = await new SignJWT(claims(access)).setProtectedHeader({ alg: "RS256", kid: header.kid }).sign(privateKey);
        const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", kid: header.kid })).toString("base64url")}.${access.split(".")[1]}.`;
        for (const token of [forged, unsigned]) {
            expect(await failure(idp.send(new GetUserCommand({ AccessToken: token })))).toEqual({ code: "NotAuthorizedException", message: "Invalid Access Token" });
        }
    });

    it("admin calls: create with a temporary password, first sign-in sets a new one, set a permanent password, find by sub, delete", async () => {
        const created = await idp.send(
            new AdminCreateUserCommand({ UserPoolId: POOL_ID, Username: "dana@example.com", TemporaryPassword: "Temporary-pass-1", MessageAction: "SUPPRESS", UserAttributes: [{ Name: "email_verified", Value: "true" }] }),
        );
        expect(created.User).toMatchObject({ UserStatus: "FORCE_CHANGE_PASSWORD", Enabled: true });
        expect(created.User?.UserCreateDate).toBeInstanceOf(Date);
        const sub = created.User!.Username!;
        expect(logged.some((l) => l.includes("dana@example.com"))).toBe(false);
        expect(await failure(signIn("dana@example.com", "Temporary-pass-1"))).toMatchObject({ message: "NEW_PASSWORD_REQUIRED" });
        const first = await signIn("dana@example.com", "Temporary-pass-1", "Chosen-password-7");
        expect(first.session.isValid()).toBe(true);
        expect((await idp.send(new AdminGetUserCommand({ UserPoolId: POOL_ID, Username: sub }))).UserStatus).toBe("CONFIRMED");

        await idp.send(new AdminSetUserPasswordCommand({ UserPoolId: POOL_ID, Username: "dana@example.com", Password: "Admin-set-password-9", Permanent: true }));
        expect(await failure(signIn("dana@example.com", "Chosen-password-7"))).toMatchObject({ code: "NotAuthorizedException" });
        await signIn("dana@example.com", "Admin-set-password-9");

        const listed = await idp.send(new ListUsersCommand({ UserPoolId: POOL_ID, Filter: `sub = "${sub}"` }));
        expect(listed.Users?.map((u) => u.Username)).toEqual([sub]);
        expect(listed.Users?.[0].Attributes).toEqual(expect.arrayContaining([{ Name: "email", Value: "dana@example.com" }]));
        const byPrefix = await idp.send(new ListUsersCommand({ UserPoolId: POOL_ID, Filter: 'email ^= "dana@"' }));
        expect(byPrefix.Users).toHaveLength(1);
        expect(await failure(idp.send(new ListUsersCommand({ UserPoolId: POOL_ID, Filter: 'custom:x = "1"' })))).toMatchObject({ code: "InvalidParameterException" });

        await idp.send(new AdminDeleteUserCommand({ UserPoolId: POOL_ID, Username: sub }));
        expect(await failure(idp.send(new AdminGetUserCommand({ UserPoolId: POOL_ID, Username: sub })))).toEqual({ code: "UserNotFoundException", message: "User does not exist." });
        expect((await idp.send(new ListUsersCommand({ UserPoolId: POOL_ID, Filter: `sub = "${sub}"` }))).Users).toEqual([]);
    });

    it("refuses admin calls that are not SigV4-signed", async () => {
        const res = await fetch(cognito.url, {
            method: "POST",
            headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "AWSCognitoIdentityProviderService.ListUsers" },
            body: JSON.stringify({ UserPoolId: POOL_ID }),
        });
        expect(res.status).toBe(400);
        expect(res.headers.get("x-amzn-errortype")).toMatch(/^MissingAuthenticationTokenException/);
        expect(await res.json()).toMatchObject({ __type: "MissingAuthenticationTokenException" });
    });
});

describe("identity pool: guests (allowGuests, as dev) and account deletion", () => {
    it("gives guests enhanced-flow credentials cut down by the session policy", async () => {
        const creds = await fromCognitoIdentityPool({ identityPoolId: IDENTITY_POOL_ID, clientConfig: { region: REGION, endpoint: cognito.url } })();
        expect(cognito.credentials(creds.accessKeyId)).toMatchObject({ identityId: creds.identityId, authenticated: false, flow: "enhanced", guestSessionPolicy: true, roleArn: cognito.guestRoleArn });
        expect(cognito.credentials(creds.accessKeyId)?.authenticationProvider).toBeUndefined();
    });

    it("gives guests the guest role unreduced through the classic flow (GetOpenIdToken + STS), and only to guests", async () => {
        const { IdentityId } = await identity.send(new GetIdCommand({ IdentityPoolId: IDENTITY_POOL_ID }));
        const { Token } = await identity.send(new GetOpenIdTokenCommand({ IdentityId }));
        expect(claims(Token!)).toMatchObject({ sub: IdentityId, aud: IDENTITY_POOL_ID, amr: ["unauthenticated"] });
        const stsConfig = { region: REGION, endpoint: cognito.url, credentials: LOCAL_KEYS };
        const creds = await fromWebToken({ roleArn: cognito.guestRoleArn!, webIdentityToken: Token!, roleSessionName: "guest", clientConfig: stsConfig })();
        expect(cognito.credentials(creds.accessKeyId)).toMatchObject({ identityId: IdentityId, authenticated: false, flow: "classic", guestSessionPolicy: false, roleArn: cognito.guestRoleArn });
        // The signed-in role trusts only authenticated tokens.
        expect(await failure(fromWebToken({ roleArn: cognito.signedInRoleArn, webIdentityToken: Token!, roleSessionName: "guest", clientConfig: stsConfig })())).toMatchObject({
            code: "AccessDenied",
        });
    });

    it("DeleteIdentities: the identity's credentials stop resolving, and the next sign-in gets a new identity", async () => {
        await signUp("erin@example.com", PASSWORD);
        const { user, session } = await signIn("erin@example.com", PASSWORD);
        const creds = await signedInCredentials(session.getIdToken().getJwtToken());
        expect(cognito.credentials(creds.accessKeyId)).toBeDefined();
        const out = await identity.send(new DeleteIdentitiesCommand({ IdentityIdsToDelete: [creds.identityId] }));
        expect(out.UnprocessedIdentityIds).toEqual([]);
        expect(cognito.credentials(creds.accessKeyId)).toBeUndefined();
        const again = await signedInCredentials(session.getIdToken().getJwtToken());
        expect(again.identityId).not.toBe(creds.identityId);

        await new Promise<void>((resolve, reject) => user.deleteUser((err) => (err ? reject(err) : resolve())));
        expect(await failure(signIn("erin@example.com", PASSWORD))).toMatchObject({ code: "NotAuthorizedException" });
    });
});

describe("persistence", () => {
    it("keeps users, identities and credentials across a restart with the same dataDir", async () => {
        await signUp("frank@example.com", PASSWORD);
        const before = await signedInCredentials((await signIn("frank@example.com", PASSWORD)).session.getIdToken().getJwtToken());
        const stored = fs.readFileSync(path.join(dataDir, "cognito-state.json"), "utf8");
        expect(stored).not.toContain(PASSWORD);
        const jwks = async () => (await fetch(cognito.jwksUrl)).json();
        const keysBefore = await jwks();
        await cognito.stop();
        cognito = await startCognito(devOptions);
        expect(await jwks()).toEqual(keysBefore);
        expect(cognito.credentials(before.accessKeyId)?.identityId).toBe(before.identityId);
        const { session } = await signIn("frank@example.com", PASSWORD);
        const after = await signedInCredentials(session.getIdToken().getJwtToken());
        expect(after.identityId).toBe(before.identityId);
    });
});

describe("without guests and with confirmation (as prod)", () => {
    let prod: LocalCognito;
    const prodLog: string[] = [];
    beforeAll(async () => {
        prod = await startCognito({ ...devOptions, allowGuests: false, autoConfirm: false, dataDir: undefined, log: (l) => prodLog.push(l) });
    });
    afterAll(async () => prod?.stop());

    it("refuses guests in both flows", async () => {
        const client = new CognitoIdentityClient({ region: REGION, endpoint: prod.url, credentials: LOCAL_KEYS, maxAttempts: 1 });
        // A cache of its own: the provider otherwise reuses the guest identity id the dev pool handed out above.
        const cache = new Map<string, string>();
        const storage = { getItem: (k: string) => cache.get(k) ?? null, setItem: (k: string, v: string) => void cache.set(k, v), removeItem: (k: string) => void cache.delete(k) };
        expect(await failure(fromCognitoIdentityPool({ identityPoolId: IDENTITY_POOL_ID, cache: storage, clientConfig: { region: REGION, endpoint: prod.url } })())).toEqual({
            code: "NotAuthorizedException",
            message: "Unauthenticated access is not supported for this identity pool.",
        });
        expect(await failure(client.send(new GetOpenIdTokenCommand({ IdentityId: "us-east-1:00000000-0000-4000-8000-000000000001" })))).toEqual({
            code: "InvalidParameterException",
            message: "Basic (classic) flow is not enabled, please use enhanced flow.",
        });
        expect(prod.guestRoleArn).toBeUndefined();
        client.destroy();
    });

    it("needs the printed code before sign-in, and refuses a second confirmation", async () => {
        const prodPool = new CognitoUserPool({ UserPoolId: POOL_ID, ClientId: CLIENT_ID, endpoint: prod.url });
        const result = await new Promise<{ userConfirmed: boolean }>((resolve, reject) => prodPool.signUp("gina@example.com", PASSWORD, [], [], (err, r) => (err || !r ? reject(err) : resolve(r))));
        expect(result.userConfirmed).toBe(false);
        const code = /gina@example.com: (\d{6})/.exec(prodLog.join("\n"))?.[1];
        expect(code).toBeDefined();
        const user = new CognitoUser({ Username: "gina@example.com", Pool: prodPool });
        const authenticate = () =>
            new Promise<CognitoUserSession>((resolve, reject) =>
                user.authenticateUser(new AuthenticationDetails({ Username: "gina@example.com", Password: PASSWORD }), { onSuccess: resolve, onFailure: reject }),
            );
        expect(await failure(authenticate())).toEqual({ code: "UserNotConfirmedException", message: "User is not confirmed." });
        const confirm = (c: string) => new Promise<void>((resolve, reject) => user.confirmRegistration(c, false, (err) => (err ? reject(err) : resolve())));
        expect(await failure(confirm(code === "000000" ? "000001" : "000000"))).toMatchObject({ code: "CodeMismatchException" });
        await confirm(code!);
        expect(await failure(confirm(code!))).toEqual({ code: "NotAuthorizedException", message: "User cannot be confirmed. Current status is CONFIRMED" });
        expect((await authenticate()).isValid()).toBe(true);
    });
});

test("a request whose URL cannot be parsed gets a 500 answer, and the endpoint keeps serving", async () => {
    const { port } = new URL(cognito.url);
    const raw = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), "127.0.0.1", () => socket.end("GET // HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        let text = "";
        socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
        socket.on("end", () => resolve(text));
        socket.on("error", reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 500 /);
    expect((await fetch(`${cognito.jwksUrl}`)).status).toBe(200);
});

test("expired credentials are still known (for a day), so that S3 and the API can say they expired", async () => {
    const pool = new CognitoIdentityClient({ region: REGION, endpoint: cognito.url, credentials: LOCAL_KEYS, maxAttempts: 1 });
    const guest = async () => {
        const { IdentityId } = await pool.send(new GetIdCommand({ IdentityPoolId: IDENTITY_POOL_ID }));
        const { Credentials } = await pool.send(new GetCredentialsForIdentityCommand({ IdentityId }));
        return Credentials!.AccessKeyId!;
    };
    const first = await guest();
    const realNow = Date.now;
    // Two hours on: the first credentials have expired; issuing new ones tidies the store.
    const clock = jest.spyOn(Date, "now").mockImplementation(() => realNow() + 2 * 3600_000);
    try {
        await guest();
        const kept = cognito.credentials(first);
        expect(kept?.expiration.getTime()).toBeLessThan(Date.now());
        // A day after they expired, they are forgotten.
        clock.mockImplementation(() => realNow() + 26 * 3600_000);
        await guest();
        expect(cognito.credentials(first)).toBeUndefined();
    } finally {
        clock.mockRestore();
        pool.destroy();
    }
});
