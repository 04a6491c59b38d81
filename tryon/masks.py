"""Soft masks rasterised from :class:`tryon.regions.RegionShape` inside a region of interest.

A mask covers only the region's bounding box plus its feather, never the whole frame, so its cost
follows the size of the face, not of the frame. Polygons are drawn in fixed point (4 fractional bits)
on a supersampled canvas, averaged down (INTER_AREA) and blurred with the region's feather.

Supersampling is what makes masks move with the face by fractions of a pixel. Measured on the
astronaut's lips (IoU of a shifted mask against the mask of shifted landmarks, threshold 0.5):
OpenCV's anti-aliased fill at 1x gives 0.80-0.89 for sub-pixel shifts (its coverage is coarse, and it
fills every pixel an edge touches, half a pixel too far); 2x gives 0.92-0.98, 4x 0.95-1.0.
Soft regions are then averaged down to a coarser grid for the blur, which is their main cost. The canvas
is averaged down as bytes before turning into floats (1/255 steps, far below what the feather leaves
visible), not converted to floats at its supersampled size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tryon.regions import RegionShape

SHIFT = 4
"""Fractional bits of the fixed-point coordinates given to OpenCV's polygon drawing."""
_ONE = 1 << SHIFT
SUPERSAMPLE = ((40_000, 4), (250_000, 2))
"""(largest ROI area in pixels, factor): regions are drawn at 4x when small, 2x when mid-sized, else 1x."""
SUBSAMPLE = ((6.0, 4), (3.0, 2))
"""(smallest feather sigma in pixels, factor): soft regions are blurred at 1/4 or 1/2 resolution and scaled
back up; a wide blur hides the coarser grid (blush and foundation masks cost a quarter as much)."""


def sampling(area: int, feather: float) -> tuple[int, int]:
    """(up, down): draw at ``up`` x the frame resolution, blur at 1/``down`` of it."""
    up = next((f for limit, f in SUPERSAMPLE if area <= limit), 1)
    down = next((f for limit, f in SUBSAMPLE if feather >= limit), 1)
    return up, down


@dataclass(frozen=True, slots=True)
class Mask:
    """A soft mask placed in a frame.

    alpha : (h, w) float32 in [0, 1], covering frame rows y0:y0+h and columns x0:x0+w
    """

    name: str
    x0: int
    y0: int
    alpha: np.ndarray

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Return the mask's box in frame pixels as (x0, y0, x1, y1)."""
        h, w = self.alpha.shape
        return self.x0, self.y0, self.x0 + w, self.y0 + h

    def full(self, shape: tuple[int, int]) -> np.ndarray:
        """The mask pasted into an all-zero (h, w) float32 frame-sized array (for tests and debugging)."""
        out = np.zeros(shape, dtype=np.float32)
        x0, y0, x1, y1 = self.box
        out[y0:y1, x0:x1] = self.alpha
        return out


def roi(shape: RegionShape, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """Integer box (x0, y0, x1, y1) holding the shape and its feather, clipped to the frame; None if empty."""
    h, w = frame_shape[:2]
    bx0, by0, bx1, by1 = shape.bounds()
    margin = 3.0 * shape.feather + 2.0
    x0, y0 = max(0, int(np.floor(bx0 - margin))), max(0, int(np.floor(by0 - margin)))
    x1, y1 = min(w, int(np.ceil(bx1 + margin)) + 1), min(h, int(np.ceil(by1 + margin)) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def rasterize(shape: RegionShape, frame_shape: tuple[int, ...]) -> Mask | None:
    """Paint the shape's layers in order into a feathered mask; None when it lies outside the frame."""
    box = roi(shape, frame_shape)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    up, down = sampling(w * h, shape.feather)
    ch, cw = -(-h // down), -(-w // down)  # blur grid size
    canvas = np.zeros((ch * down * up, cw * down * up), dtype=np.uint8)
    # frame pixel centre x maps to (x - x0 + 0.5) * up - 0.5 on the canvas
    offset = (np.array([x0, y0], dtype=np.float64) - 0.5) * up + 0.5
    for layer in shape.layers:
        color = round(255 * min(max(float(layer.value), 0.0), 1.0))
        pts = np.round((layer.points.astype(np.float64) * up - offset) * _ONE).astype(np.int32)
        if layer.kind == "fill":
            if len(pts) >= 3:
                cv2.fillPoly(canvas, [pts], color, lineType=cv2.LINE_AA, shift=SHIFT)
        else:
            axes = (max(1, round(layer.axes[0] * up * _ONE)), max(1, round(layer.axes[1] * up * _ONE)))
            cv2.ellipse(canvas, (int(pts[0, 0]), int(pts[0, 1])), axes, layer.angle, 0, 360, color,
                        thickness=-1, lineType=cv2.LINE_AA, shift=SHIFT)  # fmt: skip
    if up * down > 1:
        canvas = cv2.resize(canvas, (cw, ch), interpolation=cv2.INTER_AREA)
    alpha = canvas.astype(np.float32)
    alpha *= np.float32(1.0 / 255.0)
    if shape.feather > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), shape.feather / down, borderType=cv2.BORDER_REPLICATE)
    if down > 1:  # back to full resolution, pixel centres aligned, then cut to the box
        alpha = cv2.resize(alpha, (cw * down, ch * down), interpolation=cv2.INTER_LINEAR)
    alpha = alpha[:h, :w]
    if shape.clip is not None and len(shape.clip) >= 3:  # nothing past the outline, feather included
        inside = np.zeros((h * up, w * up), dtype=np.uint8)
        pts = np.round((shape.clip.astype(np.float64) * up - offset) * _ONE).astype(np.int32)
        cv2.fillPoly(inside, [pts], 255, lineType=cv2.LINE_AA, shift=SHIFT)
        if up > 1:
            inside = cv2.resize(inside, (w, h), interpolation=cv2.INTER_AREA)
        alpha = alpha * (inside.astype(np.float32) * np.float32(1.0 / 255.0))
    return Mask(shape.name, x0, y0, np.ascontiguousarray(alpha))


def union_box(masks: list[Mask]) -> tuple[int, int, int, int]:
    """Smallest box (x0, y0, x1, y1) holding every mask."""
    boxes = np.array([m.box for m in masks])
    return int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max())


SILHOUETTE_RAMP = (0.3, 0.7)
"""Person probability up to which a pixel is background (nothing painted) and from which it is the person
(painted as the mask says), linear in between: the segmentation's outline is soft."""


def clipped(mask: Mask, box: tuple[int, int, int, int], person: np.ndarray) -> Mask:
    """The mask with nothing painted where ``person`` ((h, w) probability over frame ``box``) says background
    (``SILHOUETTE_RAMP``); pixels of the mask outside ``box`` are kept."""
    x0, y0, x1, y1 = mask.box
    bx0, by0, bx1, by1 = box
    ox0, oy0, ox1, oy1 = max(x0, bx0), max(y0, by0), min(x1, bx1), min(y1, by1)
    if ox1 <= ox0 or oy1 <= oy0 or person.shape != (by1 - by0, bx1 - bx0):
        return mask
    lo, hi = SILHOUETTE_RAMP
    keep = np.clip((person[oy0 - by0 : oy1 - by0, ox0 - bx0 : ox1 - bx0] - lo) * np.float32(1.0 / (hi - lo)), 0, 1)
    alpha = mask.alpha.copy()
    alpha[oy0 - y0 : oy1 - y0, ox0 - x0 : ox1 - x0] *= keep
    return Mask(mask.name, mask.x0, mask.y0, alpha)
