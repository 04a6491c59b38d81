// Test harness for the JavaScript client: real session servers (python -m session_server) on free
// ports, tokens signed like session_server.protocol.auth, the ws package as WebSocket in Node 20.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const ROOT = process.env.PHYG_ROOT || path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const require = createRequire(path.join(ROOT, "tools/node/package.json"));
export const WebSocket = require("ws");
export const PYTHON = process.env.PHYG_PYTHON || path.join(ROOT, ".venv/bin/python");
export const SECRET = "js-test-secret-0123456789";
export const TIME_FACTOR = Number(process.env.PHYGITAL_TIME_FACTOR || "1");
export const REDIS_URL = "redis://127.0.0.1:6379/0";
const REDIS_PREFIX = process.env.PHYG_REDIS_PREFIX || `phygital-jstest:${process.pid}`;

const clientModule = await import(path.join(ROOT, "session_server/web/static/phygital-client.js"));
export const { SessionClient, SessionError, RoomMirror, applyDelta, PresenceTracker, binaryPose, decodeTickFrame } = clientModule;

let prefixes = 0;
/** A Redis key prefix of its own under the one the pytest wrapper cleans up. */
export function redisPrefix() {
  prefixes += 1;
  return `${REDIS_PREFIX}:${prefixes}`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const b64 = (buf) => Buffer.from(buf).toString("base64url");

/** A join token: base64url(claims) "." base64url(HMAC-SHA256(secret, first part)). */
export function token(room, participant, role = "phone", ttlS = 600, secret = SECRET) {
  const claims = { exp: Date.now() / 1000 + ttlS, participant, role, room };
  const head = b64(JSON.stringify(claims));
  return `${head}.${b64(createHmac("sha256", secret).update(head).digest())}`;
}

/**
 * Start `python -m session_server serve` on a free port with PHYGITAL_SESSION_* settings from `env`.
 * @returns {Promise<{port: number, url: string, http: string, proc: import("node:child_process").ChildProcess, stop: Function}>}
 */
export async function startServer(env = {}) {
  const port = await freePort();
  const proc = spawn(PYTHON, ["-m", "session_server", "serve", "--port", String(port), "--quiet"], {
    cwd: mkdtempSync(path.join(tmpdir(), "phygital-js-")), // default catalog/retail files land there
    env: { ...process.env, PYTHONPATH: ROOT, PHYGITAL_SESSION_TOKEN_SECRET: SECRET, ...env },
    stdio: ["ignore", "ignore", process.env.PHYG_SERVER_LOGS ? "inherit" : "ignore"],
  });
  let exited = false;
  proc.on("exit", () => {
    exited = true;
  });
  const http = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000 * TIME_FACTOR;
  for (;;) {
    if (exited) throw new Error(`server on port ${port} exited at start`);
    try {
      const res = await fetch(`${http}/health`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`server on port ${port} did not start`);
    await sleep(100);
  }
  const stop = async (signal = "SIGTERM") => {
    if (exited) return;
    const gone = new Promise((r) => proc.once("exit", r));
    proc.kill(signal);
    let timer;
    await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 15000 * TIME_FACTOR)))]);
    clearTimeout(timer);
    if (!exited) proc.kill("SIGKILL");
  };
  return { port, url: `ws://127.0.0.1:${port}/ws`, http, proc, stop };
}

/** A connected client of `room` as `participant`. */
export async function joined(urls, room, participant, role = "phone", opts = {}) {
  const c = new SessionClient({ urls, room, token: token(room, participant, role), WebSocket, ...opts });
  await c.connect();
  return c;
}

/** A pose as the client sends it. */
export const pose = (x, y = 0, z = 0) => ({ p: [x, y, z], q: [0, 0, 0, 1] });
