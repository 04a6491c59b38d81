"""Apply products to a frame through their masks, in linear light and only inside the masks' box.

Two kinds of layer:

``pigment`` (lipstick, eyeshadow, eyeliner, brows): the product's colour is an albedo lit by the light the
    region receives. The skin's relative shading ``s = Y / mean(Y under the mask)`` (creases, pores, lip
    lines, the lips' own shadows) is handed to the product's finish (:mod:`tryon.finishes`), which returns
    the body and an additive highlight; both are multiplied by the scene's exposure ``E``
    (:func:`tryon.surface.face_light`), so the painted region keeps the pixel's own shading *and* the scene's
    light: on a photo taken at a quarter of the exposure the lipstick is a quarter as bright, as the lips
    were (a shade times ``s`` alone would look the same in every light, like a sticker).
``tint`` (foundation, blush): a thin translucent layer. Each pixel keeps its own luminance (within a
    bounded lightening or darkening towards the product under the scene light) and takes the product's
    chromaticity as a filter, ``skin * T`` with ``T = (colour / Y(colour)) ** k`` (k: 1 for blush, 0.4 for
    foundation), renormalised to the target luminance. A light pink on dark skin then warms and reddens it
    instead of mixing in grey: no ashy cast whatever the skin tone.

The result is mixed with the skin by ``mask * intensity * opacity`` (opacity: a face fading in or out, or
turned away from the camera). Unlike a flat RGB alpha blend (rejected: it looks painted on and loses the
lips' highlights), texture stays visible.

The union box of the masks is converted once to linear light as three contiguous colour planes: every
operation is then a 2-D array operation (numpy broadcasting a (h, w) map over an interleaved (h, w, 3) image
is about 20 times slower than the same work on planes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from tryon.color import LUMA, U8_TO_LINEAR, hex_to_linear, linear_to_u8
from tryon.finishes import FINISHES
from tryon.masks import Mask, union_box

MIN_REFERENCE_LUMINANCE = 1e-3
_LUMA = tuple(float(v) for v in LUMA)
TINT_EXPONENT = {"foundation": 0.4, "blush": 1.0}
"""How strongly a tint's chromaticity filters the skin (1: the product's full saturation; a foundation evens the
tone and barely colours it, a blush colours)."""
TINT_LUMINANCE = {"foundation": (0.88, 1.12), "blush": (0.85, 1.0)}
"""Bounds of the luminance change a tint may bring (evening out, never a grey mask or a dark stain)."""
TINT_REGIONS = frozenset(TINT_LUMINANCE)


@dataclass(frozen=True, slots=True)
class Light:
    """What a layer is painted under: ``exposure`` E of the scene (1.0: middle grey at 0.18), ``specular``
    (h, w) float32 surface lobe over the mask's box or None, ``opacity`` in [0, 1] (fading / turned away)."""

    exposure: float = 1.0
    specular: np.ndarray | None = None
    opacity: float = 1.0


UNLIT = Light()


@dataclass(frozen=True, slots=True)
class Paint:
    """One product ready to paint: linear colour (3,) float32, finish name, intensity in [0, 1] and the
    region it is for (foundation and blush are tints, the rest pigments)."""

    color: np.ndarray
    finish: str
    intensity: float
    region: str = "lips"

    @classmethod
    def from_hex(cls, shade: str, finish: str = "matte", intensity: float = 1.0, region: str = "lips") -> Paint:
        """Build a Paint from a ``#RRGGBB`` shade, a finish name, an intensity (0-1) and its region."""
        return _paint(shade, finish, float(intensity), region)

    @property
    def tint(self) -> bool:
        """Return True for a translucent skin tint (foundation, blush), False for a pigment."""
        return self.region in TINT_REGIONS


@lru_cache(maxsize=256)
def _paint(shade: str, finish: str, intensity: float, region: str) -> Paint:
    """Paints are made per product, not per frame: the colour conversion is cached."""
    color = hex_to_linear(shade)
    color.setflags(write=False)
    return Paint(color, finish, intensity, region)


def _luma(planes: np.ndarray, weights: tuple[float, float, float] = _LUMA) -> np.ndarray:
    r, g, b = planes
    luma = cv2.addWeighted(r, weights[0], g, weights[1], 0.0)
    return cv2.scaleAdd(b, weights[2], luma)


def paint_planes(planes: np.ndarray, alpha: np.ndarray, paint: Paint, light: Light = UNLIT) -> None:
    """Paint into ``planes`` (3, h, w) float32 linear RGB in place, weighted by ``alpha`` (h, w) float32."""
    total = float(alpha.sum())
    strength = paint.intensity * light.opacity
    if total <= 1e-6 or strength <= 0:
        return
    luma = _luma(planes)
    ref = max(float(np.dot(luma.ravel(), alpha.ravel())) / total, MIN_REFERENCE_LUMINANCE)
    weight = alpha * np.float32(strength)
    keep = np.float32(1.0) - weight
    if paint.tint:
        _tint(planes, luma, ref, weight, keep, paint, light)
        return
    luma *= np.float32(1.0 / ref)  # now the relative shading
    shading = FINISHES[paint.finish](luma, paint.color, light.specular)
    exposure = float(light.exposure)
    body = cv2.multiply(shading.body, weight)
    high = None if shading.highlight is None else cv2.multiply(shading.highlight, weight)
    for c in range(3):  # skin * (1 - w) + w * E * (body + highlight), per colour plane
        plane = planes[c]  # a view into the frame's planes: OpenCV writes through dst in place
        cv2.multiply(plane, keep, dst=plane)
        cv2.scaleAdd(body, float(shading.color[c]) * exposure, plane, dst=plane)
        if high is not None and shading.highlight_color is not None:
            cv2.scaleAdd(high, float(shading.highlight_color[c]) * exposure, plane, dst=plane)


def tint_filter(color: np.ndarray, exponent: float = 1.0) -> np.ndarray:
    """(3,) chromaticity filter of a linear colour with unit luminance, softened by ``exponent``."""
    y = max(float(np.dot(color, LUMA)), 1e-4)
    t = np.maximum(np.asarray(color, np.float64) / y, 1e-3) ** exponent
    return (t / float(np.dot(t, LUMA))).astype(np.float32)


def _tint(planes: np.ndarray, luma: np.ndarray, ref: float, weight: np.ndarray, keep: np.ndarray, paint: Paint,
          light: Light) -> None:  # fmt: skip
    """A translucent layer: the skin filtered by the product's chromaticity, its luminance kept within bounds."""
    t = tint_filter(paint.color, TINT_EXPONENT.get(paint.region, 0.7))
    lo, hi = TINT_LUMINANCE.get(paint.region, (0.9, 1.1))
    target = float(np.dot(paint.color, LUMA)) * light.exposure  # the product's luminance under this light
    k = min(max(target / ref, lo), hi)
    filtered = _luma(planes, tuple(float(v) for v in LUMA * t))  # luminance of skin * T
    np.maximum(filtered, np.float32(1e-5), out=filtered)
    scale = cv2.divide(luma, filtered)
    scale *= np.float32(k)
    cv2.multiply(scale, weight, dst=scale)
    for c in range(3):  # skin * (1 - w) + w * skin * T * k * Y / Y(skin * T)
        plane = planes[c]
        gain = cv2.scaleAdd(scale, float(t[c]), keep)
        cv2.multiply(plane, gain, dst=plane)


Layer = tuple[Mask, Paint] | tuple[Mask, Paint, Light]


def render(frame: np.ndarray, layers: list[Layer]) -> np.ndarray:
    """Return a copy of the RGB uint8 frame with each (mask, paint[, light]) applied in order.

    Layers whose boxes overlap (directly or through others: one face's regions) are painted together, in order, in
    linear light over the union of their boxes; only those unions are converted to linear light and back (two faces
    apart in the frame no longer convert everything between them). A pixel no layer paints comes back unchanged
    (``linear_to_u8(u8_to_linear(x)) == x``), so the groups' unions may overlap.
    """
    out = frame.copy()
    full = [(lay[0], lay[1], lay[2] if len(lay) == 3 else UNLIT) for lay in layers]  # type: ignore[misc]
    full = [(m, p, li) for m, p, li in full if m.alpha.size and li.opacity > 0]
    for group in _overlapping([m.box for m, _, _ in full]):
        members = [full[i] for i in group]
        x0, y0, x1, y1 = union_box([m for m, _, _ in members])
        planes = np.empty((3, y1 - y0, x1 - x0), np.float32)
        for c, channel in enumerate(cv2.split(np.ascontiguousarray(out[y0:y1, x0:x1]))):
            planes[c] = cv2.LUT(channel, U8_TO_LINEAR)
        for mask, paint, light in members:
            mx0, my0, mx1, my1 = mask.box
            paint_planes(planes[:, my0 - y0 : my1 - y0, mx0 - x0 : mx1 - x0], mask.alpha, paint, light)
        out[y0:y1, x0:x1] = cv2.merge(list(linear_to_u8(planes)))
    return out


def _overlapping(boxes: list[tuple[int, int, int, int]]) -> list[list[int]]:
    """Indices of ``boxes`` (x0, y0, x1, y1) in groups connected by overlaps, each group in ascending order (plain
    Python: a frame has a few boxes, where numpy's overhead cost more than the work)."""
    groups: list[list[int]] = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        joined = [i]
        for group in [g for g in groups if any(x0 < boxes[j][2] and boxes[j][0] < x1 and y0 < boxes[j][3]
                                                  and boxes[j][1] < y1 for j in g)]:  # fmt: skip
            groups.remove(group)
            joined = group + joined
        groups.append(sorted(joined))
    return groups
