/**
 * Every function of the program as a Pulumi-free declaration, one module per function (a local worker loads only its own): the factory Lambda runs once per cold start
 * (the `callbackFactory` infra/ hands to `AppFunction`, serialized into the archive) and the environment it
 * reads. The deployed stage and the local backend (`npm start`, local/functions.ts) use these same
 * factories, so the local function IS the deployed one.
 *
 * Factories build their SDK clients with `require` inside them: the serialized closure then refers to the
 * runtime's AWS SDK instead of capturing a client object, and the clients follow the environment (region,
 * credentials, and the SDK's standard endpoint settings such as `AWS_ENDPOINT_URL_DYNAMODB` locally).
 * No Pulumi import here: the local runtime loads this module in a worker of its own.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import type { NotificationRequestEvent } from "../../functions/notification-schema";

/** An API function's handler (Lambda proxy integration). */
export type ApiHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
/** A stream function's handler (partial batch responses). */
export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
/** The asynchronous notification sender's handler. */
export type SenderHandler = (event: NotificationRequestEvent) => Promise<unknown>;

/** The environment of a function: `S` is `string` locally, `pulumi.Input<string>` in infra/. */
export type Environment<S> = Record<string, S | string>;

/** The fair-use settings of `limits.*` and the table that counts them (its name). */
export interface FairUseEnvironment<S> {
    tableName: S;
    writesPerMinute: number;
    notificationsSentPerHour: number;
    notificationsReceivedPerHour: number;
}

/** The variables `limitSettingsFromEnvironment` (functions/rate-limit.ts) reads. */
export function fairUseEnvironment<S>(limits: FairUseEnvironment<S>): Environment<S> {
    return {
        LIMITS_TABLE: limits.tableName,
        WRITES_PER_MINUTE: String(limits.writesPerMinute),
        NOTIFICATIONS_SENT_PER_HOUR: String(limits.notificationsSentPerHour),
        NOTIFICATIONS_RECEIVED_PER_HOUR: String(limits.notificationsReceivedPerHour),
    };
}
