"""Finishes: how a product's colour takes the skin's shading in linear light.

Each finish maps the skin's relative shading ``s = Y / Y_region_mean`` (so shadows, creases and
texture are kept) and the product colour to a :class:`Shading`: a body colour and an additive highlight,
each a per-pixel scalar map times a constant RGB colour (so the renderer does the per-channel work once,
on contiguous colour planes):

- ``matte``: colour times a slightly flattened shading; highlights are absorbed.
- ``gloss``: colour times the shading, and the skin's own highlights kept and strengthened in white.
- ``shimmer``: like gloss, plus fine sparkles fixed to the region.
- ``metallic``: steeper shading (contrast) and highlights tinted by the colour itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

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


def _highlight(s: np.ndarray, start: float, width: float) -> np.ndarray:
    h = s - np.float32(start)
    h *= np.float32(1.0 / width)
    np.clip(h, 0.0, 1.0, out=h)
    h *= h
    return h


def _sparkle(h: int, w: int) -> np.ndarray:
    """The sparkle pattern tiled to at least (h, w) (grown once, then sliced: no per-frame tiling)."""
    global _sparkle_tiles
    if _sparkle_tiles.shape[0] < h or _sparkle_tiles.shape[1] < w:
        reps = (max(h, _sparkle_tiles.shape[0]) // 128 + 1, max(w, _sparkle_tiles.shape[1]) // 128 + 1)
        _sparkle_tiles = np.tile(_SPARKLE, reps)
    return _sparkle_tiles[:h, :w]


def matte(s: np.ndarray, color: np.ndarray) -> Shading:
    """Matte finish: shading ``s`` (h, w) with highlights absorbed and flattened, times ``color``; no highlight."""
    shade = np.minimum(s, np.float32(1.1))  # highlights absorbed
    shade *= np.float32(0.8)
    shade += np.float32(0.2)  # and the shading slightly flattened (a powder, not a film)
    return Shading(shade, color)


def gloss(s: np.ndarray, color: np.ndarray) -> Shading:
    """Gloss finish: shading ``s`` times ``color`` plus a broad specular highlight; returns the Shading."""
    return Shading(s, color, _highlight(s, 1.05, 0.5), 0.35 + 0.1 * color)


def shimmer(s: np.ndarray, color: np.ndarray) -> Shading:
    """Shimmer finish: shading ``s`` times ``color`` plus fine sparkles and a soft highlight; returns the Shading."""
    sparkle = np.clip(s, 0.0, 1.5)
    sparkle *= _sparkle(*s.shape)
    sparkle += 0.3 * _highlight(s, 1.1, 0.6)
    return Shading(s, color, sparkle, 0.15 + 0.35 * color)


def metallic(s: np.ndarray, color: np.ndarray) -> Shading:
    """Metallic finish: a steeper shading curve times ``color`` and a highlight tinted by it; returns the Shading."""
    c = np.clip(s, 0.0, 2.0)
    body = c * np.float32(0.6)
    body += np.float32(0.4)
    body *= c  # steeper than linear: about s ** 1.6 near s = 1
    return Shading(body, color, _highlight(s, 0.95, 0.5), 0.15 + 0.6 * color)


FINISHES: dict[str, Callable[[np.ndarray, np.ndarray], Shading]] = {
    "matte": matte,
    "gloss": gloss,
    "shimmer": shimmer,
    "metallic": metallic,
}
