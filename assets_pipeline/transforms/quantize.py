"""Quantize vertex attributes (KHR_mesh_quantization): positions to integers on a per-mesh grid
(dequantized by a child node's scale and translation), normals and tangents to normalized bytes,
texture coordinates to N-bit integers on one grid per UV set (dequantized by KHR_texture_transform on
every texture that reads that set, composed with any transform already there), colors to normalized
bytes.

Skinned meshes are quantized on one grid shared by all of them; the dequantization goes into their
skins' inverse bind matrices (skinning ignores the node's transform). Skin weights become normalized
bytes and joint indices bytes when they fit. Morph target position deltas share their mesh's grid step
as 16-bit integers (no offset: it applies once, to the base positions); a morphed node keeps its morph
weights when its mesh moves to a child node. Skinned meshes with morph targets and GPU-instanced meshes
keep float positions; their other attributes are still quantized.

Grid steps: ``position_bits`` span the model's largest world extent, so every mesh's rounding is within
the same world-space distance (half a step: 0.003 % of the extent at 14 bits); a mesh that is small in the
model takes that world step in its own units, but never a step coarser than ``part_bits`` over its own extent
(a small part beside a large backdrop keeps its shape) nor finer than ``position_bits`` over it. A morphed
mesh's extent is that of its base and every target fully applied (the shapes it is seen in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..document import AssetDocument
from .base import Transform

NAME = "quantize"


@dataclass(frozen=True, slots=True)
class QuantizeOptions:
    """Bits per attribute for KHR_mesh_quantization."""
    position_bits: int = 14
    """Over the model's largest world extent (and at most over a mesh's own)."""
    normal_bits: int = 8
    texcoord_bits: int = 12
    color_bits: int = 8
    part_bits: int = 10
    """Position bits at least over a mesh's own extent, however small it is in the model."""


DEFAULTS = QuantizeOptions()


def _snorm(values: np.ndarray, bits: int) -> np.ndarray:
    dtype = np.int8 if bits <= 8 else np.int16
    top = float(np.iinfo(dtype).max)
    step = (1 << (bits - 1)) - 1
    q = np.round(np.clip(values, -1.0, 1.0) * step) / step
    return np.round(q * top).astype(dtype)


def _unorm(values: np.ndarray, bits: int, dtype: type) -> np.ndarray:
    top = float(np.iinfo(dtype).max)
    step = (1 << bits) - 1
    q = np.round(np.clip(values, 0.0, 1.0) * step) / step
    return np.round(q * top).astype(dtype)


def _blocked_meshes(doc: AssetDocument) -> set[int]:
    blocked: set[int] = set()
    skinned = {node["mesh"] for node in doc.gltf.get("nodes", []) if "mesh" in node and "skin" in node}
    for node in doc.gltf.get("nodes", []):
        if "mesh" in node and ("skin" in node or "EXT_mesh_gpu_instancing" in node.get("extensions", {})
                               or node["mesh"] in skinned):
            blocked.add(node["mesh"])
    return blocked


def _morphed_extent(doc: AssetDocument, prims: list[dict[str, Any]], pos_ids: list[int]) -> float:
    """Largest extent of a mesh's positions with none or any one of its morph targets fully applied."""
    boxes = []
    for p in prims:
        if "POSITION" not in p.get("attributes", {}):
            continue
        base = doc.accessors[p["attributes"]["POSITION"]].array.astype(np.float64)
        boxes.append(base)
        for t in p.get("targets", []):
            d = doc.accessors[t["POSITION"]].as_float() if "POSITION" in t else None
            if d is not None and d.shape == base.shape:
                boxes.append(base + d)
    if not boxes:
        return 0.0
    lo = np.min([b.min(axis=0) for b in boxes if len(b)], axis=0) if any(len(b) for b in boxes) else np.zeros(3)
    hi = np.max([b.max(axis=0) for b in boxes if len(b)], axis=0) if any(len(b) for b in boxes) else np.zeros(3)
    return float((hi - lo).max())


def _instance_scales(doc: AssetDocument) -> tuple[dict[int, float], float]:
    """Per mesh drawn by the default scene, the largest world scale of the nodes drawing it; and the model's
    largest world extent (drawn vertices at rest)."""
    from ..scene import bounds, node_instances

    scales: dict[int, float] = {}
    for _node, mesh, world, _skinned in node_instances(doc):
        s = float(np.linalg.norm(world[:3, :3], axis=0).max())
        scales[mesh] = max(scales.get(mesh, 0.0), s)
    lo, hi = bounds(doc)
    return scales, float((hi - lo).max())


def _grid_step(extent: float, scale: float | None, model_extent: float,
               options: QuantizeOptions) -> tuple[float, bool]:
    """A mesh's grid step in its own units (see the module docstring), and whether it is the model's shared
    step (True) or one that puts both ends of the mesh's extent on the grid (False)."""
    finest = extent / ((1 << options.position_bits) - 1)
    coarsest = extent / ((1 << min(options.part_bits, options.position_bits)) - 1)
    step = finest
    if scale and model_extent > 0:
        world = max(model_extent, extent * scale) / ((1 << options.position_bits) - 1)
        if model_extent > extent * scale * (1 + 1e-9):  # no far corner of this mesh on the grid to keep
            step = short_step(world) / scale
            if finest < step < coarsest:
                return float32_step(step), True
        step = min(max(world / scale, finest), coarsest)
    return float32_step(step), False


SHORT_STEP = 1 / 128
"""A step shared with the model may be this much coarser, to take fewer digits in every node using it."""


def short_step(step: float) -> float:
    """The float32 nearest the decimal in [``step``, ``step`` * (1 + SHORT_STEP)] with the fewest significant
    digits (ShapeCollection: 0.00088506384 -> 0.00089, three times on each of its 7 nodes)."""
    if not 1e-30 < step < 1e30:  # (float32's range, with room for the decimal search)
        return float32_step(step)
    top = step * (1 + SHORT_STEP)
    for digits in range(1, 9):
        e = digits - 1 - math.floor(math.log10(step))
        candidate = float(np.float32(math.ceil(step * 10**e) / 10**e))  # the nearest float32: its text is short
        if candidate <= top:
            return candidate
    return float32_step(step)


def float32_step(step: float) -> float:
    """``step`` rounded up to a float32 (coarser by at most 6e-8 of it): the dequantization scale then takes 9
    digits in the JSON, not 17, and the far end of the extent still lands on the last grid value."""
    step32 = np.float32(step)
    return float(step32 if float(step32) >= step else np.nextafter(step32, np.float32(np.inf)))


def _target_deltas(doc: AssetDocument, prims: list[dict[str, Any]], scale: float) -> dict[int, np.ndarray] | None:
    """Morph target POSITION deltas on the positions' grid step, as int16 (None when one does not fit or
    is not float)."""
    out: dict[int, np.ndarray] = {}
    for p in prims:
        for t in p.get("targets", []):
            if "POSITION" not in t or t["POSITION"] in out:
                continue
            arr = doc.accessors[t["POSITION"]].array
            if arr.dtype != np.float32:
                return None
            q = np.round(arr.astype(np.float64) / scale)
            if q.size and np.abs(q).max() > 32767:
                return None
            out[t["POSITION"]] = q.astype(np.int16)
    return out


def quantize(options: QuantizeOptions = DEFAULTS) -> Transform:
    """Return the transform that quantizes positions, normals, UVs and colours (KHR_mesh_quantization)."""
    def _apply(doc: AssetDocument) -> None:
        blocked = _blocked_meshes(doc)
        done: dict[int, int] = {}
        changed = _quantize_skinned(doc, options.position_bits, done)
        instance_scales, model_extent = _instance_scales(doc)
        for mi, mesh in enumerate(doc.gltf.get("meshes", [])):
            prims = mesh.get("primitives", [])
            pos_ids = sorted({p["attributes"]["POSITION"] for p in prims if "POSITION" in p.get("attributes", {})})
            if mi not in blocked and pos_ids and all(doc.accessors[a].array.dtype == np.float32 for a in pos_ids):
                allpos = np.concatenate([doc.accessors[a].array for a in pos_ids]).astype(np.float64)
                lo = allpos.min(axis=0)
                extent = _morphed_extent(doc, prims, pos_ids)
                step, shared = _grid_step(extent, instance_scales.get(mi), model_extent, options)
                scale = step if extent > 0 else 1.0
                if shared and extent / scale < 65534:  # the largest value, one more at most, stays 16-bit
                    lo = _short_origin(doc, mi, lo, scale)
                deltas = _target_deltas(doc, prims, scale)
                if deltas is None:
                    continue
                for a, q in deltas.items():  # deltas: the same step, no offset (it applies once, to the base)
                    done[a] = len(doc.accessors)
                    doc.accessors.append(doc.accessors[a].copy_with(q, normalized=False))
                for p in prims:
                    for t in p.get("targets", []):
                        if "POSITION" in t:
                            t["POSITION"] = done[t["POSITION"]]
                for a in pos_ids:
                    q = np.round((doc.accessors[a].array - lo) / scale)
                    done[a] = len(doc.accessors)
                    doc.accessors.append(doc.accessors[a].copy_with(q.astype(np.uint16), normalized=False))
                for p in prims:
                    if "POSITION" in p.get("attributes", {}):
                        p["attributes"]["POSITION"] = done[p["attributes"]["POSITION"]]
                _attach_dequantization(doc, mi, lo, scale)
                changed = True
        for uv_set in sorted({n for _, _, p in doc.primitives() for n in p.get("attributes", {})
                              if n.startswith("TEXCOORD_")}):
            changed |= _quantize_uv_set(doc, uv_set, options.texcoord_bits, done)
        for mesh in doc.gltf.get("meshes", []):
            for p in mesh.get("primitives", []):
                for name, a in list(p.get("attributes", {}).items()):
                    new = _quantize_attribute(doc, name, a, options, done)
                    if new is not None:
                        p["attributes"][name] = new
                        changed = True
        if changed:
            doc.use_extension("KHR_mesh_quantization", required=True)

    return Transform(NAME, _apply)


def _quantize_attribute(doc: AssetDocument, name: str, a: int, options: QuantizeOptions,
                        done: dict[int, int]) -> int | None:
    if a in done:
        return done[a]
    acc = doc.accessors[a]
    if name.startswith("JOINTS_") and acc.array.dtype == np.uint16 and acc.array.size and int(acc.array.max()) < 256:
        doc.accessors.append(acc.copy_with(acc.array.astype(np.uint8)))
        done[a] = len(doc.accessors) - 1
        return done[a]
    if acc.array.dtype != np.float32:
        return None
    arr = acc.array
    if name == "NORMAL":
        out = acc.copy_with(_snorm(arr, options.normal_bits), normalized=True)
    elif name == "TANGENT":
        out = acc.copy_with(_snorm(arr, min(options.normal_bits, 8)), normalized=True)
    elif name.startswith("TEXCOORD_"):
        if arr.size and arr.min() >= 0.0 and arr.max() <= 1.0:
            out = acc.copy_with(_unorm(arr, options.texcoord_bits, np.uint16), normalized=True)
        elif arr.size and arr.min() >= -1.0 and arr.max() <= 1.0:
            out = acc.copy_with(_snorm(arr, min(options.texcoord_bits, 16)), normalized=True)
        else:
            return None
    elif name.startswith("WEIGHTS_"):
        out = acc.copy_with(_weights_u8(arr), normalized=True)
    elif name.startswith("COLOR_"):
        dtype = np.uint8 if options.color_bits <= 8 else np.uint16
        out = acc.copy_with(_unorm(arr, options.color_bits, dtype), normalized=True)
    else:
        return None
    doc.accessors.append(out)
    done[a] = len(doc.accessors) - 1
    return done[a]


def _weights_u8(weights: np.ndarray) -> np.ndarray:
    """Skin weights as bytes summing to exactly 255 per vertex (the rounding remainder goes to the largest)."""
    w = np.clip(weights.astype(np.float64), 0.0, None)
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), 0.0)
    q = np.round(w * 255.0).astype(np.int64)
    rows = np.nonzero(total[:, 0] > 0)[0]
    top = np.argmax(w, axis=1)
    q[rows, top[rows]] += 255 - q[rows].sum(axis=1)
    return np.clip(q, 0, 255).astype(np.uint8)


def _quantize_skinned(doc: AssetDocument, bits: int, done: dict[int, int]) -> bool:
    """Quantize the positions of meshes drawn only by skinned nodes (no morph targets) on one grid, its
    dequantization folded into their skins' inverse bind matrices."""
    nodes = doc.gltf.get("nodes", [])
    meshes = doc.gltf.get("meshes", [])
    skins = doc.gltf.get("skins", [])
    users: dict[int, list[dict[str, Any]]] = {}
    for node in nodes:
        if "mesh" in node:
            users.setdefault(node["mesh"], []).append(node)
    ok = set()
    for m, nl in users.items():
        prims = meshes[m].get("primitives", [])
        if (all("skin" in n and isinstance(n["skin"], int) and n["skin"] < len(skins) for n in nl)
                and not any(p.get("targets") for p in prims) and "weights" not in meshes[m]
                and not any("weights" in n or n.get("extensions") for n in nl)
                and all(doc.accessors[p["attributes"]["POSITION"]].array.dtype == np.float32
                        for p in prims if "POSITION" in p.get("attributes", {}))):
            ok.add(m)
    # one grid for all of them (as gltfpack does): skins with the same inverse bind matrices stay shared
    bad_skins = {n["skin"] for m, nl in users.items() if m not in ok for n in nl if "skin" in n}
    members_all = sorted(m for m in ok if not {n["skin"] for n in users[m]} & bad_skins)
    comps = {0: members_all} if members_all else {}
    changed = False
    for members in comps.values():
        comp_skins = {n["skin"] for m in members for n in users[m]}
        pos_ids = sorted({p["attributes"]["POSITION"] for m in members for p in meshes[m].get("primitives", [])
                          if "POSITION" in p.get("attributes", {})})
        if not pos_ids:
            continue
        allpos = np.concatenate([doc.accessors[a].array for a in pos_ids]).astype(np.float64)
        lo = allpos.min(axis=0)
        extent = float((allpos.max(axis=0) - lo).max())
        scale = float32_step(extent / ((1 << bits) - 1)) if extent > 0 else 1.0
        for a in pos_ids:
            q = np.round((doc.accessors[a].array - lo) / scale)
            done[a] = len(doc.accessors)
            doc.accessors.append(doc.accessors[a].copy_with(q.astype(np.uint16), normalized=False))
        for m in members:
            for p in meshes[m].get("primitives", []):
                if "POSITION" in p.get("attributes", {}):
                    p["attributes"]["POSITION"] = done[p["attributes"]["POSITION"]]
        dequant = np.diag([scale, scale, scale, 1.0])
        dequant[:3, 3] = lo
        folded: dict[tuple[bytes, int], int] = {}  # (inverse bind matrices' bytes, joint count) -> folded accessor
        for si in sorted(comp_skins):
            skin = skins[si]
            count = len(skin.get("joints", []))
            key = (doc.accessors[skin["inverseBindMatrices"]].array.tobytes() if "inverseBindMatrices" in skin
                   else b"", count)
            if key in folded:
                skin["inverseBindMatrices"] = folded[key]
                continue
            if "inverseBindMatrices" in skin:
                ibm = doc.accessors[skin["inverseBindMatrices"]].as_float().astype(np.float64)
                mats = ibm.reshape(-1, 4, 4).transpose(0, 2, 1)
            else:
                mats = np.repeat(np.eye(4)[None], count, axis=0)
            out = (mats @ dequant).transpose(0, 2, 1).reshape(-1, 16)
            skin["inverseBindMatrices"] = folded[key] = doc.add_accessor(out.astype(np.float32), "MAT4")
        changed = True
    return changed


def _texture_infos_on_set(doc: AssetDocument, uv_set: int) -> list[dict[str, Any]]:
    from ..refs import _texture_infos

    infos = []
    for mat in doc.gltf.get("materials", []):
        for info in _texture_infos(mat):
            tt = info.get("extensions", {}).get("KHR_texture_transform", {})
            if tt.get("texCoord", info.get("texCoord", 0)) == uv_set:
                infos.append(info)
    return infos


def _quantize_uv_set(doc: AssetDocument, name: str, bits: int, done: dict[int, int]) -> bool:
    """One integer grid for every accessor of a UV set; textures reading it get the inverse transform."""
    accs = sorted({p["attributes"][name] for _, _, p in doc.primitives() if name in p.get("attributes", {})})
    infos = _texture_infos_on_set(doc, int(name.split("_")[1]))
    if not accs or not infos or any(doc.accessors[a].array.dtype != np.float32 for a in accs):
        return False
    allv = np.concatenate([doc.accessors[a].array for a in accs]).astype(np.float64)
    if not allv.size:
        return False
    lo, hi = allv.min(axis=0), allv.max(axis=0)
    extent = float((hi - lo).max())
    bits = int(min(16, bits + max(0, math.ceil(math.log2(extent))) if extent > 0 else bits))
    steps = (1 << bits) - 1
    scale = np.array([float32_step(float(e) / steps) if e > 0 else 1.0 for e in hi - lo])
    for a in accs:
        q = np.round((doc.accessors[a].array - lo) / scale)
        doc.accessors.append(doc.accessors[a].copy_with(np.clip(q, 0, 65535).astype(np.uint16), normalized=False))
        done[a] = len(doc.accessors) - 1
    for _, _, p in doc.primitives():
        if name in p.get("attributes", {}):
            p["attributes"][name] = done[p["attributes"][name]]
    for info in infos:
        exts = info.setdefault("extensions", {})
        tt = exts.get("KHR_texture_transform", {})
        o_e = np.array(tt.get("offset", [0.0, 0.0]), np.float64)
        s_e = np.array(tt.get("scale", [1.0, 1.0]), np.float64)
        r = float(tt.get("rotation", 0.0))
        rot = np.array([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]])
        offset = o_e + rot @ (s_e * lo)
        new = dict(tt, offset=[float(v) for v in offset], scale=[float(v) for v in s_e * scale])
        exts["KHR_texture_transform"] = new
    doc.use_extension("KHR_texture_transform", required=True)
    return True


def _moved_nodes(doc: AssetDocument) -> set[int]:
    """Nodes whose transform some animation channel targets."""
    return {c["target"]["node"] for a in doc.gltf.get("animations", []) for c in a.get("channels", [])
            if c.get("target", {}).get("path") in ("translation", "rotation", "scale", "matrix")}


def _takes_dequantization(node: dict[str, Any], i: int, moved: set[int]) -> bool:
    """Whether a node drawing a quantized mesh takes the dequantization into its own transform (else into a
    child node)."""
    return not node.get("children") and i not in moved and "camera" not in node and not node.get("extensions")


def _short_origin(doc: AssetDocument, mesh: int, lo: np.ndarray, step: float) -> np.ndarray:
    """The grid origin moved down by less than a step on each axis (no vertex moves farther than half a step,
    the largest value grows by at most one), to where the translation the first node drawing the mesh ends with
    has the fewest digits: its own translation plus the origin (a leaf node without rotation, with a uniform
    scale, the origin scaled), or the origin alone (the child node that takes it otherwise)."""
    nodes = doc.gltf.get("nodes", [])
    moved = _moved_nodes(doc)
    first = next((i for i, n in enumerate(nodes) if n.get("mesh") == mesh), None)
    t, s = np.zeros(3), 1.0
    if first is not None and _takes_dequantization(nodes[first], first, moved):
        node = nodes[first]
        scales = node.get("scale", [1.0, 1.0, 1.0])
        if ("matrix" not in node and node.get("rotation", [0, 0, 0, 1]) == [0, 0, 0, 1]
                and scales[0] == scales[1] == scales[2] and scales[0] > 0):
            t, s = np.array(node.get("translation", [0.0, 0.0, 0.0]), np.float64), float(scales[0])
        else:
            return lo
    out = lo.copy()
    for axis in range(3):
        top, bottom = t[axis] + s * lo[axis], t[axis] + s * (lo[axis] - step)
        for digits in range(13):
            if not abs(top) * 10**digits < 2**52:  # (no shorter decimal a double can hold; NaN stops too)
                break
            value = math.floor(top * 10**digits) / 10**digits
            if value > bottom:
                origin = (value - t[axis]) / s
                if lo[axis] - step < origin <= lo[axis]:
                    out[axis] = origin
                break
    return out


def _attach_dequantization(doc: AssetDocument, mesh: int, offset: np.ndarray, scale: float) -> None:
    """Leaf nodes take the dequantization into their own transform; others get a child node for it."""
    from ..scene import append_transform

    nodes = doc.gltf.setdefault("nodes", [])
    channels = [c for a in doc.gltf.get("animations", []) for c in a.get("channels", [])]
    moved = _moved_nodes(doc)
    for i in range(len(nodes)):
        node = nodes[i]
        if node.get("mesh") != mesh:
            continue
        if _takes_dequantization(node, i, moved):
            append_transform(node, offset.astype(np.float64), scale)
            continue
        child = {"mesh": mesh, "translation": [float(v) for v in offset], "scale": [scale, scale, scale]}
        if "name" in node:
            child["name"] = f"{node['name']}_mesh"
        if "weights" in node:  # morph weights belong to the node that draws the mesh
            child["weights"] = node.pop("weights")
        del node["mesh"]
        nodes.append(child)
        node.setdefault("children", []).append(len(nodes) - 1)
        for c in channels:
            if c.get("target", {}).get("node") == i and c["target"].get("path") == "weights":
                c["target"]["node"] = len(nodes) - 1
