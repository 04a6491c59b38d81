"""Apply products to a frame through their masks, in linear light and only inside the masks' box.

For each product the skin's relative shading ``s = Y / mean(Y under the mask)`` is handed to the
product's finish (:mod:`tryon.finishes`), which returns the coloured body and an additive highlight;
the result is mixed with the skin by ``mask * intensity``. Because the body colour is the shade
*times the skin's own shading*, creases, pores and lip lines stay visible, unlike a flat RGB alpha
blend (rejected: it looks painted on and loses the lips' highlights).

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


@dataclass(frozen=True, slots=True)
class Paint:
    """One product ready to paint: linear colour (3,) float32, finish name and intensity in [0, 1]."""

    color: np.ndarray
    finish: str
    intensity: float

    @classmethod
    def from_hex(cls, shade: str, finish: str = "matte", intensity: float = 1.0) -> Paint:
        """Build a Paint from a ``#RRGGBB`` shade, a finish name and an intensity (0-1)."""
        return _paint(shade, finish, float(intensity))


@lru_cache(maxsize=256)
def _paint(shade: str, finish: str, intensity: float) -> Paint:
    """Paints are made per product, not per frame: the colour conversion is cached."""
    color = hex_to_linear(shade)
    color.setflags(write=False)
    return Paint(color, finish, intensity)


def paint_planes(planes: np.ndarray, alpha: np.ndarray, paint: Paint) -> None:
    """Paint into ``planes`` (3, h, w) float32 linear RGB in place, weighted by ``alpha`` (h, w) float32."""
    total = float(alpha.sum())
    if total <= 1e-6 or paint.intensity <= 0:
        return
    r, g, b = planes
    luma = cv2.addWeighted(r, _LUMA[0], g, _LUMA[1], 0.0)
    luma = cv2.scaleAdd(b, _LUMA[2], luma)
    ref = max(float(np.dot(luma.ravel(), alpha.ravel())) / total, MIN_REFERENCE_LUMINANCE)
    luma *= np.float32(1.0 / ref)  # now the relative shading
    shading = FINISHES[paint.finish](luma, paint.color)
    weight = alpha * np.float32(paint.intensity)
    keep = np.float32(1.0) - weight
    body = cv2.multiply(shading.body, weight)
    high = None if shading.highlight is None else cv2.multiply(shading.highlight, weight)
    for c in range(3):  # skin * (1 - w) + w * (body + highlight), per colour plane
        plane = planes[c]  # a view into the frame's planes: OpenCV writes through dst in place
        cv2.multiply(plane, keep, dst=plane)
        cv2.scaleAdd(body, float(shading.color[c]), plane, dst=plane)
        if high is not None and shading.highlight_color is not None:
            cv2.scaleAdd(high, float(shading.highlight_color[c]), plane, dst=plane)


def render(frame: np.ndarray, layers: list[tuple[Mask, Paint]]) -> np.ndarray:
    """Return a copy of the RGB uint8 frame with each (mask, paint) applied in order.

    Only the union box of the masks is converted to linear light and back.
    """
    out = frame.copy()
    layers = [(m, p) for m, p in layers if m.alpha.size]
    if not layers:
        return out
    x0, y0, x1, y1 = union_box([m for m, _ in layers])
    planes = np.empty((3, y1 - y0, x1 - x0), np.float32)
    for c, channel in enumerate(cv2.split(np.ascontiguousarray(frame[y0:y1, x0:x1]))):
        planes[c] = cv2.LUT(channel, U8_TO_LINEAR)
    for mask, paint in layers:
        mx0, my0, mx1, my1 = mask.box
        paint_planes(planes[:, my0 - y0 : my1 - y0, mx0 - x0 : mx1 - x0], mask.alpha, paint)
    out[y0:y1, x0:x1] = cv2.merge(list(linear_to_u8(planes)))
    return out
