// The client against a real Herald: the test builds the server from this
// repository, runs it on a temporary data directory and a free port of
// 127.0.0.1, with a local receiver for its deliveries and a local proxy that
// spoils requests on purpose, and kills it at the end.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createHerald, HeraldError, type Herald } from "../src/index.js";

// This file runs as dist/test/herald.test.js under sdk/typescript.
const repoRoot = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../../..");

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** listen starts server on a free port of 127.0.0.1 and returns its base URL. */
async function listen(server: http.Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A local receiver that answers 200 to everything and hands out what it got, in order. */
class Receiver {
  readonly server: http.Server;
  private got: Received[] = [];
  private waiting: ((r: Received) => void)[] = [];

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        res.writeHead(200).end();
        const r = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() };
        const w = this.waiting.shift();
        if (w) w(r);
        else this.got.push(r);
      });
    });
  }

  next(timeoutMs: number): Promise<Received> {
    const r = this.got.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no delivery within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }
}

/**
 * A proxy in front of Herald that answers the first `spoil` requests itself
 * (503, with the Retry-After given) and forwards the others, recording each
 * request's method, path and Idempotency-Key.
 */
class SpoilingProxy {
  readonly server: http.Server;
  seen: { method: string; path: string; key: string | undefined; spoiled: boolean }[] = [];
  spoil = 0;
  retryAfter = "1";

  constructor(target: string) {
    const to = new URL(target);
    this.server = http.createServer((req, res) => {
      const key = req.headers["idempotency-key"];
      const spoiled = this.spoil > 0;
      this.seen.push({ method: req.method ?? "", path: req.url ?? "", key: typeof key === "string" ? key : undefined, spoiled });
      if (spoiled) {
        this.spoil--;
        req.resume();
        res.writeHead(503, { "Content-Type": "application/json", "Retry-After": this.retryAfter });
        res.end(JSON.stringify({ error: { code: "unavailable", message: "spoiled by the test's proxy" } }));
        return;
      }
      const out = http.request(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
        (back) => {
          res.writeHead(back.statusCode ?? 502, back.headers);
          back.pipe(res);
        },
      );
      out.on("error", () => res.writeHead(502).end());
      req.pipe(out);
    });
  }
}

let dir = "";
let server: ChildProcess | undefined;
let serverLog = "";
let serverUrl = "";
const token = "test_" + randomBytes(24).toString("hex");
const receiver = new Receiver();
let receiverUrl = "";
let proxy: SpoilingProxy;
let proxyUrl = "";
let h: Herald;

/** startHerald runs `herald serve` and resolves with its URL once it listens. */
function startHerald(bin: string): Promise<string> {
  // The server reads HERALD_* variables; only the ones set here apply.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("HERALD_")) env[k] = v;
  env.HERALD_ADMIN_TOKEN = token;
  const child = spawn(
    bin,
    ["serve", "--data-dir", join(dir, "data"), "--addr", "127.0.0.1:0", "--allow-private-destinations"],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  server = child;
  // Should the runner itself be stopped before after() runs, the server
  // goes with it rather than outlive the test.
  process.on("exit", () => child.kill("SIGKILL"));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`herald did not listen within 60 s:\n${serverLog}`)), 60_000);
    const onOutput = (b: Buffer) => {
      serverLog += b.toString();
      // The address is in the log: the server picked the port (":0"), so no
      // other process can take it between a pick and the start.
      const m = /msg="herald is listening" addr=(\S+)/.exec(serverLog);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on("data", onOutput);
    child.stderr?.on("data", onOutput);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`herald exited (${code}) before it listened:\n${serverLog}`));
    });
  });
}

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), "herald-ts-"));
    const bin = join(dir, "herald");
    await promisify(execFile)("go", ["build", "-o", bin, "./cmd/herald"], { cwd: repoRoot });
    serverUrl = await startHerald(bin);
    receiverUrl = await listen(receiver.server);
    proxy = new SpoilingProxy(serverUrl);
    proxyUrl = await listen(proxy.server);
    h = createHerald({ serverUrl, token });
  },
  { timeout: 300_000 },
);

after(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = once(server, "exit");
    server.kill("SIGKILL");
    await exited;
  }
  receiver.server.closeAllConnections();
  receiver.server.close();
  proxy?.server.closeAllConnections();
  proxy?.server.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const app = { params: { path: { app: "acme" } } };

test("an event sent through the client reaches the receiver, signed", async () => {
  const created = await h.post("/v1/apps", { body: { name: "Acme Corp", uid: "acme" } });
  assert.match(created.id, /^app_/);
  assert.equal(created.uid, "acme");

  const type = await h.post("/v1/event-types", { body: { name: "lead.created", description: "A form was submitted" } });
  assert.equal(type.name, "lead.created");

  const ep = await h.post("/v1/apps/{app}/endpoints", {
    ...app,
    body: { url: `${receiverUrl}/webhook`, event_types: ["lead.created"] },
  });
  assert.match(ep.id, /^ep_/);

  const ev = await h.post("/v1/apps/{app}/events", {
    ...app,
    body: { event_type: "lead.created", payload: { id: "42", name: "山田 太郎" } },
  });
  assert.match(ev.id, /^evt_/);

  const got = await receiver.next(30_000);
  assert.equal(got.method, "POST");
  assert.equal(got.url, "/webhook");
  const body = JSON.parse(got.body) as { type: string; data: { id: string; name: string } };
  assert.equal(body.type, "lead.created");
  assert.deepEqual(body.data, { id: "42", name: "山田 太郎" });

  // The signature checks out with the endpoint's secret, read through the client.
  const { secret } = await h.get("/v1/apps/{app}/endpoints/{id}/secret", { params: { path: { app: "acme", id: ep.id } } });
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signed = `${got.headers["webhook-id"]}.${got.headers["webhook-timestamp"]}.${got.body}`;
  const want = "v1," + createHmac("sha256", key).update(signed).digest("base64");
  assert.ok(String(got.headers["webhook-signature"]).split(" ").includes(want), "signature does not verify");
});

test("list pages through every app with limit 1", async () => {
  await h.post("/v1/apps", { body: { name: "Beta" } });
  await h.post("/v1/apps", { body: { name: "Gamma" } });

  let pages = 0;
  for await (const page of h.pages("/v1/apps", { params: { query: { limit: 1 } } })) {
    pages++;
    assert.equal(page.data.length, 1);
  }
  const names: string[] = [];
  for await (const a of h.list("/v1/apps", { params: { query: { limit: 1 } } })) names.push(a.name);
  // Newest first.
  assert.deepEqual(names, ["Gamma", "Beta", "Acme Corp"]);
  assert.equal(pages, 3);
});

test("an unknown app is a typed 404", async () => {
  await assert.rejects(h.get("/v1/apps/{app}", { params: { path: { app: "nope" } } }), (e: unknown) => {
    assert.ok(e instanceof HeraldError);
    assert.equal(e.status, 404);
    assert.equal(e.code, "not_found");
    assert.equal(e.field, undefined);
    return true;
  });
  // The generated client throws the same error: it shares the transport.
  await assert.rejects(h.api.GET("/v1/apps/{app}", { params: { path: { app: "nope" } } }), HeraldError);
});

test("a bad field is a 422 naming it", async () => {
  await assert.rejects(
    h.post("/v1/apps/{app}/endpoints", { ...app, body: { url: "not a url", event_types: ["lead.created"] } }),
    (e: unknown) => {
      assert.ok(e instanceof HeraldError);
      assert.equal(e.status, 422);
      assert.equal(e.code, "invalid");
      assert.equal(e.field, "url");
      return true;
    },
  );
  await assert.rejects(h.post("/v1/apps", { body: { uid: "nameless" } }), { status: 422, code: "required", field: "name" });
});

test("a 503 with Retry-After is retried after the wait, with the same Idempotency-Key", async () => {
  const hp = createHerald({ serverUrl: proxyUrl, token });
  proxy.seen = [];
  proxy.spoil = 1;
  proxy.retryAfter = "1";
  const start = performance.now();
  const ev = await hp.post("/v1/apps/{app}/events", {
    ...app,
    body: { event_type: "lead.created", payload: { id: "43" } },
  });
  const waited = performance.now() - start;

  assert.deepEqual(
    proxy.seen.map((s) => [s.method, s.path, s.spoiled]),
    [
      ["POST", "/v1/apps/acme/events", true],
      ["POST", "/v1/apps/acme/events", false],
    ],
  );
  const [first, second] = proxy.seen;
  assert.match(first?.key ?? "", /^idem_[0-9a-f]{32}$/);
  assert.equal(second?.key, first?.key);
  assert.ok(waited >= 950, `retried after ${waited} ms, before the 1 s asked`);
  assert.equal(ev.idempotency_key, first?.key, "the event was taken with the key of both tries");

  // One event was taken, and delivered.
  const got = await receiver.next(30_000);
  assert.equal((JSON.parse(got.body) as { data: { id: string } }).data.id, "43");
  const again = await h.get("/v1/apps/{app}/events/{id}", { params: { path: { app: "acme", id: ev.id } } });
  assert.equal(again.id, ev.id);
});

test("a key of the caller's own is kept, and a wait past maxWaitMs is not waited", async () => {
  const hp = createHerald({ serverUrl: proxyUrl, token, maxWaitMs: 5_000 });
  proxy.seen = [];
  proxy.spoil = 1;
  proxy.retryAfter = "120";
  const start = performance.now();
  await assert.rejects(
    hp.post("/v1/apps/{app}/events", {
      params: { path: { app: "acme" }, header: { "Idempotency-Key": "lead-44" } },
      body: { event_type: "lead.created", payload: { id: "44" } },
    }),
    { name: "HeraldError", status: 503, code: "unavailable", retryAfterMs: 120_000 },
  );
  assert.ok(performance.now() - start < 5_000);
  assert.deepEqual(
    proxy.seen.map((s) => s.key),
    ["lead-44"],
  );

  // With retries off, a 503 is thrown at once too.
  const none = createHerald({ serverUrl: proxyUrl, token, retries: 0 });
  proxy.seen = [];
  proxy.spoil = 1;
  proxy.retryAfter = "1";
  await assert.rejects(none.get("/v1/apps"), { status: 503 });
  assert.equal(proxy.seen.length, 1);
});
