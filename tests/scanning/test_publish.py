"""Publishing a scan with --sku: the GLB goes through assets_pipeline.publish into a local store + SQLite catalog."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from assets_pipeline.publish import PublishOptions
from assets_pipeline.service import AssetService
from assets_pipeline.settings import AssetSettings
from scanning.cli import app
from scanning.errors import HandoffError
from scanning.handoff import publish_product, write_product
from scanning.mesh import Mesh

runner = CliRunner()


@pytest.fixture()
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AssetSettings:
    """The local store and SQLite catalog the CLI will use, in tmp_path (as PHYGITAL_ASSETS_* settings)."""
    monkeypatch.setenv("PHYGITAL_ASSETS_STORE", "local")
    monkeypatch.setenv("PHYGITAL_ASSETS_STORE_PATH", str(tmp_path / "objects"))
    monkeypatch.setenv("PHYGITAL_ASSETS_CATALOG_PATH", str(tmp_path / "catalog.sqlite"))
    monkeypatch.delenv("PHYGITAL_ASSETS_CATALOG_URL", raising=False)
    return AssetSettings()


def _assets(settings: AssetSettings, sku: str) -> tuple[str, int, list[tuple[str, int, str]]]:
    service = AssetService.open(settings)
    try:
        product = service.catalog.get(sku)
        current = next(v for v in product.versions if v.number == product.current_version)
        assets = sorted((a.format.value, a.lod, a.storage_key) for a in current.assets)
        for _, _, key in assets:
            assert service.store.exists(key)
        return product.category.value, product.current_version or 0, assets
    finally:
        service.close()


def test_fuse_with_sku_publishes_glb_lods_usdz_and_thumbnail(
    bunny_folder: Path, settings: AssetSettings, tmp_path: Path
) -> None:
    out, rep = tmp_path / "bunny.glb", tmp_path / "report.json"
    res = runner.invoke(
        app,
        [
            "fuse",
            str(bunny_folder),
            "-o",
            str(out),
            "--report",
            str(rep),
            "--triangles",
            "6000",
            "--sku",
            "SCAN-BUNNY-1",
            "--name",
            "Scanned bunny",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "published SCAN-BUNNY-1 version 1" in res.output
    category, version, assets = _assets(settings, "SCAN-BUNNY-1")
    assert (category, version) == ("accessory", 1)
    formats = [(f, lod) for f, lod, _ in assets]
    lods = sorted(lod for f, lod in formats if f == "glb")
    assert lods == [0, 1, 2, 3]  # the full model and publish's default LOD chain
    assert sorted(lod for f, lod in formats if f == "usdz") == lods
    assert ("png", 0) in formats
    published = json.loads(rep.read_text())["output"]["published"]
    assert published["sku"] == "SCAN-BUNNY-1" and published["version"] == 1
    assert sorted((o["format"], o["lod"], o["key"]) for o in published["objects"]) == assets
    # the catalog records the scan under its name, with the dimensions of the GLB written next to it
    report = json.loads(rep.read_text())
    service = AssetService.open(settings)
    try:
        product = service.catalog.get("SCAN-BUNNY-1")
        assert product.name == "Scanned bunny"
        dims = [product.width_m, product.height_m, product.depth_m]
    finally:
        service.close()
    assert np.allclose(dims, report["output"]["dimensions_m"], rtol=0.01)


@pytest.fixture(scope="module")
def ball_cloud(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = np.random.default_rng(0).normal(size=(3000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    cloud = tmp_path_factory.mktemp("ball") / "ball.xyz"
    np.savetxt(cloud, np.hstack([0.05 * d, d]))  # meters, with normals
    return cloud


def test_mesh_with_sku_and_category_then_a_second_version(
    ball_cloud: Path, settings: AssetSettings, tmp_path: Path
) -> None:
    out = tmp_path / "ball.glb"
    res = runner.invoke(
        app,
        [
            "mesh",
            str(ball_cloud),
            "-o",
            str(out),
            "--triangles",
            "2000",
            "-q",
            "--sku",
            "BALL-7",
            "--category",
            "furniture",
        ],
    )
    assert res.exit_code == 0, res.output
    assert _assets(settings, "BALL-7")[:2] == ("furniture", 1)
    # without a category the product keeps its own; publish options pass through (one LOD here)
    again = tmp_path / "again.glb"
    handoff, report = publish_product(_ball(), again, "BALL-7", settings=settings, options=PublishOptions(lods=(0.5,)))
    assert report.version == 2 and handoff.bytes == again.stat().st_size
    category, version, assets = _assets(settings, "BALL-7")
    assert (category, version) == ("furniture", 2)
    assert sorted((f, lod) for f, lod, _ in assets) == [("glb", 0), ("glb", 1), ("png", 0), ("usdz", 0), ("usdz", 1)]


def test_bad_sku_is_refused_before_any_work(bunny_folder: Path, settings: AssetSettings, tmp_path: Path) -> None:
    out = tmp_path / "x.glb"
    res = runner.invoke(app, ["fuse", str(bunny_folder), "-o", str(out), "--sku", "no spaces", "-q"])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --sku: 'no spaces' is not a valid SKU")
    assert not out.exists()
    res = runner.invoke(app, ["fuse", str(bunny_folder), "-o", str(out), "--sku", "OK-1", "--category", "hats", "-q"])
    assert res.exit_code == 2 and "error: --category: 'hats' is not one of" in res.output
    res = runner.invoke(app, ["fuse", str(bunny_folder), "-o", str(out), "--category", "shoes", "-q"])
    assert res.exit_code == 2 and "error: --category: only applies with --sku" in res.output
    assert not out.exists()


def _ball() -> Mesh:
    import open3d as o3d

    m = o3d.geometry.TriangleMesh.create_sphere(0.05, 20)
    v = np.asarray(m.vertices) + np.array([0, 0.05, 0])
    return Mesh(v, np.asarray(m.triangles).astype(np.int64), np.clip(0.5 + 8 * np.asarray(m.vertices), 0, 1))


def test_catalog_conflict_keeps_the_glb_and_says_so(ball_cloud: Path, settings: AssetSettings, tmp_path: Path) -> None:
    publish_product(_ball(), tmp_path / "first.glb", "CONFLICT-1", "shoes", settings=settings,
                    options=PublishOptions(lods=()))  # fmt: skip
    with pytest.raises(HandoffError, match="already exists as shoes, not furniture"):
        publish_product(_ball(), tmp_path / "second.glb", "CONFLICT-1", "furniture", settings=settings)
    assert (tmp_path / "second.glb").is_file()  # written, but not published
    out = tmp_path / "ball.glb"
    res = runner.invoke(
        app,
        [
            "mesh",
            str(ball_cloud),
            "-o",
            str(out),
            "--triangles",
            "2000",
            "-q",
            "--sku",
            "CONFLICT-1",
            "--category",
            "makeup",
        ],
    )
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        f"error: {out}: written, but not published: publishing CONFLICT-1: category: SKU 'CONFLICT-1' already "
        "exists as shoes, not makeup"
    ]
    assert out.is_file()
    assert _assets(settings, "CONFLICT-1")[1] == 1


def test_bad_asset_settings_name_the_variable_before_any_work(
    ball_cloud: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI reads the PHYGITAL_ASSETS_* settings at its start (the library never reads them itself)."""
    monkeypatch.setenv("PHYGITAL_ASSETS_STORE", "ftp")
    out = tmp_path / "x.glb"
    res = runner.invoke(app, ["mesh", str(ball_cloud), "-o", str(out), "-q", "--sku", "OK-1"])
    assert res.exit_code == 2 and res.output.strip().splitlines()[0].startswith("error: setting PHYGITAL_ASSETS_STORE")
    assert not out.exists()


def test_catalog_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings = AssetSettings(store="local", store_path=tmp_path / "objects", catalog_path=blocker / "catalog.sqlite")
    with pytest.raises(HandoffError, match="written, but not published: publishing OK-1: "):
        publish_product(_ball(), tmp_path / "x.glb", "OK-1", settings=settings)


def test_publishing_hands_the_in_memory_model_along(tmp_path: Path, settings: AssetSettings) -> None:
    """The GLB written with --sku is the one write_product gives, and it is published as it is (LOD 0 has the
    same bytes: optimized once, never read back and optimized again)."""
    plain = tmp_path / "plain.glb"
    write_product(_ball(), plain, name="ball")
    out = tmp_path / "ball.glb"
    handoff, report = publish_product(_ball(), out, "ONCE-1", settings=settings, name="ball",
                                      options=PublishOptions(lods=(0.5,)))  # fmt: skip
    assert out.read_bytes() == plain.read_bytes() and handoff.bytes == len(out.read_bytes())
    (lod0,) = [o for o in report.objects if o.format == "glb" and o.lod == 0]
    import hashlib

    assert lod0.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
