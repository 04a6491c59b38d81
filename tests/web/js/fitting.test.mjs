// The fitting-room and staff room kinds through the JavaScript client, against a real server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { SessionClient, WebSocket, joined, startServer, token } from "./harness.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv.stop();
});

test("a mirror's items and requests reach the staff room; the staff's answer reaches the mirror", async () => {
  const store = `js${process.pid}`;
  const room = `fit.${store}.3`;
  const mirror = await joined(srv.url, room, "mirror-1", "mirror");
  const staff = await joined(srv.url, `staff.${store}`, "eve", "staff");
  assert.equal(mirror.state.kind, "fitting_room");
  assert.equal(staff.state.kind, "staff");
  await mirror.request("item.add", { item: "i1", sku: "TSH-100", size: "M", colour: "white", name: "T-shirt" });
  assert.equal(mirror.state.items.i1.sku, "TSH-100");
  assert.ok(mirror.state.visit, "the first item starts a visit");
  await staff.waitUntil((s) => s.rooms["3"]?.items === 1);
  await mirror.request("request.create", { kind: "size", item: "i1", size: "L" });
  const [rid] = Object.keys(mirror.state.requests);
  await staff.waitUntil((s) => s.requests[rid]?.state === "open");
  assert.equal(staff.state.requests[rid].sku, "TSH-100");
  await staff.request("request.accept", { request: rid });
  await mirror.waitUntil((s) => s.requests[rid].state === "accepted");
  await staff.request("request.deliver", { request: rid });
  await mirror.waitUntil((s) => s.requests[rid].state === "delivered");
  await assert.rejects(staff.request("request.accept", { request: rid }), { code: "conflict" }, "a delivered request is final");
  await mirror.request("look.set", { skus: ["TSH-100"], active: true });
  // the mirror's copy, built from deltas, is the server's state: a viewer's fresh snapshot is the same
  const viewer = await joined(srv.url, room, "vic", "viewer");
  await mirror.waitUntil((s) => "vic" in s.participants);
  await staff.waitUntil((s) => s.rooms["3"]?.open_requests === 0);
  assert.deepEqual(mirror.mirror.snapshot(), viewer.mirror.snapshot());
  const staffView = await joined(srv.url, `staff.${store}`, "val", "viewer");
  await staff.waitUntil((s) => "val" in s.participants);
  assert.deepEqual(staff.mirror.snapshot(), staffView.mirror.snapshot());
  // a second mirror and an unpaired phone are refused, in typed errors
  const other = new SessionClient({ urls: srv.url, room, token: token(room, "mirror-2", "mirror"), WebSocket, autoResume: false });
  await assert.rejects(other.connect(), { code: "conflict" });
  const phone = new SessionClient({ urls: srv.url, room, token: token(room, "phone-x", "phone"), WebSocket, autoResume: false });
  await assert.rejects(phone.connect(), { code: "not_paired" });
  await mirror.request("visit.end", {});
  await mirror.waitUntil((s) => s.visit === null && Object.keys(s.items).length === 0);
  for (const c of [mirror, staff, viewer, staffView]) await c.close();
});
