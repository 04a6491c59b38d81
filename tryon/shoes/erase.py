"""Erase the shopper's real shoe before the virtual one is drawn, so it does not peek out around it.

The erased pixels are filled from the floor around them only: cv2.inpaint (TELEA) is given every pixel of every
person in the frame (their masks over ``SOURCE_THRESHOLD``, grown by ``DILATE_PX``) as unknown, so the fill
marches in from the ring of background around the feet, never from a leg. On the corpus seated man the fill had
come from the standing man's jeans beside his sneaker (a blue smear on the carpet) and from his own white heel.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

PERSON_THRESHOLD = 0.5
"""Segmentation probability from which a pixel belongs to the person (here: the real shoe)."""
SOURCE_THRESHOLD = 0.3
"""A pixel with any person's probability over this is never a source of the fill."""
DILATE_PX = 3
"""How far the erased area reaches beyond the person mask, for the shoe's soft outline (and how far the fill's
sources keep away from every person's mask, whose outline blends the person into the floor)."""
INPAINT_RADIUS = 3.0
"""Neighbourhood in pixels from which cv2.inpaint (TELEA) fills each erased pixel."""
MARGIN = 0.25
"""How far, as a fraction of the new shoe's span, the erased box reaches beyond the new shoe's box."""
FLOOR_REACH = (0.25, 0.5, 1.0)
"""How far around the erased box (shares of its larger side) the fill looks for floor, in turn, until it has
``MIN_FLOOR_PX`` pixels; with none even at the last, the fill takes any pixel outside the erased area (as before)."""
MIN_FLOOR_PX = 20
"""Floor pixels the fill needs around the erased box."""
FILL_SIZE = 48
"""The fill is computed on at most this many pixels on a side of the region it looks at, then scaled up."""
FOOT_REACH = 0.15
"""How far beyond the heel and toe keypoints (shares of the shoe's length) the real shoe is erased: the
keypoints lie inside the shoe (the seated man's white heel showed behind his new boot)."""
FOOT_RADIUS = 0.3
"""Half the width, as a share of the shoe's length, of the band along heel -> toe in which the real shoe is
erased."""
FOOT_TOP = 0.1
"""The band reaches this share of the shoe's length above the ankle keypoint's line across the leg (the seated
man's heel counter rose just above it)."""


def erase_box(box: tuple[int, int, int, int], span: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The new shoe's box grown by ``MARGIN`` of its span (the real shoe may reach out of it), inside the frame."""
    m = int(np.ceil(MARGIN * span))
    x0, y0, x1, y1 = box
    return max(0, x0 - m), max(0, y0 - m), min(shape[1], x1 + m), min(shape[0], y1 + m)


def foot_band(
    heel: np.ndarray, toe: np.ndarray, ankle: np.ndarray, up: np.ndarray, length: float, shape: tuple[int, ...]
) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """(box, (h, w) bool in it): the band along heel -> toe (frame pixels), reaching ``FOOT_REACH`` of the shoe's
    ``length`` (pixels) beyond both and ``FOOT_RADIUS`` of it to each side, below the line through ``ankle``
    across the leg (``up``: unit, from the sole towards the ankle): where the whole real shoe is."""
    heel, toe = np.asarray(heel, np.float64), np.asarray(toe, np.float64)
    d = toe - heel
    n = float(np.linalg.norm(d))
    u = d / n if n > 1e-6 else np.zeros(2)
    a, b = heel - FOOT_REACH * length * u, toe + FOOT_REACH * length * u
    r = FOOT_RADIUS * length
    x0, y0 = np.floor(np.minimum(a, b) - r).astype(int)
    x1, y1 = np.ceil(np.maximum(a, b) + r).astype(int) + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(shape[1], x1), min(shape[0], y1)
    if x1 <= x0 or y1 <= y0:
        return (0, 0, 0, 0), np.zeros((0, 0), bool)
    band = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pa, pb = np.round(a - (x0, y0)).astype(int), np.round(b - (x0, y0)).astype(int)
    cv2.line(band, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), 1, max(1, 2 * round(r) + 1))
    xs = np.arange(x0, x1, dtype=np.float64) - float(ankle[0])
    ys = np.arange(y0, y1, dtype=np.float64) - float(ankle[1])
    below = (ys[:, None] * float(up[1]) + xs[None, :] * float(up[0])) < FOOT_TOP * length
    return (int(x0), int(y0), int(x1), int(y1)), band.astype(bool) & below


def erase_real_shoe(
    frame: np.ndarray,
    segmentation: np.ndarray,
    below: np.ndarray,
    box: tuple[int, int, int, int],
    people: Sequence[np.ndarray] = (),
) -> int:
    """Fill in place, from the floor around them, the person's pixels of ``box`` (dilated) where ``below``
    ((h, w) bool in the box: under the new shoe's collar line, or on the foot) is set. ``people``: every person's
    mask in the frame (``segmentation`` is always one of them), whose pixels never feed the fill; a pixel more
    another person's than this one's is not erased. Returns the number of pixels filled.

    Only a region of interest around the box is inpainted; pixels outside the erased area stay bit-identical.
    """
    x0, y0, x1, y1 = box
    person = (segmentation[y0:y1, x0:x1] > PERSON_THRESHOLD).astype(np.uint8)
    if not person.any():
        return 0
    size = 2 * DILATE_PX + 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    grown = cv2.dilate(person, disc)
    grown[~below] = 0
    fh, fw = frame.shape[:2]
    others = [m for m in people if m is not segmentation and m.shape[:2] == (fh, fw)]
    own = segmentation[y0:y1, x0:x1]
    for m in others:  # another person's pixel (the standing man's jeans by the seated man's toe) stays
        theirs = m[y0:y1, x0:x1]
        grown[(theirs > PERSON_THRESHOLD) & (theirs > own)] = 0
    count = int(np.count_nonzero(grown))
    if count == 0:
        return 0
    masks = [segmentation, *others]
    for reach in FLOOR_REACH:
        pad = max(int(np.ceil(INPAINT_RADIUS)) + 1, int(np.ceil(reach * max(x1 - x0, y1 - y0))))
        rx0, ry0, rx1, ry1 = max(0, x0 - pad), max(0, y0 - pad), min(fw, x1 + pad), min(fh, y1 + pad)
        mask = np.zeros((ry1 - ry0, rx1 - rx0), np.uint8)
        mask[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0] = grown
        anyone = np.zeros_like(mask)
        for m in masks:
            anyone |= (m[ry0:ry1, rx0:rx1] > SOURCE_THRESHOLD).astype(np.uint8)
        unknown = mask | cv2.dilate(anyone, disc)
        if mask.size - np.count_nonzero(unknown) >= MIN_FLOOR_PX:
            break
    else:
        unknown = mask  # no floor in sight: any pixel outside the erased area
    roi = frame[ry0:ry1, rx0:rx1]
    np.copyto(roi, _inpaint(roi, unknown), where=mask[..., None].astype(bool))
    return count


def _inpaint(roi: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """cv2.inpaint (TELEA) of ``roi`` where ``unknown``; done at most ``FILL_SIZE`` pixels on a side (a block
    with any unknown pixel is unknown there) and brought back up: the fill is smooth, and Telea's cost grows with
    the unknown area (every person pixel around the feet)."""
    h, w = unknown.shape
    k = int(np.ceil(max(h, w) / FILL_SIZE))
    if k <= 1:
        return cv2.inpaint(np.ascontiguousarray(roi), unknown, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    size = (int(np.ceil(w / k)), int(np.ceil(h / k)))
    small = cv2.resize(roi, size, interpolation=cv2.INTER_AREA)
    hole = (cv2.resize(unknown * np.uint8(255), size, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    if hole.all():  # the floor is in scattered pixels only: at full size
        return cv2.inpaint(np.ascontiguousarray(roi), unknown, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    filled = cv2.inpaint(small, hole, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
