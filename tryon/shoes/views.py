"""Shoe views rendered from a product's 3D model, once per product (not per frame).

The rasterizer is the project's own numpy z-buffer from :mod:`assets_pipeline.thumbnail` (triangles in
vectorized batches grouped by screen size, then per-pixel shading: Lambert from a key light plus ambient,
times the base colour factor, the base colour texture and vertex colours); this module only adds the
orthographic side, front and back cameras and turns the picture into a :class:`ShoeSprite`. Looks read glTF/GLB
models with the asset pipeline's reader (:func:`render_document_views`; published GLBs use meshopt compression,
quantized attributes and WebP textures, which trimesh does not read) and shade them with their normals; other
formats are read with trimesh (:func:`render_views`) and flat shaded. Triangles facing away from the camera are
skipped (a third to a half of the raster work) when the model's material is single-sided (glTF's
``doubleSided: false``, the default), as glTF viewers do, or when the drawn triangles form a closed surface
(every edge shared by two triangles wound in opposite directions), whose back faces are always hidden; other
models (open OBJ or STL meshes) are drawn two-sided.

Models with more triangles than the sprite has room for (``size``² / 4, 16k at 256 px) are first simplified
with the project's meshoptimizer simplifier (:mod:`assets_pipeline.codecs.meshopt`, positions only: texture and
colour seams are kept), never moving the surface by more than half a sprite pixel; a 69k-triangle model takes
about 25 ms for this, once for the three views.

The sprite is drawn at ``size`` pixels without supersampling (it is scaled down to the foot when placed).
Measured on the corpus models (``tests/benchmarks/bench_tryon.py``, one core): 16-37 ms a view at 256 px for
12 to 69k triangles. The painter's algorithm it replaced (one OpenCV polygon fill per triangle, in a Python
loop) took 54-136 ms on the 15k-69k triangle models, but only 1-5 ms on models of a few thousand triangles,
where this rasterizer's fixed per-pixel costs dominate; both are well within a view budget of 60 ms.

Model convention: ``up_axis`` points from the sole to the opening, ``toe_axis`` from the heel to the toe
(glTF shoes are usually +Y up; the toe axis depends on the product, so it is a product field).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from assets_pipeline.thumbnail import MeshItem, rasterize, shade
from tryon.shoes.sprite import ShoeSprite, ShoeViews, View, _premultiply

if TYPE_CHECKING:
    from assets_pipeline.document import AssetDocument

logger = logging.getLogger(__name__)

Axis = Literal["+x", "-x", "+y", "-y", "+z", "-z"]
MARGIN = 4
"""Empty pixels around the model in the sprite."""
TEXTURE_MAX = 1024
"""Textures larger than this (side, pixels) are reduced before sampling."""
MAX_ERROR_PX = 0.5
"""Largest surface displacement, in sprite pixels, allowed when simplifying a dense model."""


def _axis(a: str) -> np.ndarray:
    v = np.zeros(3)
    v["xyz".index(a[1])] = 1.0 if a[0] == "+" else -1.0
    return v


def _check_axes(toe_axis: str, up_axis: str) -> None:
    if abs(float(np.dot(_axis(toe_axis), _axis(up_axis)))) > 0.5:
        raise ValueError(f"toe axis {toe_axis} and up axis {up_axis} must differ")


def _camera(toe: np.ndarray, up: np.ndarray, view: View) -> np.ndarray:
    """Rotation (3, 3) model -> camera: rows are the camera's right, up and towards-viewer axes.

    The basis is right-handed (a rotation, not a mirror), so textures are not mirrored and triangles
    wound counter-clockwise face the camera.
    """
    lateral = np.cross(toe, up)  # the side of the shoe seen in the side view, toe to the right
    if view == "side":
        right, toward = toe, lateral
    elif view == "front":
        right, toward = -lateral, toe  # toe towards the camera
    else:
        right, toward = lateral, -toe
    return np.stack([right, up, toward])


def _rgb(value: object, default: float = 1.0) -> np.ndarray:
    """(3,) float32 in [0, 1] from a trimesh colour (uint8 or float, RGB or RGBA); ``default`` grey if None."""
    if value is None:
        return np.full(3, default, np.float32)
    raw = np.asarray(value)
    arr = raw.astype(np.float32).reshape(-1)[:3]
    return arr / np.float32(255) if np.issubdtype(raw.dtype, np.integer) else arr


def _texture(image: object) -> np.ndarray | None:
    """(h, w, 3) float32 in [0, 1] from a PIL image, reduced to ``TEXTURE_MAX``; None if unusable."""
    try:
        rgb = np.asarray(image.convert("RGB"))  # type: ignore[attr-defined]
        factor = TEXTURE_MAX / max(rgb.shape[:2])
        if factor < 1:
            rgb = cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        return rgb.astype(np.float32) * np.float32(1 / 255)
    except Exception:  # not an image trimesh could decode
        logger.debug("shoe model texture not usable", exc_info=True)
        return None


def model_item(mesh: object) -> MeshItem:
    """The mesh (a trimesh.Trimesh) as one item of the rasterizer: triangles, texture or colours.

    Textured models keep their texture (sampled per pixel); otherwise vertex colours (or the material's
    colour) are used, grey when there is nothing.
    """
    verts = np.asarray(mesh.vertices, dtype=np.float64)  # type: ignore[attr-defined]
    faces = np.asarray(mesh.faces, dtype=np.int64)  # type: ignore[attr-defined]
    visual = getattr(mesh, "visual", None)
    factor, texture, uv, colors = np.full(3, 0.6, np.float32), None, None, None
    if getattr(visual, "kind", None) == "texture":
        mat = getattr(visual, "material", None)
        image = getattr(mat, "baseColorTexture", None) or getattr(mat, "image", None)
        if hasattr(mat, "baseColorFactor"):  # PBR (glTF): factor times texture
            factor = _rgb(mat.baseColorFactor)  # type: ignore[union-attr]
        elif image is None:  # simple material (OBJ) without an image: its diffuse colour
            factor = _rgb(getattr(mat, "diffuse", None), 0.6)
        else:  # simple material with an image: the image as it is (trimesh's default diffuse would darken it)
            factor = np.ones(3, np.float32)
        raw_uv = getattr(visual, "uv", None)
        if image is not None and raw_uv is not None and len(raw_uv) == len(verts):
            texture = _texture(image)
            if texture is not None:
                uv = np.column_stack([raw_uv[:, 0], 1.0 - raw_uv[:, 1]]).astype(np.float32)  # trimesh flips v
        if texture is None and image is not None:
            factor = np.full(3, 0.6, np.float32)
    elif getattr(visual, "kind", None) in ("vertex", "face"):  # trimesh spreads face colours onto vertices
        vc = np.asarray(visual.vertex_colors)  # type: ignore[union-attr]
        if vc.ndim == 2 and vc.shape[0] == len(verts) and vc.shape[1] >= 3:
            colors = vc[:, :3].astype(np.float32) * np.float32(1 / 255)
            factor = np.ones(3, np.float32)
    return MeshItem(verts, faces, None, uv, colors, factor, texture if uv is not None else None, (10497, 10497))


def simplified(item: MeshItem, toe_axis: Axis, up_axis: Axis, size: int) -> MeshItem:
    """The item with at most about ``size``² / 4 triangles, the surface moved by at most ``MAX_ERROR_PX``.

    Vertices (and so texture coordinates and colours) are kept; only the triangle list changes.
    """
    budget = size * size // 4
    if len(item.triangles) <= budget:
        return item
    try:
        from assets_pipeline.codecs import meshopt

        toe, up = _axis(toe_axis), _axis(up_axis)
        spans = []  # sprite pixels per model unit in each view
        for view in ("side", "front", "back"):
            cam = item.points @ _camera(toe, up, view)[:2].T
            spans.append(float((cam.max(axis=0) - cam.min(axis=0)).max()))
        px_per_unit = (size - 2 * MARGIN) / max(min(spans), 1e-12)
        error = MAX_ERROR_PX / px_per_unit  # in model units
        tris, _ = meshopt.simplify(
            item.triangles.reshape(-1), item.points, budget * 3, error, meshopt.SIMPLIFY_ERROR_ABSOLUTE
        )
    except Exception:  # the native simplifier is an optimisation: draw every triangle without it
        logger.debug("shoe model not simplified", exc_info=True)
        return item
    if len(tris) == 0:
        return item
    return replace(item, triangles=tris.reshape(-1, 3).astype(np.int64))


def single_sided(mesh: object) -> bool:
    """True when the mesh's material says its back faces are not drawn (glTF ``doubleSided: false``)."""
    material = getattr(getattr(mesh, "visual", None), "material", None)
    return getattr(material, "doubleSided", None) is False


def closed_winding(points: np.ndarray, triangles: np.ndarray) -> int:
    """+1 (-1) when the triangles form a closed surface wound counter-clockwise (clockwise) seen from outside;
    0 when it is not closed (a border, or an edge shared by more than two triangles or by two wound alike)."""
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    n = np.int64(len(points))
    forward = np.sort(edges[:, 0] * n + edges[:, 1])
    backward = np.sort(edges[:, 1] * n + edges[:, 0])
    if len(forward) == 0 or not np.array_equal(forward, backward) or not np.all(forward[1:] != forward[:-1]):
        return 0
    p = points[triangles]
    volume = float(np.einsum("ij,ij->", p[:, 0], np.cross(p[:, 1], p[:, 2])))  # 6 x the signed volume
    return 1 if volume > 0 else -1 if volume < 0 else 0


def front_winding(mesh: object, item: MeshItem) -> int:
    """Winding of the front faces of ``item`` (+1 counter-clockwise, -1 clockwise), 0 to draw both sides."""
    return 1 if single_sided(mesh) else closed_winding(item.points, item.triangles)


def render_view(
    mesh: object,
    view: View,
    *,
    toe_axis: Axis = "+z",
    up_axis: Axis = "+y",
    size: int = 256,
    item: MeshItem | Sequence[MeshItem] | None = None,
    winding: int | None = None,
) -> ShoeSprite:
    """Render one view of ``mesh`` (a trimesh.Trimesh) as a premultiplied RGBA sprite.

    ``item`` (:func:`model_item`) and ``winding`` (:func:`front_winding`: back faces are skipped unless it is
    0) are computed when not given; :func:`render_views` makes them once for the three views.
    """
    _check_axes(toe_axis, up_axis)
    toe, up = _axis(toe_axis), _axis(up_axis)
    items = [model_item(mesh)] if item is None else [item] if isinstance(item, MeshItem) else list(item)
    winding = winding if winding is not None else front_winding(mesh, items[0])
    points, tris, owner = _merged(items)
    basis = _camera(toe, up, view)
    cam = points @ basis.T
    lo, hi = cam.min(axis=0), cam.max(axis=0)
    scale = (size - 2 * MARGIN) / max(hi[0] - lo[0], hi[1] - lo[1], 1e-9)
    w = int(np.ceil((hi[0] - lo[0]) * scale)) + 2 * MARGIN
    h = int(np.ceil((hi[1] - lo[1]) * scale)) + 2 * MARGIN
    # screen coordinates with pixel (i, j) centred on (i + 0.5, j + 0.5), as the rasterizer samples
    xy = np.column_stack([(cam[:, 0] - lo[0]) * scale + MARGIN, (hi[1] - cam[:, 1]) * scale + MARGIN])
    if winding:  # keep triangles facing the camera (counter-clockwise: negative area on screen, y points down)
        a, b, c = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
        signed = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        facing = signed * winding < 0
        tris, owner = tris[facing], owner[facing]
    # The rasterizer keeps the smallest 1 / (interpolated 1 / z): with z = 1 / nearness, that is the
    # largest linearly interpolated nearness, an orthographic z-buffer.
    depth = hi[2] - lo[2]
    nearness = cam[:, 2] - lo[2] + depth + 1e-9 * max(depth, 1.0)
    side = max(w, h)  # the rasterizer works on a square
    zbuf = np.full(side * side, np.inf)
    tri_buf = np.full(side * side, -1, np.int64)
    bary_buf = np.zeros((side * side, 3))
    rasterize(xy, 1.0 / nearness, tris, side, zbuf, tri_buf, bary_buf)
    covered = np.nonzero(tri_buf >= 0)[0]
    if covered.size == 0:
        raise ValueError("the model renders to an empty picture")
    hit = tri_buf[covered]
    bary = bary_buf[covered] / nearness[tris[hit]]  # back to affine (orthographic) barycentrics
    bary /= bary.sum(axis=1, keepdims=True)
    rgb = shade(items, tris, owner, hit, bary, xy, basis * np.array([[1], [1], [-1]]))
    canvas = np.zeros((side * side, 4), np.uint8)
    canvas[covered, :3] = np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
    canvas[covered, 3] = 255
    canvas = canvas.reshape(side, side, 4)[:h, :w]
    ys, xs = covered // side, covered % side
    x0, x1, y1 = float(xs.min()), float(xs.max()), float(ys.max())
    top = float(ys.min())
    height = y1 - top
    if view == "side":
        anchor = np.array([x0 + 0.45 * (x1 - x0), y1 - 0.4 * height])
        collar = np.array([x0 + 0.25 * (x1 - x0), top + 0.15 * height])
    else:
        anchor = np.array([(x0 + x1) / 2, y1 - 0.3 * height])
        collar = np.array([(x0 + x1) / 2, top + 0.15 * height])
    sole = np.array([(x0 + x1) / 2, y1])
    return ShoeSprite(
        view, _premultiply(canvas), anchor.astype(np.float32), collar.astype(np.float32), sole.astype(np.float32),
        x1 - x0,
    )  # fmt: skip


def _merged(items: Sequence[MeshItem]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points, triangles (indices into those points) and each triangle's item, of several items drawn together."""
    offsets = np.cumsum([0] + [len(it.points) for it in items])
    points = np.concatenate([it.points for it in items])
    tris = np.concatenate([it.triangles + off for it, off in zip(items, offsets, strict=False)])
    owner = np.concatenate([np.full(len(it.triangles), i, np.int32) for i, it in enumerate(items)])
    return points, tris, owner


def _views(items: list[MeshItem], winding: int, toe_axis: Axis, up_axis: Axis, size: int) -> ShoeViews:
    t0 = time.perf_counter()
    items = [simplified(it, toe_axis, up_axis, size) for it in items]
    views = ShoeViews(
        *(
            render_view(None, v, toe_axis=toe_axis, up_axis=up_axis, size=size, item=items, winding=winding)
            for v in ("side", "front", "back")
        )
    )
    logger.info("rendered 3 shoe views in %.0f ms", (time.perf_counter() - t0) * 1e3)
    return views


def render_views(mesh: object, *, toe_axis: Axis = "+z", up_axis: Axis = "+y", size: int = 256) -> ShoeViews:
    """Side, front and back views of a shoe model (a trimesh.Trimesh), done once per product."""
    _check_axes(toe_axis, up_axis)
    full = model_item(mesh)
    winding = front_winding(mesh, full)  # of the model as made: simplifying may leave a few non-manifold edges
    return _views([full], winding, toe_axis, up_axis, size)


def render_document_views(
    doc: AssetDocument, *, toe_axis: Axis = "+z", up_axis: Axis = "+y", size: int = 256
) -> ShoeViews:
    """Side, front and back views of a glTF model read by the asset pipeline (:mod:`assets_pipeline.io`), which
    also reads what its publishing writes and trimesh does not (meshopt compression, quantized attributes,
    texture transforms, WebP textures). Each primitive keeps its own material; back faces are skipped unless a
    material is double-sided and the surface is open."""
    from assets_pipeline.thumbnail import mesh_items  # the scene as world-space items

    _check_axes(toe_axis, up_axis)
    items = mesh_items(doc)
    if not items:
        raise ValueError("the model has no triangles")
    materials = doc.gltf.get("materials", [])
    winding = 1
    if any(m.get("doubleSided", False) for m in materials):
        points, tris, _ = _merged(items)
        winding = closed_winding(points, tris)
    return _views(items, winding, toe_axis, up_axis, size)
