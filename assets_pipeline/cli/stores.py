"""``stores ...``: stores, fitting rooms, stock, tags and recommendations of the fitting rooms (issue 10).

    phygital-assets stores import samples/fitting/stores.csv
    phygital-assets stores stock import samples/fitting/stock.csv --store paris-01
    phygital-assets stores tags import samples/fitting/tags.csv
    phygital-assets stores show paris-01
    phygital-assets stores recommend paris-01 TSH-100 --size M --colour white

The catalog database comes from ``PHYGITAL_ASSETS_CATALOG_URL`` / ``..._CATALOG_PATH``. A refused CSV prints one
``error:`` line per bad line (with its number) and exits 2; nothing is written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .. import clikit
from ..errors import CsvRejected
from .common import asset_errors, err, out, settings

if TYPE_CHECKING:
    from ..catalog.retail import ImportReport, Retail

app = clikit.App(help="Stores, fitting rooms, stock, tags (EPC/GTIN/QR) and recommendations.", no_args_is_help=True)
rooms_app = clikit.App(help="Fitting rooms of a store.", no_args_is_help=True)
stock_app = clikit.App(help="Stock per store, SKU, size and colour.", no_args_is_help=True)
tags_app = clikit.App(help="Codes on garments (EPC, GTIN/EAN/UPC, QR text) -> SKU, size, colour.",
                       no_args_is_help=True)
app.add_typer(rooms_app, name="rooms")
app.add_typer(stock_app, name="stock")
app.add_typer(tags_app, name="tags")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@contextmanager
def retail() -> Iterator[Retail]:
    """The retail layer on the configured catalog for one command; errors end it with one line and exit 2."""
    from ..catalog import Retail, open_catalog

    with asset_errors():
        catalog = open_catalog(settings())
    try:
        with asset_errors(), _csv_errors():
            yield Retail(catalog)
    finally:
        catalog.close()


@contextmanager
def _csv_errors() -> Iterator[None]:
    try:
        yield
    except CsvRejected as exc:
        name = Path(exc.path).name if exc.path else "csv"
        for line in exc.lines:
            err.print(f"[bold red]error:[/] {name}: {line}", highlight=False, soft_wrap=True)
        err.print(f"{len(exc.lines)} bad line(s); nothing was imported", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _report(report: ImportReport, json_out: bool) -> None:
    if json_out:
        _json(asdict(report))
        return
    parts = [f"{report.lines} line(s)", f"{report.created} created", f"{report.updated} updated"]
    parts += [f"{n} {what}" for n, what in ((report.removed, "set to 0"),
                                            (report.products_created, "new product(s)"),
                                            (report.tags, "tag(s) added")) if n]
    out.print(f"{Path(report.path).name}: " + ", ".join(parts), highlight=False, soft_wrap=True)


def _rooms(text: str | None) -> list[str]:
    if not text:
        return []
    if text.strip().isdigit():
        return [str(i) for i in range(1, int(text) + 1)]
    return text.replace(",", " ").replace("|", " ").split()


# --- stores ----------------------------------------------------------------------------------------------------


@app.command("add")
def add_store(
    store: Annotated[str, typer.Argument(help="Store id, e.g. paris-01 (letters, digits, '_', '-').")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the id).")] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Paris.")] = "UTC",
    rooms: Annotated[str | None, typer.Option(help="Fitting rooms: a count (4 -> 1..4) or ids '1 2 VIP'.")] = None,
    update: Annotated[bool, typer.Option("--update", help="Update the store if it exists.")] = False,
) -> None:
    """Add a store and its fitting rooms."""
    with retail() as r:
        info = r.add_store(store, name, timezone, rooms=_rooms(rooms), exist_ok=update)
    out.print(f"store {info.id}: {info.name} ({info.timezone}), rooms: {' '.join(info.rooms) or '-'}",
              highlight=False, soft_wrap=True)


@app.command("list")
def list_stores(json_out: JsonOpt = False) -> None:
    """List the stores with their fitting rooms and stock totals."""
    from rich.table import Table

    with retail() as r:
        stores = r.list_stores()
    if json_out:
        _json([asdict(s) for s in stores])
        return
    table = Table(title=f"{len(stores)} store(s)", title_justify="left")
    for col in ("store", "name", "time zone", "fitting rooms", "SKUs", "pieces"):
        table.add_column(col)
    for s in stores:
        table.add_row(s.id, s.name, s.timezone, " ".join(s.rooms) or "-", str(s.skus), str(s.pieces))
    clikit.print_table(table)


@app.command("show")
def show_store(
    store: Annotated[str, typer.Argument(help="Store id.")],
    sku: Annotated[str | None, typer.Option(help="Only this SKU's stock.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="Stock rows to show.")] = 200,
    json_out: JsonOpt = False,
) -> None:
    """Show a store: fitting rooms and stock (SKU, size, colour, quantity, price)."""
    from rich.table import Table

    with retail() as r:
        info = r.get_store(store)
        rows, total = r.store_stock(store, sku=sku, limit=limit)
    if json_out:
        _json({**asdict(info), "stock": [asdict(x) for x in rows], "stock_rows": total})
        return
    out.print(f"[bold]{info.id}[/]  {info.name}  ({info.timezone})  fitting rooms: {' '.join(info.rooms) or '-'}  "
              f"SKUs: {info.skus}  pieces: {info.pieces}", highlight=False, soft_wrap=True)
    table = Table(title=f"stock: {len(rows)} of {total} row(s)", title_justify="left")
    for col in ("sku", "size", "colour", "quantity", "price"):
        table.add_column(col, justify="right" if col in ("quantity", "price") else "left")
    for x in rows:
        price = "" if x.price_cents is None else f"{x.price_cents / 100:.2f} {x.currency}"
        table.add_row(x.sku, x.size, x.colour, str(x.quantity), price)
    clikit.print_table(table)


@app.command("remove")
def remove_store(
    store: Annotated[str, typer.Argument(help="Store id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do it (without this flag nothing is removed).")] = False,
) -> None:
    """Remove a store with its fitting rooms, stock, store-bound tags and co-tried history."""
    with retail() as r:
        info = r.get_store(store)
        if not yes:
            out.print(f"would remove {info.id} ({len(info.rooms)} room(s), {info.skus} SKU(s)); add --yes",
                      highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        r.remove_store(store)
    out.print(f"removed store {store}", highlight=False, soft_wrap=True)


@app.command("import")
def import_stores(
    file: Annotated[Path, typer.Argument(help="CSV with columns store, name[, timezone, rooms].")],
    json_out: JsonOpt = False,
) -> None:
    """Create or update stores and their fitting rooms from a CSV file (all or nothing)."""
    with retail() as r:
        report = r.import_stores_csv(file)
    _report(report, json_out)


@app.command("attributes")
def set_attributes(
    sku: Annotated[str, typer.Argument(help="Product SKU.")],
    type_: Annotated[str | None, typer.Option("--type", help="Product type, e.g. shirt, trousers, dress.")] = None,
    colour: Annotated[str | None, typer.Option(help="Main colour (when the SKU has one).")] = None,
    style: Annotated[str | None, typer.Option(help="Style tags, e.g. 'casual summer'.")] = None,
    name: Annotated[str | None, typer.Option(help="Product name.")] = None,
    category: Annotated[str | None, typer.Option(help="Create the SKU in this category if it is new.")] = None,
) -> None:
    """Set the retail attributes the recommendations use (type, colour, style tags)."""
    from ..catalog.repository import parse_category

    with retail() as r:
        attrs = r.set_attributes(sku, {"type": type_, "colour": colour, "style": style}, name=name,
                                 category=parse_category(category) if category else None)
    out.print(f"{sku}: {json.dumps(attrs)}", highlight=False, soft_wrap=True)


@app.command("recommend")
def recommend(
    store: Annotated[str, typer.Argument(help="Store id.")],
    sku: Annotated[str, typer.Argument(help="The item's SKU.")],
    size: Annotated[str | None, typer.Option(help="The item's size.")] = None,
    colour: Annotated[str | None, typer.Option(help="The item's colour.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=50, help="Often-tried and outfit suggestions, at most.")] = 5,
    json_out: JsonOpt = False,
) -> None:
    """What the mirror suggests for an item: other sizes/colours here, often tried together, outfit matches."""
    with retail() as r:
        recs = r.recommend(store, sku, size, colour, limit=limit)
    if json_out:
        _json(recs.to_dict())
        return
    for title, items in (("other sizes and colours", recs.variants), ("often tried together", recs.cotried),
                         ("goes with", recs.matches)):
        out.print(f"[bold]{title}[/]" + ("" if items else ": none"), highlight=False, soft_wrap=True)
        for s in items:
            what = " ".join(x for x in (s.size, s.colour) if x)
            out.print(f"  {s.sku} {what}  {s.name}: {s.reason}", highlight=False, soft_wrap=True)


# --- rooms -----------------------------------------------------------------------------------------------------


@rooms_app.command("add")
def add_room(store: Annotated[str, typer.Argument(help="Store id.")],
             room: Annotated[str, typer.Argument(help="Room id, e.g. 3.")]) -> None:
    """Add a fitting room to a store."""
    with retail() as r:
        r.add_fitting_room(store, room)
    out.print(f"store {store}: fitting room {room} added", highlight=False, soft_wrap=True)


@rooms_app.command("remove")
def remove_room(store: Annotated[str, typer.Argument(help="Store id.")],
                room: Annotated[str, typer.Argument(help="Room id.")]) -> None:
    """Remove a fitting room from a store."""
    with retail() as r:
        r.remove_fitting_room(store, room)
    out.print(f"store {store}: fitting room {room} removed", highlight=False, soft_wrap=True)


# --- stock -----------------------------------------------------------------------------------------------------


@stock_app.command("import")
def import_stock(
    file: Annotated[Path, typer.Argument(help="CSV with columns sku, size, colour, quantity[, store, name, "
                                              "category, price, currency, barcode, type, style].")],
    store: Annotated[str | None, typer.Option(help="Store of every line (else a store column).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Set the store's stock the file omits to 0.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import stock from a retailer's CSV export (all or nothing; one error per bad line)."""
    with retail() as r:
        report = r.import_stock_csv(file, store, replace=replace)
    _report(report, json_out)


@stock_app.command("set")
def set_stock(
    store: Annotated[str, typer.Argument(help="Store id.")],
    sku: Annotated[str, typer.Argument(help="Product SKU.")],
    size: Annotated[str, typer.Argument(help="Size, e.g. M or 42.")],
    colour: Annotated[str, typer.Argument(help="Colour, e.g. navy.")],
    quantity: Annotated[int, typer.Argument(help="Pieces in the store (0: sold out).")],
    price: Annotated[str | None, typer.Option(help="Price, e.g. 19.99.")] = None,
    currency: Annotated[str | None, typer.Option(help="Currency code, e.g. EUR.")] = None,
) -> None:
    """Set the stock of one SKU, size and colour in a store."""
    from ..catalog.retail_csv import parse_price

    with retail() as r:
        row = r.set_stock(store, sku, size, colour, quantity, price_cents=parse_price(price or ""),
                          currency=currency)
    out.print(f"{row.store} {row.sku} {row.size} {row.colour}: {row.quantity}", highlight=False, soft_wrap=True)


# --- tags ------------------------------------------------------------------------------------------------------


@tags_app.command("import")
def import_tags(
    file: Annotated[Path, typer.Argument(help="CSV with columns code, sku, size, colour[, store].")],
    store: Annotated[str | None, typer.Option(help="Store the codes belong to (serialized RFID EPCs).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Import a code -> SKU/size/colour table (all or nothing; one error per bad line)."""
    with retail() as r:
        report = r.import_tags_csv(file, store)
    _report(report, json_out)


@tags_app.command("add")
def add_tag(
    code: Annotated[str, typer.Argument(help="EPC (24 hex digits), GTIN/EAN/UPC or QR text.")],
    sku: Annotated[str, typer.Option(help="Product SKU.")],
    size: Annotated[str, typer.Option(help="Size.")],
    colour: Annotated[str, typer.Option(help="Colour.")],
    store: Annotated[str | None, typer.Option(help="Store the piece belongs to.")] = None,
) -> None:
    """Map one code to a SKU, size and colour."""
    with retail() as r:
        match = r.add_tag(code, sku, size, colour, store=store)
    out.print(f"{match.code} ({match.kind}) -> {match.sku} {match.size} {match.colour}", highlight=False,
              soft_wrap=True)


@tags_app.command("resolve")
def resolve_tag(code: Annotated[str, typer.Argument(help="A code as a reader or camera read it.")],
                json_out: JsonOpt = False) -> None:
    """What a code stands for; exit 1 if it is unknown."""
    with retail() as r:
        match = r.resolve_tag(code)
    if json_out:
        _json(None if match is None else asdict(match))
    elif match is None:
        out.print(f"{code.strip()}: unknown", highlight=False, soft_wrap=True)
    else:
        via = f" (via GTIN {match.via})" if match.via else ""
        where = f", store {match.store}" if match.store else ""
        out.print(f"{match.code} ({match.kind}) -> {match.sku} {match.size} {match.colour}: {match.name}{where}{via}",
                  highlight=False, soft_wrap=True)
    if match is None:
        raise typer.Exit(1)


@tags_app.command("remove")
def remove_tag(code: Annotated[str, typer.Argument(help="The code.")]) -> None:
    """Forget a code."""
    with retail() as r:
        r.remove_tag(code)
    out.print(f"removed {code.strip()}", highlight=False, soft_wrap=True)
