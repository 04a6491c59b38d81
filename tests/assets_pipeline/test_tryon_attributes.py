"""Try-on attributes of products (migration 0003, ``Catalog.set_tryon``, CLI ``tryon``, API), SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from assets_pipeline.catalog import AssetFormat, Catalog, Category, NewAsset, NewVersion
from assets_pipeline.catalog.schema import current_revision, head_revision, make_engine, upgrade
from assets_pipeline.errors import Conflict, InvalidAsset

from .catalog_fixtures import local_settings
from .test_cli_catalog import cli, one_error_line

LIPSTICK = {"kind": "lipstick", "shade": "#B0102A", "finish": "matte", "intensity": 0.85}


def _shoe_version() -> NewVersion:
    sha = "a" * 64
    return NewVersion("shoe.glb", sha, (0.1, 0.12, 0.3), [NewAsset(AssetFormat.glb, 0, 100, sha, f"aa/{sha}")])


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    cat = Catalog.open(catalog_url)
    yield cat
    cat.close()


def test_a_new_sku_becomes_a_makeup_product_without_a_model(catalog: Catalog) -> None:
    product = catalog.set_tryon("LIP-RED-01", {**LIPSTICK, "shade": "B0102A"}, "Velvet Red")
    assert (product.category, product.name, product.current_version, product.versions) == (
        Category.makeup, "Velvet Red", None, [])  # fmt: skip
    assert product.tryon == LIPSTICK  # the shade gets its "#"
    merged = catalog.set_tryon("LIP-RED-01", {"intensity": 0.5})
    assert merged.tryon == {**LIPSTICK, "intensity": 0.5} and merged.name == "Velvet Red"
    rows, total = catalog.search(category=Category.makeup)
    assert total == 1 and rows[0].tryon == merged.tryon


def test_an_existing_shoe_keeps_its_versions(catalog: Catalog) -> None:
    catalog.add_version("SHO-1", "Runner", Category.shoes, _shoe_version())
    attrs = {"kind": "shoes", "shade": "#C8102E", "toe_axis": "-x", "up_axis": "+z", "style": "boot"}
    product = catalog.set_tryon("SHO-1", attrs)
    assert product.tryon == attrs and product.current_version == 1 and len(product.versions) == 1
    assert product.name == "Runner"
    with pytest.raises(Conflict, match="is a shoes product; kind 'lipstick' needs a makeup product") as info:
        catalog.set_tryon("SHO-1", {"kind": "lipstick"})
    assert info.value.field == "tryon.kind"
    assert catalog.get("SHO-1").tryon == attrs  # unchanged


@pytest.mark.parametrize(
    ("attrs", "field", "message"),
    [
        ({"shade": "#000000"}, "tryon.kind", "Field required"),
        ({"kind": "hat", "shade": "#000000"}, "tryon.kind", "Input should be 'lipstick'"),
        ({"kind": "blush", "shade": "pink"}, "tryon.shade", "'pink' is not a #RRGGBB hex colour"),
        ({**LIPSTICK, "intensity": 1.5}, "tryon.intensity", "less than or equal to 1"),
        ({**LIPSTICK, "finish": "satin"}, "tryon.finish", "Input should be"),
        ({"kind": "shoes", "shade": "#000000", "toe_axis": "up"}, "tryon.toe_axis", "Input should be"),
        ({**LIPSTICK, "model": "x.glb"}, "tryon.model", "unknown try-on attribute"),
    ],
)
def test_bad_attributes_name_the_field(catalog: Catalog, attrs: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(InvalidAsset, match=message) as info:
        catalog.set_tryon("BAD-1", attrs)
    assert info.value.field == field
    assert catalog.find("BAD-1") is None  # nothing written


def test_a_catalog_at_0002_gets_the_column_and_keeps_its_products(catalog_url: str) -> None:
    engine = make_engine(catalog_url)
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO products (id, sku, name, category, created_at) "
                             "VALUES (1, 'SHO-OLD', 'Old shoe', 'shoes', CURRENT_TIMESTAMP)"))  # fmt: skip
    engine.dispose()
    catalog = Catalog.open(catalog_url)
    try:
        assert current_revision(catalog.engine) == head_revision()
        assert catalog.get("SHO-OLD").tryon is None
        assert catalog.set_tryon("SHO-OLD", {"kind": "shoes", "shade": "#101010"}).tryon == {
            "kind": "shoes", "shade": "#101010"}  # fmt: skip
    finally:
        catalog.close()
    engine = make_engine(catalog_url)
    try:
        upgrade(engine, "head")
        from alembic import command

        from assets_pipeline.catalog.schema import alembic_config

        cfg = alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn  # type: ignore[attr-defined]
            command.downgrade(cfg, "0002")  # type: ignore[arg-type]
        assert "tryon" not in {c["name"] for c in sa.inspect(engine).get_columns("products")}
    finally:
        engine.dispose()


def test_cli_sets_shows_and_lists_attributes(tmp_path: Path) -> None:
    r = cli(tmp_path, "tryon", "LIP-RED-01", "--kind", "lipstick", "--shade", "#B0102A", "--finish", "matte",
            "--intensity", "0.85")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "LIP-RED-01 (makeup): kind=lipstick  shade=#B0102A  finish=matte  intensity=0.85" in r.stdout
    r = cli(tmp_path, "tryon", "LIP-RED-01", "--intensity", "0.5", "--json")
    assert json.loads(r.stdout)["tryon"] == {**LIPSTICK, "intensity": 0.5}
    shown = json.loads(cli(tmp_path, "show", "LIP-RED-01", "--json").stdout)
    assert shown["tryon"] == {**LIPSTICK, "intensity": 0.5} and shown["versions"] == []
    text = cli(tmp_path, "show", "LIP-RED-01").stdout
    assert "try-on: kind=lipstick" in text and "no published 3D model" in text
    listed = json.loads(cli(tmp_path, "list", "--json").stdout)
    assert listed["items"][0]["tryon"]["intensity"] == 0.5

    one_error_line(cli(tmp_path, "tryon", "LIP-RED-01", "--shade", "red"), "tryon.shade", "'red'")
    one_error_line(cli(tmp_path, "tryon", "NEW-1", "--shade", "#000000"), "tryon.kind", "Field required")
    one_error_line(cli(tmp_path, "tryon", "LIP-RED-01", "--kind", "shoes"), "tryon.kind", "makeup product")
    one_error_line(cli(tmp_path, "tryon", "bad sku", "--kind", "blush", "--shade", "#000000"), "sku")


def test_api_product_json_has_the_attributes(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from assets_pipeline.api import create_app
    from assets_pipeline.service import AssetService

    service = AssetService.open(local_settings(tmp_path))
    try:
        service.catalog.set_tryon("LIP-RED-01", LIPSTICK)
        service.catalog.add_version("CHAIR", "Chair", Category.furniture, _shoe_version())
        client = TestClient(create_app(service=service))
        assert client.get("/products/LIP-RED-01").json()["tryon"] == LIPSTICK
        items = {p["sku"]: p for p in client.get("/products").json()["items"]}
        assert items["LIP-RED-01"]["tryon"] == LIPSTICK and items["CHAIR"]["tryon"] is None
        assert items["LIP-RED-01"]["current_version"] is None and items["LIP-RED-01"]["dimensions_m"] is None
    finally:
        service.close()


def test_importing_the_asset_pipeline_never_imports_tryon() -> None:
    import subprocess
    import sys

    code = ("import sys, assets_pipeline.api, assets_pipeline.cli, assets_pipeline.catalog, "
            "assets_pipeline.catalog.tryon_attributes, assets_pipeline.service; "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'tryon'], 'tryon imported'")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr


def test_the_catalog_source_never_names_tryon() -> None:
    """No import of the try-on package anywhere in assets_pipeline, not even inside a function."""
    import ast

    root = Path(__file__).resolve().parents[2] / "assets_pipeline"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])  # fmt: skip
            assert not [n for n in names if n.split(".")[0] == "tryon"], f"{path} imports {names}"


def test_the_catalog_checks_attributes_only_with_the_registered_check(catalog: Catalog) -> None:
    from assets_pipeline.catalog.tryon_attributes import CheckedTryOn, register_tryon_check, tryon_check
    from tryon.attributes import check_catalog_attributes

    assert tryon_check() is check_catalog_attributes  # found through the tryon package's entry point
    seen: list[dict[str, object]] = []

    def shout(attrs: object) -> CheckedTryOn:
        seen.append(dict(attrs))  # type: ignore[call-overload]
        return CheckedTryOn({"kind": "anything", "checked": True}, Category.furniture)

    previous = register_tryon_check(shout)
    try:
        product = catalog.set_tryon("ODD-1", {"whatever": 1})  # not a try-on product: the catalog stores it
        assert (product.tryon, product.category, seen) == ({"kind": "anything", "checked": True},
                                                           Category.furniture, [{"whatever": 1}])  # fmt: skip
    finally:
        assert register_tryon_check(previous) is shout


def test_without_a_check_the_catalog_refuses_attributes(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    from assets_pipeline.catalog import tryon_attributes
    from assets_pipeline.errors import UnsupportedFormat

    monkeypatch.setattr(tryon_attributes, "entry_points", lambda group: [])
    with pytest.raises(UnsupportedFormat, match="no try-on attribute check is installed") as info:
        catalog.set_tryon("LIP-1", LIPSTICK)
    assert info.value.field == "tryon" and catalog.find("LIP-1") is None
