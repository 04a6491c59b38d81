"""Face regions as drawable shapes built from face-mesh landmark indices (MediaPipe 478-point topology).

A region is a :class:`RegionShape`: layers painted in order into a soft mask by :mod:`tryon.masks`
(a layer of value 0 cuts a hole), plus the Gaussian feather in pixels. Everything here is plain
geometry on :class:`tryon.landmarks.FaceLandmarks`; no model is imported.

Sides follow the person: ``RIGHT_*`` is the person's right (the left of an unmirrored image).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from tryon.landmarks import FaceLandmarks

# Closed loops, each consecutive pair an edge of MediaPipe's FACEMESH_* connection sets.
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# Open lines, outer corner first.
RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_EYE_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
RIGHT_BROW_UPPER = (70, 63, 105, 66, 107)
RIGHT_BROW_LOWER = (46, 53, 52, 65, 55)
LEFT_BROW_UPPER = (300, 293, 334, 296, 336)
LEFT_BROW_LOWER = (276, 283, 282, 295, 285)
# Cheek apples: below the outer half of the eye, above the nostril line.
RIGHT_CHEEK = (50, 101, 118, 117, 123, 187, 205)
LEFT_CHEEK = (280, 330, 347, 346, 352, 411, 425)

EYES = (
    ("right", RIGHT_EYE_UPPER, RIGHT_EYE_LOWER, RIGHT_BROW_UPPER, RIGHT_BROW_LOWER),
    ("left", LEFT_EYE_UPPER, LEFT_EYE_LOWER, LEFT_BROW_UPPER, LEFT_BROW_LOWER),
)
BOTH = ("right", "left")
SIDED = frozenset({"eyeshadow", "eyeliner", "blush", "brows"})
"""Regions with a part on each side of the face, drawn (and hidden when turned away) per side."""
YAW_LIMITS = {"lips": (40.0, 58.0), "foundation": (45.0, 65.0), "near": (45.0, 65.0), "far": (22.0, 38.0)}
"""(full, none): a region is painted fully up to the first head yaw in degrees and not at all past the second.
``near`` / ``far``: the sided regions on the side turned towards / away from the camera. Past these angles the
mesh's far half lies on the face's silhouette and its colour would spill onto the background."""

RegionName = Literal["lips", "eyeshadow", "eyeliner", "blush", "brows", "foundation"]
REGION_NAMES: tuple[RegionName, ...] = ("foundation", "blush", "eyeshadow", "brows", "eyeliner", "lips")
"""Regions in the order they are painted (base layers first)."""


@dataclass(frozen=True, slots=True)
class Layer:
    """One painted layer.

    kind ``fill``: points (n, 2) float32 polygon; ``ellipse``: points (1, 2) centre with ``axes`` and ``angle``.
    value : painted value in [0, 1]; 0 cuts a hole into what was painted before.
    """

    kind: Literal["fill", "ellipse"]
    points: np.ndarray
    value: float = 1.0
    axes: tuple[float, float] = (0.0, 0.0)
    angle: float = 0.0


@dataclass(frozen=True, slots=True)
class RegionShape:
    """Layers of one region, its feather (Gaussian sigma in pixels) and the outline it is clipped to.

    clip : (n, 2) float32 polygon or None; after feathering nothing is painted outside it (the face's oval, so
    that no colour lands past the face's outline when the head is turned).
    """

    name: str
    layers: tuple[Layer, ...]
    feather: float
    clip: np.ndarray | None = None

    def bounds(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of all layers, without the feather."""
        boxes = []
        for layer in self.layers:
            if layer.kind == "ellipse":
                r = max(layer.axes)
                c = layer.points[0]
                boxes.append((c[0] - r, c[1] - r, c[0] + r, c[1] + r))
            else:
                lo, hi = layer.points.min(axis=0), layer.points.max(axis=0)
                boxes.append((lo[0], lo[1], hi[0], hi[1]))
        arr = np.array(boxes, dtype=np.float64)
        return float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max())


def _pts(face: FaceLandmarks, idx: tuple[int, ...]) -> np.ndarray:
    return face.points[list(idx)]


def _resample(line: np.ndarray, n: int) -> np.ndarray:
    """Resample a polyline (m, 2) to n points evenly spaced along its length."""
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return np.repeat(line[:1], n, axis=0)
    t = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(t, s, line[:, 0]), np.interp(t, s, line[:, 1])], axis=1).astype(np.float32)


def _scaled(poly: np.ndarray, factor: float) -> np.ndarray:
    c = poly.mean(axis=0)
    return (c + (poly - c) * factor).astype(np.float32)


def yaw_degrees(face: FaceLandmarks) -> float:
    """Head yaw in degrees from the cheeks' depth: 0 frontal, positive when the person's left cheek is farther."""
    a, b = face.points[234], face.points[454]
    dz = float(face.depth[454] - face.depth[234])
    dx = float(np.linalg.norm(b - a))
    return float(np.degrees(np.arctan2(dz, max(dx, 1e-6))))


def _ramp(value: float, full: float, none: float) -> float:
    """1 up to ``full``, 0 from ``none``, smooth in between."""
    if value <= full:
        return 1.0
    if value >= none:
        return 0.0
    x = (value - full) / (none - full)
    return 1.0 - x * x * (3.0 - 2.0 * x)


def visibility(face: FaceLandmarks, name: str, side: str | None = None) -> float:
    """How much of region ``name`` (on ``side`` for sided regions) to paint given the head's yaw, in [0, 1]."""
    yaw = yaw_degrees(face)
    if name in SIDED and side is not None:
        far = (yaw > 0) == (side == "left")
        return _ramp(abs(yaw), *YAW_LIMITS["far" if far else "near"])
    return _ramp(abs(yaw), *YAW_LIMITS.get(name, YAW_LIMITS["foundation"]))


def mouth_width(face: FaceLandmarks) -> float:
    """Return the distance in pixels between the mouth corners of a face."""
    return float(np.linalg.norm(face.points[291] - face.points[61]))


def lips(face: FaceLandmarks) -> RegionShape:
    """Outer lip contour minus the inner mouth, so teeth and tongue stay clean."""
    sigma = max(0.5, 0.012 * mouth_width(face))
    return RegionShape(
        "lips",
        (Layer("fill", _pts(face, LIPS_OUTER)), Layer("fill", _pts(face, LIPS_INNER), value=0.0)),
        feather=sigma,
    )


def eyeshadow(face: FaceLandmarks, sides: tuple[str, ...] = BOTH) -> RegionShape:
    """Upper lid up towards the brow, fading upwards in bands; the eye opening stays clean."""
    layers: list[Layer] = []
    bands = ((0.85, 0.2), (0.65, 0.45), (0.45, 0.75), (0.25, 1.0))
    openings = []
    for side, upper_i, lower_i, _, brow_lower_i in EYES:
        if side not in sides:
            continue
        upper = _pts(face, upper_i)
        brow = _resample(_pts(face, brow_lower_i), len(upper_i))
        for frac, value in bands:
            top = upper + (brow - upper) * frac
            layers.append(Layer("fill", np.concatenate([upper, top[::-1]]).astype(np.float32), value))
        openings.append(np.concatenate([upper, _pts(face, lower_i)[::-1]]).astype(np.float32))
    layers.extend(Layer("fill", o, 0.0) for o in openings)
    eye_w = float(np.linalg.norm(face.points[133] - face.points[33]))
    return RegionShape("eyeshadow", tuple(layers), feather=max(0.8, 0.08 * eye_w))


def eyeliner(face: FaceLandmarks, wing: bool = False, sides: tuple[str, ...] = BOTH) -> RegionShape:
    """A band along the upper lash line, thicker towards the outer corner; optional wing."""
    layers = []
    for side, upper_i, _, _, _ in EYES:
        if side not in sides:
            continue
        upper = _pts(face, upper_i).astype(np.float64)
        outer, inner = upper[0], upper[-1]
        axis = outer - inner
        eye_w = float(np.linalg.norm(axis))
        if eye_w < 1e-3:
            continue
        axis /= eye_w
        normal = np.array([axis[1], -axis[0]])
        if normal[1] > 0:  # point up the face (towards the brow)
            normal = -normal
        thick = eye_w * np.linspace(0.11, 0.03, len(upper))
        band = np.concatenate([upper, (upper + normal * thick[:, None])[::-1]])
        layers.append(Layer("fill", band.astype(np.float32)))
        if wing:
            direction = axis * np.cos(np.radians(25)) + normal * np.sin(np.radians(25))
            tip = outer + direction * 0.35 * eye_w
            tri = np.stack([outer - normal * 0.01 * eye_w, tip, outer + normal * thick[0]])
            layers.append(Layer("fill", tri.astype(np.float32)))
    eye_w = float(np.linalg.norm(face.points[133] - face.points[33]))
    return RegionShape("eyeliner", tuple(layers), feather=max(0.4, 0.015 * eye_w))


def blush(face: FaceLandmarks, sides: tuple[str, ...] = BOTH) -> RegionShape:
    """Soft ellipses on the cheek apples, tilted with the face."""
    fw = face.width
    d = face.points[263] - face.points[33]
    angle = float(np.degrees(np.arctan2(d[1], d[0])))
    layers = []
    for side, cheek in (("right", RIGHT_CHEEK), ("left", LEFT_CHEEK)):
        if side not in sides:
            continue
        c = _pts(face, cheek).mean(axis=0, keepdims=True).astype(np.float32)
        for scale, value in ((1.0, 0.35), (0.7, 0.7), (0.4, 1.0)):
            layers.append(Layer("ellipse", c, value, axes=(0.13 * fw * scale, 0.085 * fw * scale), angle=angle))
    return RegionShape("blush", tuple(layers), feather=max(1.0, 0.035 * fw))


def brows(face: FaceLandmarks, sides: tuple[str, ...] = BOTH) -> RegionShape:
    """Return the brows' region shape (one filled layer per brow) for a face."""
    layers = []
    for side, _, _, up_i, low_i in EYES:
        if side not in sides:
            continue
        layers.append(Layer("fill", np.concatenate([_pts(face, up_i), _pts(face, low_i)[::-1]]).astype(np.float32)))
    return RegionShape("brows", tuple(layers), feather=max(0.5, 0.008 * face.width))


def foundation(face: FaceLandmarks) -> RegionShape:
    """Face oval minus eyes, brows and mouth."""
    layers = [Layer("fill", _pts(face, FACE_OVAL))]
    for _, upper_i, lower_i, up_b, low_b in EYES:
        eye = np.concatenate([_pts(face, upper_i), _pts(face, lower_i)[::-1]])
        layers.append(Layer("fill", _scaled(eye, 1.35), 0.0))
        brow = np.concatenate([_pts(face, up_b), _pts(face, low_b)[::-1]])
        layers.append(Layer("fill", _scaled(brow, 1.15), 0.0))
    layers.append(Layer("fill", _scaled(_pts(face, LIPS_OUTER), 1.08), 0.0))
    return RegionShape("foundation", tuple(layers), feather=max(1.0, 0.025 * face.width))


BUILDERS: dict[str, Callable[[FaceLandmarks], RegionShape]] = {
    "lips": lips,
    "eyeshadow": eyeshadow,
    "eyeliner": eyeliner,
    "blush": blush,
    "brows": brows,
    "foundation": foundation,
}


def region(face: FaceLandmarks, name: str, *, wing: bool = False, sides: tuple[str, ...] = BOTH) -> RegionShape:
    """The shape of region ``name`` on ``face`` (sided regions: only the parts on ``sides``, clipped to the face).

    The sided regions (eyes, brows, cheeks) are clipped to the face oval: on a turned head the far cheek's and
    eye's shapes reach past the silhouette the oval follows there. Lips are not: seen from the side they stand
    in front of the oval (it follows the far cheek), and clipping cut real lip off on held-out profiles.
    """
    if name == "eyeliner":
        shape = eyeliner(face, wing=wing, sides=sides)
    elif name in SIDED:
        shape = _SIDED_BUILDERS[name](face, sides)
    else:
        shape = BUILDERS[name](face)
    if name not in SIDED:
        return shape
    return replace(shape, clip=_pts(face, FACE_OVAL).astype(np.float32))


_SIDED_BUILDERS: dict[str, Callable[[FaceLandmarks, tuple[str, ...]], RegionShape]] = {
    "eyeshadow": eyeshadow,
    "blush": blush,
    "brows": brows,
}
