"""Write an :class:`AssetDocument` as GLB bytes, laying out buffer views and encoding compressed data.

Compression is decided here, at the edge: transforms only prepare data (quantize, reorder) and the
writer encodes vertex and index streams with EXT_meshopt_compression (or KHR_draco_mesh_compression).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..document import GENERATOR, TRIANGLES, Accessor, AssetDocument
from ..refs import referenced, remap
from .atomic import write_bytes_atomic
from .draco import DracoOptions
from .gltf_repair import declare_extensions, drop_empty_entities
from .json_compact import compact, dumps

Compression = Literal["none", "meshopt", "draco"]
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """How a GLB is written: compression (meshopt, Draco or none), meshopt level, Draco options."""
    compression: Compression = "meshopt"
    meshopt_level: int = 2
    draco: DracoOptions = field(default_factory=DracoOptions)


def _align4(n: int) -> int:
    return (n + 3) & ~3


class _Layout:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.length = 0
        self.views: list[dict[str, Any]] = []

    def add(self, data: bytes, **fields: Any) -> int:
        pad = _align4(self.length) - self.length
        if pad:
            self.chunks.append(b"\0" * pad)
            self.length += pad
        view = {"buffer": 0, "byteOffset": self.length, "byteLength": len(data), **fields}
        self.chunks.append(data)
        self.length += len(data)
        self.views.append(view)
        return len(self.views) - 1

    def bytes(self) -> bytes:
        pad = _align4(self.length) - self.length
        return b"".join([*self.chunks, b"\0" * pad])


def _usage(doc: AssetDocument) -> tuple[set[int], dict[int, bool], set[int], set[int]]:
    """Accessors used as vertex attributes, as indices (-> is a triangle list), needing min/max, and
    holding unit vectors (normals, tangents) that the octahedral filter can encode."""
    attributes: set[int] = set()
    vectors: set[int] = set()
    indices: dict[int, bool] = {}
    bounds: set[int] = set()
    for _, _, prim in doc.primitives():
        attributes.update(prim.get("attributes", {}).values())
        for name in ("NORMAL", "TANGENT"):
            if name in prim.get("attributes", {}):
                vectors.add(prim["attributes"][name])
        for target in prim.get("targets", []):
            attributes.update(target.values())
            if "POSITION" in target:
                bounds.add(target["POSITION"])
        if "POSITION" in prim.get("attributes", {}):
            bounds.add(prim["attributes"]["POSITION"])
        if "indices" in prim:
            tri = prim.get("mode", TRIANGLES) == TRIANGLES
            i = prim["indices"]
            indices[i] = indices.get(i, True) and tri
    for anim in doc.gltf.get("animations", []):
        for s in anim.get("samplers", []):
            bounds.add(s["input"])
    for _, _, prim in doc.primitives():
        for target in prim.get("targets", []):
            vectors.difference_update(target.values())
    return attributes, indices, bounds, vectors


def _rows(acc: Accessor, stride: int) -> np.ndarray:
    """(count, stride) uint8 rows of the accessor's elements, zero-padded to ``stride`` bytes."""
    a = np.ascontiguousarray(acc.array)
    raw = a.reshape(a.shape[0], -1).view(np.uint8) if a.size else np.zeros((a.shape[0], 0), np.uint8)
    if raw.shape[1] == stride:
        return raw
    out = np.zeros((a.shape[0], stride), np.uint8)
    out[:, : raw.shape[1]] = raw
    return out


def _index_array(acc: Accessor) -> np.ndarray:
    a = acc.array.reshape(-1)
    top = int(a.max()) if a.size else 0
    return a.astype(np.uint16 if top < 65535 else np.uint32)


def encode_glb(doc: AssetDocument, options: WriteOptions | None = None) -> bytes:
    """GLB bytes of the document. With meshopt compression on a small model, the uncompressed encoding is
    written instead when it is smaller (the codec's headers outweigh its gains below a few KB: BoxVertexColors
    is 2,700 bytes compressed and 2,048 plain)."""
    options = options or WriteOptions()
    data = _encode(doc, options)
    if options.compression == "meshopt" and len(data) < 16384:
        plain = _encode(doc, WriteOptions("none"))
        if len(plain) < len(data):
            return plain
    return data


def _encode(doc: AssetDocument, options: WriteOptions) -> bytes:
    gltf: dict[str, Any] = json.loads(json.dumps(doc.gltf))  # deep copy, JSON-clean
    # the tool that wrote this file (the authoring tool's name is no longer true of its data, and was up to 40 bytes)
    gltf.setdefault("asset", {"version": "2.0"})["generator"] = GENERATOR
    attributes, indices, bounds, vectors = _usage(doc)
    keyframes = {i for a in doc.gltf.get("animations", []) for s in a.get("samplers", [])
                 for i in (s.get("input"), s.get("output")) if isinstance(i, int)}
    keyframes |= {s["inverseBindMatrices"] for s in doc.gltf.get("skins", [])
                  if isinstance(s.get("inverseBindMatrices"), int)}
    meshopt = options.compression == "meshopt" and bool(attributes or indices)
    if meshopt:
        from ..codecs import meshopt as mo
    layout = _Layout()
    virtual = 0  # meshopt: offsets in the fallback buffer (never stored)
    accessors_json: list[dict[str, Any]] = []
    draco_entries: list[dict[str, Any]] = []
    if options.compression == "draco":
        from .draco import compress_primitives

        draco_entries = compress_primitives(doc, gltf, layout.add, len(doc.accessors), options.draco)
    live = referenced(gltf, "accessors")
    mapping: dict[int, int] = {}
    groups: dict[tuple[str, int, str | None], list[tuple[dict[str, Any], np.ndarray]]] = {}
    for i, acc in enumerate(doc.accessors):
        if i not in live:
            continue
        mapping[i] = len(accessors_json)
        arr = _index_array(acc) if i in indices else acc.array
        acc_out = Accessor(arr, acc.type, acc.normalized) if arr is not acc.array else acc
        elem = arr.dtype.itemsize * (arr.shape[1] if arr.ndim == 2 else 1)
        entry: dict[str, Any] = {"componentType": acc_out.component_type, "count": acc.count, "type": acc.type}
        if acc.normalized:
            entry["normalized"] = True
        if acc.name:
            entry["name"] = acc.name
        entry.update(acc.extra)
        if i in bounds and acc.count:
            flat = arr.reshape(acc.count, -1)
            cast = float if arr.dtype.kind == "f" else int
            entry["min"] = [cast(v) for v in flat.min(axis=0)]
            entry["max"] = [cast(v) for v in flat.max(axis=0)]
        if acc.count:
            if i in attributes:
                stride = _align4(elem)
                rows = _rows(acc_out, stride)
                oct_filter = (meshopt and i in vectors and acc.normalized and arr.dtype in (np.int8, np.int16)
                              and acc.type in ("VEC3", "VEC4") and stride == 4 * arr.dtype.itemsize)
                if oct_filter:
                    vec = np.ones((acc.count, 4), np.float32)
                    vec[:, : arr.shape[1]] = acc.as_float()
                    bits = 8 if arr.dtype == np.int8 else 16
                    rows = mo.encode_filter_oct(vec, bits).view(np.uint8).reshape(acc.count, stride)
                groups.setdefault(("ATTRIBUTES", stride, "OCTAHEDRAL" if oct_filter else None), []).append(
                    (entry, rows))
            elif i in indices:
                tri = indices[i] and acc.count % 3 == 0
                groups.setdefault(("TRIANGLES" if tri else "INDICES", arr.itemsize, None), []).append((entry, arr))
            elif meshopt and i in keyframes and (acc.filtered is not None or (elem % 4 == 0 and elem <= 256)):
                # animation data and inverse bind matrices: meshopt's vertex codec on their own views (no
                # target, no byteStride),
                # through the filter its values were quantized with
                if acc.filtered is not None:
                    filter_name, filtered = acc.filtered
                    rows = np.ascontiguousarray(filtered).reshape(acc.count, -1).view(np.uint8)
                    groups.setdefault(("DATA", rows.shape[1], filter_name), []).append((entry, rows))
                else:
                    groups.setdefault(("DATA", elem, None), []).append((entry, _rows(acc_out, elem)))
            else:
                entry["bufferView"] = layout.add(np.ascontiguousarray(arr).tobytes())
        accessors_json.append(entry)
    # One buffer view per kind of stream (vertex data of one stride and filter; indices of one size): fewer
    # views in the JSON and longer streams for the codec. Accessors address their part by byteOffset.
    for (mode, stride, filter_), members in groups.items():
        # smallest parts first: the byteOffsets in the JSON take fewer digits (the first one none)
        members.sort(key=lambda m: m[1].nbytes)
        offset = 0
        for entry, part in members:
            entry["byteOffset"] = offset
            offset += part.nbytes
        data = np.concatenate([part.reshape(-1).view(np.uint8) for _, part in members])
        if mode == "ATTRIBUTES":
            fields: dict[str, Any] = {"byteStride": stride, "target": ARRAY_BUFFER}
            count = data.size // stride
        elif mode == "DATA":
            fields, count, mode = {}, data.size // stride, "ATTRIBUTES"
        else:
            fields = {"target": ELEMENT_ARRAY_BUFFER}
            count = data.size // stride
        if meshopt:
            if mode == "ATTRIBUTES":
                comp = mo.encode_vertex_buffer(data.reshape(count, stride), options.meshopt_level)
            else:
                comp = mo.encode_index_buffer(data.view(np.uint16 if stride == 2 else np.uint32), mode == "TRIANGLES",
                                              stride)
            v = _add_meshopt(layout, comp, virtual, data.size, stride, count, mode, fields, filter_)
            virtual = _align4(virtual + data.size)
        else:
            v = layout.add(data.tobytes(), **fields)
        for entry, _ in members:
            entry["bufferView"] = v
    for j, entry in enumerate(draco_entries):
        mapping[len(doc.accessors) + j] = len(accessors_json)
        accessors_json.append(entry)
    remap(gltf, "accessors", mapping)
    images_json = []
    for img in doc.images:
        entry = {"bufferView": layout.add(img.data), "mimeType": img.mime_type}
        if img.name:
            entry["name"] = img.name
        entry.update(img.extra)
        images_json.append(entry)
    binary = layout.bytes()
    buffers: list[dict[str, Any]] = [{"byteLength": len(binary)}] if binary else []
    if meshopt and virtual:
        buffers.append({"byteLength": virtual, "extensions": {"EXT_meshopt_compression": {"fallback": True}}})
        for k in ("extensionsUsed", "extensionsRequired"):
            lst = gltf.setdefault(k, [])
            if "EXT_meshopt_compression" not in lst:
                lst.append("EXT_meshopt_compression")
    if accessors_json:
        gltf["accessors"] = accessors_json
    if layout.views:
        gltf["bufferViews"] = layout.views
    if buffers:
        gltf["buffers"] = buffers
    if images_json:
        gltf["images"] = images_json
    return pack_glb(_ordered(gltf), binary)


def _add_meshopt(layout: _Layout, comp: bytes, virtual: int, raw_len: int, stride: int, count: int, mode: str,
                 fields: dict[str, Any], filter: str | None = None) -> int:
    v = layout.add(comp)
    view = layout.views[v]
    ext = {"buffer": 0, "byteOffset": view["byteOffset"], "byteLength": len(comp), "byteStride": stride,
           "mode": mode, "count": count}
    if filter:
        ext["filter"] = filter
    view["extensions"] = {"EXT_meshopt_compression": ext}
    view.update({"buffer": 1, "byteOffset": virtual, "byteLength": raw_len})
    if "byteStride" in fields:
        view["byteStride"] = fields["byteStride"]
    if "target" in fields:
        view["target"] = fields["target"]
    return v


_ORDER = ["asset", "extensionsUsed", "extensionsRequired", "extensions", "scene", "scenes", "nodes", "meshes",
          "materials", "textures", "images", "samplers", "accessors", "bufferViews", "buffers"]


def _ordered(gltf: dict[str, Any]) -> dict[str, Any]:
    drop_empty_entities(gltf)
    declare_extensions(gltf)
    gltf = compact(gltf)
    out = {k: gltf[k] for k in _ORDER if k in gltf}
    out.update({k: v for k, v in gltf.items() if k not in out})
    for k in ("extensionsUsed", "extensionsRequired"):
        if k in out and not out[k]:
            del out[k]
    return out


def pack_glb(gltf: dict[str, Any], binary: bytes) -> bytes:
    """Return GLB bytes for glTF JSON and its binary chunk (both padded to 4 bytes)."""
    js = dumps(gltf).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + (8 + len(binary) if binary else 0)
    parts = [struct.pack("<4sII", b"glTF", 2, total), struct.pack("<II", len(js), 0x4E4F534A), js]
    if binary:
        parts += [struct.pack("<II", len(binary), 0x004E4942), binary]
    return b"".join(parts)


def glb_json(data: bytes) -> dict[str, Any]:
    """The JSON chunk of GLB bytes this module wrote."""
    (length,) = struct.unpack_from("<I", data, 12)
    return json.loads(data[20: 20 + length])  # type: ignore[no-any-return]


def write_glb(doc: AssetDocument, path: str | Path, options: WriteOptions | None = None) -> int:
    """Encode and write atomically; returns the number of bytes written."""
    data = encode_glb(doc, options)
    write_bytes_atomic(Path(path), data)
    return len(data)


__all__ = ["WriteOptions", "encode_glb", "glb_json", "write_glb"]
