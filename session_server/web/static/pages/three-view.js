// three.js helpers shared by the viewer and the mirror: a scene, product models from the catalog
// (the published GLB with its meshopt / WebP extensions), placeholders while loading or when unknown.
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { MeshoptDecoder } from "three/addons/libs/meshopt_decoder.module.js";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

export { THREE };

const loader = new GLTFLoader();
loader.setMeshoptDecoder(MeshoptDecoder);

/** Is WebGL available in this browser? */
export function hasWebGL() {
  try {
    const c = document.createElement("canvas");
    return !!(c.getContext("webgl2") || c.getContext("webgl"));
  } catch {
    return false;
  }
}

/** A renderer, camera, lights, ground grid and orbit controls on `canvas`. */
export function makeScene(canvas, { ground = true, camera = [0, 2.4, 4.2] } = {}) {
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0xf4f4f2);
  const cam = new THREE.PerspectiveCamera(50, 1, 0.01, 200);
  cam.position.set(...camera);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x8d8d8d, 2.2));
  const sun = new THREE.DirectionalLight(0xffffff, 1.5);
  sun.position.set(3, 6, 4);
  scene.add(sun);
  if (ground) scene.add(new THREE.GridHelper(10, 20, 0x888888, 0xcccccc));
  const controls = new OrbitControls(cam, canvas);
  controls.listenToKeyEvents(canvas); // arrow keys pan the view when the canvas has the focus
  controls.target.set(0, 0.3, 0);
  controls.update();
  const resize = () => {
    const w = canvas.clientWidth || 300;
    const hgt = canvas.clientHeight || 300;
    if (canvas.width !== Math.floor(w * renderer.getPixelRatio()) || canvas.height !== Math.floor(hgt * renderer.getPixelRatio())) {
      renderer.setSize(w, hgt, false);
      cam.aspect = w / hgt;
      cam.updateProjectionMatrix();
    }
  };
  return { renderer, scene, camera: cam, controls, resize };
}

const manifests = new Map();

/** The catalog manifest of a SKU (cached), or null when the catalog does not know it. */
export function manifestOf(sku) {
  if (!manifests.has(sku)) {
    manifests.set(
      sku,
      fetch(`/products/${encodeURIComponent(sku)}/manifest`).then((r) => (r.ok ? r.json() : null)).catch(() => null),
    );
  }
  return manifests.get(sku);
}

/** The GLB URL of a SKU's best level of detail (lod 0), for a variant when given. */
export async function modelUrlOf(sku, variant = null) {
  const m = await manifestOf(sku);
  if (!m || !m.items?.length) return null;
  const items = m.items.filter((i) => i.lod === 0);
  const item = items.find((i) => i.variant === variant) || items[0] || m.items[0];
  return item.glb.url;
}

/** Load a GLB: resolves with its scene (an Object3D). */
export function loadGlb(url) {
  return new Promise((resolve, reject) => loader.load(url, (gltf) => resolve(gltf.scene), undefined, reject));
}

/** A box standing on the floor, for a product whose model is loading or unknown. */
export function placeholder(color = 0x9aa5b1) {
  const mesh = new THREE.Mesh(
    new THREE.BoxGeometry(0.4, 0.4, 0.4),
    new THREE.MeshStandardMaterial({ color, transparent: true, opacity: 0.6 }),
  );
  mesh.position.y = 0.2;
  const group = new THREE.Group();
  group.add(mesh);
  return group;
}

/** A participant's device: a small cone pointing where the camera looks. */
export function deviceMarker(color = 0x2563eb) {
  const cone = new THREE.Mesh(
    new THREE.ConeGeometry(0.08, 0.2, 16),
    new THREE.MeshStandardMaterial({ color, transparent: true, opacity: 1 }),
  );
  cone.rotation.x = -Math.PI / 2;
  const group = new THREE.Group();
  group.add(cone);
  return group;
}

/** Apply a 7-number pose (x y z qx qy qz qw) and a scale to an object. */
export function setPose(obj, pose, scale = 1) {
  obj.position.set(pose[0], pose[1], pose[2]);
  obj.quaternion.set(pose[3], pose[4], pose[5], pose[6]);
  obj.scale.setScalar(scale);
}

/** Frame the camera on an object (its bounding box). */
export function frame(view, obj) {
  const box = new THREE.Box3().setFromObject(obj);
  if (box.isEmpty()) return;
  const size = box.getSize(new THREE.Vector3()).length() || 1;
  const center = box.getCenter(new THREE.Vector3());
  view.controls.target.copy(center);
  view.camera.position.copy(center).add(new THREE.Vector3(0.6, 0.4, 1).normalize().multiplyScalar(size * 1.4));
  view.camera.near = size / 100;
  view.camera.far = size * 100;
  view.camera.updateProjectionMatrix();
  view.controls.update();
}
