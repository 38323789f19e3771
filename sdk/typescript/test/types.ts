// Compiled, never run: each line states a type the client must give (tsc
// fails on a wrong one, and on an @ts-expect-error that finds no error).
import { createHerald, type Schemas } from "../src/index.js";
const h = createHerald({ serverUrl: "http://127.0.0.1:1", token: "t" });
export async function f() {
  const app: Schemas["App"] = await h.post("/v1/apps", { body: { name: "x", uid: "y" } });
  const got = await h.get("/v1/apps/{app}", { params: { path: { app: app.id } } });
  const n: string = got.name;
  await h.delete("/v1/apps/{app}", { params: { path: { app: app.id } } });
  const after = 1;
  for await (const e of h.list("/v1/apps/{app}/events", { params: { path: { app: "a" }, query: { limit: 1 } } })) {
    const id: string = e.id;
  }
  for await (const a of h.list("/v1/apps")) { const x: string = a.name; }
  // @ts-expect-error: not a list
  h.list("/v1/apps/{app}", { params: { path: { app: "a" } } });
  // @ts-expect-error: name is a string
  await h.post("/v1/apps", { body: { name: 3 } });
  return [n, after];
}
export async function g() {
  for await (const e of h.list("/v1/apps/{app}/events", { params: { path: { app: "a" } } })) {
    // @ts-expect-error: an id is a string, so the item is typed (not any)
    const bad: number = e.id;
    return bad;
  }
  const ev = await h.post("/v1/apps/{app}/events", { params: { path: { app: "a" }, header: { "Idempotency-Key": "k" } }, body: { event_type: "x", payload: {} } });
  // @ts-expect-error: typed answer
  const bad2: number = ev.id;
  const d = await h.delete("/v1/apps/{app}", { params: { path: { app: "a" } } });
  const v: void = d;
  return [bad2, v];
}
