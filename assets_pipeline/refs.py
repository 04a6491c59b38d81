"""Where the glTF JSON refers to other objects by index: the one place that knows every reference field.

``refs(gltf, kind)`` yields ``(container, key)`` pairs such that ``container[key]`` is an index of ``kind``
(``accessors``, ``images``, ``textures``, ``materials``, ``meshes``, ``nodes``, ``samplers``, ``skins``,
``cameras``). Pruning, deduplication and merging remap indices through it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Ref = tuple[Any, Any]
IMAGE_SOURCE_EXTENSIONS = ("EXT_texture_webp", "KHR_texture_basisu", "MSFT_texture_dds", "EXT_texture_avif")


def _texture_infos(obj: Any) -> Iterator[dict[str, Any]]:
    """Every textureInfo inside a material (core and extension slots): dicts under keys ending in 'Texture'."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key.endswith("Texture") and isinstance(value, dict) and "index" in value:
                yield value
            else:
                yield from _texture_infos(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _texture_infos(item)


def refs(gltf: Mapping[str, Any], kind: str) -> Iterator[Ref]:
    """Yield (container, key) for every place in glTF JSON that refers to an item of ``kind`` (accessors, images...)."""
    meshes = gltf.get("meshes", [])
    nodes = gltf.get("nodes", [])
    if kind == "accessors":
        for mesh in meshes:
            for prim in mesh.get("primitives", []):
                attrs = prim.get("attributes", {})
                for name in attrs:
                    yield attrs, name
                if "indices" in prim:
                    yield prim, "indices"
                for target in prim.get("targets", []):
                    for name in target:
                        yield target, name
        for skin in gltf.get("skins", []):
            if "inverseBindMatrices" in skin:
                yield skin, "inverseBindMatrices"
        for anim in gltf.get("animations", []):
            for sampler in anim.get("samplers", []):
                yield sampler, "input"
                yield sampler, "output"
        for node in nodes:
            inst = node.get("extensions", {}).get("EXT_mesh_gpu_instancing", {}).get("attributes", {})
            for name in inst:
                yield inst, name
    elif kind == "images":
        for tex in gltf.get("textures", []):
            if "source" in tex:
                yield tex, "source"
            for ext in IMAGE_SOURCE_EXTENSIONS:
                e = tex.get("extensions", {}).get(ext)
                if isinstance(e, dict) and "source" in e:
                    yield e, "source"
    elif kind == "textures":
        for mat in gltf.get("materials", []):
            for info in _texture_infos(mat):
                yield info, "index"
    elif kind == "samplers":
        for tex in gltf.get("textures", []):
            if "sampler" in tex:
                yield tex, "sampler"
    elif kind == "materials":
        for mesh in meshes:
            for prim in mesh.get("primitives", []):
                if "material" in prim:
                    yield prim, "material"
                for mapping in prim.get("extensions", {}).get("KHR_materials_variants", {}).get("mappings", []):
                    yield mapping, "material"
    elif kind == "meshes":
        for node in nodes:
            if "mesh" in node:
                yield node, "mesh"
    elif kind == "skins":
        for node in nodes:
            if "skin" in node:
                yield node, "skin"
    elif kind == "cameras":
        for node in nodes:
            if "camera" in node:
                yield node, "camera"
    elif kind == "nodes":
        for scene in gltf.get("scenes", []):
            lst = scene.get("nodes", [])
            for i in range(len(lst)):
                yield lst, i
        for node in nodes:
            lst = node.get("children", [])
            for i in range(len(lst)):
                yield lst, i
        for skin in gltf.get("skins", []):
            lst = skin.get("joints", [])
            for i in range(len(lst)):
                yield lst, i
            if "skeleton" in skin:
                yield skin, "skeleton"
        for anim in gltf.get("animations", []):
            for ch in anim.get("channels", []):
                target = ch.get("target", {})
                if "node" in target:
                    yield target, "node"
    else:
        raise KeyError(kind)


REF_KINDS = ("accessors", "images", "textures", "samplers", "materials", "meshes", "skins", "cameras", "nodes")


def referenced(gltf: Mapping[str, Any], kind: str) -> set[int]:
    """Return the indices of ``kind`` items that glTF JSON refers to."""
    return {c[k] for c, k in refs(gltf, kind)}


def remap(gltf: Mapping[str, Any], kind: str, mapping: Mapping[int, int]) -> None:
    """Rewrite every reference of ``kind`` through ``mapping`` (old index -> new index)."""
    for container, key in list(refs(gltf, kind)):
        container[key] = mapping[container[key]]
