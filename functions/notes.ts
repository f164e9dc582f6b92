import { randomUUID } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import {
    DeleteCommand,
    GetCommand,
    PutCommand,
    QueryCommand,
    UpdateCommand,
    type DynamoDBDocumentClient,
} from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import {
    ApiError,
    callerIdentity,
    decodeCursor,
    encodeCursor,
    errorResponse,
    ok,
    parseJsonBody,
    queryInteger,
} from "./http";
import { mediaUrl, uploadPrefix } from "./media";
import { NOTE_BODY_BYTES, createNoteSchema, noteIdSchema, updateNoteSchema } from "./notes-schema";
import { enforceWriteLimit, type LimitSettings } from "./rate-limit";
import { firstSchemaViolation, type JsonSchema } from "./schema";
import { fieldTextProblem } from "./text";
import { uploadExists } from "./uploads";

/** What the notes function needs besides its DynamoDB client. */
export interface NotesSettings {
    /** The notes table: partition key `ownerId`, sort key `noteId`, local index {@link NOTES_BY_CREATED_AT}. */
    tableName: string;
    /** CloudFront base URL (`https://dxxxx.cloudfront.net`) that serves the uploads bucket. */
    mediaBaseUrl: string;
    /** Clock and id source; tests replace them. */
    now?: () => Date;
    newId?: () => string;
    /** Fair-use limits: `POST`, `PUT` and `DELETE` count against `writesPerMinute` (429 when used up). Default: none. */
    limits?: LimitSettings;
}

/** Where uploads are checked: a note's `mediaKey` must name an existing object of the caller in this bucket. */
export interface NotesUploads {
    s3: S3Client;
    bucketName: string;
}

/** The table's local secondary index that orders a user's notes by creation time. */
export const NOTES_BY_CREATED_AT = "byCreatedAt";

/** A note as stored in the table. */
export interface NoteItem {
    ownerId: string;
    noteId: string;
    headline: string;
    text: string;
    mediaKey?: string;
    createdAt: string;
    updatedAt: string;
}

/** A note as the API returns it. */
export interface Note {
    noteId: string;
    headline: string;
    text: string;
    mediaKey?: string;
    mediaUrl?: string;
    createdAt: string;
    updatedAt: string;
}

export { uploadPrefix };

/**
 * Serves `POST/GET /notes` and `GET/PUT/DELETE /notes/{noteId}` for the Cognito identity that signed
 * the request. Every failure is a JSON error response; nothing throws.
 */
export async function handleNotesRequest(
    event: APIGatewayProxyEvent,
    db: DynamoDBDocumentClient,
    settings: NotesSettings,
    /** Without it, a `mediaKey` is only checked to be under the caller's prefix (the shipped function always has it). */
    uploads?: NotesUploads,
): Promise<APIGatewayProxyResult> {
    try {
        const caller = callerIdentity(event);
        const notes = new NotesStore(db, settings, caller, uploads);
        if (event.httpMethod !== "GET") await enforceWriteLimit(db, settings.limits, caller, settings.now);
        switch (`${event.httpMethod} ${event.resource}`) {
            case "POST /notes":
                return await notes.create(parseJsonBody(event, NOTE_BODY_BYTES));
            case "GET /notes":
                return await notes.list(
                    queryInteger(event, "limit", { min: 1, max: 100, fallback: 20 }),
                    event.queryStringParameters?.cursor ?? undefined,
                );
            case "GET /notes/{noteId}":
                return await notes.get(pathNoteId(event));
            case "PUT /notes/{noteId}":
                return await notes.update(pathNoteId(event), parseJsonBody(event, NOTE_BODY_BYTES));
            case "DELETE /notes/{noteId}":
                return await notes.remove(pathNoteId(event));
            default:
                throw new ApiError("MethodNotAllowed", `${event.httpMethod} ${event.path} is not a notes operation.`);
        }
    } catch (err) {
        return errorResponse(err);
    }
}

/** The caller's view of the notes table: every key it builds starts with the caller's identity. */
class NotesStore {
    private readonly now: () => Date;
    private readonly newId: () => string;

    constructor(
        private readonly db: DynamoDBDocumentClient,
        private readonly settings: NotesSettings,
        private readonly ownerId: string,
        private readonly uploads?: NotesUploads,
    ) {
        this.now = settings.now ?? (() => new Date());
        this.newId = settings.newId ?? randomUUID;
    }

    async create(body: Record<string, unknown>): Promise<APIGatewayProxyResult> {
        validate(createNoteSchema, body);
        const fields = body as { noteId?: string; headline: string; text?: string; mediaKey?: string };
        await this.checkMediaKey(fields.mediaKey);
        const timestamp = this.now().toISOString();
        const item: NoteItem = {
            ownerId: this.ownerId,
            noteId: fields.noteId ?? this.newId(),
            headline: fields.headline,
            text: fields.text ?? "",
            ...(fields.mediaKey === undefined ? {} : { mediaKey: fields.mediaKey }),
            createdAt: timestamp,
            updatedAt: timestamp,
        };
        try {
            await this.db.send(
                new PutCommand({
                    TableName: this.settings.tableName,
                    Item: item,
                    ConditionExpression: "attribute_not_exists(noteId)",
                }),
            );
            return ok(201, { note: this.present(item) });
        } catch (err) {
            if (!isConditionFailure(err)) throw err;
        }
        // The id is taken: a retry of the same note succeeds again, anything else is a conflict.
        const existing = await this.read(item.noteId);
        if (
            existing !== undefined &&
            existing.headline === item.headline &&
            existing.text === item.text &&
            existing.mediaKey === item.mediaKey
        ) {
            return ok(201, { note: this.present(existing) });
        }
        throw new ApiError("Conflict", `A different note with noteId ${item.noteId} already exists.`);
    }

    async list(limit: number, cursor: string | undefined): Promise<APIGatewayProxyResult> {
        const result = await this.db.send(
            new QueryCommand({
                TableName: this.settings.tableName,
                IndexName: NOTES_BY_CREATED_AT,
                KeyConditionExpression: "ownerId = :owner",
                ExpressionAttributeValues: { ":owner": this.ownerId },
                ScanIndexForward: false,
                Limit: limit,
                ExclusiveStartKey: cursor === undefined ? undefined : this.startKey(cursor),
            }),
        );
        const last = result.LastEvaluatedKey;
        return ok(200, {
            notes: (result.Items ?? []).map((item) => this.present(item as NoteItem)),
            nextCursor: last === undefined ? null : encodeCursor({ n: last.noteId, c: last.createdAt }),
        });
    }

    async get(noteId: string): Promise<APIGatewayProxyResult> {
        const item = await this.read(noteId);
        if (item === undefined) throw notFound(noteId);
        return ok(200, { note: this.present(item) });
    }

    async update(noteId: string, body: Record<string, unknown>): Promise<APIGatewayProxyResult> {
        validate(updateNoteSchema, body);
        const fields = body as { headline?: string; text?: string; mediaKey?: string | null };
        if (typeof fields.mediaKey === "string") await this.checkMediaKey(fields.mediaKey);
        const names: Record<string, string> = { "#noteId": "noteId", "#updatedAt": "updatedAt" };
        const values: Record<string, unknown> = { ":updatedAt": this.now().toISOString() };
        const sets = ["#updatedAt = :updatedAt"];
        const removes: string[] = [];
        for (const field of ["headline", "text", "mediaKey"] as const) {
            const value = fields[field];
            if (value === undefined) continue;
            names[`#${field}`] = field;
            if (value === null) {
                removes.push(`#${field}`);
            } else {
                values[`:${field}`] = value;
                sets.push(`#${field} = :${field}`);
            }
        }
        try {
            const result = await this.db.send(
                new UpdateCommand({
                    TableName: this.settings.tableName,
                    Key: { ownerId: this.ownerId, noteId },
                    UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
                    ConditionExpression: "attribute_exists(#noteId)",
                    ExpressionAttributeNames: names,
                    ExpressionAttributeValues: values,
                    ReturnValues: "ALL_NEW",
                }),
            );
            return ok(200, { note: this.present(result.Attributes as NoteItem) });
        } catch (err) {
            if (isConditionFailure(err)) throw notFound(noteId);
            throw err;
        }
    }

    async remove(noteId: string): Promise<APIGatewayProxyResult> {
        await this.db.send(
            new DeleteCommand({ TableName: this.settings.tableName, Key: { ownerId: this.ownerId, noteId } }),
        );
        return ok(200, { noteId });
    }

    private async read(noteId: string): Promise<NoteItem | undefined> {
        const result = await this.db.send(
            new GetCommand({
                TableName: this.settings.tableName,
                Key: { ownerId: this.ownerId, noteId },
                ConsistentRead: true,
            }),
        );
        return result.Item as NoteItem | undefined;
    }

    /** A cursor only ever continues the caller's own listing: the owner comes from the caller. */
    private startKey(cursor: string): Record<string, string> {
        const { n, c } = decodeCursor(cursor);
        // A decodable cursor is still client input: keys DynamoDB would reject must be a 400, not a 500.
        if (typeof n !== "string" || typeof c !== "string" || !isNoteId(n) || !isTimestamp(c)) {
            throw new ApiError("BadRequest", "cursor is not a cursor this API returned.");
        }
        return { ownerId: this.ownerId, noteId: n, createdAt: c };
    }

    /** Media must be the caller's own, existing upload, so a note cannot point at someone else's photo. */
    private async checkMediaKey(mediaKey: string | undefined): Promise<void> {
        if (mediaKey === undefined) return;
        const prefix = uploadPrefix(this.ownerId);
        const rest = mediaKey.startsWith(prefix) ? mediaKey.slice(prefix.length) : "";
        if (rest === "" || rest.split("/").some((part) => part === "" || part === "." || part === "..")) {
            throw new ApiError("BadRequest", `mediaKey must name one of your uploads, under ${prefix}.`);
        }
        if (this.uploads && !(await uploadExists(this.uploads.s3, this.uploads.bucketName, mediaKey))) {
            throw new ApiError("BadRequest", `mediaKey ${mediaKey} is not an upload of yours: upload it first (POST /uploads).`);
        }
    }

    private present(item: NoteItem): Note {
        return {
            noteId: item.noteId,
            headline: item.headline,
            text: item.text ?? "",
            ...(item.mediaKey === undefined
                ? {}
                : { mediaKey: item.mediaKey, mediaUrl: mediaUrl(this.settings.mediaBaseUrl, item.mediaKey) }),
            createdAt: item.createdAt,
            updatedAt: item.updatedAt,
        };
    }
}

function pathNoteId(event: APIGatewayProxyEvent): string {
    const noteId = event.pathParameters?.noteId ?? "";
    const problem = firstSchemaViolation(noteIdSchema, noteId, "noteId");
    if (problem !== undefined) throw new ApiError("BadRequest", problem);
    return noteId;
}

function isNoteId(value: string): boolean {
    return firstSchemaViolation(noteIdSchema, value) === undefined;
}

/** A `createdAt` as this function writes it: `Date.prototype.toISOString` output. */
function isTimestamp(value: string): boolean {
    const time = Date.parse(value);
    return !Number.isNaN(time) && new Date(time).toISOString() === value;
}

/** The note fields a user writes: text hygiene applies to each (see `functions/text.ts`). */
const TEXT_FIELDS = ["headline", "text", "mediaKey"] as const;

/**
 * The schema, then text hygiene: a control character, a lone surrogate or a noncharacter is refused with a
 * 400 naming the field, so no note can hold text a search engine would reject on every retry.
 */
function validate(schema: JsonSchema, body: Record<string, unknown>): void {
    const problem = firstSchemaViolation(schema, body);
    if (problem !== undefined) throw new ApiError("BadRequest", problem);
    for (const field of TEXT_FIELDS) {
        const value = body[field];
        const textProblem = typeof value === "string" ? fieldTextProblem(field, value) : undefined;
        if (textProblem !== undefined) throw new ApiError("BadRequest", textProblem);
    }
}

function notFound(noteId: string): ApiError {
    return new ApiError("NotFound", `No note with noteId ${noteId}.`);
}

function isConditionFailure(err: unknown): boolean {
    return err instanceof Error && err.name === "ConditionalCheckFailedException";
}
