// The fitting-room and staff kinds' deltas in the JavaScript mirror (same rules as protocol/kinds/*.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { RoomMirror } from "./harness.mjs";

const base = (extra) => ({ room: "fit.paris-01.3", revision: 0, participants: [], ...extra });

test("fitting room: a visit, items, requests, the phone, the look and recommendations", () => {
  const m = new RoomMirror("fit.paris-01.3");
  m.load({
    state: base({
      kind: "fitting_room", store: "paris-01", name: "3", visit: null, items: {}, requests: {}, phone: null,
      look: { skus: [], active: false }, recs: {},
    }),
  });
  let rev = 0;
  const apply = (op, data) => m.apply({ rev: ++rev, op, data });
  assert.throws(() => m.apply({ rev: 1, op: "item.added", data: { item: "i1", sku: "S", added: 1 } }), { code: "bad_delta" });
  apply("participant.join", { participant: "mirror-1", role: "mirror", session: "s" });
  apply("visit.started", { visit: { id: "v1", started: 10 } });
  apply("item.added", { item: "i1", sku: "TEE-01", size: "M", colour: "blue", known: 1, source: "rfid", tag: "E1", added: 11 });
  apply("item.added", { item: "i2", sku: null, known: false, source: "rfid", tag: "E2", added: 12 });
  apply("recs.set", { item: "i1", recs: { sizes: ["L"] } });
  apply("request.created", { request: "r1", kind: "size", item: "i1", size: "L", colour: null, at: 13 });
  apply("request.updated", { request: "r1", state: "accepted", by_staff: "staff-1", at: 14 });
  apply("phone.paired", { participant: "phone-9", paired: 15 });
  apply("look.set", { skus: ["TEE-01"], active: true });
  const s = m.state;
  assert.deepEqual(s.items.i1, {
    sku: "TEE-01", size: "M", colour: "blue", name: null, price: null, currency: null, model_url: null, image_url: null,
    source: "rfid", known: true, tag: "E1", added: 11,
  });
  assert.equal(s.items.i2.known, false);
  assert.deepEqual(s.requests.r1, { kind: "size", item: "i1", size: "L", colour: null, state: "accepted", by_staff: "staff-1", updated: 14 });
  assert.deepEqual(s.phone, { participant: "phone-9", paired: 15 });
  assert.deepEqual(s.look, { skus: ["TEE-01"], active: true });
  apply("item.removed", { item: "i1", reason: "left" });
  assert.deepEqual(Object.keys(m.state.items), ["i2"]);
  assert.deepEqual(m.state.recs, {}, "an item's recommendations leave with it");
  assert.throws(() => m.apply({ rev: rev + 1, op: "visit.started", data: { visit: { id: "v2", started: 1 } } }), { code: "bad_delta" });
  apply("visit.cleared", { reason: "ended", at: 20 });
  const snap = m.snapshot();
  assert.deepEqual(
    { visit: snap.visit, items: snap.items, requests: snap.requests, phone: snap.phone, look: snap.look, recs: snap.recs },
    { visit: null, items: {}, requests: {}, phone: null, look: { skus: [], active: false }, recs: {} },
  );
  assert.equal(snap.kind, "fitting_room");
  assert.deepEqual(snap.participants, [{ id: "mirror-1", role: "mirror", connected: true, dropped_at: null }]);
});

test("staff room: requests of every fitting room and the rooms' summaries", () => {
  const m = new RoomMirror("staff.paris-01");
  m.load({ state: base({ room: "staff.paris-01", kind: "staff", store: "paris-01", requests: {}, rooms: {} }) });
  let rev = 0;
  const apply = (op, data) => m.apply({ rev: ++rev, op, data });
  apply("request.created", { request: "r1", room: "3", kind: "size", item: "i1", sku: "TEE-01", size: "L", colour: null, at: 5 });
  apply("room.summary", { room: "3", items: 2, open_requests: 1, phone: true, mirror: true, visit: true });
  apply("request.updated", { request: "r1", state: "delivered", by_staff: "eve", at: 6 });
  assert.deepEqual(m.state.requests.r1, {
    room: "3", kind: "size", item: "i1", sku: "TEE-01", size: "L", colour: null, state: "delivered", by_staff: "eve", updated: 6,
  });
  assert.deepEqual(m.state.rooms["3"], { items: 2, open_requests: 1, phone: true, mirror: true, visit: true });
  apply("request.removed", { request: "r1" });
  assert.deepEqual(m.state.requests, {});
  assert.throws(() => m.apply({ rev: rev + 1, op: "request.removed", data: { request: "r1" } }), { code: "bad_delta" });
  assert.throws(() => m.apply({ rev: rev + 1, op: "object.place", data: {} }), { code: "bad_delta" }, "ops of other kinds are unknown here");
});
