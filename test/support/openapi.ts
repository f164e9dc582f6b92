import { execFile } from "node:child_process";

/**
 * Validates an OpenAPI document with @apidevtools/swagger-parser (its schema validation and spec checks).
 * It runs in a child Node process: the parser loads ES modules, which Node's own `require` handles and
 * Jest's module registry does not. Resolves with the problems swagger-parser names, or `[]`.
 */
export function openApiProblems(document: unknown): Promise<string[]> {
    const script = `
        const SwaggerParser = require("@apidevtools/swagger-parser");
        let text = "";
        process.stdin.on("data", (d) => (text += d)).on("end", () =>
            SwaggerParser.validate(JSON.parse(text)).then(
                () => process.stdout.write("[]"),
                (e) => process.stdout.write(JSON.stringify(String(e.message).split("\\n").map((l) => l.trim()).filter(Boolean))),
            ),
        );`;
    return new Promise((resolve, reject) => {
        const child = execFile(process.execPath, ["-e", script], { cwd: process.cwd() }, (error, stdout, stderr) => {
            if (error) reject(new Error(`swagger-parser did not run: ${stderr || error.message}`));
            else resolve(JSON.parse(stdout) as string[]);
        });
        child.stdin?.end(JSON.stringify(document));
    });
}
