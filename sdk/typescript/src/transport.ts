// What the OpenAPI document cannot say, done below the generated calls: the
// token, idempotency keys, retries of 429 and 503, and error answers turned
// into HeraldError. It is a fetch function, so openapi-fetch's client and the
// helpers of index.ts share it.

import type { components } from "./schema.js";

export type ErrorCode = components["schemas"]["ErrorCode"];

/**
 * An answer of status 400 or above, with the error body Herald sends with
 * every such answer. An answer that does not carry that body (a proxy's, say)
 * keeps its status, an empty code and the start of its body as message.
 */
export class HeraldError extends Error {
  override readonly name = "HeraldError";
  readonly status: number;
  readonly code: ErrorCode | "";
  /** The offending input (a JSON field, a query parameter, a header), when there is one. */
  readonly field: string | undefined;
  /** The answer's Retry-After in milliseconds, when it had one. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, code: ErrorCode | "", message: string, field?: string, retryAfterMs?: number) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfterMs = retryAfterMs;
  }

  override toString(): string {
    const field = this.field === undefined ? "" : ` (field ${this.field})`;
    return `HeraldError: ${this.status} ${this.code}: ${this.message}${field}`;
  }
}

export interface TransportOptions {
  token: string;
  /** How many times a 429 or 503 (or a request that got no answer) is tried again: 3 by default, none when 0. */
  retries?: number;
  /** The longest wait before a retry, 30 s by default: an answer asking for longer is thrown at once. */
  maxWaitMs?: number;
  /** Sends the requests; globalThis.fetch by default. */
  fetch?: (request: Request) => Promise<Response>;
}

// maxErrorMessage bounds how much of an error answer is kept as its message
// when it is not Herald's error shape.
const maxErrorMessage = 200;

/**
 * retryAfterMs reads a Retry-After value, seconds or an HTTP date, as
 * milliseconds from now; undefined when absent or unreadable, 0 when it is
 * already past.
 */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  const v = value?.trim() ?? "";
  if (v === "") return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // Only a date with a weekday or month name: Date.parse reads "-1" as a year.
  const at = /[a-z]/i.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * backoffMs is the wait before retry number attempt+1 when the answer did not
 * say: half a second doubled each time up to 8 s, of which a random half, so
 * that clients turned away together do not come back together.
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const d = 500 * 2 ** Math.min(attempt, 4);
  return d / 2 + Math.floor(random() * (d / 2 + 1));
}

/** newIdempotencyKey returns a random key, in the shape the Go client uses. */
export function newIdempotencyKey(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return "idem_" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** readError reads an answer of status 400 or above into a HeraldError. */
export async function readError(res: Response): Promise<HeraldError> {
  const retryAfter = retryAfterMs(res.headers.get("Retry-After"));
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as Partial<components["schemas"]["Error"]>;
    const e = body.error;
    if (e && typeof e.code === "string" && typeof e.message === "string") {
      return new HeraldError(res.status, e.code, e.message, typeof e.field === "string" ? e.field : undefined, retryAfter);
    }
  } catch {
    // Not JSON: a proxy's page, say; its start is the message below.
  }
  const message = text.slice(0, maxErrorMessage).trim() || res.statusText || `status ${res.status}`;
  return new HeraldError(res.status, "", message, undefined, retryAfter);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * heraldFetch returns the fetch function every call goes through. It resolves
 * only with answers below 400 and rejects with a HeraldError otherwise, after
 * the retries.
 */
export function heraldFetch(o: TransportOptions): (request: Request) => Promise<Response> {
  if (!o.token) throw new Error("herald client: no token");
  const retries = o.retries ?? 3;
  const maxWaitMs = o.maxWaitMs ?? 30_000;
  const send = o.fetch ?? ((r: Request) => globalThis.fetch(r));

  return async (request: Request) => {
    const headers = new Headers(request.headers);
    headers.set("Authorization", `Bearer ${o.token}`);
    // Every POST gets a key, set here once, so that each try carries the
    // same one and a try whose answer was lost is not taken twice.
    if (request.method === "POST" && !headers.has("Idempotency-Key")) {
      headers.set("Idempotency-Key", newIdempotencyKey());
    }
    const base = new Request(request, { headers });
    // A request without a key that is not GET, PUT or DELETE may have been
    // applied when no answer came back; only an answer says it was not.
    const safe = ["GET", "HEAD", "PUT", "DELETE"].includes(base.method) || headers.has("Idempotency-Key");

    for (let attempt = 0; ; attempt++) {
      // Each try sends a copy: a body can be read only once.
      let res: Response;
      try {
        res = await send(base.clone());
      } catch (err) {
        if (attempt >= retries || !safe || base.signal.aborted) throw err;
        await sleep(Math.min(backoffMs(attempt), maxWaitMs), base.signal);
        continue;
      }
      if (res.status < 400) return res;
      const retryable = res.status === 429 || res.status === 503;
      const wait = retryAfterMs(res.headers.get("Retry-After"));
      if (!retryable || attempt >= retries || (wait !== undefined && wait > maxWaitMs)) {
        throw await readError(res);
      }
      // The answer is dropped unread, so that its connection is freed.
      await res.body?.cancel();
      await sleep(wait ?? Math.min(backoffMs(attempt), maxWaitMs), base.signal);
    }
  };
}
