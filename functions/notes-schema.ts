import { jsonByteBound } from "./json-bound";
import type { JsonSchema } from "./schema";

/** Limits of a note, shared by the API Gateway models, the function and the docs. */
export const NOTE_LIMITS = {
    noteIdLength: 64,
    headlineLength: 200,
    textLength: 10_000,
    mediaKeyLength: 1024,
} as const;

const noteId: JsonSchema = {
    type: "string",
    minLength: 1,
    maxLength: NOTE_LIMITS.noteIdLength,
    pattern: "^[A-Za-z0-9_-]+$",
    description: "may contain only letters, digits, hyphens and underscores",
};

const headline: JsonSchema = {
    type: "string",
    minLength: 1,
    maxLength: NOTE_LIMITS.headlineLength,
    pattern: "\\S",
    description: "must not be blank",
};

const text: JsonSchema = { type: "string", maxLength: NOTE_LIMITS.textLength };

const mediaKey: JsonSchema = { type: "string", minLength: 1, maxLength: NOTE_LIMITS.mediaKeyLength };

/** `POST /notes`. The original iOS client's `{"noteId", "headline", "text"}` conforms. */
export const createNoteSchema: JsonSchema = {
    title: "CreateNoteRequest",
    type: "object",
    required: ["headline"],
    properties: { noteId, headline, text, mediaKey },
    additionalProperties: false,
};

/**
 * `PUT /notes/{noteId}`: any of the fields; `mediaKey: null` detaches the media. "A string or null" is
 * `anyOf` with `{enum: [null]}`: valid OpenAPI 3.0 (whose `type` is one name and has no `"null"`) and
 * draft 4 (which has no `nullable`), meaning the same in both.
 */
export const updateNoteSchema: JsonSchema = {
    title: "UpdateNoteRequest",
    type: "object",
    minProperties: 1,
    properties: { headline, text, mediaKey: { anyOf: [mediaKey, { enum: [null] }] } },
    additionalProperties: false,
};

/** The schema a path's `{noteId}` must satisfy. */
export const noteIdSchema = noteId;

/**
 * Bodies larger than this are refused with 413 before they are parsed: an upper bound of a conforming create
 * or update body in any JSON encoding (every character escaped), so the cap refuses only abuse.
 */
export const NOTE_BODY_BYTES = Math.max(jsonByteBound(createNoteSchema), jsonByteBound(updateNoteSchema));
