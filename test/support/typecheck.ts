import * as path from "node:path";
import * as ts from "typescript";

const ROOT = path.join(__dirname, "..", "..");

/**
 * Type-checks TypeScript (and JavaScript) sources with the compiler API, against the packages installed in this
 * project (their own declaration files), as files under the project root; other entries (JSON) are files the
 * sources may import. Returns each source's errors as `line:column message`, or `[]` when it checks. One
 * compiler program for all the sources.
 */
export function typeErrors(sources: Record<string, string>, options: ts.CompilerOptions = {}): Record<string, string[]> {
    const compilerOptions: ts.CompilerOptions = {
        strict: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
        lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
        types: ["node"],
        esModuleInterop: true,
        resolveJsonModule: true,
        skipLibCheck: true,
        noEmit: true,
        ...options,
    };
    const files = new Map(Object.entries(sources).map(([name, text]) => [path.join(ROOT, name), text]));
    const host = ts.createCompilerHost(compilerOptions);
    const readFile = host.readFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    const getSourceFile = host.getSourceFile.bind(host);
    host.readFile = (file) => files.get(file) ?? readFile(file);
    host.fileExists = (file) => files.has(file) || fileExists(file);
    // The virtual files' folders exist too (module resolution looks for them).
    const directoryExists = host.directoryExists?.bind(host);
    host.directoryExists = (dir) => [...files.keys()].some((f) => f.startsWith(`${dir}${path.sep}`)) || (directoryExists?.(dir) ?? false);
    host.getSourceFile = (file, language, onError, create) =>
        files.has(file) ? ts.createSourceFile(file, files.get(file) as string, language) : getSourceFile(file, language, onError, create);
    // Sources are the roots; other files (JSON a source imports) are only readable.
    const roots = [...files.keys()].filter((file) => /\.[jt]s$/.test(file));
    const program = ts.createProgram(roots, compilerOptions, host);
    const errors: Record<string, string[]> = {};
    for (const file of roots) {
        const source = program.getSourceFile(file);
        const diagnostics = source ? [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)] : [];
        errors[path.relative(ROOT, file)] = diagnostics.map((d) => {
            const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
            const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
            return where ? `${where.line + 1}:${where.character + 1} ${message}` : message;
        });
    }
    return errors;
}
