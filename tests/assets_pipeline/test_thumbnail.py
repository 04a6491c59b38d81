"""Thumbnails: valid PNGs of the asked size, framed, shaded, and showing texture and vertex colors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from assets_pipeline import AssetDocument, optimize_file
from assets_pipeline.errors import InvalidAsset
from assets_pipeline.io.formats import read
from assets_pipeline.thumbnail import render_thumbnail

MODELS = ["DamagedHelmet.glb", "BoxTextured/BoxTextured.gltf", "chr_knight.glb", "stanford-bunny.obj",
          "pirate.obj", "ShapeCollection.glb"]


def decode(png: bytes) -> np.ndarray:
    im = PILImage.open(io.BytesIO(png))
    assert im.format == "PNG"
    assert im.mode == "RGBA"
    return np.asarray(im)


def coverage(rgba: np.ndarray) -> float:
    return float((rgba[..., 3] > 0).mean())


def bbox(rgba: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(rgba[..., 3] > 0)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@pytest.mark.parametrize("name", MODELS)
def test_corpus_thumbnail(corpus: Path, tmp_path: Path, name: str) -> None:
    doc = read(corpus / "models" / name)
    png = render_thumbnail(doc, 256)
    (tmp_path / f"{Path(name).stem}.png").write_bytes(png)
    rgba = decode(png)
    assert rgba.shape == (256, 256, 4)
    assert 0.08 < coverage(rgba) < 0.9, "the object should fill a sensible part of the frame"
    x0, y0, x1, y1 = bbox(rgba)
    # framed: the larger projected side spans the frame minus the margin, and nothing touches the border
    assert max(x1 - x0, y1 - y0) > 0.8 * 256
    assert min(x0, y0) > 0 and max(x1, y1) < 255
    assert abs((x0 + x1) / 2 - 128) < 6 or abs((y0 + y1) / 2 - 128) < 6
    assert rgba[0, 0, 3] == 0, "background is transparent"
    lum = rgba[..., :3][rgba[..., 3] == 255].astype(np.float64).mean(axis=1)
    assert lum.std() > 8, "shading should vary over the surface"


def hue_spread(rgba: np.ndarray) -> float:
    rgb = rgba[..., :3][rgba[..., 3] == 255].astype(np.float64)
    return float((rgb.max(axis=1) - rgb.min(axis=1)).mean())


def test_textures_show_their_colors(corpus: Path) -> None:
    helmet = read(corpus / "models" / "DamagedHelmet.glb")
    textured = decode(render_thumbnail(helmet, 192))
    plain = helmet.clone()
    del plain.gltf["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"]
    untextured = decode(render_thumbnail(plain, 192))
    assert np.array_equal(textured[..., 3], untextured[..., 3]), "the texture must not change the silhouette"
    # the helmet's blue-grey visor, yellow/green details: clearly more color than the shaded-white version
    assert hue_spread(textured) > 3 * hue_spread(untextured) + 5
    diff = np.abs(textured[..., :3].astype(int) - untextured[..., :3].astype(int)).sum(axis=2)
    assert (diff[textured[..., 3] == 255] > 30).mean() > 0.5

    box = decode(render_thumbnail(read(corpus / "models" / "BoxTextured" / "BoxTextured.gltf"), 192))
    rgb = box[..., :3][box[..., 3] == 255].astype(int)
    blue = (rgb[:, 2] > rgb[:, 0] + 40).mean()  # the texture's blue and green shapes
    green = (rgb[:, 1] > rgb[:, 0] + 30).mean()
    assert blue > 0.1 and green > 0.05


def test_quantized_meshopt_glb_renders_like_source(corpus: Path, tmp_path: Path) -> None:
    """The optimized GLB (quantized, meshopt, WebP, KHR_texture_transform) gives the same picture."""
    source = corpus / "models" / "chr_knight.glb"
    optimize_file(source, tmp_path / "knight.glb")
    before = decode(render_thumbnail(read(source), 128)).astype(int)
    after = decode(render_thumbnail(read(tmp_path / "knight.glb"), 128)).astype(int)
    assert (np.abs(before - after).max(axis=2) > 40).mean() < 0.02


def test_vertex_colors_and_base_color_factor() -> None:
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    quad = np.array([0, 1, 2, 0, 2, 3])
    red = AssetDocument.from_mesh_arrays(square, quad, colors=np.array([[1.0, 0, 0]] * 4, np.float32))
    rgba = decode(render_thumbnail(red, 64))
    rgb = rgba[..., :3][rgba[..., 3] == 255].astype(int)
    assert (rgb[:, 0] > 3 * rgb[:, 1] + 20).all()  # red everywhere (shaded, never grey)
    green = AssetDocument.from_mesh_arrays(square, quad, material={
        "pbrMetallicRoughness": {"baseColorFactor": [0.0, 1.0, 0.0, 1.0]}})
    rgba = decode(render_thumbnail(green, 64))
    rgb = rgba[..., :3][rgba[..., 3] == 255].astype(int)
    assert (rgb[:, 1] > 3 * rgb[:, 0] + 20).all()


def test_depth_test_keeps_the_nearer_surface() -> None:
    """Two parallel quads: the one nearer the camera (larger z, the camera looks from +z) hides most of the other,
    whatever order the triangles come in."""
    back = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    front = back + np.array([0, 0, 0.5], np.float32)
    quad = np.array([0, 1, 2, 0, 2, 3])
    blue, red = np.array([[0, 0, 1.0]] * 4, np.float32), np.array([[1.0, 0, 0]] * 4, np.float32)
    images = []
    for first, second in (((back, blue), (front, red)), ((front, red), (back, blue))):
        doc = AssetDocument.from_mesh_arrays(np.concatenate([first[0], second[0]]), np.concatenate([quad, quad + 4]),
                                             colors=np.concatenate([first[1], second[1]]))
        images.append(decode(render_thumbnail(doc, 96)))
    assert np.array_equal(images[0], images[1])
    rgb = images[0][..., :3][images[0][..., 3] == 255].astype(int)
    assert 0.6 < (rgb[:, 0] > rgb[:, 2]).mean() < 0.9  # red in front; a strip of blue shows beside and below


def test_empty_and_bad_size(corpus: Path) -> None:
    empty = decode(render_thumbnail(AssetDocument.empty(), 32))
    assert empty.shape == (32, 32, 4) and not empty[..., 3].any()
    with pytest.raises(InvalidAsset, match="size 8 is outside"):
        render_thumbnail(AssetDocument.empty(), 8)
