/** Push credentials for tests: shaped like real ones (a PEM .p8 key, a service-account JSON), valid for nothing. */
export const APNS_KEY = "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQgLOCALTESTKEY\n-----END PRIVATE KEY-----";
export const FCM_KEY = JSON.stringify({
    type: "service_account",
    project_id: "local-test",
    private_key: "-----BEGIN PRIVATE KEY-----\nLOCALTESTKEY\n-----END PRIVATE KEY-----\n",
    client_email: "push@local-test.iam.gserviceaccount.com",
});

/** Stack config overrides that configure both APNs (sandbox) and FCM. */
export const CREDENTIALS = {
    "mobile-backend:apnsSigningKey": APNS_KEY,
    "mobile-backend:fcmServiceAccount": FCM_KEY,
    "mobile-backend:notifications": {
        apns: { keyId: "ABC123DEFG", teamId: "TEAM123456", bundleId: "com.example.notes", sandbox: true },
    },
};

/** The keys of {@link CREDENTIALS} that `pulumi config set --secret` would have stored as secrets. */
export const CREDENTIAL_SECRET_KEYS = ["mobile-backend:apnsSigningKey", "mobile-backend:fcmServiceAccount"];
