import * as pulumi from "@pulumi/pulumi";

/**
 * A component whose resources a retaining stage keeps on `pulumi destroy` because users' data or identities
 * depend on them (the user pool and its app client, the identity pool, the tables, the uploads bucket).
 */
export interface RetainsResources extends pulumi.ComponentResource {
    /** The resources kept on destroy: direct children of the component. Empty when the stage does not retain. */
    readonly retained: pulumi.CustomResource[];
}

/** One entry of a `pulumi import --file` document (the CLI's `importSpec`). */
export interface ImportSpec {
    type: string;
    name: string;
    id?: string;
    parent?: string;
    component?: boolean;
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
            pulumi.all([component.urn, pulumi.all(component.retained.map((r) => pulumi.all([r.urn, r.id])))]).apply(
                ([componentUrn, kept]): ImportSpec[] => {
                    const parent = parseUrn(componentUrn);
                    return [
                        { type: parent.type, name: parent.name, component: true },
                        ...kept.map(([urn, id]) => ({ ...parseUrn(urn), id, parent: parent.name })),
                    ];
                },
            ),
        );
    return pulumi.all(groups).apply((specs) => ({ resources: specs.flat() }));
}
