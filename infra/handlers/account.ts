/** `DELETE /me`: the account deletion function, invoked asynchronously (see ./types.ts). */
import type { CognitoIdentityClient } from "@aws-sdk/client-cognito-identity";
import type { CognitoIdentityProviderClient } from "@aws-sdk/client-cognito-identity-provider";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Context } from "aws-lambda";
import { accountSettingsFromEnvironment, deleteAccount, type AccountClients, type AccountDeletionEvent, type AccountDeletionSummary } from "../../functions/account";
import { limitSettingsFromEnvironment } from "../../functions/rate-limit";
import { fairUseEnvironment, type Environment, type FairUseEnvironment } from "./types";

/** The deletion's handler (it reads the time left from Lambda's context). */
export type AccountHandler = (event: AccountDeletionEvent, context: Context) => Promise<AccountDeletionSummary>;

/** What `accountSettingsFromEnvironment` and `limitSettingsFromEnvironment` read. */
export function accountEnvironment<S>(args: {
    notesTable: S;
    devicesTable: S;
    blocksTable: S;
    uploadsBucket: S;
    userPoolId: S;
    limits: FairUseEnvironment<S>;
}): Environment<S> {
    return {
        NOTES_TABLE: args.notesTable,
        DEVICES_TABLE: args.devicesTable,
        BLOCKS_TABLE: args.blocksTable,
        UPLOADS_BUCKET: args.uploadsBucket,
        USER_POOL_ID: args.userPoolId,
        TIME_RESERVE_MS: "20000",
        ...fairUseEnvironment(args.limits),
    };
}

/**
 * The SDK clients of the deletion, built once per cold start from the runtime's AWS SDK with its default
 * configuration. Serialized into the closure (hence `require` here, not imports).
 */
export function createAccountClients(): AccountClients {
    const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
    const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb");
    const { SNSClient } = require("@aws-sdk/client-sns");
    const { S3Client } = require("@aws-sdk/client-s3");
    const { CognitoIdentityClient } = require("@aws-sdk/client-cognito-identity");
    const { CognitoIdentityProviderClient } = require("@aws-sdk/client-cognito-identity-provider");
    return {
        db: DynamoDBDocumentClient.from(new DynamoDBClient({})) as DynamoDBDocumentClient,
        sns: new SNSClient({}) as SNSClient,
        s3: new S3Client({}) as S3Client,
        identity: new CognitoIdentityClient({}) as CognitoIdentityClient,
        users: new CognitoIdentityProviderClient({}) as CognitoIdentityProviderClient,
    };
}

export function accountFunction(): AccountHandler {
    const clients = createAccountClients();
    const settings = { ...accountSettingsFromEnvironment(process.env), limits: limitSettingsFromEnvironment(process.env) };
    return (event: AccountDeletionEvent, context: Context) => deleteAccount(event, clients, { ...settings, remainingMs: () => context.getRemainingTimeInMillis() });
}
