/** `/notes`: the notes function (see ./types.ts). */
import type { APIGatewayProxyEvent } from "aws-lambda";
import { handleNotesRequest } from "../../functions/notes";
import { limitSettingsFromEnvironment } from "../../functions/rate-limit";
import { fairUseEnvironment, type ApiHandler, type Environment, type FairUseEnvironment } from "./types";

/** `/notes`: the notes table, the media base URL, the uploads bucket (a note's mediaKey is checked) and fair use. */
export function notesEnvironment<S>(args: { tableName: S; mediaBaseUrl: S; uploadsBucket: S; limits: FairUseEnvironment<S> }): Environment<S> {
    return { NOTES_TABLE: args.tableName, MEDIA_BASE_URL: args.mediaBaseUrl, UPLOADS_BUCKET: args.uploadsBucket, ...fairUseEnvironment(args.limits) };
}

export function notesFunction(): ApiHandler {
    // Built once per cold start from the runtime's AWS SDK, configured by the environment.
    const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
    const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb");
    const { S3Client } = require("@aws-sdk/client-s3");
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const settings = {
        tableName: process.env.NOTES_TABLE ?? "",
        mediaBaseUrl: process.env.MEDIA_BASE_URL ?? "",
        limits: limitSettingsFromEnvironment(process.env),
    };
    const uploads = { s3: new S3Client({}), bucketName: process.env.UPLOADS_BUCKET ?? "" };
    return (event: APIGatewayProxyEvent) => handleNotesRequest(event, db, settings, uploads);
}
