"""A small CPU rasterizer for AssetDocuments (numpy only, no GPU, no window), shared by the catalog thumbnail
(:mod:`.thumbnail`) and the try-on's shoe views.

A scene becomes world-space :class:`MeshItem` s (:func:`mesh_items`); callers project their points to the
screen with their own camera, :func:`rasterize` fills a z-buffer (triangles in vectorized batches grouped by
their screen-space size; perspective-correct barycentrics) and :func:`shade` colours the covered pixels:
interpolated normals (face normals when there are none), Lambert from a key light plus ambient, times the base
color factor, the base color texture (with KHR_texture_transform, nearest texel, glTF wrap modes) and vertex
colors. :func:`simplified` thins a dense item for drawing at a given size. Alpha blending, emissive and
metal/roughness response are not modelled: previews, not a PBR renderer.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .document import TRIANGLES, AssetDocument
from .geometry import face_normals
from .scene import mesh_instances
from .texcoords import texture_uv

logger = logging.getLogger(__name__)

AMBIENT = 0.38
TEXTURE_MAX = 1024
"""Textures larger than this (side, pixels) are reduced before sampling."""
FRAGMENT_BATCH = 1 << 21


@dataclass
class MeshItem:
    """One drawn primitive instance in world space."""

    points: np.ndarray
    triangles: np.ndarray
    normals: np.ndarray | None
    uv: np.ndarray | None
    colors: np.ndarray | None
    factor: np.ndarray
    texture: np.ndarray | None
    wrap: tuple[int, int]


# --- scene -> items ----------------------------------------------------------------------------------------
def mesh_items(doc: AssetDocument) -> list[MeshItem]:
    """Every drawn primitive of the scene in world space, with its material (also used by tryon's shoe views)."""
    materials = doc.gltf.get("materials", [])
    images: dict[int, np.ndarray | None] = {}
    items = []
    meshes = doc.gltf.get("meshes", [])
    for mesh_index, world in mesh_instances(doc):
        if not 0 <= mesh_index < len(meshes):
            continue
        for prim in meshes[mesh_index].get("primitives", []):
            attrs = prim.get("attributes", {})
            if prim.get("mode", TRIANGLES) != TRIANGLES or "POSITION" not in attrs:
                continue
            points = doc.accessors[attrs["POSITION"]].as_float().astype(np.float64) @ world[:3, :3].T + world[:3, 3]
            idx = (
                doc.accessors[prim["indices"]].array.astype(np.int64).reshape(-1)
                if "indices" in prim
                else np.arange(len(points))
            )
            tris = idx[: len(idx) // 3 * 3].reshape(-1, 3)
            if len(tris) == 0:
                continue
            normals = None
            if "NORMAL" in attrs:
                normals = doc.accessors[attrs["NORMAL"]].as_float().astype(np.float64) @ np.linalg.inv(world[:3, :3])
                normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
            colors = (
                doc.accessors[attrs["COLOR_0"]].as_float()[:, :3].astype(np.float32) if "COLOR_0" in attrs else None
            )
            mat = materials[prim["material"]] if 0 <= prim.get("material", -1) < len(materials) else {}
            pbr = mat.get("pbrMetallicRoughness", {})
            factor = np.array(pbr.get("baseColorFactor", [1.0, 1.0, 1.0, 1.0])[:3], np.float32)
            info = pbr.get("baseColorTexture")
            texture, uv, wrap = None, None, (10497, 10497)
            if info is not None and "index" in info:
                src, wrap = _texture_source(doc, int(info["index"]))
                if src is not None:
                    if src not in images:
                        images[src] = _decode(doc, src)
                    texture = images[src]
                    uv = texture_uv(doc, prim, info) if texture is not None else None
            if not materials and colors is None:
                factor = np.array([0.8, 0.8, 0.8], np.float32)
            items.append(MeshItem(points, tris, normals, uv, colors, factor, texture if uv is not None else None, wrap))
    return items


def _texture_source(doc: AssetDocument, texture_index: int) -> tuple[int | None, tuple[int, int]]:
    textures = doc.gltf.get("textures", [])
    if not 0 <= texture_index < len(textures):
        return None, (10497, 10497)
    tex = textures[texture_index]
    src = tex.get("source")
    for ext in ("EXT_texture_webp", "EXT_texture_avif"):
        src = tex.get("extensions", {}).get(ext, {}).get("source", src)
    samplers = doc.gltf.get("samplers", [])
    sampler = samplers[tex["sampler"]] if 0 <= tex.get("sampler", -1) < len(samplers) else {}
    return (int(src) if src is not None else None), (sampler.get("wrapS", 10497), sampler.get("wrapT", 10497))


def _decode(doc: AssetDocument, src: int) -> np.ndarray | None:
    if not 0 <= src < len(doc.images):
        return None
    from PIL import Image as PILImage

    try:
        im = PILImage.open(io.BytesIO(doc.images[src].data))
        im.draft("RGB", (TEXTURE_MAX, TEXTURE_MAX))  # JPEG decodes at a reduced scale directly
        im = im.convert("RGB")
    except Exception:
        logger.debug("render: images[%d] not decodable; base color factor used", src, exc_info=True)
        return None
    if max(im.size) > TEXTURE_MAX:
        im.thumbnail((TEXTURE_MAX, TEXTURE_MAX))
    return np.asarray(im, dtype=np.float32) / 255.0


# --- rasterization -----------------------------------------------------------------------------------------
def rasterize(
    xy: np.ndarray, z: np.ndarray, t: np.ndarray, s: int, zbuf: np.ndarray, tri_buf: np.ndarray, bary_buf: np.ndarray
) -> None:
    """Fill the z-buffer: nearest triangle per pixel center and its perspective-correct barycentrics."""
    a, b, c = xy[t[:, 0]], xy[t[:, 1]], xy[t[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    tmin = np.minimum(np.minimum(a, b), c)
    tmax = np.maximum(np.maximum(a, b), c)
    x0 = np.clip(np.floor(tmin[:, 0] - 0.5), 0, s - 1).astype(np.int64)
    y0 = np.clip(np.floor(tmin[:, 1] - 0.5), 0, s - 1).astype(np.int64)
    x1 = np.clip(np.ceil(tmax[:, 0] - 0.5), 0, s - 1).astype(np.int64)
    y1 = np.clip(np.ceil(tmax[:, 1] - 0.5), 0, s - 1).astype(np.int64)
    keep = np.abs(area) > 1e-12
    # edge functions as affine forms of the pixel center relative to the triangle's box corner (x0, y0)
    ox0, oy0 = x0.astype(np.float64), y0.astype(np.float64)
    coef = []
    for p, q in ((b, c), (c, a)):
        ea = (p[:, 1] - q[:, 1]) / np.where(keep, area, 1.0)
        eb = (q[:, 0] - p[:, 0]) / np.where(keep, area, 1.0)
        ec = (p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]) / np.where(keep, area, 1.0) + ea * ox0 + eb * oy0
        coef.append((ea.astype(np.float32), eb.astype(np.float32), ec.astype(np.float32)))
    bx = np.where(keep, np.ceil(np.log2(x1 - x0 + 1)).astype(np.int64), -1)
    by = np.ceil(np.log2(y1 - y0 + 1)).astype(np.int64)
    bucket = np.where(keep, bx * 64 + by, -1)
    inv_z = 1.0 / z
    for level in np.unique(bucket[bucket >= 0]):
        kx, ky = 1 << int(level // 64), 1 << int(level % 64)
        ids = np.nonzero(bucket == level)[0]
        oy, ox = np.divmod(np.arange(kx * ky), kx)
        qx, qy = (ox + 0.5).astype(np.float32)[None, :], (oy + 0.5).astype(np.float32)[None, :]
        per_batch = max(FRAGMENT_BATCH // (kx * ky), 1)
        for start in range(0, len(ids), per_batch):
            tri = ids[start : start + per_batch]
            px = x0[tri, None] + ox[None, :]
            py = y0[tri, None] + oy[None, :]
            (a0, b0, c0), (a1, b1, c1) = ((ea[tri, None], eb[tri, None], ec[tri, None]) for ea, eb, ec in coef)
            w0 = a0 * qx + b0 * qy + c0
            w1 = a1 * qx + b1 * qy + c1
            w2 = 1.0 - w0 - w1
            inside = (w0 >= -1e-6) & (w1 >= -1e-6) & (w2 >= -1e-6) & (px <= x1[tri, None]) & (py <= y1[tri, None])
            rows, cols = np.nonzero(inside)
            if len(rows) == 0:
                continue
            tri_ids = tri[rows]
            vz = inv_z[t[tri_ids]]
            bw = np.column_stack([w0[rows, cols], w1[rows, cols], w2[rows, cols]]) * vz
            iz = bw.sum(axis=1)
            frag_depth = 1.0 / iz
            pix = py[rows, cols] * s + px[rows, cols]
            order = np.lexsort((frag_depth, pix))
            pix, first = np.unique(pix[order], return_index=True)
            sel = order[first]
            closer = frag_depth[sel] < zbuf[pix]
            pix, sel = pix[closer], sel[closer]
            zbuf[pix] = frag_depth[sel]
            tri_buf[pix] = tri_ids[sel]
            bary_buf[pix] = bw[sel] / iz[sel, None]


def shade(
    items: list[MeshItem],
    t: np.ndarray,
    tri_owner: np.ndarray,
    tri_ids: np.ndarray,
    bary: np.ndarray,
    xy: np.ndarray,
    basis: np.ndarray,
) -> np.ndarray:
    """(len(tri_ids), 3) float32 colours of covered pixels: item ``tri_owner[tri_ids]``, barycentrics ``bary``;
    ``basis`` rows are the camera's right, up and forward axes (the key light is placed from them)."""
    right, up, forward = basis
    light = -forward * 0.55 + up * 0.65 - right * 0.35
    light /= np.linalg.norm(light)
    owner = tri_owner[tri_ids]
    color = np.zeros((len(tri_ids), 3), np.float32)
    offsets = np.cumsum([0] + [len(it.points) for it in items])
    for i, it in enumerate(items):
        mask = owner == i
        if not mask.any():
            continue
        local = t[tri_ids[mask]] - offsets[i]
        w = bary[mask]
        if it.normals is not None:
            n = np.einsum("ij,ijk->ik", w, it.normals[local])
        else:
            n = face_normals(it.points, local, unit=False)  # none: flat shading, as glTF asks
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        n = np.where((n @ forward)[:, None] > 0, -n, n)  # light back faces as if two-sided
        shade = AMBIENT + (1 - AMBIENT) * np.clip(n @ light, 0, 1)
        c = np.broadcast_to(it.factor, (len(local), 3)).astype(np.float32)
        if it.texture is not None and it.uv is not None:
            c = c * _sample(it.texture, np.einsum("ij,ijk->ik", w, it.uv[local]), it.wrap)
        if it.colors is not None:
            c = c * np.einsum("ij,ijk->ik", w, it.colors[local])
        color[mask] = np.clip(c * shade[:, None], 0, 1)
    return color


def _sample(texture: np.ndarray, uv: np.ndarray, wrap: tuple[Any, Any]) -> np.ndarray:
    """Nearest texel lookup with glTF wrap modes (REPEAT, MIRRORED_REPEAT, CLAMP_TO_EDGE)."""
    h, w = texture.shape[:2]
    coords = []
    for axis, mode, n in ((0, wrap[0], w), (1, wrap[1], h)):
        v = uv[:, axis]
        if mode == 33071:
            v = np.clip(v, 0, 1)
        elif mode == 33648:
            v = np.abs((v - 1) % 2 - 1)
        else:
            v = v % 1.0
        coords.append(np.clip((v * n).astype(np.int64), 0, n - 1))
    return texture[coords[1], coords[0]]


def simplified(item: MeshItem, max_triangles: int, max_error: float) -> MeshItem:
    """The item drawn from at most about ``max_triangles`` triangles, its surface moved by at most ``max_error``
    (model units): vertices (so texture coordinates and colours) are kept, only the triangle list changes. The item
    itself when it is under the budget or the native simplifier is not available."""
    if len(item.triangles) <= max_triangles:
        return item
    try:
        from .codecs import meshopt

        tris, _ = meshopt.simplify(
            item.triangles.reshape(-1), item.points, max_triangles * 3, max_error, meshopt.SIMPLIFY_ERROR_ABSOLUTE
        )
    except Exception:  # the native simplifier is an optimisation: draw every triangle without it
        logger.debug("render item not simplified", exc_info=True)
        return item
    if len(tris) == 0:
        return item
    return replace(item, triangles=tris.reshape(-1, 3).astype(np.int64))
