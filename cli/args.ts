/** A command line the command cannot run with: printed with its usage, exit status 2. */
export class UsageError extends Error {}

/**
 * Walks the `--flag [value]` arguments of a command: `visit` gets each flag, and `value()` takes the argument after
 * it (a missing value, or another flag in its place, is a {@link UsageError}).
 */
function eachFlag(argv: string[], visit: (flag: string, value: () => string) => void): void {
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        visit(flag, () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
            return v;
        });
    }
}

/** The fields of `A` a flag's value can go in as it is (strings). */
type TextField<A> = { [K in keyof A]-?: string extends A[K] ? K : never }[keyof A];
/** The fields of `A` a switch can turn on. */
type SwitchField<A> = { [K in keyof A]-?: A[K] extends boolean | undefined ? (boolean extends A[K] ? K : never) : never }[keyof A];

/**
 * What a flag does: `"field"` stores its value in that field, `{ on: "field" }` (a switch, no value) sets the field
 * to true, and a function does anything else (checks and converts the value, sets several fields).
 */
export type Flag<A> = TextField<A> | { on: SwitchField<A> } | ((args: A, value: () => string, flag: string) => void);

/**
 * Reads a command line into `args` (which holds the defaults) by the table `flags`; any other argument is a
 * {@link UsageError} with `unknown(flag)` as its message.
 */
export function parseFlags<A extends object>(
    argv: string[],
    args: A,
    flags: Record<string, Flag<A>>,
    unknown: (flag: string) => string = (flag) => `unknown argument ${flag}`,
): A {
    eachFlag(argv, (flag, value) => {
        const does = Object.hasOwn(flags, flag) ? flags[flag] : undefined;
        if (does === undefined) throw new UsageError(unknown(flag));
        if (typeof does === "function") does(args, value, flag);
        else if (typeof does === "object") args[does.on] = true as A[SwitchField<A>];
        else args[does] = value() as A[TextField<A>];
    });
    return args;
}

/** A flag's value as a whole number from 1 to `max`, or a {@link UsageError} naming the flag. */
export function wholeNumber(flag: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(max === Number.MAX_SAFE_INTEGER ? `${flag} must be a whole number from 1` : `${flag} must be a whole number from 1 to ${max}`);
    return n;
}

/** Runs a command's `main` with its arguments and exits with the status it answers (1, with the error, if it throws). */
export function runCommand(main: (argv: string[]) => Promise<number>): void {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err: unknown) => {
            console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
            process.exit(1);
        },
    );
}
