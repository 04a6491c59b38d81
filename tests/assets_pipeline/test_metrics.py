"""The distance engine behind the simplifier's measured error bound and the reported error: exact point-to-surface
distances (against a plain closest-point computation), per label, with degenerate and long, thin triangles, and the
parts measurement that skips what the simplifier left as it was."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from assets_pipeline import metrics
from assets_pipeline.metrics import PartsReference, TriangleDistance, surface_hausdorff


def _closest(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Distance from p to triangle abc by Voronoi regions (Ericson, Real-Time Collision Detection 5.1.5)."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = ab @ ap, ac @ ap
    if d1 <= 0 and d2 <= 0:
        return float(np.linalg.norm(p - a))
    bp = p - b
    d3, d4 = ab @ bp, ac @ bp
    if d3 >= 0 and d4 <= d3:
        return float(np.linalg.norm(p - b))
    vc = d1 * d4 - d3 * d2
    if vc <= 0 and d1 >= 0 and d3 <= 0:
        return float(np.linalg.norm(p - (a + d1 / (d1 - d3) * ab)))
    cp = p - c
    d5, d6 = ab @ cp, ac @ cp
    if d6 >= 0 and d5 <= d6:
        return float(np.linalg.norm(p - c))
    vb = d5 * d2 - d1 * d6
    if vb <= 0 and d2 >= 0 and d6 <= 0:
        return float(np.linalg.norm(p - (a + d2 / (d2 - d6) * ac)))
    va = d3 * d6 - d5 * d4
    if va <= 0 and d4 - d3 >= 0 and d5 - d6 >= 0:
        w = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        return float(np.linalg.norm(p - (b + w * (c - b))))
    denom = va + vb + vc
    if denom == 0:  # degenerate triangle: its edges
        return min(_closest(p, a, b, b), _closest(p, b, c, c), _closest(p, a, c, c))
    return float(np.linalg.norm(p - (a + ab * (vb / denom) + ac * (vc / denom))))


def _mixed_surface(seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Small and large triangles, long thin ones, a zero-area one and a repeated one, in a 10-unit box."""
    rng = np.random.default_rng(seed)
    small = rng.random((60, 1, 3)) * 10 + rng.normal(0, 0.3, (60, 3, 3))
    large = rng.random((6, 3, 3)) * 10
    thin = np.array([[[0, 0, 0], [10, 0.05, 0], [10, 0, 0.02]], [[0, 5, 5], [0.02, 5, 5], [9, 5.01, 4]]])
    flat = np.array([[[1, 1, 1], [2, 2, 2], [3, 3, 3]]])  # collinear corners: only its edges count
    tris = np.concatenate([small, large, thin, flat, small[:1]])
    return tris.reshape(-1, 3), np.arange(len(tris) * 3).reshape(-1, 3)


def test_largest_distances_are_exact_per_label() -> None:
    v, f = _mixed_surface()
    rng = np.random.default_rng(7)
    points = np.concatenate([rng.random((300, 3)) * 12 - 1, v[::7] + rng.normal(0, 0.01, (len(v[::7]), 3))])
    labels = rng.integers(0, 5, len(points))
    truth = np.array([min(_closest(p, *v[t]) for t in f) for p in points])
    expected = np.array([truth[labels == k].max() for k in range(5)])
    got = TriangleDistance(v, f).largest(points, labels, 6)
    assert np.allclose(got[:5], expected, rtol=1e-5, atol=1e-6), (got, expected)
    assert got[5] == 0.0  # a label without points
    assert TriangleDistance(v, f[:0]).largest(points[:3])[0] == np.inf  # nothing to be near


def test_hausdorff_of_a_surface_with_itself_is_zero_and_of_a_shifted_copy_the_shift() -> None:
    v, f = _mixed_surface()
    assert surface_hausdorff(v, f, v, f, 5_000) < 1e-6
    shifted = v + np.array([0.0, 0.0, 0.01])
    diag = float(np.linalg.norm(v.max(0) - v.min(0)))
    assert abs(surface_hausdorff(v, f, shifted, f, 5_000) * diag - 0.01) < 1e-5


def _grid(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """A flat n x n grid of unit squares (z = 0), two triangles each."""
    x, y = np.meshgrid(np.arange(n + 1.0), np.arange(n + 1.0), indexing="ij")
    v = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], 1)
    i = (np.arange(n)[:, None] * (n + 1) + np.arange(n)[None, :]).ravel()
    f = np.concatenate([np.stack([i, i + n + 1, i + 1], 1), np.stack([i + 1, i + n + 1, i + n + 2], 1)])
    return v, f


def _bumped_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A grid with its middle vertex raised 0.3, and its triangles with the bump collapsed onto its neighbour
    (the flattened triangles are new, the rest stays as it was)."""
    v, f = _grid()
    bump = 10 * 21 + 10
    v[bump, 2] = 0.3
    collapsed = np.where(f == bump, bump + 1, f)
    collapsed = collapsed[(collapsed[:, 0] != collapsed[:, 1]) & (collapsed[:, 1] != collapsed[:, 2])
                          & (collapsed[:, 0] != collapsed[:, 2])]
    return v, f, collapsed


def test_parts_reference_measures_only_what_the_simplifier_changed() -> None:
    v, f, collapsed = _bumped_grid()
    other_v, other_f = _grid(4)
    other_v += [30.0, 0.0, 0.0]
    ref = PartsReference([(v, f), (other_v, other_f)])
    assert np.array_equal(ref.distances([f, other_f]), [0.0, 0.0])  # nothing changed
    d = ref.distances([collapsed, other_f])
    assert abs(d[0] - 0.3) < 1e-6 and d[1] == 0.0, d  # the bump's height, found exactly
    again = ref.distances([collapsed.copy(), other_f])
    assert np.array_equal(d, again)


def test_a_measurement_with_a_stop_is_exact_below_it_and_reaches_it_above() -> None:
    v, f, collapsed = _bumped_grid()
    exact = PartsReference([(v, f)]).distances([collapsed])[0]
    assert abs(exact - 0.3) < 1e-6
    below = PartsReference([(v, f)]).distances([collapsed], stop=0.5)[0]  # not reached: measured to the end
    assert below == exact
    above = PartsReference([(v, f)]).distances([collapsed], stop=0.1)[0]  # reached: may stop, but not below it
    assert above >= 0.1


def test_bounds_computed_once_serve_a_later_pass_on_more_points() -> None:
    v, f = _mixed_surface()
    rng = np.random.default_rng(11)
    points = np.concatenate([rng.random((400, 3)) * 12 - 1, [[40.0, 40.0, 40.0]]])  # the last one far from all
    labels = rng.integers(0, 3, len(points))
    labels[-1] = 2
    index = TriangleDistance(v, f)
    fresh = index.largest(points, labels, 3)
    for step in (4, 16):
        known = index.bounds(points[::step])
        assert np.array_equal(index.largest(points[::step], labels[::step], 3, bounds=known),
                              index.largest(points[::step], labels[::step], 3))
        # the rest's bounds are computed and every bound lands on its own point (a bound on the wrong point
        # would hide the far one)
        assert np.array_equal(metrics._largest_after(index, points, labels, 3, np.inf, None, step, known), fresh)
    assert fresh[2] > 40  # the far point decides label 2


def test_bounds_are_each_points_own_whatever_order_they_are_asked_in() -> None:
    v, f = _mixed_surface()
    rng = np.random.default_rng(12)
    points = rng.random((3000, 3)) * 12 - 1
    index = TriangleDistance(v, f)
    one_by_one = np.array([index.bounds(points[i:i + 1])[0] for i in range(len(points))])
    assert np.array_equal(index.bounds(points), one_by_one)  # asked in curve order, written back to each point
    shuffle = rng.permutation(len(points))
    assert np.array_equal(index.bounds(points[shuffle]), one_by_one[shuffle])


def test_spatial_order_is_a_permutation_that_keeps_near_points_together() -> None:
    rng = np.random.default_rng(13)
    clusters = np.array([[0.0, 0, 0], [9, 9, 9], [0, 9, 0], [9, 0, 9]])
    which = rng.integers(0, 4, 2000)
    points = clusters[which] + rng.random((2000, 3))  # four unit boxes far apart, interleaved
    order = metrics.spatial_order(points)
    assert np.array_equal(np.sort(order), np.arange(len(points)))
    assert np.count_nonzero(np.diff(which[order])) == 3  # each box's points in one run
    assert np.array_equal(metrics.spatial_order(np.ones((5, 3))), np.arange(5))  # no extent: any order, no error
    assert len(metrics.spatial_order(np.zeros((0, 3)))) == 0


def _moved_grid() -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]:
    """Two grids (one with a raised vertex) and, for each, triangles as a simplifier may leave them."""
    v, f, collapsed = _bumped_grid()
    other_v, other_f = _grid(6)
    other_v = other_v + np.array([30.0, 0.0, 0.0])
    other_v[:, 2] += 0.05 * np.cos(other_v[:, 0] * 3)
    return [(v, f), (other_v, other_f)], [collapsed, other_f[::2]]


def test_directions_measured_side_by_side_return_what_one_after_the_other_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    parts, simplified = _moved_grid()
    stops = [np.inf, 1.0, 0.2, 0.05, 1e-4]
    side_by_side = [PartsReference(parts).distances(simplified, stop) for stop in stops]
    prepared = PartsReference(parts, background=True)  # samples and index made in a worker: the same stream
    in_worker = [prepared.distances(simplified, stop) for stop in (np.inf,)]
    monkeypatch.setattr(metrics, "_background", lambda fn, *args: metrics._Later(fn, args))
    one_after = [PartsReference(parts).distances(simplified, stop) for stop in stops]
    for stop, a, b in zip(stops, side_by_side, one_after, strict=True):
        assert np.array_equal(a, b), (stop, a, b)
    assert np.array_equal(in_worker[0], one_after[0])
    assert abs(one_after[0][0] - 0.3) < 1e-6 and one_after[0][1] > 0
    # several measurements in a row draw the simplified side's random samples from one stream
    seq_a = PartsReference(parts, background=True)
    seq_b = PartsReference(parts)
    for _ in range(3):
        simplified = [simplified[0], simplified[1][1:]]
        assert np.array_equal(seq_a.distances(simplified), seq_b.distances(simplified))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one processor: nothing is made in the background")
def test_the_first_measurement_makes_the_simplified_index_while_the_reference_index_is_made(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the reference's index is made in a worker (while node simplifies); the first measurement does not wait for it
    # before making what it can without it (the simplified side's samples and index), and returns the same numbers
    parts, simplified = _moved_grid()
    stops = [np.inf, 1.0, 0.2, 0.05, 1e-4]
    expected = [PartsReference(parts).distances(simplified, stop) for stop in stops]
    made: list[str] = []
    simplified_made = threading.Event()

    class Held(TriangleDistance):
        def __init__(self, v: np.ndarray, f: np.ndarray) -> None:
            if threading.current_thread() is threading.main_thread():
                super().__init__(v, f)
                made.append("simplified")
                simplified_made.set()
            else:  # the reference's, held until the main thread has made the simplified one (or 10 s passed)
                simplified_made.wait(10)
                made.append("reference")
                super().__init__(v, f)

    monkeypatch.setattr(metrics, "TriangleDistance", Held)
    for stop, want in zip(stops, expected, strict=True):
        made.clear()
        simplified_made.clear()
        got = PartsReference(parts, background=True).distances(simplified, stop)
        assert np.array_equal(got, want), (stop, got, want)
        assert made[:2] == ["simplified", "reference"], made


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one processor: nothing is made in the background")
def test_the_simplified_side_is_sampled_in_a_worker_with_the_same_random_stream(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the simplified surface's samples are drawn in a worker while the main thread picks the reference's moved points
    # and makes the simplified index; several measurements in a row still draw them from one stream
    parts, simplified = _moved_grid()
    stops = [np.inf, 1.0, 0.2, np.inf, 0.05]
    sampled_on: list[bool] = []
    back_points = PartsReference._back_points

    def recorded(self: PartsReference, *args: object) -> tuple[np.ndarray, np.ndarray]:
        sampled_on.append(threading.current_thread() is threading.main_thread())
        return back_points(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(PartsReference, "_back_points", recorded)
    in_worker = PartsReference(parts)
    got = []
    for stop in stops:
        simplified = [simplified[0], simplified[1][1:]]
        got.append(in_worker.distances(simplified, stop))
    assert sampled_on == [False] * len(stops)
    monkeypatch.setattr(metrics, "_background", lambda fn, *args: metrics._Later(fn, args))
    _, simplified = _moved_grid()
    one_after = PartsReference(parts)
    for stop, want in zip(stops, got, strict=True):
        simplified = [simplified[0], simplified[1][1:]]
        assert np.array_equal(one_after.distances(simplified, stop), want), stop


def test_the_ball_search_of_overlapping_triangles_is_exact_whatever_its_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    # 300 large triangles crossing one box: each point has far more than 16 centroids within reach, so the exact
    # search goes to the ball, whose pairs skip the 16 nearest already measured and are filtered in pieces
    rng = np.random.default_rng(11)
    v = rng.random((900, 3)) * 4
    f = np.arange(900).reshape(-1, 3)
    points = rng.random((400, 3)) * 4.4 - 0.2
    index = TriangleDistance(v, f)
    calls = []
    ball = TriangleDistance._ball
    monkeypatch.setattr(TriangleDistance, "_ball", lambda self, *a: (calls.append(len(a[2])), ball(self, *a))[1])
    p = points - index.origin
    whole = index._exact(p, index._nearest(p, index.NEAR))
    assert calls and max(calls) > 16 * 50  # the ball search ran, on many pairs
    index.GAPS = 7  # pieces that split each point's pairs
    pieces = index._exact(p, index._nearest(p, index.NEAR))
    assert np.array_equal(whole, pieces)
    every = index._pairs(np.repeat(p, len(index.radius), axis=0), np.tile(np.arange(len(index.radius)), len(p)))
    assert np.array_equal(whole, every.reshape(len(p), -1).min(axis=1))  # the nearest of every triangle
    truth = np.array([min(_closest(q, *v[t]) for t in f) for q in points[:40]])
    assert np.allclose(whole[:40], truth, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one processor: nothing is made in the background")
def test_a_measurement_without_a_stop_searches_two_halves_side_by_side_with_the_same_numbers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the reference's moved points are searched in two halves, one in a worker, each pruning with what the other found;
    # the largest distances are those of one search over all of them
    parts, simplified = _moved_grid()
    whole = [PartsReference(parts).distances(s) for s in (simplified, [simplified[0], simplified[1][1:]])]
    searched: list[tuple[bool, bool]] = []
    largest = TriangleDistance.largest

    def recorded(self: TriangleDistance, points: np.ndarray, *args: object, **kw: object) -> np.ndarray:
        beside = kw.get("beside", args[5] if len(args) > 5 else None)
        searched.append((threading.current_thread() is threading.main_thread(), beside is not None))
        return largest(self, points, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(metrics, "SPLIT", 10)
    monkeypatch.setattr(TriangleDistance, "largest", recorded)
    halves = [PartsReference(parts).distances(s) for s in (simplified, [simplified[0], simplified[1][1:]])]
    assert (True, True) in searched and (False, True) in searched  # the halves, here and in a worker
    for a, b in zip(whole, halves, strict=True):
        assert np.array_equal(a, b), (a, b)
    # with a stop, one search as before
    searched.clear()
    PartsReference(parts).distances(simplified, 1.0)
    assert all(not beside for _, beside in searched)


def test_searches_side_by_side_prune_with_each_others_finds_and_stay_exact() -> None:
    rng = np.random.default_rng(5)
    v, f = _grid(30)
    v = v + np.c_[np.zeros((len(v), 2)), 0.2 * rng.standard_normal(len(v))]
    index = TriangleDistance(v, f)
    points = rng.random((3000, 3)) * [29, 29, 1]
    labels = rng.integers(0, 4, len(points))
    want = index.largest(points, labels, 4)
    beside: list[np.ndarray] = []
    first = index.largest(points[:1500], labels[:1500], 4, beside=beside)
    second = index.largest(points[1500:], labels[1500:], 4, beside=beside)
    assert len(beside) == 2 and np.array_equal(np.maximum(first, second), want)
