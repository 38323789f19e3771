// The transport's pure parts: Retry-After, backoff, and error answers that
// are not Herald's.

import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffMs, HeraldError, retryAfterMs } from "../src/index.js";
import { readError } from "../src/transport.js";

test("Retry-After in seconds or as an HTTP date", () => {
  const now = Date.parse("2026-12-03T12:00:00Z");
  assert.equal(retryAfterMs("3", now), 3_000);
  assert.equal(retryAfterMs(" 0 ", now), 0);
  assert.equal(retryAfterMs("Thu, 03 Dec 2026 12:00:07 GMT", now), 7_000);
  assert.equal(retryAfterMs("Thu, 03 Dec 2026 11:00:00 GMT", now), 0, "a past date asks for no wait");
  assert.equal(retryAfterMs(null, now), undefined);
  assert.equal(retryAfterMs("", now), undefined);
  assert.equal(retryAfterMs("soon", now), undefined);
  assert.equal(retryAfterMs("-1", now), undefined);
});

test("backoff doubles up to 8 s, jittered within its upper half", () => {
  assert.equal(backoffMs(0, () => 0), 250);
  assert.equal(backoffMs(0, () => 0.999), 500);
  assert.equal(backoffMs(1, () => 0), 500);
  assert.equal(backoffMs(4, () => 0), 4_000);
  assert.equal(backoffMs(9, () => 0), 4_000);
  assert.equal(backoffMs(9, () => 1 - Number.EPSILON), 8_000);
});

test("an error answer that is not Herald's keeps its status and text", async () => {
  const e = await readError(new Response("<h1>Bad gateway</h1>", { status: 502, headers: { "Retry-After": "2" } }));
  assert.ok(e instanceof HeraldError);
  assert.equal(e.status, 502);
  assert.equal(e.code, "");
  assert.equal(e.message, "<h1>Bad gateway</h1>");
  assert.equal(e.retryAfterMs, 2_000);

  const h = await readError(
    new Response(JSON.stringify({ error: { code: "conflict", message: "uid taken", field: "uid" } }), { status: 409 }),
  );
  assert.deepEqual([h.status, h.code, h.message, h.field, h.retryAfterMs], [409, "conflict", "uid taken", "uid", undefined]);
  assert.equal(String(h), "HeraldError: 409 conflict: uid taken (field uid)");
});
