// /staff/{store}: the live request queue of the store's fitting rooms and the rooms' states, for a
// tablet. Auth: #key=<staff device key> or #token=<token for staff.<store>>. State: window.phygitalStaff.
import { REQUEST_WORDS, alertText, api, connectPage, describeRequest, deviceToken, explain, h, pageParams, pathParam } from "/static/pages/common.js";

const store = pathParam();
const room = `staff.${store}`;
const params = pageParams();
const ui = Object.fromEntries(["status", "queue", "done", "rooms", "store-name"].map((id) => [id, document.getElementById(id)]));
ui["store-name"].textContent = store;
const staff = { store, requests: {}, rooms: {} };
window.phygitalStaff = staff;
let token = null;
let client = null;

const OPEN = new Set(["open", "accepted"]);

async function act(rid, action, button) {
  button.disabled = true;
  try {
    await api("POST", `/api/requests/${encodeURIComponent(rid)}/${action}`, params.key ? { auth: `Device ${params.key}` } : { token });
    alertText("");
  } catch (err) {
    alertText(explain(err));
    button.disabled = false;
  }
}

function card(rid, r) {
  const actions = [];
  if (r.state === "open") actions.push(["accept", "Accept", ""]);
  if (OPEN.has(r.state)) {
    actions.push(["deliver", "Delivered", r.state === "open" ? "secondary" : ""]);
    actions.push(["unavailable", "Not available", "secondary"]);
  }
  const what = describeRequest(r);
  return h(
    "li",
    { class: "card", "data-request": rid, "data-state": r.state },
    h("h3", {}, `Room ${r.room}: ${what}`),
    h("div", { class: "muted" }, [r.sku, r.item && `item ${r.item}`].filter(Boolean).join(" · ")),
    h("div", {}, h("span", { class: `badge ${r.state}` }, REQUEST_WORDS[r.state] || r.state), r.by_staff ? ` (${r.by_staff})` : ""),
    h("div", { class: "actions" }, ...actions.map(([a, label, cls]) =>
      h("button", { type: "button", class: cls || undefined, "data-action": a, "aria-label": `${label}: room ${r.room}, ${what}`, onclick: (e) => act(rid, a, e.currentTarget) }, label))),
  );
}

function render(state) {
  staff.requests = structuredClone(state.requests || {});
  staff.rooms = structuredClone(state.rooms || {});
  const all = Object.entries(state.requests || {}).sort((a, b) => a[1].updated - b[1].updated);
  const open = all.filter(([, r]) => OPEN.has(r.state));
  ui.queue.replaceChildren(...(open.length ? open.map(([rid, r]) => card(rid, r)) : [h("li", { class: "empty" }, "No requests waiting. All done!")]));
  ui.done.replaceChildren(...all.filter(([, r]) => !OPEN.has(r.state)).map(([rid, r]) =>
    h("li", { "data-request": rid, "data-state": r.state }, `Room ${r.room}: ${describeRequest(r)} — ${REQUEST_WORDS[r.state] || r.state}`)));
  const rooms = Object.entries(state.rooms || {}).sort(([a], [b]) => a.localeCompare(b));
  ui.rooms.replaceChildren(...(rooms.length
    ? rooms.map(([name, s]) => h("tr", { "data-room": name },
      h("th", { scope: "row" }, name), h("td", {}, String(s.items)), h("td", {}, String(s.open_requests)),
      h("td", {}, s.mirror ? "on" : "off"), h("td", {}, s.phone ? "paired" : "—")))
    : [h("tr", {}, h("td", { colspan: "5", class: "empty" }, "No fitting room has reported yet."))]));
}

async function main() {
  try {
    token = (await deviceToken(params, (t) => {
      token = t;
      if (client) client.token = t;
    })).token;
  } catch (err) {
    alertText(err.code === "auth_required" ? "This tablet needs its staff key: open it as /staff/<store>#key=<device key>." : explain(err));
    ui.status.textContent = "Not connected.";
    return;
  }
  client = await connectPage(room, token, ui.status).catch(() => null);
  if (!client) return;
  client.on("change", render);
  render(client.state);
}

main();
