"""PNG thumbnails of an AssetDocument, drawn with the project's CPU rasterizer (:mod:`.render`).

The camera looks at the model from the front-right and above (a three-quarter view) and frames the projected
model with a margin. The scene is rasterized at twice the output resolution and averaged down; the background
is transparent. This is a catalog preview, not a PBR renderer (see :mod:`.render` for what is shaded).
"""

from __future__ import annotations

import io
import math

import numpy as np

from .document import AssetDocument
from .errors import InvalidAsset
from .render import MeshItem, mesh_items, rasterize, shade

SUPERSAMPLE = 2
AZIMUTH_DEG = 35.0
ELEVATION_DEG = 25.0
FOV_DEG = 30.0
MARGIN = 0.06


def render_thumbnail(doc: AssetDocument, size: int = 512) -> bytes:
    """PNG bytes (RGBA, transparent background) of ``doc`` seen from a three-quarter view, ``size`` pixels square."""
    if not 16 <= size <= 4096:
        raise InvalidAsset(f"thumbnail size {size} is outside 16..4096", path=doc.source, field="size")
    items = mesh_items(doc)
    rgba = _render(items, size)
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(rgba, "RGBA").save(buf, "PNG", compress_level=9)
    return buf.getvalue()


# --- camera ------------------------------------------------------------------------------------------------
def _camera(items: list[MeshItem]) -> tuple[np.ndarray, np.ndarray]:
    """(eye, 3x3 rows: right, up, forward) for the three-quarter view of all items."""
    pts = np.concatenate([it.points for it in items])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    center = (lo + hi) / 2
    radius = max(float(np.linalg.norm(hi - lo)) / 2, 1e-9)
    az, el = math.radians(AZIMUTH_DEG), math.radians(ELEVATION_DEG)
    direction = np.array([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])
    eye = center + direction * radius / math.sin(math.radians(FOV_DEG) / 2) * 1.05
    forward = -direction
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return eye, np.array([right, up, forward])


# --- rasterization -----------------------------------------------------------------------------------------
def _render(items: list[MeshItem], size: int) -> np.ndarray:
    out = np.zeros((size, size, 4), np.uint8)
    if not items:
        return out
    s = size * SUPERSAMPLE
    eye, basis = _camera(items)
    cams = [(it.points - eye) @ basis.T for it in items]
    near = 1e-6 * max(float(np.abs(np.concatenate(cams)).max()), 1e-9)
    proj = [c[:, :2] / np.maximum(c[:, 2:3], near) for c in cams]
    allp = np.concatenate(proj)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    scale = (1 - 2 * MARGIN) * s / max(float((hi - lo).max()), 1e-12)
    mid = (lo + hi) / 2

    screen, depth, tris, owner, base = [], [], [], [], 0
    for i, (it, cam, p) in enumerate(zip(items, cams, proj, strict=True)):
        screen.append(np.column_stack([(p[:, 0] - mid[0]) * scale + s / 2, s / 2 - (p[:, 1] - mid[1]) * scale]))
        depth.append(cam[:, 2])
        tris.append(it.triangles + base)
        owner.append(np.full(len(it.triangles), i, np.int32))
        base += len(it.points)
    xy = np.concatenate(screen)
    z = np.concatenate(depth)
    t = np.concatenate(tris)
    tri_owner = np.concatenate(owner)
    valid = (z[t] > near).all(axis=1)  # triangles behind the camera cannot occur with this framing; be safe
    t, tri_owner = t[valid], tri_owner[valid]

    zbuf = np.full(s * s, np.inf)
    tri_buf = np.full(s * s, -1, np.int64)
    bary_buf = np.zeros((s * s, 3))
    rasterize(xy, z, t, s, zbuf, tri_buf, bary_buf)

    covered = np.nonzero(tri_buf >= 0)[0]
    color = np.zeros((s * s, 3), np.float32)
    if len(covered):
        color[covered] = shade(items, t, tri_owner, tri_buf[covered], bary_buf[covered], xy, basis)
    alpha = (tri_buf >= 0).astype(np.float32)
    img = np.concatenate([color * alpha[:, None], alpha[:, None]], axis=1).reshape(
        size, SUPERSAMPLE, size, SUPERSAMPLE, 4
    )
    img = img.mean(axis=(1, 3))
    a = img[..., 3:4]
    rgb = np.where(a > 0, img[..., :3] / np.maximum(a, 1e-6), 0.0)
    out[..., :3] = np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
    out[..., 3] = np.clip(a[..., 0] * 255 + 0.5, 0, 255).astype(np.uint8)
    return out


