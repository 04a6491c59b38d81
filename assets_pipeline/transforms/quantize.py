"""Quantize vertex attributes (KHR_mesh_quantization): positions to N-bit integers on a per-mesh grid
(dequantized by a child node's scale and translation), normals and tangents to normalized bytes,
texture coordinates to N-bit integers on one grid per UV set (dequantized by KHR_texture_transform on
every texture that reads that set, composed with any transform already there), colors to normalized
bytes.

Skinned meshes, meshes with morph targets and GPU-instanced meshes keep float positions (their node
transforms cannot carry the dequantization); their other attributes are still quantized.
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
    normal_bits: int = 8
    texcoord_bits: int = 12
    color_bits: int = 8


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
    for node in doc.gltf.get("nodes", []):
        if "mesh" in node and ("skin" in node or "EXT_mesh_gpu_instancing" in node.get("extensions", {})
                               or "weights" in node):
            blocked.add(node["mesh"])
    for mi, mesh in enumerate(doc.gltf.get("meshes", [])):
        if any(p.get("targets") for p in mesh.get("primitives", [])) or "weights" in mesh:
            blocked.add(mi)
    return blocked


def quantize(options: QuantizeOptions = DEFAULTS) -> Transform:
    """Return the transform that quantizes positions, normals, UVs and colours (KHR_mesh_quantization)."""
    def _apply(doc: AssetDocument) -> None:
        blocked = _blocked_meshes(doc)
        done: dict[int, int] = {}
        changed = False
        for mi, mesh in enumerate(doc.gltf.get("meshes", [])):
            prims = mesh.get("primitives", [])
            pos_ids = sorted({p["attributes"]["POSITION"] for p in prims if "POSITION" in p.get("attributes", {})})
            if mi not in blocked and pos_ids and all(doc.accessors[a].array.dtype == np.float32 for a in pos_ids):
                allpos = np.concatenate([doc.accessors[a].array for a in pos_ids]).astype(np.float64)
                lo, hi = allpos.min(axis=0), allpos.max(axis=0)
                extent = float((hi - lo).max())
                step = (1 << options.position_bits) - 1
                scale = extent / step if extent > 0 else 1.0
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
    elif name.startswith("COLOR_"):
        dtype = np.uint8 if options.color_bits <= 8 else np.uint16
        out = acc.copy_with(_unorm(arr, options.color_bits, dtype), normalized=True)
    else:
        return None
    doc.accessors.append(out)
    done[a] = len(doc.accessors) - 1
    return done[a]


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
    scale = np.where(hi - lo > 0, (hi - lo) / steps, 1.0)
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


def _attach_dequantization(doc: AssetDocument, mesh: int, offset: np.ndarray, scale: float) -> None:
    """Leaf nodes take the dequantization into their own transform; others get a child node for it."""
    from ..scene import animated_nodes, append_transform

    nodes = doc.gltf.setdefault("nodes", [])
    animated = animated_nodes(doc.gltf)
    for i in range(len(nodes)):
        node = nodes[i]
        if node.get("mesh") != mesh:
            continue
        if not node.get("children") and i not in animated and "camera" not in node and not node.get("extensions"):
            append_transform(node, offset.astype(np.float64), scale)
            continue
        child = {"mesh": mesh, "translation": [float(v) for v in offset], "scale": [scale, scale, scale]}
        if "name" in node:
            child["name"] = f"{node['name']}_mesh"
        del node["mesh"]
        nodes.append(child)
        node.setdefault("children", []).append(len(nodes) - 1)
