"""Shoes from the foot's 3D pose, only on feet, on every person, without view flips, under the trouser.

Synthetic feet are built from a known heading (world landmarks in metres, pictures by a known scale); the
people tests run MediaPipe on the corpus.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from assets_pipeline.render import MeshItem
from tests.tryon.conftest import load_rgb
from tryon import media
from tryon.landmarks import FootLandmarks, PoseLandmarks
from tryon.providers.mediapipe import MediaPipeProvider
from tryon.shoes.orientation import KEYPOINTS_OVER_SHIN, foot_pose, frame_angles, rotation
from tryon.shoes.render import ShoeRenderer
from tryon.shoes.sprite import ShoeViews, procedural_views
from tryon.shoes.tracking import HYSTERESIS_DEG, angle_diff, sphere_view, sprite_view
from tryon.shoes.views import ViewSphere

PX_PER_M = 400.0
SHIN_M = 0.4


def world_foot(yaw: float, ankle_px: tuple[float, float], side: str = "left", pitch: float = 15.0) -> FootLandmarks:
    """A foot heading ``yaw`` (degrees), camera ``pitch`` above the sole, seen at ``PX_PER_M`` px/m."""
    r = rotation(yaw, pitch, 0.0)
    d, up = r @ np.array([1.0, 0.0, 0.0]), r @ np.array([0.0, -1.0, 0.0])
    ankle = np.zeros(3)
    knee = ankle + SHIN_M * up
    heel = ankle - 0.07 * up - 0.04 * d
    toe = heel + KEYPOINTS_OVER_SHIN * SHIN_M * d
    world = np.stack([knee, ankle, heel, toe]).astype(np.float32)
    img = world[:, :2] * PX_PER_M + np.asarray(ankle_px, np.float32)
    return FootLandmarks(side, img[0], img[1], img[2], img[3], 0.95, bool(toe[2] < heel[2]), world)  # type: ignore[arg-type]


def person(feet: tuple[FootLandmarks, ...], seg: np.ndarray | None, pid: int = 0) -> PoseLandmarks:
    return PoseLandmarks(np.zeros((33, 2), np.float32), np.ones(33, np.float32), feet, seg, pid)


def test_angles_round_trip_and_foot_pose_recovers_the_heading() -> None:
    for yaw, pitch, roll in [(0, 0, 0), (90, 20, 0), (-90, 30, 5), (170, 10, -12), (-35, 40, 20)]:
        r = rotation(yaw, pitch, roll)
        got = frame_angles(r @ np.array([1.0, 0, 0]), r @ np.array([0, -1.0, 0]))
        assert np.allclose(got, (yaw, pitch, roll), atol=1e-6)
    for yaw in (0.0, 40.0, 90.0, 135.0, -60.0, -120.0, 180.0):
        fp = foot_pose(world_foot(yaw, (200, 200)))
        assert fp is not None
        assert abs(angle_diff(fp.yaw, yaw)) < 2.0 and abs(fp.pitch - 15.0) < 2.0
        assert fp.px_per_m == pytest.approx(PX_PER_M, rel=0.01)


def test_no_view_flip_on_a_noisy_yaw_sequence() -> None:
    """A foot turning slowly from side to front and back, measured with +-8 degrees of noise: each view
    boundary is crossed once, never back, by both the sprite views and the view sphere."""
    rng = np.random.default_rng(3)
    clean = np.concatenate([np.linspace(0, 120, 90), np.linspace(120, 0, 90)])
    noisy = clean + rng.uniform(-8, 8, clean.size)
    views, keys = [], []
    view, key = None, None
    for y in noisy:
        view = sprite_view(float(y), view)
        key = sphere_view(float(y), 20.0, key, 15, (0, 20, 40, 60))
        views.append(view)
        keys.append(key)
    changes = [(a, b) for a, b in itertools.pairwise(views) if a != b]
    assert changes == [("side", "front"), ("front", "side")]  # without hysteresis: dozens
    key_changes = sum(a != b for a, b in itertools.pairwise(keys))
    assert key_changes <= 2 * 120 / 15 + 2  # each bin entered once on the way out and once on the way back
    for i in range(1, len(keys)):  # every change matches the clean heading: it left the old bin for real
        if keys[i] != keys[i - 1]:
            assert abs(angle_diff(float(clean[i]), keys[i - 1][0])) > 15 / 2 + HYSTERESIS_DEG - 8 - 1e-9


def test_renderer_views_follow_the_heading_without_flips() -> None:
    """Through the renderer: a foot turning towards the camera gets side, then front, no flip back."""
    frame = np.full((400, 400, 3), 90, np.uint8)
    seg = np.ones((400, 400), np.float32)
    r = ShoeRenderer(procedural_views("#C8102E"))
    rng = np.random.default_rng(1)
    seen = []
    for i, yaw in enumerate(np.linspace(0, 90, 60) + rng.uniform(-8, 8, 60)):
        _, placed, _ = r.apply_people(frame, [person((world_foot(float(yaw), (200, 200)),), seg)], i / 30)
        assert len(placed) == 1
        seen.append(placed[0].view)
    assert seen[0] == "side" and seen[-1] == "front"
    assert sum(a != b for a, b in itertools.pairwise(seen)) == 1


def test_toe_left_is_mirrored_never_upside_down() -> None:
    frame = np.full((400, 400, 3), 90, np.uint8)
    r = ShoeRenderer(procedural_views("#C8102E"))
    for yaw, sign in ((10.0, 1), (170.0, -1)):
        ((p, _, _),) = r.placements(frame.shape, [person((world_foot(yaw, (200, 200)),), None)])[0]
        lin = p.matrix[:, :2]
        assert np.sign(np.linalg.det(lin)) == sign  # mirrored for a toe to the left
        assert (lin @ np.array([0.0, -1.0]))[1] < 0  # the sprite's up is up in the picture


def test_no_shoe_off_the_leg_mask() -> None:
    """A foot whose keypoints lie where the person mask has no leg (a bag at knee height, another person's
    gap) gets no shoe, with a note; the same foot on its leg gets one, on the mask."""
    frame = np.full((400, 400, 3), 90, np.uint8)
    foot = world_foot(5.0, (200, 300))
    r = ShoeRenderer(procedural_views("#C8102E"))
    legless = np.zeros((400, 400), np.float32)
    legless[:200, 180:230] = 1.0  # a body that ends far above the keypoints
    out, placed, notes = r.apply_people(frame, [person((foot,), legless)])
    assert placed == [] and np.array_equal(out, frame)
    assert notes and "off the person mask" in notes[0]
    leg = legless.copy()
    leg[200:350, 150:290] = 1.0  # leg and real shoe
    _, placed, notes = r.apply_people(frame, [person((foot,), leg)])
    assert len(placed) == 1 and notes == []
    assert placed[0].on_person is not None and placed[0].on_person >= 0.85


def test_two_feet_on_one_spot_get_one_shoe() -> None:
    frame = np.full((400, 400, 3), 90, np.uint8)
    seg = np.ones((400, 400), np.float32)
    left, right = world_foot(5.0, (200, 300)), world_foot(8.0, (202, 301), side="right")
    _, placed, _ = ShoeRenderer(procedural_views("#C8102E")).apply_people(frame, [person((left, right), seg)])
    assert len(placed) == 1


def test_boot_keeps_the_trouser_in_front() -> None:
    """A boot's shaft reaches above the ankle: the trouser (person mask above the ankle) stays in front of
    it and is not erased; the boot shows below the ankle."""
    frame = np.full((400, 400, 3), 200, np.uint8)
    foot = world_foot(0.0, (200, 280))
    ankle_y = int(foot.ankle[1])
    trouser = (30, 40, 120)
    frame[: ankle_y + 2, 180:222] = trouser  # trouser leg down to just below the ankle
    frame[ankle_y + 2 : 320, 170:300] = 250  # the real (white) shoe
    seg = np.zeros((400, 400), np.float32)
    seg[: ankle_y + 2, 180:222] = 1.0
    seg[ankle_y + 2 : 320, 170:300] = 1.0
    boots = ShoeRenderer(procedural_views("#3A2A1A", "boot"))
    out, placed, _ = boots.apply_people(frame, [person((foot,), seg)])
    assert len(placed) == 1
    _x0, y0, _x1, _y1 = placed[0].box
    assert y0 < ankle_y - 20  # the boot's box reaches well above the ankle
    above = np.zeros((400, 400), bool)
    above[y0 : ankle_y - 3, 183:219] = True  # the trouser inside the boot's box, above the ankle
    assert np.array_equal(out[above], frame[above])  # trouser kept: in front of the shaft, not erased
    below = (seg > 0.5) & (np.arange(400)[:, None] > ankle_y + 6)
    assert np.any(out[below] != frame[below])  # the boot (or the erased real shoe) below the ankle


SKIN = (188, 132, 104)


HAIR = (66, 60, 58)


def face_and_leg(
    leg: tuple[int, int, int], face: tuple[int, int, int] = SKIN
) -> tuple[np.ndarray, FootLandmarks, PoseLandmarks]:
    """A person whose face (its eye and mouth landmarks placed on it) has colour ``face`` and whose leg has colour
    ``leg`` down to just below the ankle, over a white real shoe; a boot's foot at yaw 0."""
    frame = np.full((400, 400, 3), 200, np.uint8)
    foot = world_foot(0.0, (200, 280))
    ankle_y = int(foot.ankle[1])
    frame[20:70, 180:222] = face
    frame[70 : ankle_y + 2, 180:222] = leg
    frame[ankle_y + 2 : 320, 170:300] = 250
    seg = np.zeros((400, 400), np.float32)
    seg[: ankle_y + 2, 180:222] = 1.0
    seg[ankle_y + 2 : 320, 170:300] = 1.0
    points = np.zeros((33, 2), np.float32)
    points[[2, 5, 10, 9]] = [(190, 32), (212, 32), (210, 60), (192, 60)]
    return frame, foot, PoseLandmarks(points, np.ones(33, np.float32), (foot,), seg, 0)


@pytest.mark.parametrize(
    "leg, face, covered",
    [(SKIN, SKIN, True), ((30, 40, 120), SKIN, False), ((150, 140, 110), SKIN, False), (HAIR, HAIR, False)],
)
def test_a_boot_covers_a_bare_leg_and_goes_under_a_trouser(
    leg: tuple[int, int, int], face: tuple[int, int, int], covered: bool
) -> None:
    """A bare leg (the face's skin colour, from the pose's face landmarks) goes into the boot's shaft: the shaft
    is drawn over it above the ankle (the code before kept the whole leg in front: a boot cut at the ankle on
    the corpus's seated man); a blue or khaki trouser leg stays in front of the shaft, untouched, and so does a
    dark trouser leg of a person seen from behind (the face landmarks on hair of the trouser's colour)."""
    frame, foot, pose = face_and_leg(leg, face)
    ankle_y = int(foot.ankle[1])
    out, placed, _ = ShoeRenderer(procedural_views("#3A2A1A", "boot")).apply_people(frame, [pose])
    assert len(placed) == 1
    _x0, y0, _x1, _y1 = placed[0].box
    assert y0 < ankle_y - 20
    above = np.zeros((400, 400), bool)
    above[max(y0, 70) : ankle_y - 3, 183:219] = True
    changed = (out[above] != frame[above]).any(axis=1).mean()
    if covered:
        assert changed > 0.3  # the shaft over the bare calf
    else:
        assert changed == 0.0  # trouser kept in front


def test_every_person_gets_shoes_and_tracks_do_not_swap(corpus: Path) -> None:
    """The street video (several pedestrians): in video mode at least two people get shoes, a person's shoe
    never jumps by more than half a shoe between frames, and each shoe sits on its own person's mask."""
    r = ShoeRenderer(procedural_views("#C8102E"))
    provider = MediaPipeProvider("video")
    previous: list = []
    two_or_more = frames = 0
    on_num = on_den = 0.0
    try:
        for t, frame in media.read_video(corpus / "images" / "street_walking_720p50.avi", limit=60):
            people = provider.people(frame, t)
            assert len({p.person for p in people}) == len(people)  # one pose per track
            _, placed, _ = r.apply_people(frame, people, t)
            frames += 1
            two_or_more += len({s.person for s in placed}) >= 2
            masks = {p.person: p.segmentation for p in people}
            for s in placed:
                assert s.on_person is not None
                seg, rad = masks[s.person], max(2, int(0.15 * s.span))
                assert seg is not None
                x, y = np.round(s.target).astype(int)
                assert seg[max(0, y - rad) : y + rad + 1, max(0, x - rad) : x + rad + 1].max() > 0.5  # its own person
                on_num += s.on_person * s.span**2
                on_den += s.span**2
                near = sorted(previous, key=lambda q: float(np.linalg.norm(q.target - s.target)))
                if near and np.linalg.norm(near[0].target - s.target) < 0.5 * s.span:
                    assert near[0].person == s.person  # the shoe nearest last frame's was this person's
                if any(q.person == s.person and q.side == s.side for q in previous):
                    # 50 fps: feet move little (left and right may trade places: MediaPipe swaps them at times)
                    mine = [q for q in near if q.person == s.person]
                    assert np.linalg.norm(mine[0].target - s.target) < 0.5 * s.span + 8
            previous = placed
    finally:
        provider.close()
    assert frames == 60 and two_or_more >= 45
    assert on_num / on_den > 0.7  # most of the shoes' pixels on their person's mask (83 % over 100 frames)


def test_several_people_in_a_still(corpus: Path) -> None:
    """Two corpus photos side by side: both photos' people are found and get shoes (not only the largest)."""
    a = load_rgb(corpus / "images" / "person_crouching_feet.jpg")
    b = load_rgb(corpus / "images" / "person_standing_shoes.jpg")
    h = max(a.shape[0], b.shape[0])
    pad = [np.pad(x, ((0, h - x.shape[0]), (0, 0), (0, 0))) for x in (a, b)]
    frame = np.ascontiguousarray(np.hstack(pad))
    with MediaPipeProvider("image") as provider:
        people = provider.people(frame)
    assert len(people) >= 2
    assert [p.person for p in people] == list(range(len(people)))
    _, placed, _ = ShoeRenderer(procedural_views("#C8102E")).apply_people(frame, people)
    xs = {s.person: s.target[0] for s in placed}
    assert any(x < a.shape[1] for x in xs.values()) and any(x >= a.shape[1] for x in xs.values())
    assert math.isfinite(sum(s.span for s in placed))


def box_sphere() -> ViewSphere:
    """The view sphere of a shoe-shaped box (0.3 x 0.1 x 0.12, toe +x, up +y)."""
    corners = np.array(list(itertools.product((0, 0.3), (0, 0.12), (0, 0.1))), np.float64)
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    tris = np.array([t for a, b, c, d in faces for t in ((a, b, c), (a, c, d))], np.int64)
    item = MeshItem(corners, tris, None, None, None, np.array([0.8, 0.2, 0.2], np.float32), None, (0, 0))
    return ViewSphere(lambda: ([item], 0), "+x", "+y")


def test_no_view_change_while_the_foot_turns_back() -> None:
    """Raw headings as on the held-out walk (a small foot's yaw swings to 75-110 degrees and back to 0 within
    ten frames): the smoothed yaw lags, and a change decided when it and the median of the last five raw yaws
    had at last left the old view came when the foot was back (y0 -> y30 with the foot at 0). Every change
    must match the foot's yaw around it (the median of five frames has left the old view's bin or sector,
    as the benchmark counts); a foot that stays turned gets a view near its heading within a few frames."""
    frame = np.full((400, 400, 3), 90, np.uint8)
    seg = np.ones((400, 400), np.float32)
    swing = [0.0] * 8 + [75.0, 109.0, 30.0, 30.0, 30.0, 35.0, 77.0, 28.0] + [0.0] * 10
    base = procedural_views("#C8102E")
    for yaws in (swing, [0.0] * 8 + [45.0] * 12, [0.0] * 8 + [90.0] * 12):
        for views in (ShoeViews(base.side, base.front, base.back, box_sphere()), base):
            r = ShoeRenderer(views)
            shown, raws = [], []
            for i, yaw in enumerate(yaws):
                _, placed, _ = r.apply_people(frame, [person((world_foot(yaw, (200, 200), pitch=20.0),), seg)], i / 30)
                assert len(placed) == 1 and placed[0].raw_yaw is not None
                shown.append(placed[0].view)
                raws.append(placed[0].raw_yaw)
            for j in range(1, len(shown)):
                if shown[j] != shown[j - 1]:
                    around = float(np.median(raws[max(0, j - 2) : j + 3]))
                    old = shown[j - 1]
                    if views.sphere is None:
                        assert sprite_view(around, None) != old, (j, shown)
                    else:
                        assert abs(angle_diff(around, float(old[1:].split("p")[0]))) > 7.5, (j, shown)
            if views.sphere is not None:
                assert abs(angle_diff(float(shown[-1][1:].split("p")[0]), yaws[-1])) <= 7.5 + HYSTERESIS_DEG
            else:
                assert shown[-1] == sprite_view(yaws[-1], None)


def test_a_cane_beside_the_foot_stays_in_front_of_the_shoe() -> None:
    """A cane comes down from the hand to the ground just past the toe of a bare foot, inside the area where
    the real shoe is erased and where the sneaker (longer than the foot) may reach: the cane (a thin part of
    the person mask coming from above the shoe's collar) is neither erased nor covered, nor shadowed; the
    foot next to it gets the shoe."""
    frame = np.full((400, 400, 3), 200, np.uint8)
    foot = world_foot(0.0, (200, 280))
    ankle_y = int(foot.ankle[1])
    seg = np.zeros((400, 400), np.float32)
    frame[: ankle_y + 2, 186:216] = (30, 40, 120)  # shin
    seg[: ankle_y + 2, 186:216] = 1.0
    frame[ankle_y + 2 : 314, 176:246] = (180, 140, 120)  # the bare foot
    seg[ankle_y + 2 : 314, 176:246] = 1.0
    cane = np.zeros((400, 400), bool)
    cane[60:316, 250:254] = True
    frame[cane] = (15, 15, 15)
    seg[cane] = 1.0
    out, placed, _ = ShoeRenderer(procedural_views("#C8102E")).apply_people(frame, [person((foot,), seg)])
    assert len(placed) == 1
    _x0, y0, x1, _y1 = placed[0].box
    reach = int(0.25 * placed[0].span) + 1  # the erased area's margin around the shoe's box
    assert x1 + reach > 254 and y0 < 300  # the cane's foot is in the erased area
    assert np.array_equal(out[cane], frame[cane])  # the cane in front: untouched
    toe_end = out[ankle_y + 8 : 312, 238:246] != frame[ankle_y + 8 : 312, 238:246]
    assert toe_end.any(axis=2).mean() > 0.9  # the foot beside the cane has its shoe


def test_the_other_leg_crossing_in_front_covers_the_shoe() -> None:
    """The left leg crosses in front of the right foot (its shin nearer the camera in the world landmarks):
    the mask on that shin stays in front of the right shoe, neither erased nor covered; when the same shin is
    behind the foot, the shoe is drawn over it."""
    frame = np.full((400, 400, 3), 200, np.uint8)
    right = world_foot(0.0, (200, 280), side="right")
    ankle_y = int(right.ankle[1])
    seg = np.zeros((400, 400), np.float32)
    frame[: ankle_y + 2, 186:216] = (30, 40, 120)  # the right shin
    seg[: ankle_y + 2, 186:216] = 1.0
    frame[ankle_y + 2 : 316, 174:268] = 250  # the right real shoe
    seg[ankle_y + 2 : 316, 174:268] = 1.0
    knee, ankle = np.array([150.0, 120.0]), np.array([262.0, 330.0])
    shin = np.zeros((400, 400), np.uint8)
    cv2.line(shin, (150, 120), (262, 330), 1, 48)  # 0.1 of the shin wide on each side
    band = shin.astype(bool)
    frame[band] = (90, 30, 30)  # the left trouser leg, across the right foot
    seg[band] = 1.0
    for z, in_front in ((-0.3, True), (0.3, False)):
        world = np.array([[-0.1, -0.4, z], [0.15, 0.0, z], [0.12, 0.07, z], [0.3, 0.07, z]], np.float32)
        left = FootLandmarks("left", knee.astype(np.float32), ankle.astype(np.float32),
                             np.float32([252, 338]), np.float32([262, 339]), 0.3, False, world)  # fmt: skip
        r = ShoeRenderer(procedural_views("#C8102E"))
        out, placed, _ = r.apply_people(frame, [person((right, left), seg)])
        mine = [s for s in placed if s.side == "right"]
        assert len(mine) == 1
        x0, _y0, x1, y1 = mine[0].box
        crossing = band.copy()
        crossing[: ankle_y + 4], crossing[y1:], crossing[:, :x0], crossing[:, x1:] = False, False, False, False
        own, _, _ = ShoeRenderer(procedural_views("#C8102E")).apply_people(frame, [person((left,), seg)])
        crossing &= ~np.any(own != frame, axis=2)  # leave out the left foot's own shoe and its erased real shoe
        assert crossing.sum() > 60
        kept = np.all(out[crossing] == frame[crossing], axis=1).mean()
        if in_front:
            assert kept > 0.97  # the shin in front: untouched
        else:
            assert kept < 0.5  # behind: the shoe (or the erased real shoe) is drawn over it


def test_a_weak_detection_off_the_hips_is_recentred(corpus: Path) -> None:
    """A weak person detection's hips can be a body radius off (a skier cut by a held-out photo's edge): the pose
    found on its crop is cropped again around its own hips, so the person is found with their feet; someone
    found already is not taken again."""
    frame = load_rgb(corpus / "images" / "person_standing_shoes.jpg")
    with MediaPipeProvider("image") as provider:
        man = provider.people(frame)[0]  # the standing man, the largest
        hips = (man.points[23] + man.points[24]) / 2.0
        radius = float(np.linalg.norm(man.points - hips, axis=1).max())
        off = hips - np.array([0.0, 0.8 * radius])  # the detection's hips at his chest
        person = provider._recentred_pose(frame, off, 2 * radius * 2.4, [])
        again = provider._recentred_pose(frame, off, 2 * radius * 2.4, [man])
    assert person is not None and person.feet
    assert np.linalg.norm((person.points[23] + person.points[24]) / 2.0 - hips) < 0.25 * radius
    assert again is None


def test_the_detector_graph_keeps_the_bundled_detections(corpus: Path) -> None:
    """The detector graph's strong detections are the bundled ``PoseDetectionCpu``'s; the weak ones score lower."""
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python.solution_base import SolutionBase

    from tryon.providers.mediapipe import PERSON_WEAK_SCORE, _detector_graph

    bundled = """input_stream: "image" output_stream: "detections"
        node { calculator: "PoseDetectionCpu" input_stream: "IMAGE:image" output_stream: "DETECTIONS:detections" }"""
    frame = load_rgb(corpus / "images" / "person_standing_shoes.jpg")
    ours = SolutionBase(graph_config=_detector_graph(PERSON_WEAK_SCORE), outputs=["detections", "weak"])
    theirs = SolutionBase(graph_config=text_format.Parse(bundled, calculator_pb2.CalculatorGraphConfig()),
                          outputs=["detections"])  # fmt: skip
    try:
        a, b = ours.process({"image": frame}), theirs.process({"image": frame})
    finally:
        ours.close()
        theirs.close()

    def keypoints(dets: list) -> np.ndarray:
        return np.array([[(k.x, k.y) for k in d.location_data.relative_keypoints] for d in dets or []])

    assert len(a.detections) == len(b.detections) >= 1
    assert np.allclose(keypoints(a.detections), keypoints(b.detections), atol=1e-4)
    assert all(d.score[0] >= PERSON_WEAK_SCORE for d in a.weak or [])


def test_people_are_hidden_around_themselves_only(corpus: Path) -> None:
    """Hiding the people found for the detector's next round works on each person's own box (it took most of a
    many-person still's time over the whole frame): the same pixels as the whole-frame reference, greyed."""
    from tryon.providers.mediapipe import HULL_MARGIN, _hidden

    frame = load_rgb(corpus / "images" / "person_standing_shoes.jpg")
    with MediaPipeProvider("image") as provider:
        people = provider.people(frame)
    assert len(people) >= 3
    reference = frame.copy()
    for p in people:  # the whole-frame computation
        assert p.segmentation is not None
        hull = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.round(p.points).astype(np.int32)), 1)
        hips = (p.points[23] + p.points[24]) / 2.0
        r = max(1, round(HULL_MARGIN * float(np.linalg.norm(p.points - hips, axis=1).max())))
        hull = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        mask = cv2.dilate((p.segmentation > 0.3).astype(np.uint8), np.ones((9, 9), np.uint8)) & hull
        reference[mask.astype(bool)] = 127
    one_by_one = frame
    for p in people:
        one_by_one = _hidden(one_by_one, [p])
    assert np.array_equal(_hidden(frame, people), reference)
    assert np.array_equal(one_by_one, reference)
    assert np.array_equal(frame, load_rgb(corpus / "images" / "person_standing_shoes.jpg"))  # input untouched


def test_the_by_box_graph_gives_the_pose_solutions_landmarks(corpus: Path) -> None:
    """The pose model run on its own (the by-box part of the bundled graph, no detector) on a box around the street
    video's walker (upright, whole) gives the landmarks the pose solution found for them, and says how sure it is:
    high on them, low on an empty box (where the bundled graph would just give nothing)."""
    from tryon.providers.mediapipe import ROI_SCALE, _body_size, _hips, _pose_in_crop, _RoiPose

    _, frame = next(iter(media.read_video(corpus / "images" / "street_walking_720p50.avi", limit=1)))
    with MediaPipeProvider("image") as provider:
        walker = provider.people(frame)[0]  # detector, then the pose solution on a crop
    hips, radius = _hips(walker), _body_size(walker)
    side = 2 * ROI_SCALE * radius
    roi = _RoiPose(0.0)
    try:
        ours = _pose_in_crop(roi, frame, hips, side)
        k = 256 / side
        m = np.array([[k, 0.0, 128 - k * hips[0]], [0.0, k, 128 - k * hips[1]]])
        sure = float(roi._graph.process({"image": cv2.warpAffine(frame, m, (256, 256))}).presence)
        empty = float(roi._graph.process({"image": np.full((256, 256, 3), 127, np.uint8)}).presence)
    finally:
        roi.close()
    assert ours is not None and ours.segmentation is not None
    legs = [23, 24, 25, 26, 27, 28, 29, 30, 31, 32]
    assert np.abs(ours.points[legs] - walker.points[legs]).max() < 0.06 * radius  # 0.04 measured
    x, y = np.round(ours.points[23]).astype(int)
    assert ours.segmentation[y, x] > 0.5  # their mask, mapped back to the frame
    assert sure > 0.9 and empty < 0.5


def test_a_person_cut_by_the_frame_edge_gets_shoes(corpus: Path) -> None:
    """A pedestrian of the street video cut by the frame's left edge through the head (frame 150 with its 332 px
    left of them cropped away): the person detector (keyed on the face) sees nobody there; the pose model run on
    windows along the edge finds them, and their foot, on the ground at the bottom of their own mask, gets a shoe.
    The people in the middle are found as before."""
    from tryon.providers.mediapipe import _hips

    frames = media.read_video(corpus / "images" / "street_walking_720p50.avi", limit=151)
    frame = [f for _, f in frames][-1]
    cut = np.ascontiguousarray(frame[:, 332:])
    with MediaPipeProvider("image") as provider:
        people = provider.people(cut)
    edge = [p for p in people if p.feet and _hips(p)[0] < 60]
    assert len(edge) == 1
    toe = edge[0].feet[0].toe
    assert toe[0] < 40 and 390 < toe[1] < 450  # found at x 10, y 421 (by eye: her red shoe at x 0-33, y 415-429)
    assert sum(p.feet != () and 300 < _hips(p)[0] < 500 for p in people) >= 2  # the two walkers in the middle
    _, placed, _ = ShoeRenderer(procedural_views("#C8102E")).apply_people(cut, people)
    assert any(s.person == edge[0].person for s in placed)
