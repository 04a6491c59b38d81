// /mirror/{fit.<store>.<room>}: the fitting room's kiosk screen. Items live from the room, details,
// stock and recommendations, requests with live status, the pairing QR code, the 3D view of an item,
// and try-on (camera frames to /tryon/live only while the shopper has turned the camera on).
// State for tests: window.phygitalMirror. Auth: #key=<mirror device key> or #token=<room token>.
import {
  REQUEST_WORDS, alertText, api, connectPage, describeRequest, deviceToken, explain, h, pageParams, pathParam,
  splitFittingRoom,
} from "/static/pages/common.js";
import { hasWebGL, loadGlb, makeScene, modelUrlOf, frame } from "/static/pages/three-view.js";
import qrcode from "/static/vendor/qrcode-generator/qrcode.mjs";

const room = pathParam();
const where = splitFittingRoom(room);
const params = pageParams();
const ui = Object.fromEntries(
  ["status", "items", "empty", "requests", "assistant", "pairing", "camera", "camera-indicator", "tryon", "camera-video",
    "tryon-frame", "tryon-note", "view", "view-note", "room-name"].map((id) => [id, document.getElementById(id)]),
);
const mirror = { room, items: {}, requests: {}, phone: null, pairing: null, cameraOn: false, selected: null, model: null, firstModelMs: null };
window.phygitalMirror = mirror;
let token = null;
let client = null;

ui["room-name"].textContent = where ? `${where.name}` : room;

function auth() {
  return params.key ? { auth: `Device ${params.key}` } : { token };
}

async function ask(body, button) {
  if (button) button.disabled = true;
  try {
    await api("POST", `/api/rooms/${where.store}/${where.name}/requests`, { ...auth(), body });
    alertText("");
  } catch (err) {
    alertText(explain(err));
  } finally {
    if (button) button.disabled = false;
  }
}

function money(price, currency) {
  if (price === null || price === undefined) return "";
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "EUR" }).format(price);
  } catch {
    return `${price} ${currency || ""}`;
  }
}

function stockChoices(recs, kind, current) {
  const seen = new Set();
  for (const s of recs?.variants || []) {
    const v = kind === "size" ? s.size : s.colour;
    if (v && v !== current && s.quantity > 0) seen.add(v);
  }
  return [...seen];
}

function itemCard(id, item, recs, state) {
  if (!item.known) {
    return h(
      "li",
      { class: "card", "data-item": id },
      h("h3", {}, "Unknown item"),
      h("p", {}, `We could not recognise this item${item.tag ? ` (tag ${item.tag})` : ""}. A member of staff can help.`),
    );
  }
  const sizes = stockChoices(recs, "size", item.size);
  const colours = stockChoices(recs, "colour", item.colour);
  const hasSizes = !!item.size || sizes.length > 0;
  const sizeSel = h("select", { "aria-label": `Size to bring for ${item.name || item.sku}` },
    ...(sizes.length ? sizes : ["XS", "S", "M", "L", "XL"]).map((s) => h("option", { value: s }, s)));
  const colourSel = colours.length
    ? h("select", { "aria-label": `Colour to bring for ${item.name || item.sku}` }, ...colours.map((c) => h("option", { value: c }, c)))
    : null;
  const others = [...(recs?.cotried || []), ...(recs?.matches || [])];
  return h(
    "li",
    { class: "card", "data-item": id },
    h("h3", {}, item.name || item.sku),
    h("div", { class: "muted" }, [item.sku, item.size && `size ${item.size}`, item.colour].filter(Boolean).join(" · ")),
    item.price !== null ? h("div", {}, money(item.price, item.currency)) : null,
    recs
      ? h("div", { class: "stock" }, sizes.length || colours.length
        ? `In stock here: ${[...sizes.map((s) => `size ${s}`), ...colours].join(", ")}`
        : "No other size or colour in stock here.")
      : null,
    others.length ? h("div", { class: "muted" }, `Goes well with: ${others.slice(0, 3).map((o) => o.name || o.sku).join(", ")}`) : null,
    h("div", { class: "actions" },
      hasSizes ? sizeSel : null,
      hasSizes ? h("button", { type: "button", "data-action": "size", onclick: (e) => ask({ kind: "size", item: id, size: sizeSel.value }, e.currentTarget) }, "Bring this size") : null,
      colourSel,
      colourSel ? h("button", { type: "button", class: "secondary", "data-action": "colour", onclick: (e) => ask({ kind: "colour", item: id, colour: colourSel.value }, e.currentTarget) }, "Bring this colour") : null,
      h("button", { type: "button", class: "secondary", "data-action": "view", "aria-pressed": String(mirror.selected === id), onclick: () => select(id, state) }, "See in 3D"),
    ),
  );
}

function render(state) {
  const items = state.items || {};
  mirror.items = structuredClone(items);
  mirror.requests = structuredClone(state.requests || {});
  mirror.phone = state.phone;
  const ids = Object.keys(items);
  ui.empty.hidden = ids.length > 0;
  ui.empty.textContent = "Bring items into the fitting room: they appear here.";
  ui.items.replaceChildren(...ids.map((id) => itemCard(id, items[id], state.recs?.[id], state)));
  const reqs = Object.entries(state.requests || {});
  ui.requests.replaceChildren(
    ...(reqs.length
      ? reqs.map(([rid, r]) =>
        h("li", { "data-request": rid, "data-state": r.state },
          `${describeRequest(r, items)}: `,
          h("span", { class: `badge ${r.state}` }, REQUEST_WORDS[r.state] || r.state),
          r.state === "unavailable" ? h("span", { class: "muted" }, " — ask staff for something similar.") : null))
      : [h("li", { class: "empty" }, "No requests yet.")]),
  );
  renderPairing(state);
  if (!mirror.selected || !items[mirror.selected]) {
    const first = ids.find((id) => items[id].known);
    if (first) select(first, state);
  }
}

let pairingTimer = null;
async function renderPairing(state) {
  if (state.phone) {
    clearTimeout(pairingTimer);
    pairingTimer = null;
    mirror.pairing = null;
    ui.pairing.replaceChildren(h("p", { "data-paired": "yes" }, "Your phone is connected. Items and looks appear there too."));
    return;
  }
  if (mirror.pairing && mirror.pairing.expires * 1000 > Date.now() + 5000) return;
  if (pairingTimer === "fetching") return;
  pairingTimer = "fetching";
  try {
    const p = await api("POST", `/api/rooms/${where.store}/${where.name}/pairing`, auth());
    mirror.pairing = p;
    const qr = qrcode(0, "M");
    qr.addData(p.url);
    qr.make();
    const img = h("div", { class: "qr", role: "img", "aria-label": `QR code to pair your phone; or type the code ${p.code}` });
    img.innerHTML = qr.createSvgTag({ cellSize: 6, margin: 2, scalable: true });
    ui.pairing.replaceChildren(
      h("p", {}, "Scan with your phone to see your items and save looks:"),
      img,
      h("p", {}, "Code: ", h("strong", { "data-code": p.code }, p.code)),
    );
    pairingTimer = setTimeout(() => {
      mirror.pairing = null;
      pairingTimer = null;
      renderPairing(client.state);
    }, Math.max(5000, (p.expires * 1000 - Date.now()) - 5000));
  } catch (err) {
    pairingTimer = null;
    ui.pairing.replaceChildren(h("p", {}, `No pairing code right now: ${explain(err)}`));
  }
}

// ---- 3D view ------------------------------------------------------------------------------------
let view = null;
if (hasWebGL()) {
  view = makeScene(ui.view, { ground: false });
  const loop = () => {
    view.resize();
    view.controls.update();
    view.renderer.render(view.scene, view.camera);
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
} else {
  ui["view-note"].textContent = "The 3D view needs WebGL, which this screen does not offer.";
}

async function select(id, state) {
  const item = state.items[id];
  mirror.selected = id;
  if (!view || !item) return;
  ui["view-note"].textContent = `Loading ${item.name || item.sku} in 3D…`;
  const url = item.model_url || (await modelUrlOf(item.sku));
  if (mirror.selected !== id) return;
  if (!url) {
    ui["view-note"].textContent = `${item.name || item.sku} has no 3D model yet.`;
    mirror.model = "none";
    return;
  }
  try {
    const model = await loadGlb(url);
    if (mirror.selected !== id) return;
    view.scene.children.filter((c) => c.userData.product).forEach((c) => view.scene.remove(c));
    model.userData.product = true;
    view.scene.add(model);
    frame(view, model);
    mirror.model = item.sku;
    if (mirror.firstModelMs === null) mirror.firstModelMs = performance.now();
    ui["view-note"].textContent = `${item.name || item.sku} in 3D: drag to turn it.`;
  } catch (err) {
    ui["view-note"].textContent = `The 3D model of ${item.name || item.sku} did not load.`;
  }
}

// ---- try-on ---------------------------------------------------------------------------------------
let camera = null;
async function cameraOn() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/tryon/live`);
    ws.binaryType = "blob";
    const grab = document.createElement("canvas");
    grab.width = 640;
    grab.height = 480;
    camera = { stream, ws, timer: null, frames: 0, rendered: 0 };
    ui["camera-video"].srcObject = stream;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "room", token }));
      camera.timer = setInterval(() => {
        if (ws.readyState !== 1 || ws.bufferedAmount > 256 * 1024) return;
        grab.getContext("2d").drawImage(ui["camera-video"], 0, 0, 640, 480);
        grab.toBlob((b) => {
          if (b && ws.readyState === 1) {
            ws.send(b);
            camera.frames += 1;
          }
        }, "image/jpeg", 0.8);
      }, 200);
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") {
        const msg = JSON.parse(ev.data);
        if (msg.type === "error") ui["tryon-note"].textContent = `Try-on: ${msg.message}`;
        return;
      }
      const url = URL.createObjectURL(ev.data);
      const old = ui["tryon-frame"].src;
      ui["tryon-frame"].src = url;
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      camera.rendered += 1;
      mirror.tryonFrames = camera.rendered;
    };
    ws.onclose = () => {
      if (camera && camera.ws === ws) ui["tryon-note"].textContent = "Try-on is not available right now; the camera preview still works.";
    };
    mirror.cameraOn = true;
    ui.tryon.hidden = false;
    ui["camera-indicator"].hidden = false;
    ui.camera.textContent = "Turn the camera off";
    ui.camera.setAttribute("aria-pressed", "true");
  } catch (err) {
    alertText(`The camera could not be turned on (${err.name || err.message}).`);
  }
}

function cameraOff() {
  if (camera) {
    clearInterval(camera.timer);
    camera.stream.getTracks().forEach((t) => t.stop());
    const ws = camera.ws;
    camera = null;
    ws.close();
  }
  ui["camera-video"].srcObject = null;
  mirror.cameraOn = false;
  ui.tryon.hidden = true;
  ui["camera-indicator"].hidden = true;
  ui.camera.textContent = "Turn the camera on";
  ui.camera.setAttribute("aria-pressed", "false");
}

ui.camera.addEventListener("click", () => (camera ? cameraOff() : cameraOn()));
ui.assistant.addEventListener("click", (e) => ask({ kind: "assistant" }, e.currentTarget));

async function main() {
  if (!where) {
    alertText(`"${room}" is not a fitting room: the address should be /mirror/fit.<store>.<room>.`);
    ui.status.textContent = "Not connected.";
    return;
  }
  try {
    const got = await deviceToken(params, (t) => {
      token = t;
      if (client) client.token = t;
    });
    token = got.token;
    if (got.room && got.room !== room) {
      alertText(`This mirror's key belongs to ${got.room}, not ${room}.`);
      return;
    }
  } catch (err) {
    alertText(err.code === "auth_required" ? "This screen needs its mirror key: open it as /mirror/<room>#key=<device key>." : explain(err));
    ui.status.textContent = "Not connected.";
    return;
  }
  client = await connectPage(room, token, ui.status).catch(() => null);
  if (!client) return;
  mirror.liveMs = performance.now();
  client.on("change", render);
  render(client.state);
}

main();
