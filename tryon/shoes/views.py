"""Shoe views rendered from a product's 3D model, once per product (not per frame).

A small software renderer: orthographic camera, flat Lambert shading, painter's algorithm (triangles
drawn far to near with OpenCV's sub-pixel polygon fill). It needs only numpy, OpenCV and a
``trimesh.Trimesh`` with per-vertex or texture colours; the GLB is read by :func:`tryon.media.read_model`.

Model convention: ``up_axis`` points from the sole to the opening, ``toe_axis`` from the heel to the toe
(glTF shoes are usually +Y up; the toe axis depends on the product, so it is a product field).
"""

from __future__ import annotations

import logging
import time
from typing import Literal

import cv2
import numpy as np

from tryon.shoes.sprite import ShoeSprite, ShoeViews, View, _premultiply

logger = logging.getLogger(__name__)

Axis = Literal["+x", "-x", "+y", "-y", "+z", "-z"]
LIGHT = np.array([0.3, 0.5, 0.81])
"""Direction towards the light in camera coordinates (x right, y up, z towards the viewer)."""
AMBIENT = 0.35


def _axis(a: str) -> np.ndarray:
    v = np.zeros(3)
    v["xyz".index(a[1])] = 1.0 if a[0] == "+" else -1.0
    return v


def _camera(toe: np.ndarray, up: np.ndarray, view: View) -> np.ndarray:
    """Rotation (3, 3) model -> camera: rows are the camera's right, up and towards-viewer axes."""
    lateral = np.cross(up, toe)  # the shoe's side, seen in the side view
    if view == "side":
        right, toward = toe, lateral
    elif view == "front":
        right, toward = -lateral, toe  # toe towards the camera
    else:
        right, toward = lateral, -toe
    return np.stack([right, up, toward])


def _vertex_colors(mesh: object) -> np.ndarray:
    """(n, 3) float colours in [0, 1] from vertex colours, a texture or the material; grey otherwise."""
    n = len(mesh.vertices)  # type: ignore[attr-defined]
    visual = getattr(mesh, "visual", None)
    try:
        colors = visual.to_color().vertex_colors if hasattr(visual, "to_color") else visual.vertex_colors  # type: ignore[union-attr]
        colors = np.asarray(colors, dtype=np.float64)
        if colors.ndim == 2 and colors.shape[0] == n and colors.shape[1] >= 3:
            return colors[:, :3] / 255.0
    except Exception:  # texture formats trimesh cannot sample: fall back to grey
        logger.debug("no usable colours on the model", exc_info=True)
    return np.full((n, 3), 0.6)


def render_view(
    mesh: object, view: View, *, toe_axis: Axis = "+z", up_axis: Axis = "+y", size: int = 256
) -> ShoeSprite:
    """Render one view of ``mesh`` (a trimesh.Trimesh) as a premultiplied RGBA sprite."""
    verts = np.asarray(mesh.vertices, dtype=np.float64)  # type: ignore[attr-defined]
    faces = np.asarray(mesh.faces, dtype=np.int64)  # type: ignore[attr-defined]
    toe, up = _axis(toe_axis), _axis(up_axis)
    if abs(float(np.dot(toe, up))) > 0.5:
        raise ValueError(f"toe axis {toe_axis} and up axis {up_axis} must differ")
    cam = verts @ _camera(toe, up, view).T
    lo, hi = cam.min(axis=0), cam.max(axis=0)
    margin = 4
    scale = (size - 2 * margin) / max(hi[0] - lo[0], hi[1] - lo[1], 1e-9)
    w = int(np.ceil((hi[0] - lo[0]) * scale)) + 2 * margin
    h = int(np.ceil((hi[1] - lo[1]) * scale)) + 2 * margin
    px = np.stack([(cam[:, 0] - lo[0]) * scale + margin, (hi[1] - cam[:, 1]) * scale + margin], axis=1)
    tri = cam[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    shade = AMBIENT + (1 - AMBIENT) * np.abs(normals @ (LIGHT / np.linalg.norm(LIGHT)))
    colors = _vertex_colors(mesh)[faces].mean(axis=1) * shade[:, None]
    order = np.argsort(tri[:, :, 2].mean(axis=1))  # far (small z) first
    canvas = np.zeros((h, w, 4), dtype=np.uint8)
    pts = np.round(px[faces] * 16).astype(np.int32)
    rgb = np.clip(colors * 255, 0, 255).astype(np.int32)
    for i in order:
        c = rgb[i]
        cv2.fillPoly(canvas, [pts[i]], (int(c[0]), int(c[1]), int(c[2]), 255), lineType=cv2.LINE_8, shift=4)
    alpha = canvas[..., 3] > 0
    ys, xs = np.nonzero(alpha)
    if xs.size == 0:
        raise ValueError("the model renders to an empty picture")
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


def render_views(mesh: object, *, toe_axis: Axis = "+z", up_axis: Axis = "+y", size: int = 256) -> ShoeViews:
    """Side, front and back views of a shoe model; logs the time taken (done once per product)."""
    t0 = time.perf_counter()
    views = ShoeViews(
        *(render_view(mesh, v, toe_axis=toe_axis, up_axis=up_axis, size=size) for v in ("side", "front", "back"))
    )
    logger.info("rendered 3 shoe views in %.0f ms", (time.perf_counter() - t0) * 1e3)
    return views
