// Two server processes sharing rooms through Redis: kill the lease holder (SIGKILL) while the JS
// clients keep working, then stop the other gracefully (shutdown frames); nothing is lost or doubled.
import { test } from "node:test";
import assert from "node:assert/strict";
import { REDIS_URL, joined, pose, redisPrefix, sleep, startServer } from "./harness.mjs";

const ROOM = "showroom";

test("two processes share a room; a killed process and a graceful shutdown lose nothing", async () => {
  const env = {
    PHYGITAL_SESSION_REDIS_URL: REDIS_URL,
    PHYGITAL_SESSION_REDIS_PREFIX: redisPrefix(),
    PHYGITAL_SESSION_LEASE_MS: "800",
  };
  const [srvA, srvB] = await Promise.all([startServer(env), startServer(env)]);
  const clients = {};
  const seen = {};
  try {
    const names = [
      ["a1", [srvA.url, srvB.url]],
      ["b1", [srvB.url, srvA.url]],
      ["a2", [srvA.url, srvB.url]],
      ["b2", [srvB.url, srvA.url]],
    ];
    for (const [name, urls] of names) {
      clients[name] = await joined(urls, ROOM, name, "phone", { requestTimeoutMs: 20000, retryIntervalMs: 1000 });
      seen[name] = [];
      clients[name].on("delta", (d) => seen[name].push(d));
    }
    const health = await (await fetch(`${srvA.http}/health`)).json();
    assert.equal(health.leading, 1, "a1 joined first: process A orders the room");

    const work = async (name, rounds, tag) => {
      const c = clients[name];
      const oid = `${name}-obj`;
      if (!(oid in c.state.objects)) await c.request("object.place", { object: oid, sku: `SKU-${name}`, pose: pose(0) });
      await c.request("object.lock", { object: oid });
      for (let i = 0; i < rounds; i++) {
        await c.request("object.move", { object: oid, pose: pose(i), id: `${name}-${tag}-${i}` });
        c.sendPresence([i, 1.6, 0]);
      }
    };
    const converge = async () => {
      const rev = Math.max(...Object.values(clients).map((c) => c.state.revision));
      for (const c of Object.values(clients)) {
        await c.waitUntil(
          (s) => s.revision >= rev && Object.values(s.participants).every((p) => p.connected),
          15000,
        );
      }
    };

    await Promise.all(names.map(([n]) => work(n, 10, "one")));
    await converge();
    const order = (n) => seen[n].filter((d) => d.rev > 6).map((d) => `${d.rev} ${d.op} ${d.data.object}`);
    for (const [n] of names) assert.deepEqual(order(n), order("a1"), `${n} saw the same order`);
    for (let i = 0; i < 60; i++) {
      if (clients.a1.mirror.presence.latest.b1?.[0] === 9 && clients.b1.mirror.presence.latest.a1?.[0] === 9) break;
      await sleep(50);
    }
    assert.equal(clients.a1.mirror.presence.latest.b1[0], 9, "presence crosses processes");
    assert.equal(clients.b1.mirror.presence.latest.a1[0], 9);

    // kill the process that holds the lease while everyone keeps working
    const killer = (async () => {
      await sleep(50);
      srvA.proc.kill("SIGKILL");
    })();
    await Promise.all([killer, ...names.map(([n]) => work(n, 15, "two"))]);
    assert.ok(clients.a1.resumes >= 1 && clients.a2.resumes >= 1, "A's clients resumed on B");
    await converge();
    const snaps = Object.values(clients).map((c) => c.mirror.snapshot());
    for (const s of snaps) assert.deepEqual(s, snaps[0]);
    for (const [n] of names) assert.deepEqual(clients.b1.state.objects[`${n}-obj`].pose.slice(0, 3), [14, 0, 0]);
    for (const [n] of Object.entries(seen)) {
      const counts = new Map();
      for (const d of seen[n]) if (d.op === "object.move") counts.set(d.data.req, (counts.get(d.data.req) || 0) + 1);
      for (const [other] of names) {
        for (const [tag, rounds] of [["one", 10], ["two", 15]]) {
          for (let i = 0; i < rounds; i++) {
            assert.equal(counts.get(`${other}-${tag}-${i}`), 1, `${n} saw ${other}-${tag}-${i} exactly once`);
          }
        }
      }
    }

    // a graceful stop: a new process C joins the pool, B says shutdown, everyone resumes on C
    const srvC = await startServer(env);
    try {
      for (const c of Object.values(clients)) c.urls.push(srvC.url);
      const shutdowns = Object.values(clients).map((c) => new Promise((r) => c.on("shutdown", r)));
      await srvB.stop("SIGTERM");
      await Promise.all(shutdowns);
      await clients.b2.request("object.move", { object: "b2-obj", pose: pose(20), id: "b2-after" });
      await converge();
      for (const c of Object.values(clients)) {
        assert.ok(c.shutdowns >= 1);
        assert.equal(c.state.objects["b2-obj"].pose[0], 20);
        assert.equal(c.status, "open");
      }
    } finally {
      for (const c of Object.values(clients)) await c.close();
      await srvC.stop("SIGKILL");
    }
  } finally {
    await srvA.stop("SIGKILL");
    await srvB.stop("SIGKILL");
  }
});
