"""Erase the shopper's real shoe before the virtual one is drawn, so it does not peek out around it."""

from __future__ import annotations

import cv2
import numpy as np

PERSON_THRESHOLD = 0.5
"""Segmentation probability from which a pixel belongs to the person (here: the real shoe)."""
DILATE_PX = 3
"""How far the erased area reaches beyond the person mask, for the shoe's soft outline."""
INPAINT_RADIUS = 3.0
"""Neighbourhood in pixels from which cv2.inpaint (TELEA) fills each erased pixel."""
MARGIN = 0.25
"""How far, as a fraction of the new shoe's span, the erased box reaches beyond the new shoe's box."""


def erase_box(box: tuple[int, int, int, int], span: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The new shoe's box grown by ``MARGIN`` of its span (the real shoe may reach out of it), inside the frame."""
    m = int(np.ceil(MARGIN * span))
    x0, y0, x1, y1 = box
    return max(0, x0 - m), max(0, y0 - m), min(shape[1], x1 + m), min(shape[0], y1 + m)


def erase_real_shoe(
    frame: np.ndarray, segmentation: np.ndarray, below: np.ndarray, box: tuple[int, int, int, int]
) -> int:
    """Fill in place, from the background around them, the person's pixels of ``box`` (dilated) where ``below``
    ((h, w) bool in the box: under the new shoe's collar line) is set. Returns the number of pixels filled.

    Only a region of interest around the box is inpainted; pixels outside the erased area stay bit-identical.
    """
    x0, y0, x1, y1 = box
    person = (segmentation[y0:y1, x0:x1] > PERSON_THRESHOLD).astype(np.uint8)
    if not person.any():
        return 0
    size = 2 * DILATE_PX + 1
    grown = cv2.dilate(person, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    grown[~below] = 0
    count = int(np.count_nonzero(grown))
    if count == 0:
        return 0
    pad = int(np.ceil(INPAINT_RADIUS)) + 1  # known pixels around the box for the fill
    fh, fw = frame.shape[:2]
    rx0, ry0, rx1, ry1 = max(0, x0 - pad), max(0, y0 - pad), min(fw, x1 + pad), min(fh, y1 + pad)
    mask = np.zeros((ry1 - ry0, rx1 - rx0), np.uint8)
    mask[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0] = grown
    roi = frame[ry0:ry1, rx0:rx1]
    filled = cv2.inpaint(np.ascontiguousarray(roi), mask, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    np.copyto(roi, filled, where=mask[..., None].astype(bool))
    return count
