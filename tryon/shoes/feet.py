"""Foot frames from pose keypoints: where the sole centre goes, which way is toe and up, and the view."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tryon.landmarks import FootLandmarks, PoseLandmarks
from tryon.shoes.sprite import View

SIDE_VIEW_RATIO = 1.0
"""Heel-to-toe length over ankle height above which the foot is seen from the side."""
SIDE_LENGTH_FACTOR = 1.5
"""Shoe sole length over the heel-to-foot-index distance (the keypoints sit inside the shoe's outline)."""
SHIN_LENGTH_FACTOR = 0.65
"""Shoe length over the knee-to-ankle length (a lower bound when the foot is foreshortened)."""
END_WIDTH_FACTOR = 0.3
"""Shoe sole width over the knee-to-ankle length, for front and back views."""
FOOT_ABOVE_HIPS = 0.5
"""How far (share of the shoulders-to-hips length) a foot's heel or toe may lie above the hips in the picture and
still be a foot: a person lying down or sitting on the floor has the feet about level with the hips. The pose's
left heel put on the chest of the man cut by the held-out bus.jpg's right edge lay 1.6 above them; a foot put on
an umpire's arm (OpenPose example COCO 488) 0.6, feet put on kites in the sky (COCO 569) 0.7 and 1.1. Only the
picture counts, not the torso's direction: that false person's torso pointed up."""


@dataclass(frozen=True, slots=True)
class FootFrame:
    """A foot's placement frame in pixels.

    origin : (2,) heel/foot-index midpoint, where the sprite's anchor goes
    along : (2,) unit vector heel -> toe (side view) or across the foot (front/back)
    up : (2,) unit vector from the sole towards the ankle
    span : shoe length (side) or width (front/back) in pixels
    """

    side: str
    view: View
    origin: np.ndarray
    along: np.ndarray
    up: np.ndarray
    span: float


def foot_frame(foot: FootLandmarks) -> FootFrame | None:
    """The frame of one foot, or None when its keypoints are degenerate."""
    mid = foot.sole_mid.astype(np.float64)
    toe_vec = (foot.toe - foot.heel).astype(np.float64)
    length = float(np.linalg.norm(toe_vec))
    up_vec = foot.ankle.astype(np.float64) - mid
    height = float(np.linalg.norm(up_vec))
    if height < 1.0 and length < 1.0:
        return None
    # seen from the side when the foot is long in the picture and points sideways rather than up/down
    if length >= SIDE_VIEW_RATIO * height and length >= 1.0 and abs(toe_vec[0]) >= abs(toe_vec[1]):
        along = toe_vec / length
        up = np.array([along[1], -along[0]])
        if np.dot(up, up_vec) < 0:
            up = -up
        span = max(SIDE_LENGTH_FACTOR * length, SHIN_LENGTH_FACTOR * foot.shin)
        return FootFrame(foot.side, "side", mid, along, up, span)
    up = up_vec / max(height, 1e-6)
    along = np.array([-up[1], up[0]])
    if along[0] < 0:
        along = -along
    view: View = "front" if foot.toe_nearer else "back"
    return FootFrame(foot.side, view, mid, along, up, END_WIDTH_FACTOR * max(foot.shin, 2.0 * height))


def foot_below_hips(foot: FootLandmarks, pose: PoseLandmarks) -> bool:
    """True when the foot's heel and toe lie below the person's hips in the picture, or at most
    ``FOOT_ABOVE_HIPS`` of the person's shoulders-to-hips length above them (a person lying down)."""
    hips = (pose.points[23].astype(np.float64) + pose.points[24]) / 2.0
    shoulders = (pose.points[11].astype(np.float64) + pose.points[12]) / 2.0
    torso = float(np.linalg.norm(hips - shoulders))
    top = min(float(foot.heel[1]), float(foot.toe[1]))
    return torso < 1.0 or top - hips[1] >= -FOOT_ABOVE_HIPS * torso
