/** The CloudFront URL of an uploaded object: the base URL and the key, each path segment percent-encoded. */
export function mediaUrl(baseUrl: string, key: string): string {
    return `${baseUrl.replace(/\/+$/, "")}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** Where a user's uploads live in the bucket: the uploads function creates keys only there. */
export function uploadPrefix(identityId: string): string {
    return `uploads/${identityId}/`;
}
