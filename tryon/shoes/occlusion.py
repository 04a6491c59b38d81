"""Leg occlusion: the person's leg covers the shoe's collar, so the shoe looks worn, not pasted on."""

from __future__ import annotations

import numpy as np

from tryon.shoes.feet import FootFrame

RAMP_PX = 2.0
"""Width in pixels of the soft transition across the collar line."""


def above_collar(foot: FootFrame, collar: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w) float32 in the box: 1 above the line through ``collar`` (frame pixel) across the leg direction,
    0 below it, with a ``RAMP_PX`` wide soft transition."""
    x0, y0, x1, y1 = box
    # signed distance across the collar line, in ramp widths, as a row term plus a column term (float32)
    k = np.float32(1.0 / RAMP_PX)
    across = (np.arange(x0, x1, dtype=np.float32) - np.float32(collar[0])) * np.float32(foot.up[0] * k)
    down = (np.arange(y0, y1, dtype=np.float32) - np.float32(collar[1])) * np.float32(foot.up[1] * k) + 0.5
    return np.clip(down[:, None] + across[None, :], 0.0, 1.0)


def leg_mask(
    segmentation: np.ndarray, foot: FootFrame, collar: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray:
    """(h, w) float32 in the box: the person's probability above the line through ``collar`` (frame pixel)
    across the leg direction; the shoe shows below it.

    The person mask also covers the shopper's real shoe, so only the part above the new shoe's opening
    may hide it (the part below is erased, see :mod:`tryon.shoes.erase`).
    """
    x0, y0, x1, y1 = box
    seg = segmentation[y0:y1, x0:x1]
    person = np.clip((seg.astype(np.float32, copy=False) - 0.3) * np.float32(2.5), 0.0, 1.0)
    return person * above_collar(foot, collar, box)
