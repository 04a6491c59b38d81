// The JavaScript client against a real session server: the Python client's scenarios.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  SessionClient, SessionError, PresenceTracker, RoomMirror, WebSocket, binaryPose, decodeTickFrame, joined, pose, sleep,
  startServer, token,
} from "./harness.mjs";

let srv;
before(async () => {
  srv = await startServer({ PHYGITAL_SESSION_TICK_HZ: "30" });
});
after(async () => {
  await srv.stop();
});

let roomSeq = 0;
const newRoom = () => `js-room-${process.pid}-${++roomSeq}`;

test("two clients see the same changes in the same order, as the server has them", async () => {
  const room = newRoom();
  const a = await joined(srv.url, room, "ana");
  const b = await joined(srv.url, room, "ben", "headset");
  const seenA = [];
  const seenB = [];
  a.on("delta", (d) => seenA.push(d));
  b.on("delta", (d) => seenB.push(d));
  const ack = await a.request("object.place", { object: "sofa", sku: "SOFA-1", pose: pose(1, 0, -2) });
  assert.equal(ack.type, "ack");
  assert.ok("sofa" in a.state.objects, "acknowledged only once the mirror has the change");
  await a.request("object.lock", { object: "sofa" });
  for (let x = 0; x < 5; x++) await a.request("object.move", { object: "sofa", pose: pose(x) });
  await b.request("chat", { text: "looks good", kind: "text" });
  await a.request("object.variant", { object: "sofa", variant: "velvet-green" });
  await b.waitUntil((s) => s.revision === a.state.revision);
  await a.waitUntil((s) => s.revision === b.state.revision);
  assert.deepEqual(a.mirror.snapshot(), b.mirror.snapshot());
  assert.equal(b.state.objects.sofa.variant, "velvet-green");
  assert.deepEqual(b.state.objects.sofa.pose, [4, 0, 0, 0, 0, 0, 1]);
  const edits = (seen) => seen.filter((d) => d.rev >= ack.revision).map((d) => `${d.rev} ${d.op}`);
  assert.deepEqual(edits(seenA), edits(seenB));
  assert.equal(edits(seenA).length, a.state.revision - ack.revision + 1);
  // the deltas applied locally give the server's state: a fresh snapshot of it is the same
  const v = await joined(srv.url, room, "vic", "viewer");
  await a.waitUntil((s) => "vic" in s.participants);
  assert.deepEqual(a.mirror.snapshot(), v.mirror.snapshot());
  for (const c of [a, b, v]) await c.close();
});

test("ownership: a locked object refuses others with a typed error; staff takes over", async () => {
  const room = newRoom();
  const a = await joined(srv.url, room, "ana");
  const b = await joined(srv.url, room, "ben", "headset");
  const staff = await joined(srv.url, room, "eve", "staff");
  const errors = [];
  b.on("error", (e) => errors.push(e));
  await a.request("object.place", { object: "shoe", sku: "SHOE", pose: pose(0) });
  await a.request("object.lock", { object: "shoe" });
  const rev = a.state.revision;
  await assert.rejects(b.request("object.move", { object: "shoe", pose: pose(9) }), (e) => {
    assert.ok(e instanceof SessionError);
    assert.equal(e.code, "locked");
    assert.match(e.message, /ana/);
    return true;
  });
  assert.equal(errors[0].code, "locked", "the error is also an event");
  await staff.request("object.lock", { object: "shoe", takeover: true });
  await staff.request("object.variant", { object: "shoe", variant: "red" });
  await a.waitUntil((s) => s.objects.shoe.variant === "red");
  assert.equal(a.state.revision, rev + 2);
  const viewer = await joined(srv.url, room, "val", "viewer");
  await assert.rejects(viewer.request("object.delete", { object: "shoe" }), { code: "forbidden" });
  for (const c of [a, b, staff, viewer]) await c.close();
});

test("version 1 evolves additively: extra fields are ignored, unknown frame types too; the first ack says duplicate: false", async () => {
  const a = await joined(srv.url, newRoom(), "ana");
  const errors = [];
  a.on("error", (e) => errors.push(e));
  const ack = await a.request("chat", { text: "hi", kind: "text", mood: "cheerful" }); // a field this server does not know
  assert.equal(ack.duplicate, false);
  assert.deepEqual(a.state.chat.map((c) => c.text), ["hi"]);
  a._onFrame({ v: 1, type: "weather", sky: "clear" }, "join"); // a frame type added later: ignored
  a._onFrame({ v: 1, type: "pong", t: 1, skew_ms: 3 }, "join");
  await a.request("chat", { text: "after", kind: "text" });
  assert.deepEqual(errors, []);
  await a.close();
});

test("a repeated request id is applied once", async () => {
  const a = await joined(srv.url, newRoom(), "ana");
  const first = await a.request("chat", { id: "same-1", text: "hello", kind: "text" });
  const second = await a.request("chat", { id: "same-1", text: "hello", kind: "text" });
  assert.equal(second.revision, first.revision);
  assert.equal(second.duplicate, true);
  assert.deepEqual(a.state.chat.map((c) => c.text), ["hello"]);
  await a.close();
});

test("bad input is answered with typed error events and changes nothing", async () => {
  const room = newRoom();
  const a = await joined(srv.url, room, "ana");
  await a.request("object.place", { object: "sofa", sku: "SOFA", pose: pose(0) });
  const before = a.mirror.snapshot();
  const errors = [];
  a.on("error", (e) => errors.push(e));
  const cases = [
    ["{oops", "bad_json"],
    ['{"v": 1, "type": "warp", "id": "x"}', "unknown_type"],
    ['{"v": 1, "type": "object.move", "id": "x1", "object": "sofa", "pose": {"p": "up"}}', "bad_message"],
    ['{"v": 1, "type": "object.move", "id": "x2", "object": "sofa", "pose": {"p": [1, 2, 3]}}', "lock_required"],
    ['{"v": 1, "type": "object.delete", "id": "x3", "object": "ghost"}', "unknown_object"],
  ];
  for (const [data] of cases) a.sendRaw(data);
  await a.request("chat", { text: "after", kind: "text" }); // a marker: everything before it was answered
  assert.deepEqual(errors.map((e) => e.code), cases.map(([, code]) => code));
  assert.ok(errors.every((e) => e instanceof SessionError && e.message));
  const now = a.mirror.snapshot();
  assert.deepEqual(now.objects, before.objects);
  assert.equal(now.revision, before.revision + 1);
  await a.close();
});

test("bad tokens are refused: the connect rejects with the code and the client does not retry", async () => {
  const room = newRoom();
  const cases = [
    [token(room, "mallory", "staff", 600, "not-the-secret"), "bad_token"],
    [token(room, "mallory", "phone", -5), "token_expired"],
    [token("elsewhere", "mallory"), "wrong_room"],
    [null, "auth_required"],
  ];
  for (const [tok, code] of cases) {
    const c = new SessionClient({ urls: srv.url, room, token: tok, WebSocket });
    const statuses = [];
    c.on("status", (s) => statuses.push(s));
    await assert.rejects(c.connect(), { code });
    await sleep(300);
    assert.equal(c.status, "closed");
    assert.equal(c.resumes, 0);
    assert.ok(!statuses.includes("resuming"), `${code}: no resume after a refusal`);
  }
});

test("resume gets exactly the missed deltas", async () => {
  const room = newRoom();
  const a = await joined(srv.url, room, "ana", "phone", { autoResume: false });
  const b = await joined(srv.url, room, "ben");
  await b.request("object.place", { object: "lamp", sku: "LAMP", pose: pose(0) });
  await a.waitUntil((s) => "lamp" in s.objects);
  const seen = a.state.revision;
  a.abort();
  await b.waitUntil((s) => !s.participants.ana.connected);
  await b.request("object.lock", { object: "lamp" });
  for (let x = 0; x < 4; x++) await b.request("object.move", { object: "lamp", pose: pose(x) });
  const applied = [];
  a.on("delta", (d) => applied.push(d.rev));
  const welcome = await a.resume();
  assert.equal(welcome.resumed, true);
  const revs = welcome.deltas.map((d) => d.rev);
  assert.deepEqual(revs, Array.from({ length: welcome.revision - seen }, (_, i) => seen + 1 + i));
  assert.deepEqual(applied, revs, "each missed delta applied once, in order");
  await b.waitUntil((s) => s.participants.ana.connected);
  await a.waitUntil((s) => s.revision === b.state.revision);
  assert.deepEqual(a.mirror.snapshot(), b.mirror.snapshot());
  // a revision from the future is refused
  const a2 = new SessionClient({ urls: srv.url, room, token: token(room, "ana"), WebSocket, autoResume: false });
  a2.session = a.session;
  a2.mirror.state = { ...a.state, revision: 10000 };
  await assert.rejects(a2.resume(), { code: "future_revision" });
  a2.abort();
  await a.close();
  await b.close();
});

test("a dropped connection resumes by itself and re-sends unanswered requests", async () => {
  const room = newRoom();
  const a = await joined(srv.url, room, "ana");
  const b = await joined(srv.url, room, "ben");
  const statuses = [];
  a.on("status", (s) => statuses.push(s));
  a._ws.terminate(); // the network drops: no close handshake
  const moved = a.request("object.place", { object: "vase", sku: "VASE", pose: pose(3) });
  await moved;
  await b.waitUntil((s) => "vase" in s.objects && s.participants.ana.connected);
  assert.equal(a.resumes, 1);
  assert.deepEqual(statuses, ["resuming", "open"]);
  assert.equal(Object.keys(b.state.objects).length, 1);
  await a.close();
  await b.close();
});

test("binaryPresence sends 29-byte binary pose messages, read as presence (JSON when out of range)", async () => {
  // the bytes PROTOCOL.md gives as its example
  const example = "01 98 3a 00 00 80 3e 00 00 e0 b1 ff ff 00 00 00 00 00 00 00 00 00 00 00 00 a0 86 01 00";
  assert.equal(Buffer.from(binaryPose([1.5, 1.6, -2])).toString("hex").match(/../g).join(" "), example);
  assert.equal(binaryPose([214748.3648, 0, 0]), null);
  assert.equal(binaryPose([NaN, 0, 0]), null);
  const room = newRoom();
  const a = await joined(srv.url, room, "ana", "phone", { binaryPresence: true });
  const b = await joined(srv.url, room, "ben");
  const sent = [];
  const send = a._ws.send.bind(a._ws);
  a._ws.send = (data) => {
    sent.push(data);
    send(data);
  };
  a.sendPresence([1.25, 1.6, -2], [0, 0.70711, 0, 0.70711]);
  for (let i = 0; i < 50 && b.mirror.presence.latest.ana?.[0] !== 1.25; i++) await sleep(50);
  assert.deepEqual(b.mirror.presence.latest.ana, [1.25, 1.6, -2, 0, 0.70711, 0, 0.70711]);
  a.sendPresence([300000, 1.6, -2]);
  for (let i = 0; i < 50 && b.mirror.presence.latest.ana?.[0] !== 300000; i++) await sleep(50);
  assert.deepEqual(b.mirror.presence.latest.ana, [300000, 1.6, -2, 0, 0, 0, 1]);
  assert.ok(sent[0] instanceof Uint8Array && sent[0].length === 29, "binary first");
  assert.equal(typeof sent[1], "string", "JSON when it does not fit");
  assert.deepEqual(a.errors, []);
  await a.close();
  await b.close();
});

test("binaryFrames: frames with presence arrive binary (deltas and acks inside), read as JSON ones", async () => {
  // the bytes PROTOCOL.md gives as its example (Binary tick frame)
  const example = Buffer.from(
    "02 00 00 00 00 00 00 20 08 73 4c da 41 01 00 01 00 03 61 6e 61 98 3a 00 00 80 3e 00 00 e0 b1 ff ff 00 00 00 00 00 00 00 00 00 00 00 00 a0 86 01 00 03 62 65 6e".replaceAll(" ", ""),
    "hex",
  );
  assert.deepEqual(decodeTickFrame(example), {
    json: null,
    presence: { v: 1, type: "presence", t: 1764871200.5, poses: { ana: [1.5, 1.6, -2, 0, 0, 0, 1] }, gone: ["ben"] },
  });
  assert.throws(() => decodeTickFrame(example.subarray(0, 52)), SessionError);
  const room = newRoom();
  const a = await joined(srv.url, room, "ana", "phone", { binaryFrames: true });
  const b = await joined(srv.url, room, "ben");
  const kinds = [];
  const raw = a._ws.onmessage;
  a._ws.onmessage = (ev) => {
    kinds.push(typeof ev.data === "string" ? "text" : new Uint8Array(ev.data)[0]);
    raw(ev);
  };
  await a.request("object.place", { object: "lamp", sku: "LAMP", pose: pose(0) });
  await a.request("object.lock", { object: "lamp" });
  for (let i = 1; i <= 5; i++) {
    b.sendPresence([i / 4, 1.6, -2], [0, 0.70711, 0, 0.70711]);
    a.sendPresence([1, 1.5, i]);
    await a.request("object.move", { object: "lamp", pose: pose(i) });
  }
  for (let i = 0; i < 50 && (b.mirror.presence.latest.ana?.[2] !== 5 || a.mirror.presence.latest.ben?.[0] !== 1.25); i++) {
    await sleep(50);
  }
  assert.deepEqual(a.mirror.presence.latest.ben, [1.25, 1.6, -2, 0, 0.70711, 0, 0.70711]);
  assert.deepEqual(b.mirror.presence.latest.ana, [1, 1.5, 5, 0, 0, 0, 1]);
  await b.waitUntil((s) => s.revision === a.state.revision);
  assert.deepEqual(a.mirror.snapshot(), b.mirror.snapshot());
  assert.ok(a.binaryReceived > 0 && kinds.includes(0x02), "binary tick frames arrived");
  assert.deepEqual(a.errors, []);
  await a.close();
  await b.close();
});

test("presence is applied, interpolated between ticks and faded when it stops", async () => {
  const room = newRoom();
  const a = await joined(srv.url, room, "ana");
  const frames = [];
  const b = await joined(srv.url, room, "ben", "phone", { presence: { interpolationMs: 100 } });
  b.on("presence", (f) => frames.push(f));
  for (let i = 0; i < 50; i++) a.sendPresence([i / 10, 1.6, 0]);
  for (let i = 0; i < 50 && b.mirror.presence.latest.ana?.[0] !== 4.9; i++) await sleep(50);
  assert.equal(b.mirror.presence.latest.ana[0], 4.9);
  assert.ok(frames.filter((f) => "ana" in f.poses).length <= 10, "coalesced into ticks");
  await a.close();
  for (let i = 0; i < 40 && "ana" in b.mirror.presence.latest; i++) await sleep(50);
  assert.ok(!("ana" in b.mirror.presence.latest), "gone when the participant leaves");
  await b.close();

  // interpolation and fading on a clock of our own
  let now = 0;
  const tr = new PresenceTracker({ interpolationMs: 100, fadeAfterMs: 1000, fadeMs: 1000, now: () => now });
  tr.update({ poses: { p: [0, 0, 0, 0, 0, 0, 1] } });
  now = 1000;
  tr.update({ poses: { p: [10, 0, 0, 0, 0.7071068, 0, 0.7071068] } });
  now = 1050;
  const mid = tr.at("p");
  assert.ok(Math.abs(mid[0] - 5) < 1e-9, `halfway between ticks: ${mid[0]}`);
  assert.ok(Math.abs(Math.hypot(...mid.slice(3)) - 1) < 1e-9, "a unit quaternion");
  now = 1100;
  assert.equal(tr.at("p")[0], 10);
  assert.equal(tr.opacity("p"), 1);
  now = 2500;
  assert.ok(Math.abs(tr.opacity("p") - 0.5) < 1e-9, "fading after a second without news");
  now = 3100;
  assert.equal(tr.opacity("p"), 0);
  assert.deepEqual(tr.view(), []);
});

test("heartbeats keep a quiet client connected; without them the server's idle timeout is an error event", async () => {
  const idle = await startServer({ PHYGITAL_SESSION_IDLE_TIMEOUT_S: "1" });
  try {
    const room = newRoom();
    const beating = await joined(idle.url, room, "ana", "phone", { heartbeatMs: 250 });
    const silent = await joined(idle.url, room, "ben", "phone", { heartbeatMs: 60000, autoResume: false });
    const errors = [];
    beating.on("error", (e) => errors.push(e.code));
    const silentErrors = [];
    silent.on("error", (e) => silentErrors.push(e.code));
    await sleep(2500);
    assert.deepEqual(errors, []);
    assert.equal(beating.status, "open");
    assert.deepEqual(silentErrors, ["idle_timeout"]);
    assert.equal(silent.status, "closed");
    await beating.request("chat", { text: "still here", kind: "text" });
    await beating.close();
  } finally {
    await idle.stop();
  }
});

test("after the resume window a resume gets a fresh snapshot", async () => {
  const short = await startServer({ PHYGITAL_SESSION_RESUME_WINDOW_S: "0.5" });
  try {
    const room = newRoom();
    const a = await joined(short.url, room, "ana", "phone", { autoResume: false });
    const b = await joined(short.url, room, "ben");
    a.abort();
    await b.waitUntil((s) => !("ana" in s.participants), 10000);
    await b.request("chat", { text: "while you were away", kind: "text" });
    const welcome = await a.resume();
    assert.equal(welcome.resumed, false);
    assert.ok(welcome.state);
    assert.equal(a.state.chat.at(-1).text, "while you were away");
    await a.close();
    await b.close();
  } finally {
    await short.stop();
  }
});

test("the mirror refuses a gap and a duplicate is ignored, like the Python RoomMirror", () => {
  const m = new RoomMirror("r");
  m.load({ state: { room: "r", revision: 3, chat_limit: 2, participants: [], anchors: [], objects: [], locks: [], chat: [] } });
  assert.throws(() => m.apply({ rev: 5, op: "chat", data: {} }), { code: "bad_delta" });
  assert.throws(() => m.apply({ rev: 4, op: "object.move", data: { object: "nope", pose: [0, 0, 0, 0, 0, 0, 1] } }), {
    code: "bad_delta",
  });
  assert.equal(m.revision, 3, "a refused delta leaves the state alone");
  assert.equal(m.apply({ rev: 3, op: "chat", data: {} }), false);
  for (let r = 4; r <= 6; r++) m.apply({ rev: r, op: "chat", data: { participant: "p", kind: "text", text: `t${r}`, at: 1 } });
  assert.deepEqual(m.state.chat.map((c) => [c.rev, c.text]), [[5, "t5"], [6, "t6"]], "chat_limit keeps the last ones");
});

test("batch frames (the ASGI route) are unpacked in order", async () => {
  const asgi = await startServer({ PHYGITAL_SESSION_WS_IMPL: "websockets-sansio" });
  try {
    const room = newRoom();
    const a = await joined(asgi.url, room, "ana");
    const b = await joined(asgi.url, room, "ben");
    let batches = 0;
    const onFrame = b._onFrame.bind(b);
    b._onFrame = (frame, hello) => {
      if (frame.type === "batch") batches += 1;
      onFrame(frame, hello);
    };
    const revs = [];
    b.on("delta", (d) => revs.push(d.rev));
    await Promise.all(Array.from({ length: 40 }, (_, i) => a.request("chat", { text: `m${i}`, kind: "text" })));
    await b.waitUntil((s) => s.revision === a.state.revision);
    assert.ok(batches >= 1, "several frames waiting for a client travel in one batch");
    assert.deepEqual(revs, Array.from({ length: revs.length }, (_, i) => revs[0] + i), "in order, no gaps");
    assert.deepEqual(a.mirror.snapshot(), b.mirror.snapshot());
    await a.close();
    await b.close();
  } finally {
    await asgi.stop();
  }
});

test("no server at the address: connect rejects and the status says closed", async () => {
  const { freePort } = await import("./harness.mjs");
  const port = await freePort();
  const c = new SessionClient({ urls: `ws://127.0.0.1:${port}/ws`, room: "r", token: token("r", "ana"), WebSocket });
  await assert.rejects(c.connect(), { code: "internal" });
  assert.equal(c.status, "closed");
});
