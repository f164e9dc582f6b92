import type { S3AccessRequest } from "../../local/s3";

/** A statement of a role policy as the program renders it (the JSON document the IAM API receives). */
export interface PolicyStatement {
    Effect: string;
    Action: string[];
    Resource: string[];
    Condition?: { StringLike?: Record<string, string> };
}

/**
 * Whether a rendered role policy allows an S3 request: the action, the resource ARN (bucket for list actions,
 * object otherwise; `*` wildcards) and the `s3:prefix` condition. It reads the policy the program ships, not the
 * declarations it was built from, so the shipped-archive tests check what IAM would be given.
 */
export function policyAllows(statements: PolicyStatement[], request: S3AccessRequest): boolean {
    const glob = (pattern: string, value: string) =>
        new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(value);
    const list = request.action === "s3:ListBucket" || request.action === "s3:ListBucketVersions";
    const resource = list ? `arn:aws:s3:::${request.bucket}` : `arn:aws:s3:::${request.bucket}/${request.key}`;
    return statements.some(
        (s) =>
            s.Effect === "Allow" &&
            s.Action.includes(request.action) &&
            s.Resource.some((r) => glob(r, resource)) &&
            Object.entries(s.Condition?.StringLike ?? {}).every(([k, v]) => k === "s3:prefix" && list && glob(v, request.key)),
    );
}
