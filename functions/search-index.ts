import { createHash } from "node:crypto";

/** A CloudSearch index field, in the shape of the CloudSearch configuration API and `aws.cloudsearch.Domain`. */
export interface SearchIndexField {
    name: string;
    type: "text" | "literal" | "date";
    search?: boolean;
    return?: boolean;
    sort?: boolean;
    facet?: boolean;
    highlight?: boolean;
    analysisScheme?: string;
}

/**
 * The fields of a note's search document. The domain is created with exactly these (or they are
 * defined on an existing domain); the indexer fills them and the search function reads them.
 */
export const SEARCH_INDEX_FIELDS: readonly SearchIndexField[] = [
    { name: "headline", type: "text", return: true, analysisScheme: "_en_default_" },
    { name: "note_text", type: "text", return: true, analysisScheme: "_en_default_" },
    { name: "user_id", type: "literal", search: true, return: true },
    { name: "s3_url", type: "literal", return: true },
    { name: "created_at", type: "date", sort: true, return: true },
];

/** The fields of a search document, as the indexer sends them. */
export interface SearchDocumentFields {
    headline: string;
    note_text: string;
    user_id: string;
    /** CloudFront URL of the note's media; absent when the note has none. */
    s3_url?: string;
    /** ISO 8601 UTC creation time; absent for an item without one. */
    created_at?: string;
}

/** CloudSearch document ids: 1–128 characters from this set. */
const DOCUMENT_ID = /^[A-Za-z0-9_\-=#;:/?@&]{1,128}$/;

/**
 * The search document id of a note: `<ownerId>/<noteId>` when that is a valid CloudSearch id (always,
 * for ids the API accepts), else a hash of both that stays stable for the same note.
 */
export function documentId(ownerId: string, noteId: string): string {
    const readable = `${ownerId}/${noteId}`;
    if (DOCUMENT_ID.test(readable)) return readable;
    return `h/${createHash("sha256").update(ownerId).update("\u0000").update(noteId).digest("hex")}`;
}

/** The note id of a document id made by {@link documentId} for `ownerId`, if it is a readable one. */
export function noteIdOf(ownerId: string, id: string): string | undefined {
    const prefix = `${ownerId}/`;
    return id.startsWith(prefix) && id.length > prefix.length ? id.slice(prefix.length) : undefined;
}
