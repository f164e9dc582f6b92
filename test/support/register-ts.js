// Lets plain `node` load this project's TypeScript (for `npm run bench`): transpile-only, like the
// Pulumi CLI's own loader, with the compiler options of tsconfig.json; type checking is `tsc --noEmit`.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const ts = require("typescript");

const configFile = path.join(__dirname, "..", "..", "tsconfig.json");
const { config } = ts.readConfigFile(configFile, ts.sys.readFile);
const { options } = ts.parseJsonConfigFileContent(config, ts.sys, path.dirname(configFile));

require.extensions[".ts"] = (module, filename) => {
    const { outputText } = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
        fileName: filename,
        compilerOptions: { ...options, noEmit: false, sourceMap: false },
    });
    module._compile(outputText, filename);
};
