/** A command line the command cannot run with: printed with its usage, exit status 2. */
export class UsageError extends Error {}

/**
 * Walks the `--flag [value]` arguments of a command: `visit` gets each flag, and `value()` takes the argument after
 * it (a missing value, or another flag in its place, is a {@link UsageError}).
 */
export function eachFlag(argv: string[], visit: (flag: string, value: () => string) => void): void {
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        visit(flag, () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
            return v;
        });
    }
}
