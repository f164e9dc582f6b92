/** Text hygiene (`functions/text.ts`): what every user-supplied string, and text shown to others, may contain. */
import { displayTextProblem, fieldTextProblem, textProblem } from "../functions/text";

describe("textProblem", () => {
    it.each([
        ["plain ASCII", "Lunch at noon?"],
        ["tab, newline and carriage return", "a\tb\nc\r\nd"],
        ["accents, CJK and emoji (surrogate pairs)", "Café 通知 😀👍🏽 👨‍👩‍👧"],
        ["right-to-left text with a right-to-left mark", "שלום\u200F עולם"],
        ["the last character before the noncharacters", "\uFDCF\uFDF0\uFFFD"],
        ["a supplementary character that is not a noncharacter", "\u{1FFFD}\u{10FFFD}"],
        ["an empty string", ""],
        // Display rules are not applied here: a data value may be anything printable or invisible.
        ["a zero-width space alone", "\u200B"],
        ["a bidirectional override", "\u202Eabc"],
    ])("accepts %s", (_case, value) => {
        expect(textProblem(value)).toBeUndefined();
    });

    it.each([
        ["NUL", "a\u0000b", "must not contain the control character U+0000 (at position 2)"],
        ["BEL", "\u0007", "must not contain the control character U+0007 (at position 1)"],
        ["ESC (terminal escapes)", "x\u001B[31m", "must not contain the control character U+001B (at position 2)"],
        ["DEL", "\u007F", "must not contain the control character U+007F (at position 1)"],
        ["a C1 control (NEL)", "a\u0085", "must not contain the control character U+0085 (at position 2)"],
        ["the last C1 control", "\u009F", "must not contain the control character U+009F (at position 1)"],
        ["a lone high surrogate", "ok\uD83D", "must not contain a lone surrogate (U+D83D at position 3)"],
        ["a lone low surrogate", "\uDE00ok", "must not contain a lone surrogate (U+DE00 at position 1)"],
        ["a reversed surrogate pair", "\uDE00\uD83D", "must not contain a lone surrogate (U+DE00 at position 1)"],
        ["U+FDD0", "\uFDD0", "must not contain the noncharacter U+FDD0 (at position 1)"],
        ["U+FDEF", "a\uFDEF", "must not contain the noncharacter U+FDEF (at position 2)"],
        ["U+FFFE", "\uFFFE", "must not contain the noncharacter U+FFFE (at position 1)"],
        ["U+FFFF", "\uFFFF", "must not contain the noncharacter U+FFFF (at position 1)"],
        ["U+1FFFE", "😀\u{1FFFE}", "must not contain the noncharacter U+1FFFE (at position 2)"],
        ["U+10FFFF", "\u{10FFFF}", "must not contain the noncharacter U+10FFFF (at position 1)"],
    ])("refuses %s, naming the code point and where it is", (_case, value, problem) => {
        expect(textProblem(value)).toBe(problem);
    });

    it("counts positions in code points, so an emoji before the problem counts once", () => {
        expect(textProblem("😀😀\u0001")).toBe("must not contain the control character U+0001 (at position 3)");
    });
});

describe("displayTextProblem", () => {
    it.each([
        ["plain text", "Hello"],
        ["one visible character among spaces", "   .   "],
        ["right-to-left text", "مرحبا"],
        ["Arabic with the Arabic letter mark", "\u061Cمرحبا"],
        ["a lone emoji", "👍"],
        ["text with a zero-width joiner inside", "👨‍👩‍👧"],
        ["a private-use character (an app's icon font)", "\uE000"],
    ])("accepts %s", (_case, value) => {
        expect(displayTextProblem(value)).toBeUndefined();
    });

    it.each([
        ["LRE", "\u202A"],
        ["RLE", "\u202B"],
        ["PDF", "\u202C"],
        ["LRO", "\u202D"],
        ["RLO (the right-to-left override)", "\u202E"],
        ["LRI", "\u2066"],
        ["RLI", "\u2067"],
        ["FSI", "\u2068"],
        ["PDI", "\u2069"],
    ])("refuses the bidirectional formatting character %s", (_case, char) => {
        const codePoint = `U+${char.codePointAt(0)?.toString(16).toUpperCase()}`;
        expect(displayTextProblem(`invoice${char}fdp.exe`)).toBe(
            `must not contain the bidirectional formatting character ${codePoint} (at position 8)`,
        );
    });

    it.each([
        ["a zero-width space", "\u200B"],
        ["zero-width spaces, joiners and a word joiner", "\u200B\u200C\u200D\u2060"],
        ["spaces of every width", " \u00A0\u2003\u3000"],
        ["the Hangul filler", "\u3164"],
        ["a byte-order mark", "\uFEFF"],
        ["a variation selector", "\uFE0F"],
        ["a combining mark with nothing to combine with", "\u0301\u0301"],
        ["the blank Braille pattern", "\u2800"],
        ["line breaks only", "\n\r\n\t"],
    ])("refuses %s: nothing visible", (_case, value) => {
        expect(displayTextProblem(value)).toBe("must contain a visible character");
    });

    it("reports a control character before anything else", () => {
        expect(displayTextProblem("\u200B\u0000")).toBe("must not contain the control character U+0000 (at position 2)");
    });
});

describe("fieldTextProblem", () => {
    it("names the field and ends the sentence", () => {
        expect(fieldTextProblem("message", "\u200B", "display")).toBe("message must contain a visible character.");
        expect(fieldTextProblem("data.noteId", "a\u0000")).toBe(
            "data.noteId must not contain the control character U+0000 (at position 2).",
        );
    });

    it("applies the display rules only when asked", () => {
        expect(fieldTextProblem("data.k", "\u202E")).toBeUndefined();
        expect(fieldTextProblem("title", "\u202E", "display")).toMatch(/^title must not contain the bidirectional/);
        expect(fieldTextProblem("title", "Hi", "display")).toBeUndefined();
    });
});
