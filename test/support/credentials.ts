/** Push credentials for tests: shaped like real ones (a PEM .p8 key, a service-account JSON), valid for nothing. */
export const APNS_KEY = "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQgLOCALTESTKEY\n-----END PRIVATE KEY-----";
export const FCM_KEY = JSON.stringify({
    type: "service_account",
    project_id: "local-test",
    private_key: "-----BEGIN PRIVATE KEY-----\nLOCALTESTKEY\n-----END PRIVATE KEY-----\n",
    client_email: "push@local-test.iam.gserviceaccount.com",
});

/**
 * Stack config overrides that configure both APNs (sandbox) and FCM, as `pulumi config set --path` stores
 * them: the credentials inside the `notifications` object.
 */
export const CREDENTIALS = {
    "mobile-backend:notifications": {
        apns: { signingKey: APNS_KEY, keyId: "ABC123DEFG", teamId: "TEAM123456", bundleId: "com.example.notes", sandbox: true },
        fcm: { serviceAccount: FCM_KEY },
    },
};

/**
 * The keys of {@link CREDENTIALS} that Pulumi reports as secret: a top-level key is secret when a value
 * inside it was set with `--secret`.
 */
export const CREDENTIAL_SECRET_KEYS = ["mobile-backend:notifications"];
