"""The light a face receives and the shape of its lips, estimated from the frame and the face mesh.

Makeup is painted as albedo under the light the face actually receives (:mod:`tryon.render`), so it needs:

- the scene's exposure ``E``: the light that renders a middle-grey (18 %) surface at ``0.18 * E``. It is the
  log-average luminance of the frame around the face (the "key" a camera's auto-exposure aims at, Reinhard
  2002), bounded by the face's own skin: skin reflects 7-55 % of the light whatever its tone, so ``E`` lies
  in ``[Y_skin / 0.55, Y_skin / 0.07]``. Every term scales with the light, so a photo taken at a quarter of the
  exposure gets a quarter of ``E``: the painted lips darken with the scene as the real lips did.
- the skin's colour (for the tinted layers of foundation and blush, which keep the skin's own tone);
- the lips' surface: four landmark rings per lip (outer border to mouth line) make an 11 x 4 grid whose 3-D
  normals (x, y and the mesh's relative depth) give, with a light direction fitted to the lips' own shading
  (Lambertian: ``Y = a + b . n``), the Blinn-Phong specular lobe where gloss belongs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tryon.color import LUMA, U8_TO_LINEAR
from tryon.landmarks import FaceLandmarks

MIDDLE_GREY = 0.18
SKIN_REFLECTANCE = (0.07, 0.55)
"""Range of skin luminance reflectance, darkest to lightest skin tones (Fitzpatrick VI to I)."""
SKIN_POINTS = (50, 280, 101, 330, 118, 347, 123, 352, 205, 425, 36, 266, 151, 9, 108, 337, 69, 299, 4, 195)
"""Cheeks, forehead and nose bridge: skin that is rarely covered by hair or in deep shadow."""
KEY_SIDE = 32
"""The frame region around the face is averaged down to at most this many pixels a side for the key."""

UPPER_LIP = (
    (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291),
    (76, 184, 74, 73, 72, 11, 302, 303, 304, 408, 306),
    (62, 183, 42, 41, 38, 12, 268, 271, 272, 407, 292),
    (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308),
)
LOWER_LIP = (
    (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291),
    (76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306),
    (62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292),
    (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308),
)
"""Lip rings from the border (row 0) to the mouth line (row 3), each from the person's right mouth corner."""
DEFAULT_LIGHT = np.array([0.0, -0.45, -1.0]) / np.linalg.norm([0.0, -0.45, -1.0])
"""Light from above the camera (image y points down, the camera looks along +z)."""
VIEW = np.array([0.0, 0.0, -1.0])


@dataclass(frozen=True, slots=True)
class FaceLight:
    """exposure : the scene light E (1.0: middle grey renders at 0.18); skin : (3,) float32 linear mean skin
    colour; light : (3,) unit vector towards the main light; lips : the lips' rings and normals
    (:func:`lip_surface`), reused by :func:`lip_specular`."""

    exposure: float
    skin: np.ndarray
    light: np.ndarray
    lips: tuple[np.ndarray, np.ndarray] | None = None


def _sample(frame: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Linear RGB (n, 3) of the frame at the (n, 2) points (nearest pixel, clipped to the frame)."""
    h, w = frame.shape[:2]
    xi = np.clip(np.round(pts[:, 0]).astype(np.intp), 0, w - 1)
    yi = np.clip(np.round(pts[:, 1]).astype(np.intp), 0, h - 1)
    return U8_TO_LINEAR[frame[yi, xi]]


def scene_key(frame: np.ndarray, face: FaceLandmarks) -> float:
    """Log-average linear luminance of the frame within three face widths of the face."""
    h, w = frame.shape[:2]
    c, r = face.center, 1.5 * max(face.width, 1.0) * 2
    x0, y0 = max(0, int(c[0] - r)), max(0, int(c[1] - r))
    x1, y1 = min(w, int(c[0] + r) + 1), min(h, int(c[1] + r) + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        x0, y0, x1, y1 = 0, 0, w, h
    roi = frame[y0:y1, x0:x1]
    step = max(1, max(roi.shape[:2]) // KEY_SIDE)
    small = roi[::step, ::step]
    y = U8_TO_LINEAR[small] @ LUMA
    return float(np.exp(np.mean(np.log(y + 1e-4))))


def face_light(frame: np.ndarray, face: FaceLandmarks) -> FaceLight:
    """Exposure, skin colour and light direction for ``face`` in the RGB uint8 ``frame``."""
    lips = lip_surface(face)
    n = len(SKIN_POINTS)
    # the skin points and the lips' grid sampled in one go (the same pixels as sampling them apart)
    rgb = _sample(frame, np.concatenate([face.points[_SKIN_INDEX], lips[0].reshape(-1, 3)[:, :2]]))
    y = rgb @ LUMA
    skin_rgb, skin_y = rgb[:n], y[:n]
    y_skin, quarter = _median_quartile(skin_y)
    keep = skin_y >= quarter  # skip the darkest samples (shadows, stray hair)
    skin = skin_rgb[keep].mean(axis=0).astype(np.float32)
    lo, hi = y_skin / SKIN_REFLECTANCE[1], y_skin / SKIN_REFLECTANCE[0]
    exposure = min(max(scene_key(frame, face) / MIDDLE_GREY, lo), hi)
    return FaceLight(max(exposure, 1e-4), skin, _fit_light(lips[1], y[n:]), lips)


_SKIN_INDEX = np.array(SKIN_POINTS)


def _median_quartile(values: np.ndarray) -> tuple[float, float]:
    """Median and first quartile (linear interpolation, as ``np.percentile``) of a 1-D array, from one sort
    (``np.median`` and ``np.percentile`` cost 25 us each on 20 values)."""
    s = np.sort(values)
    n = len(s)
    median = float(s[n // 2]) if n % 2 else float((s[n // 2 - 1] + s[n // 2]) / 2.0)
    pos = 0.25 * (n - 1)
    i = int(pos)
    j = min(i + 1, n - 1)
    t = pos - i
    lerp = s[j] - (s[j] - s[i]) * (1.0 - t) if t >= 0.5 else s[i] + (s[j] - s[i]) * t  # numpy's own lerp
    return median, float(lerp)


_LIP_RINGS = np.array([UPPER_LIP, LOWER_LIP])


def _grid(face: FaceLandmarks, rows: tuple[tuple[int, ...], ...] | np.ndarray) -> np.ndarray:
    """(..., 4, 11, 3) points x, y, depth of the lip rings ``rows`` (one lip's, or both lips' stacked)."""
    idx = np.asarray(rows)
    return np.concatenate([face.points[idx], face.depth[idx][..., None]], axis=-1).astype(np.float64)


def grid_normals(grid: np.ndarray) -> np.ndarray:
    """(..., r, c, 3) unit normals of a (..., r, c, 3) point grid (at least 2 x 2), facing the camera (negative z).

    The tangents are ``np.gradient`` along the columns (u) and rows (v): central differences, one-sided at the
    ends, written on slices of the grid (no axis moves: the grid is small and numpy's per-call cost dominates)."""
    du = np.empty_like(grid)
    np.subtract(grid[..., 2:, :], grid[..., :-2, :], out=du[..., 1:-1, :])
    du[..., 1:-1, :] /= 2.0
    np.subtract(grid[..., 1, :], grid[..., 0, :], out=du[..., 0, :])
    np.subtract(grid[..., -1, :], grid[..., -2, :], out=du[..., -1, :])
    dv = np.empty_like(grid)
    np.subtract(grid[..., 2:, :, :], grid[..., :-2, :, :], out=dv[..., 1:-1, :, :])
    dv[..., 1:-1, :, :] /= 2.0
    np.subtract(grid[..., 1, :, :], grid[..., 0, :, :], out=dv[..., 0, :, :])
    np.subtract(grid[..., -1, :, :], grid[..., -2, :, :], out=dv[..., -1, :, :])
    ux, uy, uz = du[..., 0], du[..., 1], du[..., 2]
    vx, vy, vz = dv[..., 0], dv[..., 1], dv[..., 2]
    n = np.empty_like(du)
    np.subtract(uy * vz, uz * vy, out=n[..., 0])
    np.subtract(uz * vx, ux * vz, out=n[..., 1])
    np.subtract(ux * vy, uy * vx, out=n[..., 2])
    sq = n * n
    norm = sq[..., 0] + sq[..., 1]
    norm += sq[..., 2]
    np.sqrt(norm, out=norm)
    np.maximum(norm, 1e-9, out=norm)
    n /= norm[..., None]
    n[n[..., 2] > 0] *= -1.0
    return n


def lip_surface(face: FaceLandmarks) -> tuple[np.ndarray, np.ndarray]:
    """(2, 4, 11, 3) rings of the upper and lower lip (x, y, depth) and their (2, 4, 11, 3) unit normals."""
    grids = _grid(face, _LIP_RINGS)
    return grids, grid_normals(grids)


def lip_light(frame: np.ndarray, face: FaceLandmarks, lips: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Direction towards the main light, fitted to the lips' shading (``Y = a + b . n``), else from above;
    ``lips``: :func:`lip_surface` of the face when already computed."""
    grids, normals = lips if lips is not None else lip_surface(face)
    return _fit_light(normals, _sample(frame, grids.reshape(-1, 3)[:, :2]) @ LUMA)


def _fit_light(normals: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Direction towards the light from the lips' (..., 3) normals and their (n,) luminance (see :func:`lip_light`)."""
    normals = normals.reshape(-1, 3)
    a = np.concatenate([np.ones((len(y), 1)), normals], axis=1)
    ok, coef = cv2.solve(a, y.astype(np.float64)[:, None], flags=cv2.DECOMP_SVD)  # least squares, no BLAS threads
    if not ok:
        return DEFAULT_LIGHT
    b = coef[1:, 0]
    norm = float(np.linalg.norm(b))
    if not np.isfinite(norm) or norm < 1e-6:
        return DEFAULT_LIGHT
    light = b / norm
    if light[2] > -0.2:  # a light behind the face, or a poor fit: keep it in front
        light = light + DEFAULT_LIGHT
        light /= np.linalg.norm(light)
    return (0.5 * light + 0.5 * DEFAULT_LIGHT) / np.linalg.norm(0.5 * light + 0.5 * DEFAULT_LIGHT)


def lip_specular(face: FaceLandmarks, light: np.ndarray, box: tuple[int, int, int, int], shininess: float,
                 blur: float, lips: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:  # fmt: skip
    """(h, w) float32 Blinn-Phong lobe ``max(0, n . h) ** shininess`` of the lips over ``box`` (x0, y0, x1, y1),
    drawn per grid cell and smoothed by ``blur`` pixels; ``lips``: :func:`lip_surface` when already computed."""
    x0, y0, x1, y1 = box
    out = np.zeros((y1 - y0, x1 - x0), np.float32)
    half = light + VIEW
    half /= np.linalg.norm(half)
    grids, normals = lips if lips is not None else lip_surface(face)
    spec = np.clip(normals @ half, 0.0, 1.0) ** shininess  # both lips at once, then each lip's cells in order
    cells = (spec[:, :-1, :-1] + spec[:, 1:, :-1] + spec[:, :-1, 1:] + spec[:, 1:, 1:]) / 4.0
    xy = np.round((grids[..., :2] - np.array([x0, y0])) * 16).astype(np.int32)  # 4 fractional bits
    quads = np.stack([xy[:, :-1, :-1], xy[:, :-1, 1:], xy[:, 1:, 1:], xy[:, 1:, :-1]], axis=3).reshape(-1, 4, 2)
    for quad, value in zip(quads, cells.ravel().tolist(), strict=True):
        cv2.fillConvexPoly(out, quad, value, cv2.LINE_AA, 4)
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    peak = float(out.max())
    return out / peak if peak > 1e-6 else out
