"""Occlusion: the person's leg covers the shoe's collar, so the shoe looks worn, not pasted on; a cane or the
other leg crossing in front of the foot stays in front of the shoe."""

from __future__ import annotations

import cv2
import numpy as np

from tryon.color import srgb_to_lab
from tryon.landmarks import FootLandmarks
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


THIN_SHARE = 0.2
"""Parts of the person mask narrower than this share of the shoe's span (a cane, a stick, a strap) are thin."""
MIN_THIN_LENGTH = 0.3
"""A thin part in front of the shoe reaches at least this share of the shoe's span down from above the collar."""
SHIN_RADIUS = 0.11
"""Half the width of a shin (trouser leg) over the knee-to-ankle length."""
NEARER_M = 0.05
"""The other leg is in front of this foot when its shin is this many metres nearer the camera."""


def thin_in_front(
    segmentation: np.ndarray, foot: FootFrame, collar: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray:
    """(h, w) bool in the box: thin parts of the person mask (a cane) coming down from above the collar line
    into the shoe's area: they stay in front of the shoe and are not erased.

    A thin part is what a morphological opening with a disc of ``THIN_SHARE`` of the shoe's span removes; one
    is kept when it has pixels above the collar line and below it, and is ``MIN_THIN_LENGTH`` of the span long.
    """
    x0, y0, x1, y1 = box
    person = (segmentation[y0:y1, x0:x1] > 0.5).astype(np.uint8)
    size = max(3, round(float(THIN_SHARE * foot.span)) | 1)
    opened = cv2.morphologyEx(person, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    thin = person & (1 - opened)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(thin, connectivity=8)
    out = np.zeros(person.shape, bool)
    if n <= 1:
        return out
    above = above_collar(foot, collar, box) > 0.5
    for i in range(1, n):
        w, h = stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]
        if max(w, h) < MIN_THIN_LENGTH * foot.span:
            continue
        part = labels == i
        if part[above].any() and part[~above].any():
            out |= part
    return out


def shin_in_front(
    segmentation: np.ndarray, foot: FootLandmarks, other: FootLandmarks, box: tuple[int, int, int, int]
) -> np.ndarray:
    """(h, w) bool in the box: the person mask on the other leg's shin (knee to ankle, ``SHIN_RADIUS`` of its
    length wide) when that shin is ``NEARER_M`` nearer the camera than this foot's ankle (world landmarks):
    a leg crossing in front of the shoe. Empty without world landmarks."""
    x0, y0, x1, y1 = box
    out = np.zeros((y1 - y0, x1 - x0), bool)
    if foot.world is None or other.world is None:
        return out
    if float(other.world[:2, 2].mean()) > float(foot.world[1, 2]) - NEARER_M:
        return out
    radius = max(1, round(SHIN_RADIUS * other.shin))
    canvas = np.zeros(out.shape, np.uint8)
    knee = np.round(other.knee - (x0, y0)).astype(int)
    ankle = np.round(other.ankle - (x0, y0)).astype(int)
    cv2.line(canvas, (int(knee[0]), int(knee[1])), (int(ankle[0]), int(ankle[1])), 1, 2 * radius + 1)
    return canvas.astype(bool) & (segmentation[y0:y1, x0:x1] > 0.5)


LEG_BAND = 1.5
"""Half the width of the band the leg keeps above a new shoe's collar, over ``SHIN_RADIUS`` of the shin."""
REAL_SHOE_TOP = 0.3
"""A real shoe's top reaches at most this share of the knee-to-ankle length above the ankle keypoint: higher up,
the person mask beside the shin is a wide trouser leg (the corpus standing man's flared jeans were erased up to
half-way to his knee and filled in)."""


def real_shoe_above_collar(
    segmentation: np.ndarray, foot: FootLandmarks, below: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray:
    """(h, w) bool in the box: the person mask above the new shoe's collar line (``below`` False) outside a band
    around the foot's shin (knee to ankle, ``LEG_BAND`` x ``SHIN_RADIUS`` of its length wide): the top of a real
    shoe taller than the new one (the corpus walker's white sneakers), erased rather than kept in front like the
    leg; up to ``REAL_SHOE_TOP`` of the shin above the ankle (along knee -> ankle)."""
    x0, y0, x1, y1 = box
    radius = max(2, round(LEG_BAND * SHIN_RADIUS * foot.shin))
    leg = (foot.knee - foot.ankle).astype(np.float64)
    shin = max(float(np.linalg.norm(leg)), 1e-6)
    xs = np.arange(x0, x1, dtype=np.float64) - float(foot.ankle[0])
    ys = np.arange(y0, y1, dtype=np.float64) - float(foot.ankle[1])
    low = (ys[:, None] * leg[1] + xs[None, :] * leg[0]) / shin <= REAL_SHOE_TOP * shin
    band = np.zeros((y1 - y0, x1 - x0), np.uint8)
    knee = np.round(foot.knee - (x0, y0)).astype(int)
    ankle = np.round(foot.ankle - (x0, y0)).astype(int)
    cv2.line(band, (int(knee[0]), int(knee[1])), (int(ankle[0]), int(ankle[1])), 1, 2 * radius + 1)
    cv2.circle(band, (int(ankle[0]), int(ankle[1])), radius, 1, -1)
    return (segmentation[y0:y1, x0:x1] > 0.5) & ~below & ~band.astype(bool) & low


LEG_TOLERANCE = 10.0
"""Least distance per CIELAB channel (L 0-100, a, b) from the leg's median that still has the leg's colour; more
where the leg's own colour spreads more (``LEG_SPREAD`` times its median absolute deviation)."""
LEG_SPREAD = 2.5
MIN_LEG_SAMPLES = 20
"""Leg pixels needed for the leg's colour."""


def leg_coloured(
    frame: np.ndarray, segmentation: np.ndarray, foot: FootLandmarks, box: tuple[int, int, int, int]
) -> np.ndarray:
    """(h, w) bool in the box: pixels with the colour of the foot's leg (trouser or skin), sampled on the person
    mask along the shin from ``REAL_SHOE_TOP`` to twice that of the shin above the ankle (above any real shoe):
    a trouser hem hanging over the real shoe, which is not erased (filled with the floor, the corpus standing
    man's jeans were cut off above his new boots). All False when the leg shows too little."""
    x0, y0, x1, y1 = box
    out = np.zeros((y1 - y0, x1 - x0), bool)
    leg = (foot.knee - foot.ankle).astype(np.float64)
    shin = float(np.linalg.norm(leg))
    if shin < 1.0 or out.size == 0:
        return out
    a = foot.ankle.astype(np.float64) + REAL_SHOE_TOP * leg
    b = foot.ankle.astype(np.float64) + 2.0 * REAL_SHOE_TOP * leg
    radius = max(2, round(SHIN_RADIUS * shin))
    h, w = segmentation.shape[:2]
    sx0, sy0 = (max(0, int(min(a[i], b[i])) - radius) for i in (0, 1))
    sx1, sy1 = min(w, int(max(a[0], b[0])) + radius + 1), min(h, int(max(a[1], b[1])) + radius + 1)
    if sx1 <= sx0 or sy1 <= sy0:
        return out
    strip = np.zeros((sy1 - sy0, sx1 - sx0), np.uint8)
    pa, pb = np.round(a - (sx0, sy0)).astype(int), np.round(b - (sx0, sy0)).astype(int)
    cv2.line(strip, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), 1, 2 * radius + 1)
    on = strip.astype(bool) & (segmentation[sy0:sy1, sx0:sx1] > 0.5)
    if int(on.sum()) < MIN_LEG_SAMPLES:
        return out
    samples = _lab(frame[sy0:sy1, sx0:sx1])[on]
    med = np.median(samples, axis=0)
    tol = np.maximum(LEG_TOLERANCE, LEG_SPREAD * np.median(np.abs(samples - med), axis=0))
    near = np.all(np.abs(_lab(frame[y0:y1, x0:x1]) - med) <= tol, axis=2).astype(np.uint8)
    near = cv2.morphologyEx(near, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    return near.astype(bool)  # closed: the hem's darker threads would be filled in dots


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L 0-100) of an RGB uint8 picture (:func:`tryon.color.srgb_to_lab`)."""
    return srgb_to_lab(rgb.astype(np.float32) * np.float32(1.0 / 255.0))


FACE_SKIN = (2, 5, 10, 9)
"""Pose landmarks (left eye, right eye, mouth right, mouth left) whose quadrilateral samples the face's skin."""
MIN_FACE_VISIBILITY = 0.5
"""The face's landmarks are used for the skin's colour only from this visibility on."""
SKIN_CHROMA = 10.0
"""Least distance in Cr and Cb (0-255) from the face's median that is still skin; more where the face's own
chroma spreads more (``SKIN_SPREAD`` times its median absolute deviation)."""
SKIN_SPREAD = 3.0
MIN_SKIN_SAMPLES = 30
"""Face pixels needed for a skin colour."""
SKIN_CR, SKIN_CB = (133.0, 173.0), (77.0, 127.0)
"""Cr and Cb ranges that hold human skin of every tone (Chai and Ngan, 1999). The face's median must lie in
them (seen from behind, the face landmarks sample hair: the corpus walker's, grey, matched her dark tights and
would match dark trousers), and so must a leg pixel to count as skin."""


def skin_chroma(frame: np.ndarray, points: np.ndarray, visibility: np.ndarray) -> np.ndarray | None:
    """(median Cr, median Cb, tolerance Cr, tolerance Cb) of the person's face skin (RGB frame, pose landmarks
    in pixels), None when the face is not visible, too small to sample or not skin-coloured (``SKIN_CR``,
    ``SKIN_CB``: the back of a head)."""
    idx = list(FACE_SKIN)
    if float(visibility[idx].min()) < MIN_FACE_VISIBILITY:
        return None
    quad = np.round(points[idx]).astype(np.int32)
    x0, y0 = np.maximum(quad.min(axis=0), 0)
    x1, y1 = np.minimum(quad.max(axis=0) + 1, (frame.shape[1], frame.shape[0]))
    if x1 <= x0 or y1 <= y0:
        return None
    inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(inside, quad - (x0, y0), 1)
    ycc = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2YCrCb)[inside.astype(bool)]
    if len(ycc) < MIN_SKIN_SAMPLES:
        return None
    chroma = ycc[:, 1:].astype(np.float32)
    med = np.median(chroma, axis=0)
    if not (SKIN_CR[0] <= med[0] <= SKIN_CR[1] and SKIN_CB[0] <= med[1] <= SKIN_CB[1]):
        return None
    mad = np.median(np.abs(chroma - med), axis=0)
    return np.concatenate([med, np.maximum(SKIN_CHROMA, SKIN_SPREAD * mad)])


def bare_skin(frame: np.ndarray, skin: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w) float32 in the box: 1 where the pixel has the face's skin chroma (``skin``, from
    :func:`skin_chroma`) within the range of skin (``SKIN_CR``, ``SKIN_CB``): a bare leg, which a boot's shaft
    covers (a trouser leg stays in front of it)."""
    x0, y0, x1, y1 = box
    ycc = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    cr, cb = ycc[..., 1], ycc[..., 2]
    near = (np.abs(cr - skin[0]) <= skin[2]) & (np.abs(cb - skin[1]) <= skin[3])
    near &= (cr >= SKIN_CR[0]) & (cr <= SKIN_CR[1]) & (cb >= SKIN_CB[0]) & (cb <= SKIN_CB[1])
    near = cv2.morphologyEx(near.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return cv2.GaussianBlur(near.astype(np.float32), (3, 3), 0)
