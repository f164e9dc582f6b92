/**
 * Settings of the user pool and its app client that the deployed identity tier (`infra/identity.ts`) and the
 * local Cognito of `npm start` (`local/cognito.ts`) share: one declaration, so the local pool refuses the
 * passwords and flows the deployed one refuses. No Pulumi import here: the local services load it without
 * loading the Pulumi SDK.
 */

/** The user pool's password policy (`UserPool.passwordPolicy`). */
export interface PasswordPolicy {
    minimumLength: number;
    requireLowercase: boolean;
    requireUppercase: boolean;
    requireNumbers: boolean;
    requireSymbols: boolean;
    /** Days a temporary password (AdminCreateUser, AdminSetUserPassword with `Permanent: false`) stays valid. */
    temporaryPasswordValidityDays: number;
}

export const PASSWORD_POLICY: PasswordPolicy = {
    minimumLength: 10,
    requireLowercase: true,
    requireUppercase: true,
    requireNumbers: true,
    requireSymbols: false,
    temporaryPasswordValidityDays: 3,
};

/** The app client's flows and token lifetimes (`UserPoolClient`). */
export interface AppClientSettings {
    explicitAuthFlows: string[];
    accessTokenValidityMinutes: number;
    idTokenValidityMinutes: number;
    refreshTokenValidityDays: number;
}

export const APP_CLIENT: AppClientSettings = {
    explicitAuthFlows: ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    accessTokenValidityMinutes: 60,
    idTokenValidityMinutes: 60,
    refreshTokenValidityDays: 30,
};
