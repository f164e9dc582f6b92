/** `/blocks`: the blocks function (see ./types.ts). */
import type { APIGatewayProxyEvent } from "aws-lambda";
import { handleBlocksRequest } from "../../functions/blocks";
import { limitSettingsFromEnvironment } from "../../functions/rate-limit";
import { fairUseEnvironment, type ApiHandler, type Environment, type FairUseEnvironment } from "./types";

export function blocksEnvironment<S>(args: { blocksTable: S; limits: FairUseEnvironment<S> }): Environment<S> {
    return { BLOCKS_TABLE: args.blocksTable, ...fairUseEnvironment(args.limits) };
}

export function blocksFunction(): ApiHandler {
    const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
    const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb");
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const settings = { blocksTable: process.env.BLOCKS_TABLE ?? "", limits: limitSettingsFromEnvironment(process.env) };
    return (event: APIGatewayProxyEvent) => handleBlocksRequest(event, db, settings);
}
