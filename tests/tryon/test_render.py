"""Rendering on the astronaut's lips: shade reached, texture kept, outside untouched, finishes differ."""

from __future__ import annotations

import numpy as np
import pytest

from tryon import color
from tryon.finishes import FINISHES
from tryon.landmarks import FaceLandmarks
from tryon.masks import Mask, rasterize
from tryon.regions import lips
from tryon.render import Paint, render


@pytest.fixture(scope="module")
def lip_mask(astronaut_face: FaceLandmarks) -> Mask:
    m = rasterize(lips(astronaut_face), (512, 512))
    assert m is not None
    return m


def inside(frame: np.ndarray, m: Mask, thr: float = 0.9) -> np.ndarray:
    x0, y0, x1, y1 = m.box
    return frame[y0:y1, x0:x1][m.alpha > thr]


def luminance(rgb: np.ndarray) -> np.ndarray:
    return color.u8_to_linear(rgb) @ color.LUMA


def test_outside_the_mask_is_byte_identical(astronaut: np.ndarray, lip_mask: Mask) -> None:
    out = render(astronaut, [(lip_mask, Paint.from_hex("#B0102A", "gloss", 0.9))])
    changed = np.any(out != astronaut, axis=2)
    assert changed.any()
    assert not changed[lip_mask.full((512, 512)) == 0].any()


def test_shade_is_reached_and_texture_kept(astronaut: np.ndarray, lip_mask: Mask) -> None:
    shade = "#B0102A"
    out = render(astronaut, [(lip_mask, Paint.from_hex(shade, "matte", 1.0))])
    before, after = inside(astronaut, lip_mask), inside(out, lip_mask)
    hue = lambda lab: np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))  # noqa: E731
    target = hue(color.srgb_to_lab(color.hex_to_srgb(shade)))
    got = np.median(hue(color.srgb_to_lab(after / 255.0)))
    assert abs(got - target) < 8
    lb, la = luminance(before), luminance(after)
    assert la.std() / la.mean() > 0.4 * lb.std() / lb.mean()  # relative variation kept (a flat blend has none)


def test_gloss_follows_the_skin_shading(astronaut: np.ndarray, lip_mask: Mask) -> None:
    """Under the film (where the gloss adds no highlight) the lips keep their own shading."""
    out = render(astronaut, [(lip_mask, Paint.from_hex("#B0102A", "gloss", 1.0))])
    x0, y0, x1, y1 = lip_mask.box
    y = luminance(astronaut[y0:y1, x0:x1]).astype(np.float32)
    s = y / float((y * lip_mask.alpha).sum() / lip_mask.alpha.sum())
    film = (FINISHES["gloss"](s, np.ones(3, np.float32), None).highlight < 0.01) & (lip_mask.alpha > 0.9)
    lb, la = y[film], luminance(out[y0:y1, x0:x1])[film]
    assert film.sum() > 0.5 * (lip_mask.alpha > 0.9).sum()
    assert np.corrcoef(lb, la)[0, 1] > 0.9


def test_zero_intensity_changes_nothing(astronaut: np.ndarray, lip_mask: Mask) -> None:
    out = render(astronaut, [(lip_mask, Paint.from_hex("#B0102A", "matte", 0.0))])
    assert np.array_equal(out, astronaut)


def test_gloss_keeps_highlights_matte_absorbs_them(astronaut: np.ndarray, lip_mask: Mask) -> None:
    res = {f: inside(render(astronaut, [(lip_mask, Paint.from_hex("#B0102A", f, 1.0))]), lip_mask) for f in FINISHES}
    top = {f: np.percentile(luminance(v), 98) for f, v in res.items()}
    assert top["gloss"] > top["matte"] * 1.3
    assert top["metallic"] > top["matte"]
    assert not np.array_equal(res["shimmer"], res["gloss"])


def test_input_frame_is_not_modified(astronaut: np.ndarray, lip_mask: Mask) -> None:
    copy = astronaut.copy()
    render(astronaut, [(lip_mask, Paint.from_hex("#000000", "matte", 1.0))])
    assert np.array_equal(copy, astronaut)


def test_layers_apart_are_painted_as_each_alone(astronaut: np.ndarray, lip_mask: Mask) -> None:
    """Layers far apart (two faces) are painted in groups of overlapping boxes; the frame is the same as painting one
    group after the other, overlapping layers still mix in linear light in order, and pixels between the groups
    are untouched."""
    h, w = astronaut.shape[:2]
    moved = Mask(lip_mask.name, 0, h - lip_mask.alpha.shape[0], lip_mask.alpha)  # the lips at the bottom left
    gloss, blush = Paint.from_hex("#B0102A", "gloss", 0.9), Paint.from_hex("#E0506A", "matte", 0.5)
    both = render(astronaut, [(lip_mask, gloss), (moved, gloss), (lip_mask, blush)])
    one_by_one = render(render(astronaut, [(moved, gloss)]), [(lip_mask, gloss), (lip_mask, blush)])
    np.testing.assert_array_equal(both, one_by_one)
    x0, y0, x1, y1 = lip_mask.box
    between = np.ones((h, w), bool)
    between[y0:y1, x0:x1] = False
    between[moved.box[1] :, : moved.box[2]] = False
    np.testing.assert_array_equal(both[between], astronaut[between])
