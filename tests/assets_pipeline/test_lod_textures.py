"""Each LOD carries textures scaled down with its triangles (halved per quarter of the triangles, never below
256 px, never enlarged, every image or none), unless switched off; the outputs stay valid."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from assets_pipeline.categories import LOD_TEXTURES_HELP
from assets_pipeline.document import AssetDocument, Image
from assets_pipeline.pipeline import OptimizeOptions, optimize_file
from assets_pipeline.transforms.textures import LOD_TEXTURE_FLOOR, TextureOptions, lod_texture_side

from .conftest import validate_ok

LODS = (0.5, 0.25, 0.1)


def png(width: int, height: int, seed: int) -> bytes:
    """A noisy RGB PNG (noise: re-encoding cannot make it tiny, so sizes show in bytes)."""
    from PIL import Image as PILImage

    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def textured_grid(path: Path) -> Path:
    """A wavy 40x40 grid (3,042 triangles) with a 1024x512 base colour and a 300x300 normal map, as a GLB."""
    from assets_pipeline.io.glb import WriteOptions, write_glb

    n = 40
    u, v = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    positions = np.stack([u, 0.05 * np.sin(7 * u) * np.cos(5 * v), v], axis=-1).reshape(-1, 3)
    cells = (np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None, :]).reshape(-1)
    faces = np.concatenate([np.stack([cells, cells + n, cells + 1], 1),
                            np.stack([cells + 1, cells + n, cells + n + 1], 1)])
    doc = AssetDocument.from_mesh_arrays(positions, faces, texcoords=np.stack([u, v], -1).reshape(-1, 2),
                                         texture=Image(png(1024, 512, 1), "image/png", "albedo"))
    doc.gltf["materials"][0]["normalTexture"] = {"index": doc.add_texture(Image(png(300, 300, 2), "image/png",
                                                                                "normal"))}
    write_glb(doc, path, WriteOptions(compression="none"))
    return path


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return textured_grid(tmp_path_factory.mktemp("lodtex") / "grid.glb")


def test_lod_texture_side_halves_per_quarter_never_below_the_floor_nor_above_the_image() -> None:
    assert [lod_texture_side(2048, r) for r in (1.0, 0.5, 0.25, 0.1, 0.01)] == [2048, 1024, 1024, 512, 256]
    assert lod_texture_side(4096, 0.001) == LOD_TEXTURE_FLOOR == 256  # the floor, reached by whole halvings
    assert lod_texture_side(1000, 0.01) == 500  # 250 would be under the floor: one halving fewer
    assert lod_texture_side(300, 0.1) == 300 and lod_texture_side(200, 0.1) == 200  # never below 256 by scaling
    assert lod_texture_side(512, 1.5) == 512  # never enlarged


def test_each_lod_carries_smaller_textures_and_stays_valid(grid: Path, tmp_path: Path) -> None:
    """LOD textures halve per quarter of the triangles (1024x512 -> 512x256 -> 512x256 -> 256x128); the 300 px
    map stays as it is (halving it would go under 256 px); the files are valid and each LOD is smaller."""
    out = tmp_path / "grid.glb"
    report = optimize_file(grid, out, OptimizeOptions(lods=LODS, measure_error=False))
    assert [lod.textures for lod in report.lods] == [
        [[1024, 512], [300, 300]], [[512, 256], [300, 300]], [[512, 256], [300, 300]], [[256, 128], [300, 300]]]
    validate_ok([Path(lod.path or "") for lod in report.lods])
    sizes = [lod.bytes for lod in report.lods]
    assert sizes[1] < sizes[0] * 0.6 and sizes[3] < sizes[1] * 0.7, sizes
    assert json.loads(json.dumps(report.to_dict()))["lods"][3]["textures"] == [[256, 128], [300, 300]]


def test_off_switch_and_texture_max_size(grid: Path, tmp_path: Path) -> None:
    """Off: every LOD carries the main output's textures. With --texture-max-size the LODs scale from that size,
    and an image already at or under the floor is not enlarged."""
    off = optimize_file(grid, tmp_path / "off.glb", OptimizeOptions(
        lods=(0.25,), measure_error=False, texture=TextureOptions(lod_textures=False)))
    assert [lod.textures for lod in off.lods] == [[[1024, 512], [300, 300]]] * 2
    capped = optimize_file(grid, tmp_path / "capped.glb", OptimizeOptions(
        lods=(0.1,), measure_error=False, texture=TextureOptions(format="keep", max_size=256)))
    assert [lod.textures for lod in capped.lods] == [[[256, 128], [256, 256]]] * 2
    validate_ok([Path(lod.path or "") for lod in (*off.lods, *capped.lods)])


def test_fallback_images_of_a_lod_are_scaled_too(grid: Path, tmp_path: Path) -> None:
    """--texture-fallback keeps the PNG beside the WebP: in a LOD both are the LOD's size."""
    rep = optimize_file(grid, tmp_path / "fb.glb", OptimizeOptions(
        lods=(0.25,), measure_error=False, texture=TextureOptions(fallback=True)))
    assert sorted(map(tuple, rep.lods[1].textures)) == [(300, 300), (300, 300), (512, 256), (512, 256)]
    validate_ok([Path(rep.lods[1].path or "")])


def test_the_switch_is_offered_by_optimize_upload_and_http() -> None:
    """--lod-textures/--no-lod-textures on optimize and upload, lod_textures on the HTTP upload: one help text."""
    from typer.testing import CliRunner

    from assets_pipeline.api import router
    from assets_pipeline.cli import app

    for command in ("optimize", "upload"):
        r = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "400", "TERM": "dumb", "NO_COLOR": "1"})
        text = " ".join(r.output.split())
        assert "--lod-textures / --no-lod-textures" in text and LOD_TEXTURES_HELP[:60] in text, text
    route = next(r for r in router.routes if getattr(r, "path", "") == "/products/{sku}/upload")
    params = {p.name: p for p in route.dependant.query_params}  # type: ignore[attr-defined]
    assert params["lod_textures"].field_info.description == LOD_TEXTURES_HELP


def test_batch_manifest_takes_texture_max_size_and_lod_textures(tmp_path: Path, corpus: Path) -> None:
    """The manifest's texture_max_size and lod_textures columns reach the publish and its content address; bad
    cells name their line and field."""
    import shutil

    from assets_pipeline.batch.content import publish_key
    from assets_pipeline.batch.manifest import ManifestRow, read_manifest

    shutil.copytree(corpus / "models" / "BoxTextured", tmp_path / "box")
    (tmp_path / "m.csv").write_text("\n".join([
        "path,sku,category,texture_max_size,lod_textures",
        "box/BoxTextured.gltf,BOX-1,furniture,,",
        "box/BoxTextured.gltf,BOX-2,furniture,1024,no",
        "box/BoxTextured.gltf,BOX-3,furniture,0,maybe",
        "box/BoxTextured.gltf,BOX-4,furniture,big,",
    ]) + "\n")
    m = read_manifest(tmp_path / "m.csv")
    plain, set_ = m.rows
    assert (plain.texture_max_size, plain.lod_textures, set_.texture_max_size, set_.lod_textures) == (
        None, True, 1024, False)
    assert ManifestRow.from_dict(json.loads(json.dumps(set_.to_dict()))) == set_
    assert [(p.line, p.field) for p in m.problems] == [(4, "texture_max_size"), (4, "lod_textures"),
                                                      (5, "texture_max_size")]
    key = publish_key(plain)
    assert key != publish_key(ManifestRow(2, plain.source, "BOX-1", "furniture", lod_textures=False))
    assert key != publish_key(ManifestRow(2, plain.source, "BOX-1", "furniture", texture_max_size=512))
