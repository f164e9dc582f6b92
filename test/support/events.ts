import type { APIGatewayProxyEvent } from "aws-lambda";

/** What distinguishes one API call from another. */
export interface ApiCall {
    method: string;
    /** The API Gateway resource, e.g. `/notes/{noteId}`. */
    resource: string;
    pathParameters?: Record<string, string>;
    query?: Record<string, string>;
    /** A JSON value (serialized) or a raw string body. */
    body?: unknown;
    /** The caller's Cognito identity id; `null` for a caller without one. */
    identityId: string | null;
}

/** A REST API (v1) Lambda proxy event as API Gateway sends it for an `AWS_IAM`-authorized call. */
export function apiEvent(call: ApiCall): APIGatewayProxyEvent {
    let path = call.resource;
    for (const [name, value] of Object.entries(call.pathParameters ?? {})) {
        path = path.replace(`{${name}}`, encodeURIComponent(value));
    }
    const body = call.body === undefined ? null : typeof call.body === "string" ? call.body : JSON.stringify(call.body);
    return {
        resource: call.resource,
        path,
        httpMethod: call.method,
        headers: { "content-type": "application/json", "x-api-key": "local-key" },
        multiValueHeaders: {},
        queryStringParameters: call.query ?? null,
        multiValueQueryStringParameters: null,
        pathParameters: call.pathParameters ?? null,
        stageVariables: null,
        body,
        isBase64Encoded: false,
        requestContext: {
            accountId: "123456789012",
            apiId: "local",
            authorizer: null,
            protocol: "HTTP/1.1",
            httpMethod: call.method,
            path: `/dev${path}`,
            stage: "dev",
            requestId: "local-request",
            requestTimeEpoch: Date.now(),
            resourceId: "local",
            resourcePath: call.resource,
            identity: {
                accessKey: "ASIALOCAL",
                accountId: "123456789012",
                apiKey: "local-key",
                apiKeyId: "local-key-id",
                caller: "AROALOCAL:CognitoIdentityCredentials",
                clientCert: null,
                cognitoAuthenticationProvider: null,
                cognitoAuthenticationType: call.identityId ? "authenticated" : null,
                cognitoIdentityId: call.identityId,
                cognitoIdentityPoolId: call.identityId ? "us-east-1:pool" : null,
                principalOrgId: null,
                sourceIp: "127.0.0.1",
                user: "AROALOCAL:CognitoIdentityCredentials",
                userAgent: "jest",
                userArn: "arn:aws:sts::123456789012:assumed-role/local/CognitoIdentityCredentials",
            },
        },
    };
}

/** A proxy response with its JSON body parsed. */
export interface ApiReply {
    statusCode: number;
    headers?: Record<string, string | number | boolean>;
    body: any;
}

/** Parses the JSON body of a proxy result. */
export function reply(result: { statusCode: number; headers?: Record<string, string | number | boolean>; body: string }): ApiReply {
    return { statusCode: result.statusCode, headers: result.headers, body: JSON.parse(result.body) };
}
