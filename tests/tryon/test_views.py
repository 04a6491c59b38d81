"""Shoe views rendered from 3D models of the corpus (the renderer does not care that they are not shoes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tryon import media
from tryon.errors import InvalidLook, InvalidMedia
from tryon.landmarks import FootLandmarks, PoseLandmarks
from tryon.shoes.render import ShoeRenderer
from tryon.shoes.views import render_view, render_views


def silhouette(rgba: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(rgba[..., 3] > 0)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def test_views_match_the_model_extents(corpus: Path) -> None:
    """chr_knight is 18 x 15 x 8 (x, y, z): side view (toe +z) shows z by y, front view shows x by y."""
    mesh = media.read_model(corpus / "models" / "chr_knight.glb")
    ext = mesh.extents  # type: ignore[attr-defined]
    side = render_view(mesh, "side", toe_axis="+z", up_axis="+y")
    front = render_view(mesh, "front", toe_axis="+z", up_axis="+y")
    sw, sh = silhouette(side.rgba)
    fw, fh = silhouette(front.rgba)
    assert sw / sh == pytest.approx(ext[2] / ext[1], rel=0.05)
    assert fw / fh == pytest.approx(ext[0] / ext[1], rel=0.05)
    assert side.span == pytest.approx(sw - 1, abs=1)


def test_textured_model_keeps_its_colours_and_marks(corpus: Path) -> None:
    views = render_views(media.read_model(corpus / "models" / "DamagedHelmet.glb"))
    for v in (views.side, views.front, views.back):
        alpha = v.rgba[..., 3]
        ax, ay = np.round(v.anchor).astype(int)
        assert alpha[ay, ax] == 255
        rgb = v.rgba[alpha == 255][:, :3].astype(int)
        assert rgb.std(axis=0).mean() > 20  # textured, shaded: not a flat grey silhouette
    assert not np.array_equal(views.front.rgba, views.back.rgba)


def test_axes_must_differ_and_bad_models_are_rejected(corpus: Path, tmp_path: Path) -> None:
    mesh = media.read_model(corpus / "models" / "BoxVertexColors.glb")
    with pytest.raises(ValueError, match="must differ"):
        render_view(mesh, "side", toe_axis="+y", up_axis="+y")
    bad = tmp_path / "bad.glb"
    bad.write_bytes(b"glTF" + b"\x00" * 40)
    with pytest.raises(InvalidMedia, match=r"bad\.glb"):
        media.read_model(bad)
    look = tmp_path / "look.json"
    knight = str(corpus / "models" / "chr_knight.glb")
    product = {"kind": "shoes", "shade": "#000000", "model": knight, "toe_axis": "-y", "up_axis": "+y"}
    look.write_text(json.dumps([product]))
    with pytest.raises(InvalidLook, match="must differ"):
        ShoeRenderer.from_look(media.read_look(look), tmp_path)


def test_look_with_a_model_places_rendered_views(corpus: Path, tmp_path: Path) -> None:
    look = tmp_path / "look.json"
    look.write_text(
        json.dumps([{"kind": "shoes", "shade": "#000000", "model": str(corpus / "models" / "chr_knight.glb")}])
    )
    renderer = ShoeRenderer.from_look(media.read_look(look), tmp_path)
    a = lambda v: np.array(v, np.float32)  # noqa: E731
    foot = FootLandmarks("left", a((110, 80)), a((105, 170)), a((100, 200)), a((160, 200)), 0.9, False)
    frame = np.full((300, 300, 3), 90, np.uint8)
    out, placed = renderer.apply(
        frame, PoseLandmarks(np.zeros((33, 2), np.float32), np.ones(33, np.float32), (foot,), None)
    )
    assert len(placed) == 1 and np.any(out != frame)
