"""Finishes: how a product's colour takes the skin's shading in linear light.

Each finish maps the skin's relative shading ``s = Y / Y_region_mean`` (so shadows, creases and
texture are kept), the product colour and, where the face mesh gives one, the surface's specular lobe
``spec`` (:func:`tryon.surface.lip_specular`, 1 where the surface mirrors the light to the camera) to a
:class:`Shading`: a body colour and an additive highlight, each a per-pixel scalar map times a constant RGB
colour (so the renderer does the per-channel work once, on contiguous colour planes). The renderer scales
both by the scene's exposure, so highlights dim and brighten with the scene like the body colour.

Highlights are physically placed, not painted on: they are where the surface's normal mirrors the light
(``spec``) *and* where the skin shows a highlight of its own (``own``: the shading above its local mean),
so a lower lip that is merely lighter than the upper one gets no flat blotch.

- ``matte``: colour times a slightly flattened shading; highlights are absorbed.
- ``gloss``: colour times the shading plus a sharp white specular highlight (a clear film).
- ``shimmer``: like gloss, softer, plus fine sparkles fixed to the region, denser where light falls.
- ``metallic``: steeper shading (contrast) and a broad highlight tinted by the colour itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import cv2
import numpy as np

Finish = Literal["matte", "gloss", "shimmer", "metallic"]

_SPARKLE = np.random.default_rng(20240605).random((128, 128), dtype=np.float32)
_SPARKLE = np.where(_SPARKLE > 0.97, (_SPARKLE - 0.97) / 0.03, 0.0).astype(np.float32)
_sparkle_tiles = _SPARKLE


class Shading(NamedTuple):
    """body (h, w) float32 times ``color`` is the body colour; highlight (h, w) float32 or None times
    ``highlight_color`` (3,) float32 is added on top."""

    body: np.ndarray
    color: np.ndarray
    highlight: np.ndarray | None = None
    highlight_color: np.ndarray | None = None


def own_highlights(s: np.ndarray) -> np.ndarray:
    """(h, w) float32 in [0, 1]: where the shading ``s`` rises above its local mean (the skin's own highlights)."""
    h, w = s.shape
    sigma = max(1.0, min(h, w) / 10.0)  # about the lips' fine lines: highlights follow their texture
    local = cv2.GaussianBlur(s, (0, 0), sigma)
    own = cv2.divide(s, np.maximum(local, np.float32(1e-3)))
    own -= np.float32(0.98)
    own *= np.float32(1.0 / 0.2)
    np.clip(own, 0.0, 1.0, out=own)
    return own


def _placed(s: np.ndarray, spec: np.ndarray | None, floor: float) -> np.ndarray:
    """Highlight strength: the geometric lobe weighted by the skin's own highlights (``floor`` + rest)."""
    own = own_highlights(s)
    own *= np.float32(1.0 - floor)
    own += np.float32(floor)
    if spec is None:  # no surface model for this region: the skin's own highlights only, sharpened
        own -= np.float32(floor)
        own *= np.float32(0.7 / (1.0 - floor))
        return cv2.multiply(own, own)
    return cv2.multiply(own, spec)


def _sparkle(h: int, w: int) -> np.ndarray:
    """The sparkle pattern tiled to at least (h, w) (grown once, then sliced: no per-frame tiling)."""
    global _sparkle_tiles
    if _sparkle_tiles.shape[0] < h or _sparkle_tiles.shape[1] < w:
        reps = (max(h, _sparkle_tiles.shape[0]) // 128 + 1, max(w, _sparkle_tiles.shape[1]) // 128 + 1)
        _sparkle_tiles = np.tile(_SPARKLE, reps)
    return _sparkle_tiles[:h, :w]


def matte(s: np.ndarray, color: np.ndarray, spec: np.ndarray | None = None) -> Shading:
    """Matte finish: shading ``s`` (h, w) with highlights absorbed and flattened, times ``color``; no highlight."""
    shade = np.minimum(s, np.float32(1.1))  # highlights absorbed
    shade *= np.float32(0.8)
    shade += np.float32(0.2)  # and the shading slightly flattened (a powder, not a film)
    return Shading(shade, color)


def gloss(s: np.ndarray, color: np.ndarray, spec: np.ndarray | None = None) -> Shading:
    """Gloss finish: shading ``s`` times ``color`` plus a white specular highlight where ``spec`` and the
    skin's own highlights put it; returns the Shading."""
    high = _placed(s, spec, 0.15)
    return Shading(s, color, high, (0.6 + 0.1 * color).astype(np.float32))


def shimmer(s: np.ndarray, color: np.ndarray, spec: np.ndarray | None = None) -> Shading:
    """Shimmer finish: shading ``s`` times ``color`` plus fine sparkles (denser where light falls) and a soft
    highlight; returns the Shading."""
    lit = np.clip(s, 0.0, 1.5)
    if spec is not None:
        lit *= np.float32(0.5) + spec
    sparkle = cv2.multiply(lit, _sparkle(*s.shape))
    sparkle += np.float32(0.3) * _placed(s, spec, 0.25)
    return Shading(s, color, sparkle, (0.15 + 0.35 * color).astype(np.float32))


def metallic(s: np.ndarray, color: np.ndarray, spec: np.ndarray | None = None) -> Shading:
    """Metallic finish: a steeper shading curve times ``color`` and a broad highlight tinted by it; returns the
    Shading."""
    c = np.clip(s, 0.0, 2.0)
    body = c * np.float32(0.6)
    body += np.float32(0.4)
    body *= c  # steeper than linear: about s ** 1.6 near s = 1
    broad = None if spec is None else np.sqrt(spec)  # a rougher surface: a wider lobe
    return Shading(body, color, _placed(s, broad, 0.2), (0.1 + 0.7 * color).astype(np.float32))


SHININESS = {"gloss": 60.0, "shimmer": 30.0, "metallic": 12.0}
"""Blinn-Phong exponent of the surface's lobe per finish (matte has none)."""


FINISHES: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray | None], Shading]] = {
    "matte": matte,
    "gloss": gloss,
    "shimmer": shimmer,
    "metallic": metallic,
}
