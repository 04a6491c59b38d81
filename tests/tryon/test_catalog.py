"""Looks naming catalog SKUs: a real local store + SQLite catalog, a corpus model published with the asset
pipeline, try-on attributes set on it, then the look rendered on corpus images (and by the CLI)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from websockets.sync.client import connect

from assets_pipeline.catalog import AssetFormat, Category, NewAsset, NewVersion
from assets_pipeline.publish import PublishOptions, PublishRequest, publish
from assets_pipeline.service import AssetService
from assets_pipeline.settings import AssetSettings
from tests.conftest import TIME_FACTOR
from tests.tryon.conftest import LOOKS, ROOT, load_rgb
from tryon import media
from tryon.catalog import ProductCatalog
from tryon.errors import InvalidLook
from tryon.factory import create_tryon
from tryon.look import parse_look
from tryon.pipeline import TryOn
from tryon.providers.mediapipe import MediaPipeProvider
from tryon.settings import TryOnSettings
from tryon.shoes.cache import clear_memory
from tryon.shoes.views import render_views

SHOE, LIPSTICK, BARE = "SHO-KNIGHT-01", "LIP-RED-01", "CHAIR-01"
LIPSTICK_ATTRS = {"kind": "lipstick", "shade": "#A3162B", "finish": "matte", "intensity": 0.85}


@pytest.fixture(scope="module")
def catalog_root(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """A local store and SQLite catalog holding a published shoe (chr_knight.glb), a lipstick and a chair."""
    root = tmp_path_factory.mktemp("catalog")
    settings = AssetSettings(store="local", store_path=root / "objects", catalog_path=root / "catalog.sqlite")
    service = AssetService.open(settings)
    try:
        model = corpus / "models" / "chr_knight.glb"
        publish(PublishRequest(model, SHOE, Category.shoes, "Knight"), service.store, service.catalog,
                limits=settings.limits(), options=PublishOptions(lods=()))  # fmt: skip
        service.catalog.set_tryon(SHOE, {"kind": "shoes", "shade": "#202020", "toe_axis": "+z", "up_axis": "+y"})
        service.catalog.set_tryon(LIPSTICK, LIPSTICK_ATTRS, "Velvet Red")
        sha = "c" * 64
        chair = NewVersion("chair.obj", sha, (0.5, 0.9, 0.5), [NewAsset(AssetFormat.glb, 0, 10, sha, f"cc/{sha}")])
        service.catalog.add_version(BARE, "Chair", Category.furniture, chair)
    finally:
        service.close()
    return root


def asset_settings(root: Path) -> AssetSettings:
    return AssetSettings(store="local", store_path=root / "objects", catalog_path=root / "catalog.sqlite")


@pytest.fixture
def catalog(catalog_root: Path, tmp_path: Path) -> Iterator[ProductCatalog]:
    with ProductCatalog(asset_settings(catalog_root), tmp_path / "cache") as cat:
        yield cat


def test_makeup_sku_renders_like_the_inline_product(
    catalog: ProductCatalog, provider: MediaPipeProvider, images: dict[str, np.ndarray]
) -> None:
    face = images["face_man_suit.jpg"]
    by_sku = parse_look(json.dumps([{"sku": LIPSTICK}]), catalog=catalog)
    (product,) = by_sku.products
    assert (product.sku, product.name, product.kind, product.shade) == (LIPSTICK, "Velvet Red", "lipstick", "#A3162B")
    inline = parse_look(json.dumps([LIPSTICK_ATTRS]))
    sku_frame = TryOn(provider, by_sku).process(face).frame
    assert np.array_equal(sku_frame, TryOn(provider, inline).process(face).frame)
    assert np.any(sku_frame != face)

    lighter = parse_look(json.dumps([{"sku": LIPSTICK, "intensity": 0.4}]), catalog=catalog)
    assert lighter.products[0].intensity == 0.4  # the entry's own fields override the catalog's
    lighter_frame = TryOn(provider, lighter).process(face).frame
    assert np.array_equal(lighter_frame, TryOn(provider, parse_look(json.dumps([{**LIPSTICK_ATTRS, "intensity": 0.4}])))
                          .process(face).frame)  # fmt: skip
    assert not np.array_equal(lighter_frame, sku_frame)


def test_shoe_sku_renders_its_published_model_once(
    catalog: ProductCatalog, provider: MediaPipeProvider, corpus: Path, tmp_path: Path
) -> None:
    """Views come from the published GLB (fetched once into the cache), rendered once, then read from memory or,
    in a new process (memory cleared), from the disk cache; the frame is the same every time."""
    look = parse_look(json.dumps([{"sku": SHOE}]), catalog=catalog)
    model = Path(look.shoes[0].model or "")
    assert model.parent == tmp_path / "cache" / "models" and model.suffix == ".glb"
    frame = load_rgb(corpus / "images" / "person_standing_shoes.jpg")
    settings = TryOnSettings(cache_dir=tmp_path / "cache")
    clear_memory()
    frames, sources = [], []
    for fresh_process in (False, False, True):
        if fresh_process:
            clear_memory()
        tryon = create_tryon(look, settings, "image", provider=provider)
        assert tryon.shoes is not None
        sources.append(tryon.shoes.source)
        result = tryon.process(frame)
        # the knight is no shoe (its sole is not where a shoe's is): a foot whose knight hangs off the leg gets none
        assert len(result.shoes_placed) >= 1
        frames.append(result.frame)
    assert sources == ["rendered", "memory", "disk"]
    assert np.any(frames[0] != frame)
    assert all(np.array_equal(f, frames[0]) for f in frames[1:])
    assert len(list((tmp_path / "cache" / "views").glob("*.npz"))) == 1

    # the published (optimized, compressed) model looks like the corpus original
    published = tryon.shoes.views.side.rgba
    original = render_views(media.read_document(corpus / "models" / "chr_knight.glb")).side.rgba
    mean = lambda rgba: rgba[..., :3][rgba[..., 3] == 255].mean(axis=0)  # noqa: E731
    assert np.abs(mean(published) - mean(original)).max() < 3


def test_catalog_problems_name_the_sku(catalog: ProductCatalog) -> None:
    cases = [
        ([{"sku": "NOPE-1"}], "[0].sku", "'NOPE-1' is not in the product catalog"),
        ([LIPSTICK_ATTRS, {"sku": BARE}], "[1].sku", f"'{BARE}' has no try-on attributes"),
        ([{"sku": LIPSTICK, "shade": "red"}], "[0].shade", "is not a #RRGGBB hex colour"),
    ]
    for look, field, message in cases:
        with pytest.raises(InvalidLook, match=message) as info:
            parse_look(json.dumps(look), "look.json", catalog)
        assert info.value.field == field and str(info.value).startswith(f"look.json: {field} ")


def test_an_unreachable_catalog_is_an_invalid_look(tmp_path: Path) -> None:
    from tests.assets_pipeline.catalog_fixtures import free_port

    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none?connect_timeout=2"
    with (
        ProductCatalog(AssetSettings(catalog_url=url), tmp_path) as catalog,
        pytest.raises(InvalidLook, match="the product catalog cannot be opened") as info,
    ):
        parse_look(json.dumps([{"sku": LIPSTICK}]), "look.json", catalog)
    assert info.value.field == "[0].sku"
    assert parse_look(json.dumps([LIPSTICK_ATTRS]), catalog=catalog).products  # inline looks never open it


def run(cwd: Path, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=300 * TIME_FACTOR, check=False)  # fmt: skip


def test_readme_sequence_with_the_sample_sku_look(tmp_path: Path, corpus: Path) -> None:
    """The commands of the README's "Looks from the catalog" run as written (settings from the environment)."""
    env = {"PHYGITAL_ASSETS_STORE_PATH": str(tmp_path / "objects"),
           "PHYGITAL_ASSETS_CATALOG_PATH": str(tmp_path / "catalog.sqlite"),
           "PHYGITAL_TRYON_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
    steps = [
        ("assets_pipeline", "tryon", "LIP-RED-01", "--kind", "lipstick", "--shade", "#A3162B", "--finish", "matte",
         "--intensity", "0.85", "--name", "Velvet Red"),
        ("assets_pipeline", "upload", corpus / "models" / "chr_knight.glb", "--sku", "SHO-KNIGHT-01", "--category",
         "shoes", "--units", "cm", "--lods", "0.5", "--quiet"),
        ("assets_pipeline", "tryon", "SHO-KNIGHT-01", "--kind", "shoes", "--shade", "#202020"),
    ]  # fmt: skip
    for step in steps:
        r = run(tmp_path, *step, **env)
        assert r.returncode == 0, (step, r.stderr)
    r = run(tmp_path, "assets_pipeline", "show", "SHO-KNIGHT-01", **env)
    assert r.returncode == 0 and "0.18 x 0.15 x 0.08" in r.stdout, r.stdout  # a shoe's size, not 18 m (--units cm)
    picture = ("tryon", "image", corpus / "images" / "person_standing_shoes.jpg", "--look",
               LOOKS / "catalog_skus.json", "-o", tmp_path / "out.jpg")  # fmt: skip
    for _ in range(2):
        r = run(tmp_path, *picture, **env)
        assert r.returncode == 0, r.stderr
        shoes = re.search(r"(\d+) shoe\(s\)", r.stdout)  # the knight is no shoe: one may hang off the leg
        assert shoes is not None and int(shoes.group(1)) >= 1 and "face(s)" in r.stdout, r.stdout
    assert len(list((tmp_path / "cache" / "views").glob("*.npz"))) == 1
    out = media.read_image(tmp_path / "out.jpg")
    assert out.shape == load_rgb(corpus / "images" / "person_standing_shoes.jpg").shape

    bad = tmp_path / "bad.json"
    bad.write_text('[{"sku": "LIP-NOPE"}]')
    r = run(tmp_path, *picture[:3], "--look", bad, "-o", tmp_path / "bad.jpg", **env)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"error: {bad}: [0].sku 'LIP-NOPE' is not in the product catalog"
    ]


def test_live_endpoint_resolves_skus(catalog_root: Path, tmp_path: Path, astronaut: np.ndarray) -> None:
    from tests.tryon.test_live import live_server, next_json

    clear_memory()
    with (
        live_server(TryOnSettings(cache_dir=tmp_path / "cache"), asset_settings(catalog_root)) as url,
        connect(url, max_size=None) as ws,
    ):
        ws.send(json.dumps({"type": "look", "products": [{"sku": "NOPE-1"}]}))
        assert next_json(ws) == {"type": "error", "code": "bad_look",
                                 "message": "look: [0].sku 'NOPE-1' is not in the product catalog"}  # fmt: skip
        ws.send(json.dumps({"type": "look", "products": [{"sku": LIPSTICK}, {"sku": SHOE}]}))
        assert next_json(ws) == {"type": "look", "products": 2}
        for _ in range(2):  # a face is painted from its second frame (its track is confirmed)
            ws.send(media.encode_jpeg(astronaut, 90))
            meta = next_json(ws)
            assert isinstance(ws.recv(timeout=60), bytes)
        assert meta["type"] == "frame" and meta["faces"] == 1, meta
    for kind in ("models/*.glb", "views/*.npz"):  # the shoe's model and views, in the session's cache folder
        assert len(list((tmp_path / "cache").glob(kind))) == 1


def test_views_cache_is_per_model_and_axes_and_survives_a_damaged_file(corpus: Path, tmp_path: Path) -> None:
    from tryon.shoes.render import ShoeRenderer

    knight = {"kind": "shoes", "shade": "#000000", "model": str(corpus / "models" / "chr_knight.glb")}
    look = parse_look(json.dumps([knight]))
    clear_memory()
    first = ShoeRenderer.from_look(look, None, tmp_path)
    (cached,) = (tmp_path / "views").glob("*.npz")
    cached.write_bytes(b"not a zip")
    clear_memory()
    again = ShoeRenderer.from_look(look, None, tmp_path)
    assert (first.source, again.source) == ("rendered", "rendered")
    assert np.array_equal(first.views.side.rgba, again.views.side.rgba)
    clear_memory()
    assert ShoeRenderer.from_look(look, None, tmp_path).source == "disk"
    turned = parse_look(json.dumps([{**knight, "toe_axis": "+x"}]))
    assert ShoeRenderer.from_look(turned, None, tmp_path).source == "rendered"
    assert len(list((tmp_path / "views").glob("*.npz"))) == 2
