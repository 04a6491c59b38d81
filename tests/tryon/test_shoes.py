"""Shoes: sprites, foot frames, placement, leg occlusion, and the street video."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.tryon.conftest import LOOKS
from tryon import media
from tryon.factory import create_tryon
from tryon.landmarks import FootLandmarks, PoseLandmarks
from tryon.look import parse_look
from tryon.settings import TryOnSettings
from tryon.shoes.feet import FootFrame, foot_frame
from tryon.shoes.occlusion import leg_mask
from tryon.shoes.placement import place
from tryon.shoes.render import ShoeRenderer, _fitted
from tryon.shoes.sprite import procedural_views, side_from_image


def foot(heel, toe, ankle, knee, toe_nearer=False, side="left") -> FootLandmarks:  # type: ignore[no-untyped-def]
    a = lambda v: np.array(v, np.float32)  # noqa: E731
    return FootLandmarks(side, a(knee), a(ankle), a(heel), a(toe), 0.9, toe_nearer)  # type: ignore[arg-type]


def test_procedural_views_are_opaque_shoes_with_marked_points() -> None:
    views = procedural_views("#C8102E")
    for v in (views.side, views.front, views.back):
        alpha = v.rgba[..., 3]
        ys, xs = np.nonzero(alpha > 128)
        assert xs.size > 1000
        ax, ay = np.round(v.anchor).astype(int)
        assert alpha[ay, ax] == 255  # the anchor is inside the shoe
        assert abs(v.sole_center[1] - ys.max()) <= 2  # the sole centre is at the bottom
    red = views.side.rgba[..., 0].astype(int) - views.side.rgba[..., 1]
    assert (red > 100).sum() > 2000


def test_side_view_follows_the_foot_direction() -> None:
    right = foot_frame(foot((100, 200), (160, 200), (105, 170), (110, 80)))
    left = foot_frame(foot((160, 200), (100, 200), (155, 170), (150, 80)))
    assert right is not None and left is not None
    assert right.view == left.view == "side"
    assert right.along[0] > 0.99 and left.along[0] < -0.99
    assert right.up[1] < -0.99 and left.up[1] < -0.99  # up the leg in both
    views = procedural_views("#C8102E")
    pr = place(views.side, right, (400, 400))
    pl = place(views.side, left, (400, 400))
    assert pr is not None and pl is not None
    assert np.linalg.det(pr.matrix[:, :2]) > 0 > np.linalg.det(pl.matrix[:, :2])  # mirrored, not upside down
    assert np.allclose(pr.matrix[:, :2] @ views.side.anchor + pr.matrix[:, 2], (130, 200))


def test_front_and_back_views_for_feet_pointing_at_or_away_from_the_camera() -> None:
    front = foot_frame(foot((100, 196), (101, 206), (100, 180), (100, 90), toe_nearer=True))
    back = foot_frame(foot((100, 206), (101, 196), (100, 180), (100, 90), toe_nearer=False))
    assert front is not None and back is not None
    assert (front.view, back.view) == ("front", "back")
    assert front.span == pytest.approx(0.3 * 90, rel=0.05)  # scaled from the shin


def test_leg_mask_covers_only_above_the_collar() -> None:
    ff = foot_frame(foot((100, 200), (160, 200), (105, 170), (110, 80)))
    assert ff is not None
    seg = np.ones((300, 300), np.float32)
    collar = np.array([110.0, 180.0])
    m = leg_mask(seg, ff, collar, (0, 0, 300, 300))
    assert m[150, 130] == 1.0 and m[190, 130] == 0.0 and m[230, 130] == 0.0
    assert leg_mask(np.zeros_like(seg), ff, collar, (0, 0, 300, 300)).max() == 0.0


def test_renderer_places_and_occludes() -> None:
    frame = np.full((300, 300, 3), 90, np.uint8)
    f = foot((100, 200), (160, 200), (105, 170), (110, 80))
    seg = np.zeros((300, 300), np.float32)
    seg[:190, 95:120] = 1.0  # a leg coming down to the ankle
    seg[185:206, 95:165] = 1.0  # and the real shoe: a person mask covers the foot
    pose = PoseLandmarks(np.zeros((33, 2), np.float32), np.ones(33, np.float32), (f,), seg)
    r = ShoeRenderer(procedural_views("#C8102E"))
    out, placed = r.apply(frame, pose)
    assert len(placed) == 1 and placed[0].view == "side"
    changed = np.any(out != frame, axis=2)
    assert changed[195:215, 90:180].mean() > 0.5  # the shoe is drawn at the foot
    assert not changed[120:160, 100:115].any()  # the leg above the collar stays in front
    assert 0 < placed[0].error_px < 40
    no_seg = PoseLandmarks(pose.points, pose.visibility, (f,), None)
    out2, _ = r.apply(frame, no_seg)
    assert np.any(out2 != out)  # without segmentation nothing hides the collar
    assert np.array_equal(frame, np.full((300, 300, 3), 90, np.uint8))  # input untouched


def test_product_image_with_transparency(tmp_path: Path) -> None:
    rgba = np.zeros((60, 160, 4), np.uint8)
    cv2.rectangle(rgba, (10, 10), (150, 50), (255, 0, 0, 255), -1)  # BGRA: blue
    cv2.imwrite(str(tmp_path / "shoe.png"), rgba)
    (tmp_path / "look.json").write_text(json.dumps([{"kind": "shoes", "shade": "#222222", "image": "shoe.png"}]))
    look = media.read_look(tmp_path / "look.json")
    r = ShoeRenderer.from_look(look, tmp_path)
    assert r.views.side.rgba.shape[:2] == (41, 141)  # cropped to the opaque part
    assert tuple(r.views.side.rgba[20, 70]) == (0, 0, 255, 255)
    with pytest.raises(ValueError, match="transparent"):
        side_from_image(np.zeros((10, 10, 4), np.uint8))


def test_street_video_every_foot_gets_a_shoe(corpus: Path) -> None:
    """The first 80 frames of the street video: the walker's feet (the largest person) get shoes near their
    keypoints, and so do most other people's visible feet."""
    look = parse_look((LOOKS / "sneakers.json").read_text())
    tryon = create_tryon(look, TryOnSettings(), "video")
    frames = walker_feet = walker_shoes = feet = shoes = 0
    errors = []
    try:
        for t, frame in media.read_video(corpus / "images" / "street_walking_720p50.avi", limit=80):
            frames += 1
            r = tryon.process(frame, t)
            assert r.pose is not None
            walker_feet += len(r.pose.feet)
            mine = [s for s in r.shoes_placed if s.person == r.pose.person]
            walker_shoes += len(mine)
            errors += [s.error_px for s in mine]
            feet += sum(len(p.feet) for p in r.people)
            shoes += len(r.shoes_placed)
            assert np.any(r.frame != frame)
    finally:
        tryon.provider.close()
    assert walker_feet >= 2 * 80 * 0.9
    assert walker_shoes >= 0.9 * walker_feet
    assert shoes >= 0.8 * feet
    # the sole centre sits below the heel/foot-index midpoint by the foot's height in the shoe
    assert 2.0 < np.mean(errors) < 15.0 and max(errors) < 25.0


def test_a_front_or_back_shoe_goes_down_onto_the_real_one() -> None:
    """Keypoints at the ankle (the corpus walker seen from behind): the person mask goes on 14 px below the back
    sprite's sole, so the shoe goes down by that (less the outline's slack) onto the real shoe; a side view and a
    mask ending at the sole stay where the keypoints put them."""
    views = procedural_views("#C8102E")
    along, up = np.array([1.0, 0.0]), np.array([0.0, -1.0])
    shape = (300, 300, 3)
    for view, moved in (("back", True), ("side", False)):
        p = place(views.get(view), FootFrame("left", view, np.array([150.0, 150.0]), along, up, 40.0), shape)
        assert p is not None
        shoe = cv2.warpAffine(p.sprite.rgba[..., 3], p.matrix, shape[1::-1]) > 127
        seg = shoe.astype(np.float32)
        assert _fitted(p, seg).box == p.box  # the mask ends at the sole: no move
        seg[14:][shoe[:-14]] = 1.0  # the real shoe reaches 14 px lower
        down = _fitted(p, seg).box[3] - p.box[3]
        assert (11 <= down <= 14) if moved else down == 0
