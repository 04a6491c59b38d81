// /phone/{pairing}: the shopper's phone, opened from the mirror's QR code (the code in the path or in
// the fragment #code=...). Pairs, shows the items live, asks consent before keeping anything, saves
// items and looks, shows and deletes what is kept. State for tests: window.phygitalPhone.
import { alertText, api, connectPage, explain, h, pageParams, pathParam } from "/static/pages/common.js";

const params = pageParams();
const fromPath = pathParam();
const code = params.code || (fromPath && fromPath !== "pair" ? fromPath : "");
const ui = Object.fromEntries(
  ["status", "items", "empty", "save-look", "consent", "consent-yes", "consent-no", "kept", "forget"].map((id) => [id, document.getElementById(id)]),
);
const phone = { paired: false, room: null, items: {}, consent: null, kept: [] };
window.phygitalPhone = phone;
let pairing = null;
let client = null;
const KEY = "phygital.wishlistKey";

function shopperKey() {
  return localStorage.getItem(KEY);
}

async function refreshKept() {
  const key = shopperKey();
  phone.consent = key ? true : phone.consent;
  ui.consent.parentElement.hidden = !!key;
  ui.forget.hidden = !key;
  if (!key) {
    phone.kept = [];
    ui.kept.replaceChildren(h("li", { class: "empty" }, phone.consent === false ? "Nothing is kept: you said no." : "Nothing is kept."));
    renderItems();
    return;
  }
  try {
    const list = await api("GET", "/api/wishlist", { auth: `Shopper ${key}` });
    phone.kept = list.entries;
    ui.kept.replaceChildren(
      ...(list.entries.length
        ? list.entries.map((e) => h("li", { "data-entry": e.id },
          e.look ? `Look: ${e.look.join(", ")}` : [e.sku, e.size, e.colour].filter(Boolean).join(" · "), " ",
          h("button", { type: "button", class: "secondary", "aria-label": `Delete ${e.look ? "look" : e.sku}`, onclick: () => removeEntry(e.id) }, "Delete")))
        : [h("li", { class: "empty" }, "Your wishlist is empty.")]),
    );
  } catch (err) {
    if (err.code === "unknown_shopper") {
      localStorage.removeItem(KEY);
      return refreshKept();
    }
    alertText(explain(err));
  }
  renderItems();
}

async function removeEntry(id) {
  try {
    await api("DELETE", `/api/wishlist/${id}`, { auth: `Shopper ${shopperKey()}` });
  } catch (err) {
    alertText(explain(err));
  }
  refreshKept();
}

async function save(body, button) {
  const key = shopperKey();
  if (!key) {
    alertText("Agree to keep a wishlist first; without it nothing is saved.");
    return;
  }
  button.disabled = true;
  try {
    await api("POST", "/api/wishlist", { auth: `Shopper ${key}`, body: { ...body, store: pairing?.store } });
    alertText("");
    button.textContent = "Saved";
  } catch (err) {
    alertText(explain(err));
    button.disabled = false;
  }
  refreshKept();
}

function renderItems() {
  const items = phone.items;
  const ids = Object.keys(items);
  ui.empty.hidden = ids.length > 0;
  ui.empty.textContent = "No items in the fitting room yet.";
  const canSave = !!shopperKey();
  ui.items.replaceChildren(...ids.map((id) => {
    const it = items[id];
    return h("li", { class: "card", "data-item": id },
      h("h3", {}, it.known ? it.name || it.sku : "Unknown item"),
      h("div", { class: "muted" }, it.known ? [it.sku, it.size && `size ${it.size}`, it.colour].filter(Boolean).join(" · ") : "Staff can tell you more about it."),
      it.known ? h("button", { type: "button", class: "secondary", disabled: !canSave, "data-action": "save", "aria-label": `Save ${it.name || it.sku}`, onclick: (e) => save({ sku: it.sku, size: it.size, colour: it.colour }, e.currentTarget) }, "Save") : null);
  }));
  const skus = ids.filter((id) => items[id].known).map((id) => items[id].sku);
  ui["save-look"].disabled = !canSave || skus.length === 0;
  ui["save-look"].onclick = (e) => save({ sku: skus[0], look: skus }, e.currentTarget);
}

ui["consent-yes"].addEventListener("click", async (e) => {
  e.currentTarget.disabled = true;
  try {
    const got = await api("POST", `/api/rooms/${pairing.store}/${pairing.fitting_room}/consent`, { token: pairing.token, body: { wishlist: true } });
    localStorage.setItem(KEY, got.key);
    phone.consent = true;
    alertText("");
  } catch (err) {
    alertText(explain(err));
    e.currentTarget.disabled = false;
  }
  refreshKept();
});
ui["consent-no"].addEventListener("click", () => {
  phone.consent = false;
  ui.consent.replaceChildren(h("p", {}, "Understood: nothing of this visit is kept."));
  refreshKept();
});
ui.forget.addEventListener("click", async () => {
  try {
    await api("DELETE", "/api/wishlist", { auth: `Shopper ${shopperKey()}` });
    localStorage.removeItem(KEY);
    phone.consent = null;
    ui.consent.parentElement.hidden = false;
  } catch (err) {
    alertText(explain(err));
  }
  refreshKept();
});

async function main() {
  const stored = sessionStorage.getItem(`phygital.pairing.${code}`);
  if (stored) pairing = JSON.parse(stored);
  if (!pairing || pairing.expires * 1000 < Date.now()) {
    if (!code) {
      alertText("Scan the QR code on the fitting room's mirror to open this page.");
      ui.status.textContent = "Not paired.";
      return;
    }
    try {
      pairing = await api("POST", "/api/pairing", { body: { code } });
      sessionStorage.setItem(`phygital.pairing.${code}`, JSON.stringify(pairing));
    } catch (err) {
      alertText(explain(err));
      ui.status.textContent = "Not paired.";
      return;
    }
  }
  phone.paired = true;
  phone.room = pairing.room;
  client = await connectPage(pairing.room, pairing.token, ui.status, { words: { open: "Paired" } }).catch(() => null);
  if (!client) return;
  const onChange = (state) => {
    phone.items = structuredClone(state.items || {});
    phone.paired = state.phone?.participant === client.participant;
    if (!phone.paired) {
      phone.items = {};
      sessionStorage.removeItem(`phygital.pairing.${code}`);
      alertText("Your visit has ended: this phone is no longer paired. What you saved with consent is still listed below.");
    }
    renderItems();
  };
  client.on("change", onChange);
  onChange(client.state);
  refreshKept();
}

main();
