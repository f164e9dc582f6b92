import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { kept, type RetainedResource, type RetainsResources } from "./adopt";
import { APP_CLIENT, PASSWORD_POLICY } from "./identity-settings";
import { IDENTITY_ID, IDENTITY_UPLOADS_ACCESS, OWN_UPLOADS_ACTIONS } from "./declarations";

/** Where the policy variable and the identities' uploads actions are declared (cli/client-config.ts reads them here). */
export { IDENTITY_ID, OWN_UPLOADS_ACTIONS };

/** Arguments of {@link Identity}. */
export interface IdentityArgs {
    /** ARN of the uploads bucket; each identity may read only its own prefix in it (uploads go through `POST /uploads`). */
    uploadsBucketArn: pulumi.Input<string>;
    /**
     * Let signed-out users get guest (unauthenticated) identities with the same permissions as
     * signed-in users. Turns on the identity pool's classic flow, see {@link Identity}. Default `false`.
     */
    allowGuests?: boolean;
    /**
     * Send verification and recovery emails through this verified Amazon SES identity (the user pool's
     * `DEVELOPER` email sending account) instead of Cognito's default sender, which sends only a few
     * emails a day. The identity must be verified in the user pool's region; Cognito sends through its
     * service-linked role `AWSServiceRoleForAmazonCognitoIdpEmailService` ("Authorizing Amazon Cognito to
     * send Amazon SES email on your behalf"; README, "Email (SES)"). Default: Cognito's default sender.
     */
    email?: {
        /** The sender address: the SES identity, or an address of its domain. */
        fromAddress: string;
        /** ARN of the verified SES identity. */
        sesIdentityArn: string;
        /** SES configuration set applied to the emails. Default: none. */
        configurationSet?: string;
        /** Reply-to address. Default: none. */
        replyTo?: string;
    };
    /**
     * Keep the user pool (with its users and deletion protection), its app client (whose id ships in the app) and
     * the identity pool (whose identity ids key every user's notes, uploads and devices) when the stack is
     * destroyed. Default `false`.
     */
    retain?: boolean;
}

/**
 * How users sign up and in, declared once: the user pool below is created with these, and the client config
 * files (`npm run client-config`) tell the app the same rules.
 */
export const SIGN_IN = {
    /** Users sign in with their email address (case-insensitive), verified by a code Cognito sends. */
    usernameAttributes: ["email"],
    autoVerifiedAttributes: ["email"],
    passwordPolicy: PASSWORD_POLICY,
    /** MFA: optional, with an authenticator app (TOTP) only. */
    mfaConfiguration: "OPTIONAL",
    mfaMethods: ["TOTP"],
    /** The app client's flows (infra/identity-settings.ts): SRP sign-in and refresh, no password sent in the clear. */
    explicitAuthFlows: APP_CLIENT.explicitAuthFlows,
} as const;

/**
 * The identity tier. A Cognito user pool and app client for sign-up/sign-in, registered as the
 * authenticated provider of an identity pool that hands out AWS credentials. The credentials may
 * invoke the API stage and read `uploads/<identity id>/*` of the uploads bucket, nothing more: uploads
 * go through `POST /uploads`, whose presigned POST fixes the key, content type and size.
 *
 * Guests: in Cognito's default (enhanced) flow, guest credentials are cut down by the AWS-managed
 * `AmazonCognitoUnAuthedIdentitiesSessionPolicy`, which has no `s3:` or `execute-api:` actions, so a
 * guest role granting them would do nothing. With `allowGuests`, the pool therefore also allows the
 * classic (basic) flow, where guest credentials carry exactly the guest role below; without it, the
 * pool allows neither guests nor the classic flow and no guest role exists.
 */
export class Identity extends pulumi.ComponentResource implements RetainsResources {
    /** The user pool that signs users up and in. */
    public readonly userPool: aws.cognito.UserPool;
    /** The mobile app's client of the user pool (public: no secret). */
    public readonly userPoolClient: aws.cognito.UserPoolClient;
    /** The identity pool that exchanges sign-ins (and, if allowed, guests) for AWS credentials. */
    public readonly identityPool: aws.cognito.IdentityPool;
    /**
     * ARN of the guest role, when guests are allowed: the classic flow's
     * `AssumeRoleWithWebIdentity` call names it. Otherwise undefined.
     */
    public readonly guestRoleArn: pulumi.Output<string> | undefined;
    /** What a retaining stage keeps on destroy: the user pool, its app client and the identity pool. */
    public readonly retained: RetainedResource[];
    /** The identity roles by label (`signed-in`, and `guest` when guests are allowed), for {@link Identity.allowApiCalls}. */
    private readonly roles: { label: string; role: aws.iam.Role }[];
    private readonly uploadsBucketArn: pulumi.Input<string>;
    private readonly componentName: string;
    private apiAllowed = false;

    constructor(name: string, args: IdentityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:Identity", name, {}, opts);
        this.componentName = name;
        this.uploadsBucketArn = args.uploadsBucketArn;
        const allowGuests = args.allowGuests ?? false;
        const retain = args.retain ?? false;

        this.userPool = this.createUserPool(name, retain, args.email);
        this.userPoolClient = this.createUserPoolClient(name, retain);
        this.identityPool = this.createIdentityPool(name, allowGuests, retain);
        this.retained = retain
            ? [
                  kept(this.userPool),
                  // A client is imported as `<user pool id>/<client id>` (UserPoolClient's import docs).
                  kept(this.userPoolClient, pulumi.interpolate`${this.userPool.id}/${this.userPoolClient.id}`),
                  kept(this.identityPool),
              ]
            : [];
        const signedIn = this.createRole(name, "signed-in", "authenticated");
        const guest = allowGuests ? this.createRole(name, "guest", "unauthenticated") : undefined;
        this.roles = [{ label: "signed-in", role: signedIn }, ...(guest ? [{ label: "guest", role: guest }] : [])];
        this.guestRoleArn = guest?.arn;
        new aws.cognito.IdentityPoolRoleAttachment(
            `${name}-roles`,
            {
                identityPoolId: this.identityPool.id,
                roles: guest
                    ? { authenticated: signedIn.arn, unauthenticated: guest.arn }
                    : { authenticated: signedIn.arn },
            },
            { parent: this },
        );

        this.registerOutputs({
            userPool: this.userPool,
            userPoolClient: this.userPoolClient,
            identityPool: this.identityPool,
            guestRoleArn: this.guestRoleArn,
        });
    }

    private createUserPool(name: string, retain: boolean, email: IdentityArgs["email"]): aws.cognito.UserPool {
        return new aws.cognito.UserPool(
            `${name}-users`,
            {
                usernameAttributes: [...SIGN_IN.usernameAttributes],
                autoVerifiedAttributes: [...SIGN_IN.autoVerifiedAttributes],
                usernameConfiguration: { caseSensitive: false },
                passwordPolicy: { ...PASSWORD_POLICY },
                accountRecoverySetting: { recoveryMechanisms: [{ name: "verified_email", priority: 1 }] },
                mfaConfiguration: SIGN_IN.mfaConfiguration,
                softwareTokenMfaConfiguration: { enabled: (SIGN_IN.mfaMethods as readonly string[]).includes("TOTP") },
                deletionProtection: retain ? "ACTIVE" : "INACTIVE",
                emailConfiguration: email
                    ? {
                          emailSendingAccount: "DEVELOPER",
                          sourceArn: email.sesIdentityArn,
                          fromEmailAddress: email.fromAddress,
                          configurationSet: email.configurationSet,
                          replyToEmailAddress: email.replyTo,
                      }
                    : { emailSendingAccount: "COGNITO_DEFAULT" },
            },
            { parent: this, retainOnDelete: retain },
        );
    }

    private createUserPoolClient(name: string, retain: boolean): aws.cognito.UserPoolClient {
        return new aws.cognito.UserPoolClient(
            `${name}-app`,
            {
                userPoolId: this.userPool.id,
                // A mobile app cannot keep a secret.
                generateSecret: false,
                explicitAuthFlows: [...APP_CLIENT.explicitAuthFlows],
                preventUserExistenceErrors: "ENABLED",
                enableTokenRevocation: true,
                accessTokenValidity: APP_CLIENT.accessTokenValidityMinutes,
                idTokenValidity: APP_CLIENT.idTokenValidityMinutes,
                refreshTokenValidity: APP_CLIENT.refreshTokenValidityDays,
                tokenValidityUnits: { accessToken: "minutes", idToken: "minutes", refreshToken: "days" },
            },
            { parent: this, retainOnDelete: retain },
        );
    }

    private createIdentityPool(name: string, allowGuests: boolean, retain: boolean): aws.cognito.IdentityPool {
        return new aws.cognito.IdentityPool(
            `${name}-identities`,
            {
                identityPoolName: `${pulumi.getProject()}-${pulumi.getStack()}-${name}`,
                allowUnauthenticatedIdentities: allowGuests,
                // Guests need the classic flow to receive their role unreduced (see the class comment).
                allowClassicFlow: allowGuests,
                cognitoIdentityProviders: [
                    {
                        clientId: this.userPoolClient.id,
                        providerName: this.userPool.endpoint,
                        serverSideTokenCheck: true,
                    },
                ],
            },
            { parent: this, retainOnDelete: retain },
        );
    }

    /**
     * What the identities' credentials may do: invoke the API stage (`apiInvokeArn`, the `execute-api` ARN of
     * its operations) and read `uploads/<identity id>/*`. A method rather than an argument because the API
     * needs this tier first: `DELETE /me`'s function is allowed to delete this tier's users and identities,
     * and the API's document names that function. Call it once, with the API's ARN, after creating the API.
     */
    public allowApiCalls(apiInvokeArn: pulumi.Input<string>): void {
        if (this.apiAllowed) throw new Error("allowApiCalls was already called");
        this.apiAllowed = true;
        for (const { label, role } of this.roles) {
            new aws.iam.RolePolicy(
                `${this.componentName}-${label}`,
                {
                    role: role.id,
                    policy: pulumi.jsonStringify({
                        Version: "2012-10-17",
                        Statement: [
                            { Sid: "CallTheApi", Effect: "Allow", Action: "execute-api:Invoke", Resource: apiInvokeArn },
                            {
                                // No s3:PutObject: the only way in is the presigned POST of POST /uploads.
                                Sid: "ReadOwnUploadsOnly",
                                Effect: "Allow",
                                Action: [...IDENTITY_UPLOADS_ACCESS.Action],
                                Resource: pulumi.interpolate`${this.uploadsBucketArn}/${IDENTITY_UPLOADS_ACCESS.keys}`,
                            },
                        ],
                    }),
                },
                { parent: role },
            );
        }
    }

    /** A role only this identity pool can hand out, and only to identities of the given kind (its policy: {@link Identity.allowApiCalls}). */
    private createRole(name: string, label: string, amr: "authenticated" | "unauthenticated"): aws.iam.Role {
        return new aws.iam.Role(
            `${name}-${label}`,
            {
                description: `Credentials of ${amr} identities of ${pulumi.getProject()} ${pulumi.getStack()}`,
                assumeRolePolicy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Principal: { Federated: "cognito-identity.amazonaws.com" },
                            Action: "sts:AssumeRoleWithWebIdentity",
                            Condition: {
                                StringEquals: { "cognito-identity.amazonaws.com:aud": this.identityPool.id },
                                "ForAnyValue:StringLike": { "cognito-identity.amazonaws.com:amr": amr },
                            },
                        },
                    ],
                }),
            },
            { parent: this },
        );
    }
}
