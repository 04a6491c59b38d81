"""Shoe sprites: RGBA views of a shoe with the sole centre and the heel-to-toe length marked.

Views are made once per product (not per frame): drawn procedurally from the product's shade, or the
side view taken from a product image with transparency (toe pointing right).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from tryon.color import hex_to_srgb

if TYPE_CHECKING:
    from tryon.shoes.views import ViewSphere

View = Literal["side", "front", "back"]

ANCHOR_ALONG = 0.47
"""Where along a side view, from the heel, the foot's heel/foot-index midpoint sits: MediaPipe puts the heel
point a little inside the heel and the foot index a little behind the toes (its heel-to-foot-index length is
about 0.8 of the foot's), so the midpoint is near the middle of the shoe."""


@dataclass(frozen=True, slots=True)
class ShoeSprite:
    """One view.

    rgba : (h, w, 4) uint8, colour premultiplied by alpha (so warping leaves no dark fringe)
    anchor : (2,) float32 pixel inside the shoe where the heel/foot-index midpoint of the foot sits
    collar : (2,) float32 pixel on the shoe's opening: the leg covers the shoe above it
    sole_center : (2,) float32 pixel of the sole's centre (bottom middle)
    span : sole length (side view, heel to toe) or sole width (front/back view) in sprite pixels
    """

    view: View
    rgba: np.ndarray
    anchor: np.ndarray
    collar: np.ndarray
    sole_center: np.ndarray
    span: float


@dataclass(frozen=True, slots=True)
class ShoeViews:
    """A shoe's three sprites: side, front and back; for a 3D model also its view sphere (views for a grid of
    headings and camera heights, rendered when first needed)."""

    side: ShoeSprite
    front: ShoeSprite
    back: ShoeSprite
    sphere: ViewSphere | None = None

    def get(self, view: View) -> ShoeSprite:
        """Return the sprite for a view name ("side", "front" or "back")."""
        return {"side": self.side, "front": self.front, "back": self.back}[view]


def _premultiply(rgba: np.ndarray) -> np.ndarray:
    out = rgba.astype(np.float32)
    out[..., :3] *= out[..., 3:4] / 255.0
    return np.round(out).astype(np.uint8)


def _rgb255(shade: str, factor: float = 1.0) -> tuple[int, int, int]:
    c = np.clip(hex_to_srgb(shade) * 255 * factor, 0, 255)
    return int(c[0]), int(c[1]), int(c[2])


def _fill(canvas: np.ndarray, pts: list[tuple[float, float]], rgb: tuple[int, int, int]) -> None:
    arr = np.round(np.array(pts) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [arr], (*rgb, 255), lineType=cv2.LINE_AA, shift=4)


def _side(shade: str, boot: bool) -> ShoeSprite:
    w, h = 256, 128 if not boot else 176
    c = np.zeros((h, w, 4), dtype=np.uint8)
    base = h - 16
    top = 40 if not boot else 8
    upper = [(18, base - 10), (16, top + 18), (30, top), (96, top + 4), (118, base - 60), (170, base - 44),
             (214, base - 30), (238, base - 16), (240, base - 4), (18, base - 4)]  # fmt: skip
    _fill(c, upper, _rgb255(shade))
    _fill(c, [(30, top), (96, top + 4), (92, top + 12), (34, top + 9)], _rgb255(shade, 0.45))  # collar lining
    _fill(c, [(60, base - 30), (120, base - 58), (200, base - 30), (130, base - 22)], _rgb255(shade, 0.7))  # stripe
    for i in range(4):  # laces
        x = 112 + 18 * i
        cv2.line(c, (x, base - 60 + 8 * i), (x + 10, base - 52 + 8 * i), (245, 245, 245, 255), 3, cv2.LINE_AA)
    _fill(c, [(10, base - 10), (244, base - 10), (248, base - 2), (244, base + 8), (12, base + 8), (8, base - 2)],
          (242, 242, 238))  # sole  # fmt: skip
    cv2.line(c, (14, base + 2), (244, base + 2), (190, 190, 185, 255), 1, cv2.LINE_AA)
    # pose's heel and foot-index points lie inside the shoe: ~45 % along it, 40 % of its height up
    anchor = np.array([10.0 + ANCHOR_ALONG * 236, base + 8 - 0.3 * (base + 8 - (base - 60))], dtype=np.float32)
    collar = np.array([60.0, top + 10], dtype=np.float32)
    return ShoeSprite("side", _premultiply(c), anchor, collar, np.array([128.0, base + 8], dtype=np.float32), 236.0)


def _end(shade: str, view: View, boot: bool) -> ShoeSprite:
    w, h = 128, 128 if not boot else 176
    c = np.zeros((h, w, 4), dtype=np.uint8)
    base = h - 14
    top = 36 if not boot else 8
    cv2.ellipse(c, (64, base - 22), (44, 30), 0, 180, 360, (*_rgb255(shade), 255), -1, cv2.LINE_AA)
    _fill(
        c,
        [(20, base - 8), (22, base - 24), (30, top + 6), (98, top + 6), (106, base - 24), (108, base - 8)],
        _rgb255(shade),
    )
    if view == "front":
        _fill(c, [(50, top + 8), (78, top + 8), (76, base - 40), (52, base - 40)], (245, 245, 245))  # tongue/laces
        cv2.ellipse(c, (64, base - 16), (40, 14), 0, 0, 360, (*_rgb255(shade, 0.85), 255), -1, cv2.LINE_AA)  # toe cap
    else:
        _fill(c, [(56, top), (72, top), (74, base - 20), (54, base - 20)], _rgb255(shade, 0.55))  # heel tab
    _fill(c, [(18, base - 10), (110, base - 10), (112, base + 6), (16, base + 6)], (242, 242, 238))  # sole
    anchor = np.array([64.0, base - 16], dtype=np.float32)
    collar = np.array([64.0, top + 14], dtype=np.float32)
    return ShoeSprite(view, _premultiply(c), anchor, collar, np.array([64.0, base + 6], dtype=np.float32), 96.0)


def procedural_views(shade: str, style: str = "sneaker") -> ShoeViews:
    """Side, front and back views of a simple shoe in the product's shade."""
    boot = style == "boot"
    return ShoeViews(_side(shade, boot), _end(shade, "front", boot), _end(shade, "back", boot))


def side_from_image(rgba: np.ndarray) -> ShoeSprite:
    """A side view from a product image with transparency (toe to the right), cropped to its alpha."""
    alpha = rgba[..., 3]
    ys, xs = np.nonzero(alpha > 16)
    if xs.size == 0:
        raise ValueError("product image is fully transparent")
    crop = rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape[:2]
    anchor = np.array([ANCHOR_ALONG * w, h - 1.0 - 0.3 * h], dtype=np.float32)
    collar = np.array([0.25 * w, 0.15 * h], dtype=np.float32)
    sole = np.array([w / 2.0, h - 1.0], dtype=np.float32)
    return ShoeSprite("side", _premultiply(crop), anchor, collar, sole, float(w))
