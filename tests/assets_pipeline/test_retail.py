"""Retail layer of the catalog (stores, rooms, stock, tags, co-tried history, recommendations) on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from assets_pipeline.catalog import Catalog, Category, Retail
from assets_pipeline.catalog.tag_codes import gtin_check_digit, normalize, sgtin96_gtin
from assets_pipeline.errors import Conflict, InvalidAsset, NotFound

from .retail_seed import seed


@pytest.fixture
def retail(catalog_url: str) -> Iterator[Retail]:
    catalog = Catalog.open(catalog_url)
    yield Retail(catalog)
    catalog.close()


@pytest.fixture
def seeded(retail: Retail) -> Retail:
    seed(retail)
    return retail


def test_stores_and_rooms(retail: Retail) -> None:
    info = retail.add_store("paris-01", "Paris Rivoli", "Europe/Paris", rooms=["2", "10", "1"])
    assert (info.id, info.name, info.timezone, info.rooms) == ("paris-01", "Paris Rivoli", "Europe/Paris",
                                                                ["1", "2", "10"])
    with pytest.raises(Conflict, match="store 'paris-01' already exists"):
        retail.add_store("paris-01", "again")
    retail.add_store("lyon", "Lyon")
    assert [s.id for s in retail.list_stores()] == ["lyon", "paris-01"]
    retail.add_fitting_room("lyon", "A")
    with pytest.raises(Conflict, match="already has fitting room 'A'"):
        retail.add_fitting_room("lyon", "A")
    assert retail.has_fitting_room("lyon", "A") and not retail.has_fitting_room("lyon", "B")
    retail.remove_fitting_room("lyon", "A")
    with pytest.raises(NotFound, match="store 'lyon' has no fitting room 'A'"):
        retail.remove_fitting_room("lyon", "A")
    with pytest.raises(NotFound, match="no store 'nice'"):
        retail.add_fitting_room("nice", "1")
    updated = retail.add_store("paris-01", "Paris", "Europe/Paris", rooms=["3"], exist_ok=True)
    assert updated.name == "Paris" and updated.rooms == ["1", "2", "3", "10"]


@pytest.mark.parametrize(("store", "tz", "field"), [("fit.paris", "UTC", "store"), ("", "UTC", "store"),
                                                    ("x" * 33, "UTC", "store"), ("paris", "Mars/Olympus", "timezone")])
def test_bad_store_input_changes_nothing(retail: Retail, store: str, tz: str, field: str) -> None:
    with pytest.raises(InvalidAsset) as info:
        retail.add_store(store, "name", tz)
    assert info.value.field == field
    assert retail.list_stores() == []


def test_stock_rows_and_their_errors(seeded: Retail) -> None:
    rows = seeded.stock_for("paris-01", "SHIRT-1")
    assert [(r.colour, r.size, r.quantity) for r in rows] == [
        ("blue", "M", 3), ("blue", "XL", 1), ("white", "S", 2), ("white", "M", 0), ("white", "L", 4)]
    assert rows[0].price_cents == 4990 and rows[0].currency == "EUR"
    row = seeded.set_stock("paris-01", "SHIRT-1", " m ", "White", 7)
    assert (row.size, row.colour, row.quantity, row.price_cents) == ("M", "white", 7, 4990)
    assert seeded.stock_of("paris-01", "SHIRT-1", "m", "WHITE").quantity == 7  # type: ignore[union-attr]
    assert seeded.stock_of("paris-01", "SHIRT-1", "XXL", "white") is None
    assert seeded.stock_for("paris-01", "NOPE") == []
    with pytest.raises(NotFound, match="no product with SKU 'NOPE'"):
        seeded.set_stock("paris-01", "NOPE", "M", "white", 1)
    with pytest.raises(NotFound, match="no store 'lyon'"):
        seeded.set_stock("lyon", "SHIRT-1", "M", "white", 1)
    with pytest.raises(InvalidAsset, match="-1 is not a whole number"):
        seeded.set_stock("paris-01", "SHIRT-1", "M", "white", -1)
    with pytest.raises(InvalidAsset, match="'euro' is not a currency code"):
        seeded.set_stock("paris-01", "SHIRT-1", "M", "white", 1, price_cents=100, currency="euro")
    page, total = seeded.store_stock("paris-01", limit=3)
    assert total == 13 and [(r.sku, r.size) for r in page] == [("BAG-1", "ONE SIZE"), ("HEELS-1", "38"),
                                                                ("JEANS-1", "30")]
    info = seeded.get_store("paris-01")
    assert (info.skus, info.pieces) == (7, 37)


def test_codes_are_normalized() -> None:
    assert normalize("036000291452") == normalize("0036000291452") == ("gtin", "00036000291452")
    assert normalize(" 3074257bf7194e4000001a85 ") == ("epc", "3074257BF7194E4000001A85")
    assert normalize("https://shop.example/p/1") == ("text", "https://shop.example/p/1")
    with pytest.raises(InvalidAsset, match="check digit is wrong"):
        normalize("4006381333932")
    # the SGTIN-96 example of the GS1 EPC Tag Data Standard: urn:epc:id:sgtin:0614141.812345.6789
    assert sgtin96_gtin("3074257BF7194E4000001A85") == "80614141123458"
    assert sgtin96_gtin("E2801160600002084F6A1234") is None  # a TID-like value, not an SGTIN-96
    assert gtin_check_digit("400638133393") == 1


def test_tags_resolve_every_way_a_code_is_read(seeded: Retail) -> None:
    upc = "036000291452"
    match = seeded.add_tag(upc, "SHIRT-1", "m", "Blue")
    assert (match.code, match.kind, match.sku, match.size, match.colour) == ("00036000291452", "gtin", "SHIRT-1",
                                                                            "M", "blue")
    assert seeded.add_tag("0036000291452", "SHIRT-1", "M", "blue") == match  # idempotent
    with pytest.raises(Conflict, match="already means SHIRT-1 M blue"):
        seeded.add_tag(upc, "SHIRT-1", "L", "white")
    found = seeded.resolve_tag("0036000291452")
    assert found is not None and (found.sku, found.size, found.colour, found.name) == ("SHIRT-1", "M", "blue",
                                                                                       "Linen shirt")
    # an RFID EPC (SGTIN-96) resolves through the GTIN it carries; a GS1 Digital Link QR code too
    seeded.add_tag("80614141123458", "JEANS-1", "32", "denim")
    epc = seeded.resolve_tag("3074257bf7194e4000001a85")
    assert epc is not None and (epc.sku, epc.kind, epc.code, epc.via) == ("JEANS-1", "epc", "3074257BF7194E4000001A85",
                                                                          "80614141123458")
    link = seeded.resolve_tag("https://id.gs1.org/01/80614141123458/21/XYZ")
    assert link is not None and link.sku == "JEANS-1" and link.kind == "text"
    # a serialized EPC registered to one store says so
    seeded.add_tag("3074257BF7194E4000001A86", "SNEAK-1", "42", "white", store="paris-01")
    own = seeded.resolve_tag("3074257BF7194E4000001A86")
    assert own is not None and (own.sku, own.store) == ("SNEAK-1", "paris-01")
    for unknown in ("5901234123457", "hello", "", "x" * 1000, "4006381333932"):
        assert seeded.resolve_tag(unknown) is None
        assert seeded.resolve_in_store(unknown, "paris-01") is None
    # the one-query form the fitting rooms use: the same match, and the variant's stock in the store asked
    seeded.set_stock("paris-01", "JEANS-1", "32", "denim", 3, price_cents=5990, currency="EUR")
    for code in ("0036000291452", "3074257bf7194e4000001a85", "https://id.gs1.org/01/80614141123458/21/XYZ",
                 "3074257BF7194E4000001A86"):
        match = seeded.resolve_tag(code)
        assert match is not None
        for store in ("paris-01", "lyon-02"):
            assert seeded.resolve_in_store(code, store) == (match, seeded.stock_of(store, match.sku, match.size,
                                                                                     match.colour))
    assert seeded.resolve_in_store("3074257bf7194e4000001a85", "paris-01")[1].quantity == 3  # type: ignore[index]
    assert [t.code for t in seeded.tags_for("SHIRT-1")] == ["00036000291452"]
    seeded.remove_tag(upc)
    assert seeded.resolve_tag(upc) is None
    with pytest.raises(NotFound):
        seeded.remove_tag(upc)


def test_cotried_history_is_aggregate(seeded: Retail) -> None:
    with seeded.catalog.engine.connect() as conn:
        cols = {c["name"] for c in sa.inspect(conn).get_columns("cotried")}
        rows = conn.execute(sa.text("SELECT sku_a, sku_b, count FROM cotried ORDER BY sku_a, sku_b")).all()
    assert cols == {"store_id", "sku_a", "sku_b", "count"}  # nothing about a visit or a shopper
    assert [tuple(r) for r in rows] == [("HEELS-1", "SHIRT-1", 1), ("JEANS-1", "SHIRT-1", 3), ("JEANS-1", "SNEAK-1", 1),
                                        ("LIP-1", "SHIRT-1", 2), ("SHIRT-1", "SNEAK-1", 2)]
    assert seeded.record_cotried("paris-01", ["SHIRT-1", "SHIRT-1", "UNKNOWN", "BAG-1"]) == 1
    assert seeded.record_cotried("paris-01", ["SHIRT-1"]) == 0
    with pytest.raises(NotFound):
        seeded.record_cotried("lyon", ["SHIRT-1", "BAG-1"])


def test_recommendations_on_the_seeded_store(seeded: Retail) -> None:
    recs = seeded.recommend("paris-01", "SHIRT-1", "m", "white")
    assert [(v.kind, v.size, v.colour, v.quantity) for v in recs.variants] == [
        ("size", "S", "white", 2), ("size", "L", "white", 4), ("colour", "M", "blue", 3), ("variant", "XL", "blue", 1)]
    assert recs.variants[0].reason == "size S in white: 2 in stock here"
    # JEANS-1 3 times, SNEAK-1 twice; LIP-1 twice but sold out here; HEELS-1 only once
    assert [(c.sku, c.score, c.colour) for c in recs.cotried] == [("JEANS-1", 3, "denim"), ("SNEAK-1", 2, "white")]
    assert recs.cotried[0].reason == "tried together with this 3 times in this store"
    # matches: other pieces sharing a style tag (BAG-1: summer; SHIRT-2 is another shirt, a substitute)
    assert [(m.sku, m.score, m.colour) for m in recs.matches] == [("BAG-1", 3, "beige")]
    assert recs.matches[0].reason == "same style: summer; beige with white (neutral)"
    assert all(s.reason for s in recs.variants + recs.cotried + recs.matches)
    as_dict = recs.to_dict()
    assert as_dict["cotried"][0]["sku"] == "JEANS-1" and as_dict["store"] == "paris-01"


def test_recommendations_pick_the_shoppers_size_and_matching_colour(seeded: Retail) -> None:
    recs = seeded.recommend("paris-01", "SHIRT-2", "M", "blue", min_cotried=1)
    # SHIRT-2 shares "casual" with JEANS-1 (trousers) and SNEAK-1 (shoes); SHIRT-1 is the same type
    assert [(m.sku, m.score) for m in recs.matches] == [("JEANS-1", 3), ("SNEAK-1", 3)]
    jeans = recs.matches[0]
    assert (jeans.size, jeans.colour, jeans.quantity) == (None, "denim", 6)  # neutral, the most pieces
    recs = seeded.recommend("paris-01", "SNEAK-1", "42", "red", limit=1)
    assert len(recs.matches) == 1 and len(recs.cotried) == 1


def test_recommendations_are_deterministic(catalog_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The same data inserted in the opposite order gives the same recommendations."""
    first = Catalog.open(catalog_url)
    other = Catalog.open(f"sqlite:///{tmp_path_factory.mktemp('rev') / 'c.sqlite'}")
    try:
        seed(Retail(first))
        seed(Retail(other), reverse=True)
        for sku, size, colour in [("SHIRT-1", "M", "white"), ("JEANS-1", "32", "denim"), ("HEELS-1", None, None),
                                  ("LIP-1", "ONE SIZE", "red"), ("BAG-1", None, "beige")]:
            a = Retail(first).recommend("paris-01", sku, size, colour, min_cotried=1)
            b = Retail(other).recommend("paris-01", sku, size, colour, min_cotried=1)
            assert a == b, sku
    finally:
        first.close()
        other.close()


def test_recommend_errors(seeded: Retail) -> None:
    with pytest.raises(NotFound, match="no product with SKU 'NOPE'"):
        seeded.recommend("paris-01", "NOPE")
    with pytest.raises(NotFound, match="no store 'lyon'"):
        seeded.recommend("lyon", "SHIRT-1")


def test_attributes_are_checked(seeded: Retail) -> None:
    with pytest.raises(InvalidAsset) as info:
        seeded.set_attributes("SHIRT-1", {"fabric": "linen"})
    assert info.value.field == "attributes.fabric"
    with pytest.raises(NotFound, match="give its name and category"):
        seeded.set_attributes("NEW-1", {"type": "hat"})
    with pytest.raises(Conflict, match="already exists as apparel"):
        seeded.set_attributes("SHIRT-1", {"type": "hat"}, category=Category.shoes)
    assert seeded.set_attributes("SHIRT-1", {"colour": "Gray", "style": ["Beach"]}) == {
        "type": "shirt", "colour": "grey", "style": ["beach"]}


def test_removing_a_store_removes_its_retail_rows(seeded: Retail) -> None:
    seeded.add_tag("3074257BF7194E4000001A86", "SNEAK-1", "42", "white", store="paris-01")
    seeded.add_tag("036000291452", "SHIRT-1", "M", "blue")
    seeded.remove_store("paris-01")
    with seeded.catalog.engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar()
                  for t in ("stores", "fitting_rooms", "stock", "cotried", "tags", "products")}
    assert counts == {"stores": 0, "fitting_rooms": 0, "stock": 0, "cotried": 0, "tags": 1, "products": 7}


def test_one_migration_head_and_the_retail_tables_come_from_0004(catalog_url: str) -> None:
    from assets_pipeline.catalog.schema import current_revision, head_revision, make_engine, upgrade

    engine = make_engine(catalog_url)
    try:
        upgrade(engine, "0004")
        assert current_revision(engine) == "0004"
        tables = set(sa.inspect(engine).get_table_names())
        assert {"stores", "fitting_rooms", "stock", "tags", "cotried"} <= tables
        assert "attributes" in {c["name"] for c in sa.inspect(engine).get_columns("products")}
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_cached_assortment_never_suggests_what_sold_out(seeded: Retail) -> None:
    """A mirror's Retail keeps the store's assortment for a while; stock changes elsewhere still count."""
    mirror = Retail(seeded.catalog, assortment_ttl_s=3600)
    assert [m.sku for m in mirror.recommend("paris-01", "SHIRT-1", "M", "white").matches] == ["BAG-1"]
    seeded.set_stock("paris-01", "BAG-1", "ONE SIZE", "beige", 0)  # sold out, changed by another process
    assert mirror.recommend("paris-01", "SHIRT-1", "M", "white").matches == []
    mirror.set_stock("paris-01", "BAG-1", "ONE SIZE", "beige", 2)  # a change through this object: seen at once
    assert [(m.sku, m.quantity) for m in mirror.recommend("paris-01", "SHIRT-1", "M", "white").matches] == [
        ("BAG-1", 2)]
    seeded.set_attributes("HEELS-1", {"style": "evening summer"})
    assert [m.sku for m in mirror.recommend("paris-01", "SHIRT-1", "M", "white").matches] == ["BAG-1"]  # cached
    assert [m.sku for m in Retail(seeded.catalog).recommend("paris-01", "SHIRT-1", "M", "white").matches] == [
        "BAG-1", "HEELS-1"]


def test_concurrent_visits_are_all_counted(seeded: Retail) -> None:
    """Visits ending at once in several threads (the session server's workers) lose no count."""
    from concurrent.futures import ThreadPoolExecutor

    def visits(n: int) -> int:
        return sum(seeded.record_cotried("paris-01", ["BAG-1", "HEELS-1", "JEANS-1"]) for _ in range(n))

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(visits, [10, 10, 10, 10])) == 120
    with seeded.catalog.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT sku_a, sku_b, count FROM cotried WHERE sku_a IN ('BAG-1', 'HEELS-1') "
                                    "AND sku_b <> 'SHIRT-1' ORDER BY sku_a, sku_b")).all()
    assert [tuple(r) for r in rows] == [("BAG-1", "HEELS-1", 40), ("BAG-1", "JEANS-1", 40),
                                        ("HEELS-1", "JEANS-1", 40)]
