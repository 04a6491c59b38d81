"""Read .gltf and .glb files into an :class:`AssetDocument`.

Every count, offset and index is checked against what the file holds before it is used; Draco and
meshopt compressed data is decoded here (compression is a property of files, not of documents).
"""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..document import COMPONENT_DTYPES, TRIANGLES, TYPE_SIZES, Accessor, AssetDocument, Image
from ..errors import AssetError, InvalidAsset, LimitExceeded, UnsupportedFormat
from ..limits import Limits
from .gltf_repair import repair_document, repair_json
from .images import check_image
from .resources import ResourceResolver

logger = logging.getLogger(__name__)

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
DECODED_EXTENSIONS = ("EXT_meshopt_compression", "KHR_draco_mesh_compression")


def parse_glb(data: bytes, path: Path, limits: Limits | None = None) -> tuple[dict[str, Any], bytes | None]:
    """Split GLB bytes into (glTF JSON, binary chunk or None), checking the header and chunk lengths."""
    if len(data) < 20:
        raise InvalidAsset(f"truncated GLB: {len(data)} bytes is shorter than the 20-byte header", path=path)
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != GLB_MAGIC:
        raise InvalidAsset(f"wrong magic {magic!r}, expected b'glTF'", path=path, field="header")
    if version != 2:
        raise UnsupportedFormat(f"GLB version {version} (only version 2 is supported)", path=path, field="header")
    if length > len(data):
        raise InvalidAsset(f"truncated GLB: header declares {length} bytes, file has {len(data)}", path=path)
    offset, chunks = 12, []
    while offset < length:
        if offset + 8 > length:
            raise InvalidAsset(f"truncated chunk header at byte {offset}", path=path)
        clen, ctype = struct.unpack_from("<II", data, offset)
        if offset + 8 + clen > length:
            raise InvalidAsset(f"chunk at byte {offset} declares {clen} bytes past the end of the file", path=path)
        chunks.append((ctype, data[offset + 8: offset + 8 + clen]))
        offset += 8 + clen + (-clen % 4 if offset + 8 + clen + (-clen % 4) <= length else 0)
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise InvalidAsset("first chunk is not JSON", path=path, field="chunks")
    binary = next((c for t, c in chunks[1:] if t == CHUNK_BIN), None)
    return parse_json(chunks[0][1], path, limits), binary


def parse_json(raw: bytes, path: Path, limits: Limits | None = None) -> dict[str, Any]:
    """Parse glTF JSON bytes within the limits (size, depth); InvalidAsset when it is not a JSON object."""
    limits = limits or Limits()
    if len(raw) > limits.max_json_bytes:
        raise LimitExceeded("JSON bytes", len(raw), limits.max_json_bytes, path=path)
    try:
        text = raw.decode("utf-8-sig").rstrip(" \x00")
        gltf = json.loads(text, parse_constant=_reject_constant, parse_float=_json_number)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidAsset(f"invalid JSON ({exc})", path=path) from None
    except RecursionError:
        raise LimitExceeded("JSON nesting depth", 1000, limits.max_json_depth, path=path) from None
    if not isinstance(gltf, dict):
        raise InvalidAsset("top-level JSON value is not an object", path=path)
    _check_depth(gltf, limits.max_json_depth, path)
    version = str(gltf.get("asset", {}).get("version", "")) if isinstance(gltf.get("asset"), dict) else ""
    if not version.startswith("2."):
        raise UnsupportedFormat(f"glTF asset.version {version or 'missing'!r} (only 2.x is supported)",
                                path=path, field="asset.version")
    return gltf


def _json_number(text: str) -> int | float:
    """A JSON number written with a fraction or exponent: an int when it is integral (``1.0`` and ``10e-1``
    stand for the index 1, as JSON Schema's ``integer`` allows), a float otherwise."""
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _reject_constant(name: str) -> None:
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


def _check_depth(obj: Any, limit: int, path: Path) -> None:
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise LimitExceeded("JSON nesting depth", depth, limit, path=path)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))


class _Reader:
    def __init__(self, gltf: dict[str, Any], glb_bin: bytes | None, path: Path, limits: Limits) -> None:
        self.gltf = gltf
        self.glb_bin = glb_bin
        self.path = path
        self.limits = limits
        self.resolver = ResourceResolver(path, limits)
        self._buffers: dict[int, bytes | None] = {}
        self._views: dict[int, bytes] = {}

    def fail(self, field: str, problem: str) -> InvalidAsset:
        return InvalidAsset(problem, path=self.path, field=field)

    def _index(self, value: Any, kind: str, field: str) -> int:
        n = len(self.gltf.get(kind, []))
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n:
            raise self.fail(field, f"refers to {kind}[{value}], but the file has {n}")
        return value

    def buffer(self, i: int) -> bytes | None:
        """Buffer ``i``'s bytes (None for a meshopt fallback buffer), read and checked on first use: a buffer
        nothing reads is never opened (the validator calls it unused, not invalid)."""
        if i in self._buffers:
            return self._buffers[i]
        buf = self._list("buffers")[i]
        field = f"buffers[{i}]"
        length = buf.get("byteLength")
        if not isinstance(length, int) or length < 0:
            raise self.fail(field, "byteLength missing or negative")
        if length > self.limits.max_file_bytes:
            raise LimitExceeded("buffer byteLength", length, self.limits.max_file_bytes, path=self.path,
                                field=field)
        data: bytes | None
        if "uri" in buf:
            data, _ = self.resolver.read_uri(str(buf["uri"]), field + ".uri")
        elif i == 0 and self.glb_bin is not None:
            data = self.glb_bin
        elif buf.get("extensions", {}).get("EXT_meshopt_compression", {}).get("fallback"):
            data = None  # fallback buffer: only compressed views point at it
        else:
            raise self.fail(field, "has no data (no uri and no GLB binary chunk)")
        if data is not None and len(data) < length:
            raise self.fail(field, f"byteLength {length} but only {len(data)} bytes are present")
        self._buffers[i] = data
        return data

    def _list(self, key: str) -> list[dict[str, Any]]:
        value = self.gltf.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, "must be a list of objects")
        return value

    def view(self, i: int) -> bytes:
        """Buffer view ``i``'s bytes (decoded when meshopt-compressed), read and checked on first use."""
        if i in self._views:
            return self._views[i]
        view = self._list("bufferViews")[i]
        field = f"bufferViews[{i}]"
        b = self._index(view.get("buffer"), "buffers", field + ".buffer")
        offset, length = view.get("byteOffset", 0), view.get("byteLength")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 0:
            raise self.fail(field, "byteOffset/byteLength missing or negative")
        stride = view.get("byteStride")
        if stride is not None and (not _is_int(stride) or not 4 <= stride <= 252 or stride % 4):
            raise self.fail(field + ".byteStride", f"{stride!r} is not a multiple of 4 in 4..252")
        ext = view.get("extensions", {}).get("EXT_meshopt_compression")
        if ext is not None:
            result = self._decode_meshopt(ext, field, length)
        else:
            data = self.buffer(b)
            if data is None:
                raise self.fail(field, f"points at fallback buffer {b}, which holds no data")
            if offset + length > len(data):
                raise self.fail(field, f"range {offset}..{offset + length} is past the end of buffers[{b}] "
                                       f"({len(data)} bytes)")
            result = data[offset: offset + length]
        self._views[i] = result
        return result

    def _decode_meshopt(self, ext: dict[str, Any], field: str, length: int) -> bytes:
        from ..codecs import meshopt

        field += ".extensions.EXT_meshopt_compression"
        b = self._index(ext.get("buffer"), "buffers", field + ".buffer")
        src = self.buffer(b)
        off, blen = ext.get("byteOffset", 0), ext.get("byteLength", -1)
        count, stride = ext.get("count", -1), ext.get("byteStride", -1)
        if src is None or not all(_is_int(v) and v >= 0 for v in (off, blen, count, stride)):
            raise self.fail(field, "buffer, byteOffset, byteLength, count or byteStride invalid")
        mode, filt = ext.get("mode"), ext.get("filter", "NONE")
        # the C decoders only assert these in debug builds: a wrong stride would write past the output
        if mode == "ATTRIBUTES":
            if not 4 <= stride <= 256 or stride % 4:
                raise self.fail(field + ".byteStride", f"{stride} is not a multiple of 4 in 4..256")
            allowed = {"NONE": True, "OCTAHEDRAL": stride in (4, 8), "QUATERNION": stride == 8,
                       "EXPONENTIAL": stride % 4 == 0}
            if filt not in allowed:
                raise self.fail(field + ".filter", f"unknown filter {filt!r}")
            if not allowed[filt]:
                raise self.fail(field + ".byteStride", f"{stride} does not suit the {filt} filter")
        elif mode in ("TRIANGLES", "INDICES"):
            if stride not in (2, 4):
                raise self.fail(field + ".byteStride", f"{stride} must be 2 or 4 for {mode}")
            if mode == "TRIANGLES" and count % 3:
                raise self.fail(field + ".count", f"{count} is not a multiple of 3 for TRIANGLES")
            if filt != "NONE":
                raise self.fail(field + ".filter", f"filter {filt!r} is only allowed for ATTRIBUTES")
        else:
            raise self.fail(field + ".mode", f"unknown mode {mode!r}")
        if off + blen > len(src):
            raise self.fail(field, "compressed range is past the end of its buffer")
        if count * stride > self.limits.max_file_bytes or count * stride > max(length, 0) + 3 * stride:
            raise self.fail(field, f"decoded size {count}x{stride} does not fit the buffer view")
        try:
            return meshopt.decode(src[off: off + blen], count, stride, mode, filt)
        except ValueError as exc:
            raise self.fail(field, str(exc)) from None

    def read_accessor(self, i: int, acc: dict[str, Any]) -> Accessor:
        field = f"accessors[{i}]"
        ctype, atype, count = acc.get("componentType"), acc.get("type"), acc.get("count")
        if ctype not in COMPONENT_DTYPES:
            raise self.fail(field + ".componentType", f"unknown component type {ctype!r}")
        if atype not in TYPE_SIZES:
            raise self.fail(field + ".type", f"unknown type {atype!r}")
        if not isinstance(count, int) or count < 0:
            raise self.fail(field + ".count", "missing or negative")
        if count > self.limits.max_elements:
            raise LimitExceeded("accessor count", count, self.limits.max_elements, path=self.path,
                                field=field + ".count")
        dtype = COMPONENT_DTYPES[ctype]
        ncomp = TYPE_SIZES[atype]
        if atype.startswith("MAT") and dtype.itemsize < 4 and atype != "MAT4":
            raise UnsupportedFormat(f"{atype} with {dtype} components (padded columns)", path=self.path,
                                    field=field)
        elem = dtype.itemsize * ncomp
        if "bufferView" in acc:
            v = self._index(acc["bufferView"], "bufferViews", field + ".bufferView")
            view = self.view(v)
            stride = self.gltf["bufferViews"][v].get("byteStride") or elem
            if stride < elem:
                raise self.fail(field, f"byteStride {stride} of bufferViews[{v}] is smaller than the "
                                       f"{elem}-byte element")
            off = acc.get("byteOffset", 0)
            if not isinstance(off, int) or off < 0 or off % dtype.itemsize:
                raise self.fail(field + ".byteOffset", f"{off!r} is negative or not aligned to {dtype.itemsize}")
            if count and off + stride * (count - 1) + elem > len(view):
                raise self.fail(field, f"{count} elements of {elem} bytes (stride {stride}) from offset {off} "
                                       f"overrun bufferViews[{v}] ({len(view)} bytes)")
            raw = np.frombuffer(view, np.uint8, count=stride * (count - 1) + elem if count else 0, offset=off)
            if stride == elem:
                arr = raw.view(dtype).reshape(count, ncomp).copy()
            else:
                arr = np.lib.stride_tricks.as_strided(raw, (count, elem), (stride, 1)).copy().view(dtype)
        else:
            arr = np.zeros((count, ncomp), dtype)
        if "sparse" in acc:
            arr = self._apply_sparse(arr, acc["sparse"], field + ".sparse", dtype, ncomp)
        if ncomp == 1:
            arr = arr.reshape(count)
        extra = {k: acc[k] for k in ("extras", "extensions") if k in acc}
        return Accessor(arr, atype, bool(acc.get("normalized", False)), acc.get("name"), extra)

    def _apply_sparse(self, arr: np.ndarray, sparse: dict[str, Any], field: str, dtype: np.dtype[Any],
                      ncomp: int) -> np.ndarray:
        n = sparse.get("count")
        if not isinstance(n, int) or n < 1 or n > arr.shape[0]:
            raise self.fail(field + ".count", f"{n!r} is not within 1..{arr.shape[0]}")
        idx_desc, val_desc = sparse.get("indices", {}), sparse.get("values", {})
        ict = idx_desc.get("componentType")
        if ict not in (5121, 5123, 5125):
            raise self.fail(field + ".indices.componentType", f"{ict!r} is not an unsigned integer type")
        idx = self._sparse_part(idx_desc, field + ".indices", COMPONENT_DTYPES[ict], n, 1).reshape(n)
        vals = self._sparse_part(val_desc, field + ".values", dtype, n, ncomp)
        if idx.size and int(idx.max()) >= arr.shape[0]:
            raise self.fail(field + ".indices", f"index {int(idx.max())} is past the accessor count {arr.shape[0]}")
        arr = arr.copy()
        arr[idx.astype(np.int64)] = vals
        return arr

    def _sparse_part(self, desc: dict[str, Any], field: str, dtype: np.dtype[Any], n: int, ncomp: int) -> np.ndarray:
        v = self._index(desc.get("bufferView"), "bufferViews", field + ".bufferView")
        view = self.view(v)
        off = desc.get("byteOffset", 0)
        size = n * ncomp * dtype.itemsize
        if not isinstance(off, int) or off < 0 or off + size > len(view):
            raise self.fail(field, f"{n} elements from offset {off} overrun bufferViews[{v}]")
        return np.frombuffer(view, dtype, count=n * ncomp, offset=off).reshape(n, ncomp).copy()

    def read_images(self) -> list[Image]:
        images = []
        for i, img in enumerate(self._list("images")):
            field = f"images[{i}]"
            if "uri" in img:
                data, mime = self.resolver.read_uri(str(img["uri"]), field + ".uri")
                mime = img.get("mimeType") or mime
            elif "bufferView" in img:
                v = self._index(img["bufferView"], "bufferViews", field + ".bufferView")
                data = self.view(v)
                mime = img.get("mimeType")
            else:
                raise self.fail(field, "has neither uri nor bufferView")
            mime = check_image(data, self.limits, path=self.path, field=field, declared=mime)
            extra = {k: img[k] for k in ("extras", "extensions") if k in img}
            images.append(Image(bytes(data), mime, img.get("name"), extra))
        return images


def read_gltf(path: Path, data: bytes, limits: Limits) -> AssetDocument:
    """Read a .gltf or .glb file's bytes into an AssetDocument (external files from its folder, compressed streams
    decoded)."""
    if data[:4] == GLB_MAGIC:
        gltf, glb_bin = parse_glb(data, path, limits)
    elif path.suffix.lower() == ".glb":
        if len(data) < 4 and GLB_MAGIC.startswith(data):
            raise InvalidAsset(f"truncated GLB: {len(data)} bytes is shorter than the 20-byte header", path=path)
        raise InvalidAsset(f"wrong magic {data[:4]!r}, expected b'glTF'", path=path, field="header")
    else:
        gltf, glb_bin = parse_json(data, path, limits), None
    check_structure(gltf, path)
    try:
        repairs: list[str] = []
        repair_json(gltf, repairs.append)
        doc = _read_document(gltf, glb_bin, path, limits)
        doc.warnings[:0] = repairs
        repair_document(doc)
        return doc
    except AssetError:
        raise
    except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
        raise InvalidAsset(f"malformed structure ({type(exc).__name__}: {exc})", path=path) from None


def _read_document(gltf: dict[str, Any], glb_bin: bytes | None, path: Path, limits: Limits) -> AssetDocument:
    for ext in gltf.get("extensionsRequired", []):
        if ext in ("KHR_texture_basisu",):
            raise UnsupportedFormat(f"required extension {ext} (no decoder here)", path=path,
                                    field="extensionsRequired")
    r = _Reader(gltf, glb_bin, path, limits)
    accessors = [r.read_accessor(i, a) for i, a in enumerate(r._list("accessors"))]
    images = r.read_images()
    body = {k: v for k, v in gltf.items() if k not in ("buffers", "bufferViews", "accessors", "images")}
    doc = AssetDocument(body, accessors, images, str(path))
    draco_views = {
        int(p["extensions"]["KHR_draco_mesh_compression"].get("bufferView", -1)): None
        for _, _, p in doc.primitives() if "KHR_draco_mesh_compression" in p.get("extensions", {})
    }
    for v in draco_views:
        if not 0 <= v < len(r._list("bufferViews")):
            raise InvalidAsset(f"Draco bufferView {v} is out of range", path=path, field="KHR_draco_mesh_compression")
    _decode_draco(doc, path, {v: r.view(v) for v in draco_views})
    for ext in DECODED_EXTENSIONS:
        doc.drop_extension(ext)
    check_document(doc, path)
    return doc


def _decode_draco(doc: AssetDocument, path: Path, views: dict[int, bytes | None]) -> None:
    """Replace Draco-compressed primitives' accessors by the decoded attributes and indices."""
    draco_prims = [(mi, pi, p) for mi, pi, p in doc.primitives()
                   if "KHR_draco_mesh_compression" in p.get("extensions", {})]
    if not draco_prims:
        return
    import DracoPy

    for mi, pi, prim in draco_prims:
        field = f"meshes[{mi}].primitives[{pi}].extensions.KHR_draco_mesh_compression"
        ext = prim["extensions"].pop("KHR_draco_mesh_compression")
        if not prim["extensions"]:
            del prim["extensions"]
        raw = views.get(ext.get("bufferView", -1))
        if raw is None:
            raise InvalidAsset("bufferView of the Draco data is missing", path=path, field=field)
        try:
            mesh = DracoPy.decode(raw)
        except Exception as exc:  # DracoPy raises its own types for corrupt data
            raise InvalidAsset(f"Draco data could not be decoded ({exc})", path=path, field=field) from None
        for name, uid in ext.get("attributes", {}).items():
            if name not in prim.get("attributes", {}):
                continue
            attr = mesh.get_attribute_by_unique_id(uid)
            if attr is None:
                raise InvalidAsset(f"attribute {name} (id {uid}) not in the Draco data", path=path, field=field)
            acc = doc.accessors[prim["attributes"][name]]
            data = np.asarray(attr["data"])
            ncomp = TYPE_SIZES[acc.type]
            data = data.reshape(-1, ncomp) if ncomp > 1 else data.reshape(-1)
            if data.shape[0] != acc.count:
                raise InvalidAsset(f"Draco {name} has {data.shape[0]} values, the accessor declares {acc.count}",
                                   path=path, field=field)
            target = acc.array.dtype
            doc.accessors[prim["attributes"][name]] = acc.copy_with(data.astype(target))
        faces = np.asarray(mesh.faces, dtype=np.uint32).reshape(-1)
        if "indices" in prim:
            acc = doc.accessors[prim["indices"]]
            doc.accessors[prim["indices"]] = acc.copy_with(faces)
        else:
            prim["indices"] = doc.add_accessor(faces)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_TOP_LISTS = ("accessors", "animations", "buffers", "bufferViews", "cameras", "images", "materials", "meshes",
              "nodes", "samplers", "scenes", "skins", "textures")
_NODE_VECTORS = {"matrix": 16, "translation": 3, "rotation": 4, "scale": 3}
ATTRIBUTE_TYPES = {"POSITION": ("VEC3",), "NORMAL": ("VEC3",), "TANGENT": ("VEC4",), "TEXCOORD": ("VEC2",),
                   "COLOR": ("VEC3", "VEC4"), "JOINTS": ("VEC4",), "WEIGHTS": ("VEC4",)}
TARGET_TYPES = {"POSITION": ("VEC3",), "NORMAL": ("VEC3",), "TANGENT": ("VEC3",)}


def check_structure(gltf: dict[str, Any], path: Path) -> None:
    """The JSON types of everything the pipeline walks (lists, objects, indices, node vectors), so that
    later code can index without guarding; ranges are checked later by :func:`check_document`."""

    def fail(field: str, problem: str) -> InvalidAsset:
        return InvalidAsset(problem, path=path, field=field)

    def objects(value: Any, field: str, *, nonempty: bool = False) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value) or (nonempty and not value):
            raise fail(field, "must be a non-empty list of objects" if nonempty else "must be a list of objects")
        return value

    def int_list(value: Any, field: str) -> None:
        if not isinstance(value, list) or not all(_is_int(v) for v in value):
            raise fail(field, "must be a list of integers")

    def int_map(value: Any, field: str, *, nonempty: bool = False) -> None:
        if not isinstance(value, dict) or not all(isinstance(k, str) and _is_int(v) for k, v in value.items()):
            raise fail(field, "must map names to accessor indices")
        if nonempty and not value:
            raise fail(field, "must name at least one attribute")

    def ints(obj: dict[str, Any], keys: tuple[str, ...], field: str) -> None:
        for k in keys:
            if k in obj and not _is_int(obj[k]):
                raise fail(f"{field}.{k}", f"{obj[k]!r} is not an integer index")

    def extensions(obj: dict[str, Any], field: str) -> dict[str, Any]:
        ext = obj.get("extensions", {})
        if not isinstance(ext, dict) or not all(isinstance(v, dict) for v in ext.values()):
            raise fail(f"{field}.extensions", "must be an object of extension objects")
        return ext

    for key in _TOP_LISTS:
        objects(gltf.get(key, []), key)
    for key in ("extensionsUsed", "extensionsRequired"):
        value = gltf.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(key, "must be a list of extension names")
    if "scene" in gltf and not _is_int(gltf["scene"]):
        raise fail("scene", f"{gltf['scene']!r} is not an integer index")
    extensions(gltf, "glTF")
    for mi, mesh in enumerate(gltf.get("meshes", [])):
        field = f"meshes[{mi}]"
        for pi, prim in enumerate(objects(mesh.get("primitives"), field + ".primitives", nonempty=True)):
            pf = f"{field}.primitives[{pi}]"
            int_map(prim.get("attributes"), pf + ".attributes", nonempty=True)
            ints(prim, ("indices", "material", "mode"), pf)
            for ti, target in enumerate(objects(prim.get("targets", []), pf + ".targets")):
                int_map(target, f"{pf}.targets[{ti}]")
            ext = extensions(prim, pf)
            variants = ext.get("KHR_materials_variants", {})
            for vi, mapping in enumerate(objects(variants.get("mappings", []), pf + ".KHR_materials_variants")):
                ints(mapping, ("material",), f"{pf}.KHR_materials_variants.mappings[{vi}]")
        weights = mesh.get("weights", [])
        if not isinstance(weights, list) or not all(_is_num(w) for w in weights):
            raise fail(field + ".weights", "must be a list of numbers")
    for ni, node in enumerate(gltf.get("nodes", [])):
        field = f"nodes[{ni}]"
        int_list(node.get("children", []), field + ".children")
        ints(node, ("mesh", "skin", "camera"), field)
        for key, n in _NODE_VECTORS.items():
            value = node.get(key)
            if value is not None and (not isinstance(value, list) or len(value) != n
                                      or not all(_is_num(v) for v in value)):
                raise fail(f"{field}.{key}", f"must be a list of {n} numbers")
        inst = extensions(node, field).get("EXT_mesh_gpu_instancing", {})
        int_map(inst.get("attributes", {}), field + ".extensions.EXT_mesh_gpu_instancing.attributes")
    for si, scene in enumerate(gltf.get("scenes", [])):
        int_list(scene.get("nodes", []), f"scenes[{si}].nodes")
    for si, skin in enumerate(gltf.get("skins", [])):
        int_list(skin.get("joints", []), f"skins[{si}].joints")
        ints(skin, ("inverseBindMatrices", "skeleton"), f"skins[{si}]")
    for ai, anim in enumerate(gltf.get("animations", [])):
        field = f"animations[{ai}]"
        for i, sampler in enumerate(objects(anim.get("samplers", []), field + ".samplers")):
            ints(sampler, ("input", "output"), f"{field}.samplers[{i}]")
        for i, channel in enumerate(objects(anim.get("channels", []), field + ".channels")):
            ints(channel, ("sampler",), f"{field}.channels[{i}]")
            target = channel.get("target", {})
            if not isinstance(target, dict):
                raise fail(f"{field}.channels[{i}].target", "must be an object")
            ints(target, ("node",), f"{field}.channels[{i}].target")
    for ti, tex in enumerate(gltf.get("textures", [])):
        ints(tex, ("source", "sampler"), f"textures[{ti}]")
        for name, ext in extensions(tex, f"textures[{ti}]").items():
            ints(ext, ("source",), f"textures[{ti}].extensions.{name}")
    for i, mat in enumerate(gltf.get("materials", [])):
        extensions(mat, f"materials[{i}]")


def _check_hierarchy(gltf: dict[str, Any], path: Path) -> None:
    """Nodes form a forest: one parent at most, no cycles, scenes list root nodes only."""
    nodes = gltf.get("nodes", [])
    parent: dict[int, int] = {}
    for i, node in enumerate(nodes):
        for c in node.get("children", []):
            if c in parent:
                raise InvalidAsset(f"nodes[{c}] has two parents (nodes[{parent[c]}] and nodes[{i}])", path=path,
                                   field="nodes")
            parent[c] = i
    state = [0] * len(nodes)  # 0 unseen, 1 on the current parent chain, 2 done
    for i in range(len(nodes)):
        chain: list[int] = []
        j: int | None = i
        while j is not None and state[j] == 0:
            state[j] = 1
            chain.append(j)
            j = parent.get(j)
        if j is not None and state[j] == 1:
            raise InvalidAsset(f"nodes[{j}] is its own ancestor (a cycle in the node hierarchy)", path=path,
                               field="nodes")
        for k in chain:
            state[k] = 2
    for si, scene in enumerate(gltf.get("scenes", [])):
        for n in scene.get("nodes", []):
            if n in parent:
                raise InvalidAsset(f"lists nodes[{n}], which is a child of nodes[{parent[n]}], as a root",
                                   path=path, field=f"scenes[{si}].nodes")


def _attribute_types(name: str, table: dict[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    return table.get(name.split("_")[0] if name[-1:].isdigit() else name)


def check_document(doc: AssetDocument, path: Path) -> None:
    """References in range, a node forest, attribute types, indices within the vertex count, finite values."""
    from ..refs import REF_KINDS, refs
    from ..scene import world_positions

    counts = {k: len(doc.gltf.get(k, [])) for k in REF_KINDS}
    counts["accessors"] = len(doc.accessors)
    counts["images"] = len(doc.images)
    for kind in REF_KINDS:
        for container, key in refs(doc.gltf, kind):
            value = container[key]
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < counts[kind]:
                have = f"0..{counts[kind] - 1}" if counts[kind] else f"the file has no {kind}"
                raise InvalidAsset(f"reference {key!r} -> {kind}[{value}] is out of range ({have})",
                                   path=path, field=kind)
    scene, n_scenes = doc.gltf.get("scene"), len(doc.gltf.get("scenes", []))
    if scene is not None and not 0 <= scene < n_scenes:
        raise InvalidAsset(f"default scene refers to scenes[{scene}], but the file has {n_scenes}", path=path,
                           field="scene")
    _check_hierarchy(doc.gltf, path)
    for mi, pi, prim in doc.primitives():
        field = f"meshes[{mi}].primitives[{pi}]"
        attrs = prim.get("attributes", {})
        if "POSITION" not in attrs:
            continue
        pos = doc.accessors[attrs["POSITION"]]
        n = pos.count
        streams = [(name, a, ATTRIBUTE_TYPES) for name, a in attrs.items()]
        streams += [(name, a, TARGET_TYPES) for t in prim.get("targets", []) for name, a in t.items()]
        for name, a, table in streams:
            acc = doc.accessors[a]
            allowed = _attribute_types(name, table)
            if allowed and acc.type not in allowed:
                raise InvalidAsset(f"attribute {name} is {acc.type}, expected {' or '.join(allowed)}", path=path,
                                   field=field)
            if acc.count != n:
                raise InvalidAsset(f"attribute {name} has {acc.count} elements, POSITION has {n}",
                                   path=path, field=field)
        if pos.array.dtype == np.float32 and not np.isfinite(pos.array).all():
            raise InvalidAsset("POSITION holds NaN or infinite values", path=path, field=field)
        if "indices" in prim:
            idx_acc = doc.accessors[prim["indices"]]
            idx = idx_acc.array
            if idx_acc.type != "SCALAR":
                raise InvalidAsset(f"indices must be SCALAR, not {idx_acc.type}", path=path,
                                   field=field + ".indices")
            if idx.dtype.kind != "u":
                raise InvalidAsset("indices must be unsigned integers", path=path, field=field + ".indices")
            if idx.size and int(idx.max()) >= n:
                raise InvalidAsset(f"index {int(idx.max())} is past the vertex count {n}", path=path,
                                   field=field + ".indices")
        if prim.get("mode", TRIANGLES) not in range(7):
            raise InvalidAsset(f"unknown primitive mode {prim.get('mode')!r}", path=path, field=field + ".mode")
    for i, acc in enumerate(doc.accessors):
        if acc.array.dtype.kind == "f" and not np.isfinite(acc.array).all():
            raise InvalidAsset("holds NaN or infinite values", path=path, field=f"accessors[{i}]")
    if not np.isfinite(world_positions(doc)).all():
        raise InvalidAsset("node transforms move vertices to infinity", path=path, field="nodes")
