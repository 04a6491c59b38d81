"""Shoe views rendered from a product's 3D model, once per product (not per frame).

The rasterizer is the asset pipeline's (:mod:`assets_pipeline.render`: a numpy z-buffer, triangles in
vectorized batches grouped by screen size, then per-pixel shading: Lambert from a key light plus ambient, times
the base colour factor, the base colour texture and vertex colours); this module only adds the orthographic
side, front and back cameras and turns the picture into a :class:`ShoeSprite`. Models of every format (GLB,
glTF, OBJ, STL, PLY) are read by the asset pipeline's reader (:func:`tryon.media.read_document`: published GLBs
use meshopt compression, quantized attributes and WebP textures; glTF vertex colours are kept) and shaded with
their normals. Triangles facing away from the camera are skipped (a third to a half of the raster work) when
every material is single-sided (glTF's ``doubleSided: false``, the default), as glTF viewers do, or when the
drawn triangles form a closed surface (every edge shared by two triangles wound in opposite directions), whose
back faces are always hidden; other models (open meshes of formats without single-sided materials: OBJ, STL,
PLY) are drawn two-sided.

Models with more triangles than the sprite has room for (``size``² / 4, 16k at 256 px) are first simplified
(:func:`assets_pipeline.render.simplified`, positions only: texture and colour seams are kept), never moving the
surface by more than half a sprite pixel; a 69k-triangle model takes about 25 ms for this, once for the three
views.

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
from typing import TYPE_CHECKING, Literal

import numpy as np

from assets_pipeline import render
from assets_pipeline.render import MeshItem, rasterize, shade
from tryon.shoes.sprite import ShoeSprite, ShoeViews, View, _premultiply

if TYPE_CHECKING:
    from assets_pipeline.document import AssetDocument

logger = logging.getLogger(__name__)

Axis = Literal["+x", "-x", "+y", "-y", "+z", "-z"]
MARGIN = 4
"""Empty pixels around the model in the sprite."""
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


def simplified(item: MeshItem, toe_axis: Axis, up_axis: Axis, size: int) -> MeshItem:
    """The item with at most about ``size``² / 4 triangles, the surface moved by at most ``MAX_ERROR_PX``.

    Vertices (and so texture coordinates and colours) are kept; only the triangle list changes.
    """
    budget = size * size // 4
    if len(item.triangles) <= budget:
        return item
    toe, up = _axis(toe_axis), _axis(up_axis)
    spans = []  # sprite pixels per model unit in each view
    for view in ("side", "front", "back"):
        cam = item.points @ _camera(toe, up, view)[:2].T
        spans.append(float((cam.max(axis=0) - cam.min(axis=0)).max()))
    px_per_unit = (size - 2 * MARGIN) / max(min(spans), 1e-12)
    return render.simplified(item, budget, MAX_ERROR_PX / px_per_unit)


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


def render_view(
    items: MeshItem | Sequence[MeshItem],
    view: View,
    *,
    toe_axis: Axis = "+z",
    up_axis: Axis = "+y",
    size: int = 256,
    winding: int = 0,
) -> ShoeSprite:
    """Render one view of world-space items (:func:`assets_pipeline.render.mesh_items`) as a premultiplied RGBA
    sprite; ``winding`` (+1 counter-clockwise, -1 clockwise) skips back faces, 0 draws both sides."""
    _check_axes(toe_axis, up_axis)
    toe, up = _axis(toe_axis), _axis(up_axis)
    items = [items] if isinstance(items, MeshItem) else list(items)
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
            render_view(items, v, toe_axis=toe_axis, up_axis=up_axis, size=size, winding=winding)
            for v in ("side", "front", "back")
        )
    )
    logger.info("rendered 3 shoe views in %.0f ms", (time.perf_counter() - t0) * 1e3)
    return views


def front_winding(doc: AssetDocument, items: Sequence[MeshItem], sided_materials: bool = True) -> int:
    """Winding of the front faces (+1 counter-clockwise, -1 clockwise), 0 to draw both sides: +1 when every
    material is single-sided (``sided_materials``: the format has the notion, as glTF does), else the winding of
    a closed surface (0 when it is open)."""
    materials = doc.gltf.get("materials", [])
    if sided_materials and not any(m.get("doubleSided", False) for m in materials):
        return 1
    points, tris, _ = _merged(items)
    return closed_winding(points, tris)


def render_views(
    doc: AssetDocument, *, toe_axis: Axis = "+z", up_axis: Axis = "+y", size: int = 256, sided_materials: bool = True
) -> ShoeViews:
    """Side, front and back views of a model read by the asset pipeline (:func:`tryon.media.read_document`), done
    once per product. Each primitive keeps its own material; back faces are skipped as :func:`front_winding` says
    (``sided_materials=False`` for formats whose materials have no sides: OBJ, STL, PLY)."""
    _check_axes(toe_axis, up_axis)
    items = render.mesh_items(doc)
    if not items:
        raise ValueError("the model has no triangles")
    winding = front_winding(doc, items, sided_materials)  # of the model as made: simplifying may open edges
    return _views(items, winding, toe_axis, up_axis, size)
