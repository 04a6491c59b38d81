"""A short foot's heading: when heel and foot index are too close to say how far the foot turns to the camera, a
shin leaning sideways in the picture bounds it (the leg's upright plane holds the foot).

The real case is MediaPipe's own pose on the corpus's seated man (``person_standing_shoes.jpg``): heel to foot
index 21 px of an expected 38, read as 65 degrees towards the camera and drawn from the front, while by eye his
sneaker is seen from the side at about three quarters. The synthetic feet check that nothing else moves: a long
foot, a short foot under an upright shin, and a heading that changes smoothly as the shin leans further.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.tryon.conftest import load_rgb
from tryon.landmarks import FootLandmarks
from tryon.providers.mediapipe import MediaPipeProvider
from tryon.shoes.orientation import KEYPOINTS_OVER_SHIN, foot_pose
from tryon.shoes.render import ShoeRenderer
from tryon.shoes.sprite import procedural_views

PX_PER_M = 250.0
SHIN_M = 0.4


def _foot(lean: float, toe_share: float, toe_depth: float = -0.1) -> FootLandmarks:
    """A left foot whose shin (``SHIN_M``) leans ``lean`` of its length sideways in the picture and whose heel to
    foot index is ``toe_share`` of the expected length in the picture, its toe ``toe_depth`` metres towards the
    camera in the world landmarks; pixels at ``PX_PER_M``."""
    sx = lean * SHIN_M
    sy = math.sqrt(SHIN_M**2 - sx**2) * 0.95  # a little foreshortened, as real shins are
    knee_w = np.array([0.0, 0.0, 0.0])
    ankle_w = np.array([sx, sy, -math.sqrt(max(0.0, SHIN_M**2 - sx**2 - sy**2))])
    heel_w = ankle_w + np.array([-0.01, 0.06, 0.0])
    toe_w = heel_w + np.array([toe_share * KEYPOINTS_OVER_SHIN * SHIN_M, 0.01, toe_depth])
    world = np.stack([knee_w, ankle_w, heel_w, toe_w]).astype(np.float32)
    pix = (world[:, :2] * PX_PER_M + np.array([300.0, 200.0])).astype(np.float32)
    return FootLandmarks("left", pix[0], pix[1], pix[2], pix[3], 0.9, True, world, None)


def test_a_long_foot_keeps_its_heading_whatever_the_shin() -> None:
    upright, leaning = foot_pose(_foot(0.0, 0.95)), foot_pose(_foot(0.6, 0.95))
    assert upright is not None and leaning is not None
    assert abs(upright.yaw) < 40.0  # seen from the side by its keypoints alone
    assert leaning.yaw == pytest.approx(upright.yaw, abs=1e-3)


def test_a_short_foot_under_an_upright_shin_keeps_its_front_view() -> None:
    fp = foot_pose(_foot(0.1, 0.4))
    assert fp is not None
    assert 60.0 < fp.yaw < 120.0  # towards the camera: nothing says otherwise


def test_a_short_foot_under_a_leaning_shin_turns_towards_the_side_smoothly() -> None:
    yaws = []
    for lean in np.linspace(0.0, 0.7, 29):
        fp = foot_pose(_foot(float(lean), 0.45))
        assert fp is not None
        yaws.append(fp.yaw)
    assert yaws[0] > 60.0 and yaws[-1] < 40.0
    steps = np.abs(np.diff(yaws))
    assert steps.max() < 10.0  # no jump between neighbouring leans (0.025 of the shin apart): 8.6 degrees at most
    assert (np.diff(yaws) <= 1.0).all()  # towards the side only (the scale's fit wobbles by under a degree)


def test_the_corpus_seated_mans_sneaker_is_drawn_from_the_side(provider: MediaPipeProvider, corpus: Path) -> None:
    rgb = load_rgb(corpus / "images" / "person_standing_shoes.jpg")
    people = provider.people(rgb)
    seated = [(p, f) for p in people for f in p.feet if np.linalg.norm(f.heel - np.array([178.0, 529.0])) < 15.0]
    assert len(seated) == 1, [f.heel for p in people for f in p.feet]
    _, foot = seated[0]
    fp = foot_pose(foot)
    assert fp is not None
    assert float(np.linalg.norm(foot.toe - foot.heel)) < 0.6 * KEYPOINTS_OVER_SHIN * fp.shin_m * fp.px_per_m
    assert abs(fp.yaw) < 42.0, fp.yaw  # main: 65 (front)
    placed, _ = ShoeRenderer(procedural_views("#C8102E", "sneaker")).placements(rgb.shape, people)
    views = [p.frame.view for p, _, _ in placed if np.linalg.norm(p.ankle - foot.ankle) < 1.0]
    assert views == ["side"]
    # his neighbour's feet, whose keypoints are long enough or whose shins stand upright, keep their views
    others = sorted((float(p.frame.origin[0]), p.frame.view) for p, _, _ in placed if p.ankle is not None
                    and np.linalg.norm(p.ankle - foot.ankle) >= 1.0)  # fmt: skip
    assert [v for _, v in others] == ["side", "front"]  # the standing man's right foot, then his left
