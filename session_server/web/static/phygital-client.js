// Phygital session protocol client (protocol version 1), an ES module for browsers and Node.
//
//   import { SessionClient } from "/static/phygital-client.js";
//   const client = new SessionClient({ urls: ["ws://127.0.0.1:8700/ws"], room: "store-1", token });
//   client.on("change", (state) => render(state));
//   await client.connect();
//   await client.request("object.place", { object: "sofa-1", sku: "SOFA", pose: { p: [0, 0, -2] } });
//   client.sendPresence([0, 1.6, 0], [0, 0, 0, 1]);
//
// The room mirror applies the welcome snapshot and every delta with the same rules as
// session_server.protocol.deltas.apply (and the Python RoomMirror). See session_server/PROTOCOL.md.
// In Node 20 pass a WebSocket class (e.g. `import WebSocket from "ws"`) as the `WebSocket` option.

export const PROTOCOL_VERSION = 1;

/** Error codes after which the client does not try to resume (the Python client's list, and `not_paired`). */
export const NO_RESUME = new Set([
  "replaced",
  "bad_token",
  "token_expired",
  "wrong_room",
  "auth_required",
  "room_full",
  "too_many_rooms",
  "bad_version",
  "not_paired",
]);

/** First byte of a binary pose message (PROTOCOL.md, "Binary pose"). */
export const POSE_TAG = 0x01;
const INT32 = 2 ** 31;

/**
 * A binary pose message (PROTOCOL.md, "Binary pose"): 29 bytes, the tag then x, y, z in 0.1 mm and
 * qx, qy, qz, qw in 1e-5, each a little-endian int32; null when a number does not fit (send JSON then).
 * @param {number[]} position [x, y, z] in metres
 * @param {number[]} [rotation] [qx, qy, qz, qw]
 * @returns {Uint8Array|null}
 */
export function binaryPose(position, rotation = [0, 0, 0, 1]) {
  if (position.length !== 3 || rotation.length !== 4) throw new SessionError("bad_message", "a pose needs 3 + 4 numbers");
  const steps = [...position.map((v) => Math.round(v * 1e4)), ...rotation.map((v) => Math.round(v * 1e5))];
  const out = new Uint8Array(29);
  const view = new DataView(out.buffer);
  view.setUint8(0, POSE_TAG);
  for (let i = 0; i < 7; i++) {
    if (!(steps[i] >= -INT32 && steps[i] < INT32)) return null; // NaN, infinite or out of range
    view.setInt32(1 + 4 * i, steps[i], true);
  }
  return out;
}

/** First byte of a binary tick frame (PROTOCOL.md, "Binary tick frame"). */
export const TICK_TAG = 0x02;
const UTF8 = new TextDecoder();

function tickId(bytes, pos) {
  const k = bytes[pos];
  if (k === 0 || pos + 1 + k > bytes.length) throw new SessionError("bad_message", `binary tick frame: id at byte ${pos} runs past the frame`);
  let id = "";
  for (let i = pos + 1; i < pos + 1 + k; i++) id += String.fromCharCode(bytes[i]); // ids are ASCII
  return [id, pos + 1 + k];
}

/**
 * Read a binary tick frame (PROTOCOL.md, "Binary tick frame"): `{json, presence}`, `json` the JSON section's
 * text (one frame or a `batch`; null when empty), `presence` the `presence` frame it stands for.
 * @param {ArrayBuffer|Uint8Array} data
 */
export function decodeTickFrame(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 5 || bytes[0] !== TICK_TAG) throw new SessionError("bad_message", "not a binary tick frame");
  const n = view.getUint32(1, true);
  let pos = 5 + n;
  if (pos + 12 > bytes.length) throw new SessionError("bad_message", "binary tick frame: no presence section");
  const json = n ? UTF8.decode(bytes.subarray(5, pos)) : null;
  const t = view.getFloat64(pos, true);
  const count = view.getUint16(pos + 8, true);
  const goneCount = view.getUint16(pos + 10, true);
  pos += 12;
  const poses = {};
  for (let i = 0; i < count; i++) {
    let id;
    [id, pos] = tickId(bytes, pos);
    if (pos + 28 > bytes.length) throw new SessionError("bad_message", `binary tick frame: the pose of ${id} runs past the frame`);
    const pose = new Array(7);
    for (let j = 0; j < 7; j++) pose[j] = view.getInt32(pos + 4 * j, true) / (j < 3 ? 1e4 : 1e5);
    poses[id] = pose;
    pos += 28;
  }
  const gone = [];
  for (let i = 0; i < goneCount; i++) {
    let id;
    [id, pos] = tickId(bytes, pos);
    gone.push(id);
  }
  if (pos !== bytes.length) throw new SessionError("bad_message", "binary tick frame: bytes after the presence section");
  return { json, presence: { v: PROTOCOL_VERSION, type: "presence", t, poses, gone } };
}

/** An `error` frame from the server, a refused delta, or a failure to (re)connect. */
export class SessionError extends Error {
  /**
   * @param {string} code protocol error code (see PROTOCOL.md), e.g. "locked", "bad_token", "timeout"
   * @param {string} [message]
   * @param {{field?: string|null, ref?: string|null, frame?: object|null}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message ? `${code}: ${message}` : code);
    this.name = "SessionError";
    /** @type {string} */
    this.code = code;
    /** @type {string|null} */
    this.field = extra.field ?? null;
    /** @type {string|null} */
    this.ref = extra.ref ?? null;
    /** @type {object|null} */
    this.frame = extra.frame ?? null;
  }
}

// ---------------------------------------------------------------------------------------------
// Room state: one set of transitions per room kind, the same as the server's.

/**
 * @typedef {[number, number, number, number, number, number, number]} Pose7  x y z qx qy qz qw
 * @typedef {{rev: number, op: string, data: Record<string, any>}} Delta
 * @typedef {{id: string, role: string, session?: string, connected: boolean, dropped_at: number|null}} Participant
 * @typedef {{id: string, sku: string, variant: string|null, pose: Pose7, scale: number, owner: string, anchor: string|null}} PlacedObject
 * @typedef {{kind: string, room: string, revision: number, [key: string]: any}} RoomState
 */

function need(obj, key) {
  if (obj === null || typeof obj !== "object" || !(key in obj)) throw new Error(`missing ${key}`);
  return obj[key];
}

function pose7(v) {
  if (!Array.isArray(v) || v.length !== 7) throw new Error("pose needs 7 numbers");
  return v.map((x) => {
    const n = Number(x);
    if (!Number.isFinite(n)) throw new Error("pose needs 7 numbers");
    return n;
  });
}

function without(map, key) {
  const out = { ...map };
  delete out[key];
  return out;
}

/** The shared AR room (`shared_space`): participants, anchors, placed objects, locks, chat. */
const sharedSpace = {
  /** @param {any} s */
  fromSnapshot(s) {
    return {
      kind: "shared_space",
      room: String(s.room),
      revision: Number(s.revision),
      chat_limit: Number(s.chat_limit ?? 50),
      participants: Object.fromEntries(
        (s.participants || []).map((p) => [
          p.id,
          { id: p.id, role: p.role, session: p.session ?? "", connected: !!p.connected, dropped_at: p.dropped_at ?? null },
        ]),
      ),
      anchors: Object.fromEntries((s.anchors || []).map((a) => [a.id, { id: a.id, pose: pose7(a.pose), by: a.by }])),
      objects: Object.fromEntries(
        (s.objects || []).map((o) => [
          o.id,
          {
            id: o.id,
            sku: o.sku,
            variant: o.variant ?? null,
            pose: pose7(o.pose),
            scale: Number(o.scale),
            owner: o.owner,
            anchor: o.anchor ?? null,
          },
        ]),
      ),
      locks: Object.fromEntries((s.locks || []).map((l) => [l.object, { object: l.object, holder: l.holder }])),
      chat: (s.chat || []).map((c) => ({ ...c })),
    };
  },
  /** Same JSON as the server's `public_snapshot`. */
  toSnapshot(s) {
    return {
      kind: "shared_space",
      room: s.room,
      revision: s.revision,
      chat_limit: s.chat_limit,
      participants: Object.values(s.participants).map((p) => ({
        id: p.id,
        role: p.role,
        connected: p.connected,
        dropped_at: p.dropped_at,
      })),
      anchors: Object.values(s.anchors).map((a) => ({ id: a.id, pose: [...a.pose], by: a.by })),
      objects: Object.values(s.objects).map((o) => ({ ...o, pose: [...o.pose] })),
      locks: Object.values(s.locks).map((l) => ({ object: l.object, holder: l.holder })),
      chat: s.chat.map((c) => ({ ...c })),
    };
  },
  transitions: {
    "participant.join": (s, d) => ({
      ...s,
      participants: {
        ...s.participants,
        [need(d, "participant")]: {
          id: d.participant,
          role: need(d, "role"),
          session: d.session ?? "",
          connected: true,
          dropped_at: null,
        },
      },
    }),
    "participant.status": (s, d) => {
      const pid = need(d, "participant");
      const old = need(s.participants, pid);
      const connected = !!need(d, "connected");
      const at = connected ? null : Number(need(d, "at"));
      return {
        ...s,
        participants: {
          ...s.participants,
          [pid]: { ...old, connected, dropped_at: at, session: d.session ?? old.session },
        },
      };
    },
    "participant.leave": (s, d) => {
      const pid = need(d, "participant");
      need(s.participants, pid);
      const locks = Object.fromEntries(Object.entries(s.locks).filter(([, l]) => l.holder !== pid));
      return { ...s, participants: without(s.participants, pid), locks };
    },
    "anchor.set": (s, d) => ({
      ...s,
      anchors: { ...s.anchors, [need(d, "anchor")]: { id: d.anchor, pose: pose7(need(d, "pose")), by: need(d, "by") } },
    }),
    "object.place": (s, d) => {
      const oid = need(d, "object");
      if (oid in s.objects) throw new Error(`object ${oid} exists`);
      const obj = {
        id: oid,
        sku: need(d, "sku"),
        variant: d.variant ?? null,
        pose: pose7(need(d, "pose")),
        scale: Number(need(d, "scale")),
        owner: need(d, "owner"),
        anchor: d.anchor ?? null,
      };
      return { ...s, objects: { ...s.objects, [oid]: obj } };
    },
    "object.move": (s, d) => {
      const old = need(s.objects, need(d, "object"));
      const scale = d.scale === undefined || d.scale === null ? old.scale : Number(d.scale);
      return { ...s, objects: { ...s.objects, [old.id]: { ...old, pose: pose7(need(d, "pose")), scale } } };
    },
    "object.variant": (s, d) => {
      const old = need(s.objects, need(d, "object"));
      return { ...s, objects: { ...s.objects, [old.id]: { ...old, variant: need(d, "variant") } } };
    },
    "object.delete": (s, d) => {
      const oid = need(d, "object");
      need(s.objects, oid);
      return { ...s, objects: without(s.objects, oid), locks: without(s.locks, oid) };
    },
    "lock.take": (s, d) => {
      const oid = need(d, "object");
      const holder = need(d, "holder");
      need(s.objects, oid);
      need(s.participants, holder);
      return { ...s, locks: { ...s.locks, [oid]: { object: oid, holder } } };
    },
    "lock.release": (s, d) => {
      const oid = need(d, "object");
      need(s.locks, oid);
      return { ...s, locks: without(s.locks, oid) };
    },
    chat: (s, d) => {
      const entry = {
        rev: s.revision + 1,
        participant: need(d, "participant"),
        kind: need(d, "kind"),
        text: need(d, "text"),
        at: Number(need(d, "at")),
      };
      const chat = s.chat_limit > 0 ? [...s.chat, entry].slice(-s.chat_limit) : [];
      return { ...s, chat };
    },
  },
};

// Kinds other than the shared AR room: the core (participants) plus JSON fields changed by their own
// ops, ported from session_server/protocol/kinds/{fitting_room,staff}.py (see FITTING_INTERFACE.md).

function participantsFrom(list) {
  return Object.fromEntries(
    (list || []).map((p) => [
      p.id,
      { id: p.id, role: p.role, session: p.session ?? "", connected: !!p.connected, dropped_at: p.dropped_at ?? null },
    ]),
  );
}

const coreOps = {
  "participant.join": sharedSpace.transitions["participant.join"],
  "participant.status": sharedSpace.transitions["participant.status"],
  "participant.leave": (s, d) => {
    const pid = need(d, "participant");
    need(s.participants, pid);
    return { ...s, participants: without(s.participants, pid) };
  },
};

/** A kind whose own fields are JSON: `fields` names them; snapshots carry them as they are. */
function jsonKind(name, fields, ops) {
  return {
    fromSnapshot(snap) {
      const state = { kind: name, room: String(snap.room), revision: Number(snap.revision ?? 0) };
      state.participants = participantsFrom(snap.participants);
      for (const f of fields) state[f] = structuredClone(snap[f] ?? null);
      return state;
    },
    toSnapshot(s) {
      const out = {
        room: s.room,
        revision: s.revision,
        participants: Object.values(s.participants).map((p) => ({
          id: p.id,
          role: p.role,
          connected: p.connected,
          dropped_at: p.dropped_at,
        })),
        kind: name,
      };
      for (const f of fields) out[f] = structuredClone(s[f]);
      return out;
    },
    transitions: { ...coreOps, ...ops },
  };
}

const ITEM_FIELDS = ["sku", "size", "colour", "name", "price", "currency", "model_url", "image_url", "source", "known", "tag"];
const noLook = () => ({ skus: [], active: false });

const fittingRoom = jsonKind("fitting_room", ["store", "name", "visit", "items", "requests", "phone", "look", "recs"], {
  "visit.started": (s, d) => {
    if (s.visit !== null) throw new Error("a visit is already under way");
    const v = need(d, "visit");
    return { ...s, visit: { id: String(need(v, "id")), started: Number(need(v, "started")) } };
  },
  "visit.cleared": (s) => ({ ...s, visit: null, items: {}, requests: {}, phone: null, look: noLook(), recs: {} }),
  "item.added": (s, d) => {
    if (s.visit === null) throw new Error("item added outside a visit");
    const entry = Object.fromEntries(ITEM_FIELDS.map((k) => [k, d[k] ?? null]));
    entry.known = !!entry.known;
    entry.added = Number(need(d, "added"));
    return { ...s, items: { ...s.items, [String(need(d, "item"))]: entry } };
  },
  "item.removed": (s, d) => {
    const iid = need(d, "item");
    need(s.items, iid);
    return { ...s, items: without(s.items, iid), recs: without(s.recs, iid) };
  },
  "request.created": (s, d) => {
    const rid = String(need(d, "request"));
    if (rid in s.requests) throw new Error(`request ${rid} exists`);
    const entry = {
      kind: need(d, "kind"),
      item: d.item ?? null,
      size: d.size ?? null,
      colour: d.colour ?? null,
      state: "open",
      by_staff: null,
      updated: Number(need(d, "at")),
    };
    return { ...s, requests: { ...s.requests, [rid]: entry } };
  },
  "request.updated": (s, d) => {
    const rid = need(d, "request");
    const old = need(s.requests, rid);
    const upd = { ...old, state: need(d, "state"), by_staff: d.by_staff ?? null, updated: Number(need(d, "at")) };
    return { ...s, requests: { ...s.requests, [rid]: upd } };
  },
  "phone.paired": (s, d) => {
    if (s.visit === null) throw new Error("phone paired outside a visit");
    return { ...s, phone: { participant: String(need(d, "participant")), paired: Number(need(d, "paired")) } };
  },
  "phone.unpaired": (s) => {
    if (s.phone === null) throw new Error("missing phone");
    return { ...s, phone: null };
  },
  "look.set": (s, d) => ({ ...s, look: { skus: need(d, "skus").map(String), active: !!need(d, "active") } }),
  "recs.set": (s, d) => {
    const iid = need(d, "item");
    need(s.items, iid);
    return { ...s, recs: { ...s.recs, [String(iid)]: { ...need(d, "recs") } } };
  },
});

const staffRoom = jsonKind("staff", ["store", "requests", "rooms"], {
  "request.created": (s, d) => {
    const rid = String(need(d, "request"));
    if (rid in s.requests) throw new Error(`request ${rid} exists`);
    const entry = Object.fromEntries(["room", "kind", "item", "sku", "size", "colour"].map((k) => [k, d[k] ?? null]));
    Object.assign(entry, { state: "open", by_staff: null, updated: Number(need(d, "at")) });
    return { ...s, requests: { ...s.requests, [rid]: entry } };
  },
  "request.updated": (s, d) => {
    const rid = need(d, "request");
    const old = need(s.requests, rid);
    const upd = { ...old, state: need(d, "state"), by_staff: d.by_staff ?? null, updated: Number(need(d, "at")) };
    return { ...s, requests: { ...s.requests, [rid]: upd } };
  },
  "room.summary": (s, d) => {
    const entry = Object.fromEntries(["items", "open_requests", "phone", "mirror", "visit"].map((k) => [k, need(d, k)]));
    return { ...s, rooms: { ...s.rooms, [String(need(d, "room"))]: entry } };
  },
  "request.removed": (s, d) => {
    const rid = need(d, "request");
    need(s.requests, rid);
    return { ...s, requests: without(s.requests, rid) };
  },
});

/** Room kinds by the `kind` of the snapshot (no `kind`: the shared AR room). */
export const ROOM_KINDS = { shared_space: sharedSpace, fitting_room: fittingRoom, staff: staffRoom };

/**
 * Return the state after `delta`, or throw SessionError("bad_delta") leaving `state` untouched.
 * @param {RoomState} state
 * @param {Delta} delta
 * @returns {RoomState}
 */
export function applyDelta(state, delta) {
  if (delta.rev !== state.revision + 1) {
    throw new SessionError("bad_delta", `delta revision ${delta.rev} does not follow ${state.revision}`);
  }
  const kind = ROOM_KINDS[state.kind] || null;
  const fn = kind ? kind.transitions[delta.op] : (s) => s;
  if (fn === undefined) throw new SessionError("bad_delta", `unknown delta op ${JSON.stringify(delta.op)}`);
  let next;
  try {
    next = fn(state, delta.data || {});
  } catch (exc) {
    throw new SessionError("bad_delta", `delta ${delta.rev} ${delta.op} does not apply: ${exc.message}`);
  }
  return { ...next, revision: delta.rev };
}

/**
 * Build a state from a welcome `state` snapshot.
 * @param {any} snap
 * @returns {RoomState}
 */
export function stateFromSnapshot(snap) {
  const kindName = snap.kind || "shared_space";
  const kind = ROOM_KINDS[kindName];
  if (!kind) return { ...structuredClone(snap), kind: kindName, revision: Number(snap.revision ?? 0) };
  return { ...kind.fromSnapshot(snap), kind: kindName };
}

/**
 * JSON of a state in the server's public snapshot format.
 * @param {RoomState} state
 */
export function snapshotOf(state) {
  const kind = ROOM_KINDS[state.kind];
  return kind ? kind.toSnapshot(state) : structuredClone(state);
}

// ---------------------------------------------------------------------------------------------
// Presence: latest poses, interpolated between ticks and faded when not refreshed.

function lerp(a, b, t) {
  return a + (b - a) * t;
}

/** Normalised lerp of two quaternions (shortest way round). */
export function nlerpQuat(a, b, t) {
  const dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
  const s = dot < 0 ? -1 : 1;
  const q = [0, 1, 2, 3].map((i) => lerp(a[i], s * b[i], t));
  const n = Math.hypot(...q) || 1;
  return q.map((x) => x / n);
}

/** Poses of everyone else: `latest` as received, `at(pid, now)` interpolated, `opacity` for fading. */
export class PresenceTracker {
  /**
   * @param {{interpolationMs?: number, fadeAfterMs?: number, fadeMs?: number, now?: () => number}} [opts]
   */
  constructor(opts = {}) {
    this.interpolationMs = opts.interpolationMs ?? 100;
    this.fadeAfterMs = opts.fadeAfterMs ?? 1000;
    this.fadeMs = opts.fadeMs ?? 1000;
    this.now = opts.now ?? (() => (typeof performance !== "undefined" ? performance.now() : Date.now()));
    /** @type {Record<string, Pose7>} */
    this.latest = {};
    /** @type {Map<string, {from: Pose7, to: Pose7, t0: number, seen: number}>} */
    this.tracks = new Map();
  }

  /** Replace everything (a welcome's `presence`). */
  reset(poses) {
    this.latest = {};
    this.tracks.clear();
    this.update({ poses: poses || {}, gone: [] });
  }

  /** Apply a `presence` frame: new poses start a short interpolation, `gone` ones are removed. */
  update(frame) {
    const t = this.now();
    for (const [pid, raw] of Object.entries(frame.poses || {})) {
      const pose = raw.map(Number);
      const track = this.tracks.get(pid);
      const from = track ? this.at(pid, t) : pose;
      this.tracks.set(pid, { from, to: pose, t0: t, seen: t });
      this.latest[pid] = pose;
    }
    for (const pid of frame.gone || []) {
      this.tracks.delete(pid);
      delete this.latest[pid];
    }
  }

  /**
   * Interpolated pose of a participant at time `now` (ms, same clock as `opts.now`), or null.
   * @returns {Pose7|null}
   */
  at(pid, now = this.now()) {
    const tr = this.tracks.get(pid);
    if (!tr) return null;
    const k = this.interpolationMs > 0 ? Math.min(1, Math.max(0, (now - tr.t0) / this.interpolationMs)) : 1;
    const p = [0, 1, 2].map((i) => lerp(tr.from[i], tr.to[i], k));
    return /** @type {Pose7} */ ([...p, ...nlerpQuat(tr.from.slice(3), tr.to.slice(3), k)]);
  }

  /** 1 while refreshed within `fadeAfterMs`, then down to 0 over `fadeMs` (out of range or gone quiet). */
  opacity(pid, now = this.now()) {
    const tr = this.tracks.get(pid);
    if (!tr) return 0;
    const age = now - tr.seen;
    if (age <= this.fadeAfterMs) return 1;
    return Math.max(0, 1 - (age - this.fadeAfterMs) / this.fadeMs);
  }

  /** Everyone visible now: [{participant, pose, opacity}]. */
  view(now = this.now()) {
    return [...this.tracks.keys()]
      .map((pid) => ({ participant: pid, pose: this.at(pid, now), opacity: this.opacity(pid, now) }))
      .filter((v) => v.opacity > 0);
  }
}

/** Local copy of the room: `state` and presence, changed only by welcome frames, deltas and presence. */
export class RoomMirror {
  /** @param {string} room */
  constructor(room, presenceOptions = {}) {
    /** @type {RoomState} */
    this.state = stateFromSnapshot({ room, revision: 0 });
    this.presence = new PresenceTracker(presenceOptions);
    this.applied = 0;
  }

  get revision() {
    return this.state.revision;
  }

  /** Take a welcome: a snapshot replaces the state, missed deltas are applied; returns those applied. */
  load(welcome) {
    if (welcome.state !== undefined && welcome.state !== null) this.state = stateFromSnapshot(welcome.state);
    const applied = (welcome.deltas || []).filter((d) => this.apply(d));
    this.presence.reset(welcome.presence || {});
    return applied;
  }

  /** Apply a delta; false if it was already applied (a duplicate), throw SessionError on a gap. */
  apply(delta) {
    if (delta.rev <= this.state.revision) return false;
    this.state = applyDelta(this.state, delta);
    this.applied += 1;
    return true;
  }

  /** Server-format JSON of the state (compare with the server's public snapshot). */
  snapshot() {
    return snapshotOf(this.state);
  }
}

// ---------------------------------------------------------------------------------------------
// The client.

function randomId() {
  const bytes = new Uint8Array(3);
  (globalThis.crypto || { getRandomValues: (b) => b.map(() => Math.floor(Math.random() * 256)) }).getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @typedef {Object} ClientOptions
 * @property {string|string[]} urls  WebSocket URL(s) of the session server(s); tried in turn on reconnect
 * @property {string} room
 * @property {string} [token]  signed join token (see PROTOCOL.md, Tokens)
 * @property {any} [WebSocket]  WebSocket class (default: globalThis.WebSocket; in Node 20 pass `ws`)
 * @property {boolean} [autoResume=true]  reconnect and resume after a drop or a `shutdown` frame
 * @property {number} [heartbeatMs=5000]  `ping` interval
 * @property {number} [requestTimeoutMs=10000]  a request not answered by then rejects with code "timeout"
 * @property {number} [retryIntervalMs=2000]  an unanswered request is re-sent (same id) this often
 * @property {number} [maxReconnectAttempts=40]
 * @property {object} [presence]  PresenceTracker options
 * @property {boolean} [binaryPresence=false]  send poses as binary pose messages (29 bytes; JSON when out of range)
 * @property {boolean} [binaryFrames=false]  join with `binary_frames`: frames with presence arrive as binary tick frames
 */

/**
 * Session client. Events (`client.on(name, fn)` returns an unsubscribe function):
 * `welcome` (frame), `delta` (delta, state), `presence` (frame), `change` (state),
 * `error` (SessionError: every error frame and failure, typed by `code`),
 * `status` ("connecting" | "open" | "resuming" | "closed"), `shutdown` (frame), `resumed` (welcome).
 */
export class SessionClient {
  /** @param {ClientOptions} opts */
  constructor(opts) {
    this.urls = Array.isArray(opts.urls) ? [...opts.urls] : [opts.urls];
    if (!this.urls.length) throw new SessionError("bad_message", "at least one URL is needed");
    this.room = opts.room;
    this.token = opts.token ?? null;
    this.WebSocket = opts.WebSocket ?? globalThis.WebSocket;
    if (!this.WebSocket) {
      throw new SessionError("internal", "no WebSocket class: pass one as the WebSocket option (Node < 22: the ws package)");
    }
    this.autoResume = opts.autoResume ?? true;
    this.heartbeatMs = opts.heartbeatMs ?? 5000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10000;
    this.retryIntervalMs = opts.retryIntervalMs ?? 2000;
    this.maxReconnectAttempts = opts.maxReconnectAttempts ?? 40;
    this.binaryPresence = opts.binaryPresence ?? false;
    this.binaryFrames = opts.binaryFrames ?? false;
    this.binaryReceived = 0;
    this.mirror = new RoomMirror(this.room, opts.presence);
    /** @type {string|null} */ this.participant = null;
    /** @type {string|null} */ this.session = null;
    /** @type {string|null} */ this.role = null;
    /** @type {object[]} */ this.errors = [];
    this.shutdowns = 0;
    this.resumes = 0;
    this.urlIndex = 0;
    this.status = "closed";
    this._prefix = randomId();
    this._seq = 0;
    this._ws = null;
    this._pinger = null;
    /** @type {Map<string, {frame: object, resolve: Function, reject: Function}>} */
    this._pending = new Map();
    /** @type {{rev: number, resolve: Function, frame: object}[]} */
    this._acked = [];
    this._welcome = null;
    this._closing = false;
    this._fatal = false;
    this._reconnecting = null;
    this._retryAfterMs = 0;
    /** @type {Map<string, Set<Function>>} */
    this._listeners = new Map();
  }

  // ---- events ---------------------------------------------------------------------------------
  /** Subscribe to an event; returns a function that unsubscribes. */
  on(name, fn) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(fn);
    return () => this._listeners.get(name)?.delete(fn);
  }

  _emit(name, ...args) {
    for (const fn of this._listeners.get(name) || []) {
      try {
        fn(...args);
      } catch (exc) {
        if (name !== "error") this._emit("error", new SessionError("internal", `listener for ${name} failed: ${exc}`));
      }
    }
  }

  _setStatus(status) {
    if (this.status !== status) {
      this.status = status;
      this._emit("status", status);
    }
  }

  get url() {
    return this.urls[this.urlIndex % this.urls.length];
  }

  /** The room state (kept in step with the server). */
  get state() {
    return this.mirror.state;
  }

  nextId() {
    this._seq += 1;
    return `${this._prefix}-${this._seq}`;
  }

  // ---- connection -----------------------------------------------------------------------------
  /** Open the socket and join; resolves with the welcome frame. */
  async connect() {
    this._closing = false;
    this._setStatus("connecting");
    return this._open({ type: "join" });
  }

  /** Reconnect (optionally to `url` first) and resume; unacknowledged requests are re-sent. */
  async resume(url) {
    if (url !== undefined) {
      this.urls.unshift(url);
      this.urlIndex = 0;
    }
    this._closing = false;
    this._dropSocket();
    this._setStatus("resuming");
    return this._open({ type: "resume", session: this.session, revision: this.mirror.revision });
  }

  _open(hello) {
    return new Promise((resolve, reject) => {
      let ws;
      const url = this.url;
      try {
        ws = new this.WebSocket(url);
      } catch (exc) {
        reject(new SessionError("internal", `cannot connect to ${url}: ${exc.message || exc}`));
        return;
      }
      ws.binaryType = "arraybuffer";
      this._ws = ws;
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this._welcome = null;
        if (this._ws === ws) this._ws = null; // not a drop of a live session: the caller decides
        this._stopPinger();
        try {
          ws.close();
        } catch {
          /* already closed */
        }
        reject(new SessionError("timeout", `no welcome from ${url} in ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      this._welcome = {
        resolve: (frame) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (err) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(err);
        },
      };
      ws.onopen = () => {
        const frame = { v: PROTOCOL_VERSION, id: this.nextId(), room: this.room, ...hello };
        if (this.binaryFrames) frame.binary_frames = true;
        if (this.token !== null) frame.token = this.token;
        this._sendOn(ws, frame);
        this._startPinger(ws);
      };
      ws.onmessage = (ev) => {
        if (this._ws !== ws) return;
        let frames;
        try {
          if (typeof ev.data !== "string" && ev.data.byteLength > 0 && new Uint8Array(ev.data, 0, 1)[0] === TICK_TAG) {
            const { json, presence } = decodeTickFrame(ev.data);
            this.binaryReceived += 1;
            frames = json === null ? [presence] : [JSON.parse(json), presence];
          } else {
            frames = [JSON.parse(typeof ev.data === "string" ? ev.data : UTF8.decode(ev.data))];
          }
        } catch (exc) {
          this._emit("error", new SessionError("bad_json", `server sent a frame that cannot be read: ${exc.message}`));
          return;
        }
        for (const frame of frames) this._onFrame(frame, hello.type);
      };
      ws.onerror = () => {
        /* the close event follows */
      };
      ws.onclose = (ev) => this._onClose(ws, ev, url);
    });
  }

  _onClose(ws, ev, url) {
    if (this._ws !== ws) return;
    this._stopPinger();
    this._ws = null;
    if (this._welcome) {
      const w = this._welcome;
      this._welcome = null;
      w.reject(new SessionError("internal", `connection to ${url} closed (${ev.code || "no code"}) before the welcome`));
      if (this._reconnecting === null) this._setStatus("closed");
      return; // the caller (connect, resume or the reconnect loop) decides what next
    }
    const resumable = this.autoResume && this.session !== null && !this._fatal;
    if (!this._closing && resumable) {
      if (this._reconnecting === null) this._reconnecting = this._reconnect();
    } else {
      this._setStatus("closed");
    }
  }

  async _reconnect() {
    this._setStatus("resuming");
    let delay = 50;
    const first = this._retryAfterMs || 0;
    this._retryAfterMs = 0;
    await sleep(first + 20 + Math.random() * 180); // spread reconnects after a server restart
    for (let attempt = 0; attempt < this.maxReconnectAttempts; attempt++) {
      if (this._fatal || this._closing) return;
      try {
        const welcome = await this.resume();
        this._reconnecting = null;
        return welcome;
      } catch (exc) {
        if (this._fatal || this._closing) break;
        this.urlIndex += 1;
        await sleep(delay);
        delay = Math.min(1000, delay * 2);
      }
    }
    this._reconnecting = null;
    if (!this._closing) {
      this._setStatus("closed");
      this._emit("error", new SessionError("internal", `gave up resuming session ${this.session}`));
    }
  }

  _dropSocket() {
    this._stopPinger();
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      try {
        ws.close();
      } catch {
        /* already closed */
      }
    }
  }

  /** Leave the room and close; pending requests reject with code "closed". */
  async close() {
    this._closing = true;
    if (this._ws && this._ws.readyState === 1) this._sendOn(this._ws, { v: PROTOCOL_VERSION, type: "leave" });
    this._dropSocket();
    this._setStatus("closed");
    for (const [, p] of this._pending) p.reject(new SessionError("closed", "client closed"));
    this._pending.clear();
  }

  /** Drop the socket without leaving (the session stays resumable; used by tests and page unloads). */
  abort() {
    this._closing = true;
    this._dropSocket();
    this._setStatus("closed");
  }

  _startPinger(ws) {
    this._stopPinger();
    this._pinger = setInterval(() => {
      if (ws.readyState === 1) this._sendOn(ws, { v: PROTOCOL_VERSION, type: "ping" });
    }, this.heartbeatMs);
  }

  _stopPinger() {
    if (this._pinger !== null) clearInterval(this._pinger);
    this._pinger = null;
  }

  // ---- sending --------------------------------------------------------------------------------
  _sendOn(ws, frame) {
    if (ws && ws.readyState === 1) {
      ws.send(typeof frame === "string" || frame instanceof Uint8Array ? frame : JSON.stringify(frame));
      return true;
    }
    return false;
  }

  /**
   * Send a reliable request; resolves with its ack once the mirror has applied it, rejects with a
   * SessionError (the server's code, or "timeout"). Re-sent with the same id every
   * `retryIntervalMs` until answered (the server applies it once).
   * @param {string} type  e.g. "object.place", "item.add", "request.create"
   * @param {Record<string, any>} [fields]
   */
  request(type, fields = {}) {
    const { id, ...rest } = fields;
    const rid = id || this.nextId();
    const frame = { v: PROTOCOL_VERSION, type, id: rid, ...rest };
    return new Promise((resolve, reject) => {
      const started = Date.now();
      let timer = null;
      const done = () => {
        clearTimeout(timer);
        this._pending.delete(rid);
      };
      const entry = {
        frame,
        resolve: (ack) => {
          done();
          resolve(ack);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      const tick = () => {
        if (!this._pending.has(rid)) return;
        const left = this.requestTimeoutMs - (Date.now() - started);
        if (left <= 0) {
          entry.reject(new SessionError("timeout", `request ${rid} (${type}) was not answered in ${this.requestTimeoutMs} ms`, { ref: rid }));
          return;
        }
        this._sendOn(this._ws, frame);
        timer = setTimeout(tick, Math.min(left, this.retryIntervalMs));
      };
      this._pending.set(rid, entry);
      tick();
    });
  }

  /** Send this device's pose (lossy, latest wins): a binary pose message with `binaryPresence`, else JSON. */
  sendPresence(position, rotation = [0, 0, 0, 1]) {
    const binary = this.binaryPresence ? binaryPose(position, rotation) : null;
    if (binary !== null) return this._sendOn(this._ws, binary);
    return this._sendOn(this._ws, { v: PROTOCOL_VERSION, type: "presence", pose: { p: [...position], q: [...rotation] } });
  }

  /** Send a frame as is (tests use it for malformed input). */
  sendRaw(data) {
    if (!this._ws) throw new SessionError("not_joined", "not connected");
    this._ws.send(data);
  }

  // ---- waiting --------------------------------------------------------------------------------
  /** Resolve with the state once `predicate(state)` holds (checked now and after every change). */
  waitUntil(predicate, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      if (predicate(this.mirror.state)) {
        resolve(this.mirror.state);
        return;
      }
      const off = this.on("change", (state) => {
        if (predicate(state)) {
          off();
          clearTimeout(timer);
          resolve(state);
        }
      });
      const timer = setTimeout(() => {
        off();
        reject(new SessionError("timeout", `condition not met in ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  // ---- receiving ------------------------------------------------------------------------------
  _onFrame(frame, helloType) {
    switch (frame.type) {
      case "batch":
        for (const inner of frame.frames || []) this._onFrame(inner, helloType);
        return;
      case "presence":
        this.mirror.presence.update(frame);
        this._emit("presence", frame);
        return;
      case "delta": {
        const delta = { rev: Number(frame.rev), op: frame.op, data: frame.data || {} };
        let applied;
        try {
          applied = this.mirror.apply(delta);
        } catch (exc) {
          this._resync(exc);
          return;
        }
        if (applied) this._emit("delta", delta, this.mirror.state);
        this._ackFromDelta(delta);
        this._releaseAcks();
        if (applied) this._emit("change", this.mirror.state);
        return;
      }
      case "welcome": {
        let applied;
        try {
          applied = this.mirror.load(frame);
        } catch (exc) {
          this._resync(exc);
          return;
        }
        this.participant = frame.participant;
        this.session = frame.session;
        this.role = frame.role;
        for (const d of applied) {
          this._emit("delta", d, this.mirror.state);
          this._ackFromDelta(d);
        }
        const w = this._welcome;
        this._welcome = null;
        this._setStatus("open");
        if (helloType === "resume") {
          this.resumes += 1;
          for (const [, p] of this._pending) this._sendOn(this._ws, p.frame); // same ids: applied once
        }
        this._releaseAcks();
        this._emit("welcome", frame);
        if (helloType === "resume") this._emit("resumed", frame);
        this._emit("change", this.mirror.state);
        if (w) w.resolve(frame);
        return;
      }
      case "ack": {
        const entry = this._pending.get(frame.ref);
        if (entry) {
          this._pending.delete(frame.ref);
          this._acked.push({ rev: Number(frame.revision), resolve: entry.resolve, frame });
          this._releaseAcks();
        }
        return;
      }
      case "error": {
        this.errors.push(frame);
        const err = new SessionError(frame.code || "internal", frame.message, { field: frame.field, ref: frame.ref, frame });
        if (NO_RESUME.has(frame.code)) this._fatal = true;
        const entry = frame.ref ? this._pending.get(frame.ref) : undefined;
        if (entry) entry.reject(err);
        else if (this._welcome) {
          const w = this._welcome;
          this._welcome = null;
          w.reject(err);
        }
        this._emit("error", err);
        return;
      }
      case "shutdown":
        this.shutdowns += 1;
        this._retryAfterMs = Number(frame.retry_after_ms || 0);
        this.urlIndex += 1; // reconnect elsewhere first when scaled out
        this._emit("shutdown", frame);
        return;
      default: // pong, and frame types added later within version 1: ignored (PROTOCOL.md, "Evolution")
        return;
    }
  }

  /** A delta that does not apply: the mirror is out of step; drop the socket and resume for a fresh view. */
  _resync(exc) {
    this._emit("error", exc instanceof SessionError ? exc : new SessionError("bad_delta", String(exc)));
    if (this._ws) this._ws.close();
  }

  _ackFromDelta(delta) {
    // A delta made by one of our requests acknowledges it, even if the ack itself was lost.
    const req = delta.data && delta.data.req;
    if (req !== undefined && req !== null && delta.data.by === this.participant) {
      const entry = this._pending.get(req);
      if (entry) entry.resolve({ v: PROTOCOL_VERSION, type: "ack", ref: req, revision: delta.rev, duplicate: false });
    }
  }

  _releaseAcks() {
    const keep = [];
    for (const a of this._acked) {
      if (a.rev <= this.mirror.revision) a.resolve(a.frame);
      else keep.push(a);
    }
    this._acked = keep;
  }
}
