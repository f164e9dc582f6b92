/**
 * Least privilege, checked against the code that ships: the AWS calls each function's serialized
 * archive makes (its SDK commands) must be exactly the actions its role allows, apart from what the
 * Lambda service itself does with the role (logs, stream reads, failure destinations).
 */
import { CREDENTIALS, CREDENTIAL_SECRET_KEYS } from "./support/credentials";
import { loadProgram, type LoadedProgram } from "./support/program";

/** SDK command → IAM action, for every command a function of this program may send. */
const ACTIONS: Record<string, string> = {
    GetCommand: "dynamodb:GetItem",
    PutCommand: "dynamodb:PutItem",
    UpdateCommand: "dynamodb:UpdateItem",
    DeleteCommand: "dynamodb:DeleteItem",
    QueryCommand: "dynamodb:Query",
    ScanCommand: "dynamodb:Scan",
    BatchWriteCommand: "dynamodb:BatchWriteItem",
    UploadDocumentsCommand: "cloudsearch:document",
    SearchCommand: "cloudsearch:search",
    PublishCommand: "sns:Publish",
    CreatePlatformEndpointCommand: "sns:CreatePlatformEndpoint",
    GetEndpointAttributesCommand: "sns:GetEndpointAttributes",
    SetEndpointAttributesCommand: "sns:SetEndpointAttributes",
    DeleteEndpointCommand: "sns:DeleteEndpoint",
    GetObjectCommand: "s3:GetObject",
    // HeadObject is authorized as s3:GetObject (HeadObject, Amazon S3 API reference).
    HeadObjectCommand: "s3:GetObject",
    ListObjectsV2Command: "s3:ListBucket",
    DeleteObjectCommand: "s3:DeleteObject",
    ListObjectVersionsCommand: "s3:ListBucketVersions",
    DeleteIdentitiesCommand: "cognito-identity:DeleteIdentities",
    ListUsersCommand: "cognito-idp:ListUsers",
    AdminDeleteUserCommand: "cognito-idp:AdminDeleteUser",
};

/**
 * A `DeleteObject` that names a `VersionId` is authorized as s3:DeleteObjectVersion instead ("DeleteObject",
 * Amazon S3 API reference: "To remove a specific version, you must use the versionId query parameter … you
 * must have the s3:DeleteObjectVersion permission").
 */
function deleteObjectActions(code: string): string[] {
    const calls = [...code.matchAll(/new (?:[\w$]+\.)?DeleteObjectCommand\(\{([^}]*)\}/g)].map((m) => m[1]);
    return [...new Set(calls.map((args) => (/\bVersionId:/.test(args) ? "s3:DeleteObjectVersion" : "s3:DeleteObject")))];
}

/**
 * Calls that are not SDK commands: a presigned POST is signed with the function's credentials, so the
 * upload it allows needs s3:PutObject on the function's role.
 */
const REQUIRES: Record<string, string> = {
    "@aws-sdk/s3-presigned-post": "s3:PutObject",
};

/** Actions the Lambda service performs with a function's role, not the function's code. */
const SERVICE_ACTIONS = new Set([
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
    "sqs:SendMessage",
    // The runtime sends a traced function's segments, not its code.
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
]);

let program: LoadedProgram;

beforeAll(async () => {
    // With push credentials, so that every statement a role can have is present.
    program = await loadProgram("dev", CREDENTIALS, CREDENTIAL_SECRET_KEYS);
});

test.each(["notes-function", "uploads-function", "search-indexer", "search-function", "notifications-devices", "notifications-sender", "notifications-blocks", "account-deletion"])(
    "%s: its role allows exactly the calls its shipped code makes",
    (name) => {
        const code = program.archives[name].files["__index.js"];
        const commands = new Set([...code.matchAll(/new (?:[\w$]+\.)?([A-Za-z][A-Za-z0-9]*Command)\(/g)].map((m) => m[1]));
        for (const command of commands) expect({ command, known: command in ACTIONS }).toEqual({ command, known: true });
        // Requests the OpenSearch client sends: `.request("POST", ...)` → es:ESHttpPost.
        const methods = [...code.matchAll(/\.request\("(GET|HEAD|POST|PUT|DELETE)"/g)].map(
            (m) => `es:ESHttp${m[1][0]}${m[1].slice(1).toLowerCase()}`,
        );
        const required = Object.entries(REQUIRES).filter(([module]) => code.includes(`require("${module}")`));
        const called = [
            ...[...commands].filter((c) => c !== "DeleteObjectCommand").map((c) => ACTIONS[c]),
            ...deleteObjectActions(code),
            ...methods,
            ...required.map(([, action]) => action),
        ].sort();

        const policy = JSON.parse(program.recorder.one("aws:iam/rolePolicy:RolePolicy", `${name}-policy`).inputs.policy);
        const granted = new Set<string>(policy.Statement.flatMap((s: { Action: string[] }) => s.Action));
        const grantedToCode = [...granted].filter((a) => !SERVICE_ACTIONS.has(a)).sort();
        expect(grantedToCode).toEqual([...new Set(called)].sort());
    },
);
