"""Shoes only on feet: a foot the pose puts above its person's hips gets no shoe, the person's other foot keeps its.

The landmarks are MediaPipe's own on corpus photos (a crouching person leaning forward, a standing group); the
implausible foot is one of them moved up onto the chest, as the pose put a heel on the held-out bus.jpg's man cut
by the frame's edge (130 px above his hips, at visibility 0.59).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tests.tryon.conftest import load_rgb
from tryon.landmarks import FootLandmarks, PoseLandmarks
from tryon.providers.mediapipe import MediaPipeProvider
from tryon.shoes.feet import foot_below_hips
from tryon.shoes.render import IMPLAUSIBLE, ShoeRenderer
from tryon.shoes.sprite import procedural_views


def _people(provider: MediaPipeProvider, corpus: Path, name: str) -> tuple[np.ndarray, list[PoseLandmarks]]:
    rgb = load_rgb(corpus / "images" / name)
    return rgb, provider.people(rgb)


def _moved(foot: FootLandmarks, to: np.ndarray) -> FootLandmarks:
    """The foot's knee, ankle, heel and toe shifted so that its sole's middle lies at ``to``."""
    off = (to - foot.sole_mid).astype(np.float32)
    return dataclasses.replace(foot, knee=foot.knee + off, ankle=foot.ankle + off, heel=foot.heel + off,
                               toe=foot.toe + off)  # fmt: skip


def _turned(p: PoseLandmarks, quarter: int) -> PoseLandmarks:
    """The pose turned by ``quarter`` x 90 degrees about its hips (a person lying down; the mask is left out)."""
    hips = (p.points[23] + p.points[24]) / 2.0
    c, s = round(np.cos(quarter * np.pi / 2)), round(np.sin(quarter * np.pi / 2))
    rot = np.array([[c, -s], [s, c]], np.float32)

    def turn(pts: np.ndarray) -> np.ndarray:
        return ((pts - hips) @ rot.T + hips).astype(np.float32)

    feet = tuple(dataclasses.replace(f, knee=turn(f.knee), ankle=turn(f.ankle), heel=turn(f.heel), toe=turn(f.toe))
                 for f in p.feet)  # fmt: skip
    return dataclasses.replace(p, points=turn(p.points), feet=feet, segmentation=None)


def _chest(p: PoseLandmarks) -> np.ndarray:
    """Three quarters of the way from the hips up to the shoulders."""
    hips, shoulders = (p.points[23] + p.points[24]) / 2.0, (p.points[11] + p.points[12]) / 2.0
    return hips + 0.75 * (shoulders - hips)


@pytest.mark.parametrize(
    ("name", "straight"), [("person_crouching_feet.jpg", False), ("person_standing_shoes.jpg", True)]
)
def test_real_feet_crouching_standing_or_lying_are_below_the_hips(
    provider: MediaPipeProvider, corpus: Path, name: str, straight: bool
) -> None:
    """Real feet pass (the standing photo's second person sits, legs forward), and so do the standing person's laid
    down (turned a quarter either way: feet level with the hips); a foot moved onto the chest does not."""
    _, people = _people(provider, corpus, name)
    feet = [(p, f) for p in people for f in p.feet]
    assert len(feet) >= 2
    for p, f in feet:
        assert foot_below_hips(f, p), (name, p.person, f.side)
        lying = [_turned(p, q) for q in (1, 3)] if straight and p.person == 0 else []
        assert all(foot_below_hips(g, q) for q in lying for g in q.feet if g.side == f.side), (name, f.side)
        assert not foot_below_hips(_moved(f, _chest(p)), p), (name, p.person, f.side)


def test_a_foot_put_on_the_chest_gets_no_shoe_and_the_other_foot_keeps_its(
    provider: MediaPipeProvider, corpus: Path
) -> None:
    rgb, people = _people(provider, corpus, "person_crouching_feet.jpg")
    (p,) = people
    assert len(p.feet) == 2
    renderer = ShoeRenderer(procedural_views("#C8102E"))
    placed, notes = renderer.placements(rgb.shape, [p])
    assert sorted(pl.frame.side for pl, _, _ in placed) == ["left", "right"] and not notes  # both real feet shod
    moved, kept = p.feet
    on_chest = dataclasses.replace(p, feet=(_moved(moved, _chest(p)), kept))
    # the moved foot is on the person's mask (the chest): only its height above the hips gives it away
    seg = on_chest.segmentation
    assert seg is not None
    for pt in (on_chest.feet[0].heel, on_chest.feet[0].toe):
        assert seg[round(float(pt[1])), round(float(pt[0]))] > 0.5
    placed, notes = renderer.placements(rgb.shape, [on_chest])
    assert [pl.frame.side for pl, _, _ in placed] == [kept.side]
    assert notes == [f"person {p.person} {moved.side} foot: {IMPLAUSIBLE}: no shoe"]
    out, shoes, _ = renderer.apply_people(rgb, [on_chest])
    assert [s.side for s in shoes] == [kept.side]
    assert np.array_equal(out[: round(float(_chest(p)[1])) + 20], rgb[: round(float(_chest(p)[1])) + 20])
