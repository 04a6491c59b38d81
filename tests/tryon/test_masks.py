"""Soft masks from synthetic shapes: area, holes, sub-pixel placement, ROI-bounded, clipped at the frame."""

from __future__ import annotations

import numpy as np
import pytest

from tryon.masks import rasterize, roi, union_box
from tryon.regions import Layer, RegionShape


def square(x: float, y: float, side: float, value: float = 1.0) -> Layer:
    pts = np.array([[x, y], [x + side, y], [x + side, y + side], [x, y + side]], dtype=np.float32)
    return Layer("fill", pts, value)


def test_area_matches_polygon_and_mask_is_roi_bounded() -> None:
    shape = RegionShape("sq", (square(100, 120, 40),), feather=1.5)
    mask = rasterize(shape, (720, 1280))
    assert mask is not None
    h, w = mask.alpha.shape
    assert h < 60 and w < 60  # only the region of interest, never the whole frame
    assert mask.alpha.sum() == pytest.approx(40 * 40, rel=0.03)
    assert mask.alpha.min() >= 0.0 and mask.alpha.max() <= 1.0


def test_hole_layer_cuts_out() -> None:
    shape = RegionShape("ring", (square(0, 0, 40), square(10, 10, 20, value=0.0)), feather=0.0)
    mask = rasterize(shape, (100, 100))
    assert mask is not None
    full = mask.full((100, 100))
    assert full[20, 20] == 0.0 and full[5, 5] == 1.0
    assert full.sum() == pytest.approx(40 * 40 - 20 * 20, rel=0.05)


@pytest.mark.parametrize("dx", [0.25, 0.5, 0.75])
def test_subpixel_shift_moves_the_mask_centroid(dx: float) -> None:
    def centroid_x(x0: float) -> float:
        m = rasterize(RegionShape("s", (square(x0, 20, 15),), feather=1.0), (64, 64))
        assert m is not None
        f = m.full((64, 64))
        return float((f.sum(axis=0) * np.arange(64)).sum() / f.sum())

    assert centroid_x(20 + dx) - centroid_x(20) == pytest.approx(dx, abs=0.05)


def test_feather_is_soft_and_gradual() -> None:
    m = rasterize(RegionShape("s", (square(20, 20, 40),), feather=3.0), (100, 100))
    assert m is not None
    row = m.full((100, 100))[40]
    edge = row[10:30]
    assert np.all(np.diff(edge) >= -1e-6)  # rises monotonically into the shape
    assert ((edge > 0.05) & (edge < 0.95)).sum() >= 6  # over several pixels


def test_clipped_at_frame_edge_and_none_when_outside() -> None:
    m = rasterize(RegionShape("s", (square(-20, -20, 40),), feather=1.0), (50, 50))
    assert m is not None and m.x0 == 0 and m.y0 == 0
    assert m.full((50, 50))[5, 5] == pytest.approx(1.0, abs=1e-3)
    assert roi(RegionShape("s", (square(200, 200, 10),), feather=1.0), (50, 50)) is None
    assert rasterize(RegionShape("s", (square(200, 200, 10),), feather=1.0), (50, 50)) is None


def test_ellipse_layer_and_union_box() -> None:
    e = Layer("ellipse", np.array([[50, 40]], np.float32), 1.0, axes=(20, 10), angle=0)
    m = rasterize(RegionShape("e", (e,), feather=0.0), (100, 100))
    assert m is not None
    assert m.alpha.sum() == pytest.approx(np.pi * 20 * 10, rel=0.05)
    m2 = rasterize(RegionShape("s", (square(70, 70, 10),), feather=0.0), (100, 100))
    assert m2 is not None
    x0, y0, x1, y1 = union_box([m, m2])
    assert x0 <= 30 and y0 <= 30 and x1 >= 80 and y1 >= 80


@pytest.mark.parametrize("feather", [0.8, 2.0, 4.0, 8.0])
def test_soft_masks_keep_area_and_centre_at_every_sampling(feather: float) -> None:
    """Supersampled sharp masks and subsampled soft masks all keep the shape's area and position."""
    m = rasterize(RegionShape("s", (square(100.3, 60.6, 40),), feather=feather), (300, 300))
    assert m is not None
    f = m.full((300, 300))
    assert f.sum() == pytest.approx(1600, rel=0.03)
    ys, xs = np.mgrid[:300, :300]
    assert (f * xs).sum() / f.sum() == pytest.approx(120.3, abs=0.15)
    assert (f * ys).sum() / f.sum() == pytest.approx(80.6, abs=0.15)


@pytest.mark.parametrize("feather", [0.0, 2.0, 8.0])
def test_clip_outline_bounds_the_feathered_mask(feather: float) -> None:
    clip = square(0, 0, 70).points  # the outline: x < 70
    shape = RegionShape("s", (square(40, 40, 60),), feather=feather, clip=clip)
    mask = rasterize(shape, (300, 300))
    assert mask is not None
    full = mask.full((300, 300))
    assert full[:, 71:].max() == 0 and full[71:, :].max() == 0  # nothing past the outline, feather included
    assert full[55, 55] > 0.9  # inside it the region is unchanged
