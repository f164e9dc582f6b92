// Lets plain `node` load this project's TypeScript (`npm start`, and each local function's worker):
// transpile-only, like the Pulumi CLI's own loader, with the compiler options of tsconfig.json (type checking
// is `tsc --noEmit`). Transpiled files are cached on disk by path and content, so a process loads the
// compiler only for a file it has not seen: a worker starts without it.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const CACHE = path.join(os.tmpdir(), "mobile-backend-ts-cache");
let compiler;

function compile(filename, source) {
    const key = crypto.createHash("sha1").update(filename).update("\0").update(source).digest("hex");
    const cached = path.join(CACHE, `${key}.js`);
    try {
        return fs.readFileSync(cached, "utf8");
    } catch {
        // not cached yet
    }
    if (!compiler) {
        const ts = require("typescript");
        const configFile = path.join(ROOT, "tsconfig.json");
        const { config } = ts.readConfigFile(configFile, ts.sys.readFile);
        const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
        compiler = { ts, options: { ...options, noEmit: false, sourceMap: false } };
    }
    const { outputText } = compiler.ts.transpileModule(source, { fileName: filename, compilerOptions: compiler.options });
    fs.mkdirSync(CACHE, { recursive: true });
    const temp = `${cached}.${process.pid}.${crypto.randomBytes(4).toString("hex")}`;
    fs.writeFileSync(temp, outputText);
    fs.renameSync(temp, cached);
    return outputText;
}

require.extensions[".ts"] = (module, filename) => {
    module._compile(compile(filename, fs.readFileSync(filename, "utf8")), filename);
};
