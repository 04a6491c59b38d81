"""The in-memory asset document every reader fills, every transform edits and every writer encodes.

The document keeps the glTF JSON structure (scenes, nodes, meshes, materials, skins, animations,
cameras, extras, unknown extensions) as plain data, but replaces the byte-level layers with decoded
values: ``accessors`` holds numpy arrays, ``images`` holds encoded image bytes. Accessor and image
references in the JSON are indices into those two lists. Buffers and buffer views exist only in
files: readers resolve them, writers lay them out again (and compress them there).

Arrays are replaced, never written into, so ``clone()`` is cheap and gives a true before/after.
No I/O happens here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

COMPONENT_DTYPES: dict[int, np.dtype[Any]] = {
    5120: np.dtype(np.int8),
    5121: np.dtype(np.uint8),
    5122: np.dtype(np.int16),
    5123: np.dtype(np.uint16),
    5125: np.dtype(np.uint32),
    5126: np.dtype(np.float32),
}
DTYPE_COMPONENTS: dict[np.dtype[Any], int] = {v: k for k, v in COMPONENT_DTYPES.items()}
TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
SIZE_TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}
TRIANGLES = 4
GENERATOR = "phygital"
"""``asset.generator`` of every file this package writes."""
LINEAR, LINEAR_MIPMAP_LINEAR = 9729, 9987
"""Sampler filters (glTF): linear magnification, trilinear minification."""
REPEAT, CLAMP_TO_EDGE, MIRRORED_REPEAT = 10497, 33071, 33648
"""Sampler wrap modes (glTF)."""


@dataclass(eq=False)
class Accessor:
    """Decoded accessor data.

    array : (count, k) for vectors and matrices (matrices flattened column-major), (count,) for SCALAR.
    """

    array: np.ndarray
    type: str
    normalized: bool = False
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """extras/extensions of the accessor, written back as they were."""
    filtered: tuple[str, np.ndarray] | None = None
    """A meshopt filter name (QUATERNION, EXPONENTIAL) and filtered rows that decode exactly to ``array``:
    the GLB writer stores those under EXT_meshopt_compression. Set by transforms that quantize through a
    filter; an accessor with a new array (``copy_with``) has none."""

    @property
    def count(self) -> int:
        """Return the number of elements (rows of the array)."""
        return int(self.array.shape[0])

    @property
    def component_type(self) -> int:
        """Return the glTF componentType code of the array's dtype."""
        return DTYPE_COMPONENTS[self.array.dtype]

    def as_float(self) -> np.ndarray:
        """Values as float32 (normalized integers mapped to [0, 1] or [-1, 1] as glTF defines)."""
        a = self.array
        if a.dtype == np.float32:
            return a
        if not self.normalized:
            return a.astype(np.float32)
        info = np.iinfo(a.dtype)
        out = a.astype(np.float32) / float(info.max)
        if info.min < 0:
            out = np.maximum(out, -1.0)
        return out

    def copy_with(self, array: np.ndarray, normalized: bool | None = None) -> Accessor:
        """Return a copy of this accessor holding ``array`` (and ``normalized`` when given)."""
        return Accessor(array, self.type, self.normalized if normalized is None else normalized, self.name,
                        copy.deepcopy(self.extra))


@dataclass(eq=False)
class Image:
    """An image of the document: its bytes, MIME type, name and extra glTF fields."""
    data: bytes
    mime_type: str
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class AssetDocument:
    """A glTF asset in memory: its JSON, with accessors and images as arrays and bytes."""
    gltf: dict[str, Any]
    """glTF JSON without buffers, bufferViews, accessors and images; refs index ``accessors``/``images``."""
    accessors: list[Accessor] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    source: str | None = None
    warnings: list[str] = field(default_factory=list)

    # --- construction -------------------------------------------------------------------------------
    @classmethod
    def empty(cls, generator: str = GENERATOR) -> AssetDocument:
        """Return a document with one empty scene."""
        return cls({"asset": {"version": "2.0", "generator": generator}, "scenes": [{"nodes": []}], "scene": 0})

    @classmethod
    def from_mesh_arrays(
        cls,
        positions: np.ndarray,
        indices: np.ndarray | None,
        normals: np.ndarray | None = None,
        colors: np.ndarray | None = None,
        texcoords: np.ndarray | None = None,
        name: str = "mesh",
        material: dict[str, Any] | None = None,
        texture: Image | None = None,
        texture_wrap: int = REPEAT,
    ) -> AssetDocument:
        """A one-mesh document from arrays.

        positions : (n, 3) float; indices : (m, 3) or (3m,) integer, None for a point list;
        normals : (n, 3) float; colors : (n, 3|4) float in [0, 1] or uint8; texcoords : (n, 2) float;
        texture : the material's base colour image, read through ``texcoords`` (see :meth:`add_texture`).
        """
        doc = cls.empty()
        prim: dict[str, Any] = {"attributes": {"POSITION": doc.add_accessor(np.asarray(positions, np.float32))}}
        if normals is not None:
            prim["attributes"]["NORMAL"] = doc.add_accessor(np.asarray(normals, np.float32))
        if texcoords is not None:
            prim["attributes"]["TEXCOORD_0"] = doc.add_accessor(np.asarray(texcoords, np.float32))
        if colors is not None:
            c = np.asarray(colors)
            if c.dtype == np.uint8:
                prim["attributes"]["COLOR_0"] = doc.add_accessor(c, normalized=True)
            else:
                prim["attributes"]["COLOR_0"] = doc.add_accessor(np.clip(c, 0, 1).astype(np.float32))
        if indices is None:
            prim["mode"] = 0
        else:
            prim["indices"] = doc.add_accessor(np.asarray(indices).reshape(-1).astype(np.uint32))
        mat = material or {"pbrMetallicRoughness": {"metallicFactor": 0.0, "roughnessFactor": 0.8}}
        if texture is not None:
            pbr = {"baseColorTexture": {"index": doc.add_texture(texture, texture_wrap)},
                   **mat.get("pbrMetallicRoughness", {})}
            mat = {**mat, "pbrMetallicRoughness": pbr}
        doc.gltf["materials"] = [mat]
        prim["material"] = 0
        doc.gltf["meshes"] = [{"name": name, "primitives": [prim]}]
        doc.gltf["nodes"] = [{"name": name, "mesh": 0}]
        doc.gltf["scenes"][0]["nodes"] = [0]
        return doc

    def add_texture(self, image: Image, wrap: int = REPEAT) -> int:
        """Append ``image`` with a texture and its sampler (linear, trilinear with mipmaps; ``wrap`` on both
        axes); returns the texture's index, for a material's ``{"index": ...}``."""
        self.images.append(image)
        samplers = self.list("samplers")
        samplers.append({"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR, "wrapS": wrap, "wrapT": wrap})
        textures = self.list("textures")
        textures.append({"source": len(self.images) - 1, "sampler": len(samplers) - 1})
        return len(textures) - 1

    def add_accessor(self, array: np.ndarray, type: str | None = None, normalized: bool = False) -> int:
        """Add an accessor for ``array`` (float64 stored as float32); returns its index."""
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        if array.dtype not in DTYPE_COMPONENTS:
            raise TypeError(f"glTF accessors cannot hold {array.dtype} values")
        if type is None:
            type = "SCALAR" if array.ndim == 1 else SIZE_TYPES[array.shape[1]]
        self.accessors.append(Accessor(np.ascontiguousarray(array), type, normalized))
        return len(self.accessors) - 1

    # --- queries ----------------------------------------------------------------------------------
    def list(self, key: str) -> list[Any]:
        """The JSON list under ``key`` (created empty when absent)."""
        return self.gltf.setdefault(key, [])  # type: ignore[no-any-return]

    def primitives(self) -> Iterator[tuple[int, int, dict[str, Any]]]:
        """Yield (mesh index, primitive index, primitive JSON) for every primitive."""
        for mi, mesh in enumerate(self.gltf.get("meshes", [])):
            for pi, prim in enumerate(mesh.get("primitives", [])):
                yield mi, pi, prim

    def triangle_count(self) -> int:
        """Return the number of triangles of all primitives (each mesh counted once)."""
        total = 0
        for _, _, prim in self.primitives():
            mode = prim.get("mode", TRIANGLES)
            n = (self.accessors[prim["indices"]].count if "indices" in prim
                 else self.accessors[prim["attributes"]["POSITION"]].count)
            if mode == TRIANGLES:
                total += n // 3
            elif mode in (5, 6):
                total += max(n - 2, 0)
        return total

    def warn(self, message: str) -> None:
        """Record a warning for the report (each message once)."""
        if message not in self.warnings:
            self.warnings.append(message)

    # --- extensions -------------------------------------------------------------------------------
    def use_extension(self, name: str, required: bool = False) -> None:
        """Declare a glTF extension as used (and required when ``required``)."""
        used = self.list("extensionsUsed")
        if name not in used:
            used.append(name)
        if required:
            req = self.list("extensionsRequired")
            if name not in req:
                req.append(name)

    def drop_extension(self, name: str) -> None:
        """Remove a glTF extension from extensionsUsed and extensionsRequired."""
        for key in ("extensionsUsed", "extensionsRequired"):
            if name in self.gltf.get(key, []):
                self.gltf[key].remove(name)
                if not self.gltf[key]:
                    del self.gltf[key]

    def clone(self) -> AssetDocument:
        """Return a copy whose JSON and lists can change without touching this one (arrays and bytes shared)."""
        return AssetDocument(
            copy.deepcopy(self.gltf),
            [Accessor(a.array, a.type, a.normalized, a.name, copy.deepcopy(a.extra), a.filtered)
             for a in self.accessors],
            [Image(i.data, i.mime_type, i.name, copy.deepcopy(i.extra)) for i in self.images],
            self.source,
            list(self.warnings),
        )
