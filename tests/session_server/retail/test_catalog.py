"""Tag -> SKU resolution, stock checks and recommendations through the catalog, seeded from samples/fitting."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets_pipeline.settings import AssetSettings
from session_server.retail.catalog import StoreCatalog
from session_server.retail.errors import RetailError

ROOT = Path(__file__).resolve().parents[3]


def seeded_catalog(url: str) -> StoreCatalog:
    """A catalog seeded from samples/fitting/*.csv (stores, stock with barcodes, tags)."""
    catalog = StoreCatalog(AssetSettings(catalog_url=url, _env_file=None))  # type: ignore[call-arg]
    r = catalog.retail
    r.import_stores_csv(ROOT / "samples/fitting/stores.csv")
    r.import_stock_csv(ROOT / "samples/fitting/stock.csv")
    r.import_tags_csv(ROOT / "samples/fitting/tags.csv")
    return catalog


@pytest.fixture
def catalog(tmp_path: Path) -> StoreCatalog:
    c = seeded_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    yield c
    c.close()


def test_tags_and_barcodes_resolve_in_their_store(catalog: StoreCatalog) -> None:
    epc = catalog.resolve("paris-01", "3034257BF0000280000003E9")
    assert epc is not None and (epc["sku"], epc["size"], epc["colour"]) == ("JEA-300", "32", "denim")
    assert epc["name"] == "Straight jeans" and epc["model_url"] == "/products/JEA-300/manifest"
    gtin = catalog.resolve("paris-01", "0614140000020")
    assert gtin is not None and (gtin["sku"], gtin["size"], gtin["colour"]) == ("TSH-100", "M", "white")
    assert gtin["price"] == 19.99 and gtin["currency"] == "EUR"
    assert catalog.resolve("paris-01", "E28011606000020000000001") is None
    assert catalog.resolve("paris-01", "not a code at all") is None
    with pytest.raises(RetailError) as other:
        catalog.resolve("paris-01", "3034257BF000008000000BB9")  # bound to lyon-02
    assert other.value.code == "wrong_store" and "lyon-02" in other.value.message


def test_variant_checks_size_colour_and_stock(catalog: StoreCatalog) -> None:
    assert catalog.variant("paris-01", "TSH-100", "S", "white")["quantity"] == 4
    with pytest.raises(RetailError) as sold_out:
        catalog.variant("paris-01", "TSH-100", "L", "white")
    assert sold_out.value.code == "out_of_stock"
    with pytest.raises(RetailError) as no_size:
        catalog.variant("paris-01", "TSH-100", "XXS", "white")
    assert no_size.value.code == "unknown_size" and "sizes:" in no_size.value.message
    with pytest.raises(RetailError) as not_here:
        catalog.variant("lyon-02", "TSH-100", "S", "white")
    assert not_here.value.code == "unknown_size"


def test_rooms_and_recommendations(catalog: StoreCatalog) -> None:
    catalog.check_room("paris-01", "3")
    with pytest.raises(RetailError) as room:
        catalog.check_room("paris-01", "99")
    assert room.value.code == "unknown_room"
    with pytest.raises(RetailError) as store:
        catalog.check_store("nowhere")
    assert store.value.code == "unknown_store"
    recs = catalog.recommend("paris-01", "TSH-100", "M", "white")
    assert {"variants", "cotried", "matches"} <= set(recs)
    assert any(v["colour"] == "navy" for v in recs["variants"])
    assert recs == catalog.recommend("paris-01", "TSH-100", "M", "white")  # deterministic
    assert catalog.check_sku("JEA-300") == "Straight jeans"
    with pytest.raises(RetailError) as sku:
        catalog.check_sku("NOPE-1")
    assert sku.value.code == "unknown_sku"
