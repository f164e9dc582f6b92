/**
 * `npm run journey -- --local`, whole: a local backend started here (`startBackend` of local/backend.ts on
 * ephemeral ports, in a temporary data dir), the client config it writes read as the command reads it, and the
 * journey of cli/journey.ts with the app's client libraries. Every step must pass (none skipped: the dev stack
 * file turns every feature on) and the cleanup must remove everything the journey created.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CognitoIdentityClient, DescribeIdentityCommand } from "@aws-sdk/client-cognito-identity";
import { CognitoIdentityProviderClient, ListUsersCommand } from "@aws-sdk/client-cognito-identity-provider";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { runJourney, type JourneyResult } from "../cli/journey";
import { localTarget, readLocalClientConfig } from "../cli/journey-targets";
import { startBackend, type LocalBackend } from "../local/backend";
import { operatorCredentials } from "../local/operator";

describe("npm run journey -- --local", () => {
    let dataDir: string;
    let backend: LocalBackend | undefined;
    const lines: string[] = [];
    const backendLog: string[] = [];
    let result: JourneyResult;

    beforeAll(async () => {
        dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "journey-"));
        backend = await startBackend({ dataDir, hotReload: false, asyncRetryDelaysMs: [200, 400], log: (line) => backendLog.push(line) });
        const target = localTarget(readLocalClientConfig(dataDir), operatorCredentials(dataDir), "the local backend (test)");
        try {
            result = await runJourney(target, {
                log: (line) => lines.push(line),
                timeouts: { search: 30_000, notification: 30_000, deletion: 60_000 },
            });
        } finally {
            target.close();
        }
    }, 240_000);

    afterAll(async () => {
        await backend?.stop();
        if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("passes every step, with the real client libraries against the local services", () => {
        const failed = result.steps.filter((s) => s.status !== "passed");
        if (failed.length > 0) {
            // The journey's own lines and the backend's last lines say why.
            throw new Error(`${failed.map((s) => `${s.name}: ${s.status} ${s.detail ?? ""}`).join("\n")}\n\n${lines.join("\n")}\n\n${backendLog.slice(-40).join("\n")}`);
        }
        expect(result.steps.map((s) => s.name)).toEqual([
            "alice signs up",
            "bob signs up",
            "alice signs in (SRP)",
            "bob signs in (SRP)",
            "alice gets identity credentials",
            "bob gets identity credentials",
            "watch bob's notifications",
            "a guest gets credentials and calls the API",
            "alice uploads a photo (POST /uploads, presigned POST)",
            "the photo reads back through the media URL",
            "alice creates a note with the photo",
            "alice creates a second note",
            "alice lists her notes",
            "alice reads a note",
            "the notes become searchable",
            "alice updates the note",
            "the edit reaches the index",
            "alice deletes the second note",
            "the delete reaches the index",
            "bob registers a device",
            "alice sends bob a notification",
            "it arrives",
            "bob blocks alice",
            "a block stops it",
            "bob writes a note with a photo",
            "bob deletes his account (DELETE /me)",
            "bob's data is gone",
            "alice's data is intact",
            "the blocked notification never arrived",
        ]);
        expect(result.ok).toBe(true);
    });

    it("prints each step with its time", () => {
        expect(lines.filter((l) => l.startsWith("✓ "))).toHaveLength(result.steps.length);
        for (const line of lines.filter((l) => l.startsWith("✓ "))) expect(line).toMatch(/^✓ .+ \(\d+ ms\)/);
    });

    it("removes what it created: alice's note and photo, the guest's and alice's identities, alice's user", () => {
        expect(result.cleanup.every((s) => s.status === "passed")).toBe(true);
        expect(result.cleanup.map((s) => s.name)).toEqual([
            expect.stringMatching(/^remove alice's note /),
            "remove alice's upload",
            "stop watching the device inbox",
            expect.stringMatching(/^remove the upload versions of /),
            expect.stringMatching(/^remove identity /),
            expect.stringMatching(/^remove the upload versions of /),
            expect.stringMatching(/^remove identity /),
            expect.stringMatching(/^remove user alice /),
        ]);
    });

    it("leaves nothing behind: no note, device or block, no user, the identities gone, no upload", async () => {
        const config = readLocalClientConfig(dataDir);
        const local = { region: config.region, credentials: { accessKeyId: "check", secretAccessKey: "check" } };
        const db = new DynamoDBClient({ ...local, endpoint: config.endpoints.dynamodb });
        const idp = new CognitoIdentityProviderClient({ ...local, endpoint: config.endpoints.cognitoIdentityProvider });
        const identities = new CognitoIdentityClient({ ...local, endpoint: config.endpoints.cognitoIdentity });
        try {
            for (const table of [config.tables!.notes!, config.tables!.devices!, config.tables!.blocks!]) {
                expect([table, (await db.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Count]).toEqual([table, 0]);
            }
            expect((await idp.send(new ListUsersCommand({ UserPoolId: config.userPoolId }))).Users).toEqual([]);
            const removed = result.cleanup.map((s) => /^remove identity (\S+)$/.exec(s.name)?.[1]).filter((id): id is string => id !== undefined);
            expect(removed).toHaveLength(2);
            for (const identityId of removed) {
                await expect(identities.send(new DescribeIdentityCommand({ IdentityId: identityId }))).rejects.toMatchObject({ name: "ResourceNotFoundException" });
            }
            // The local S3 keeps every version in the data dir (local/s3.ts): none is left.
            const versions = JSON.parse(fs.readFileSync(path.join(dataDir, "s3", config.uploadsBucket, "versions.json"), "utf8")) as unknown[];
            expect(versions).toEqual([]);
        } finally {
            for (const client of [db, idp, identities]) client.destroy();
        }
    });
});
