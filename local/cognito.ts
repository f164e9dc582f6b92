/**
 * A local Amazon Cognito for `npm start`: the user pool and the identity pool this program deploys
 * (`infra/identity.ts`), on one loopback HTTP endpoint, in the wire formats the real clients speak, so that
 * amazon-cognito-identity-js, Amplify JS and the `@aws-sdk/client-cognito-identity(-provider)` clients work
 * against it unmodified (give them `endpoint: url`).
 *
 * User pool (`X-Amz-Target: AWSCognitoIdentityProviderService.*`, JSON 1.1), as the deployed pool is set up:
 * email is the username attribute (case-insensitive), the internal username is a UUID equal to `sub`, the app
 * client has no secret, allows `USER_SRP_AUTH` and `REFRESH_TOKEN_AUTH` only, prevents user existence errors,
 * revokes tokens, and issues 60-minute ID and access tokens and 30-day refresh tokens (`APP_CLIENT`).
 *   - SignUp (password policy checked; the confirmation code is printed through `log`; with `autoConfirm`
 *     — the default — the user is confirmed at once and `UserConfirmed` is true), ConfirmSignUp (the printed
 *     code; a confirmed user is refused as Cognito does: "User cannot be confirmed. Current status is CONFIRMED").
 *   - InitiateAuth `USER_SRP_AUTH` → `PASSWORD_VERIFIER` challenge → RespondToAuthChallenge, with real SRP-6a
 *     (`local/srp.ts`); `NEW_PASSWORD_REQUIRED` for users created by an administrator; `REFRESH_TOKEN_AUTH`.
 *     An unknown user gets a challenge too, then "Incorrect username or password." ("Managing user existence
 *     error responses": with PreventUserExistenceErrors ENABLED, SRP sign-in answers a generic failure).
 *   - GetUser, GlobalSignOut (revokes the user's refresh tokens and the access tokens issued before it),
 *     DeleteUser; signed (SigV4 `cognito-idp`, any key): AdminCreateUser, AdminSetUserPassword,
 *     AdminDeleteUser, AdminGetUser, ListUsers (`Filter` `attr = "v"` / `attr ^= "v"`).
 *   - Tokens: RS256 JWTs with Cognito's claims, signed and verified with `jose`, with a key whose public half is at `jwksUrl`
 *     (`issuer` is `<url>/<userPoolId>`, the local counterpart of `https://cognito-idp.<region>.amazonaws.com/<poolId>`).
 *
 * Identity pool (`X-Amz-Target: AWSCognitoIdentityService.*`, JSON 1.1): GetId (logins key
 * `cognito-idp.<region>.amazonaws.com/<userPoolId>` = an ID token of this pool, checked against the signing key,
 * audience, expiry and revocation, as the deployed `serverSideTokenCheck`; without logins only when `allowGuests`),
 * GetCredentialsForIdentity (enhanced flow), GetOpenIdToken (classic flow: only when `allowGuests`, as the
 * deployed pool's `allowClassicFlow`), DescribeIdentity and DeleteIdentities (signed, `cognito-identity`).
 * The same user always gets the same identity id.
 *
 * STS (Query protocol, `Action=AssumeRoleWithWebIdentity`, same URL): the classic flow's second step, with the
 * trust policy of the deployed roles: the token's `aud` must be this identity pool and its `amr` the role's kind.
 *
 * Credentials are random (`ASIA…`), valid one hour; {@link LocalCognito.credentials} resolves them for the local
 * API's and S3's SigV4 checks until their identity is deleted.
 *
 * With `dataDir`, users (salt and SRP verifier, never a password), refresh tokens, identities, credentials and the
 * signing key persist there as JSON files, so users and identity ids survive a restart.
 *
 * Deliberate differences: one app client, no MFA, no devices, no forgot-password, no hosted UI, no
 * Lambda triggers, no email sending (codes and invitations go to `log`); refresh tokens are opaque random strings.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomInt, randomUUID, type KeyObject } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { compactVerify, exportJWK, SignJWT } from "jose";
import { APP_CLIENT, type AppClientSettings, type PasswordPolicy } from "../infra/identity-settings";
import { SigV4Failure, verifySigV4 } from "./sigv4";
import { passwordAuthenticationKey, passwordVerifier, serverEphemeral, validClientPublic, validPasswordClaim, type ServerEphemeral } from "./srp";

export type { PasswordPolicy } from "../infra/identity-settings";

export interface LocalCognitoOptions {
    /** Region of both pools, e.g. `us-east-1`. */
    region: string;
    /** `<region>_<alnum>`, e.g. `us-east-1_local`. */
    userPoolId: string;
    /** The app client's id (a public client: no secret). */
    userPoolClientId: string;
    /** `<region>:<uuid>`. */
    identityPoolId: string;
    /** Unauthenticated identities, and the classic flow with a guest role (as `identity.allowGuests`). */
    allowGuests: boolean;
    /** The deployed pool's policy: `PASSWORD_POLICY` of `infra/identity-settings.ts`. */
    passwordPolicy: PasswordPolicy;
    /** The app client's flows and token lifetimes. Default: `APP_CLIENT` of `infra/identity-settings.ts`. */
    appClient?: AppClientSettings;
    /** Confirm users at SignUp (the code is still printed). Default `true`; `false` behaves as the deployed pool. */
    autoConfirm?: boolean;
    /** For role ARNs. Default `123456789012`. */
    accountId?: string;
    /** When set, users, tokens, identities, credentials and the signing key persist there (JSON files). */
    dataDir?: string;
    /** 0 / undefined: a free port. Host 127.0.0.1. */
    port?: number;
    /** Receives confirmation codes and invitations, e.g. `console.log`. Default: nothing. */
    log?: (line: string) => void;
}

export interface IssuedCredentials {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken: string;
    /** When they expire; {@link LocalCognito.credentials} still returns expired credentials, the caller refuses them. */
    expiration: Date;
    identityId: string;
    authenticated: boolean;
    /** The role whose permissions they carry: {@link LocalCognito.signedInRoleArn} or {@link LocalCognito.guestRoleArn}. */
    roleArn: string;
    /** `enhanced`: GetCredentialsForIdentity; `classic`: GetOpenIdToken + STS AssumeRoleWithWebIdentity. */
    flow: "enhanced" | "classic";
    /**
     * True for guest credentials of the enhanced flow: Cognito cuts them down with the AWS-managed
     * `AmazonCognitoUnAuthedIdentitiesSessionPolicy`, which has no `execute-api:` or `s3:` action ("IAM roles",
     * Cognito developer guide), so the local API and S3 must refuse them (README, "Guests").
     */
    guestSessionPolicy: boolean;
    /**
     * What API Gateway puts in `requestContext.identity.cognitoAuthenticationProvider` for a signed-in identity:
     * `cognito-idp.<region>.amazonaws.com/<poolId>,cognito-idp.<region>.amazonaws.com/<poolId>:CognitoSignIn:<sub>`.
     */
    authenticationProvider?: string;
}

export interface LocalCognito {
    /** `http://127.0.0.1:<port>`: the `endpoint` of the user pool, identity pool and STS clients. */
    url: string;
    /** `<url>/<userPoolId>/.well-known/jwks.json`. */
    jwksUrl: string;
    /** The tokens' `iss`: `<url>/<userPoolId>`. */
    issuer: string;
    /** The logins key of the user pool: `cognito-idp.<region>.amazonaws.com/<userPoolId>`. */
    loginsKey: string;
    /** The role of signed-in identities. */
    signedInRoleArn: string;
    /** The guest role the classic flow's AssumeRoleWithWebIdentity names; undefined unless `allowGuests`. */
    guestRoleArn: string | undefined;
    /** The credentials with this access key id, while their identity exists. */
    credentials(accessKeyId: string): IssuedCredentials | undefined;
    stop(): Promise<void>;
}

type UserStatus = "UNCONFIRMED" | "CONFIRMED" | "FORCE_CHANGE_PASSWORD";

interface StoredUser {
    /** The internal username: a UUID, equal to `sub` (pools whose username attribute is email). */
    username: string;
    attributes: Record<string, string>;
    status: UserStatus;
    enabled: boolean;
    created: number;
    modified: number;
    salt: string;
    verifier: string;
    /** Epoch ms after which a temporary password no longer signs in. */
    temporaryPasswordExpires?: number;
    confirmationCode?: string;
}

interface StoredSession {
    username: string;
    originJti: string;
    authTime: number;
    expires: number;
    revoked: boolean;
}

interface StoredIdentity {
    identityId: string;
    /** Provider name → user id (`sub`) for signed-in identities; empty for guests. */
    logins: Record<string, string>;
    created: number;
    modified: number;
}

interface StoredCredentials extends Omit<IssuedCredentials, "expiration"> {
    expiration: number;
}

interface State {
    users: StoredUser[];
    sessions: Record<string, StoredSession>;
    /** origin_jti of sessions revoked (GlobalSignOut, DeleteUser): their access and ID tokens stop working. */
    revokedOrigins: string[];
    identities: StoredIdentity[];
    credentials: StoredCredentials[];
}

/** An error in Cognito's JSON shape: `{"__type": code, "message": ...}` with `x-amzn-ErrorType`. */
class CognitoError extends Error {
    constructor(
        readonly code: string,
        message: string,
        readonly status = 400,
    ) {
        super(message);
    }
}

/** An STS Query-protocol error. */
class StsError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
    ) {
        super(message);
    }
}

type Json = Record<string, unknown>;

const IDP = "AWSCognitoIdentityProviderService.";
const IDENTITY = "AWSCognitoIdentityService.";
const CREDENTIALS_SECONDS = 3600;
/** GetOpenIdToken's token lasts 10 minutes (GetOpenIdToken API reference). */
const OPEN_ID_TOKEN_SECONDS = 600;
const OPEN_ID_ISSUER = "https://cognito-identity.amazonaws.com";
const CHALLENGE_MS = 3 * 60 * 1000;
const MAX_BODY = 1024 * 1024;
const incorrect = () => new CognitoError("NotAuthorizedException", "Incorrect username or password.");
const epochSeconds = (ms: number) => Math.floor(ms / 1000);
const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Starts the local Cognito. */
const EXPIRED_CREDENTIALS_KEPT_MS = 24 * 3600 * 1000;

export async function startCognito(options: LocalCognitoOptions): Promise<LocalCognito> {
    if (!/^[\w-]+_[0-9a-zA-Z]+$/.test(options.userPoolId)) throw new Error(`userPoolId must look like <region>_<alphanumeric>, not ${options.userPoolId}`);
    if (!/^[\w-]+:[0-9a-f-]+$/.test(options.identityPoolId)) throw new Error(`identityPoolId must look like <region>:<uuid>, not ${options.identityPoolId}`);
    const { region, userPoolId, userPoolClientId, identityPoolId, allowGuests, passwordPolicy } = options;
    const appClient = options.appClient ?? APP_CLIENT;
    const autoConfirm = options.autoConfirm ?? true;
    const accountId = options.accountId ?? "123456789012";
    const log = options.log ?? (() => undefined);
    const poolName = userPoolId.split("_")[1];
    const loginsKey = `cognito-idp.${region}.amazonaws.com/${userPoolId}`;
    const signedInRoleArn = `arn:aws:iam::${accountId}:role/local-identity-signed-in`;
    const guestRoleArn = allowGuests ? `arn:aws:iam::${accountId}:role/local-identity-guest` : undefined;

    const state: State = { users: [], sessions: {}, revokedOrigins: [], identities: [], credentials: [] };
    const files = { state: "cognito-state.json", key: "cognito-signing-key.json" };
    const dataDir = options.dataDir;
    if (dataDir !== undefined) {
        fs.mkdirSync(dataDir, { recursive: true });
        const stored = readJson<State>(path.join(dataDir, files.state));
        if (stored) Object.assign(state, stored);
    }
    const signingKey = loadSigningKey(dataDir && path.join(dataDir, files.key));
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(signingKey.publicKey)), kid: signingKey.kid, alg: "RS256", use: "sig" }] });
    const persist = () => {
        if (dataDir === undefined) return;
        const file = path.join(dataDir, files.state);
        fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 1));
        fs.renameSync(`${file}.tmp`, file);
    };

    /** Pending SRP challenges by SECRET_BLOCK, and NEW_PASSWORD_REQUIRED sessions by Session. */
    const challenges = new Map<string, { userIdForSrp: string; user?: StoredUser; A: string; ephemeral: ServerEphemeral; expires: number }>();
    const newPasswordSessions = new Map<string, { username: string; expires: number }>();

    let url = "";
    const issuer = () => `${url}/${userPoolId}`;

    // ---- users ----------------------------------------------------------------------------------------------
    const userByName = (name: string): StoredUser | undefined => {
        const lower = name.toLowerCase();
        return state.users.find((u) => u.username === name || u.attributes.email?.toLowerCase() === lower);
    };
    const checkPassword = (password: unknown) => {
        if (typeof password !== "string" || password.length === 0) throw new CognitoError("InvalidParameterException", "1 validation error detected: Value at 'password' failed to satisfy constraint: Member must not be null");
        const broken = [
            password.length < passwordPolicy.minimumLength && "Password not long enough",
            passwordPolicy.requireLowercase && !/[a-z]/.test(password) && "Password must have lowercase characters",
            passwordPolicy.requireUppercase && !/[A-Z]/.test(password) && "Password must have uppercase characters",
            passwordPolicy.requireNumbers && !/[0-9]/.test(password) && "Password must have numeric characters",
            passwordPolicy.requireSymbols && !/[\^$*.[\]{}()?"!@#%&/\\,><':;|_~`=+-]/.test(password) && "Password must have symbol characters",
        ].find((m): m is string => typeof m === "string");
        if (broken) throw new CognitoError("InvalidPasswordException", `Password did not conform with policy: ${broken}`);
        return password;
    };
    const checkEmail = (email: unknown): string => {
        if (typeof email !== "string" || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new CognitoError("InvalidParameterException", "Username should be an email.");
        return email;
    };
    const attributesIn = (list: unknown): Record<string, string> => {
        const out: Record<string, string> = {};
        if (list === undefined) return out;
        if (!Array.isArray(list)) throw new CognitoError("InvalidParameterException", "UserAttributes must be a list of {Name, Value}");
        for (const a of list as unknown[]) {
            const { Name, Value } = (a ?? {}) as Json;
            if (typeof Name !== "string" || typeof Value !== "string") throw new CognitoError("InvalidParameterException", "Each user attribute needs a Name and a Value");
            if (Name === "sub") throw new CognitoError("InvalidParameterException", "Cannot modify the non-mutable attribute sub");
            out[Name] = Value;
        }
        return out;
    };
    const newUser = (email: string, attributes: Record<string, string>, password: string, status: UserStatus): StoredUser => {
        if (userByName(email)) throw new CognitoError("UsernameExistsException", "An account with the given email already exists.");
        if (attributes.email !== undefined && attributes.email.toLowerCase() !== email.toLowerCase()) {
            throw new CognitoError("InvalidParameterException", "The email attribute must be the username (the pool's username attribute is email)");
        }
        const username = randomUUID();
        const now = Date.now();
        const user: StoredUser = {
            username,
            attributes: { ...attributes, sub: username, email },
            status,
            enabled: true,
            created: now,
            modified: now,
            ...passwordVerifier(poolName, username, password),
        };
        state.users.push(user);
        return user;
    };
    const setPassword = (user: StoredUser, password: string) => {
        Object.assign(user, passwordVerifier(poolName, user.username, password), { modified: Date.now() });
    };
    const removeUser = (user: StoredUser) => {
        state.users = state.users.filter((u) => u !== user);
        revokeSessions(user.username);
    };
    const revokeSessions = (username: string) => {
        for (const s of Object.values(state.sessions)) {
            if (s.username === username && !s.revoked) {
                s.revoked = true;
                state.revokedOrigins.push(s.originJti);
            }
        }
    };
    const attributeList = (user: StoredUser) => Object.entries(user.attributes).map(([Name, Value]) => ({ Name, Value }));
    const userType = (user: StoredUser) => ({
        Username: user.username,
        Attributes: attributeList(user),
        UserCreateDate: user.created / 1000,
        UserLastModifiedDate: user.modified / 1000,
        Enabled: user.enabled,
        UserStatus: user.status,
    });

    // ---- tokens ---------------------------------------------------------------------------------------------
    const signJwt = (claims: Json): Promise<string> => new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: signingKey.kid, typ: "JWT" }).sign(signingKey.privateKey);
    /** The claims of a token this endpoint signed, or undefined when it is not one (shape, key or signature). */
    // The signature only: each caller checks the claims itself, to refuse as the service it stands for does.
    const readJwt = async (token: unknown): Promise<Json | undefined> => {
        if (typeof token !== "string") return undefined;
        try {
            const { payload, protectedHeader } = await compactVerify(token, signingKey.publicKey, { algorithms: ["RS256"] });
            if (protectedHeader.kid !== signingKey.kid) return undefined;
            const claims: unknown = JSON.parse(Buffer.from(payload).toString("utf8"));
            return typeof claims === "object" && claims !== null && !Array.isArray(claims) ? (claims as Json) : undefined;
        } catch {
            return undefined;
        }
    };
    const issueTokens = async (user: StoredUser, session: StoredSession, withRefresh?: string) => {
        const iat = epochSeconds(Date.now());
        const eventId = randomUUID();
        const common = { sub: user.username, iss: issuer(), origin_jti: session.originJti, event_id: eventId, auth_time: session.authTime, iat };
        const idToken = await signJwt({
            ...common,
            ...(user.attributes.email_verified !== undefined ? { email_verified: user.attributes.email_verified === "true" } : {}),
            "cognito:username": user.username,
            aud: userPoolClientId,
            token_use: "id",
            exp: iat + appClient.idTokenValidityMinutes * 60,
            jti: randomUUID(),
            email: user.attributes.email,
        });
        const accessToken = await signJwt({
            ...common,
            client_id: userPoolClientId,
            token_use: "access",
            scope: "aws.cognito.signin.user.admin",
            exp: iat + appClient.accessTokenValidityMinutes * 60,
            jti: randomUUID(),
            username: user.username,
        });
        return {
            AccessToken: accessToken,
            ExpiresIn: appClient.accessTokenValidityMinutes * 60,
            TokenType: "Bearer",
            IdToken: idToken,
            ...(withRefresh ? { RefreshToken: withRefresh } : {}),
        };
    };
    const signIn = async (user: StoredUser) => {
        const refreshToken = randomBytes(96).toString("base64url");
        const now = Date.now();
        const session: StoredSession = { username: user.username, originJti: randomUUID(), authTime: epochSeconds(now), expires: now + appClient.refreshTokenValidityDays * 86400_000, revoked: false };
        state.sessions[refreshToken] = session;
        persist();
        return { ChallengeParameters: {}, AuthenticationResult: await issueTokens(user, session, refreshToken) };
    };
    /** The user an access token belongs to (GetUser, GlobalSignOut, DeleteUser), with Cognito's refusals. */
    const accessTokenUser = async (token: unknown): Promise<StoredUser> => {
        const claims = await readJwt(token);
        if (!claims || claims.token_use !== "access" || claims.client_id !== userPoolClientId || claims.iss !== issuer()) throw new CognitoError("NotAuthorizedException", "Invalid Access Token");
        if (typeof claims.exp !== "number" || claims.exp * 1000 <= Date.now()) throw new CognitoError("NotAuthorizedException", "Access Token has expired");
        if (state.revokedOrigins.includes(String(claims.origin_jti))) throw new CognitoError("NotAuthorizedException", "Access Token has been revoked");
        const user = state.users.find((u) => u.username === claims.username);
        if (!user) throw new CognitoError("UserNotFoundException", "User does not exist.");
        return user;
    };

    // ---- user pool operations ------------------------------------------------------------------------------
    const checkClient = (input: Json) => {
        if (input.ClientId !== userPoolClientId) throw new CognitoError("ResourceNotFoundException", `User pool client ${String(input.ClientId)} does not exist.`);
    };
    const checkPool = (input: Json) => {
        if (input.UserPoolId !== userPoolId) throw new CognitoError("ResourceNotFoundException", `User pool ${String(input.UserPoolId)} does not exist.`);
    };
    const adminUser = (input: Json): StoredUser => {
        checkPool(input);
        const user = typeof input.Username === "string" ? userByName(input.Username) : undefined;
        if (!user) throw new CognitoError("UserNotFoundException", "User does not exist.");
        return user;
    };
    const flowAllowed = (flow: string) => {
        if (!appClient.explicitAuthFlows.includes(`ALLOW_${flow}`)) throw new CognitoError("InvalidParameterException", `${flow} flow not enabled for this client`);
    };

    const userPoolOps: Record<string, (input: Json) => Json | Promise<Json>> = {
        SignUp(input) {
            checkClient(input);
            const email = checkEmail(input.Username);
            const password = checkPassword(input.Password);
            const user = newUser(email, attributesIn(input.UserAttributes), password, autoConfirm ? "CONFIRMED" : "UNCONFIRMED");
            const code = String(randomInt(0, 1_000_000)).padStart(6, "0");
            if (autoConfirm) user.attributes.email_verified = "true";
            else user.confirmationCode = code;
            persist();
            log(`confirmation code for ${email}: ${code}${autoConfirm ? " (auto-confirmed)" : ""}`);
            const [local, domain] = email.split("@");
            return {
                UserConfirmed: autoConfirm,
                UserSub: user.username,
                ...(autoConfirm ? {} : { CodeDeliveryDetails: { Destination: `${local[0]}***@${domain[0]}***`, DeliveryMedium: "EMAIL", AttributeName: "email" } }),
            };
        },
        ConfirmSignUp(input) {
            checkClient(input);
            const user = typeof input.Username === "string" ? userByName(input.Username) : undefined;
            if (!user) throw new CognitoError("CodeMismatchException", "Invalid verification code provided, please try again.");
            if (user.status !== "UNCONFIRMED") throw new CognitoError("NotAuthorizedException", `User cannot be confirmed. Current status is ${user.status}`);
            if (input.ConfirmationCode !== user.confirmationCode) throw new CognitoError("CodeMismatchException", "Invalid verification code provided, please try again.");
            Object.assign(user, { status: "CONFIRMED", confirmationCode: undefined, modified: Date.now() });
            user.attributes.email_verified = "true";
            persist();
            return {};
        },
        async InitiateAuth(input) {
            checkClient(input);
            const params = (input.AuthParameters ?? {}) as Record<string, unknown>;
            switch (input.AuthFlow) {
                case "USER_SRP_AUTH": {
                    flowAllowed("USER_SRP_AUTH");
                    const { USERNAME, SRP_A } = params;
                    if (typeof USERNAME !== "string" || USERNAME === "") throw new CognitoError("InvalidParameterException", "Missing required parameter USERNAME");
                    if (typeof SRP_A !== "string" || !validClientPublic(SRP_A)) throw new CognitoError("InvalidParameterException", "Missing or invalid parameter SRP_A");
                    const user = userByName(USERNAME);
                    // An unknown user still gets a challenge (random salt and verifier), then the generic failure.
                    const verifier = user ?? passwordVerifier(poolName, USERNAME, randomUUID());
                    const ephemeral = serverEphemeral(verifier.verifier);
                    const secretBlock = randomBytes(128).toString("base64");
                    const userIdForSrp = user?.username ?? USERNAME;
                    for (const [block, pending] of challenges) if (pending.expires <= Date.now()) challenges.delete(block);
                    challenges.set(secretBlock, { userIdForSrp, user, A: SRP_A, ephemeral, expires: Date.now() + CHALLENGE_MS });
                    return {
                        ChallengeName: "PASSWORD_VERIFIER",
                        ChallengeParameters: { SALT: verifier.salt, SECRET_BLOCK: secretBlock, SRP_B: ephemeral.B, USERNAME: userIdForSrp, USER_ID_FOR_SRP: userIdForSrp },
                    };
                }
                case "REFRESH_TOKEN_AUTH":
                case "REFRESH_TOKEN": {
                    flowAllowed("REFRESH_TOKEN_AUTH");
                    const token = params.REFRESH_TOKEN;
                    const session = typeof token === "string" ? state.sessions[token] : undefined;
                    if (!session || session.expires <= Date.now()) throw new CognitoError("NotAuthorizedException", "Invalid Refresh Token");
                    if (session.revoked) throw new CognitoError("NotAuthorizedException", "Refresh Token has been revoked");
                    const user = state.users.find((u) => u.username === session.username);
                    if (!user) throw new CognitoError("NotAuthorizedException", "Invalid Refresh Token");
                    return { ChallengeParameters: {}, AuthenticationResult: await issueTokens(user, session) };
                }
                case "USER_PASSWORD_AUTH":
                case "CUSTOM_AUTH":
                case "USER_AUTH":
                    flowAllowed(input.AuthFlow);
                    throw new CognitoError("InvalidParameterException", `${input.AuthFlow} is not supported by the local Cognito`);
                default:
                    throw new CognitoError("InvalidParameterException", `1 validation error detected: Value '${String(input.AuthFlow)}' at 'authFlow' failed to satisfy constraint: Member must satisfy enum value set`);
            }
        },
        async RespondToAuthChallenge(input) {
            checkClient(input);
            const responses = (input.ChallengeResponses ?? {}) as Record<string, unknown>;
            if (input.ChallengeName === "PASSWORD_VERIFIER") {
                const { PASSWORD_CLAIM_SECRET_BLOCK: block, PASSWORD_CLAIM_SIGNATURE: signature, TIMESTAMP: timestamp } = responses;
                if (typeof block !== "string" || typeof signature !== "string" || typeof timestamp !== "string") {
                    throw new CognitoError("InvalidParameterException", "Missing required parameter PASSWORD_CLAIM_SECRET_BLOCK, PASSWORD_CLAIM_SIGNATURE or TIMESTAMP");
                }
                if (!/^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2} \d{2}:\d{2}:\d{2} UTC \d{4}$/.test(timestamp)) {
                    throw new CognitoError("InvalidParameterException", "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.");
                }
                const pending = challenges.get(block);
                challenges.delete(block);
                if (!pending || pending.expires <= Date.now()) throw incorrect();
                const { user } = pending;
                if (!user) throw incorrect();
                const key = passwordAuthenticationKey(pending.A, pending.ephemeral, user.verifier);
                if (!validPasswordClaim(key, poolName, pending.userIdForSrp, block, timestamp, signature)) throw incorrect();
                if (!user.enabled) throw new CognitoError("NotAuthorizedException", "User is disabled.");
                if (user.status === "UNCONFIRMED") throw new CognitoError("UserNotConfirmedException", "User is not confirmed.");
                if (user.status === "FORCE_CHANGE_PASSWORD") {
                    if ((user.temporaryPasswordExpires ?? Infinity) <= Date.now()) {
                        throw new CognitoError("NotAuthorizedException", "Temporary password has expired and must be reset by an administrator.");
                    }
                    const session = randomBytes(64).toString("base64url");
                    for (const [key, pending] of newPasswordSessions) if (pending.expires <= Date.now()) newPasswordSessions.delete(key);
                    newPasswordSessions.set(session, { username: user.username, expires: Date.now() + CHALLENGE_MS });
                    const { sub: _sub, ...visible } = user.attributes;
                    void _sub;
                    return {
                        ChallengeName: "NEW_PASSWORD_REQUIRED",
                        Session: session,
                        ChallengeParameters: { USER_ID_FOR_SRP: user.username, requiredAttributes: "[]", userAttributes: JSON.stringify(visible) },
                    };
                }
                return signIn(user);
            }
            if (input.ChallengeName === "NEW_PASSWORD_REQUIRED") {
                const pending = typeof input.Session === "string" ? newPasswordSessions.get(input.Session) : undefined;
                if (!pending || pending.expires <= Date.now()) throw new CognitoError("NotAuthorizedException", "Invalid session for the user, session is expired.");
                const user = state.users.find((u) => u.username === pending.username);
                if (!user) throw incorrect();
                setPassword(user, checkPassword(responses.NEW_PASSWORD));
                newPasswordSessions.delete(String(input.Session));
                Object.assign(user, { status: "CONFIRMED", temporaryPasswordExpires: undefined });
                return signIn(user);
            }
            throw new CognitoError("InvalidParameterException", `ChallengeName ${String(input.ChallengeName)} is not supported by the local Cognito`);
        },
        async GetUser(input) {
            const user = await accessTokenUser(input.AccessToken);
            return { Username: user.username, UserAttributes: attributeList(user) };
        },
        async GlobalSignOut(input) {
            const user = await accessTokenUser(input.AccessToken);
            revokeSessions(user.username);
            persist();
            return {};
        },
        RevokeToken(input) {
            checkClient(input);
            const session = typeof input.Token === "string" ? state.sessions[input.Token] : undefined;
            if (session && !session.revoked) {
                session.revoked = true;
                state.revokedOrigins.push(session.originJti);
                persist();
            }
            return {};
        },
        async DeleteUser(input) {
            removeUser(await accessTokenUser(input.AccessToken));
            persist();
            return {};
        },
        AdminCreateUser(input) {
            checkPool(input);
            const email = checkEmail(input.Username);
            const password = input.TemporaryPassword === undefined ? generatedPassword() : checkPassword(input.TemporaryPassword);
            const user = newUser(email, attributesIn(input.UserAttributes), password, "FORCE_CHANGE_PASSWORD");
            user.temporaryPasswordExpires = Date.now() + passwordPolicy.temporaryPasswordValidityDays * 86400_000;
            persist();
            if (input.MessageAction !== "SUPPRESS") log(`invitation for ${email}: temporary password ${password}`);
            return { User: userType(user) };
        },
        AdminSetUserPassword(input) {
            const user = adminUser(input);
            setPassword(user, checkPassword(input.Password));
            if (input.Permanent === true) {
                Object.assign(user, { status: "CONFIRMED", temporaryPasswordExpires: undefined });
            } else {
                Object.assign(user, { status: "FORCE_CHANGE_PASSWORD", temporaryPasswordExpires: Date.now() + passwordPolicy.temporaryPasswordValidityDays * 86400_000 });
            }
            persist();
            return {};
        },
        AdminDeleteUser(input) {
            removeUser(adminUser(input));
            persist();
            return {};
        },
        AdminGetUser(input) {
            const user = adminUser(input);
            const { Attributes, ...rest } = userType(user);
            return { ...rest, UserAttributes: Attributes };
        },
        ListUsers(input) {
            checkPool(input);
            let users = state.users;
            if (typeof input.Filter === "string" && input.Filter.trim() !== "") {
                const m = /^\s*"?([\w:]+)"?\s*(\^?=)\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(input.Filter);
                const filterable = ["username", "email", "phone_number", "name", "given_name", "family_name", "preferred_username", "cognito:user_status", "status", "sub"];
                if (!m || !filterable.includes(m[1])) throw new CognitoError("InvalidParameterException", `Invalid search filter: ${input.Filter}`);
                const [, attribute, op, value] = m;
                const valueOf = (u: StoredUser) =>
                    attribute === "username" ? u.username : attribute === "cognito:user_status" ? u.status : attribute === "status" ? (u.enabled ? "Enabled" : "Disabled") : u.attributes[attribute];
                users = users.filter((u) => {
                    const v = valueOf(u);
                    return v !== undefined && (op === "=" ? v === value : v.startsWith(value));
                });
            }
            const limit = typeof input.Limit === "number" ? input.Limit : 60;
            if (limit < 0 || limit > 60) throw new CognitoError("InvalidParameterException", "Limit must be between 0 and 60");
            const start = typeof input.PaginationToken === "string" ? Number(Buffer.from(input.PaginationToken, "base64url").toString()) || 0 : 0;
            const page = users.slice(start, start + limit);
            const wanted = Array.isArray(input.AttributesToGet) ? (input.AttributesToGet as string[]) : undefined;
            return {
                Users: page.map((u) => {
                    const t = userType(u);
                    return wanted ? { ...t, Attributes: t.Attributes.filter((a) => wanted.includes(a.Name)) } : t;
                }),
                ...(start + limit < users.length ? { PaginationToken: Buffer.from(String(start + limit)).toString("base64url") } : {}),
            };
        },
    };
    const signedUserPoolOps = new Set(["AdminCreateUser", "AdminSetUserPassword", "AdminDeleteUser", "AdminGetUser", "ListUsers"]);

    // ---- identity pool -------------------------------------------------------------------------------------
    const checkIdentityPool = (input: Json) => {
        if (input.IdentityPoolId !== identityPoolId) throw new CognitoError("ResourceNotFoundException", `IdentityPool '${String(input.IdentityPoolId)}' not found.`);
    };
    /** The user id (`sub`) of a Logins map's ID token, checked as the deployed pool's server-side token check. */
    const loginOf = async (logins: unknown): Promise<string | undefined> => {
        if (logins === undefined || (typeof logins === "object" && logins !== null && Object.keys(logins).length === 0)) return undefined;
        if (typeof logins !== "object" || logins === null) throw new CognitoError("InvalidParameterException", "Logins must be a map of provider name to token");
        const entries = Object.entries(logins as Record<string, unknown>);
        if (entries.length !== 1 || entries[0][0] !== loginsKey) throw new CognitoError("NotAuthorizedException", "Token is not from a supported provider of this identity pool.");
        const claims = await readJwt(entries[0][1]);
        if (!claims || claims.iss !== issuer()) throw new CognitoError("NotAuthorizedException", "Invalid login token. Couldn't verify signed token.");
        if (claims.token_use !== "id") throw new CognitoError("NotAuthorizedException", "Invalid login token. Not a valid OpenId Connect identity token.");
        if (claims.aud !== userPoolClientId) throw new CognitoError("NotAuthorizedException", "Invalid login token. Incorrect token audience.");
        const now = epochSeconds(Date.now());
        if (typeof claims.exp !== "number" || claims.exp <= now) throw new CognitoError("NotAuthorizedException", `Invalid login token. Token expired: ${now} >= ${String(claims.exp)}`);
        if (state.revokedOrigins.includes(String(claims.origin_jti)) || !state.users.some((u) => u.username === claims.sub)) {
            throw new CognitoError("NotAuthorizedException", "Invalid login token. Token is revoked.");
        }
        return String(claims.sub);
    };
    const identityById = (id: unknown): StoredIdentity => {
        const identity = state.identities.find((i) => i.identityId === id);
        if (!identity) throw new CognitoError("ResourceNotFoundException", `Identity '${String(id)}' not found.`);
        return identity;
    };
    /** The identity the call acts for: a signed-in identity only with its login, a guest only when allowed. */
    const identityFor = async (input: Json): Promise<{ identity: StoredIdentity; sub?: string }> => {
        identityById(input.IdentityId); // an unknown identity is refused before its logins are looked at
        const sub = await loginOf(input.Logins);
        // What follows reads and changes the state with no await in between.
        const identity = identityById(input.IdentityId);
        const linked = identity.logins[loginsKey];
        if (sub === undefined) {
            if (linked !== undefined) throw new CognitoError("NotAuthorizedException", "Logins don't match. Please include at least one valid login for this identity or identity pool.");
            if (!allowGuests) throw new CognitoError("NotAuthorizedException", "Unauthenticated access is not supported for this identity pool.");
            return { identity };
        }
        if (linked === undefined) {
            // A guest identity signing in: Cognito links the login to it unless the login already has its own identity.
            if (state.identities.some((i) => i.logins[loginsKey] === sub)) throw new CognitoError("NotAuthorizedException", "Logins don't match. Please include at least one valid login for this identity or identity pool.");
            identity.logins[loginsKey] = sub;
            identity.modified = Date.now();
        } else if (linked !== sub) {
            throw new CognitoError("NotAuthorizedException", "Logins don't match. Please include at least one valid login for this identity or identity pool.");
        }
        return { identity, sub };
    };
    const issueCredentials = (identityId: string, sub: string | undefined, flow: IssuedCredentials["flow"], roleArn: string): StoredCredentials => {
        const issued: StoredCredentials = {
            accessKeyId: `ASIA${randomKey(16)}`,
            secretAccessKey: randomBytes(30).toString("base64"),
            sessionToken: randomBytes(192).toString("base64"),
            expiration: Date.now() + CREDENTIALS_SECONDS * 1000,
            identityId,
            authenticated: sub !== undefined,
            roleArn,
            flow,
            guestSessionPolicy: sub === undefined && flow === "enhanced",
            ...(sub !== undefined ? { authenticationProvider: `${loginsKey},${loginsKey}:CognitoSignIn:${sub}` } : {}),
        };
        const now = Date.now();
        // Expired credentials are kept a day, so that a request signed with them is told they expired
        // (ExpiredToken, ExpiredTokenException) rather than that they never existed.
        state.credentials = state.credentials.filter((c) => c.expiration > now - EXPIRED_CREDENTIALS_KEPT_MS);
        state.credentials.push(issued);
        persist();
        return issued;
    };

    const identityPoolOps: Record<string, (input: Json) => Json | Promise<Json>> = {
        async GetId(input) {
            checkIdentityPool(input);
            if (input.AccountId !== undefined && input.AccountId !== accountId) throw new CognitoError("NotAuthorizedException", `Account ${String(input.AccountId)} does not own this identity pool.`);
            const sub = await loginOf(input.Logins);
            if (sub === undefined && !allowGuests) throw new CognitoError("NotAuthorizedException", "Unauthenticated access is not supported for this identity pool.");
            let identity = sub === undefined ? undefined : state.identities.find((i) => i.logins[loginsKey] === sub);
            if (!identity) {
                const now = Date.now();
                identity = { identityId: `${region}:${randomUUID()}`, logins: sub === undefined ? {} : { [loginsKey]: sub }, created: now, modified: now };
                state.identities.push(identity);
                persist();
            }
            return { IdentityId: identity.identityId };
        },
        async GetCredentialsForIdentity(input) {
            if (input.CustomRoleArn !== undefined) throw new CognitoError("InvalidParameterException", "CustomRoleArn needs role mappings, which this identity pool does not have.");
            const { identity, sub } = await identityFor(input);
            const issued = issueCredentials(identity.identityId, sub, "enhanced", sub === undefined ? (guestRoleArn as string) : signedInRoleArn);
            return {
                IdentityId: identity.identityId,
                Credentials: { AccessKeyId: issued.accessKeyId, SecretKey: issued.secretAccessKey, SessionToken: issued.sessionToken, Expiration: issued.expiration / 1000 },
            };
        },
        async GetOpenIdToken(input) {
            // The deployed pool's allowClassicFlow is allowGuests (infra/identity.ts).
            if (!allowGuests) throw new CognitoError("InvalidParameterException", "Basic (classic) flow is not enabled, please use enhanced flow.");
            const { identity, sub } = await identityFor(input);
            const iat = epochSeconds(Date.now());
            const token = await signJwt({
                sub: identity.identityId,
                aud: identityPoolId,
                amr: sub === undefined ? ["unauthenticated"] : ["authenticated", loginsKey, `${loginsKey}:CognitoSignIn:${sub}`],
                iss: OPEN_ID_ISSUER,
                exp: iat + OPEN_ID_TOKEN_SECONDS,
                iat,
            });
            return { IdentityId: identity.identityId, Token: token };
        },
        DescribeIdentity(input) {
            const identity = identityById(input.IdentityId);
            return { IdentityId: identity.identityId, Logins: Object.keys(identity.logins), CreationDate: identity.created / 1000, LastModifiedDate: identity.modified / 1000 };
        },
        DeleteIdentities(input) {
            const ids = input.IdentityIdsToDelete;
            if (!Array.isArray(ids) || ids.length < 1 || ids.length > 60) throw new CognitoError("InvalidParameterException", "IdentityIdsToDelete must hold 1 to 60 identity ids");
            const gone = new Set(ids.map(String));
            state.identities = state.identities.filter((i) => !gone.has(i.identityId));
            state.credentials = state.credentials.filter((c) => !gone.has(c.identityId));
            persist();
            return { UnprocessedIdentityIds: [] };
        },
    };
    const signedIdentityPoolOps = new Set(["DescribeIdentity", "DeleteIdentities"]);

    // ---- STS (classic flow) ------------------------------------------------------------------------------
    const assumeRoleWithWebIdentity = async (form: URLSearchParams): Promise<string> => {
        const roleArn = form.get("RoleArn") ?? "";
        const sessionName = form.get("RoleSessionName") ?? "";
        if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) throw new StsError(400, "ValidationError", "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*");
        const claims = await readJwt(form.get("WebIdentityToken"));
        if (!claims || claims.iss !== OPEN_ID_ISSUER) throw new StsError(400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements");
        const now = epochSeconds(Date.now());
        if (typeof claims.exp !== "number" || claims.exp <= now) throw new StsError(400, "ExpiredTokenException", "Token expired: current date/time must be before the expiration date/time.");
        const amr = Array.isArray(claims.amr) ? (claims.amr as unknown[]) : [];
        // The trust policy of the deployed roles: aud is this identity pool, amr the role's kind.
        const kind = roleArn === signedInRoleArn ? "authenticated" : roleArn === guestRoleArn ? "unauthenticated" : undefined;
        if (kind === undefined || claims.aud !== identityPoolId || !amr.includes(kind)) throw new StsError(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity");
        const identity = state.identities.find((i) => i.identityId === claims.sub);
        if (!identity) throw new StsError(400, "InvalidIdentityToken", "The identity of this token no longer exists");
        const sub = kind === "authenticated" ? identity.logins[loginsKey] : undefined;
        const issued = issueCredentials(identity.identityId, sub, "classic", roleArn);
        const roleName = roleArn.split("/").pop() ?? "";
        return `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>${xml(identity.identityId)}</SubjectFromWebIdentityToken>
    <Audience>${xml(identityPoolId)}</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::${accountId}:assumed-role/${xml(roleName)}/${xml(sessionName)}</Arn>
      <AssumedRoleId>AROA${randomKey(17)}:${xml(sessionName)}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${issued.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${xml(issued.secretAccessKey)}</SecretAccessKey>
      <SessionToken>${xml(issued.sessionToken)}</SessionToken>
      <Expiration>${new Date(issued.expiration).toISOString()}</Expiration>
    </Credentials>
    <Provider>cognito-identity.amazonaws.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`;
    };

    // ---- HTTP ----------------------------------------------------------------------------------------------
    const cors = {
        "access-control-allow-origin": "*",
        "access-control-allow-headers": "*",
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-expose-headers": "x-amzn-RequestId, x-amzn-ErrorType, x-amzn-ErrorMessage, Date",
    };
    const handle = async (req: http.IncomingMessage, body: Buffer, tooLarge: boolean): Promise<{ status: number; headers: Record<string, string>; body: string }> => {
        const requestId = randomUUID();
        const reqUrl = new URL(req.url ?? "/", "http://localhost");
        const json = (status: number, value: unknown, extra: Record<string, string> = {}) => ({
            status,
            headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": requestId, ...extra },
            body: JSON.stringify(value),
        });
        if (req.method === "OPTIONS") return { status: 204, headers: {}, body: "" };
        if (req.method === "GET" && reqUrl.pathname === `/${userPoolId}/.well-known/jwks.json`) {
            return { status: 200, headers: { "content-type": "application/json" }, body: jwks };
        }
        if (req.method === "GET" && reqUrl.pathname === `/${userPoolId}/.well-known/openid-configuration`) {
            return {
                status: 200,
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ issuer: issuer(), jwks_uri: `${issuer()}/.well-known/jwks.json`, id_token_signing_alg_values_supported: ["RS256"], subject_types_supported: ["public"], response_types_supported: ["code", "token"] }),
            };
        }
        const target = req.headers["x-amz-target"];
        const contentType = req.headers["content-type"] ?? "";
        if (req.method === "POST" && typeof target !== "string" && contentType.startsWith("application/x-www-form-urlencoded")) {
            const form = new URLSearchParams(body.toString("utf8"));
            try {
                if (form.get("Action") !== "AssumeRoleWithWebIdentity") throw new StsError(400, "InvalidAction", `Action ${form.get("Action") ?? "(none)"} is not supported by the local STS (only AssumeRoleWithWebIdentity)`);
                return { status: 200, headers: { "content-type": "text/xml", "x-amzn-requestid": requestId }, body: await assumeRoleWithWebIdentity(form) };
            } catch (err) {
                const e = err instanceof StsError ? err : new StsError(500, "InternalFailure", String(err));
                const type = e.status >= 500 ? "Receiver" : "Sender";
                return {
                    status: e.status,
                    headers: { "content-type": "text/xml", "x-amzn-requestid": requestId },
                    body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>${type}</Type><Code>${e.code}</Code><Message>${xml(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
                };
            }
        }
        try {
            if (req.method !== "POST" || typeof target !== "string") throw new CognitoError("UnknownOperationException", "POST a JSON 1.1 request with an X-Amz-Target header (or an STS Query request)");
            if (tooLarge) throw new CognitoError("SerializationException", "Request body too large");
            const [ops, signed, service, name] = target.startsWith(IDP)
                ? [userPoolOps, signedUserPoolOps, "cognito-idp", target.slice(IDP.length)]
                : target.startsWith(IDENTITY)
                  ? [identityPoolOps, signedIdentityPoolOps, "cognito-identity", target.slice(IDENTITY.length)]
                  : [undefined, undefined, "", target];
            const op = ops && Object.prototype.hasOwnProperty.call(ops, name) ? ops[name] : undefined;
            if (!op || !signed) throw new CognitoError("UnknownOperationException", `${target} is not supported by the local Cognito`);
            if (signed.has(name)) verifySigV4(req, reqUrl, body, { service, region });
            let input: unknown;
            try {
                input = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
            } catch {
                throw new CognitoError("SerializationException", "Request body is not valid JSON");
            }
            if (typeof input !== "object" || input === null || Array.isArray(input)) throw new CognitoError("SerializationException", "Request body must be a JSON object");
            return json(200, await op(input as Json));
        } catch (err) {
            const e =
                err instanceof CognitoError
                    ? err
                    : err instanceof SigV4Failure
                      ? new CognitoError(err.code === "MissingAuthenticationToken" ? "MissingAuthenticationTokenException" : err.code === "IncompleteSignature" ? "IncompleteSignatureException" : "InvalidSignatureException", err.message, err.status)
                      : new CognitoError("InternalErrorException", String(err), 500);
            return json(e.status, { __type: e.code, message: e.message }, { "x-amzn-errortype": `${e.code}:` });
        }
    };

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_BODY) chunks.push(chunk);
        });
        req.on("end", () => {
            handle(req, Buffer.concat(chunks), size > MAX_BODY)
                .catch((err: unknown) => ({
                    // What `handle` does not turn into a service error itself (a request URL that cannot be parsed, ...).
                    status: 500,
                    headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": "InternalErrorException:" },
                    body: JSON.stringify({ __type: "InternalErrorException", message: err instanceof Error ? err.message : String(err) }),
                }))
                .then((reply) => {
                    res.writeHead(reply.status, { ...cors, ...reply.headers });
                    res.end(reply.body);
                });
        });
    });
    // Node closes an idle kept-alive connection after 5 s; an SRP client busy with its large powers for longer then
    // sends RespondToAuthChallenge on a closed connection and gets a reset. AWS endpoints keep idle connections longer.
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    return {
        url,
        jwksUrl: `${issuer()}/.well-known/jwks.json`,
        issuer: issuer(),
        loginsKey,
        signedInRoleArn,
        guestRoleArn,
        credentials(accessKeyId) {
            const found = state.credentials.find((c) => c.accessKeyId === accessKeyId);
            if (!found || !state.identities.some((i) => i.identityId === found.identityId)) return undefined;
            return { ...found, expiration: new Date(found.expiration) };
        },
        stop: () =>
            new Promise<void>((resolve, reject) => {
                server.closeAllConnections();
                server.close((err) => (err ? reject(err) : resolve()));
            }),
    };
}

/** The RSA key that signs tokens: persisted in `file` (PKCS#8 PEM and kid) when given. */
function loadSigningKey(file: string | undefined): { kid: string; privateKey: KeyObject; publicKey: KeyObject } {
    const stored = file ? readJson<{ kid: string; pem: string }>(file) : undefined;
    let kid: string;
    let privateKey: KeyObject;
    if (stored) {
        kid = stored.kid;
        privateKey = createPrivateKey(stored.pem);
    } else {
        privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
        kid = randomBytes(32).toString("base64");
        if (file) fs.writeFileSync(file, JSON.stringify({ kid, pem: privateKey.export({ type: "pkcs8", format: "pem" }) }), { mode: 0o600 });
    }
    return { kid, privateKey, publicKey: createPublicKey(privateKey) };
}

function readJson<T>(file: string): T | undefined {
    if (!fs.existsSync(file)) return undefined;
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

const KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function randomKey(length: number): string {
    return Array.from(randomBytes(length), (b) => KEY_CHARS[b % KEY_CHARS.length]).join("");
}

/** A temporary password meeting any policy (AdminCreateUser without TemporaryPassword). */
function generatedPassword(): string {
    return `Tmp-${randomBytes(9).toString("base64url")}a1A!`;
}
