/**
 * Retaining stages: what prod keeps on `pulumi destroy`, and the `pulumi import --file` document (stack output
 * `adoptAfterDestroy`) that brings those resources back under the same URNs, checked against the resources
 * the program registers under mocks.
 */
import type { ImportFile } from "../infra/adopt";
import { PROJECT } from "./support/mocks";
import { loadProgram, type LoadedProgram } from "./support/program";

let dev: LoadedProgram;
let prod: LoadedProgram;

beforeAll(async () => {
    [dev, prod] = [await loadProgram("dev"), await loadProgram("prod")];
}, 300_000);

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

test("prod keeps the identity pool and app client with the user pool, tables and bucket; dev keeps nothing", () => {
    for (const [type, name] of KEPT) {
        expect(prod.recorder.one(type, name).retainOnDelete).toBe(true);
        expect(dev.recorder.one(type, name).retainOnDelete).toBe(false);
    }
    const keptByProd = prod.recorder.resources.filter((r) => r.retainOnDelete);
    for (const resource of keptByProd) {
        const isKept = KEPT.some(([type, name]) => type === resource.type && name === resource.name);
        expect(isKept || REAPPLIED_ON_CREATE.includes(resource.type)).toBe(true);
    }
    expect(dev.recorder.resources.filter((r) => r.retainOnDelete)).toEqual([]);
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
        for (const spec of resources) {
            // The mocks give every resource the id `<name>-id`: the file carries the real ids.
            expect(spec.id).toBe(`${spec.name}-id`);
        }
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
