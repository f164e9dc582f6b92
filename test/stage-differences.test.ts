/**
 * What prod has that dev does not, under mocks: what prod keeps on `pulumi destroy`, the `pulumi import --file`
 * document (stack output `adoptAfterDestroy`) that brings those resources back under the same URNs, and the
 * web ACL on the API stage.
 */
import type { ImportFile } from "../infra/adopt";
import { COUNTED_CORE_RULES } from "../infra/firewall";
import { dependencies } from "../package.json";
import { PROJECT } from "./support/mocks";
import { loadProgram, type LoadedProgram } from "./support/program";

let dev: LoadedProgram;
let prod: LoadedProgram;

beforeAll(async () => {
    [dev, prod] = [await loadProgram("dev"), await loadProgram("prod")];
});

/** What users' data and identities depend on: their ids are in apps and in every item and object key. */
const KEPT = [
    ["aws:cognito/userPool:UserPool", "identity-users", "identity"],
    ["aws:cognito/userPoolClient:UserPoolClient", "identity-app", "identity"],
    ["aws:cognito/identityPool:IdentityPool", "identity-identities", "identity"],
    ["aws:dynamodb/table:Table", "data-notes", "data"],
    ["aws:dynamodb/table:Table", "notifications-devices", "notifications"],
    ["aws:dynamodb/table:Table", "notifications-blocks", "notifications"],
    ["aws:s3/bucket:Bucket", "media-uploads", "media"],
];

/** Bucket settings kept with the bucket: creating them again on an existing bucket is a plain PUT. */
const REAPPLIED_ON_CREATE = [
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
];

/** The account-wide API Gateway logging setting and its role: kept by every stage, so no destroy resets it. */
const ACCOUNT_LEVEL = [
    ["aws:apigateway/account:Account", "api-account"],
    ["aws:iam/role:Role", "api-cloudwatch"],
    ["aws:iam/rolePolicyAttachment:RolePolicyAttachment", "api-cloudwatch"],
];

const names = (resources: { type: string; name: string }[]) => resources.map((r) => [r.type, r.name]);

test("prod keeps the identity pool and app client with the user pool, tables and bucket; dev keeps only the account setting", () => {
    for (const [type, name] of KEPT) {
        expect(prod.recorder.one(type, name).retainOnDelete).toBe(true);
        expect(dev.recorder.one(type, name).retainOnDelete).toBe(false);
    }
    const keptByProd = prod.recorder.resources.filter((r) => r.retainOnDelete);
    const unexpected = keptByProd.filter(
        (r) =>
            !KEPT.some(([type, name]) => type === r.type && name === r.name) &&
            !ACCOUNT_LEVEL.some(([type, name]) => type === r.type && name === r.name) &&
            !REAPPLIED_ON_CREATE.includes(r.type),
    );
    expect(names(unexpected)).toEqual([]);
    expect(names(dev.recorder.resources.filter((r) => r.retainOnDelete))).toEqual(expect.arrayContaining(ACCOUNT_LEVEL));
    expect(dev.recorder.resources.filter((r) => r.retainOnDelete)).toHaveLength(ACCOUNT_LEVEL.length);
});

describe("adoptAfterDestroy", () => {
    const file = () => prod.outputs.adoptAfterDestroy as ImportFile;

    /** The URN `pulumi import` gives an entry: its parent's type qualifies its own, as in the CLI's parseImportFile. */
    function importedUrn(spec: ImportFile["resources"][number]): string {
        const parent = spec.parent === undefined ? undefined : file().resources.find((r) => r.name === spec.parent);
        const qualified = parent ? `${parent.type}$${spec.type}` : spec.type;
        return `urn:pulumi:prod::${PROJECT}::${qualified}::${spec.name}`;
    }

    test("names every kept resource with its id, under its component, and nothing else", () => {
        const resources = file().resources.filter((r) => !r.component);
        expect(resources.map((r) => [r.type, r.name, r.parent])).toEqual(expect.arrayContaining(KEPT));
        expect(resources).toHaveLength(KEPT.length);
        // The mocks give every resource the id `<name>-id`. Each entry carries the id its type's import
        // documentation asks for: the provider id, but `<user pool id>/<client id>` for the app client.
        const ids = Object.fromEntries(resources.map((r) => [r.name, r.id]));
        expect(ids).toEqual({
            "identity-users": "identity-users-id",
            "identity-app": "identity-users-id/identity-app-id",
            "identity-identities": "identity-identities-id",
            "data-notes": "data-notes-id",
            "notifications-devices": "notifications-devices-id",
            "notifications-blocks": "notifications-blocks-id",
            "media-uploads": "media-uploads-id",
        });
        // Imported with the provider version the program pins.
        for (const spec of resources) expect(spec.version).toBe(dependencies["@pulumi/aws"]);
    });

    test("every entry, components included, lands on the URN the program declares", () => {
        const names = file().resources.map((r) => r.name);
        expect(new Set(names).size).toBe(names.length);
        for (const spec of file().resources) {
            const declared = prod.recorder.byUrn(importedUrn(spec));
            expect(declared).toMatchObject({ type: spec.type, name: spec.name });
            if (spec.component) {
                expect(spec.id).toBeUndefined();
                expect(declared?.type).toMatch(/^mobile-backend:index:/);
            } else {
                expect(prod.recorder.byUrn(declared?.parent ?? "")?.name).toBe(spec.parent);
            }
        }
    });

    test("is an output of retaining stages only", () => {
        expect(prod.outputs).toHaveProperty("adoptAfterDestroy");
        expect(dev.outputs.adoptAfterDestroy).toBeUndefined();
    });
});

describe("the web ACL", () => {
    test("prod's API stage has one: a 429 rate limit per IP in the API's error shape, then the AWS core rules", () => {
        const acl = prod.recorder.one("aws:wafv2/webAcl:WebAcl");
        expect(acl.inputs).toMatchObject({ scope: "REGIONAL", defaultAction: { allow: {} } });
        const [rate, core] = acl.inputs.rules;
        expect(rate).toMatchObject({
            priority: 0,
            statement: { rateBasedStatement: { aggregateKeyType: "IP", limit: 2000, evaluationWindowSec: 300 } },
            action: { block: { customResponse: { responseCode: 429, responseHeaders: [{ name: "Retry-After", value: "60" }] } } },
        });
        const bodyKey = rate.action.block.customResponse.customResponseBodyKey;
        const body = acl.inputs.customResponseBodies.find((b: { key: string }) => b.key === bodyKey);
        expect(body.contentType).toBe("APPLICATION_JSON");
        expect(JSON.parse(body.content)).toEqual({
            success: false,
            error: { code: "TooManyRequests", message: expect.stringContaining("Too many requests") },
        });
        expect(core).toMatchObject({
            priority: 1,
            overrideAction: { none: {} },
            statement: { managedRuleGroupStatement: { vendorName: "AWS", name: "AWSManagedRulesCommonRuleSet" } },
        });
        // Free-text bodies and queries are counted, not blocked: a 64 KiB note is valid, the rule blocks over 8 KB.
        const overrides = core.statement.managedRuleGroupStatement.ruleActionOverrides;
        expect(overrides).toEqual(COUNTED_CORE_RULES.map((name) => ({ name, actionToUse: { count: {} } })));
        expect(overrides.map((o: { name: string }) => o.name)).toContain("SizeRestrictions_BODY");
        for (const visibility of [acl.inputs.visibilityConfig, rate.visibilityConfig, core.visibilityConfig]) {
            expect(visibility).toMatchObject({ cloudwatchMetricsEnabled: true, sampledRequestsEnabled: true });
        }
    });

    test("it is associated with prod's API stage", () => {
        const association = prod.recorder.one("aws:wafv2/webAclAssociation:WebAclAssociation");
        const stage = prod.recorder.one("aws:apigateway/stage:Stage");
        expect(association.inputs.resourceArn).toBe(`arn:aws:apigateway:us-east-1::/restapis/${stage.inputs.restApi}/stages/prod`);
        expect(association.inputs.webAclArn).toMatch(/^arn:aws:wafv2:/);
        expect(prod.recorder.byUrn(association.parent)?.type).toBe("mobile-backend:index:Firewall");
    });

    test("dev has none", () => {
        expect(dev.recorder.all("aws:wafv2/webAcl:WebAcl")).toEqual([]);
        expect(dev.recorder.all("aws:wafv2/webAclAssociation:WebAclAssociation")).toEqual([]);
    });
});
