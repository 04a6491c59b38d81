"""Generated animated models for the animation tests and the benchmark: a skinned strip on a chain of
joints with dense LINEAR curves (60 keys a second, as exporters bake them), a STEP channel, a CUBICSPLINE
channel, redundant constant channels, and a morphed mesh with an animated weight; plus an independent,
key-by-key glTF sampler (not the pipeline's) to play them."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from assets_pipeline.document import AssetDocument

JOINTS = 5
SECONDS = 4.0
RATE = 60


def _strip(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    ys = np.linspace(0, 2.0, n + 1)
    pos = np.array([[x, y, 0.0] for y in ys for x in (-0.1, 0.1)], np.float32)
    tris = []
    for i in range(n):
        a, b, c, d = 2 * i, 2 * i + 1, 2 * i + 2, 2 * i + 3
        tris += [a, b, d, a, d, c]
    return pos, np.array(tris, np.uint32)


def _quat(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    return np.concatenate([np.sin(angle / 2)[:, None] * axis[None], np.cos(angle / 2)[:, None]], axis=1)


def animated_document() -> AssetDocument:
    """The generated model (float32 keyframes, no compression applied)."""
    doc = AssetDocument.empty()
    pos, idx = _strip()
    n = len(pos)
    seg = 2.0 / JOINTS
    y = pos[:, 1].astype(np.float64)
    j = np.clip((y / seg).astype(int), 0, JOINTS - 2)
    frac = np.clip(y / seg - j, 0.0, 1.0)
    joints = np.zeros((n, 4), np.uint16)
    joints[:, 0] = j
    joints[:, 1] = j + 1
    joints[:, 2] = (j + 2) % JOINTS
    joints[:, 3] = (j + 3) % JOINTS
    weights = np.zeros((n, 4), np.float32)
    weights[:, 1] = 0.5 * frac
    weights[:, 0] = 1 - weights[:, 1]
    skinned = {"attributes": {"POSITION": doc.add_accessor(pos), "JOINTS_0": doc.add_accessor(joints),
                              "WEIGHTS_0": doc.add_accessor(weights)}, "indices": doc.add_accessor(idx)}
    bump = np.zeros_like(pos)
    bump[:, 2] = 0.2 * np.sin(pos[:, 1] * math.pi)
    morphed = {"attributes": {"POSITION": doc.add_accessor(pos + np.array([1.0, 0.0, 0.0], np.float32))},
               "indices": doc.add_accessor(idx), "targets": [{"POSITION": doc.add_accessor(bump)}]}
    doc.gltf["meshes"] = [{"name": "tail", "primitives": [skinned]},
                          {"name": "flag", "primitives": [morphed], "weights": [0.0]}]
    nodes: list[dict] = [{"name": "root", "children": [1, JOINTS + 1, JOINTS + 2, JOINTS + 3]}]
    for k in range(JOINTS):
        node = {"name": f"joint{k}", "translation": [0.0, seg if k else 0.0, 0.0]}
        if k < JOINTS - 1:
            node["children"] = [k + 2]
        nodes.append(node)
    nodes += [{"name": "tail", "mesh": 0, "skin": 0}, {"name": "flag", "mesh": 1},
              {"name": "blinker", "translation": [0.0, 2.5, 0.0]}]
    doc.gltf["nodes"] = nodes
    ibm = np.tile(np.eye(4, dtype=np.float32), (JOINTS, 1, 1))
    ibm[:, 1, 3] = -seg * np.arange(JOINTS)
    doc.gltf["skins"] = [{"joints": list(range(1, JOINTS + 1)),
                          "inverseBindMatrices": doc.add_accessor(ibm.transpose(0, 2, 1).reshape(-1, 16).copy(),
                                                                  "MAT4")}]
    t = np.arange(int(SECONDS * RATE) + 1, dtype=np.float64) / RATE
    times = doc.add_accessor(t.astype(np.float32))
    samplers, channels = [], []

    def channel(node: int, path: str, values: np.ndarray, inp: int = times, interpolation: str = "LINEAR") -> None:
        s = {"input": inp, "output": doc.add_accessor(values.astype(np.float32))}
        if interpolation != "LINEAR":
            s["interpolation"] = interpolation
        samplers.append(s)
        channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": path}})

    for k in range(JOINTS):  # a wave down the chain; joint 0 also keeps a constant (redundant) scale
        angle = 0.35 * np.sin(2 * math.pi * (t / 2.0) - 0.6 * k) + 0.05 * np.sin(2 * math.pi * 3 * t)
        channel(k + 1, "rotation", _quat(np.array([0.0, 0.3, 1.0]), angle))
    channel(1, "scale", np.ones((len(t), 3)))
    channel(1, "translation", np.stack([0.05 * np.sin(2 * math.pi * t), 0.02 * np.abs(np.sin(3 * t)),
                                        np.zeros_like(t)], axis=1))
    channel(JOINTS + 2, "weights", 0.5 - 0.5 * np.cos(2 * math.pi * t / SECONDS))
    # STEP: a blinker that jumps between three places, with keys repeating the previous value
    st = np.arange(0, 17, dtype=np.float64) * 0.25
    sv = np.array([[0.0, 2.5, 0.0], [0.0, 2.5, 0.0], [0.3, 2.5, 0.0], [0.3, 2.5, 0.0], [0.3, 2.5, 0.0],
                   [0.0, 2.8, 0.0], [0.0, 2.8, 0.0], [0.0, 2.5, 0.0]] * 2 + [[0.0, 2.5, 0.0]])
    channel(JOINTS + 3, "translation", sv, doc.add_accessor(st.astype(np.float32)), "STEP")
    # CUBICSPLINE: a few keys with tangents, on the blinker's rotation
    ct = np.linspace(0.0, SECONDS, 6)
    ang = np.array([0.0, 0.8, -0.4, 1.2, 0.3, 0.0])
    vals = _quat(np.array([0.0, 1.0, 0.0]), ang)
    slope = np.gradient(vals, ct, axis=0)
    cubic = np.stack([slope, vals, slope], axis=1).reshape(-1, 4)
    channel(JOINTS + 3, "rotation", cubic, doc.add_accessor(ct.astype(np.float32)), "CUBICSPLINE")
    doc.gltf["animations"] = [{"name": "wave", "samplers": samplers, "channels": channels}]
    doc.gltf["scenes"][0]["nodes"] = [0]
    doc.gltf["materials"] = [{"name": "grey"}]
    for m in doc.gltf["meshes"]:
        m["primitives"][0]["material"] = 0
    return doc


# --- an independent sampler -------------------------------------------------------------------------
def _slerp(a: np.ndarray, b: np.ndarray, u: float) -> np.ndarray:
    d = float(np.dot(a, b))
    if d < 0:
        b, d = -b, -d
    if d > 0.9999995:
        r = a + u * (b - a)
    else:
        th = math.acos(d)
        r = (math.sin((1 - u) * th) * a + math.sin(u * th) * b) / math.sin(th)
    return r / np.linalg.norm(r)


def sample(doc: AssetDocument, sampler: dict, path: str, t: float) -> np.ndarray:
    """Value of ``sampler`` at time ``t``, key by key as the glTF specification writes it."""
    times = doc.accessors[sampler["input"]].as_float().astype(np.float64).reshape(-1)
    interp = sampler.get("interpolation", "LINEAR")
    out = doc.accessors[sampler["output"]].as_float().astype(np.float64)
    k = len(times)
    width = out.size // (k * (3 if interp == "CUBICSPLINE" else 1))
    v = out.reshape(k, 3, width) if interp == "CUBICSPLINE" else out.reshape(k, width)
    point = (lambda i: v[i, 1]) if interp == "CUBICSPLINE" else (lambda i: v[i])
    if t <= times[0] or k == 1:
        r = point(0)
    elif t >= times[-1]:
        r = point(k - 1)
    else:
        i = int(np.searchsorted(times, t, side="right")) - 1
        dt = times[i + 1] - times[i]
        u = (t - times[i]) / dt
        if interp == "STEP":
            r = point(i)
        elif interp == "LINEAR":
            r = _slerp(point(i), point(i + 1), u) if path == "rotation" else point(i) + u * (point(i + 1) - point(i))
        else:
            r = ((2 * u**3 - 3 * u**2 + 1) * v[i, 1] + (u**3 - 2 * u**2 + u) * dt * v[i, 2]
                 + (-2 * u**3 + 3 * u**2) * v[i + 1, 1] + (u**3 - u**2) * dt * v[i + 1, 0])
    r = np.asarray(r, np.float64)
    return r / np.linalg.norm(r) if path == "rotation" else r


def channel_values(doc: AssetDocument, times: np.ndarray) -> dict[tuple[int, str], np.ndarray]:
    """(node, path) -> values of every channel at ``times``."""
    out = {}
    for anim in doc.gltf.get("animations", []):
        for ch in anim["channels"]:
            s = anim["samplers"][ch["sampler"]]
            path = ch["target"]["path"]
            out[(ch["target"]["node"], path)] = np.array([sample(doc, s, path, float(t)) for t in times])
    return out


def rest_value(doc: AssetDocument, node: int, path: str) -> np.ndarray:
    """The value ``path`` has on ``node`` when no channel animates it (glTF defaults, morph weights from the node
    or its mesh)."""
    n = doc.gltf["nodes"][node]
    if path == "weights":
        return np.array(n.get("weights", doc.gltf["meshes"][n["mesh"]].get("weights")), np.float64)
    default = {"translation": [0.0, 0.0, 0.0], "rotation": [0.0, 0.0, 0.0, 1.0], "scale": [1.0, 1.0, 1.0]}[path]
    return np.array(n.get(path, default), np.float64)


def played_values(doc: AssetDocument, keys: Iterable[tuple[int, str]], times: np.ndarray
                  ) -> dict[tuple[int, str], np.ndarray]:
    """(node, path) -> what ``doc`` plays there at ``times``: its channel, or the node's rest value when none
    animates it."""
    animated = channel_values(doc, times)
    return {k: animated[k] if k in animated else np.tile(rest_value(doc, *k), (len(times), 1)) for k in keys}


def animation_bytes(doc: AssetDocument) -> int:
    """Decoded bytes of every sampler's input and output accessor (each accessor once)."""
    used = {i for a in doc.gltf.get("animations", []) for s in a["samplers"] for i in (s["input"], s["output"])}
    return sum(doc.accessors[i].array.nbytes for i in used)


def keyframe_bytes_in_file(data: bytes) -> int:
    """Bytes a GLB spends on the buffer views of its animation samplers (compressed size when compressed)."""
    from assets_pipeline.io.glb import glb_json

    g = glb_json(data)
    used = {i for a in g.get("animations", []) for s in a["samplers"] for i in (s["input"], s["output"])}
    views = {g["accessors"][i]["bufferView"] for i in used if "bufferView" in g["accessors"][i]}
    total = 0
    for v in views:
        view = g["bufferViews"][v]
        total += view.get("extensions", {}).get("EXT_meshopt_compression", view)["byteLength"]
    return total
