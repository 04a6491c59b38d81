"""Sprite -> frame affine transform for a foot, and the shoe's footprint after warping."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tryon.shoes.feet import FootFrame
from tryon.shoes.sprite import ShoeSprite


@dataclass(frozen=True, slots=True)
class Placement:
    """matrix : (2, 3) float64 sprite pixel -> frame pixel; box : frame (x0, y0, x1, y1) it covers."""

    frame: FootFrame
    sprite: ShoeSprite
    matrix: np.ndarray
    box: tuple[int, int, int, int]
    ankle: np.ndarray | None = None
    """(2,) the foot's ankle keypoint in pixels: the occlusion line never goes above it."""
    name: str = ""
    """The view drawn: ``side``, ``front``, ``back`` or a view sphere key ``y<yaw>p<pitch>``."""
    length: float = 0.0
    """The shoe's length in pixels when it was set from the foot's 3D pose (0: ``frame.span`` says)."""


def place(sprite: ShoeSprite, foot: FootFrame, frame_shape: tuple[int, ...]) -> Placement | None:
    """Map the sprite's anchor to the foot origin, its length/width to the foot span.

    Sprite x runs heel -> toe (or across the foot), sprite y runs down; the map sends +x to
    ``foot.along`` and -y to ``foot.up`` (a reflection when the toe points left, so no flip is needed).
    """
    s = foot.span / sprite.span
    a, u = foot.along, foot.up
    lin = np.array([[a[0] * s, -u[0] * s], [a[1] * s, -u[1] * s]])
    return place_matrix(sprite, foot, lin, frame_shape)


def place_matrix(
    sprite: ShoeSprite, foot: FootFrame, lin: np.ndarray, frame_shape: tuple[int, ...], ankle: np.ndarray | None = None
) -> Placement | None:
    """The placement with linear part ``lin`` (2, 2) that puts the sprite's anchor on the foot origin."""
    t = foot.origin - lin @ sprite.anchor.astype(np.float64)
    m = np.concatenate([lin, t[:, None]], axis=1)
    h, w = sprite.rgba.shape[:2]
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64) @ lin.T + t
    fh, fw = frame_shape[:2]
    x0, y0 = max(0, int(np.floor(corners[:, 0].min()))), max(0, int(np.floor(corners[:, 1].min())))
    x1, y1 = min(fw, int(np.ceil(corners[:, 0].max())) + 1), min(fh, int(np.ceil(corners[:, 1].max())) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return Placement(foot, sprite, m, (x0, y0, x1, y1), ankle)
