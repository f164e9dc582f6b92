/**
 * The local account's operator: what the person running a deployed stage is with their own AWS credentials.
 * The tools that look at a backend from outside (`npm run journey -- --local`: listing and removing what a test
 * user left in the uploads bucket) sign with it; the local S3 lets it do anything, as an administrator's policy
 * would. Apps and functions never get it: they have the identity pool's credentials and their roles' own keys.
 */
export const LOCAL_OPERATOR = { accessKeyId: "AKIALOCALOPERATOR000", secretAccessKey: "local-operator-secret" } as const;
