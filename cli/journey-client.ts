/**
 * The app's side of `npm run journey`: what a JavaScript or React Native app does, with the client libraries it
 * would use. `amazon-cognito-identity-js` signs up and signs in (SRP), `@aws-sdk/client-cognito-identity` turns
 * the ID token into identity credentials (and a guest into credentials through the classic flow, with
 * `fromWebToken` of `@aws-sdk/credential-providers` for STS `AssumeRoleWithWebIdentity`), `aws4` signs API
 * requests, and plain `fetch` posts uploads to S3 and reads media URLs.
 *
 * The signer is `aws4`: it is a declared dependency of this package (the functions that sign their own requests
 * bundle it), small and synchronous, whereas `@smithy/signature-v4` is only a transitive dependency of the SDK
 * clients, which this package must not import directly.
 */
import { GetCredentialsForIdentityCommand, GetIdCommand, GetOpenIdTokenCommand, CognitoIdentityClient } from "@aws-sdk/client-cognito-identity";
import { fromWebToken } from "@aws-sdk/credential-providers";
import { AuthenticationDetails, CognitoUser, CognitoUserAttribute, CognitoUserPool, type CognitoUserSession } from "amazon-cognito-identity-js";
import * as aws4 from "aws4";
import type { ClientConfig } from "../infra/declarations";

/** The stage's `clientConfig` output (and the local backend's client-config.json), as the journey reads it. */
export type AppConfig = ClientConfig;

/** Where the identity clients go instead of AWS (the local backend); empty for a deployed stage. */
export interface AppEndpoints {
    cognitoIdentityProvider?: string;
    cognitoIdentity?: string;
    /** STS for the guests' classic flow (the local Cognito serves it on its own URL). */
    sts?: string;
}

export interface AwsCredentials {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
}

/** A Cognito identity with its credentials. */
export interface Identity {
    identityId: string;
    credentials: AwsCredentials;
}

function userPool(app: AppConfig, endpoints: AppEndpoints): CognitoUserPool {
    return new CognitoUserPool({
        UserPoolId: app.userPoolId,
        ClientId: app.userPoolClientId,
        ...(endpoints.cognitoIdentityProvider ? { endpoint: endpoints.cognitoIdentityProvider } : {}),
    });
}

/** The library reports errors as objects with `code` and `message`; keep both in the failure. */
function cognitoError(err: unknown): Error {
    if (err instanceof Error) {
        const code = (err as { code?: string }).code;
        return new Error(code && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message);
    }
    return new Error(String(err));
}

/** SignUp as an app does; resolves with the new user's username (`sub`). The local pool confirms at once. */
export function signUp(app: AppConfig, endpoints: AppEndpoints, email: string, password: string): Promise<{ username: string; confirmed: boolean }> {
    return new Promise((resolve, reject) => {
        userPool(app, endpoints).signUp(email, password, [new CognitoUserAttribute({ Name: "email", Value: email })], [], (err, result) => {
            if (err || !result) reject(cognitoError(err ?? new Error("SignUp answered nothing")));
            else resolve({ username: result.userSub, confirmed: result.userConfirmed });
        });
    });
}

/**
 * Sign-in with SRP (`USER_SRP_AUTH`, the library's default flow); resolves with the ID token. A sign-in that fails
 * with the library's `NetworkError` is started over once, as an app would: the library computes SRP's large
 * powers synchronously, and a process busy with them for seconds can send its next request on a kept-alive
 * connection that the server has closed meanwhile (a reset, nothing reached the pool).
 */
export async function signIn(
    app: AppConfig,
    endpoints: AppEndpoints,
    email: string,
    password: string,
): Promise<{ idToken: string; session: CognitoUserSession; retried: boolean }> {
    try {
        return { ...(await signInOnce(app, endpoints, email, password)), retried: false };
    } catch (err) {
        // The library's `NetworkError`, or fetch's own TypeError where the library does not recognise it (another realm).
        if (!(err instanceof Error) || !/^NetworkError|fetch failed/.test(err.message)) throw err;
        return { ...(await signInOnce(app, endpoints, email, password)), retried: true };
    }
}

function signInOnce(app: AppConfig, endpoints: AppEndpoints, email: string, password: string): Promise<{ idToken: string; session: CognitoUserSession }> {
    const user = new CognitoUser({ Username: email, Pool: userPool(app, endpoints) });
    return new Promise((resolve, reject) => {
        user.authenticateUser(new AuthenticationDetails({ Username: email, Password: password }), {
            onSuccess: (session) => resolve({ idToken: session.getIdToken().getJwtToken(), session }),
            onFailure: (err) => reject(cognitoError(err)),
            newPasswordRequired: () => reject(new Error("the user must set a new password (FORCE_CHANGE_PASSWORD): it was not created with a permanent password")),
        });
    });
}

function identityClient(app: AppConfig, endpoints: AppEndpoints): CognitoIdentityClient {
    return new CognitoIdentityClient({ region: app.region, ...(endpoints.cognitoIdentity ? { endpoint: endpoints.cognitoIdentity } : {}) });
}

/** The logins key of the stage's user pool in its identity pool. */
export function loginsKey(app: AppConfig): string {
    return `cognito-idp.${app.region}.amazonaws.com/${app.userPoolId}`;
}

/** GetId then GetCredentialsForIdentity (the enhanced flow) with the user pool's ID token. */
export async function signedInIdentity(app: AppConfig, endpoints: AppEndpoints, idToken: string): Promise<Identity> {
    const client = identityClient(app, endpoints);
    try {
        const Logins = { [loginsKey(app)]: idToken };
        const { IdentityId } = await client.send(new GetIdCommand({ IdentityPoolId: app.identityPoolId, Logins }));
        if (!IdentityId) throw new Error("GetId answered no IdentityId");
        const { Credentials } = await client.send(new GetCredentialsForIdentityCommand({ IdentityId, Logins }));
        return { identityId: IdentityId, credentials: credentialsOf(Credentials) };
    } finally {
        client.destroy();
    }
}

/**
 * A guest's credentials through the classic flow: GetId without logins, GetOpenIdToken, then STS
 * AssumeRoleWithWebIdentity for the stage's guest role. The enhanced flow would hand guests credentials cut down by
 * `AmazonCognitoUnAuthedIdentitiesSessionPolicy`, which allows neither the API nor S3 (infra/identity.ts).
 */
export async function guestIdentity(app: AppConfig, endpoints: AppEndpoints): Promise<Identity> {
    if (!app.guestRoleArn) throw new Error("the client config has no guestRoleArn although allowGuests is true");
    const client = identityClient(app, endpoints);
    try {
        const { IdentityId } = await client.send(new GetIdCommand({ IdentityPoolId: app.identityPoolId }));
        if (!IdentityId) throw new Error("GetId answered no IdentityId");
        const { Token } = await client.send(new GetOpenIdTokenCommand({ IdentityId }));
        if (!Token) throw new Error("GetOpenIdToken answered no Token");
        const provider = fromWebToken({
            roleArn: app.guestRoleArn,
            webIdentityToken: Token,
            roleSessionName: "journey-guest",
            clientConfig: { region: app.region, ...(endpoints.sts ? { endpoint: endpoints.sts } : {}) },
        });
        const c = await provider();
        return { identityId: IdentityId, credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken } };
    } finally {
        client.destroy();
    }
}

/** GetId without logins where guests are not allowed: resolves with the error's name (NotAuthorizedException expected). */
export async function refusedGuest(app: AppConfig, endpoints: AppEndpoints): Promise<string | undefined> {
    const client = identityClient(app, endpoints);
    try {
        await client.send(new GetIdCommand({ IdentityPoolId: app.identityPoolId }));
        return undefined;
    } catch (err) {
        return (err as Error).name;
    } finally {
        client.destroy();
    }
}

function credentialsOf(c: { AccessKeyId?: string; SecretKey?: string; SessionToken?: string } | undefined): AwsCredentials {
    if (!c?.AccessKeyId || !c.SecretKey) throw new Error("GetCredentialsForIdentity answered no credentials");
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken };
}

/** An answer of the API. */
export interface ApiAnswer {
    status: number;
    /** The body parsed as JSON, or undefined. */
    json: Record<string, unknown> | undefined;
    text: string;
}

/**
 * A request to the stage's API as the app sends it: SigV4-signed (service `execute-api`) with the identity's
 * credentials, the API key in `x-api-key`.
 */
export async function callApi(app: AppConfig, credentials: AwsCredentials, method: string, resource: string, body?: unknown): Promise<ApiAnswer> {
    const url = new URL(`${app.apiUrl.replace(/\/+$/, "")}${resource}`);
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { "x-api-key": app.apiKey, ...(text !== undefined ? { "content-type": "application/json" } : {}) };
    const request = { host: url.host, path: `${url.pathname}${url.search}`, method, headers, body: text, service: "execute-api", region: app.region };
    aws4.sign(request, credentials);
    // fetch sends Host (the same value, from the URL) and Content-Length itself.
    const sent = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !/^(host|content-length)$/i.test(name))) as Record<string, string>;
    const response = await fetch(url, { method, headers: sent, body: text });
    const answer = await response.text();
    let json: Record<string, unknown> | undefined;
    try {
        const parsed: unknown = JSON.parse(answer);
        json = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
    } catch {
        json = undefined;
    }
    return { status: response.status, json, text: answer };
}

/** The presigned POST of `POST /uploads`. */
export interface PresignedPost {
    url: string;
    fields: Record<string, string>;
}

/** A browser-style multipart form POST of the file to S3: the policy's fields first, the file last (S3 ignores fields after it). */
export async function postUpload(post: PresignedPost, bytes: Uint8Array, contentType: string): Promise<{ status: number; text: string }> {
    const form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
    form.append("file", new Blob([bytes], { type: contentType }), "photo");
    const response = await fetch(post.url, { method: "POST", body: form });
    return { status: response.status, text: await response.text() };
}
