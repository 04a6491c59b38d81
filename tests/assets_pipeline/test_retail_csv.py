"""CSV imports of stores, stock and tags: the samples import; bad files are refused whole, one error per line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from assets_pipeline.catalog import Catalog, Retail
from assets_pipeline.errors import CsvRejected, NotFound

from ..conftest import ROOT

SAMPLES = ROOT / "samples" / "fitting"


@pytest.fixture
def retail(catalog_url: str) -> Iterator[Retail]:
    catalog = Catalog.open(catalog_url)
    yield Retail(catalog)
    catalog.close()


def _counts(retail: Retail) -> dict[str, int]:
    with retail.catalog.engine.connect() as conn:
        return {t: int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar() or 0)
                for t in ("stores", "fitting_rooms", "stock", "tags", "products")}


def _write(tmp_path: Path, text: str, name: str = "in.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_the_samples_import(retail: Retail) -> None:
    assert retail.import_stores_csv(SAMPLES / "stores.csv").created == 2
    report = retail.import_stock_csv(SAMPLES / "stock.csv")
    assert (report.lines, report.created, report.products_created, report.tags) == (23, 23, 8, 23)
    assert retail.import_tags_csv(SAMPLES / "tags.csv").tags == 6
    paris = retail.get_store("paris-01")
    assert (paris.rooms, paris.skus, paris.pieces) == (["1", "2", "3", "4"], 8, 55)
    assert retail.get_store("lyon-02").rooms == ["A", "B", "C"]
    row = retail.stock_of("paris-01", "SHI-200", "M", "white")
    assert row is not None and (row.quantity, row.price_cents, row.currency) == (2, 4990, "EUR")
    assert retail.catalog.get("BAG-700").attributes == {"type": "bag", "style": ["casual", "summer"]}
    # a barcode column fills the tag table; an EPC from another store says which store it belongs to
    tag = retail.resolve_tag("0614140000174")
    assert tag is not None and (tag.sku, tag.size, tag.colour) == ("SNK-500", "42", "white")
    lyon = retail.resolve_tag("3034257BF000008000000BB9")
    assert lyon is not None and lyon.store == "lyon-02"
    # importing the same files again changes nothing but counts updates
    again = retail.import_stock_csv(SAMPLES / "stock.csv", "paris-01")
    assert (again.created, again.updated, again.products_created, again.tags) == (0, 23, 0, 0)
    # a T-shirt goes with jeans, sneakers and the tote; not with the dress (it takes top and bottom) nor the shirt
    recs = retail.recommend("paris-01", "TSH-100", "M", "white")
    assert [m.sku for m in recs.matches] == ["BAG-700", "JEA-300", "SNK-500"]


def test_bad_lines_are_each_reported_and_nothing_is_written(retail: Retail, tmp_path: Path) -> None:
    retail.add_store("paris-01", "Paris")
    path = _write(tmp_path, "sku,size,colour,quantity,price,currency,name,category,barcode\n"
                            "A-1,M,white,3,19.99,EUR,Tee,apparel,4006381333931\n"     # fine
                            "A-1,L,white,-2,19.99,EUR,Tee,apparel,\n"                  # 3: quantity
                            "A-1,M,white,1,19.99,EUR,Tee,apparel,\n"                   # 4: duplicate of 2
                            "B-2,M,red,1,,,,,\n"                                       # 5: unknown SKU
                            "C-3,M,red,1,abc,EUR,Cap,accessory,\n"                     # 6: price
                            "D-4,M,red,1,10,EUR,Hat,hats,\n"                           # 7: category
                            "E-5,M,red,1,10,,Hat,accessory,\n"                         # 8: currency
                            "F-6,M,red,1,10,EUR,Sock,apparel,4006381333932\n"          # 9: check digit
                            "G-7,M,red\n"                                              # 10: columns
                            "\n"
                            "H-8,M,red,2,10,EUR,Belt,accessory,4006381333931\n")      # 12: same barcode as 2
    before = _counts(retail)
    with pytest.raises(CsvRejected) as info:
        retail.import_stock_csv(path, "paris-01")
    assert [str(e) for e in info.value.lines] == [
        "line 3: quantity: -2 is not from 0 to 1,000,000",
        "line 4: same store, SKU, size and colour as line 2",
        "line 5: sku: no product 'B-2' in the catalog (add name and category columns to create it)",
        "line 6: price: 'abc' is not a price such as 29.99",
        "line 7: category: 'hats' is not one of shoes, apparel, makeup, furniture, accessory",
        "line 8: currency: a price needs a currency (add a currency column, e.g. EUR)",
        "line 9: barcode: '4006381333932' looks like a GTIN/EAN/UPC but its check digit is wrong",
        "line 10: 3 values for 9 columns",
        "line 12: barcode: '04006381333931' is also on line 2",
    ]
    assert str(info.value) == ("in.csv: line 3: quantity: -2 is not from 0 to 1,000,000 (and 8 more bad lines); "
                               "nothing was imported")
    assert _counts(retail) == before


def test_database_checks_refuse_the_whole_file_too(retail: Retail, tmp_path: Path) -> None:
    retail.add_store("paris-01", "Paris")
    retail.import_stock_csv(_write(tmp_path, "sku,size,colour,quantity,name,category,barcode\n"
                                             "A-1,M,white,3,Tee,apparel,4006381333931\n"), "paris-01")
    before = _counts(retail)
    path = _write(tmp_path, "store,sku,size,colour,quantity,name,category,barcode\n"
                            "paris-01,NEW-1,M,white,1,New tee,apparel,\n"   # would be fine alone
                            "lyon,A-1,M,white,3,,,\n"                        # 3: unknown store
                            "paris-01,A-1,L,white,3,,shoes,\n"               # 4: category of an existing SKU
                            "paris-01,A-1,S,white,3,,,4006381333931\n"       # 5: barcode means A-1 M white
                            "paris-01,bad sku,S,white,3,Bad,apparel,\n")     # 6: not a SKU
    with pytest.raises(CsvRejected) as info:
        retail.import_stock_csv(path)
    assert [(e.line, e.field) for e in info.value.lines] == [(3, "store"), (4, "category"), (5, "barcode"),
                                                              (6, "sku")]
    assert _counts(retail) == before
    other = _write(tmp_path, "store,sku,size,colour,quantity\nlyon,A-1,M,white,3\n", "other.csv")
    with pytest.raises(CsvRejected, match="line 2: store: 'lyon' but the import is for store 'paris-01'"):
        retail.import_stock_csv(other, "paris-01")
    nostore = _write(tmp_path, "sku,size,colour,quantity\nA-1,M,white,3\n", "nostore.csv")
    with pytest.raises(CsvRejected, match="line 2: store: no store"):
        retail.import_stock_csv(nostore)


@pytest.mark.parametrize(("text", "message"), [
    ("", "line 1: the file is empty"),
    ("sku,size,colour\nA,M,red\n", "line 1: missing column 'quantity'"),
    ("sku,size,colour,quantity,fabric\nA,M,red,1,linen\n", "line 1: unknown column 'fabric'"),
    ("sku,size,color,colour,quantity\nA,M,red,red,1\n", "line 1: a column appears twice"),
    ("sku,size,colour,quantity\n", "line 1: no data lines after the header"),
])
def test_bad_headers(retail: Retail, tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CsvRejected, match=message):
        retail.import_stock_csv(_write(tmp_path, text), "paris-01")


def test_files_as_retailers_export_them(retail: Retail, tmp_path: Path) -> None:
    """Semicolons, decimal commas, a BOM, Windows-1252, other column names, quoted fields, CRLF."""
    retail.add_store("paris-01", "Paris")
    bom = _write(tmp_path, "\ufeffArticle;Size;Color;Qty;Retail price;Currency;Name;Category\r\n"
                           'J-1;32;Denim;4;"1 069,50";eur;"Jeans; straight";apparel\r\n', "bom.csv")
    assert retail.import_stock_csv(bom, "paris-01").created == 1
    row = retail.stock_of("paris-01", "J-1", "32", "denim")
    assert row is not None and (row.quantity, row.price_cents, row.currency) == (4, 106950, "EUR")
    assert retail.catalog.get("J-1").name == "Jeans; straight"
    latin = _write(tmp_path, "sku\tsize\tcolour\tquantity\tname\tcategory\nP-1\t38\tbordeaux\t1\tEscarpin été\tshoes\n",
                   "latin.csv", encoding="cp1252")
    assert retail.import_stock_csv(latin, "paris-01").products_created == 1
    assert retail.catalog.get("P-1").name == "Escarpin été"


def test_replace_zeroes_what_the_file_omits(retail: Retail, tmp_path: Path) -> None:
    retail.add_store("paris-01", "Paris")
    retail.import_stock_csv(_write(tmp_path, "sku,size,colour,quantity,name,category\nA,M,red,3,Tee,apparel\n"
                                             "A,L,red,2,Tee,apparel\n"), "paris-01")
    report = retail.import_stock_csv(_write(tmp_path, "sku,size,colour,quantity\nA,M,red,5\n", "b.csv"), "paris-01",
                                     replace=True)
    assert (report.updated, report.removed) == (1, 1)
    assert [(r.size, r.quantity) for r in retail.stock_for("paris-01", "A")] == [("M", 5), ("L", 0)]


def test_tags_and_stores_files(retail: Retail, tmp_path: Path) -> None:
    stores = _write(tmp_path, "store,name,timezone,rooms\nparis-01,Paris,Europe/Paris,2\nbad.id,X,UTC,1\n"
                              "lyon,Lyon,Moon/Base,1\nnice,Nice,UTC,0\nparis-01,Again,UTC,1\n", "stores.csv")
    with pytest.raises(CsvRejected) as info:
        retail.import_stores_csv(stores)
    assert [(e.line, e.field) for e in info.value.lines] == [(3, "store"), (4, "timezone"), (5, "rooms"),
                                                              (6, "store")]
    assert retail.list_stores() == []
    retail.import_stores_csv(_write(tmp_path, "store,name,rooms\nparis-01,Paris,1|2|VIP\n", "ok.csv"))
    assert retail.get_store("paris-01").rooms == ["1", "2", "VIP"]
    retail.import_stock_csv(_write(tmp_path, "sku,size,colour,quantity,name,category\nA,M,red,3,Tee,apparel\n",
                                   "s.csv"), "paris-01")
    tags = _write(tmp_path, "code,sku,size,colour,store\n4006381333931,A,M,red,\nhttps://x.example/a,A,M,red,\n"
                            "4006381333931,A,L,red,\n,A,M,red,\nq,NOPE,M,red,\nr,A,M,red,lyon\n", "tags.csv")
    with pytest.raises(CsvRejected) as info:
        retail.import_tags_csv(tags)
    assert [(e.line, e.field) for e in info.value.lines] == [(4, "code"), (5, "code"), (6, "sku"), (7, "store")]
    assert retail.resolve_tag("4006381333931") is None
    good = _write(tmp_path, "code,sku,size,colour\n4006381333931,A,M,red\nhttps://x.example/a,A,M,red\n", "g.csv")
    assert retail.import_tags_csv(good).tags == 2
    assert retail.import_tags_csv(good).tags == 0  # identical codes are kept as they are
    with pytest.raises(NotFound, match="no such file"):
        retail.import_tags_csv(tmp_path / "missing.csv")
