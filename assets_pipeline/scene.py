"""Scene graph geometry: node world matrices, world-space bounds and triangles (pure numpy)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .document import TRIANGLES, AssetDocument
from .geometry import quat_to_matrix


def quat_mul(a: list[float], b: list[float]) -> list[float]:
    """Hamilton product a * b of (x, y, z, w) quaternions."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return [aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz]


def animated_nodes(gltf: dict[str, Any]) -> set[int]:
    """Return the indices of the nodes an animation targets."""
    return {c["target"]["node"] for a in gltf.get("animations", []) for c in a.get("channels", [])
            if "node" in c.get("target", {})}


def prepend_transform(node: dict[str, Any], translation: np.ndarray, rotation: list[float], scale: float) -> None:
    """node.local = (T * R * uniform S) @ node.local, written back as TRS (or as a matrix if it had one)."""
    if "matrix" in node:
        a = np.eye(4)
        a[:3, :3] = quat_to_matrix(rotation) * scale
        a[:3, 3] = translation
        node["matrix"] = [float(v) for v in (a @ local_matrix(node)).T.reshape(-1)]
        return
    t = np.array(node.get("translation", [0.0, 0.0, 0.0]), np.float64)
    node["translation"] = [float(v) for v in translation + quat_to_matrix(rotation) @ (scale * t)]
    node["rotation"] = quat_mul(rotation, node.get("rotation", [0.0, 0.0, 0.0, 1.0]))
    node["scale"] = [float(scale * v) for v in node.get("scale", [1.0, 1.0, 1.0])]
    _drop_identity(node)


def append_transform(node: dict[str, Any], translation: np.ndarray, scale: float) -> None:
    """node.local = node.local @ (T * uniform S): folds a child-side transform into a leaf node."""
    if "matrix" in node:
        a = np.eye(4) * scale
        a[3, 3] = 1.0
        a[:3, 3] = translation
        node["matrix"] = [float(v) for v in (local_matrix(node) @ a).T.reshape(-1)]
        return
    r = quat_to_matrix(node.get("rotation", [0.0, 0.0, 0.0, 1.0]))
    s = np.array(node.get("scale", [1.0, 1.0, 1.0]), np.float64)
    t = np.array(node.get("translation", [0.0, 0.0, 0.0]), np.float64)
    node["translation"] = [float(v) for v in t + r @ (s * translation)]
    node["scale"] = [float(v * scale) for v in s]
    _drop_identity(node)


def _drop_identity(node: dict[str, Any]) -> None:
    if "rotation" in node and np.allclose(node["rotation"], [0, 0, 0, 1], atol=0):
        del node["rotation"]
    if "translation" in node and not any(node["translation"]):
        del node["translation"]
    if "scale" in node and node["scale"] == [1.0, 1.0, 1.0]:
        del node["scale"]


def local_matrix(node: dict[str, Any]) -> np.ndarray:
    """Return a node's local 4x4 transform (its matrix, or translation, rotation and scale)."""
    if "matrix" in node:
        return np.array(node["matrix"], dtype=np.float64).reshape(4, 4).T
    m = np.eye(4)
    s = np.array(node.get("scale", [1.0, 1.0, 1.0]), dtype=np.float64)
    m[:3, :3] = quat_to_matrix(node.get("rotation", [0.0, 0.0, 0.0, 1.0])) * s
    m[:3, 3] = node.get("translation", [0.0, 0.0, 0.0])
    return m


def mesh_instances(doc: AssetDocument) -> Iterator[tuple[int, np.ndarray]]:
    """(mesh index, world matrix) for each node of the default scene that draws a mesh.

    A skinned mesh is placed by its first joint at rest (that joint's world matrix times its inverse bind
    matrix), as skinning places the vertices bound to that joint; its node's own transform does not apply.
    """
    nodes = doc.gltf.get("nodes", [])
    scenes = doc.gltf.get("scenes", [])
    if not scenes:
        roots = list(range(len(nodes)))
    else:
        roots = scenes[doc.gltf.get("scene", 0) if doc.gltf.get("scene", 0) < len(scenes) else 0].get("nodes", [])
    stack = [(r, np.eye(4)) for r in roots]
    visited = 0
    worlds: dict[int, np.ndarray] = {}
    drawn: list[tuple[int, int]] = []
    while stack and visited < 1_000_000:
        visited += 1
        n, parent = stack.pop()
        world = parent @ local_matrix(nodes[n])
        worlds[n] = world
        if "mesh" in nodes[n]:
            drawn.append((n, nodes[n]["mesh"]))
        stack.extend((c, world) for c in nodes[n].get("children", []))
    for n, mesh in drawn:
        yield mesh, _skin_matrix(doc, n, worlds) if "skin" in nodes[n] else worlds[n]


def _skin_matrix(doc: AssetDocument, node: int, worlds: dict[int, np.ndarray]) -> np.ndarray:
    skins = doc.gltf.get("skins", [])
    index = doc.gltf["nodes"][node]["skin"]
    skin = skins[index] if isinstance(index, int) and 0 <= index < len(skins) else {}
    joints = skin.get("joints", [])
    if not joints or joints[0] not in worlds:
        return worlds[node]
    ibm = np.eye(4)
    if "inverseBindMatrices" in skin:
        ibm = doc.accessors[skin["inverseBindMatrices"]].as_float()[0].astype(np.float64).reshape(4, 4).T
    return worlds[joints[0]] @ ibm


def world_positions(doc: AssetDocument) -> np.ndarray:
    """(n, 3) float64: every drawn vertex in world space (skinning and morphs not applied)."""
    parts = []
    for mesh, world in mesh_instances(doc):
        for prim in doc.gltf["meshes"][mesh].get("primitives", []):
            if "POSITION" in prim.get("attributes", {}):
                p = doc.accessors[prim["attributes"]["POSITION"]].as_float().astype(np.float64)
                parts.append(p @ world[:3, :3].T + world[:3, 3])
    return np.concatenate(parts) if parts else np.zeros((0, 3))


def world_triangles(doc: AssetDocument) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (n, 3) float64, triangles (m, 3) int64) of every triangle primitive, in world space."""
    verts, tris, base = [], [], 0
    for mesh, world in mesh_instances(doc):
        for prim in doc.gltf["meshes"][mesh].get("primitives", []):
            attrs = prim.get("attributes", {})
            if prim.get("mode", TRIANGLES) != TRIANGLES or "POSITION" not in attrs:
                continue
            p = doc.accessors[attrs["POSITION"]].as_float().astype(np.float64)
            idx = (doc.accessors[prim["indices"]].array.astype(np.int64) if "indices" in prim
                   else np.arange(len(p)))
            verts.append(p @ world[:3, :3].T + world[:3, 3])
            tris.append(idx.reshape(-1, 3)[: len(idx) // 3] + base)
            base += len(p)
    if not verts:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    return np.concatenate(verts), np.concatenate(tris)


def bounds(doc: AssetDocument) -> tuple[np.ndarray, np.ndarray]:
    """Return the (lo, hi) corners of the document's world-space bounding box (zeros when empty)."""
    p = world_positions(doc)
    if len(p) == 0:
        return np.zeros(3), np.zeros(3)
    return p.min(axis=0), p.max(axis=0)
