"""Catalog repository and migrations over [SQLite, PostgreSQL]."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from assets_pipeline.catalog import AssetFormat, Catalog, Category, NewAsset, NewVariant, NewVersion
from assets_pipeline.catalog.models import Base
from assets_pipeline.catalog.schema import current_revision, head_revision, make_engine, upgrade
from assets_pipeline.errors import Conflict, InvalidAsset, NotFound, StorageError


def _version(tag: str, n_lods: int = 2, variants: tuple[str, ...] = ()) -> NewVersion:
    sha = (tag * 64)[:64]
    assets = [NewAsset(AssetFormat.glb, i, 1000 - i, sha, f"{sha[:2]}/{sha}", 100 >> i) for i in range(n_lods)]
    assets.append(NewAsset(AssetFormat.png, 0, 10, "f" * 64, "ff/" + "f" * 64))
    return NewVersion(f"{tag}.glb", sha, (0.3, 0.1, 0.2), assets,
                      [NewVariant(v, None, i) for i, v in enumerate(variants)], ["a warning"], note=f"note {tag}")


@pytest.fixture
def catalog(catalog_url: str) -> Catalog:
    cat = Catalog.open(catalog_url)
    yield cat
    cat.close()


def test_versions_are_numbered_and_current(catalog: Catalog) -> None:
    v1 = catalog.add_version("SHOE-1", "Runner", Category.shoes, _version("a", variants=("red", "blue")))
    v2 = catalog.add_version("SHOE-1", None, Category.shoes, _version("b", n_lods=3))
    assert (v1.number, v2.number) == (1, 2)
    product = catalog.get("SHOE-1")
    assert product.name == "Runner" and product.current_version == 2 and len(product.versions) == 2
    first = catalog.version("SHOE-1", 1)
    assert [v.name for v in first.variants] == ["red", "blue"] and first.note == "note a"
    assert sorted((a.format, a.lod) for a in first.assets) == [(AssetFormat.glb, 0), (AssetFormat.glb, 1),
                                                                (AssetFormat.png, 0)]
    assert catalog.version("SHOE-1").number == 2
    assert first.warnings == ["a warning"]


def test_rollback_points_back_without_changing_versions(catalog: Catalog) -> None:
    catalog.add_version("LAMP", "Lamp", Category.furniture, _version("a"))
    catalog.add_version("LAMP", None, Category.furniture, _version("b", n_lods=3))
    catalog.rollback("LAMP", 1)
    assert catalog.get("LAMP").current_version == 1
    assert len(catalog.version("LAMP", 2).assets) == 4  # version 2 is untouched
    v3 = catalog.add_version("LAMP", None, Category.furniture, _version("c"))
    assert v3.number == 3  # numbers never reuse
    with pytest.raises(NotFound, match="no version 9"):
        catalog.rollback("LAMP", 9)


def test_search_category_and_paging(catalog: Catalog) -> None:
    for i in range(7):
        cat = Category.makeup if i % 2 else Category.apparel
        catalog.add_version(f"SKU-{i}", f"Item {i} {'Lipstick' if i % 2 else 'Shirt'}", cat, _version(str(i)))
    rows, total = catalog.search(limit=3, offset=0)
    assert total == 7 and [p.sku for p in rows] == ["SKU-0", "SKU-1", "SKU-2"]
    rows, total = catalog.search(limit=3, offset=6)
    assert total == 7 and [p.sku for p in rows] == ["SKU-6"]
    rows, total = catalog.search("lipSTICK")
    assert total == 3 and {p.category for p in rows} == {Category.makeup}
    rows, total = catalog.search(category=Category.apparel)
    assert total == 4
    rows, total = catalog.search("nothing like this")
    assert total == 0 and rows == []


def test_duplicate_sku_with_another_category_is_refused(catalog: Catalog) -> None:
    catalog.add_version("BAG", "Bag", Category.accessory, _version("a"))
    with pytest.raises(Conflict, match="already exists as accessory, not shoes"):
        catalog.check_product("BAG", Category.shoes)
    with pytest.raises(Conflict):
        catalog.add_version("BAG", None, Category.shoes, _version("b"))
    assert len(catalog.get("BAG").versions) == 1  # nothing half-written


def test_unknown_sku(catalog: Catalog) -> None:
    with pytest.raises(NotFound, match="no product with SKU 'NOPE'") as info:
        catalog.get("NOPE")
    assert info.value.field == "sku"
    with pytest.raises(NotFound):
        catalog.version("NOPE")
    with pytest.raises(NotFound):
        catalog.delete("NOPE")


def test_delete_returns_only_unshared_keys(catalog: Catalog) -> None:
    catalog.add_version("A", "A", Category.shoes, _version("a"))
    catalog.add_version("B", "B", Category.shoes, _version("b"))  # shares the png with A
    orphans = catalog.delete("A")
    assert orphans == {"aa/" + "a" * 64}
    assert catalog.find("A") is None and catalog.find("B") is not None
    assert "ff/" + "f" * 64 in catalog.referenced_keys()


def test_bad_category_text() -> None:
    from assets_pipeline.catalog.repository import parse_category

    with pytest.raises(InvalidAsset, match="'hats' is not one of shoes, apparel, makeup, furniture, accessory"):
        parse_category("hats")


def test_catalog_from_an_older_release_opens_and_upgrades(catalog_url: str) -> None:
    """A catalog at revision 0001 (before version notes) with data keeps it when the current code opens it."""
    engine = make_engine(catalog_url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO products (id, sku, name, category, current_version, created_at) "
                             "VALUES (1, 'OLD', 'Old chair', 'furniture', 1, CURRENT_TIMESTAMP)"))
        conn.execute(sa.text("INSERT INTO versions (id, product_id, number, created_at, source_name, source_sha256, "
                             "width_m, height_m, depth_m, warnings) VALUES (1, 1, 1, CURRENT_TIMESTAMP, 'chair.obj', "
                             ":sha, 0.5, 0.9, 0.5, '[]')"), {"sha": "c" * 64})
    engine.dispose()
    catalog = Catalog.open(catalog_url)
    try:
        assert current_revision(catalog.engine) == head_revision()
        old = catalog.version("OLD")
        assert old.source_name == "chair.obj" and old.note is None and old.height_m == 0.9
        assert catalog.add_version("OLD", None, Category.furniture, _version("d")).number == 2
    finally:
        catalog.close()


def test_models_match_the_migrations(catalog_url: str) -> None:
    """The head migration creates exactly the tables and columns the SQLAlchemy models declare."""
    catalog = Catalog.open(catalog_url)
    try:
        inspector = sa.inspect(catalog.engine)
        for table in Base.metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name
    finally:
        catalog.close()


def test_unreachable_database_is_a_clear_error() -> None:
    from .catalog_fixtures import free_port

    with pytest.raises(StorageError, match="cannot open the catalog database") as info:
        Catalog.open(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none?connect_timeout=2")
    assert info.value.field == "PHYGITAL_ASSETS_CATALOG_URL"


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    cat = Catalog.open(f"sqlite:///{tmp_path / 'deep' / 'er' / 'c.sqlite'}")
    cat.close()
    assert (tmp_path / "deep" / "er" / "c.sqlite").is_file()
