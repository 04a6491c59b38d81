// Shared by the pages: where the server is, the token from the address, state shown in words.
import { SessionClient } from "/static/phygital-client.js";

/** Words for the error codes a person can meet on a page. */
export const ERROR_WORDS = {
  bad_token: "This page's access token is not valid. Ask staff for a new link.",
  token_expired: "This page's access token has expired. Ask staff for a new link.",
  wrong_room: "This page's access token is for another room.",
  auth_required: "This page needs an access token: open it from the link or QR code you were given.",
  room_full: "The room is full right now. Try again in a moment.",
  too_many_rooms: "The server is at capacity. Try again in a moment.",
  replaced: "This page was opened somewhere else, so it stopped here.",
  forbidden: "You are not allowed to do that from this page.",
  conflict: "That request has already been handled.",
  locked: "Someone else is moving that product right now.",
  timeout: "The server did not answer in time.",
  rate_limited: "Too many actions at once; slow down a little.",
  not_found: "Not found.",
  unknown_pairing: "This pairing code is not known. Scan the QR code on the mirror again.",
  pairing_used: "This code was already used. Scan the mirror's new QR code.",
  pairing_expired: "This code has expired. Scan the mirror's new QR code.",
  already_paired: "Another phone is already paired with this fitting room.",
  not_paired: "This phone is no longer paired with the fitting room. Scan the mirror's QR code again.",
  consent_required: "Agree to keep a wishlist first; without it nothing is kept.",
  unknown_item: "That item is no longer in the fitting room.",
};

/** A sentence for a SessionError or an HTTP error body. */
export function explain(err) {
  const code = err?.code || err?.error || "internal";
  return ERROR_WORDS[code] || err?.message || "Something went wrong.";
}

/** The last path segment after `/page/`, decoded. */
export function pathParam() {
  const parts = location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[1] || "");
}

/** Parameters from the fragment (never sent to the server) or the query: token, key. */
export function pageParams() {
  const out = {};
  for (const src of [location.search.slice(1), location.hash.slice(1)]) {
    for (const [k, v] of new URLSearchParams(src)) out[k] = v;
  }
  return out;
}

export function wsUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}

/** The status line: connection state in words, updated live. */
export function bindStatus(client, el, extra = {}) {
  const words = {
    connecting: "Connecting…",
    open: extra.open || "Live",
    resuming: "Connection lost. Reconnecting…",
    closed: "Disconnected. Reload the page to try again.",
  };
  const show = (status) => {
    el.dataset.status = status;
    el.textContent = words[status] || status;
  };
  show(client.status === "closed" ? "connecting" : client.status);
  client.on("status", show);
  return show;
}

/** Show a message in the alert region (role=alert), or clear it. */
export function alertText(text) {
  const el = document.getElementById("alert");
  if (!el) return;
  el.textContent = text || "";
  el.hidden = !text;
}

/**
 * Connect a client to `room` with the page's token; errors are shown in words.
 * @returns {Promise<SessionClient>}
 */
export async function connectPage(room, token, statusEl, opts = {}) {
  const client = new SessionClient({ urls: [wsUrl()], room, token: token || undefined, ...opts });
  window.phygitalClient = client;
  bindStatus(client, statusEl, opts.words || {});
  client.on("error", (err) => {
    if (["bad_token", "token_expired", "wrong_room", "auth_required", "room_full", "replaced", "too_many_rooms", "not_paired"].includes(err.code)) {
      alertText(explain(err));
    }
  });
  client.on("resumed", () => alertText(""));
  try {
    await client.connect();
  } catch (err) {
    alertText(explain(err));
    statusEl.dataset.status = "closed";
    statusEl.textContent = "Not connected.";
    throw err;
  }
  return client;
}

/** JSON over HTTP (`token`: Bearer, or `auth`: a whole Authorization value); throws {code, message} on an error status. */
export async function api(method, path, { token, auth, body, headers = {} } = {}) {
  const h = { ...headers };
  if (auth) h.Authorization = auth;
  else if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined && !(body instanceof Blob)) h["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers: h,
    body: body === undefined ? undefined : body instanceof Blob ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (!res.ok) {
    const err = new Error(data?.message || `${method} ${path}: ${res.status}`);
    err.code = data?.error || data?.code || `http_${res.status}`;
    err.status = res.status;
    throw err;
  }
  return data;
}

/** Create an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** Split a fitting-room id `fit.<store>.<room>` into {store, name}, or null. */
export function splitFittingRoom(room) {
  const parts = room.split(".");
  return parts.length === 3 && parts[0] === "fit" && parts[1] && parts[2] ? { store: parts[1], name: parts[2] } : null;
}

/**
 * A room token for this page: `#token=` as given, or a device key (`#key=`) exchanged for one (and
 * exchanged again before it expires; `onToken` gets each new one).
 */
export async function deviceToken(params, onToken) {
  if (params.token) return { token: params.token };
  if (!params.key) {
    const err = new Error("no key");
    err.code = "auth_required";
    throw err;
  }
  const got = await api("POST", "/api/devices/token", { auth: `Device ${params.key}` });
  const ttlMs = Math.max(10000, (got.expires - Date.now() / 1000) * 1000);
  setTimeout(async () => {
    try {
      onToken?.((await deviceToken(params, onToken)).token);
    } catch {
      /* the next resume will say what is wrong */
    }
  }, ttlMs * 0.8);
  return got;
}

export const REQUEST_WORDS = {
  open: "Waiting for staff",
  accepted: "On its way",
  delivered: "Delivered",
  unavailable: "Sorry, not available",
  cancelled: "Cancelled",
};

/** Words for a request: "Size L of TEE-01", "Call an assistant". */
export function describeRequest(req, items = {}) {
  const item = req.item ? items[req.item] : null;
  const what = item ? item.name || item.sku : req.sku || req.item || "";
  if (req.kind === "size") return `Size ${req.size}${what ? ` of ${what}` : ""}`;
  if (req.kind === "colour") return `${req.colour}${what ? ` ${what}` : ""}`;
  return "An assistant";
}
