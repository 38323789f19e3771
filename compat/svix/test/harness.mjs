// What the Svix compatibility test runs against: a Herald built from this
// repository and started on a temporary data directory and a free port of
// 127.0.0.1, and local receivers for its deliveries.

import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// This file is compat/svix/test/harness.mjs.
const repoRoot = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");

/** freePort asks the kernel for a port of 127.0.0.1 that nothing listens on. */
async function freePort() {
  const s = http.createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * A running Herald: its base URL and admin token. The public URL is the
 * server's own address, so that portal links point back at it; it must be
 * known before the start, hence a port picked here rather than ":0".
 */
export class Herald {
  constructor() {
    this.token = "test_" + randomBytes(24).toString("hex");
    this.url = "";
    this.log = "";
    this.dir = "";
    this.child = undefined;
    this.stopping = false;
  }

  async start() {
    this.dir = await mkdtemp(join(tmpdir(), "herald-svix-"));
    const bin = join(this.dir, "herald");
    await promisify(execFile)("go", ["build", "-o", bin, "./cmd/herald"], { cwd: repoRoot });
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    // The server reads HERALD_* variables; only the ones set here apply.
    const env = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("HERALD_")) env[k] = v;
    env.HERALD_ADMIN_TOKEN = this.token;
    const child = spawn(
      bin,
      [
        "serve",
        "--data-dir", join(this.dir, "data"),
        "--addr", `127.0.0.1:${port}`,
        "--public-url", this.url,
        "--allow-private-destinations",
        // One retry a second after the first failure: a failing message
        // is failed for good within seconds, for recover to find it.
        "--retry-schedule", "1s",
      ],
      { env, stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    // Should the runner itself be stopped before stop() runs, the server
    // goes with it rather than outlive the test.
    process.on("exit", () => child.kill("SIGKILL"));
    child.stdout.on("data", (b) => (this.log += b.toString()));
    child.stderr.on("data", (b) => (this.log += b.toString()));
    let exited = false;
    child.on("exit", (code, signal) => {
      exited = true;
      // Killed by stop() is expected; any other end is a crash whose log
      // explains the failures that follow.
      if (!this.stopping) process.stderr.write(`herald exited (${code ?? signal}) during the test:\n${this.log}\n`);
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`herald exited before it was ready:\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`herald was not ready within 60 s:\n${this.log}`);
      try {
        const res = await fetch(`${this.url}/readyz`);
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop() {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** api calls Herald's own API (/v1/...) with the admin token; it answers the status and the parsed body. */
  async api(method, path, body) {
    const res = await fetch(this.url + path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, body: json };
  }
}

/**
 * A local receiver that keeps every request it gets, in order. Paths listed
 * in `failing` are answered 500, every other one 200.
 */
export class Receiver {
  constructor() {
    /** @type {{path: string, headers: Record<string, string>, body: string, at: number}[]} */
    this.requests = [];
    this.failing = new Set();
    this.waiters = [];
    this.url = "";
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const path = (req.url ?? "").split("?")[0];
        res.writeHead(this.failing.has(path) ? 500 : 200, { "content-type": "text/plain" }).end("ok");
        this.requests.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
        this.waiters = this.waiters.filter((w) => !w.check());
      });
    });
  }

  async start() {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.url = `http://127.0.0.1:${this.server.address().port}`;
  }

  stop() {
    this.server.closeAllConnections();
    this.server.close();
  }

  /** matching lists the requests received so far that pred accepts. */
  matching(pred) {
    return this.requests.filter(pred);
  }

  /**
   * waitFor resolves with the requests pred accepts once there are at least
   * n of them, and rejects with `what` if they do not come within timeoutMs.
   */
  waitFor(pred, what, { n = 1, timeoutMs = 30_000 } = {}) {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          const got = this.matching(pred);
          if (got.length < n) return false;
          clearTimeout(w.timer);
          resolve(got);
          return true;
        },
      };
      if (w.check()) return;
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${what}: ${this.matching(pred).length} of ${n} request(s) within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

/** json parses a request's body, or answers undefined when it is not JSON. */
export function json(req) {
  try {
    return JSON.parse(req.body);
  } catch {
    return undefined;
  }
}

/** at accepts the requests to path whose JSON body has the given marker. */
export function at(path, marker) {
  return (r) => r.path === path && json(r)?.marker === marker;
}
