// Retries decided by the transport, with answers made up by a fetch of the
// test's own: the cases a real server does not give on demand.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHerald, HeraldError } from "../src/index.js";

/** scripted answers each request with the next step: a Response, or a thrown error. */
function scripted(steps: (() => Response)[]) {
  const seen: Request[] = [];
  const fetch = async (r: Request): Promise<Response> => {
    seen.push(r);
    const step = steps.shift();
    if (!step) throw new Error("no more answers scripted");
    return step();
  };
  return { seen, fetch };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => () =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
const refused = () => {
  throw new TypeError("fetch failed");
};
const busy = json(429, { error: { code: "rate_limited", message: "slow down" } });
const app = { id: "app_1", uid: null, name: "A" };

test("a 429 without Retry-After waits a jittered backoff, then succeeds", async () => {
  const s = scripted([busy, json(200, app)]);
  const h = createHerald({ serverUrl: "http://127.0.0.1:1/", token: "t", fetch: s.fetch });
  const start = performance.now();
  const got = await h.get("/v1/apps/{app}", { params: { path: { app: "app_1" } } });
  const waited = performance.now() - start;
  assert.equal(got.id, "app_1");
  assert.equal(s.seen.length, 2);
  assert.equal(s.seen[0]?.url, "http://127.0.0.1:1/v1/apps/app_1");
  assert.equal(s.seen[0]?.headers.get("Authorization"), "Bearer t");
  assert.equal(s.seen[0]?.headers.get("Idempotency-Key"), null, "a GET gets no key");
  assert.ok(waited >= 240 && waited < 2_000, `waited ${waited} ms, not the first backoff (250–500 ms)`);
});

test("a POST that got no answer is sent again with the same key and body", async () => {
  const s = scripted([refused, json(201, app)]);
  const h = createHerald({ serverUrl: "http://127.0.0.1:1", token: "t", fetch: s.fetch });
  await h.post("/v1/apps", { body: { name: "A" } });
  assert.equal(s.seen.length, 2);
  const [a, b] = s.seen;
  assert.match(a?.headers.get("Idempotency-Key") ?? "", /^idem_/);
  assert.equal(b?.headers.get("Idempotency-Key"), a?.headers.get("Idempotency-Key"));
  assert.equal(await b?.text(), JSON.stringify({ name: "A" }));
});

test("a PATCH that got no answer is not sent again: it may have been applied", async () => {
  const s = scripted([refused, json(200, app)]);
  const h = createHerald({ serverUrl: "http://127.0.0.1:1", token: "t", fetch: s.fetch });
  await assert.rejects(h.patch("/v1/apps/{app}", { params: { path: { app: "a" } }, body: { name: "B" } }), TypeError);
  assert.equal(s.seen.length, 1);
});

test("after the last retry, the answer is thrown with its wait", async () => {
  const wait = json(503, { error: { code: "unavailable", message: "nothing was stored" } }, { "Retry-After": "0" });
  const s = scripted([wait, wait, wait]);
  const h = createHerald({ serverUrl: "http://127.0.0.1:1", token: "t", retries: 2, fetch: s.fetch });
  await assert.rejects(h.get("/v1/apps"), (e: unknown) => {
    assert.ok(e instanceof HeraldError);
    assert.deepEqual([e.status, e.code, e.message, e.retryAfterMs], [503, "unavailable", "nothing was stored", 0]);
    return true;
  });
  assert.equal(s.seen.length, 3);
});

test("a 400 is not retried", async () => {
  const s = scripted([json(400, { error: { code: "unknown_field", message: "unknown field nmae", field: "nmae" } })]);
  const h = createHerald({ serverUrl: "http://127.0.0.1:1", token: "t", fetch: s.fetch });
  await assert.rejects(h.post("/v1/apps", { body: { name: "A" } }), { status: 400, code: "unknown_field", field: "nmae" });
  assert.equal(s.seen.length, 1);
});
