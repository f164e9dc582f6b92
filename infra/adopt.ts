import * as pulumi from "@pulumi/pulumi";
import { dependencies } from "../package.json";

/** A resource a retaining stage keeps, and the id `pulumi import` takes for its type. */
export interface RetainedResource {
    resource: pulumi.CustomResource;
    /**
     * The import id, as the type's "Import" documentation gives it: usually the provider id, but for example
     * `<user pool id>/<client id>` for a user pool client.
     */
    importId: pulumi.Input<string>;
}

/** A kept resource whose import id is its provider id. */
export function kept(resource: pulumi.CustomResource, importId: pulumi.Input<string> = resource.id): RetainedResource {
    return { resource, importId };
}

/**
 * A component whose resources a retaining stage keeps on `pulumi destroy` because users' data or identities
 * depend on them (the user pool and its app client, the identity pool, the tables, the uploads bucket).
 */
export interface RetainsResources extends pulumi.ComponentResource {
    /** The resources kept on destroy: direct children of the component. Empty when the stage does not retain. */
    readonly retained: RetainedResource[];
}

/** One entry of a `pulumi import --file` document (the CLI's `importSpec`). */
export interface ImportSpec {
    type: string;
    name: string;
    id?: string;
    parent?: string;
    component?: boolean;
    /** The provider plugin version to import with: the program's, not whichever the CLI picks. */
    version?: string;
}

/** A `pulumi import --file` document. */
export interface ImportFile {
    resources: ImportSpec[];
}

/** The type token and name of a resource, read from its URN (`urn:pulumi:<stack>::<project>::<types>::<name>`). */
export function parseUrn(urn: string): { type: string; name: string } {
    const parts = urn.split("::");
    if (parts.length < 4 || !parts[0].startsWith("urn:pulumi:")) throw new Error(`not a Pulumi URN: ${urn}`);
    const qualifiedType = parts[2];
    return { type: qualifiedType.slice(qualifiedType.lastIndexOf("$") + 1), name: parts.slice(3).join("::") };
}

/**
 * The `pulumi import --file` document that brings a retaining stage's kept resources back under the same
 * URNs after `pulumi destroy`: each owning component (created empty by the import, `component: true`), then
 * each kept resource with its id and that component as parent. Built from the resources' own URNs and ids,
 * so it always names what the program declares. Import files may create components and parent resources to
 * them in the same file (Pulumi 3.94+, `pulumi import` reference).
 */
export function adoptionImportFile(components: RetainsResources[]): pulumi.Output<ImportFile> {
    const groups = components
        .filter((component) => component.retained.length > 0)
        .map((component) =>
            pulumi
                .all([component.urn, pulumi.all(component.retained.map((r) => pulumi.all([r.resource.urn, r.importId])))])
                .apply(([componentUrn, resources]): ImportSpec[] => {
                    const parent = parseUrn(componentUrn);
                    return [
                        { type: parent.type, name: parent.name, component: true },
                        ...resources.map(([urn, id]) => {
                            const { type, name } = parseUrn(urn);
                            return { type, name, id, parent: parent.name, ...providerVersion(type) };
                        }),
                    ];
                }),
        );
    return pulumi.all(groups).apply((specs) => ({ resources: specs.flat() }));
}

/** The version of the provider package that declares `type` (`aws:…` → `@pulumi/aws`), as this program pins it. */
function providerVersion(type: string): { version?: string } {
    const pinned: Record<string, string> = dependencies;
    const version = pinned[`@pulumi/${type.split(":")[0]}`];
    return version === undefined ? {} : { version };
}
