"""Erasing the shopper's real shoe before the virtual one is drawn (synthetic foot and street video frames)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tryon import media
from tryon.landmarks import FootLandmarks, PoseLandmarks
from tryon.providers.mediapipe import MediaPipeProvider
from tryon.shoes.erase import erase_box, erase_real_shoe
from tryon.shoes.occlusion import above_collar
from tryon.shoes.placement import Placement
from tryon.shoes.render import ShoeRenderer, erase_area, occlusion_point
from tryon.shoes.sprite import procedural_views


def placements(r: ShoeRenderer, pose: PoseLandmarks, shape: tuple[int, ...]) -> list[Placement]:
    return [p for p, _, _ in r.placements(shape, [pose])[0]]


def below_collar(p: Placement, box: tuple[int, int, int, int]) -> np.ndarray:
    return above_collar(p.frame, occlusion_point(p), box) == 0.0


def real_shoe_left(out: np.ndarray, frame: np.ndarray, seg: np.ndarray, p: Placement) -> int:
    """Person pixels under the collar line, outside the new shoe, still showing the (white) real shoe."""
    x0, y0, x1, y1 = p.box
    m = p.matrix.copy()
    m[:, 2] -= (x0, y0)
    alpha = cv2.warpAffine(p.sprite.rgba[..., 3], m, (x1 - x0, y1 - y0))
    o, f = out[y0:y1, x0:x1].astype(np.int16), frame[y0:y1, x0:x1].astype(np.int16)
    real = (seg[y0:y1, x0:x1] > 0.5) & (alpha == 0) & below_collar(p, p.box) & (f.min(axis=2) > 150)
    return int((real & (np.abs(o - f).max(axis=2) < 12)).sum())


def test_real_shoe_outside_the_new_one_is_filled_with_background() -> None:
    frame = np.full((300, 300, 3), 90, np.uint8)
    frame[:190, 95:120] = 30  # dark leg
    frame[185:222, 80:190] = 250  # the real shoe, larger than the new one
    seg = np.zeros((300, 300), np.float32)
    seg[:190, 95:120] = 1.0
    seg[185:222, 80:190] = 1.0
    a = lambda v: np.array(v, np.float32)  # noqa: E731
    f = FootLandmarks("left", a((110, 80)), a((105, 170)), a((100, 200)), a((160, 200)), 0.9, False)
    pose = PoseLandmarks(np.zeros((33, 2), np.float32), np.ones(33, np.float32), (f,), seg)
    views = procedural_views("#C8102E")
    erased, placed = ShoeRenderer(views).apply(frame, pose)
    kept, _ = ShoeRenderer(views, erase=False).apply(frame, pose)
    (p,) = placements(ShoeRenderer(views), pose, frame.shape)
    assert real_shoe_left(kept, frame, seg, p) > 300
    assert real_shoe_left(erased, frame, seg, p) == 0
    untouched = np.all(kept == frame, axis=2) & (frame[..., 0] == 250)  # real shoe the new one does not cover
    filled = erased[untouched].astype(int)
    assert filled.max() < 150 and abs(np.median(filled) - 90) < 5  # no white left: ground (leg colour by the leg)
    assert np.array_equal(erased[120:160], kept[120:160])  # the leg above the collar is kept
    assert len(placed) == 1 and np.array_equal(frame[200, 100], (250, 250, 250))  # input untouched


def test_erase_without_person_or_below_the_collar_changes_nothing() -> None:
    frame = np.full((50, 50, 3), 200, np.uint8)
    seg = np.zeros((50, 50), np.float32)
    below = np.ones((20, 20), bool)
    assert erase_real_shoe(frame, seg, below, (10, 10, 30, 30)) == 0
    seg[15:25, 15:25] = 1.0
    assert erase_real_shoe(frame, seg, ~below, (10, 10, 30, 30)) == 0
    assert (frame == 200).all()
    assert 10 * 10 < erase_real_shoe(frame, seg, below, (10, 10, 30, 30)) < 16 * 16  # dilated by 3 px (disc)
    assert np.abs(frame[10:30, 10:30].astype(int) - 200).max() <= 5 and (frame[:8] == 200).all()  # ground fill


def test_street_video_real_shoes_are_erased_and_far_pixels_kept(corpus: Path) -> None:
    """Every 10th of the first 81 street frames, pose tracked as in video try-on."""
    views = procedural_views("#C8102E")
    on, off = ShoeRenderer(views), ShoeRenderer(views, erase=False)
    left_on = left_off = checked = 0
    provider = MediaPipeProvider("video")
    try:
        for i, (t, frame) in enumerate(media.read_video(corpus / "images" / "street_walking_720p50.avi", limit=81)):
            pose = provider.pose(frame, t)
            if i % 10:
                continue
            assert pose is not None and pose.segmentation is not None and len(pose.feet) == 2
            erased, _ = on.apply(frame, pose)
            kept, _ = off.apply(frame, pose)
            near = np.zeros(frame.shape[:2], bool)  # the erased boxes
            erasable = np.zeros(frame.shape[:2], bool)  # their parts under a collar line
            for p in placements(on, pose, frame.shape):
                left_on += real_shoe_left(erased, frame, pose.segmentation, p)
                left_off += real_shoe_left(kept, frame, pose.segmentation, p)
                (x0, y0, x1, y1), area = erase_area(p, pose, pose.segmentation, frame)
                near[y0:y1, x0:x1] = True
                erasable[y0:y1, x0:x1] |= area
            assert np.array_equal(erased[~near], frame[~near])  # far from the feet: bit-identical
            assert np.array_equal(erased[~erasable], kept[~erasable])  # the leg above the collar: drawn as before
            assert np.any(erased[near] != kept[near])
            checked += 1
    finally:
        provider.close()
    assert checked == 9
    assert left_off > 2000  # 4120 at the time of writing, 581 left after erasing
    assert left_on < 0.3 * left_off


def test_the_top_of_a_taller_real_shoe_is_erased_and_the_leg_kept() -> None:
    """A real shoe taller than the new one: its top above the new shoe's collar line, beside the shin, is erased
    (it showed white above the corpus walker's new sneakers); the leg above the collar stays as it was."""
    frame = np.full((400, 400, 3), 90, np.uint8)
    a = lambda v: np.array(v, np.float32)  # noqa: E731
    f = FootLandmarks("left", a((200, 100)), a((200, 230)), a((190, 262)), a((280, 262)), 0.9, False)
    seg = np.zeros((400, 400), np.float32)
    frame[:236, 188:213] = 30  # dark leg (shin) down into the shoe
    seg[:236, 188:213] = 1.0
    frame[205:275, 170:300] = 250  # the real white shoe: its top reaches 25 px above the ankle
    seg[205:275, 170:300] = 1.0
    pose = PoseLandmarks(np.zeros((33, 2), np.float32), np.ones(33, np.float32), (f,), seg)
    views = procedural_views("#C8102E")
    out, placed = ShoeRenderer(views).apply(frame, pose)
    assert len(placed) == 1
    (p,) = placements(ShoeRenderer(views), pose, frame.shape)
    box = erase_box(p.box, p.frame.span, frame.shape)
    x0, y0, x1, y1 = box
    top = np.zeros((400, 400), bool)
    top[y0:y1, x0:x1] = ~below_collar(p, box)
    top &= seg > 0.5
    toe_top = top.copy()
    toe_top[:, :255] = False  # the shoe's top towards the toe, away from the shin and the fill's blend with it
    assert toe_top.sum() > 100
    unchanged = np.abs(out.astype(np.int16) - frame).max(axis=2) < 12
    assert not (unchanged & toe_top).any()  # none of it left as it was: filled (or covered by the new shoe)
    kept, _ = ShoeRenderer(views, erase=False).apply(frame, pose)
    assert (np.abs(kept.astype(np.int16) - frame).max(axis=2)[toe_top] < 12).mean() > 0.9  # showed without erasing
    assert np.array_equal(out[:180, 188:213], frame[:180, 188:213])  # the shin above: untouched


def test_the_fill_comes_from_the_floor_not_from_a_person_beside_the_shoe() -> None:
    """Another person's trouser leg right beside the real shoe (the corpus seated man's sneaker by the standing
    man's jeans) and the shopper's own leg: the filled pixels take the floor's colour, not theirs (the fill used
    to march in from every pixel around the erased area: a blue smear on the carpet)."""
    floor, jeans, leg = np.array((150, 130, 110)), np.array((40, 60, 120)), np.array((60, 40, 30))
    frame = np.empty((300, 300, 3), np.uint8)
    frame[:] = floor
    frame[:190, 95:120] = leg
    frame[185:222, 80:190] = 250  # the real shoe, larger than the new one
    frame[60:300, 190:260] = jeans  # another person's leg, touching the real shoe's toe
    seg = np.zeros((300, 300), np.float32)
    seg[:190, 95:120] = 1.0
    seg[185:222, 80:190] = 1.0
    other = np.zeros((300, 300), np.float32)
    other[60:300, 190:260] = 1.0
    a = lambda v: np.array(v, np.float32)  # noqa: E731
    f = FootLandmarks("left", a((110, 80)), a((105, 170)), a((100, 200)), a((160, 200)), 0.9, False)
    pose = PoseLandmarks(np.zeros((33, 2), np.float32), np.ones(33, np.float32), (f,), seg, person=0)
    bystander = PoseLandmarks(np.zeros((33, 2), np.float32), np.zeros(33, np.float32), (), other, person=1)
    views = procedural_views("#C8102E")
    erased, placed, _ = ShoeRenderer(views).apply_people(frame, [pose, bystander])
    kept, _, _ = ShoeRenderer(views, erase=False).apply_people(frame, [pose, bystander])
    assert len(placed) == 1
    filled = np.any(erased != kept, axis=2)
    assert filled.sum() > 200
    mean = erased[filled].astype(np.float64).mean(axis=0)
    to_floor, to_jeans, to_leg = (float(np.linalg.norm(mean - c)) for c in (floor, jeans, leg))
    assert to_floor < 15 < min(to_jeans, to_leg)  # 25 before the change (the shoe's white and the jeans' blue)
    assert np.array_equal(erased[other > 0], kept[other > 0])  # the other person is not erased


def test_the_real_heel_behind_the_heel_keypoint_is_erased() -> None:
    """The real shoe's heel counter rises behind the leg, above the new sneaker's collar line, past the heel
    keypoint (which lies inside the shoe: the corpus seated man's white heel showed behind his new boot): it is
    erased up to a little above the ankle's line (323 of its pixels were left at the time of writing before)."""
    frame = np.full((300, 300, 3), 90, np.uint8)
    seg = np.zeros((300, 300), np.float32)
    frame[:190, 95:120] = 30  # dark leg
    frame[185:222, 80:190] = 250  # the real shoe
    frame[150:200, 70:97] = 250  # its heel counter, behind the leg
    seg[frame[..., 0] != 90] = 1.0  # the person: leg, shoe, heel
    a = lambda v: np.array(v, np.float32)  # noqa: E731
    f = FootLandmarks("left", a((110, 80)), a((105, 170)), a((100, 200)), a((160, 200)), 0.9, False)
    pose = PoseLandmarks(np.zeros((33, 2), np.float32), np.ones(33, np.float32), (f,), seg)
    views = procedural_views("#C8102E")
    heel = np.zeros((300, 300), bool)
    heel[165:200, 70:97] = True  # from 5 px above the ankle keypoint down
    left = {}
    for erase in (True, False):
        out, placed = ShoeRenderer(views, erase=erase).apply(frame, pose)
        assert len(placed) == 1
        left[erase] = int((heel & (np.abs(out.astype(np.int16) - frame).max(axis=2) < 12)).sum())
    assert left[False] > 400
    assert left[True] < 100  # 62 now: the top few rows, above the band along the foot
