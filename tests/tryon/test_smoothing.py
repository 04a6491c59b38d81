from __future__ import annotations

import numpy as np

from tryon.landmarks import FACE_POINTS, FaceLandmarks
from tryon.smoothing import OneEuroFilter
from tryon.tracking import FaceTracker


def test_still_noise_is_reduced() -> None:
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    truth = np.array([[100.0, 50.0]])
    out = [f(truth + rng.normal(0, 0.5, (1, 2)), i / 30) for i in range(300)]
    raw_rms = 0.5 * np.sqrt(2)
    rms = np.sqrt(np.mean(np.sum((np.array(out[30:]) - truth) ** 2, axis=-1)))
    assert rms < 0.4 * raw_rms


def test_fast_motion_follows_with_little_lag() -> None:
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    errs = []
    for i in range(60):
        x = np.array([[10.0 * i, 0.0]])  # 300 px/s
        errs.append(abs(f(x, i / 30)[0, 0] - x[0, 0]))
    assert max(errs[20:]) < 5.0


def test_same_timestamp_and_gap() -> None:
    f = OneEuroFilter()
    a = f(np.array([[0.0, 0.0]]), 0.0)
    b = f(np.array([[10.0, 0.0]]), 0.0)
    assert np.array_equal(a, b)
    c = f(np.array([[50.0, 0.0]]), 5.0)  # long gap: restart from the raw value
    assert c[0, 0] == 50.0


def face_at(x: float) -> FaceLandmarks:
    pts = np.zeros((FACE_POINTS, 2), np.float32)
    pts[:, 0] = x + np.linspace(0, 100, FACE_POINTS)
    pts[:, 1] = np.linspace(0, 120, FACE_POINTS)
    return FaceLandmarks(pts, np.zeros(FACE_POINTS, np.float32))


def test_face_smoother_keeps_one_track_per_face() -> None:
    s = FaceTracker(confirm=1, smoothing=(1.0, 0.05))
    s([face_at(0), face_at(500)], 0.0)
    out = [tf.face for tf in s([face_at(502), face_at(3)], 1 / 30)]  # order swapped, small moves
    out.sort(key=lambda f: -float(f.points[0, 0]))
    assert out[0].points[0, 0] < 502 and out[0].points[0, 0] > 500  # smoothed towards its own track
    assert 0 < out[1].points[0, 0] < 3
