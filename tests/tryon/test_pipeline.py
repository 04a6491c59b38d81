"""The pipeline on real and bad input: unchanged frames with a reason where nothing can be applied."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.tryon.conftest import look_of
from tryon.errors import InvalidMedia
from tryon.pipeline import TryOn
from tryon.providers.mediapipe import MediaPipeProvider
from tryon.tracking import FaceTracker

LIPSTICK = {"kind": "lipstick", "shade": "#A3162B", "finish": "matte", "intensity": 0.9}


@pytest.fixture(scope="module")
def tryon(provider: MediaPipeProvider) -> TryOn:
    return TryOn(provider, look_of(LIPSTICK))


def test_lipstick_on_every_face(tryon: TryOn, images: dict[str, np.ndarray]) -> None:
    expected = {"face_man_suit.jpg": 1, "faces_three_women.jpg": 3, "astronaut": 1}
    for name, n in expected.items():
        r = tryon.process(images[name])
        assert len(r.faces) == n, name
        changed = np.any(r.frame != images[name], axis=2)
        for face in r.faces:  # each face got paint around its mouth
            x, y = np.round(face.points[[61, 291]].mean(axis=0)).astype(int)
            assert changed[y - 3 : y + 4, x - 6 : x + 7].any(), name
        assert r.timings.landmarks > 0 and r.timings.render > 0 and r.notes == ()


def test_no_face_returns_the_frame_unchanged(tryon: TryOn) -> None:
    frame = np.full((240, 320, 3), 128, np.uint8)
    r = tryon.process(frame)
    assert np.array_equal(r.frame, frame) and r.faces == ()
    assert r.notes == ("no face found: makeup not applied",)


def test_half_face_still_image_is_returned_unchanged(tryon: TryOn, astronaut: np.ndarray) -> None:
    """The face detector needs most of a face: a still cut through the face comes back unchanged, with the reason."""
    half = np.ascontiguousarray(astronaut[:, 224:])
    r = tryon.process(half)
    assert np.array_equal(r.frame, half)
    assert r.notes == ("no face found: makeup not applied",)


def test_face_leaving_the_frame_in_video(astronaut: np.ndarray) -> None:
    """Tracking keeps a face that slides half out of the frame; its visible lips stay painted; then it is gone."""
    look = look_of(LIPSTICK)
    seen_half_out = False
    with MediaPipeProvider("video") as provider:
        tryon = TryOn(provider, look, tracker=FaceTracker())
        for i in range(48):
            frame = cv2.warpAffine(astronaut, np.array([[1.0, 0, -6.0 * i], [0, 1, 0]]), (512, 512))
            r = tryon.process(frame, i / 30)
            assert r.frame.shape == frame.shape
            if r.faces and r.faces[0].points[:, 0].min() < -20:
                seen_half_out = True
                lips_x = r.faces[0].points[[61, 291], 0]
                if lips_x.max() > 5:  # part of the mouth is still in the picture
                    assert np.any(r.frame != frame)
        assert seen_half_out
        assert not r.faces and np.array_equal(r.frame, frame)  # fully out: unchanged
        assert "no face found: makeup not applied" in r.notes


def test_grayscale_frames(tryon: TryOn, astronaut: np.ndarray) -> None:
    gray = astronaut.mean(axis=2).astype(np.uint8)
    for frame in (gray, gray[:, :, None]):
        r = tryon.process(frame)
        assert r.frame.shape == (512, 512, 3)
        assert "grayscale frame converted to RGB" in r.notes
        assert len(r.faces) == 1
        red = r.frame[..., 0].astype(int) - r.frame[..., 1]
        assert red.max() > 20  # lipstick colour on a grey picture


def test_tiny_frame_is_returned_unchanged(tryon: TryOn) -> None:
    frame = np.full((20, 30, 3), 90, np.uint8)
    r = tryon.process(frame)
    assert np.array_equal(r.frame, frame)
    assert "smaller than" in r.notes[0]


@pytest.mark.parametrize(
    "frame",
    [np.zeros((64, 64, 3), np.float32), np.zeros((64, 64, 2), np.uint8), [[1, 2, 3]]],
    ids=["float", "2ch", "list"],
)
def test_bad_frames_raise_invalid_media(tryon: TryOn, frame: object) -> None:
    with pytest.raises(InvalidMedia, match="frame"):
        tryon.process(frame)  # type: ignore[arg-type]


def test_rgba_frame(tryon: TryOn, astronaut: np.ndarray) -> None:
    rgba = np.concatenate([astronaut, np.full((512, 512, 1), 255, np.uint8)], axis=2)
    r = tryon.process(rgba)
    assert r.frame.shape == (512, 512, 3) and len(r.faces) == 1


def test_public_api_from_the_package_docstring(astronaut: np.ndarray) -> None:
    """The usage shown in tryon/__init__.py runs as written."""
    from tryon import TryOnSettings, create_tryon, parse_look

    look = parse_look('[{"kind": "lipstick", "shade": "#A3162B", "finish": "matte", "intensity": 0.85}]')
    tryon = create_tryon(look, TryOnSettings(), "image")
    try:
        result = tryon.process(astronaut)
    finally:
        tryon.provider.close()
    assert len(result.faces) == 1 and result.timings.total > 0 and result.notes == ()


@pytest.mark.parametrize("name", ["red_matte_lipstick", "glossy_lipstick", "smoky_eye", "natural_look", "full_face"])
def test_sample_looks_paint_the_face_only(name: str, provider: MediaPipeProvider, astronaut: np.ndarray) -> None:
    from tests.tryon.conftest import LOOKS
    from tryon.media import read_look

    r = TryOn(provider, read_look(LOOKS / f"{name}.json")).process(astronaut)
    changed = np.any(r.frame != astronaut, axis=2)
    assert changed.sum() > 150
    ys, xs = np.nonzero(changed)
    lo, hi = r.faces[0].points.min(axis=0), r.faces[0].points.max(axis=0)
    assert lo[0] - 15 <= xs.min() and xs.max() <= hi[0] + 15  # nothing painted off the face
    assert lo[1] - 15 <= ys.min() and ys.max() <= hi[1] + 15
