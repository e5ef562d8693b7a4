// A Fedify inbox for bench/bench_inbox.py: Fedify 2 (tests/interop/fedify's
// node_modules, run with that directory as the working directory), in-memory
// KV store (key cache and activity dedup), no message queue (the listener runs
// before the answer, as Fedify does without one), a no-op Create listener.
// Served by node:http on 127.0.0.1 --port P; prints READY; stops on SIGTERM.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), "package.json"));
const load = (name) => import(pathToFileURL(require.resolve(name)).href);
const { createFederation, MemoryKvStore } = await load("fedify2");
const { Create, Person } = await load("fedify2/vocab");

const portIndex = process.argv.indexOf("--port");
const port = Number(process.argv[portIndex + 1]);

const federation = createFederation({
  kv: new MemoryKvStore(),
  allowPrivateAddress: true,
});
federation.setActorDispatcher("/users/{identifier}", async (ctx, identifier) =>
  identifier === "bob"
    ? new Person({
        id: ctx.getActorUri(identifier),
        preferredUsername: identifier,
        inbox: ctx.getInboxUri(identifier),
      })
    : null
);
let accepted = 0;
federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Create, async (_ctx, _create) => {
    accepted++;
  })
  .onError((_ctx, error) => console.error("inbox error", error));

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    try {
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        headers.set(k, Array.isArray(v) ? v.join(", ") : v);
      }
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      const request = new Request(`http://${req.headers.host}${req.url}`, {
        method: req.method,
        headers,
        body: hasBody ? Buffer.concat(chunks) : undefined,
      });
      const response = await federation.fetch(request, { contextData: undefined });
      const body = Buffer.from(await response.arrayBuffer());
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(body);
    } catch (error) {
      console.error(error);
      res.writeHead(500);
      res.end();
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => console.log("READY"));
process.on("SIGTERM", () => {
  console.error(`fedify peer: ${accepted} Create activities accepted`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
