/**
 * Text hygiene for user-supplied strings: pure checks, shared by every function that stores or forwards
 * text a user wrote. Each answers a phrase that completes "<field> …" (without the field name and the final
 * full stop), or `undefined` when the text is acceptable. Positions count Unicode code points from 1.
 *
 * - {@link textProblem}: every stored or forwarded string. Refuses C0 and C1 control characters (general
 *   category Cc: U+0000–U+001F, U+007F–U+009F) other than tab, line feed and carriage return; lone surrogates
 *   (a string that cannot be encoded as UTF-8); and Unicode noncharacters (U+FDD0–U+FDEF and the last two
 *   code points of every plane, U+xFFFE and U+xFFFF: "permanently reserved for internal use", Unicode
 *   Standard §23.7 "Noncharacters").
 * - {@link displayTextProblem}: text a device shows to someone else (a notification's title and message).
 *   Also refuses the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069: the
 *   "Trojan Source" characters, CVE-2021-42574) and text with nothing visible in it (only spaces,
 *   zero-width or other default-ignorable characters, combining marks, U+2800 BRAILLE PATTERN BLANK).
 *   The directional marks U+200E, U+200F and U+061C stay allowed: they change no character's direction
 *   beyond their own position, and right-to-left text needs them.
 */

/** Characters refused in every user-supplied string: see the module comment. */
const FORBIDDEN = /[\p{Cc}\p{Cs}\uFDD0-\uFDEF]/u;

/** Bidirectional embeddings, overrides (U+202A–U+202E) and isolates (U+2066–U+2069). */
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/u;

/**
 * Code points that show nothing by themselves: white space, format characters (Cf, which includes the
 * zero-width space U+200B and joiners), default-ignorable code points (Hangul fillers, variation selectors),
 * combining marks, unassigned code points, and the blank Braille pattern.
 */
const INVISIBLE = /^[\p{White_Space}\p{Cf}\p{Default_Ignorable_Code_Point}\p{M}\p{Cn}\u2800]$/u;

/** Why `value` may not be stored or forwarded, or `undefined`. */
export function textProblem(value: string): string | undefined {
    let position = 0;
    for (const char of value) {
        position += 1;
        const codePoint = char.codePointAt(0) ?? 0;
        if (char === "\t" || char === "\n" || char === "\r") continue;
        if (FORBIDDEN.test(char)) {
            if (codePoint >= 0xd800 && codePoint <= 0xdfff) {
                return `must not contain a lone surrogate (${codePointName(codePoint)} at position ${position})`;
            }
            if (codePoint >= 0xfdd0 && codePoint <= 0xfdef) return noncharacter(codePoint, position);
            return `must not contain the control character ${codePointName(codePoint)} (at position ${position})`;
        }
        if ((codePoint & 0xfffe) === 0xfffe) return noncharacter(codePoint, position);
    }
    return undefined;
}

/** Why `value` may not be shown on someone else's device, or `undefined`. */
export function displayTextProblem(value: string): string | undefined {
    const problem = textProblem(value);
    if (problem !== undefined) return problem;
    let position = 0;
    let visible = false;
    for (const char of value) {
        position += 1;
        if (BIDI_CONTROL.test(char)) {
            const codePoint = char.codePointAt(0) ?? 0;
            return `must not contain the bidirectional formatting character ${codePointName(codePoint)} (at position ${position})`;
        }
        if (!INVISIBLE.test(char)) visible = true;
    }
    return visible ? undefined : "must contain a visible character";
}

/** `"<field> <problem>."` for the first problem of `value`, or `undefined`. */
export function fieldTextProblem(field: string, value: string, kind: "text" | "display" = "text"): string | undefined {
    const problem = kind === "display" ? displayTextProblem(value) : textProblem(value);
    return problem === undefined ? undefined : `${field} ${problem}.`;
}

/** `U+200B`: at least four hex digits, as the Unicode Standard writes code points. */
function codePointName(codePoint: number): string {
    return `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
}

function noncharacter(codePoint: number, position: number): string {
    return `must not contain the noncharacter ${codePointName(codePoint)} (at position ${position})`;
}
