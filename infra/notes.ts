import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { ApiService } from "./api";
import { fairUseLimits, type FairUseLimits } from "./data";
import { notesEnvironment, notesFunction } from "./handlers/notes";
import { AppFunction } from "./function";
import { NOTES_FUNCTION_UPLOADS_ACCESS } from "./declarations";
import { bucketStatements } from "./media";
import { NOTES_ROUTES } from "./routes";

/** Arguments of {@link NotesService}. */
export interface NotesServiceArgs {
    /** The notes table. */
    table: aws.dynamodb.Table;
    /** The uploads bucket: a note's `mediaKey` must name an existing object of the caller in it. */
    uploadsBucket: aws.s3.Bucket;
    /** Base URL that serves uploads (`https://<cloudfront domain>`), for the notes' `mediaUrl`. */
    mediaBaseUrl: pulumi.Input<string>;
    /** Fair use: every write (`POST`, `PUT`, `DELETE`) counts against `writesPerMinute` in the limits table. */
    limits: FairUseLimits;
    /** Memory of the function in MB. */
    memoryMb: number;
    /** Timeout of the function in seconds. */
    timeoutSeconds: number;
    /** Retention of the function's logs in days. */
    logRetentionDays: number;
    /** X-Ray active tracing of the functions. Default `false`. */
    tracing?: boolean;
}

/**
 * The notes service: the function behind `/notes` that stores and retrieves a user's notes in
 * DynamoDB. It may only read and write items of the notes table (and query its indexes).
 */
export class NotesService extends pulumi.ComponentResource {
    /** The function that serves the notes routes. */
    public readonly function: aws.lambda.Function;
    /** The routes of the service, for the API tier. */
    public readonly api: ApiService;

    constructor(name: string, args: NotesServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mobile-backend:index:NotesService", name, {}, opts);

        const handler = new AppFunction<APIGatewayProxyEvent, APIGatewayProxyResult>(
            `${name}-function`,
            {
                description: "Stores and retrieves the notes of the calling Cognito identity",
                callbackFactory: notesFunction,
                environment: notesEnvironment({
                    tableName: args.table.name,
                    mediaBaseUrl: args.mediaBaseUrl,
                    uploadsBucket: args.uploadsBucket.bucket,
                    limits: fairUseLimits(args.limits),
                }),
                statements: [
                    {
                        Action: [
                            "dynamodb:GetItem",
                            "dynamodb:PutItem",
                            "dynamodb:UpdateItem",
                            "dynamodb:DeleteItem",
                            "dynamodb:Query",
                        ],
                        Resource: [args.table.arn, pulumi.interpolate`${args.table.arn}/index/*`],
                    },
                    // The write counter: one conditional UpdateItem per write.
                    { Action: ["dynamodb:UpdateItem"], Resource: [args.limits.table.arn] },
                    // HeadObject of a note's mediaKey (HeadObject needs s3:GetObject).
                    ...bucketStatements(args.uploadsBucket.arn, NOTES_FUNCTION_UPLOADS_ACCESS),
                ],
                memoryMb: args.memoryMb,
                timeoutSeconds: args.timeoutSeconds,
                logRetentionDays: args.logRetentionDays,
                tracing: args.tracing,
            },
            { parent: this },
        );
        this.function = handler.function;
        this.api = { ...NOTES_ROUTES, function: this.function };

        this.registerOutputs({ function: this.function });
    }
}
