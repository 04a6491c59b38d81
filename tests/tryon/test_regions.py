"""Region shapes on real landmarks (astronaut) and their consistency with MediaPipe's topology."""

from __future__ import annotations

import numpy as np
import pytest
from mediapipe.python.solutions import face_mesh_connections as fmc

from tryon import regions
from tryon.landmarks import FaceLandmarks
from tryon.masks import rasterize


def edges(loop: tuple[int, ...], closed: bool) -> set[frozenset[int]]:
    pairs = zip(loop, loop[1:] + (loop[:1] if closed else ()), strict=False)
    return {frozenset(p) for p in pairs}


def as_set(conns: frozenset[tuple[int, int]]) -> set[frozenset[int]]:
    return {frozenset(c) for c in conns}


def test_lip_loops_are_mediapipe_lip_edges() -> None:
    assert edges(regions.LIPS_OUTER, True) | edges(regions.LIPS_INNER, True) == as_set(fmc.FACEMESH_LIPS)


def test_face_oval_is_mediapipe_face_oval() -> None:
    assert edges(regions.FACE_OVAL, True) == as_set(fmc.FACEMESH_FACE_OVAL)


@pytest.mark.parametrize(
    ("upper", "lower", "conns"),
    [
        (regions.RIGHT_EYE_UPPER, regions.RIGHT_EYE_LOWER, fmc.FACEMESH_RIGHT_EYE),
        (regions.LEFT_EYE_UPPER, regions.LEFT_EYE_LOWER, fmc.FACEMESH_LEFT_EYE),
        (regions.RIGHT_BROW_UPPER, regions.RIGHT_BROW_LOWER, fmc.FACEMESH_RIGHT_EYEBROW),
        (regions.LEFT_BROW_UPPER, regions.LEFT_BROW_LOWER, fmc.FACEMESH_LEFT_EYEBROW),
    ],
)
def test_eye_and_brow_lines_are_mediapipe_edges(upper, lower, conns) -> None:  # type: ignore[no-untyped-def]
    assert edges(upper, False) | edges(lower, False) == as_set(conns)


def test_upper_lines_are_above_lower_lines(astronaut_face: FaceLandmarks) -> None:
    p = astronaut_face.points
    for _, up, low, bup, blow in regions.EYES:
        assert p[list(up[1:-1]), 1].mean() < p[list(low[1:-1]), 1].mean()
        assert p[list(bup), 1].mean() < p[list(blow), 1].mean()
        assert p[list(blow), 1].mean() < p[list(up), 1].mean()


def full(face: FaceLandmarks, name: str, shape=(512, 512), **kw) -> np.ndarray:  # type: ignore[no-untyped-def]
    mask = rasterize(regions.region(face, name, **kw), shape)
    assert mask is not None
    return mask.full(shape)


def test_lips_leave_the_open_mouth_clean(astronaut_face: FaceLandmarks, astronaut: np.ndarray) -> None:
    """The astronaut smiles with her teeth showing: the inner mouth must stay unpainted."""
    p = astronaut_face.points
    lips = full(astronaut_face, "lips")
    inner_center = p[list(regions.LIPS_INNER)].mean(axis=0)
    x, y = np.round(inner_center).astype(int)
    assert lips[y, x] < 0.05
    # the teeth are bright: bright pixels inside the inner contour get (almost) no lipstick
    import cv2

    inner = np.zeros(astronaut.shape[:2], np.uint8)
    cv2.fillPoly(inner, [np.round(p[list(regions.LIPS_INNER)]).astype(np.int32)], 1)
    inner = cv2.erode(inner, np.ones((3, 3), np.uint8))
    assert inner.sum() > 50
    assert lips[inner > 0].mean() < 0.15
    # and the lips themselves (between outer and inner contour) are covered
    assert lips[np.round(p[[17, 0], 1] * 0.5 + p[[14, 13], 1] * 0.5).astype(int),
                np.round(p[[17, 0], 0] * 0.5 + p[[14, 13], 0] * 0.5).astype(int)].min() > 0.8  # fmt: skip


def test_eyeshadow_fades_upwards_and_skips_the_eye(astronaut_face: FaceLandmarks) -> None:
    p = astronaut_face.points
    shadow = full(astronaut_face, "eyeshadow")
    for _, up, low, _, blow in regions.EYES:
        lid = p[up[4]]
        brow = p[blow[2]]
        near = lid + (brow - lid) * 0.25
        far = lid + (brow - lid) * 0.75
        v_near = shadow[round(near[1]), round(near[0])]
        v_far = shadow[round(far[1]), round(far[0])]
        assert v_near > 0.45 and v_far < 0.6 * v_near
        eye_c = (p[up[4]] + p[low[4]]) / 2
        assert shadow[round(eye_c[1]), round(eye_c[0])] < 0.3


def test_eyeliner_wing_reaches_past_the_outer_corner(astronaut_face: FaceLandmarks) -> None:
    plain = full(astronaut_face, "eyeliner")
    wing = full(astronaut_face, "eyeliner", wing=True)
    assert wing.sum() > plain.sum() * 1.1
    # the wing reaches further out past the outer corner of the (image-left) right eye
    corner_x = astronaut_face.points[33, 0]
    eye_w = float(np.linalg.norm(astronaut_face.points[133] - astronaut_face.points[33]))
    reach = lambda m: corner_x - np.nonzero((m > 0.3).any(axis=0))[0].min()  # noqa: E731
    assert reach(wing) > reach(plain) + 0.2 * eye_w


def test_foundation_covers_skin_but_not_eyes_brows_mouth(astronaut_face: FaceLandmarks) -> None:
    p = astronaut_face.points
    f = full(astronaut_face, "foundation")
    for idx in (1, 50, 280):  # nose tip, both cheeks
        x, y = np.round(p[idx]).astype(int)
        assert f[y, x] > 0.9, idx
    for idx in (468, 473, 13, 14):  # both irises, inner lips
        x, y = np.round(p[idx]).astype(int)
        assert f[y, x] < 0.1, idx
    for i, j in ((105, 52), (334, 282)):  # brow centres: thin, so the feather reaches in from both sides
        x, y = np.round((p[i] + p[j]) / 2).astype(int)
        assert f[y, x] < 0.5


def test_blush_sits_on_the_cheeks_below_the_eyes(astronaut_face: FaceLandmarks) -> None:
    p = astronaut_face.points
    b = full(astronaut_face, "blush")
    ys, xs = np.nonzero(b > 0.5)
    left = xs < p[1, 0]
    for sel in (left, ~left):
        cy = ys[sel].mean()
        assert p[[33, 263], 1].mean() < cy < p[[61, 291], 1].mean()
    assert b[int(p[1, 1]), int(p[1, 0])] < 0.1  # not on the nose


def test_brows_cover_the_brows(astronaut_face: FaceLandmarks) -> None:
    p = astronaut_face.points
    b = full(astronaut_face, "brows")
    for i, j in ((105, 52), (334, 282)):
        c = np.round((p[i] + p[j]) / 2).astype(int)
        assert b[c[1], c[0]] > 0.8
