import type { FunctionArchive, Recorder } from "./mocks";

/** The program run once under mocks for a stage. */
export interface LoadedProgram {
    recorder: Recorder;
    /** Resolved stack outputs. */
    outputs: Record<string, unknown>;
    /** Names of the stack outputs that are secrets. */
    secretOutputs: string[];
    /** Function archives by logical name. */
    archives: Record<string, FunctionArchive>;
}

/**
 * Runs `index.ts` under Pulumi mocks with a stack file's config (plus overrides), in a module
 * registry of its own so that several stages can be loaded by one test file.
 */
export async function loadProgram(
    stage: string,
    overrides: Record<string, unknown> = {},
    /** Keys of `overrides` set as if with `pulumi config set --secret`. */
    secretKeys: string[] = [],
): Promise<LoadedProgram> {
    let loaded: LoadedProgram | undefined;
    await jest.isolateModulesAsync(async () => {
        const mocks = await import("./mocks");
        const recorder = mocks.installMocks(stage, mocks.stackConfig(stage, overrides), secretKeys);
        const program: Record<string, unknown> = await import("../../index");
        const pulumi = await import("@pulumi/pulumi");
        const outputs: Record<string, unknown> = {};
        const secretOutputs: string[] = [];
        for (const [key, value] of Object.entries(program)) {
            outputs[key] = await mocks.valueOf(value);
            if (pulumi.Output.isInstance(value) && (await pulumi.isSecret(value))) secretOutputs.push(key);
        }
        await mocks.settle(recorder);
        loaded = { recorder, outputs, secretOutputs, archives: await mocks.functionArchives(recorder) };
    });
    if (!loaded) throw new Error(`the program did not load for ${stage}`);
    return loaded;
}
