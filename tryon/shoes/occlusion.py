"""Leg occlusion: the person's leg covers the shoe's collar, so the shoe looks worn, not pasted on."""

from __future__ import annotations

import numpy as np

from tryon.shoes.feet import FootFrame

RAMP_PX = 2.0
"""Width in pixels of the soft transition across the collar line."""


def leg_mask(
    segmentation: np.ndarray, foot: FootFrame, collar: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray:
    """(h, w) float32 in the box: the person's probability above the line through ``collar`` (frame pixel)
    across the leg direction; the shoe shows below it.

    The person mask also covers the shopper's real shoe, so only the part above the new shoe's opening
    may hide it.
    """
    x0, y0, x1, y1 = box
    seg = segmentation[y0:y1, x0:x1]
    ys, xs = np.mgrid[y0:y1, x0:x1]
    line_pt = collar
    dist = (xs - line_pt[0]) * foot.up[0] + (ys - line_pt[1]) * foot.up[1]
    above = np.clip(dist / RAMP_PX + 0.5, 0.0, 1.0).astype(np.float32)
    return np.clip((seg - 0.3) / 0.4, 0.0, 1.0).astype(np.float32) * above
