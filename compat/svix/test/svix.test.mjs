// Herald's Svix-compatible API (/api/v1/...) driven by Svix's own npm
// client, both generations (1.x and 2.x), against a real Herald built from
// this repository: the same scenario runs once per generation, on fresh
// apps, and every webhook that reaches the local receiver must verify with
// that generation's own Webhook.verify.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as svix1 from "svix1";
import * as svix2 from "svix2";
import { at, Herald, json, Receiver } from "./harness.mjs";

const herald = new Herald();
const receiver = new Receiver();

before(async () => {
  await herald.start();
  await receiver.start();
}, { timeout: 300_000 });

after(async () => {
  receiver.stop();
  await herald.stop();
});

/**
 * The names that differ between the generations: 2.x renamed the PUT
 * operations to upsert and setHeaders, and the endpoint's event filter from
 * filterTypes to eventTypes.
 */
const generations = [
  { gen: 1, mod: svix1, upsert: "update", setHeaders: "updateHeaders", filter: "filterTypes" },
  { gen: 2, mod: svix2, upsert: "upsert", setHeaders: "setHeaders", filter: "eventTypes" },
];

/** pause lets the clock move past a timestamp; it asserts nothing by itself. */
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** isApiError checks that e is the client's ApiException with the given status and a Svix error body. */
function isApiError(ApiException, status, what) {
  return (e) => {
    assert.ok(e instanceof ApiException, `${what}: expected ApiException, got ${e}`);
    assert.equal(e.code, status, `${what}: status ${e.code}, body ${JSON.stringify(e.body)}`);
    if (status !== 422) {
      // The client parses 4xx bodies and hands 5xx ones over as text.
      let body = e.body;
      if (status >= 500) {
        assert.equal(typeof body, "string", `${what}: a ${status} body that the client parsed`);
        body = JSON.parse(body);
      }
      assert.equal(typeof body, "object", `${what}: body is not JSON: ${JSON.stringify(e.body)}`);
      assert.equal(typeof body.code, "string", `${what}: body has no code: ${JSON.stringify(e.body)}`);
      assert.equal(typeof body.detail, "string", `${what}: body has no detail: ${JSON.stringify(e.body)}`);
    }
    return true;
  };
}

/** collect pages through a Svix list call with limit 1, following iterator until done. */
async function collect(list, what) {
  const out = [];
  let iterator = null;
  for (let page = 0; ; page++) {
    assert.ok(page < 500, `${what}: still not done after 500 pages`);
    const res = await list({ limit: 1, iterator });
    assert.ok(Array.isArray(res.data), `${what}: data is not a list`);
    assert.ok(res.data.length <= 1, `${what}: ${res.data.length} items with limit 1`);
    out.push(...res.data);
    if (res.done) break;
    assert.ok(res.iterator, `${what}: not done and no iterator`);
    assert.notEqual(res.iterator, iterator, `${what}: the same iterator twice`);
    iterator = res.iterator;
  }
  return out;
}

for (const g of generations) {
  test(`svix ${g.gen}.x client against Herald`, { timeout: 240_000 }, async (t) => {
    const { Svix, Webhook, ApiException } = g.mod;
    // The client's own fetch, watched: a failure names the last exchange.
    let last = "";
    const watched = async (url, init) => {
      const res = await fetch(url, init);
      const text = await res.clone().text();
      last = `${init.method} ${url} ${init.body ?? ""} -> ${res.status} ${text}`;
      return res;
    };
    const svix = new Svix(herald.token, { serverUrl: herald.url, fetch: watched });
    const step = (name, fn) =>
      t.test(name, async () => {
        last = "";
        try {
          await fn();
        } catch (e) {
          if (last) e.message += `\nlast request: ${last}`;
          throw e;
        }
      });
    const sfx = `g${g.gen}-${randomBytes(4).toString("hex")}`;
    const mark = (name) => `${name}-${sfx}`;
    const path = (name) => `/${sfx}/${name}`;
    // Every secret each receiver path was given: every webhook to the path
    // must verify with one of them.
    const secrets = new Map();
    const addSecret = (p, key) => secrets.set(p, [...(secrets.get(p) ?? []), key]);
    const apiError = (status, what) => isApiError(ApiException, status, what);

    /** verified checks a delivery with the generation's Webhook, and that one altered byte breaks it. */
    const verified = (req, key) => {
      assert.doesNotThrow(() => new Webhook(key).verify(req.body, req.headers), `webhook to ${req.path} does not verify`);
      const last = req.body.length - 1;
      const altered = req.body.slice(0, last) + (req.body[last] === "}" ? " " : "}");
      assert.throws(() => new Webhook(key).verify(altered, req.headers), `an altered body to ${req.path} still verifies`);
    };

    await step("health", async () => {
      await svix.health.get();
    });

    // Applications.
    const appUid = mark("app");
    let app;
    await step("application create, getOrCreate, get, list, update, patch, delete", async () => {
      app = await svix.application.create({ name: `Acme ${sfx}`, uid: appUid, metadata: { team: "blue" } });
      assert.equal(app.uid, appUid);
      assert.equal(app.name, `Acme ${sfx}`);
      assert.deepEqual(app.metadata, { team: "blue" });
      assert.ok(app.id, "no id");
      assert.ok(app.createdAt instanceof Date && !isNaN(app.createdAt), "no createdAt");

      const again = await svix.application.getOrCreate({ name: `Acme ${sfx}`, uid: appUid });
      assert.equal(again.id, app.id, "getOrCreate of an existing uid answers another app");
      const fresh = await svix.application.getOrCreate({ name: `Fresh ${sfx}`, uid: mark("fresh") });
      assert.notEqual(fresh.id, app.id);
      assert.equal(fresh.uid, mark("fresh"));

      assert.equal((await svix.application.get(app.id)).id, app.id);
      assert.equal((await svix.application.get(appUid)).id, app.id);

      const all = await collect((o) => svix.application.list(o), "application.list");
      const ids = all.map((a) => a.id);
      assert.ok(ids.includes(app.id) && ids.includes(fresh.id), "application.list misses the apps");
      assert.equal(new Set(ids).size, ids.length, "application.list repeats an app");

      const updated = await svix.application[g.upsert](app.id, { name: `Acme renamed ${sfx}`, uid: appUid, metadata: { team: "green" } });
      assert.equal(updated.id, app.id);
      assert.equal(updated.name, `Acme renamed ${sfx}`);
      assert.deepEqual(updated.metadata, { team: "green" });
      // PUT of an app that does not exist creates it.
      const putUid = mark("put");
      const put = await svix.application[g.upsert](putUid, { name: `Put ${sfx}`, uid: putUid });
      assert.equal(put.name, `Put ${sfx}`);
      assert.equal((await svix.application.get(putUid)).id, put.id);

      const patched = await svix.application.patch(appUid, { name: `Acme patched ${sfx}`, metadata: { team: "red" } });
      assert.equal(patched.id, app.id);
      assert.equal(patched.name, `Acme patched ${sfx}`);
      assert.deepEqual(patched.metadata, { team: "red" });
      assert.equal(patched.uid, appUid);

      await svix.application.delete(put.id);
      await assert.rejects(svix.application.get(put.id), apiError(404, "get of a deleted app"));
      await assert.rejects(svix.application.get(putUid), apiError(404, "get by uid of a deleted app"));
      await svix.application.delete(fresh.id);
    });
    if (!app) return;
    const appId = app.id;

    // Event types (global, hence the suffix in their names).
    const typeA = `${sfx}.order.created`;
    const typeB = `${sfx}.order.paid`;
    const example = { marker: mark("example"), order: "o-1", total: 42 };
    const schema = (title) => ({
      "1": {
        title,
        type: "object",
        properties: { marker: { type: "string" }, order: { type: "string" }, total: { type: "number" } },
        required: ["order"],
        examples: [example],
      },
    });
    await step("eventType create, get, list, update, patch, delete", async () => {
      const created = await svix.eventType.create({ name: typeA, description: "An order was placed", schemas: schema("Order") });
      assert.equal(created.name, typeA);
      assert.equal(created.description, "An order was placed");
      assert.deepEqual(created.schemas, schema("Order"));
      await svix.eventType.create({ name: typeB, description: "An order was paid", schemas: schema("Paid") });

      const got = await svix.eventType.get(typeA);
      assert.equal(got.name, typeA);
      assert.deepEqual(got.schemas, schema("Order"));

      const names = (await collect((o) => svix.eventType.list({ ...o, withContent: true }), "eventType.list")).map((e) => e.name);
      assert.ok(names.includes(typeA) && names.includes(typeB), "eventType.list misses the types");

      const updated = await svix.eventType[g.upsert](typeA, { description: "An order was created", schemas: schema("Order") });
      assert.equal(updated.description, "An order was created");
      assert.deepEqual(updated.schemas, schema("Order"));
      // PUT of a type that does not exist creates it.
      const typeGone = `${sfx}.order.gone`;
      const put = await svix.eventType[g.upsert](typeGone, { description: "Created by PUT", schemas: schema("Gone") });
      assert.equal(put.name, typeGone);
      assert.equal((await svix.eventType.get(typeGone)).description, "Created by PUT");

      const patched = await svix.eventType.patch(typeA, { description: "An order, patched" });
      assert.equal(patched.description, "An order, patched");
      assert.deepEqual(patched.schemas, schema("Order"), "patch without schemas lost them");

      // Svix archives a deleted type: gone from the list, and either gone
      // or archived when read.
      await svix.eventType.delete(typeGone);
      const listed = (await collect((o) => svix.eventType.list(o), "eventType.list after delete")).map((e) => e.name);
      assert.ok(!listed.includes(typeGone), "a deleted event type is still listed");
      try {
        const gone = await svix.eventType.get(typeGone);
        assert.equal(gone.archived, true, "a deleted event type is neither gone nor archived");
      } catch (e) {
        apiError(404, "get of a deleted event type")(e);
      }
    });

    // Endpoints.
    let ep;
    let key;
    const e1 = path("e1");
    await step("endpoint create, get, list, update, patch, getSecret", async () => {
      ep = await svix.endpoint.create(appId, {
        url: receiver.url + e1,
        description: "Orders",
        uid: mark("ep1"),
        metadata: { owner: "ops" },
        [g.filter]: [typeA],
      });
      assert.ok(ep.id, "no id");
      assert.equal(ep.url, receiver.url + e1);
      assert.equal(ep.uid, mark("ep1"));
      assert.deepEqual(ep.metadata, { owner: "ops" });
      assert.deepEqual(ep[g.filter], [typeA], `the filter does not come back as ${g.filter}`);

      assert.equal((await svix.endpoint.get(appId, ep.id)).id, ep.id);
      assert.equal((await svix.endpoint.get(appUid, mark("ep1"))).id, ep.id, "get by app uid and endpoint uid");
      const listed = await collect((o) => svix.endpoint.list(appId, o), "endpoint.list");
      assert.deepEqual(listed.map((e) => e.id), [ep.id]);

      const updated = await svix.endpoint[g.upsert](appId, ep.id, {
        url: receiver.url + e1,
        description: "Orders, updated",
        uid: mark("ep1"),
        [g.filter]: [typeA, typeB],
      });
      assert.equal(updated.id, ep.id);
      assert.equal(updated.description, "Orders, updated");
      assert.deepEqual([...updated[g.filter]].sort(), [typeA, typeB].sort());

      // PUT of an endpoint that does not exist creates it, with that uid.
      const putUid = mark("ep-put");
      const put = await svix.endpoint[g.upsert](appId, putUid, { url: receiver.url + path("put"), [g.filter]: [typeB] });
      assert.notEqual(put.id, ep.id);
      assert.equal((await svix.endpoint.get(appId, putUid)).id, put.id);
      await svix.endpoint.delete(appId, putUid);
      await assert.rejects(svix.endpoint.get(appId, put.id), apiError(404, "get of a deleted endpoint"));

      const patched = await svix.endpoint.patch(appId, ep.id, { description: "Orders, patched" });
      assert.equal(patched.description, "Orders, patched");
      assert.deepEqual([...patched[g.filter]].sort(), [typeA, typeB].sort(), "patch without a filter lost it");

      key = (await svix.endpoint.getSecret(appId, ep.id)).key;
      assert.match(key, /^whsec_/);
      addSecret(e1, key);
    });
    if (!ep) return;

    // Messages: the payload is the body itself, byte for byte.
    const payload = { marker: mark("m1"), order: "o-1", total: 12.5, buyer: { name: "山田 太郎", tags: ["a", "b"] }, note: null };
    let m1;
    await step("message create: the payload is the body, signed", async () => {
      m1 = await svix.message.create(appId, { eventType: typeA, payload, eventId: mark("evt1") });
      assert.ok(m1.id, "no id");
      assert.equal(m1.eventType, typeA);
      assert.equal(m1.eventId, mark("evt1"));
      const [got] = await receiver.waitFor(at(e1, payload.marker), "m1 at e1");
      assert.equal(got.body, JSON.stringify(payload), "the body is not the payload as sent");
      verified(got, key);
    });
    await step("message create: markup characters arrive as sent", async () => {
      const p = { marker: mark("html"), order: "<b>o&2</b>", total: 1 };
      await svix.message.create(appId, { eventType: typeA, payload: p });
      const [got] = await receiver.waitFor(at(e1, p.marker), "html at e1");
      assert.equal(got.body, JSON.stringify(p), "the body is not the payload as sent");
    });

    await step("message get by id and by eventId", async () => {
      const byId = await svix.message.get(appId, m1.id, { withContent: true });
      assert.equal(byId.id, m1.id);
      assert.equal(byId.eventType, typeA);
      assert.deepEqual(byId.payload, payload);
      const byEventId = await svix.message.get(appId, mark("evt1"), { withContent: true });
      assert.equal(byEventId.id, m1.id);
    });

    await step("the same eventId twice delivers once", async () => {
      // Svix either answers the first message again or refuses with 409.
      try {
        const dup = await svix.message.create(appId, { eventType: typeA, payload, eventId: mark("evt1") });
        assert.equal(dup.id, m1.id, "the same eventId made another message");
      } catch (e) {
        apiError(409, "the same eventId again")(e);
      }
      const marker = { marker: mark("after-dup"), order: "o-2", total: 1 };
      await svix.message.create(appId, { eventType: typeA, payload: marker });
      await receiver.waitFor(at(e1, marker.marker), "marker after the duplicate");
      assert.equal(receiver.matching(at(e1, payload.marker)).length, 1, "the same eventId was delivered twice");
    });

    await step("message create with an inline application creates it", async () => {
      const uid = mark("inline");
      const msg = await svix.message.create(uid, {
        eventType: typeA,
        payload: { marker: mark("inline"), order: "o-3", total: 3 },
        application: { name: `Inline ${sfx}`, uid },
      });
      assert.ok(msg.id);
      const inline = await svix.application.get(uid);
      assert.equal(inline.uid, uid);
      assert.equal(inline.name, `Inline ${sfx}`);
    });

    // Channels: an endpoint with channels gets only messages on one of them.
    const e2 = path("e2");
    let ep2;
    let chA;
    let chB;
    let cut;
    let mB;
    await step("channels route messages", async () => {
      ep2 = await svix.endpoint.create(appId, { url: receiver.url + e2, channels: ["ch-a"] });
      assert.deepEqual(ep2.channels, ["ch-a"]);
      addSecret(e2, (await svix.endpoint.getSecret(appId, ep2.id)).key);

      chB = await svix.message.create(appId, { eventType: typeA, payload: { marker: mark("chb"), order: "o", total: 0 }, channels: ["ch-b"] });
      // e1 has no channels: it gets messages whatever their channels.
      await receiver.waitFor(at(e1, mark("chb")), "ch-b message at e1 (no channels)");
      // A message timestamped strictly after every earlier one, for before/after.
      await pause(20);
      cut = new Date();
      await pause(20);
      chA = await svix.message.create(appId, { eventType: typeA, payload: { marker: mark("cha"), order: "o", total: 0 }, channels: ["ch-a", "ch-c"] });
      const [got] = await receiver.waitFor(at(e2, mark("cha")), "ch-a message at e2");
      await receiver.waitFor(at(e1, mark("cha")), "ch-a message at e1 (no channels)");
      verified(got, secrets.get(e2)[0]);
      assert.equal(receiver.matching(at(e2, mark("chb"))).length, 0, "e2 (ch-a) got a ch-b message");
      // A message with no channels does not reach an endpoint with channels.
      const none = await svix.message.create(appId, { eventType: typeA, payload: { marker: mark("noch"), order: "o", total: 0 } });
      assert.ok(none.id);
      await receiver.waitFor(at(e1, mark("noch")), "channel-less message at e1");
      mB = await svix.message.create(appId, { eventType: typeB, payload: { marker: mark("typeb"), order: "o", total: 0 }, channels: ["ch-a"] });
      await receiver.waitFor(at(e2, mark("typeb")), "typeB ch-a message at e2");
      assert.equal(receiver.matching(at(e2, mark("noch"))).length, 0, "e2 (ch-a) got a message without channels");
    });

    await step("message list with eventTypes, before/after and channel", async () => {
      assert.ok(chA && chB && mB, "the messages of the channel step are missing");
      const list = async (o) => (await collect((p) => svix.message.list(appId, { ...p, ...o }), `message.list ${JSON.stringify(o)}`)).map((m) => m.id);
      const everything = await list({});
      for (const m of [m1, chB, chA, mB]) assert.ok(everything.includes(m.id), `message.list misses ${m.id}`);

      assert.deepEqual(await list({ eventTypes: [typeB] }), [mB.id], "eventTypes filter");
      const both = await list({ eventTypes: [typeA, typeB] });
      assert.ok(both.includes(mB.id) && both.includes(m1.id), "eventTypes filter with two types");

      const before = await list({ before: cut });
      assert.ok(before.includes(m1.id) && before.includes(chB.id), "before misses earlier messages");
      assert.ok(!before.includes(chA.id) && !before.includes(mB.id), "before holds later messages");
      const afterCut = await list({ after: cut });
      assert.ok(afterCut.includes(chA.id) && afterCut.includes(mB.id), "after misses later messages");
      assert.ok(!afterCut.includes(m1.id) && !afterCut.includes(chB.id), "after holds earlier messages");

      const onA = await list({ channel: "ch-a" });
      assert.ok(onA.includes(chA.id) && onA.includes(mB.id), "channel filter misses ch-a messages");
      assert.ok(!onA.includes(chB.id) && !onA.includes(m1.id), "channel filter holds other messages");
      const listed = await svix.message.list(appId, { channel: "ch-c", withContent: true });
      assert.deepEqual(listed.data.map((m) => m.id), [chA.id]);
      assert.deepEqual([...listed.data[0].channels].sort(), ["ch-a", "ch-c"]);
    });

    // Attempts.
    await step("messageAttempt listByEndpoint, listByMsg, get, resend, listAttemptedMessages, listAttemptedDestinations", async () => {
      // An attempt is recorded once the receiver has answered: wait for
      // the records of the deliveries seen.
      let a1;
      await until(async () => {
        const byEp = await collect((o) => svix.messageAttempt.listByEndpoint(appId, ep.id, o), "listByEndpoint");
        a1 = byEp.find((a) => a.msgId === m1.id);
        return a1 !== undefined;
      }, "listByEndpoint to hold an attempt of m1");
      assert.equal(a1.endpointId, ep.id);
      assert.equal(a1.status, g.mod.MessageStatus.Success);
      assert.equal(a1.responseStatusCode, 200);
      assert.equal(a1.url, receiver.url + e1);

      const byMsg = await collect((o) => svix.messageAttempt.listByMsg(appId, m1.id, o), "listByMsg");
      assert.deepEqual(byMsg.map((a) => a.endpointId), [ep.id]);
      assert.equal(byMsg[0].id, a1.id);

      const one = await svix.messageAttempt.get(appId, m1.id, a1.id);
      assert.equal(one.id, a1.id);
      assert.equal(one.msgId, m1.id);
      assert.equal(one.responseStatusCode, 200);

      await svix.messageAttempt.resend(appId, m1.id, ep.id);
      const got = await receiver.waitFor(at(e1, payload.marker), "m1 resent to e1", { n: 2 });
      assert.equal(got[1].body, JSON.stringify(payload));
      verified(got[1], key);

      const msgs = await collect((o) => svix.messageAttempt.listAttemptedMessages(appId, ep.id, o), "listAttemptedMessages");
      const mine = msgs.find((m) => m.id === m1.id);
      assert.ok(mine, "listAttemptedMessages misses m1");
      assert.equal(mine.eventType, typeA);

      assert.ok(chA, "the ch-a message of the channel step is missing");
      let dests = [];
      await until(async () => {
        dests = await collect((o) => svix.messageAttempt.listAttemptedDestinations(appId, chA.id, o), "listAttemptedDestinations");
        return dests.length >= 2;
      }, "listAttemptedDestinations to hold both endpoints");
      assert.deepEqual(dests.map((d) => d.id).sort(), [ep.id, ep2.id].sort());
      assert.equal(dests.find((d) => d.id === ep2.id).url, receiver.url + e2);
    });

    // Endpoint headers, stats, examples, secret rotation.
    await step("endpoint headers reach the receiver", async () => {
      await svix.endpoint[g.setHeaders](appId, ep.id, { headers: { "X-Tenant": "acme" } });
      const h1 = await svix.endpoint.getHeaders(appId, ep.id);
      assert.deepEqual(lower(h1.headers), { "x-tenant": "acme" });
      await svix.endpoint.patchHeaders(appId, ep.id, { headers: { "X-Region": "eu" } });
      const h2 = await svix.endpoint.getHeaders(appId, ep.id);
      assert.deepEqual(lower(h2.headers), { "x-tenant": "acme", "x-region": "eu" });

      await svix.message.create(appId, { eventType: typeA, payload: { marker: mark("hdr"), order: "o", total: 0 } });
      const [got] = await receiver.waitFor(at(e1, mark("hdr")), "message with headers at e1");
      assert.equal(got.headers["x-tenant"], "acme");
      assert.equal(got.headers["x-region"], "eu");
      verified(got, key);

      await svix.endpoint.patchHeaders(appId, ep.id, { headers: {}, deleteHeaders: ["X-Region"] });
      assert.deepEqual(lower((await svix.endpoint.getHeaders(appId, ep.id)).headers), { "x-tenant": "acme" });
    });

    await step("endpoint getStats and sendExample", async () => {
      // The receiver has answered e1's deliveries many times by now; the
      // counts follow the recorded attempts.
      let stats;
      await until(async () => {
        stats = await svix.endpoint.getStats(appId, ep.id);
        return stats.success >= 3;
      }, "getStats to count three successes");
      for (const k of ["success", "pending", "sending", "fail", "canceled"]) assert.equal(typeof stats[k], "number", `stats.${k}`);

      const msg = await svix.endpoint.sendExample(appId, ep.id, { eventType: typeA });
      assert.equal(msg.eventType, typeA);
      const [got] = await receiver.waitFor(at(e1, example.marker), "example at e1");
      assert.deepEqual(json(got), example);
      verified(got, key);
    });

    await step("rotateSecret: new deliveries verify with the new secret", async () => {
      await svix.endpoint.rotateSecret(appId, ep.id, {});
      const rotated = (await svix.endpoint.getSecret(appId, ep.id)).key;
      assert.match(rotated, /^whsec_/);
      assert.notEqual(rotated, key);
      addSecret(e1, rotated);
      await svix.message.create(appId, { eventType: typeA, payload: { marker: mark("rotated"), order: "o", total: 0 } });
      const [got] = await receiver.waitFor(at(e1, mark("rotated")), "message after rotation at e1");
      verified(got, rotated);
      key = rotated;
    });

    await step("recover resends failed messages", async () => {
      const e3 = path("e3");
      receiver.failing.add(e3);
      const ep3 = await svix.endpoint.create(appId, { url: receiver.url + e3, [g.filter]: [typeB] });
      addSecret(e3, (await svix.endpoint.getSecret(appId, ep3.id)).key);
      const since = new Date(Date.now() - 1000);
      const failed = await svix.message.create(appId, { eventType: typeB, payload: { marker: mark("fail"), order: "o", total: 0 } });
      // The first attempt and the one retry (--retry-schedule 1s) fail.
      await receiver.waitFor(at(e3, mark("fail")), "attempts of the failing message", { n: 2 });
      await until(async () => {
        const m = (await svix.messageAttempt.listAttemptedMessages(appId, ep3.id)).data.find((x) => x.id === failed.id);
        return m?.status === g.mod.MessageStatus.Fail;
      }, "the failing message to be failed");
      receiver.failing.delete(e3);

      const out = await svix.endpoint.recover(appId, ep3.id, { since });
      assert.ok(out.id, "recover answers no task id");
      assert.ok(out.status !== undefined && out.task !== undefined, "recover answers no task status");
      const got = await receiver.waitFor(at(e3, mark("fail")), "the recovered message at e3", { n: 3 });
      verified(got[2], secrets.get(e3)[0]);
    });

    await step("replayMissing sends what an endpoint never got", async () => {
      const e4 = path("e4");
      const ep4 = await svix.endpoint.create(appId, { url: receiver.url + e4, [g.filter]: [typeA] });
      addSecret(e4, (await svix.endpoint.getSecret(appId, ep4.id)).key);
      const out = await svix.endpoint.replayMissing(appId, ep4.id, { since: new Date(m1.timestamp.getTime() - 1000) });
      assert.ok(out.id, "replayMissing answers no task id");
      const [got] = await receiver.waitFor(at(e4, payload.marker), "m1 replayed to e4");
      assert.equal(got.body, JSON.stringify(payload));
      verified(got, secrets.get(e4)[0]);
      await svix.endpoint.delete(appId, ep4.id);
    });

    await step("svix-* headers when the app asks for them", async () => {
      const res = await herald.api("PATCH", `/v1/apps/${encodeURIComponent(appId)}`, { webhook_headers: "svix" });
      assert.equal(res.status, 200, `PATCH webhook_headers: ${JSON.stringify(res.body)}`);
      await svix.message.create(appId, { eventType: typeA, payload: { marker: mark("svixhdr"), order: "o", total: 0 } });
      const [got] = await receiver.waitFor(at(e1, mark("svixhdr")), "message with svix headers at e1");
      for (const h of ["svix-id", "svix-timestamp", "svix-signature"]) assert.ok(got.headers[h], `no ${h}`);
      for (const h of ["webhook-id", "webhook-timestamp", "webhook-signature"]) assert.equal(got.headers[h], undefined, `${h} beside svix-*`);
      verified(got, key);
    });

    await step("app portal access, and logout ends the token", async () => {
      const access = await svix.authentication.appPortalAccess(appId, {});
      assert.equal(typeof access.url, "string");
      assert.equal(typeof access.token, "string");
      assert.ok(access.token.length > 0);
      const page = await fetch(access.url);
      await page.arrayBuffer();
      assert.equal(page.status, 200, `GET ${access.url}`);

      const portal = new Svix(access.token, { serverUrl: herald.url, fetch: watched });
      const seen = await portal.endpoint.list(appId);
      assert.ok(seen.data.some((e) => e.id === ep.id), "the portal token does not see the app's endpoints");
      await portal.authentication.logout();
      await assert.rejects(portal.endpoint.list(appId), apiError(401, "a call with a logged-out token"));
    });

    await step("an unsupported operation is a clear ApiException", async () => {
      // Herald keeps a payload until its retention ends: expunging one
      // sooner is refused, not silently accepted.
      await assert.rejects(
        svix.message.expungeContent(appId, m1.id),
        (e) => {
          apiError(501, "message.expungeContent")(e);
          assert.equal(JSON.parse(e.body).code, "not_implemented");
          return true;
        },
      );
    });

    await step("endpoint and application delete", async () => {
      await svix.endpoint.delete(appId, ep2.id);
      await assert.rejects(svix.endpoint.get(appId, ep2.id), apiError(404, "get of a deleted endpoint"));
    });

    await step("every webhook verifies with its endpoint's secret", () => {
      const mine = receiver.requests.filter((r) => r.path.startsWith(`/${sfx}/`));
      assert.ok(mine.length > 10, `only ${mine.length} webhooks`);
      for (const r of mine) {
        const keys = secrets.get(r.path) ?? [];
        const ok = keys.some((k) => {
          try {
            new Webhook(k).verify(r.body, r.headers);
            return true;
          } catch {
            return false;
          }
        });
        assert.ok(ok, `a webhook to ${r.path} verifies with none of its ${keys.length} secret(s): ${r.body}`);
      }
    });

    await svix.application.delete(appId);
    await assert.rejects(svix.application.get(appId), apiError(404, "get of a deleted app"));
  });
}

/** lower answers headers with lower-case names, as HTTP compares them. */
function lower(headers) {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

/** until polls cond until it holds, for state the API reports after the fact; it fails after timeoutMs. */
async function until(cond, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await pause(100);
  }
}
