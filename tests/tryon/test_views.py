"""Shoe views rendered from 3D models of the corpus (the renderer does not care that they are not shoes)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assets_pipeline.render import mesh_items
from tryon import media
from tryon.errors import InvalidLook, InvalidMedia
from tryon.landmarks import FootLandmarks, PoseLandmarks
from tryon.shoes.render import ShoeRenderer
from tryon.shoes.views import closed_winding, front_winding, render_view, render_views, simplified


def silhouette(rgba: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(rgba[..., 3] > 0)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def test_views_match_the_model_extents(corpus: Path) -> None:
    """chr_knight is 18 x 15 x 8 (x, y, z): side view (toe +z) shows z by y, front view shows x by y."""
    items = mesh_items(media.read_document(corpus / "models" / "chr_knight.glb"))
    points = np.concatenate([it.points for it in items])
    ext = points.max(axis=0) - points.min(axis=0)
    side = render_view(items, "side", toe_axis="+z", up_axis="+y")
    front = render_view(items, "front", toe_axis="+z", up_axis="+y")
    sw, sh = silhouette(side.rgba)
    fw, fh = silhouette(front.rgba)
    assert sw / sh == pytest.approx(ext[2] / ext[1], rel=0.05)
    assert fw / fh == pytest.approx(ext[0] / ext[1], rel=0.05)
    assert side.span == pytest.approx(sw - 1, abs=1)


def test_textured_model_keeps_its_colours_and_marks(corpus: Path) -> None:
    views = render_views(media.read_document(corpus / "models" / "DamagedHelmet.glb"))
    for v in (views.side, views.front, views.back):
        alpha = v.rgba[..., 3]
        ax, ay = np.round(v.anchor).astype(int)
        assert alpha[ay, ax] == 255
        rgb = v.rgba[alpha == 255][:, :3].astype(int)
        assert rgb.std(axis=0).mean() > 20  # textured, shaded: not a flat grey silhouette
    assert not np.array_equal(views.front.rgba, views.back.rgba)


def test_axes_must_differ_and_bad_models_are_rejected(corpus: Path, tmp_path: Path) -> None:
    items = mesh_items(media.read_document(corpus / "models" / "BoxVertexColors.glb"))
    with pytest.raises(ValueError, match="must differ"):
        render_view(items, "side", toe_axis="+y", up_axis="+y")
    bad = tmp_path / "bad.glb"
    bad.write_bytes(b"glTF" + b"\x00" * 40)
    with pytest.raises(InvalidMedia, match=r"bad\.glb"):
        media.read_document(bad)
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


def test_views_are_rotations_not_mirrors() -> None:
    """Every camera is a proper rotation, so textures and lettering are not mirrored."""
    from tryon.shoes.views import _axis, _camera

    for toe, up in (("+z", "+y"), ("+x", "+z"), ("-y", "+z")):
        for view in ("side", "front", "back"):
            assert np.linalg.det(_camera(_axis(toe), _axis(up), view)) == pytest.approx(1.0)


def test_skipping_back_faces_of_a_closed_model_changes_nothing(corpus: Path) -> None:
    """Back faces are skipped for single-sided glTF materials and closed surfaces, and change nothing there."""
    helmet = media.read_document(corpus / "models" / "DamagedHelmet.glb")
    assert front_winding(helmet, mesh_items(helmet)) == 1  # single-sided glTF material
    spot = media.read_document(corpus / "models" / "spot.obj")  # open where its texture seams split vertices
    assert front_winding(spot, mesh_items(spot), sided_materials=False) == 0
    (item,) = mesh_items(media.read_document(corpus / "models" / "DenseSphere.glb"))
    assert closed_winding(item.points, item.triangles) == 1
    assert closed_winding(item.points, item.triangles[:, ::-1]) == -1  # wound inside out
    assert closed_winding(item.points, item.triangles[1:]) == 0  # a hole
    for view in ("side", "front"):
        culled = render_view(item, view, winding=1).rgba.astype(int)
        full = render_view(item, view, winding=0).rgba.astype(int)
        assert np.array_equal(culled[..., 3], full[..., 3])
        assert np.mean(np.abs(culled - full)) < 0.5
        flipped = replace(item, triangles=item.triangles[:, ::-1].copy())
        assert np.array_equal(render_view(flipped, view, winding=-1).rgba[..., 3], culled[..., 3])


def test_dense_models_are_simplified_without_visible_change(corpus: Path) -> None:
    """stanford-bunny (69k triangles) is drawn from at most 16k at 256 px; its silhouette stays the same."""
    (item,) = mesh_items(media.read_document(corpus / "models" / "stanford-bunny.obj"))
    small = simplified(item, "+z", "+y", 256)
    assert len(small.triangles) <= 256 * 256 // 4 < len(item.triangles)
    assert simplified(small, "+z", "+y", 256) is small  # under the budget: left as it is
    for view in ("side", "front"):
        full = render_view(item, view).rgba
        fast = render_view(small, view).rgba
        a, b = full[..., 3] > 0, fast[..., 3] > 0
        assert (a & b).sum() / (a | b).sum() > 0.995
        assert np.abs(full.astype(int) - fast.astype(int)).mean() < 3


def test_glTF_vertex_colours_reach_the_views(corpus: Path) -> None:
    """One reader for shoe models: the asset pipeline's keeps COLOR_0 (trimesh's GLB path lost it)."""
    doc = media.read_document(corpus / "models" / "BoxVertexColors.glb")
    (item,) = mesh_items(doc)
    assert item.colors is not None
    side = render_views(doc).side.rgba
    rgb = side[side[..., 3] == 255][:, :3].astype(int)
    assert len({tuple(c) for c in (rgb // 32)}) > 4  # several hues, not one shaded grey


def test_shoe_views_use_the_asset_pipelines_public_modules_only() -> None:
    """tryon renders with assets_pipeline.render and reads with assets_pipeline.read, never their internals."""
    import ast

    root = Path(__file__).resolve().parents[2] / "tryon"
    internals = ("assets_pipeline.thumbnail", "assets_pipeline.codecs", "assets_pipeline.store", "assets_pipeline.io")
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(internals), f"{path.name} imports {node.module}"
    assert not hasattr(media, "read_model")  # one reader for shoe models
