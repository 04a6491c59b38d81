"""Finishes: how a product's colour takes the skin's shading in linear light.

Each finish maps the skin's relative shading ``s = Y / Y_region_mean`` (so shadows, creases and
texture are kept) and the product colour to a body colour and an additive highlight:

- ``matte``: colour times a slightly flattened shading; highlights are absorbed.
- ``gloss``: colour times the shading, and the skin's own highlights kept and strengthened in white.
- ``shimmer``: like gloss, plus fine sparkles fixed to the region.
- ``metallic``: steeper shading (contrast) and highlights tinted by the colour itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

Finish = Literal["matte", "gloss", "shimmer", "metallic"]

_SPARKLE = np.random.default_rng(20240605).random((128, 128), dtype=np.float32)
_SPARKLE = np.where(_SPARKLE > 0.97, (_SPARKLE - 0.97) / 0.03, 0.0).astype(np.float32)


def _highlight(s: np.ndarray, start: float, width: float) -> np.ndarray:
    h = np.clip((s - start) * (1.0 / width), 0.0, 1.0)
    return h * h


def matte(s: np.ndarray, color: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    shade = np.minimum(s, 1.1)  # highlights absorbed
    shade *= 0.8
    shade += 0.2  # and the shading slightly flattened (a powder, not a film)
    return shade[..., None] * color, None


def gloss(s: np.ndarray, color: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    body = s[..., None] * color
    spec = _highlight(s, 1.05, 0.5)[..., None] * (0.35 + 0.1 * color)
    return body, spec


def shimmer(s: np.ndarray, color: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    body = s[..., None] * color
    h, w = s.shape
    reps = (h // 128 + 1, w // 128 + 1)
    sparkle = np.tile(_SPARKLE, reps)[:h, :w] * np.clip(s, 0.0, 1.5) + 0.3 * _highlight(s, 1.1, 0.6)
    return body, sparkle[..., None] * (0.15 + 0.35 * color)


def metallic(s: np.ndarray, color: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    c = np.clip(s, 0.0, 2.0)
    body = (c * (0.4 + 0.6 * c))[..., None] * color  # steeper than linear: about s ** 1.6 near s = 1
    spec = _highlight(s, 0.95, 0.5)[..., None] * (0.15 + 0.6 * color)
    return body, spec


FINISHES: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray | None]]] = {
    "matte": matte,
    "gloss": gloss,
    "shimmer": shimmer,
    "metallic": metallic,
}
