"""Wavefront OBJ (+ MTL and textures) -> AssetDocument.

Written for the files artists really send: negative (relative) indices, polygons (concave ones are ear
clipped), per-vertex colors, several materials, ``mtllib`` names with spaces, Windows paths, texture
options. References past the end of the position list are an error; past the end of the texture
coordinate or normal lists, that attribute is dropped with a warning (normals are then generated or
left to the viewer).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..document import AssetDocument
from ..errors import InvalidAsset, LimitExceeded
from ..limits import Limits
from .mtl import MaterialBuilder, ObjMaterial, parse_mtl
from .polygons import MAX_POLYGON_CORNERS, triangulate
from .resources import ResourceResolver

logger = logging.getLogger(__name__)
_MTL_NAMES = re.compile(r"(.+?\.mtl)(?=\s|$)", re.IGNORECASE)


def _floats(lines: list[str], path: Path, what: str, sizes: tuple[int, ...]) -> np.ndarray:
    if not lines:
        return np.zeros((0, sizes[0]), np.float64)
    rows = [ln.split() for ln in lines]
    width = len(rows[0])
    try:
        if all(len(r) == width for r in rows) and width in sizes:
            arr = np.array(" ".join(lines).split(), dtype=np.float64).reshape(len(rows), width)
        else:
            w = min(sizes[0], min(len(r) for r in rows))
            if w < sizes[0]:
                raise InvalidAsset(f"a {what} line has fewer than {sizes[0]} numbers", path=path, field=what)
            arr = np.array([r[:w] for r in rows], dtype=np.float64)
    except ValueError:
        raise InvalidAsset(f"a {what} line holds a value that is not a number", path=path, field=what) from None
    if not np.isfinite(arr).all():
        raise InvalidAsset(f"{what} holds NaN or infinite values", path=path, field=what)
    return arr


def read_obj(path: Path, data: bytes, limits: Limits) -> AssetDocument:
    """Read OBJ bytes (and its MTL files and textures) into an AssetDocument; InvalidAsset naming the line otherwise."""
    text = data.decode("utf-8", errors="replace")
    if "\0" in text[:4096]:
        raise InvalidAsset("not a text OBJ file (binary data)", path=path)
    v_lines: list[str] = []
    vt_lines: list[str] = []
    vn_lines: list[str] = []
    faces: list[str] = []
    slot_changes: list[tuple[int, int]] = [(0, 0)]  # (first face, material slot)
    relative: dict[int, tuple[int, int, int]] = {}  # face -> (nv, nvt, nvn) where negative indices appear
    mtllibs: list[str] = []
    mat_names: list[str | None] = [None]
    mat_slot = 0
    name = None
    skipped = 0
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        c0 = line[0]
        if c0 == "v":
            c1 = line[1:2]
            if c1 == " " or c1 == "\t":
                v_lines.append(line[2:])
            elif c1 == "t":
                vt_lines.append(line[3:])
            elif c1 == "n":
                vn_lines.append(line[3:])
            continue
        if c0 == "f" and line[1:2] in (" ", "\t"):
            if len(line) > 2 * MAX_POLYGON_CORNERS and len(line.split()) - 1 > MAX_POLYGON_CORNERS:
                # before its corners are parsed: one f line with 10M corners ran for 30 minutes at 3.9 GB
                raise LimitExceeded(f"face {len(faces) + 1}: polygon corners", len(line.split()) - 1,
                                    MAX_POLYGON_CORNERS, path=path, field="f")
            if "-" in line:
                relative[len(faces)] = (len(v_lines), len(vt_lines), len(vn_lines))
            faces.append(line[2:])
            continue
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        key, rest = parts[0], (parts[1] if len(parts) > 1 else "")
        if key == "usemtl":
            mname = rest.strip()
            if mname not in mat_names:
                mat_names.append(mname)
            mat_slot = mat_names.index(mname)
            slot_changes.append((len(faces), mat_slot))
        elif key == "mtllib":
            mtllibs.extend(m.strip() for m in _MTL_NAMES.findall(rest.strip()) or [rest.strip()])
        elif key == "o" and name is None:
            name = rest.strip() or None
        elif key in ("l", "p"):
            skipped += 1
    if len(v_lines) > limits.max_elements:
        raise LimitExceeded("vertex count", len(v_lines), limits.max_elements, path=path)
    if not faces:
        raise InvalidAsset("no faces (f lines) found", path=path)
    doc = AssetDocument.empty()
    doc.source = str(path)
    if skipped:
        doc.warn(f"{path.name}: {skipped} line/point elements ignored (only faces are converted)")
    verts = _floats(v_lines, path, "v", (3, 4, 6, 7))
    positions = verts[:, :3]
    colors = verts[:, 3:6] if verts.shape[1] >= 6 else None
    uvs = _floats(vt_lines, path, "vt", (2, 3))[:, :2]
    normals = _floats(vn_lines, path, "vn", (3,))
    corners, counts = _corners(faces, relative, path)
    slots = np.zeros(len(faces), np.int64)
    for first, slot in slot_changes:
        slots[first:] = slot
    nv, nt, nn = len(positions), len(uvs), len(normals)
    vi, ti, ni = corners[:, 0], corners[:, 1], corners[:, 2]
    if vi.min(initial=0) < 0 or vi.max(initial=0) >= nv:
        bad = int(vi.max()) + 1 if vi.max(initial=0) >= nv else int(vi.min()) + 1
        raise InvalidAsset(f"a face refers to vertex {bad}, but only {nv} vertices are defined", path=path,
                           field="f")
    has_t = bool((ti != -2).any())
    has_n = bool((ni != -2).any())
    if has_t and ((ti == -2).any() or ti.min() < 0 or ti.max() >= nt):
        doc.warn(f"{path.name}: texture coordinates are missing or out of range for some faces; dropped")
        has_t = False
    if has_n and ((ni == -2).any() or ni.min() < 0 or ni.max() >= nn):
        doc.warn(f"{path.name}: normals are missing or out of range for some faces; dropped")
        has_n = False
    cols = [0] + ([1] if has_t else []) + ([2] if has_n else [])
    # one int64 key per (v, vt, vn) corner: a 1-D unique is several times faster than a row-wise one
    sizes = [max((nv, nt, nn)[c], 1) for c in cols]
    if float(np.prod(sizes, dtype=np.float64)) < 2.0**62:
        key = np.zeros(len(corners), np.int64)
        for c, size in zip(cols, sizes, strict=True):
            key = key * size + corners[:, c]
        _, first_corner, inverse = np.unique(key, return_index=True, return_inverse=True)
        uniq = corners[first_corner][:, cols]
    else:
        uniq, inverse = np.unique(corners[:, cols], axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    pos = positions[uniq[:, 0]].astype(np.float32)
    tris = _triangles(counts, inverse, pos)
    tri_slots = np.repeat(slots, counts - 2)
    resolver = ResourceResolver(path, limits)
    builder = MaterialBuilder(resolver, doc.warn)
    materials = _load_materials(mtllibs, resolver, doc, path)
    attrs: dict[str, Any] = {"POSITION": doc.add_accessor(pos)}
    col = 1
    if has_t:
        uv = uvs[uniq[:, col]].astype(np.float32)
        uv[:, 1] = 1.0 - uv[:, 1]
        attrs["TEXCOORD_0"] = doc.add_accessor(uv)
        col += 1
    if has_n:
        nrm = normals[uniq[:, col]]
        length = np.linalg.norm(nrm, axis=1, keepdims=True)
        nrm = np.where(length > 1e-12, nrm / np.maximum(length, 1e-12), [0.0, 0.0, 1.0])
        attrs["NORMAL"] = doc.add_accessor(nrm.astype(np.float32))
    if colors is not None:
        attrs["COLOR_0"] = doc.add_accessor(np.clip(colors[uniq[:, 0]], 0, 1).astype(np.float32))
    gl_materials: list[dict[str, Any]] = []
    primitives = []
    for slot in np.unique(tri_slots):
        mname = mat_names[int(slot)]
        prim: dict[str, Any] = {"attributes": dict(attrs),
                                "indices": doc.add_accessor(tris[tri_slots == slot].reshape(-1).astype(np.uint32))}
        if mname is not None:
            m = materials.get(mname)
            if m is None:
                doc.warn(f"{path.name}: material {mname!r} is not defined in any MTL file; default used")
                m = ObjMaterial(mname)
            gl_materials.append(builder.material(m))
            prim["material"] = len(gl_materials) - 1
        primitives.append(prim)
    if gl_materials:
        doc.gltf["materials"] = gl_materials
    if builder.textures:
        doc.gltf["textures"] = builder.textures
        from ..document import Image

        doc.images = [Image(d, mime, n) for d, mime, n in builder.images]
    mesh_name = name or path.stem
    doc.gltf["meshes"] = [{"name": mesh_name, "primitives": primitives}]
    doc.gltf["nodes"] = [{"name": mesh_name, "mesh": 0}]
    doc.gltf["scenes"][0]["nodes"] = [0]
    return doc


def _load_materials(names: list[str], resolver: ResourceResolver, doc: AssetDocument,
                    path: Path) -> dict[str, ObjMaterial]:
    out: dict[str, ObjMaterial] = {}
    for n in names:
        try:
            data = resolver.read_relative(n, "mtllib", lenient=True)
        except InvalidAsset as exc:
            doc.warn(f"{path.name}: material library {n!r} skipped ({exc.problem})")
            continue
        out.update(parse_mtl(data.decode("utf-8", errors="replace")))
    return out


def _corners(faces: list[str], relative: dict[int, tuple[int, int, int]], path: Path) -> tuple[np.ndarray,
                                                                                               np.ndarray]:
    """(corners (k, 3) int64 zero-based v/vt/vn, -2 = absent) and the corner count of each face."""
    joined = re.sub(r"[ \t]+", " ", "\n".join(faces))
    lines = re.sub(r" ?\n ?", "\n", joined).strip(" ").split("\n")
    counts = np.fromiter((ln.count(" ") + 1 if ln else 0 for ln in lines), np.int64, len(lines))
    if counts.min() < 3:
        raise InvalidAsset("a face has fewer than 3 corners", path=path, field="f")
    tokens_text = " ".join(lines)
    first = tokens_text[: tokens_text.find(" ")]
    n_tokens = int(counts.sum())
    slashes = first.count("/")
    double = "//" in first
    uniform = (tokens_text.count("/") == slashes * n_tokens
               and tokens_text.count("//") == (n_tokens if double else 0))
    try:
        if uniform:
            flat = np.array(tokens_text.replace("//", "/").replace("/", " ").split(), dtype=np.int64)
            width = slashes + 1 - (1 if double else 0)
            vals = flat.reshape(n_tokens, width)
            corners = np.zeros((n_tokens, 3), np.int64)
            if width == 1:
                corners[:, 0] = vals[:, 0]
            elif double:
                corners[:, 0], corners[:, 2] = vals[:, 0], vals[:, 1]
            else:
                corners[:, :width] = vals
        else:
            corners = np.zeros((n_tokens, 3), np.int64)
            for k, t in enumerate(tokens_text.split()):
                for j, part in enumerate(t.split("/")[:3]):
                    if part:
                        corners[k, j] = int(part)
    except ValueError:
        raise InvalidAsset("a face index is not an integer", path=path, field="f") from None
    absent = corners == 0
    out = corners - 1
    if relative:  # negative indices count back from the elements defined before their face
        totals = np.zeros((len(faces), 3), np.int64)
        for face, counts_then in relative.items():
            totals[face] = counts_then
        per_corner = np.repeat(totals, counts, axis=0)
        out = np.where(corners > 0, corners - 1, per_corner + corners)
    out[absent] = -2
    return out, counts


def _triangles(counts: np.ndarray, inverse: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Triangles of every face: triangles as they are, quads split along the diagonal that keeps both
    halves facing the same way (so concave quads come out right), larger polygons one by one."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    if (counts == 3).all():
        return inverse.reshape(-1, 3)
    first = np.concatenate([[0], np.cumsum(counts - 2)[:-1]])
    out = np.empty((int((counts - 2).sum()), 3), np.int64)
    tri = counts == 3
    out[first[tri]] = inverse[starts[tri, None] + np.arange(3)]
    quad = counts == 4
    if quad.any():
        q = inverse[starts[quad, None] + np.arange(4)]
        p = positions[q].astype(np.float64)
        n1 = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
        n2 = np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0])
        alt = (n1 * n2).sum(axis=1) < 0
        a = np.where(alt[:, None], q[:, [0, 1, 3]], q[:, [0, 1, 2]])
        b = np.where(alt[:, None], q[:, [1, 2, 3]], q[:, [0, 2, 3]])
        out[first[quad]] = a
        out[first[quad] + 1] = b
    for s, c, k in zip(starts[counts > 4].tolist(), counts[counts > 4].tolist(), first[counts > 4].tolist(),
                       strict=True):
        poly = inverse[s: s + c]
        for j, (a_, b_, d_) in enumerate(triangulate(poly.tolist(), positions)):
            out[k + j] = (poly[a_], poly[b_], poly[d_])
    return out
