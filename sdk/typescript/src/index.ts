// Herald's TypeScript client: the types and calls generated from the API's
// OpenAPI document (schema.ts, by openapi-typescript; calls by openapi-fetch),
// with a thin layer for what a document cannot say (transport.ts) and helpers
// that answer with the body itself, so that callers need not check for an
// error branch that cannot happen: every answer of 400 or above is thrown.

import createClient, { type Client, type FetchResponse, type MaybeOptionalInit } from "openapi-fetch";
import type { HttpMethod, MediaType, PathsWithMethod, RequiredKeysOf } from "openapi-typescript-helpers";
import type { components, paths } from "./schema.js";
import { heraldFetch } from "./transport.js";

export type { components, operations, paths } from "./schema.js";
export { HeraldError, type ErrorCode, backoffMs, newIdempotencyKey, retryAfterMs } from "./transport.js";

/** The API's schemas by name: `Schemas["App"]`, `Schemas["EventCreate"]`, … */
export type Schemas = components["schemas"];

export interface HeraldOptions {
  /** The server's base URL, e.g. http://127.0.0.1:8080. */
  serverUrl: string;
  /** Sent as `Authorization: Bearer <token>`: the admin token or an API key. */
  token: string;
  /** How many times a 429 or 503 (or a request that got no answer) is tried again: 3 by default, none when 0. */
  retries?: number;
  /** The longest wait before a retry, 30 000 by default: an answer whose Retry-After asks for longer is thrown at once. */
  maxWaitMs?: number;
  /** Sends the requests; globalThis.fetch by default. */
  fetch?: (request: Request) => Promise<Response>;
}

// The second argument of a call, optional when the operation has nothing
// required (as openapi-fetch's own methods take it).
type InitParam<Init> = RequiredKeysOf<Init> extends never
  ? [(Init & { [key: string]: unknown })?]
  : [Init & { [key: string]: unknown }];

/** The body of a successful answer of method on path. */
export type Answer<P extends keyof paths, M extends HttpMethod, Init = {}> = Exclude<
  FetchResponse<paths[P][M] & Record<string | number, unknown>, Init, MediaType>["data"],
  undefined
>;

// Answers without a body (204) are void rather than never, so that code
// after an awaited delete is not taken for unreachable.
type OrVoid<T> = [T] extends [never] ? void : T;

/** A helper call: the answer's body, or a thrown HeraldError. */
export type Call<M extends HttpMethod> = <P extends PathsWithMethod<paths, M>, I extends MaybeOptionalInit<paths[P], M>>(
  url: P,
  ...init: InitParam<I>
) => Promise<OrVoid<Answer<P, M, I>>>;

/** A page of a list, as every list answers. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** The paths whose GET answers a page of a list. */
export type ListPath = {
  [P in PathsWithMethod<paths, "get">]: Answer<P, "get"> extends Page<unknown> ? P : never;
}[PathsWithMethod<paths, "get">];

/** The item of the list on path. */
export type Item<P extends ListPath> = Answer<P, "get"> extends Page<infer T> ? T : never;

export interface Herald {
  /**
   * The generated client (openapi-fetch): every operation, typed. It goes
   * through the same token, keys and retries, and its answers of 400 or
   * above are thrown as HeraldError too, so its `error` is never set.
   */
  readonly api: Client<paths>;
  get: Call<"get">;
  post: Call<"post">;
  patch: Call<"patch">;
  delete: Call<"delete">;
  /** Every page of a list, from the cursor given (or the first page) to the last. */
  pages<P extends ListPath, I extends MaybeOptionalInit<paths[P], "get">>(
    url: P,
    ...init: InitParam<I>
  ): AsyncGenerator<Page<Item<P>>, void, undefined>;
  /** Every item of a list, page after page (`?limit=` sets the page size). */
  list<P extends ListPath, I extends MaybeOptionalInit<paths[P], "get">>(
    url: P,
    ...init: InitParam<I>
  ): AsyncGenerator<Item<P>, void, undefined>;
}

// How the helpers see the generated client: the public types above say what
// each path takes and answers; inside, one shape serves every path.
interface LooseInit {
  params?: { query?: Record<string, unknown>; [key: string]: unknown };
  [key: string]: unknown;
}
interface LooseClient {
  request(method: string, url: string, init?: LooseInit): Promise<{ data?: unknown; response: Response }>;
}

/** createHerald returns a client of the Herald at serverUrl. */
export function createHerald(options: HeraldOptions): Herald {
  const api = createClient<paths>({
    baseUrl: options.serverUrl.replace(/\/+$/, ""),
    fetch: heraldFetch(options),
    headers: { "User-Agent": "herald-ts" },
  });
  const loose = api as unknown as LooseClient;

  const call =
    (method: HttpMethod) =>
    async (url: string, init?: LooseInit): Promise<unknown> =>
      (await loose.request(method, url, init)).data;

  async function* pages(url: string, init?: LooseInit): AsyncGenerator<Page<unknown>, void, undefined> {
    let query = init?.params?.query ?? {};
    for (;;) {
      const { data } = await loose.request("get", url, { ...init, params: { ...init?.params, query } });
      const page = data as Page<unknown>;
      yield page;
      if (!page.next_cursor) return;
      query = { ...query, cursor: page.next_cursor };
    }
  }

  async function* list(url: string, init?: LooseInit): AsyncGenerator<unknown, void, undefined> {
    for await (const page of pages(url, init)) yield* page.data;
  }

  return {
    api,
    get: call("get") as Call<"get">,
    post: call("post") as Call<"post">,
    patch: call("patch") as Call<"patch">,
    delete: call("delete") as Call<"delete">,
    pages: pages as Herald["pages"],
    list: list as Herald["list"],
  };
}
