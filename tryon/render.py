"""Apply products to a frame through their masks, in linear light and only inside the masks' box.

For each product the skin's relative shading ``s = Y / mean(Y under the mask)`` is handed to the
product's finish (:mod:`tryon.finishes`), which returns the coloured body and an additive highlight;
the result is mixed with the skin by ``mask * intensity``. Because the body colour is the shade
*times the skin's own shading*, creases, pores and lip lines stay visible, unlike a flat RGB alpha
blend (rejected: it looks painted on and loses the lips' highlights).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tryon.color import LUMA, hex_to_linear, linear_to_u8, u8_to_linear
from tryon.finishes import FINISHES
from tryon.masks import Mask, union_box

MIN_REFERENCE_LUMINANCE = 1e-3


@dataclass(frozen=True, slots=True)
class Paint:
    """One product ready to paint: linear colour (3,) float32, finish name and intensity in [0, 1]."""

    color: np.ndarray
    finish: str
    intensity: float

    @classmethod
    def from_hex(cls, shade: str, finish: str = "matte", intensity: float = 1.0) -> Paint:
        return cls(hex_to_linear(shade), finish, intensity)


def paint_linear(linear: np.ndarray, alpha: np.ndarray, paint: Paint) -> None:
    """Paint into ``linear`` (h, w, 3) float32 in place, weighted by ``alpha`` (h, w) float32."""
    weight = alpha * np.float32(paint.intensity)
    total = float(alpha.sum())
    if total <= 1e-6 or paint.intensity <= 0:
        return
    luma = linear @ LUMA
    ref = max(float(np.dot(luma.ravel(), alpha.ravel())) / total, MIN_REFERENCE_LUMINANCE)
    luma *= np.float32(1.0 / ref)  # now the relative shading
    body, spec = FINISHES[paint.finish](luma, paint.color)
    w3 = weight[..., None]
    if spec is not None:
        body += spec
    body -= linear
    body *= w3
    linear += body


def render(frame: np.ndarray, layers: list[tuple[Mask, Paint]]) -> np.ndarray:
    """Return a copy of the RGB uint8 frame with each (mask, paint) applied in order.

    Only the union box of the masks is converted to linear light and back.
    """
    out = frame.copy()
    layers = [(m, p) for m, p in layers if m.alpha.size]
    if not layers:
        return out
    x0, y0, x1, y1 = union_box([m for m, _ in layers])
    linear = u8_to_linear(frame[y0:y1, x0:x1])
    for mask, paint in layers:
        mx0, my0, mx1, my1 = mask.box
        view = linear[my0 - y0 : my1 - y0, mx0 - x0 : mx1 - x0]
        paint_linear(view, mask.alpha, paint)
    out[y0:y1, x0:x1] = linear_to_u8(linear)
    return out
