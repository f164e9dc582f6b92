/** Seeded generators of hostile strings and JSON values, shared by the template and schema tests. */

/** A small seeded PRNG (mulberry32): the same seed gives the same cases on every run. */
export function random(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** Pieces that break naive escaping: quotes, backslashes, control and line separators, non-ASCII, template syntax. */
export const HOSTILE_PIECES = [
    "'", '"', "\\", "\\'", "\\\\'", "\\\"", "/", "</script>", "\n", "\r\n", "\t", "\b", "\f", "\u0000", "\u001f", "\u007f",
    "\u2028", "\u2029", "é", "日本", "😀", "\ud800", "\udfff", "\u00a0", "\ufeff", "$", "$context.requestId", "${x}",
    "#set($a = 1)", "#end", "$util.escapeJavaScript('x')", "$input.json('$')", "}", "{", ",", ":", "us-east-1:", " ",
];

/** A string of up to `maxPieces` hostile pieces and plain letters. */
export function hostileString(next: () => number, maxPieces = 8): string {
    let out = "";
    const count = Math.floor(next() * (maxPieces + 1));
    for (let i = 0; i < count; i++) {
        out += next() < 0.7 ? HOSTILE_PIECES[Math.floor(next() * HOSTILE_PIECES.length)] : String.fromCharCode(97 + Math.floor(next() * 26));
    }
    return out;
}

/** A JSON value (objects with hostile keys, arrays, numbers, booleans, null, hostile strings), at most `depth` deep. */
export function hostileJson(next: () => number, depth = 3): unknown {
    const pick = next();
    if (depth > 0 && pick < 0.25) {
        const value: Record<string, unknown> = {};
        for (let i = Math.floor(next() * 4); i > 0; i--) value[hostileString(next, 3)] = hostileJson(next, depth - 1);
        return value;
    }
    if (depth > 0 && pick < 0.35) return Array.from({ length: Math.floor(next() * 3) }, () => hostileJson(next, depth - 1));
    if (pick < 0.45) return [0, -1, 1.5, 1e21, -2e-7, 2 ** 53][Math.floor(next() * 6)];
    if (pick < 0.5) return next() < 0.5;
    if (pick < 0.55) return null;
    return hostileString(next);
}
