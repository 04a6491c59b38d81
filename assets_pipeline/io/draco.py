"""KHR_draco_mesh_compression on write (DracoPy): triangle primitives whose attributes Draco can carry
(POSITION, NORMAL, TEXCOORD_0, COLOR_0) are encoded; others stay as they are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..document import TRIANGLES, AssetDocument

DRACO_TYPES = {0: "POSITION", 1: "NORMAL", 2: "COLOR_0", 3: "TEXCOORD_0"}
SUPPORTED = {"POSITION", "NORMAL", "TEXCOORD_0", "COLOR_0"}


@dataclass(frozen=True, slots=True)
class DracoOptions:
    """Draco quantization bits per attribute and compression level."""
    position_bits: int = 14
    normal_bits: int = 10
    texcoord_bits: int = 12
    level: int = 7


def compress_primitives(doc: AssetDocument, gltf: dict[str, Any], add_view: Callable[[bytes], int],
                        base_index: int, options: DracoOptions) -> list[dict[str, Any]]:
    """Encode the eligible primitives of ``gltf`` (a copy of ``doc.gltf``); their accessor refs are
    pointed at new accessor entries (returned, numbered from ``base_index``) that have no bufferView."""
    import DracoPy

    new: list[dict[str, Any]] = []
    cache: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, int], int]] = {}
    for mesh in gltf.get("meshes", []):
        for prim in mesh.get("primitives", []):
            attrs = prim.get("attributes", {})
            if (prim.get("mode", TRIANGLES) != TRIANGLES or "indices" not in prim or prim.get("targets")
                    or not set(attrs) <= SUPPORTED or "POSITION" not in attrs):
                continue
            key = (tuple(sorted(attrs.items())), prim["indices"])
            if key not in cache:
                arrays = {n: doc.accessors[a] for n, a in attrs.items()}
                faces = doc.accessors[prim["indices"]].array.reshape(-1, 3).astype(np.uint32)
                colors = None
                if "COLOR_0" in arrays:
                    c = arrays["COLOR_0"].as_float()
                    colors = np.round(np.clip(c, 0, 1) * 255).astype(np.uint8)
                data = DracoPy.encode(
                    arrays["POSITION"].as_float(), faces, quantization_bits=options.position_bits,
                    compression_level=options.level,
                    normals=arrays["NORMAL"].as_float().astype(np.float64) if "NORMAL" in arrays else None,
                    tex_coord=arrays["TEXCOORD_0"].as_float().astype(np.float64) if "TEXCOORD_0" in arrays else None,
                    colors=colors, normal_quantization_bits=options.normal_bits,
                    tex_coord_quantization_bits=options.texcoord_bits)
                decoded = DracoPy.decode(data)
                ids: dict[str, int] = {}
                entries: dict[str, int] = {}
                for attr in decoded.attributes:
                    name = DRACO_TYPES.get(attr["attribute_type"])
                    if name not in attrs:
                        continue
                    ids[name] = attr["unique_id"]
                    values = np.asarray(attr["data"])
                    entry: dict[str, Any] = {"count": int(values.shape[0]),
                                             "type": {2: "VEC2", 3: "VEC3", 4: "VEC4"}[values.shape[1]]}
                    if name == "COLOR_0":
                        entry.update(componentType=5121, normalized=True)
                    else:
                        entry["componentType"] = 5126
                    if name == "POSITION":
                        entry["min"] = [float(v) for v in values.min(axis=0)]
                        entry["max"] = [float(v) for v in values.max(axis=0)]
                    new.append(entry)
                    entries[name] = base_index + len(new) - 1
                count = int(np.asarray(decoded.faces).size)
                top = int(np.asarray(decoded.faces).max()) if count else 0
                new.append({"count": count, "type": "SCALAR", "componentType": 5123 if top < 65535 else 5125})
                ext = {"bufferView": add_view(data), "attributes": ids}
                cache[key] = (ext, entries, base_index + len(new) - 1)
            ext, entries, indices = cache[key]
            prim.setdefault("extensions", {})["KHR_draco_mesh_compression"] = dict(ext)
            prim["attributes"] = dict(entries)
            prim["indices"] = indices
    if new:
        for k in ("extensionsUsed", "extensionsRequired"):
            lst = gltf.setdefault(k, [])
            if "KHR_draco_mesh_compression" not in lst:
                lst.append("KHR_draco_mesh_compression")
    return new
