// Lets plain `node` load this project's TypeScript (for `npm run bench`): transpile-only, like the
// Pulumi CLI's own loader; type checking is `tsc --noEmit`.
"use strict";
const fs = require("node:fs");
const ts = require("typescript");

require.extensions[".ts"] = (module, filename) => {
    const { outputText } = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
        fileName: filename,
        compilerOptions: {
            module: ts.ModuleKind.CommonJS,
            target: ts.ScriptTarget.ES2022,
            esModuleInterop: true,
            resolveJsonModule: true,
        },
    });
    module._compile(outputText, filename);
};
