import {
    DefineIndexFieldCommand,
    DescribeDomainsCommand,
    DescribeIndexFieldsCommand,
    IndexDocumentsCommand,
    type CloudSearchClient,
    type IndexField,
} from "@aws-sdk/client-cloudsearch";
import * as pulumi from "@pulumi/pulumi";
import type { SearchIndexField } from "../functions/search-index";

/** What the program learned about, and did to, an existing domain. */
export interface AdoptedSearchDomain {
    arn: string;
    /** Host name of the document (upload) endpoint. */
    documentEndpoint: string;
    /** Host name of the search endpoint. */
    searchEndpoint: string;
    /** Index fields the program defined on the domain (then it started re-indexing). */
    definedFields: string[];
    /** Index fields that already existed as needed and were left alone. */
    verifiedFields: string[];
}

/**
 * Makes an existing CloudSearch domain fit for this program: verifies each needed index field, defines
 * those that are missing (or lack an option the program needs), and starts indexing when it defined any.
 * A field that exists with another type belongs to someone else's schema: that is an error, never
 * overwritten.
 */
export async function adoptSearchDomain(
    client: CloudSearchClient,
    domainName: string,
    fields: readonly SearchIndexField[],
): Promise<AdoptedSearchDomain> {
    const described = await client.send(new DescribeDomainsCommand({ DomainNames: [domainName] }));
    const domain = described.DomainStatusList?.find((d) => d.DomainName === domainName && !d.Deleted);
    if (!domain?.ARN || !domain.DocService?.Endpoint || !domain.SearchService?.Endpoint) {
        throw new Error(
            `mobile-backend:search.domainName names the CloudSearch domain "${domainName}", which does not exist ` +
                "(or has no endpoints yet) in this account and region",
        );
    }
    const existing = await client.send(new DescribeIndexFieldsCommand({ DomainName: domainName }));
    const byName = new Map((existing.IndexFields ?? []).map((f) => [f.Options?.IndexFieldName, f.Options]));
    // Check every field before changing any, so a conflict leaves the domain untouched.
    for (const field of fields) {
        const current = byName.get(field.name);
        if (current && current.IndexFieldType !== field.type) {
            throw new Error(
                `The CloudSearch domain "${domainName}" already has an index field "${field.name}" of type ` +
                    `${current.IndexFieldType}; this program needs type ${field.type}. Rename or remove that field, or use another domain.`,
            );
        }
    }
    const definedFields: string[] = [];
    const verifiedFields: string[] = [];
    for (const field of fields) {
        const current = byName.get(field.name);
        if (current && satisfies(current, field)) {
            verifiedFields.push(field.name);
            continue;
        }
        await client.send(new DefineIndexFieldCommand({ DomainName: domainName, IndexField: toIndexField(field, current) }));
        definedFields.push(field.name);
    }
    if (definedFields.length > 0) {
        await client.send(new IndexDocumentsCommand({ DomainName: domainName }));
    }
    return {
        arn: domain.ARN,
        documentEndpoint: domain.DocService.Endpoint,
        searchEndpoint: domain.SearchService.Endpoint,
        definedFields,
        verifiedFields,
    };
}

/** The options of a field, as the configuration API names them for its type. */
function optionsOf(field: IndexField): Record<string, unknown> {
    return (field.TextOptions ?? field.LiteralOptions ?? field.DateOptions ?? {}) as Record<string, unknown>;
}

/** Whether an existing field has every option the program relies on (CloudSearch enables most by default). */
function satisfies(current: IndexField, field: SearchIndexField): boolean {
    const options = optionsOf(current);
    const needs: [boolean | undefined, string][] = [
        [field.search, "SearchEnabled"],
        [field.return, "ReturnEnabled"],
        [field.sort, "SortEnabled"],
    ];
    return needs.every(([needed, option]) => !needed || options[option] !== false);
}

/** The configuration-API form of a field, keeping options the existing field already had. */
function toIndexField(field: SearchIndexField, current: IndexField | undefined): IndexField {
    const kept = current ? optionsOf(current) : {};
    const options = {
        ...kept,
        ...(field.search === undefined || field.type === "text" ? {} : { SearchEnabled: field.search }),
        ...(field.return === undefined ? {} : { ReturnEnabled: field.return }),
        ...(field.sort === undefined ? {} : { SortEnabled: field.sort }),
        ...(field.analysisScheme === undefined ? {} : { AnalysisScheme: field.analysisScheme }),
    };
    const base: IndexField = { IndexFieldName: field.name, IndexFieldType: field.type };
    if (field.type === "text") return { ...base, TextOptions: options };
    if (field.type === "literal") return { ...base, LiteralOptions: options };
    return { ...base, DateOptions: options };
}

interface ExistingSearchDomainInputs {
    domainName: string;
    region: string;
    fields: SearchIndexField[];
}

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: ExistingSearchDomainInputs) {
        return { id: inputs.domainName, outs: { ...inputs, ...(await adopt(inputs)) } };
    },
    async update(_id: string, _olds: ExistingSearchDomainInputs, news: ExistingSearchDomainInputs) {
        return { outs: { ...news, ...(await adopt(news)) } };
    },
    async diff(_id: string, olds: ExistingSearchDomainInputs, news: ExistingSearchDomainInputs) {
        const replaces = olds.domainName !== news.domainName || olds.region !== news.region ? ["domainName"] : [];
        const changes = replaces.length > 0 || JSON.stringify(olds.fields) !== JSON.stringify(news.fields);
        return { changes, replaces, deleteBeforeReplace: false };
    },
    // The domain, its fields and its documents are the account's: destroying the stack leaves them.
    async delete() {},
};

async function adopt(inputs: ExistingSearchDomainInputs): Promise<AdoptedSearchDomain> {
    const { CloudSearchClient } = require("@aws-sdk/client-cloudsearch");
    const client: CloudSearchClient = new CloudSearchClient({ region: inputs.region });
    try {
        return await adoptSearchDomain(client, inputs.domainName, inputs.fields);
    } finally {
        client.destroy();
    }
}

/**
 * An existing CloudSearch domain this stack uses but does not own (`search.domainName`). Deploying
 * defines or verifies the index fields (outputs `definedFields` / `verifiedFields` say which);
 * destroying the stack leaves the domain as it is.
 */
export class ExistingSearchDomain extends pulumi.dynamic.Resource {
    // `declare`: the outputs are set by the base constructor; a class field would reset them to undefined.
    declare public readonly arn: pulumi.Output<string>;
    declare public readonly documentEndpoint: pulumi.Output<string>;
    declare public readonly searchEndpoint: pulumi.Output<string>;
    declare public readonly definedFields: pulumi.Output<string[]>;
    declare public readonly verifiedFields: pulumi.Output<string[]>;

    constructor(
        name: string,
        args: { domainName: string; region: string; fields: readonly SearchIndexField[] },
        opts?: pulumi.CustomResourceOptions,
    ) {
        super(
            provider,
            name,
            {
                domainName: args.domainName,
                region: args.region,
                fields: [...args.fields],
                arn: undefined,
                documentEndpoint: undefined,
                searchEndpoint: undefined,
                definedFields: undefined,
                verifiedFields: undefined,
            },
            opts,
        );
    }
}
