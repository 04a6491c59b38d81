// /viewer/{room}: the shared AR room in 3D, live: placed products (their catalog GLB), anchors,
// participants' devices (interpolated, faded when they go quiet). State for tests: window.phygitalViewer.
import { connectPage, h, pageParams, pathParam } from "/static/pages/common.js";
import { THREE, deviceMarker, hasWebGL, loadGlb, makeScene, modelUrlOf, placeholder, setPose } from "/static/pages/three-view.js";

const room = pathParam();
const { token } = pageParams();
document.getElementById("room-name").textContent = room;
document.title = `Room ${room} — Phygital viewer`;

const ui = {
  status: document.getElementById("status"),
  objects: document.getElementById("objects"),
  empty: document.getElementById("empty"),
  anchors: document.getElementById("anchors"),
  people: document.getElementById("people"),
  note: document.getElementById("view-note"),
};

/** What the page shows, for people (the list) and tests (this object). */
const viewer = {
  room,
  revision: -1,
  renderedRevision: -1,
  objects: {},
  anchors: {},
  participants: {},
  webgl: hasWebGL(),
  firstModelMs: null,
  marks: {},
  deltaToRenderMs: [],
};
const mark = (name) => {
  if (!(name in viewer.marks)) viewer.marks[name] = Math.round(performance.now());
};
mark("script");
window.phygitalViewer = viewer;

let view = null;
const nodes = new Map(); // object id -> {group, sku, variant, model: "loading"|"glb"|"placeholder"}
const anchorNodes = new Map();
const deviceNodes = new Map();
const pendingDeltas = [];

if (viewer.webgl) {
  view = makeScene(document.getElementById("view"));
} else {
  ui.note.textContent = "The 3D view needs WebGL, which this browser does not offer. The lists show the room live.";
}

async function attachModel(id, entry) {
  const url = await modelUrlOf(entry.sku, entry.variant);
  mark("manifest");
  if (!nodes.has(id) || nodes.get(id) !== entry) return;
  if (!url) {
    entry.model = "placeholder";
    entry.note = "no 3D model in the catalog";
    renderList();
    return;
  }
  try {
    const model = await loadGlb(url);
    mark("glb");
    if (nodes.get(id) !== entry) return;
    entry.group.clear();
    entry.group.add(model);
    entry.model = "glb";
    if (viewer.firstModelMs === null) viewer.firstModelMs = performance.now();
  } catch (err) {
    entry.model = "placeholder";
    entry.note = `the model did not load (${err.message || err})`;
  }
  renderList();
}

function syncScene(state) {
  // objects
  for (const [id, o] of Object.entries(state.objects)) {
    let entry = nodes.get(id);
    if (entry && (entry.sku !== o.sku || entry.variant !== o.variant)) {
      view?.scene.remove(entry.group);
      nodes.delete(id);
      entry = undefined;
    }
    if (!entry) {
      entry = { group: view ? placeholder() : null, sku: o.sku, variant: o.variant, model: "loading", note: "" };
      nodes.set(id, entry);
      if (view) {
        view.scene.add(entry.group);
        attachModel(id, entry);
      }
    }
    if (view) setPose(entry.group, o.pose, o.scale);
  }
  for (const [id, entry] of nodes) {
    if (!(id in state.objects)) {
      view?.scene.remove(entry.group);
      nodes.delete(id);
    }
  }
  // anchors
  for (const [id, a] of Object.entries(state.anchors)) {
    let node = anchorNodes.get(id);
    if (!node && view) {
      node = new THREE.AxesHelper(0.3);
      anchorNodes.set(id, node);
      view.scene.add(node);
    }
    if (node) setPose(node, a.pose);
  }
  for (const [id, node] of anchorNodes) {
    if (!(id in state.anchors)) {
      view?.scene.remove(node);
      anchorNodes.delete(id);
    }
  }
}

function fmt(n) {
  return (Math.round(n * 100) / 100).toFixed(2);
}

function renderList() {
  const state = window.phygitalClient?.state;
  if (!state) return;
  const objects = Object.values(state.objects);
  ui.empty.textContent = objects.length ? "" : "No products placed in this room yet.";
  ui.empty.hidden = objects.length > 0;
  ui.objects.replaceChildren(
    ...objects.map((o) => {
      const entry = nodes.get(o.id);
      const lock = state.locks[o.id];
      const model = entry?.model === "glb" ? "3D model" : entry?.model === "loading" ? "loading the model…" : `box shown: ${entry?.note || "no model"}`;
      return h(
        "li",
        { class: "card", "data-object": o.id, "aria-label": `${o.sku} at ${fmt(o.pose[0])}, ${fmt(o.pose[1])}, ${fmt(o.pose[2])} metres` },
        h("h3", {}, o.sku),
        h("div", { class: "muted" }, `${o.id}${o.variant ? ` · ${o.variant}` : ""}`),
        h("div", {}, `at x ${fmt(o.pose[0])} m, y ${fmt(o.pose[1])} m, z ${fmt(o.pose[2])} m · scale ${fmt(o.scale)}`),
        h("div", { class: "muted" }, lock ? `being moved by ${lock.holder}` : model),
      );
    }),
  );
  ui.anchors.replaceChildren(
    ...(Object.values(state.anchors).length
      ? Object.values(state.anchors).map((a) => h("li", {}, `${a.id} at ${fmt(a.pose[0])}, ${fmt(a.pose[1])}, ${fmt(a.pose[2])}`))
      : [h("li", { class: "empty" }, "No anchors yet.")]),
  );
  ui.people.replaceChildren(
    ...Object.values(state.participants).map((p) =>
      h("li", {}, `${p.id} (${p.role})${p.connected ? "" : " — connection lost"}${p.id === window.phygitalClient.participant ? " — you" : ""}`),
    ),
  );
  viewer.objects = Object.fromEntries(
    objects.map((o) => [o.id, { sku: o.sku, variant: o.variant, pose: [...o.pose], scale: o.scale, model: nodes.get(o.id)?.model ?? "none" }]),
  );
  viewer.anchors = Object.fromEntries(Object.values(state.anchors).map((a) => [a.id, [...a.pose]]));
  viewer.revision = state.revision;
}

function animate() {
  const client = window.phygitalClient;
  if (view && client) {
    const now = performance.now();
    const seen = new Set();
    for (const v of client.mirror.presence.view(now)) {
      if (v.participant === client.participant) continue;
      seen.add(v.participant);
      let node = deviceNodes.get(v.participant);
      if (!node) {
        node = deviceMarker();
        deviceNodes.set(v.participant, node);
        view.scene.add(node);
      }
      setPose(node, v.pose);
      node.children[0].material.opacity = v.opacity;
      viewer.participants[v.participant] = { pose: v.pose, opacity: v.opacity };
    }
    for (const [pid, node] of deviceNodes) {
      if (!seen.has(pid)) {
        view.scene.remove(node);
        deviceNodes.delete(pid);
        delete viewer.participants[pid];
      }
    }
    view.resize();
    view.controls.update();
    view.renderer.render(view.scene, view.camera);
    if (viewer.firstModelMs !== null) mark("first_model_frame");
  }
  // the frame that shows a delta: measure delta-to-render
  const done = performance.now();
  while (pendingDeltas.length) viewer.deltaToRenderMs.push(done - pendingDeltas.shift());
  if (viewer.deltaToRenderMs.length > 200) viewer.deltaToRenderMs.splice(0, viewer.deltaToRenderMs.length - 200);
  viewer.renderedRevision = viewer.revision;
  requestAnimationFrame(animate);
}

async function main() {
  const client = await connectPage(room, token, ui.status, { words: { open: "Live" } }).catch(() => null);
  if (!client) {
    ui.empty.textContent = "The room could not be opened.";
    return;
  }
  mark("welcome");
  const onChange = (state) => {
    syncScene(state);
    renderList();
  };
  client.on("delta", () => pendingDeltas.push(performance.now()));
  client.on("change", onChange);
  onChange(client.state);
  requestAnimationFrame(animate);
}

main();
