"""CSV imports of the retail layer: stock, tags and stores, as a retailer's back office exports them.

- The first line names the columns (any case and order; ``color``/``colour``, ``qty``/``quantity``, ``ean``/
  ``gtin``/``upc``/``barcode`` are the same column); ``,``, ``;`` or tab separated; UTF-8 (with or without BOM)
  or, failing that, Windows-1252; prices with a decimal point or comma.
- Every line is checked first; one bad line refuses the whole file with :class:`CsvRejected`, one error per bad
  line with its number; otherwise everything is written in one transaction.

Stock columns: ``sku, size, colour, quantity`` and optional ``store`` (else ``--store``), ``name``, ``category``
(both needed to create a SKU the catalog does not know), ``price``, ``currency``, ``barcode`` (a GTIN/EPC added
to the tag table), ``type``, ``style`` (retail attributes). Tags: ``code, sku, size, colour`` and optional
``store`` (codes of one store's pieces). Stores: ``store, name`` and optional ``timezone``, ``rooms`` (a count
``8`` -> rooms 1..8, or ids separated by spaces or ``|``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import AssetError, CsvRejected, InvalidAsset, LimitExceeded, LineError, NotFound
from . import tag_codes
from .models import Category, Product
from .retail_models import FittingRoom, Stock, Store, Tag
from .retail_rules import check_attributes, check_room_id, check_store_id, check_timezone, norm_colour, norm_size

MAX_CSV_BYTES = 64 * 1024 * 1024
MAX_LINES = 500_000
SYNONYMS = {"color": "colour", "qty": "quantity", "on_hand": "quantity", "stock": "quantity",
            "ean": "barcode", "ean13": "barcode", "gtin": "barcode", "upc": "barcode", "epc": "barcode",
            "store_id": "store", "shop": "store", "article": "sku", "product": "sku", "tag": "code",
            "retail_price": "price", "timezone": "timezone", "tz": "timezone", "fitting_rooms": "rooms"}
T = TypeVar("T")


@dataclass(slots=True)
class _Table:
    path: Path
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]
    errors: list[LineError] = field(default_factory=list)

    def check(self, line: int, fn: Callable[[], T]) -> T | None:
        """Run one check of a line; record its error (one per line) and return None on failure."""
        try:
            return fn()
        except AssetError as exc:
            if not any(e.line == line for e in self.errors):
                self.errors.append(LineError(line, exc.field, exc.problem))
            return None

    def fail(self, line: int, field_name: str | None, problem: str) -> None:
        """Record an error for a line (the first one per line is kept)."""
        if not any(e.line == line for e in self.errors):
            self.errors.append(LineError(line, field_name, problem))

    def raise_if_bad(self) -> None:
        """Refuse the file if any line was bad (errors sorted by line)."""
        if self.errors:
            raise CsvRejected(sorted(self.errors, key=lambda e: e.line), path=self.path)


def read_table(path: Path, required: tuple[str, ...], optional: tuple[str, ...]) -> _Table:
    """Read a CSV file into (line number, {column: text}) rows; a bad header refuses it at once."""
    try:
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            raise LimitExceeded("CSV size", size, MAX_CSV_BYTES, path=path)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotFound("no such file", path=path) from None
    except IsADirectoryError:
        raise InvalidAsset("is a folder, not a CSV file", path=path) from None
    except OSError as exc:
        raise InvalidAsset(f"cannot read: {exc.strerror or exc}", path=path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise InvalidAsset("not a text file (NUL bytes)", path=path)
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=lambda d: (first.count(d), d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header_row = next(reader)
    except StopIteration:
        raise CsvRejected([LineError(1, None, "the file is empty (expected a header line)")], path=path) from None
    except csv.Error as exc:
        raise CsvRejected([LineError(1, None, f"unreadable CSV: {exc}")], path=path) from None
    header = [SYNONYMS.get(h, h) for h in ("_".join(c.strip().lower().split()) for c in header_row)]
    missing = [c for c in required if c not in header]
    unknown = [h for h in header if h and h not in required + optional]
    if missing or unknown or len(set(header)) != len(header):
        what = (f"missing column {', '.join(repr(c) for c in missing)}" if missing else
                f"unknown column {', '.join(repr(c) for c in unknown)}" if unknown else "a column appears twice")
        raise CsvRejected([LineError(1, None, f"{what} (columns: {', '.join(required)}; optional: "
                                              f"{', '.join(optional)})")], path=path)
    table = _Table(path, header, [])
    line = 1
    try:
        for cells in _bounded(reader):
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                table.fail(line, None, f"{len(cells)} values for {len(header)} columns")
                continue
            table.rows.append((line, {h: c.strip() for h, c in zip(header, cells, strict=True) if h}))
    except csv.Error as exc:
        table.fail(line + 1, None, f"unreadable CSV: {exc}")
    if not table.rows and not table.errors:
        table.fail(1, None, "no data lines after the header")
    return table


def _bounded(reader: Any) -> Iterator[list[str]]:
    for n, row in enumerate(reader):
        if n >= MAX_LINES:
            raise LimitExceeded("CSV lines", n + 1, MAX_LINES)
        yield row


def parse_quantity(text: str) -> int:
    """A whole number of pieces, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise InvalidAsset(f"{text!r} is not a whole number", field="quantity") from None
    if not 0 <= value <= 1_000_000:
        raise InvalidAsset(f"{value} is not from 0 to 1,000,000", field="quantity")
    return value


def parse_price(text: str) -> int | None:
    """``29.99``, ``29,99`` or ``1 299,00`` -> cents; empty -> None."""
    if not text:
        return None
    clean = text.replace("\u00a0", "").replace(" ", "")
    if "," in clean and "." not in clean:
        clean = clean.replace(",", ".")
    try:
        value = Decimal(clean)
    except InvalidOperation:
        raise InvalidAsset(f"{text!r} is not a price such as 29.99", field="price") from None
    if not value.is_finite() or value < 0 or value > 10_000_000 or value != value.quantize(Decimal("0.01")):
        raise InvalidAsset(f"{text!r} is not a price with at most 2 decimals", field="price")
    return int(value * 100)


def _category(text: str) -> Category:
    try:
        return Category(text.lower())
    except ValueError:
        raise InvalidAsset(f"{text!r} is not one of {', '.join(c.value for c in Category)}",
                           field="category") from None


def _line_store(table: _Table, line: int, row: dict[str, str], store: str | None, needed: bool = True) -> str | None:
    here = row.get("store") or None
    if here is not None and store is not None and here != store:
        table.fail(line, "store", f"{here!r} but the import is for store {store!r}")
        return None
    if (here or store) is None and needed:
        table.fail(line, "store", "no store (add a store column or give the store)")
        return None
    return here or store


def _known_stores(s: Session, table: _Table, lines: dict[int, str | None]) -> None:
    have = set(s.scalars(select(Store.id).where(Store.id.in_({v for v in lines.values() if v}))).all())
    for line, store in lines.items():
        if store is not None and store not in have:
            table.fail(line, "store", f"no store {store!r} (add it first: phygital-assets stores add)")


def import_stock(retail: Any, path: Path, store: str | None, *, replace: bool = False) -> Any:
    """Stock lines -> stock rows (and new products, attributes, tags); ``replace`` zeroes what the file omits."""
    from .retail import ImportReport, check_currency

    table = read_table(path, ("sku", "size", "colour", "quantity"),
                       ("store", "name", "category", "price", "currency", "barcode", "type", "style"))
    parsed: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    codes: dict[str, int] = {}
    for line, row in table.rows:
        where = _line_store(table, line, row, store)
        size = table.check(line, lambda row=row: norm_size(row["size"]))
        colour = table.check(line, lambda row=row: norm_colour(row["colour"]))
        qty = table.check(line, lambda row=row: parse_quantity(row["quantity"]))
        price = table.check(line, lambda row=row: parse_price(row.get("price", "")))
        currency = table.check(line, lambda row=row: check_currency(row.get("currency") or None))
        category = table.check(line, lambda row=row: _category(row["category"]) if row.get("category") else None)
        attrs = table.check(line, lambda row=row: check_attributes(
            {k: row[k] for k in ("type", "style") if row.get(k)}))
        code = table.check(line, lambda row=row: tag_codes.normalize(row["barcode"], field="barcode")
                           if row.get("barcode") else None)
        if not row["sku"]:
            table.fail(line, "sku", "empty")
        if price is not None and currency is None:
            table.fail(line, "currency", "a price needs a currency (add a currency column, e.g. EUR)")
        if any(e.line == line for e in table.errors) or where is None:
            continue
        assert size is not None and colour is not None and qty is not None
        key = (where, row["sku"], size, colour)
        if key in seen:
            table.fail(line, None, f"same store, SKU, size and colour as line {seen[key]}")
            continue
        seen[key] = line
        if code is not None:
            if code[1] in codes:
                table.fail(line, "barcode", f"{code[1]!r} is also on line {codes[code[1]]}")
                continue
            codes[code[1]] = line
        parsed.append({"line": line, "store": where, "sku": row["sku"], "size": size, "colour": colour,
                       "quantity": qty, "price": price, "currency": currency, "name": row.get("name") or None,
                       "category": category, "attrs": attrs or {}, "code": code})
    created = updated = removed = products_created = tags = 0
    with retail.catalog.session() as s:
        _known_stores(s, table, {p["line"]: p["store"] for p in parsed})
        skus = {p["sku"] for p in parsed}
        products = {p.sku: p for p in s.scalars(select(Product).where(Product.sku.in_(skus))).all()}
        first_of: dict[str, dict[str, Any]] = {}
        for p in parsed:
            product = products.get(p["sku"])
            if product is None and p["sku"] not in first_of:
                if p["category"] is None:
                    table.fail(p["line"], "sku", f"no product {p['sku']!r} in the catalog (add name and category "
                                                 "columns to create it)")
                    continue
                from ..publish import check_sku

                if table.check(p["line"], lambda p=p: check_sku(p["sku"])) is None:
                    continue
                first_of[p["sku"]] = p
            elif product is not None and p["category"] is not None and product.category != p["category"]:
                table.fail(p["line"], "category", f"SKU {p['sku']!r} is {product.category.value}, "
                                                  f"not {p['category'].value}")
            elif product is None and p["category"] not in (None, first_of[p["sku"]]["category"]):
                table.fail(p["line"], "category", f"line {first_of[p['sku']]['line']} gives SKU {p['sku']!r} "
                                                  "another category")
        existing_tags = {t.code: t for t in s.scalars(select(Tag).where(Tag.code.in_(list(codes)))).all()}
        for p in parsed:
            if p["code"] is None:
                continue
            tag = existing_tags.get(p["code"][1])
            if tag is not None and (tag.sku, tag.size, tag.colour) != (p["sku"], p["size"], p["colour"]):
                table.fail(p["line"], "barcode", f"{p['code'][1]!r} already means {tag.sku} {tag.size} {tag.colour}")
        table.raise_if_bad()
        for sku, p in first_of.items():
            product = Product(sku=sku, name=p["name"] or sku, category=p["category"])
            s.add(product)
            products[sku] = product
            products_created += 1
        s.flush()
        for p in parsed:
            product = products[p["sku"]]
            if p["name"]:
                product.name = p["name"]
            if p["attrs"]:
                product.attributes = {**(product.attributes or {}), **p["attrs"]}
        stores = {p["store"] for p in parsed}
        current = {(r.store_id, r.sku, r.size, r.colour): r
                   for r in s.scalars(select(Stock).where(Stock.store_id.in_(stores))).all()}
        for p in parsed:
            key = (p["store"], p["sku"], p["size"], p["colour"])
            row = current.get(key)
            if row is None:
                row = Stock(store_id=p["store"], sku=p["sku"], size=p["size"], colour=p["colour"],
                            quantity=p["quantity"])
                s.add(row)
                created += 1
            else:
                updated += 1
            row.quantity = p["quantity"]
            if p["price"] is not None:
                row.price_cents, row.currency = p["price"], p["currency"]
            if p["code"] is not None and p["code"][1] not in existing_tags:
                s.add(Tag(code=p["code"][1], kind=p["code"][0], sku=p["sku"], size=p["size"], colour=p["colour"]))
                tags += 1
        if replace:
            for key, row in current.items():
                if key not in seen and row.quantity != 0:
                    row.quantity = 0
                    removed += 1
    return ImportReport(str(path), len(table.rows), created, updated, removed, products_created, tags)


def import_tags(retail: Any, path: Path, store: str | None) -> Any:
    """Code -> SKU/size/colour lines into the tag table (existing identical codes are kept as they are)."""
    from .retail import ImportReport

    table = read_table(path, ("code", "sku", "size", "colour"), ("store", "kind"))
    parsed: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, row in table.rows:
        where = _line_store(table, line, row, store, needed=False)
        code = table.check(line, lambda row=row: tag_codes.normalize(row["code"]))
        size = table.check(line, lambda row=row: norm_size(row["size"]))
        colour = table.check(line, lambda row=row: norm_colour(row["colour"]))
        if not row["sku"]:
            table.fail(line, "sku", "empty")
        if any(e.line == line for e in table.errors):
            continue
        assert code is not None and size is not None and colour is not None
        if code[1] in seen:
            table.fail(line, "code", f"{code[1]!r} is also on line {seen[code[1]]}")
            continue
        seen[code[1]] = line
        parsed.append({"line": line, "store": where, "kind": code[0], "code": code[1], "sku": row["sku"],
                       "size": size, "colour": colour})
    added = 0
    with retail.catalog.session() as s:
        _known_stores(s, table, {p["line"]: p["store"] for p in parsed})
        have = set(s.scalars(select(Product.sku).where(Product.sku.in_({p["sku"] for p in parsed}))).all())
        existing = {t.code: t for t in s.scalars(select(Tag).where(Tag.code.in_(list(seen)))).all()}
        for p in parsed:
            tag = existing.get(p["code"])
            if p["sku"] not in have:
                table.fail(p["line"], "sku", f"no product {p['sku']!r} in the catalog")
            elif tag is not None and (tag.sku, tag.size, tag.colour, tag.store_id) != (
                    p["sku"], p["size"], p["colour"], p["store"]):
                table.fail(p["line"], "code", f"{p['code']!r} already means {tag.sku} {tag.size} {tag.colour}")
        table.raise_if_bad()
        for p in parsed:
            if p["code"] not in existing:
                s.add(Tag(code=p["code"], kind=p["kind"], sku=p["sku"], size=p["size"], colour=p["colour"],
                          store_id=p["store"]))
                added += 1
    return ImportReport(str(path), len(table.rows), created=added, updated=len(parsed) - added, tags=added)


def _rooms(text: str) -> list[str]:
    if not text:
        return []
    if text.isdigit():
        n = int(text)
        if not 0 < n <= 500:
            raise InvalidAsset(f"{n} rooms: expected 1 to 500", field="rooms")
        return [str(i) for i in range(1, n + 1)]
    return [check_room_id(r) for r in text.replace("|", " ").split()]


def import_stores(retail: Any, path: Path) -> Any:
    """Store lines (id, name, timezone, rooms) -> stores, created or updated; rooms are added, never removed."""
    from .retail import ImportReport

    table = read_table(path, ("store", "name"), ("timezone", "rooms"))
    parsed: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, row in table.rows:
        sid = table.check(line, lambda row=row: check_store_id(row["store"]))
        tz = table.check(line, lambda row=row: check_timezone(row.get("timezone") or "UTC"))
        rooms = table.check(line, lambda row=row: _rooms(row.get("rooms", "")))
        if not row["name"]:
            table.fail(line, "name", "empty")
        if any(e.line == line for e in table.errors):
            continue
        assert sid is not None
        if sid in seen:
            table.fail(line, "store", f"{sid!r} is also on line {seen[sid]}")
            continue
        seen[sid] = line
        parsed.append({"id": sid, "name": row["name"], "timezone": tz, "rooms": rooms or []})
    table.raise_if_bad()
    created = updated = 0
    with retail.catalog.session() as s:
        for p in parsed:
            row = s.get(Store, p["id"])
            if row is None:
                s.add(Store(id=p["id"], name=p["name"], timezone=p["timezone"]))
                created += 1
            else:
                row.name, row.timezone = p["name"], p["timezone"]
                updated += 1
            s.flush()
            have = set(s.scalars(select(FittingRoom.room).where(FittingRoom.store_id == p["id"])).all())
            for room in dict.fromkeys(p["rooms"]):
                if room not in have:
                    s.add(FittingRoom(store_id=p["id"], room=room))
    return ImportReport(str(path), len(table.rows), created, updated)


__all__ = ["MAX_CSV_BYTES", "import_stock", "import_stores", "import_tags", "read_table"]
