"""A foot's 3D orientation and size from pose world landmarks (metres), as the camera sees it.

The foot's frame is toe direction ``d`` (heel -> foot index) and up ``n`` (heel -> ankle, made perpendicular
to ``d``), both in camera axes (x right, y down, z away from the camera). It is written as three angles of
the shoe model turned to that frame, ``F = Rz(roll) . Rx(pitch) . Ry(yaw) . B`` (``B``: the side view, toe to
the right, up the picture):

- yaw : the foot's heading, 0 toe to the right, 90 toe towards the camera, 180 toe to the left, -90 away;
- pitch : how far the camera looks down onto the sole's plane (0 level with the sole, 90 from above);
- roll : how far the foot's up direction leans in the picture (0 straight up).

The model is drawn with yaw and pitch (views are rendered for a grid of them) and turned by roll in the
picture; for the sizes shoes have in frames (a 0.3 m shoe at 2 m or more from the camera), one view per foot
(weak perspective along the foot's own viewing ray) differs from a full perspective by less than the shoe's
depth over its distance (under 15 %).

Scale: pixels per metre at the foot, from the leg's four points in metres and in pixels (the world axes are
the camera's, so the picture is the world's x, y times a scale: a least-squares fit of that scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tryon.landmarks import FootLandmarks

MIN_LENGTH_M = 0.05
"""Heel to foot index shorter than this (in metres) is a failed estimate."""
KEYPOINTS_OVER_SHIN = 0.45
"""Heel-to-foot-index length over knee-to-ankle length: the 90th percentile of the feet's length in the
picture over the scale, over the shin in metres, on the corpus street video (0.44) and the held-out walking
video (0.50); feet seen from the side give the largest values, foreshortened ones smaller."""
CLEAR_DEPTH_M = 0.04
"""The world landmarks' toe-minus-heel depth is trusted from this many metres on."""
SHORT_FOOT = (0.55, 0.75)
"""Heel to foot index in the picture over the expected length (``KEYPOINTS_OVER_SHIN``) from which the shin's lean
is not used (0.75) and is fully used (0.55): the keypoints lie inside the shoe, a few pixels of error on a short foot
turn it by tens of degrees (the corpus seated man: 21 px of an expected 38, read as 65 degrees, a three-quarter
side view by eye)."""
SHIN_LEAN = (0.25, 0.4)
"""Sideways lean of the shin in the picture (knee to ankle across the picture over the shin, both in metres) from
which the shin's heading is not used (0.25) and is fully used (0.4)."""


@dataclass(frozen=True, slots=True)
class FootPose:
    """yaw, pitch, roll in degrees (see the module), length_m heel -> foot index, px_per_m at the foot,
    shin_m knee -> ankle (metres)."""

    yaw: float
    pitch: float
    roll: float
    length_m: float
    px_per_m: float
    shin_m: float


def frame_angles(d: np.ndarray, n: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of unit toe direction ``d`` and up ``n`` (perpendicular) in camera axes."""
    pitch = math.asin(float(np.clip(-n[2], -1.0, 1.0)))
    roll = math.atan2(float(n[0]), float(-n[1]))
    # undo roll (about z) then pitch (about x): d lies in the sole plane, y = 0
    cr, sr = math.cos(roll), math.sin(roll)
    x, y, z = cr * d[0] + sr * d[1], -sr * d[0] + cr * d[1], d[2]
    cp, sp = math.cos(pitch), math.sin(pitch)
    z2 = -sp * y + cp * z
    yaw = math.atan2(-z2, x)
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """(3, 3) rotation from the side view's axes (toe +x, up -y, lateral -z) turned by the angles (degrees)."""
    y, p, r = math.radians(yaw), math.radians(pitch), math.radians(roll)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def foot_pose(foot: FootLandmarks, shin_m: float | None = None) -> FootPose | None:
    """The foot's orientation and scale, or None without world landmarks or when they are degenerate.

    The pose model's depth for the foot is its weakest coordinate (heel to foot index comes out 0.04-0.14 m
    long on the street video, for feet about 0.25 m long): the heading is taken from the picture (heel ->
    foot index over the scale gives the x, y part in metres), the depth part from the foot's length, which
    is ``KEYPOINTS_OVER_SHIN`` of the shin (``shin_m``, default this frame's knee to ankle in metres); whether
    the toe comes towards the camera or goes away is the world landmarks' answer when they are clear about
    it (``CLEAR_DEPTH_M``), else the way the body faces (``foot.facing``). A short foot under a shin leaning sideways
    in the picture is turned no further towards the camera than the leg's upright plane (:func:`_short_foot_depth`).
    """
    if foot.world is None:
        return None
    knee, ankle, heel, toe = (foot.world[i].astype(np.float64) for i in range(4))
    img = np.stack([foot.knee, foot.ankle, foot.heel, foot.toe]).astype(np.float64)
    wxy = foot.world[:, :2].astype(np.float64)
    ic, wc = img - img.mean(axis=0), wxy - wxy.mean(axis=0)
    denom = float((wc**2).sum())
    if denom < 1e-8:
        return None
    px_per_m = math.sqrt(float((ic**2).sum()) / denom)
    shin = shin_m if shin_m is not None else float(np.linalg.norm(knee - ankle))
    length = KEYPOINTS_OVER_SHIN * shin
    dxy = (foot.toe - foot.heel).astype(np.float64) / px_per_m
    flat = float(np.linalg.norm(dxy))
    if max(flat, length) < MIN_LENGTH_M:
        return None
    length = max(length, flat)
    dz = math.sqrt(max(0.0, length**2 - flat**2))
    bounded = _short_foot_depth(foot, px_per_m, shin, flat, length, dz)
    if bounded < dz:
        dz, length = bounded, math.hypot(flat, bounded)
    world_dz = float(toe[2] - heel[2])
    if abs(world_dz) >= CLEAR_DEPTH_M or foot.facing is None:
        sign = 1.0 if world_dz >= 0 else -1.0
    else:
        sign = 1.0 if foot.facing[2] >= 0 else -1.0
    d = np.array([dxy[0], dxy[1], sign * dz]) / length
    up = ankle - heel
    n = up - np.dot(up, d) * d
    if np.linalg.norm(n) < 1e-6:
        return None
    n /= np.linalg.norm(n)
    yaw, pitch, roll = frame_angles(d, n)
    return FootPose(yaw, pitch, roll, length, px_per_m, shin)


def _short_foot_depth(foot: FootLandmarks, px_per_m: float, shin_m: float, flat: float, length: float,
                      dz: float) -> float:  # fmt: skip
    """The foot's depth (metres, >= 0) once the shin's lean has had its say: when the keypoints' foot is short
    (``SHORT_FOOT``) its depth comes from its length, which a few pixels of keypoint error change a lot. A shin that
    leans sideways in the picture (``SHIN_LEAN``) lies in the leg's upright plane, which holds the foot, so that
    plane's heading (across the picture from the shin's sideways part, into it from the shin's own depth: its
    length in metres against the picture's) bounds how far the foot turns towards the camera. The two are blended
    by how short the foot and how leaning the shin are, so the heading moves smoothly between frames; only ever
    towards the side view (a shin says nothing against a foot seen from the side)."""
    if length <= 0.0 or shin_m <= 0.0:
        return dz
    short = float(np.clip((SHORT_FOOT[1] - flat / length) / (SHORT_FOOT[1] - SHORT_FOOT[0]), 0.0, 1.0))
    if short == 0.0:
        return dz
    sx, sy = ((foot.ankle - foot.knee).astype(np.float64) / px_per_m).tolist()
    lean = float(np.clip((abs(sx) / shin_m - SHIN_LEAN[0]) / (SHIN_LEAN[1] - SHIN_LEAN[0]), 0.0, 1.0))
    if lean == 0.0:
        return dz
    sz = math.sqrt(max(0.0, shin_m**2 - sx**2 - sy**2))
    plane_dz = flat * sz / abs(sx)  # the foot's depth were it heading along the leg's plane
    return dz + short * lean * (min(dz, plane_dz) - dz)
