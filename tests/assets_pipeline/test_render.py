"""The rasterizer module (assets_pipeline.render): the thumbnail's and try-on's shoe views' one renderer."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from assets_pipeline.document import AssetDocument
from assets_pipeline.render import mesh_items, rasterize, shade, simplified

ROOT = Path(__file__).resolve().parents[2]


def _grid(n: int) -> AssetDocument:
    """A flat n x n grid of quads in the z = 0 plane, red to green along x."""
    ys, xs = np.mgrid[0 : n + 1, 0 : n + 1]
    points = np.column_stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)]).astype(np.float32) / n
    colors = np.column_stack([1 - points[:, 0], points[:, 0], np.zeros(len(points)), np.ones(len(points))])
    quads = (ys[:-1, :-1] * (n + 1) + xs[:-1, :-1]).ravel()
    tris = np.concatenate([np.column_stack([quads, quads + 1, quads + n + 2]),
                           np.column_stack([quads, quads + n + 2, quads + n + 1])])  # fmt: skip
    return AssetDocument.from_mesh_arrays(points, tris.astype(np.uint32), colors=colors.astype(np.float32))


def test_items_rasterize_and_shade_with_vertex_colours() -> None:
    (item,) = mesh_items(_grid(4))
    assert item.colors is not None and len(item.triangles) == 32
    size = 32
    xy = item.points[:, :2] * (size - 2) + 1  # the grid fills the square, seen from +z
    z = np.full(len(xy), 2.0)
    zbuf, tri_buf, bary = np.full(size * size, np.inf), np.full(size * size, -1, np.int64), np.zeros((size**2, 3))
    rasterize(xy, z, item.triangles, size, zbuf, tri_buf, bary)
    covered = np.nonzero(tri_buf >= 0)[0]
    assert len(covered) > 0.8 * size * size
    owner = np.zeros(len(item.triangles), np.int32)
    rgb = shade([item], item.triangles, owner, tri_buf[covered], bary[covered], xy, np.eye(3))
    x = covered % size
    assert rgb[x < 8, 0].mean() > rgb[x < 8, 1].mean() and rgb[x > 24, 1].mean() > rgb[x > 24, 0].mean()


def test_simplified_keeps_the_vertices_and_respects_the_budget() -> None:
    (item,) = mesh_items(_grid(40))
    small = simplified(item, 100, 1e-3)  # a flat grid simplifies to a few triangles without moving
    assert len(small.triangles) <= 100 < len(item.triangles) and small.points is item.points
    assert simplified(small, 100, 1e-3) is small


def test_the_thumbnail_draws_with_the_render_module() -> None:
    tree = ast.parse((ROOT / "assets_pipeline" / "thumbnail.py").read_text())
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    assert not defined & {"MeshItem", "mesh_items", "rasterize", "shade"}  # one renderer, not a copy
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "render" in imported
