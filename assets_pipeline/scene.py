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
    ``world_positions`` and ``world_triangles`` skin every vertex instead.
    """
    for _node, mesh, world, skin in _instances(doc):
        yield mesh, world if skin is None else skin[0]


def node_instances(doc: AssetDocument) -> Iterator[tuple[int, int, np.ndarray, bool]]:
    """(node, mesh index, node world matrix at rest, whether its skin can be posed) for each drawn node."""
    for node, mesh, world, skin in _instances(doc):
        yield node, mesh, world, skin is not None


def _instances(doc: AssetDocument) -> Iterator[tuple[int, int, np.ndarray, np.ndarray | None]]:
    """(node, mesh, node world matrix, joint matrices at rest or None) for each drawn mesh."""
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
        yield n, mesh, worlds[n], _joint_matrices(doc, n, worlds) if "skin" in nodes[n] else None


def _joint_matrices(doc: AssetDocument, node: int, worlds: dict[int, np.ndarray]) -> np.ndarray | None:
    """(joints, 4, 4): each joint's world matrix at rest times its inverse bind matrix (None: unusable skin)."""
    skins = doc.gltf.get("skins", [])
    index = doc.gltf["nodes"][node]["skin"]
    skin = skins[index] if isinstance(index, int) and 0 <= index < len(skins) else {}
    joints = skin.get("joints", [])
    if not joints or any(j not in worlds for j in joints):
        return None
    if "inverseBindMatrices" in skin:
        ibm = doc.accessors[skin["inverseBindMatrices"]].as_float().astype(np.float64).reshape(-1, 4, 4)
        ibm = ibm.transpose(0, 2, 1)[: len(joints)]
    else:
        ibm = np.repeat(np.eye(4)[None], len(joints), axis=0)
    if len(ibm) < len(joints):
        return None
    return np.array([worlds[j] for j in joints]) @ ibm


def _placed(doc: AssetDocument, prim: dict[str, Any], world: np.ndarray, skin: np.ndarray | None) -> np.ndarray:
    """A primitive's positions in world space: skinned at rest when its node has a skin (morphs not applied)."""
    attrs = prim["attributes"]
    p = doc.accessors[attrs["POSITION"]].as_float().astype(np.float64)
    sets = [k for k in range(8) if f"JOINTS_{k}" in attrs and f"WEIGHTS_{k}" in attrs]
    if skin is None or not sets:
        m = world if skin is None else skin[0]
        return p @ m[:3, :3].T + m[:3, 3]  # type: ignore[no-any-return]
    out = np.zeros_like(p)
    for k in sets:
        joints = doc.accessors[attrs[f"JOINTS_{k}"]].array.astype(np.int64)
        weights = doc.accessors[attrs[f"WEIGHTS_{k}"]].as_float().astype(np.float64)
        for c in range(joints.shape[1]):
            m = skin[np.clip(joints[:, c], 0, len(skin) - 1)]
            out += weights[:, c:c + 1] * (np.einsum("nij,nj->ni", m[:, :3, :3], p) + m[:, :3, 3])
    return out


def world_positions(doc: AssetDocument) -> np.ndarray:
    """(n, 3) float64: every drawn vertex in world space (skinned meshes at rest, morphs not applied)."""
    parts = []
    for _node, mesh, world, skin in _instances(doc):
        for prim in doc.gltf["meshes"][mesh].get("primitives", []):
            if "POSITION" in prim.get("attributes", {}):
                parts.append(_placed(doc, prim, world, skin))
    return np.concatenate(parts) if parts else np.zeros((0, 3))


def placed_primitives(doc: AssetDocument) -> dict[tuple[int, int], np.ndarray]:
    """(mesh, primitive) -> (n, 3) float64 positions of its first drawn instance in world space (skinned at rest)."""
    out: dict[tuple[int, int], np.ndarray] = {}
    for _node, mesh, world, skin in _instances(doc):
        for pi, prim in enumerate(doc.gltf["meshes"][mesh].get("primitives", [])):
            if (mesh, pi) not in out and "POSITION" in prim.get("attributes", {}):
                out[mesh, pi] = _placed(doc, prim, world, skin)
    return out


def world_triangles(doc: AssetDocument) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (n, 3) float64, triangles (m, 3) int64) of every triangle primitive, in world space."""
    verts, tris, base = [], [], 0
    for _node, mesh, world, skin in _instances(doc):
        for prim in doc.gltf["meshes"][mesh].get("primitives", []):
            attrs = prim.get("attributes", {})
            if prim.get("mode", TRIANGLES) != TRIANGLES or "POSITION" not in attrs:
                continue
            p = _placed(doc, prim, world, skin)
            idx = (doc.accessors[prim["indices"]].array.astype(np.int64) if "indices" in prim
                   else np.arange(len(p)))
            verts.append(p)
            tris.append(idx.reshape(-1, 3)[: len(idx) // 3] + base)
            base += len(p)
    if not verts:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    return np.concatenate(verts), np.concatenate(tris)


def bounds(doc: AssetDocument) -> tuple[np.ndarray, np.ndarray]:
    """Return the (lo, hi) corners of the document's world-space bounding box (zeros when empty)."""
    los, his = [], []
    identity = np.eye(4)
    for _node, mesh, world, skin in _instances(doc):
        for prim in doc.gltf["meshes"][mesh].get("primitives", []):
            if "POSITION" not in prim.get("attributes", {}):
                continue
            if skin is None and np.array_equal(world, identity):  # the box of the positions as stored, no copy
                a = doc.accessors[prim["attributes"]["POSITION"]].as_float()
                if not len(a):
                    continue
                lo, hi = a.min(axis=0).astype(np.float64) + 0.0, a.max(axis=0).astype(np.float64) + 0.0  # no -0.0
                if np.isfinite(lo).all() and np.isfinite(hi).all():
                    los.append(lo)
                    his.append(hi)
                    continue
            p = _placed(doc, prim, world, skin)
            if len(p):
                los.append(p.min(axis=0))
                his.append(p.max(axis=0))
    if not los:
        return np.zeros(3), np.zeros(3)
    return np.min(los, axis=0), np.max(his, axis=0)
