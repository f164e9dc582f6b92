/**
 * `npm run journey -- --local [--data DIR]` and `npm run journey -- --stack <stage> [--outputs FILE]`: one scripted
 * user journey, with the client libraries an app uses (cli/journey-client.ts), against a running local backend or
 * a deployed stage (cli/journey-targets.ts). Each step is printed with its time; the journey stops at the first
 * failure, and whatever it created is removed in every case (users, identities, notes, uploads, devices, blocks,
 * the temporary queue and subscription). The post-deploy smoke test: docs/smoke-test.md.
 *
 * Eventual effects (the search index after a write, a push arriving, an account deletion finishing) are polled
 * with a bound, and the time they took is printed; nothing waits a fixed time.
 *
 * Exit status: 0 every step passed (some may be skipped where the stage turns a feature off), 1 a step or the
 * cleanup failed, 2 bad usage or configuration.
 */
import { randomBytes } from "node:crypto";
import {
    callApi,
    guestIdentity,
    postUpload,
    refusedGuest,
    signIn,
    signedInIdentity,
    type ApiAnswer,
    type Identity,
    type PresignedPost,
} from "./journey-client";
import {
    deployedTarget,
    journeyOutputs,
    localTarget,
    operatorClients,
    readLocalClientConfig,
    type JourneyTarget,
    type NotificationWatch,
} from "./journey-targets";
import { operatorCredentials } from "../local/operator";
import { readStackOutputs } from "./reindex";
import { parseFlags, runCommand, UsageError } from "./args";

export type StepStatus = "passed" | "failed" | "skipped";

export interface StepResult {
    name: string;
    status: StepStatus;
    ms: number;
    /** What the step found (passed), why it failed, or why it was skipped. */
    detail?: string;
}

export interface JourneyResult {
    /** Every step passed or was skipped, and the cleanup removed everything. */
    ok: boolean;
    steps: StepResult[];
    cleanup: StepResult[];
}

export interface JourneyOptions {
    /** Receives each printed line. Default `console.log`. */
    log?: (line: string) => void;
    /** Bounds of the eventual effects, in ms. Defaults: search 60 s, notifications 60 s, account deletion 180 s. */
    timeouts?: { search?: number; notification?: number; deletion?: number };
    /** Names the users, words and queue of this run. Default: 8 random hex digits. */
    suffix?: string;
    /** Stops the journey at the next step or poll (then the cleanup runs). */
    signal?: AbortSignal;
}

/** A step that does not apply on this stage (a feature turned off): printed as skipped, not a failure. */
class Skipped extends Error {}

/** A signed-in user of the journey. */
interface Actor {
    label: string;
    email: string;
    password: string;
    username?: string;
    idToken?: string;
    identity?: Identity;
}

/** What the journey created and has not removed yet: the cleanup removes exactly this. */
interface Ledger {
    /** API deletions, run with the owner's credentials. */
    deletes: { label: string; owner: Actor; resource: string }[];
    watches: NotificationWatch[];
    identities: string[];
    users: { label: string; username: string }[];
}

/** A 1×1 PNG: the photo. */
const PHOTO = Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
    "base64",
);

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Polls `probe` until it returns a value, waiting 100 ms, then longer (at most 1 s), between tries; bounded by `timeoutMs`. */
async function eventually<T>(what: string, timeoutMs: number, signal: AbortSignal | undefined, probe: () => Promise<T | undefined>): Promise<{ value: T; ms: number }> {
    const started = Date.now();
    let pause = 100;
    for (;;) {
        if (signal?.aborted) throw new Error("interrupted");
        const value = await probe();
        const ms = Date.now() - started;
        if (value !== undefined) return { value, ms };
        if (ms >= timeoutMs) throw new Error(`${what}: not after ${seconds(ms)}`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, timeoutMs - ms)));
        pause = Math.min(pause * 2, 1000);
    }
}

/** The answer, when it has the expected status; otherwise an error naming the API's error code and message. */
function expect(answer: ApiAnswer, status: number | number[], what: string): Record<string, unknown> {
    const statuses = Array.isArray(status) ? status : [status];
    if (!statuses.includes(answer.status)) {
        const error = answer.json?.error as { code?: string; message?: string } | undefined;
        const reason = error ? `${error.code ?? ""}: ${error.message ?? ""}` : (answer.json?.message as string | undefined) ?? answer.text.slice(0, 200);
        throw new Error(`${what} answered ${answer.status}, not ${statuses.join(" or ")} (${reason})`);
    }
    return answer.json ?? {};
}

/** Runs the journey against `target`; never throws (a failure is a failed step), always cleans up. */
export async function runJourney(target: JourneyTarget, options: JourneyOptions = {}): Promise<JourneyResult> {
    const log = options.log ?? ((line: string) => console.log(line));
    const suffix = options.suffix ?? randomBytes(4).toString("hex");
    const timeouts = { search: 60_000, notification: 60_000, deletion: 180_000, ...options.timeouts };
    const signal = options.signal;
    const app = target.app;
    const steps: StepResult[] = [];
    const ledger: Ledger = { deletes: [], watches: [], identities: [], users: [] };

    const print = (r: StepResult) => {
        if (r.status === "passed") log(`✓ ${r.name} (${r.ms} ms)${r.detail ? ` — ${r.detail}` : ""}`);
        else if (r.status === "skipped") log(`- ${r.name}: skipped (${r.ms} ms) — ${r.detail ?? ""}`);
        else log(`✗ ${r.name} (${r.ms} ms): ${r.detail ?? "failed"}`);
    };
    /** Runs one step; a failure is recorded and ends the journey (the error propagates to the cleanup). */
    const step = async (name: string, run: () => Promise<string | void>): Promise<void> => {
        if (signal?.aborted) throw new Error("interrupted");
        const started = Date.now();
        try {
            const detail = await run();
            steps.push({ name, status: "passed", ms: Date.now() - started, ...(detail ? { detail } : {}) });
        } catch (err) {
            const skipped = err instanceof Skipped;
            steps.push({ name, status: skipped ? "skipped" : "failed", ms: Date.now() - started, detail: (err as Error).message });
            print(steps[steps.length - 1]);
            if (!skipped) throw err;
            return;
        }
        print(steps[steps.length - 1]);
    };
    const api = (actor: Actor, method: string, resource: string, body?: unknown) => {
        if (!actor.identity) throw new Error(`${actor.label} has no credentials`);
        return callApi(app, actor.identity.credentials, method, resource, body);
    };
    const forget = (resource: string) => {
        ledger.deletes = ledger.deletes.filter((d) => d.resource !== resource);
    };

    log(`journey ${suffix} against ${target.description} (${app.apiUrl})`);
    const actor = (label: string): Actor => ({
        label,
        email: `journey-${suffix}-${label}@example.invalid`,
        // The deployed password policy: at least 10 characters, upper and lower case, digits.
        password: `Jy-${randomBytes(12).toString("base64url")}-a1B`,
    });
    const alice = actor("alice");
    const bob = actor("bob");
    const words = { first: `jrn${suffix}first`, edited: `jrn${suffix}edited`, second: `jrn${suffix}second` };
    const marks = { hello: `jrn${suffix}hello`, blocked: `jrn${suffix}blocked`, control: `jrn${suffix}control` };
    let watch: NotificationWatch | undefined;
    let searchOn = true;
    const search = async (q: string): Promise<string[]> => {
        const answer = await api(alice, "GET", `/search?q=${encodeURIComponent(q)}`);
        if (answer.status === 501) {
            searchOn = false;
            throw new Skipped("search is turned off on this stage (search.engine: none)");
        }
        const body = expect(answer, 200, "GET /search");
        return ((body.notes as { noteId: string }[] | undefined) ?? []).map((n) => n.noteId);
    };
    const received = async () => (watch ? watch.received() : []);
    const has = (messages: string[], mark: string) => messages.some((m) => m.includes(mark));
    const upload = async (owner: Actor) => {
        const body = expect(await api(owner, "POST", "/uploads", { contentType: "image/png", contentLength: PHOTO.length }), 201, "POST /uploads");
        const up = body.upload as PresignedPost & { key: string; mediaUrl: string };
        const rest = up.key.slice(`${app.uploadsPrefix}${owner.identity?.identityId}/`.length);
        ledger.deletes.push({ label: `${owner.label}'s upload`, owner, resource: `/uploads/${encodeURIComponent(rest)}` });
        const posted = await postUpload(up, PHOTO, "image/png");
        if (posted.status < 200 || posted.status > 299) throw new Error(`the presigned POST answered ${posted.status}: ${posted.text.slice(0, 300)}`);
        return up;
    };
    const createNote = async (owner: Actor, note: Record<string, unknown>) => {
        const body = expect(await api(owner, "POST", "/notes", note), 201, "POST /notes");
        const created = body.note as { noteId: string; headline: string; mediaKey?: string; mediaUrl?: string };
        ledger.deletes.push({ label: `${owner.label}'s note ${created.noteId}`, owner, resource: `/notes/${created.noteId}` });
        return created;
    };

    let photo: { key: string; mediaUrl: string } | undefined;
    let bobPhoto: { key: string; mediaUrl: string } | undefined;
    let first: { noteId: string } | undefined;
    let second: { noteId: string } | undefined;
    try {
        for (const who of [alice, bob]) {
            await step(`${who.label} signs up`, async () => {
                who.username = await target.createUser(who.email, who.password, (username) => ledger.users.push({ label: who.label, username }));
                return who.email;
            });
        }
        for (const who of [alice, bob]) {
            await step(`${who.label} signs in (SRP)`, async () => {
                const signedIn = await signIn(app, target.endpoints, who.email, who.password);
                who.idToken = signedIn.idToken;
                return signedIn.retried ? "started over once after a network error" : undefined;
            });
        }
        for (const who of [alice, bob]) {
            await step(`${who.label} gets identity credentials`, async () => {
                who.identity = await signedInIdentity(app, target.endpoints, who.idToken as string);
                ledger.identities.push(who.identity.identityId);
                return who.identity.identityId;
            });
        }
        await step("watch bob's notifications", async () => {
            watch = await target.watch(bob.identity!.identityId);
            ledger.watches.push(watch);
            return watch.description;
        });
        await step(app.allowGuests ? "a guest gets credentials and calls the API" : "guests are refused", async () => {
            if (!app.allowGuests) {
                const refusal = await refusedGuest(app, target.endpoints);
                if (refusal !== "NotAuthorizedException") throw new Error(`GetId without logins ${refusal ? `failed with ${refusal}` : "succeeded"}, not NotAuthorizedException`);
                return "GetId without logins: NotAuthorizedException";
            }
            const guest = await guestIdentity(app, target.endpoints);
            ledger.identities.push(guest.identityId);
            const list = expect(await callApi(app, guest.credentials, "GET", "/notes"), 200, "GET /notes as a guest");
            if ((list.notes as unknown[]).length !== 0) throw new Error("a new guest already has notes");
            return `${guest.identityId}, classic flow; GET /notes 200`;
        });

        await step("alice uploads a photo (POST /uploads, presigned POST)", async () => {
            photo = await upload(alice);
            return photo.key;
        });
        await step("the photo reads back through the media URL", async () => {
            const response = await fetch(photo!.mediaUrl);
            const bytes = Buffer.from(await response.arrayBuffer());
            if (response.status !== 200) throw new Error(`GET ${photo!.mediaUrl} answered ${response.status}`);
            if (!bytes.equals(PHOTO)) throw new Error(`GET ${photo!.mediaUrl} answered ${bytes.length} bytes that are not the photo`);
            return `${response.headers.get("content-type") ?? "no content type"}, ${bytes.length} bytes`;
        });
        await step("alice creates a note with the photo", async () => {
            const note = await createNote(alice, { headline: `Journey ${words.first}`, text: "A note with a photo.", mediaKey: photo!.key });
            if (note.mediaUrl !== photo!.mediaUrl) throw new Error(`the note's mediaUrl is ${note.mediaUrl}, not the upload's ${photo!.mediaUrl}`);
            first = note;
            return note.noteId;
        });
        await step("alice creates a second note", async () => {
            second = await createNote(alice, { headline: `Journey ${words.second}`, text: "A note to delete." });
            return second.noteId;
        });
        await step("alice lists her notes", async () => {
            const body = expect(await api(alice, "GET", "/notes"), 200, "GET /notes");
            const ids = (body.notes as { noteId: string }[]).map((n) => n.noteId);
            for (const note of [first!, second!]) if (!ids.includes(note.noteId)) throw new Error(`GET /notes does not list ${note.noteId}`);
            return `${ids.length} notes`;
        });
        await step("alice reads a note", async () => {
            const note = expect(await api(alice, "GET", `/notes/${first!.noteId}`), 200, "GET /notes/{noteId}").note as { headline: string; mediaKey?: string };
            if (note.headline !== `Journey ${words.first}` || note.mediaKey !== photo!.key) throw new Error(`GET /notes/${first!.noteId} answered ${JSON.stringify(note)}`);
        });
        await step("the notes become searchable", async () => {
            const { ms } = await eventually("both notes found by GET /search", timeouts.search, signal, async () => {
                const [a, b] = [await search(words.first), await search(words.second)];
                return a.includes(first!.noteId) && b.includes(second!.noteId) ? true : undefined;
            });
            return `indexed after ${seconds(ms)}`;
        });
        await step("alice updates the note", async () => {
            const note = expect(await api(alice, "PUT", `/notes/${first!.noteId}`, { headline: `Journey ${words.edited}` }), 200, "PUT /notes/{noteId}").note as {
                headline: string;
            };
            if (note.headline !== `Journey ${words.edited}`) throw new Error(`PUT answered the headline ${note.headline}`);
        });
        await step("the edit reaches the index", async () => {
            if (!searchOn) throw new Skipped("search is turned off on this stage");
            const { ms } = await eventually("the edited headline found, the old one not", timeouts.search, signal, async () =>
                (await search(words.edited)).includes(first!.noteId) && !(await search(words.first)).includes(first!.noteId) ? true : undefined,
            );
            return `after ${seconds(ms)}`;
        });
        await step("alice deletes the second note", async () => {
            expect(await api(alice, "DELETE", `/notes/${second!.noteId}`), 200, "DELETE /notes/{noteId}");
            forget(`/notes/${second!.noteId}`);
            expect(await api(alice, "GET", `/notes/${second!.noteId}`), 404, "GET of the deleted note");
        });
        await step("the delete reaches the index", async () => {
            if (!searchOn) throw new Skipped("search is turned off on this stage");
            const { ms } = await eventually("the deleted note gone from GET /search", timeouts.search, signal, async () =>
                (await search(words.second)).includes(second!.noteId) ? undefined : true,
            );
            return `after ${seconds(ms)}`;
        });

        await step("bob registers a device", async () => {
            const refusals: string[] = [];
            // An APNs device token is 32 bytes, sent as 64 hexadecimal digits.
            const attempts = [
                { platform: "ios", token: randomBytes(32).toString("hex") },
                { platform: "android", token: `journey-${suffix}:${randomBytes(32).toString("base64url")}` },
            ];
            for (const device of attempts) {
                const answer = await api(bob, "POST", "/devices", device);
                if (answer.status === 409) {
                    refusals.push(String((answer.json?.error as { message?: string } | undefined)?.message ?? "409"));
                    continue;
                }
                const deviceId = expect(answer, 201, "POST /devices").deviceId as string;
                ledger.deletes.push({ label: `bob's device ${deviceId}`, owner: bob, resource: `/devices/${deviceId}` });
                const listed = expect(await api(bob, "GET", "/devices"), 200, "GET /devices").devices as { deviceId: string }[];
                if (!listed.some((d) => d.deviceId === deviceId)) throw new Error(`GET /devices does not list ${deviceId}`);
                return `${device.platform} ${deviceId}`;
            }
            throw new Skipped(`push is not set up on this stage: ${refusals.join(" ")}`);
        });
        await step("alice sends bob a notification", async () => {
            expect(await api(alice, "POST", "/notifications", { recipientId: bob.identity!.identityId, title: "Journey", message: `Hello ${marks.hello}` }), 202, "POST /notifications");
        });
        await step("it arrives", async () => {
            const { ms } = await eventually(`the notification in ${watch!.description}`, timeouts.notification, signal, async () =>
                has(await received(), marks.hello) ? true : undefined,
            );
            return `through ${watch!.description} after ${seconds(ms)}`;
        });
        await step("bob blocks alice", async () => {
            expect(await api(bob, "PUT", `/blocks/${alice.identity!.identityId}`), 200, "PUT /blocks/{identityId}");
            ledger.deletes.push({ label: "bob's block of alice", owner: bob, resource: `/blocks/${alice.identity!.identityId}` });
            const blocked = expect(await api(bob, "GET", "/blocks"), 200, "GET /blocks").blocked as { identityId: string }[];
            if (!blocked.some((b) => b.identityId === alice.identity!.identityId)) throw new Error("GET /blocks does not list alice");
        });
        // Non-arrival is proven against a later arrival: bob sends himself a notification after alice's blocked one.
        // Both go through the same API, asynchronous invocation and channel; once the later one has arrived, the
        // blocked one had the same chance to arrive first. The channel is checked again at the very end of the
        // journey (after the account deletion), which gives a blocked notification that was merely slow much longer.
        await step("a block stops it", async () => {
            expect(await api(alice, "POST", "/notifications", { recipientId: bob.identity!.identityId, message: `Blocked ${marks.blocked}` }), 202, "POST /notifications (blocked sender)");
            expect(await api(bob, "POST", "/notifications", { recipientId: bob.identity!.identityId, message: `Control ${marks.control}` }), 202, "POST /notifications (control)");
            const { value, ms } = await eventually("the control notification sent after the blocked one", timeouts.notification, signal, async () => {
                const messages = await received();
                return has(messages, marks.control) ? messages : undefined;
            });
            if (has(value, marks.blocked)) throw new Error("alice's notification arrived although bob blocked her");
            return `a notification sent after it arrived (${seconds(ms)}); the blocked one did not`;
        });

        await step("bob writes a note with a photo", async () => {
            bobPhoto = await upload(bob);
            const note = await createNote(bob, { headline: `Journey ${suffix} bob`, mediaKey: bobPhoto.key });
            return note.noteId;
        });
        await step("bob deletes his account (DELETE /me)", async () => {
            expect(await api(bob, "DELETE", "/me"), [200, 202], "DELETE /me");
        });
        await step("bob's data is gone", async () => {
            let left: string[] = [];
            const { ms } = await eventually("bob's notes, devices, blocks, uploads, identity and user gone", timeouts.deletion, signal, async () => {
                left = await target.remains(bob.identity!.identityId, bob.username!);
                return left.length === 0 ? true : undefined;
            }).catch((err: Error) => {
                throw new Error(`${err.message}; left: ${left.join(", ")}`);
            });
            // Gone through DELETE /me: nothing of bob's is left for the cleanup.
            ledger.deletes = ledger.deletes.filter((d) => d.owner !== bob);
            ledger.identities = ledger.identities.filter((id) => id !== bob.identity!.identityId);
            ledger.users = ledger.users.filter((u) => u.username !== bob.username);
            return `notes, devices, blocks, uploads, identity and user, after ${seconds(ms)}`;
        });
        await step("alice's data is intact", async () => {
            const ids = (expect(await api(alice, "GET", "/notes"), 200, "GET /notes").notes as { noteId: string }[]).map((n) => n.noteId);
            if (!ids.includes(first!.noteId)) throw new Error(`alice's note ${first!.noteId} is gone`);
            const media = await fetch(photo!.mediaUrl);
            await media.arrayBuffer();
            if (media.status !== 200) throw new Error(`alice's photo answers ${media.status}`);
            const left = await target.remains(alice.identity!.identityId, alice.username!);
            for (const kept of ["notes", "upload", "the identity", "the user-pool user"]) {
                if (!left.some((l) => l.includes(kept))) throw new Error(`alice's ${kept} not found`);
            }
            return left.join(", ");
        });
        await step("the blocked notification never arrived", async () => {
            const messages = await received();
            if (has(messages, marks.blocked)) throw new Error("alice's blocked notification arrived late");
            return `${messages.length} messages received, none from the blocked sender`;
        });
    } catch {
        // The failed step is recorded and printed; the cleanup below runs in every case.
    }

    const cleanup = await cleanUp(target, ledger, log, api);
    const ok = steps.every((s) => s.status !== "failed") && cleanup.every((s) => s.status !== "failed") && !signal?.aborted;
    const passed = steps.filter((s) => s.status === "passed").length;
    const skipped = steps.filter((s) => s.status === "skipped").length;
    log(
        `journey ${suffix}: ${ok ? "passed" : "FAILED"}: ${passed} steps passed${skipped ? `, ${skipped} skipped` : ""}` +
            `${steps.some((s) => s.status === "failed") ? `, failed at "${steps.find((s) => s.status === "failed")!.name}"` : ""}; ` +
            `cleanup ${cleanup.every((s) => s.status !== "failed") ? `removed ${cleanup.length} things` : "INCOMPLETE (see above)"}`,
    );
    return { ok, steps, cleanup };
}

/** Removes what the ledger holds, newest first: API deletions with the owner's credentials, watches, identities, users. */
async function cleanUp(
    target: JourneyTarget,
    ledger: Ledger,
    log: (line: string) => void,
    api: (actor: Actor, method: string, resource: string) => Promise<ApiAnswer>,
): Promise<StepResult[]> {
    const results: StepResult[] = [];
    const remove = async (name: string, run: () => Promise<void>) => {
        const started = Date.now();
        try {
            await run();
            results.push({ name, status: "passed", ms: Date.now() - started });
            log(`  ✓ cleanup: ${name} (${Date.now() - started} ms)`);
        } catch (err) {
            results.push({ name, status: "failed", ms: Date.now() - started, detail: (err as Error).message });
            log(`  ✗ cleanup: ${name}: ${(err as Error).message}`);
        }
    };
    if (ledger.deletes.length + ledger.watches.length + ledger.identities.length + ledger.users.length > 0) log("cleanup:");
    for (const item of [...ledger.deletes].reverse()) {
        await remove(`remove ${item.label}`, async () => {
            // 404: already gone.
            expect(await api(item.owner, "DELETE", item.resource), [200, 404], `DELETE ${item.resource}`);
        });
    }
    for (const watch of ledger.watches) await remove(`stop watching ${watch.description}`, () => watch.stop());
    for (const identityId of ledger.identities) {
        // What DELETE /uploads left on a versioned bucket (noncurrent versions, delete markers), with the operator's credentials.
        await remove(`remove the upload versions of ${identityId}`, async () => void (await target.removeUploads(identityId)));
        await remove(`remove identity ${identityId}`, () => target.removeIdentity(identityId));
    }
    for (const user of ledger.users) await remove(`remove user ${user.label} (${user.username})`, () => target.removeUser(user.username));
    return results;
}

// ---------------------------------------------------------------------------------------------------------------
// Command line.

const USAGE = "usage: npm run journey -- --local [--data DIR] | --stack <stage> [--outputs FILE]";

export interface JourneyArguments {
    local: boolean;
    data: string;
    stack?: string;
    outputs?: string;
}

export function parseArguments(argv: string[]): JourneyArguments {
    const args = parseFlags<JourneyArguments>(argv, { local: false, data: ".data" }, {
        "--local": { on: "local" },
        "--data": "data",
        "--stack": "stack",
        "--outputs": "outputs",
    });
    const deployed = args.stack !== undefined || args.outputs !== undefined;
    if (args.local === deployed) throw new UsageError("give either --local or --stack <stage> (or --outputs FILE)");
    return args;
}

/** The target the arguments name. */
export function targetOf(args: JourneyArguments, suffix: string): JourneyTarget {
    if (args.local) return localTarget(readLocalClientConfig(args.data), operatorCredentials(args.data), `the local backend (${args.data})`);
    const outputs = journeyOutputs(readStackOutputs(args));
    return deployedTarget(outputs, operatorClients(outputs.region), `stage ${args.stack ?? args.outputs}`, suffix);
}

export async function main(argv: string[]): Promise<number> {
    const suffix = randomBytes(4).toString("hex");
    let target: JourneyTarget;
    try {
        target = targetOf(parseArguments(argv), suffix);
    } catch (err) {
        console.error(`journey: ${(err as Error).message}\n${USAGE}`);
        return 2;
    }
    const abort = new AbortController();
    const onSignal = () => {
        console.log("journey: interrupted; removing what it created (Ctrl-C again to leave it)");
        process.off("SIGINT", onSignal);
        abort.abort();
    };
    process.on("SIGINT", onSignal);
    try {
        const result = await runJourney(target, { suffix, signal: abort.signal });
        return result.ok ? 0 : 1;
    } finally {
        process.off("SIGINT", onSignal);
        target.close();
    }
}

if (require.main === module) runCommand(main);
