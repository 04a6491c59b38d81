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
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from assets_pipeline import render
from assets_pipeline.render import MeshItem, rasterize, shade
from tryon.shoes.sprite import ANCHOR_ALONG, ShoeSprite, ShoeViews, View, _premultiply

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
        anchor = np.array([x0 + ANCHOR_ALONG * (x1 - x0), y1 - 0.4 * height])
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


SPHERE_YAW_STEP = 15
"""Degrees between the view sphere's headings (24 of them)."""
SPHERE_PITCHES = (0, 20, 40, 60)
"""Camera heights over the sole's plane (degrees) of the view sphere."""
SPHERE_SIZE = 160
"""Sprite pixels across the model's bounding sphere in the view sphere's views."""


def sphere_keys() -> list[tuple[int, int]]:
    """(yaw, pitch) of every view of the view sphere, yaw in (-180, 180]."""
    yaws = [y if y <= 180 else y - 360 for y in range(0, 360, SPHERE_YAW_STEP)]
    return [(y, p) for p in SPHERE_PITCHES for y in yaws]


def render_oriented(
    items: Sequence[MeshItem], toe_axis: Axis, up_axis: Axis, yaw: float, pitch: float, *,
    size: int = SPHERE_SIZE, winding: int = 0,
) -> ShoeSprite:  # fmt: skip
    """The model turned to ``yaw`` and ``pitch`` (:mod:`tryon.shoes.orientation`), drawn at ``size`` px across
    its bounding sphere (the same scale in every view); ``span`` is the model's heel-to-toe length in pixels."""
    from tryon.shoes.orientation import rotation

    toe, up = _axis(toe_axis), _axis(up_axis)
    lateral = np.cross(toe, up)
    base = np.stack([toe, -up, -lateral])  # model -> side view (x right, y down, z away)
    rot = rotation(yaw, pitch, 0.0) @ base
    points, tris, owner = _merged(list(items))
    center = (points.max(axis=0) + points.min(axis=0)) / 2
    radius = float(np.linalg.norm(points - center, axis=1).max())
    scale = (size - 2 * MARGIN) / max(2 * radius, 1e-9)
    cam = (points - center) @ rot.T * scale
    lo = cam.min(axis=0)
    w = int(np.ceil(cam[:, 0].max() - lo[0])) + 2 * MARGIN
    h = int(np.ceil(cam[:, 1].max() - lo[1])) + 2 * MARGIN
    xy = np.column_stack([cam[:, 0] - lo[0] + MARGIN, cam[:, 1] - lo[1] + MARGIN])
    if winding:  # y points down here as on screen; model triangles facing the camera are counter-clockwise
        a, b, c = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
        signed = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        facing = signed * winding < 0
        tris, owner = tris[facing], owner[facing]
    depth = float(cam[:, 2].max() - cam[:, 2].min())
    nearness = cam[:, 2].max() - cam[:, 2] + depth + 1e-9 * max(depth, 1.0)
    side = max(w, h)
    zbuf = np.full(side * side, np.inf)
    tri_buf = np.full(side * side, -1, np.int64)
    bary_buf = np.zeros((side * side, 3))
    rasterize(xy, 1.0 / nearness, tris, side, zbuf, tri_buf, bary_buf)
    covered = np.nonzero(tri_buf >= 0)[0]
    if covered.size == 0:
        raise ValueError("the model renders to an empty picture")
    hit = tri_buf[covered]
    bary = bary_buf[covered] / nearness[tris[hit]]
    bary /= bary.sum(axis=1, keepdims=True)
    basis = np.stack([rot[0], -rot[1], rot[2]])  # camera right, up and forward in model axes
    rgb = shade(list(items), tris, owner, hit, bary, xy, basis)
    canvas = np.zeros((side * side, 4), np.uint8)
    canvas[covered, :3] = np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
    canvas[covered, 3] = 255
    canvas = canvas.reshape(side, side, 4)[:h, :w]
    # marked points in model axes (toe, up, lateral coordinates), then projected like the vertices
    local = np.stack([(points - center) @ toe, (points - center) @ up, (points - center) @ lateral], axis=1)
    lo_m, hi_m = local.min(axis=0), local.max(axis=0)
    length = hi_m[0] - lo_m[0]
    mid_lat = (lo_m[2] + hi_m[2]) / 2

    def project(t_frac: float, u_frac: float) -> np.ndarray:
        p = (lo_m[0] + t_frac * length) * toe + (lo_m[1] + u_frac * (hi_m[1] - lo_m[1])) * up + mid_lat * lateral
        q = p @ rot.T * scale
        return np.array([q[0] - lo[0] + MARGIN, q[1] - lo[1] + MARGIN], np.float32)

    rear = local[:, 0] < lo_m[0] + 0.4 * length
    collar_up = (local[rear, 1].max() - lo_m[1]) / max(hi_m[1] - lo_m[1], 1e-9) if rear.any() else 1.0
    return ShoeSprite(
        "side", _premultiply(canvas), project(ANCHOR_ALONG, 0.2), project(0.25, collar_up), project(0.5, 0.0),
        float(length * scale),
    )  # fmt: skip


class ViewSphere:
    """A model's views for :func:`sphere_keys`, each rendered the first time a foot needs it (60-90 ms) and
    kept for the process; ``load`` gives the model's items and front winding (read once, on the first view)."""

    yaw_step = SPHERE_YAW_STEP
    pitches = SPHERE_PITCHES

    def __init__(self, load: Callable[[], tuple[list[MeshItem], int]], toe_axis: Axis, up_axis: Axis) -> None:
        self._load = load
        self._toe, self._up = toe_axis, up_axis
        self._items: list[MeshItem] | None = None
        self._winding = 0
        self._views: dict[tuple[int, int], ShoeSprite] = {}
        self._lock = threading.Lock()

    def get(self, yaw: int, pitch: int) -> ShoeSprite:
        """The view at a key of :func:`sphere_keys`."""
        with self._lock:
            view = self._views.get((yaw, pitch))
            if view is None:
                if self._items is None:
                    items, self._winding = self._load()
                    self._items = [simplified(it, self._toe, self._up, SPHERE_SIZE) for it in items]
                view = render_oriented(self._items, self._toe, self._up, yaw, pitch, winding=self._winding)
                view.rgba.flags.writeable = False
                self._views[(yaw, pitch)] = view
            return view

    def __len__(self) -> int:
        return len(self._views)
