/**
 * The local account's operator: what the person running a deployed stage is with their own AWS credentials.
 * The tools that look at a backend from outside (`npm run journey -- --local`: listing and removing what a test
 * user left in the uploads bucket) sign with it; the local S3 lets it do anything, as an administrator's policy
 * would. Apps and functions never get it: they have the identity pool's credentials and their roles' own keys.
 *
 * Its secret is made at random for each data dir, at the first start (`<dataDir>/operator.json`, readable by
 * its owner only), so that nothing else on the machine (a web page that the S3 endpoint's CORS rules would let
 * send requests, say) can know it.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export interface OperatorCredentials {
    accessKeyId: string;
    secretAccessKey: string;
}

/** `<dataDir>/operator.json`. */
export function operatorFile(dataDir: string): string {
    return path.join(dataDir, "operator.json");
}

/** The operator's credentials of a data dir; with `create`, made there first when missing. */
export function operatorCredentials(dataDir: string, create = false): OperatorCredentials {
    const file = operatorFile(dataDir);
    if (!fs.existsSync(file)) {
        if (!create) throw new Error(`${file} does not exist: start the local backend first (npm start -- --data ${dataDir})`);
        const made: OperatorCredentials = {
            accessKeyId: `AKIALOCALOP${randomBytes(5).toString("hex").toUpperCase().slice(0, 9)}`,
            secretAccessKey: randomBytes(30).toString("base64"),
        };
        fs.writeFileSync(file, JSON.stringify(made, null, 2), { mode: 0o600 });
        return made;
    }
    return JSON.parse(fs.readFileSync(file, "utf8")) as OperatorCredentials;
}
